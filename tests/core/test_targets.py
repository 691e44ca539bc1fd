"""Target lookup (core.targets) against a loopback stand-in of UniProt, RCSB and AlphaFold DB:
no test reaches the real services."""

from __future__ import annotations

import json
import socket
import urllib.parse

import pytest

from core.jobs import JobCancelled
from core.paths import data_dir
from core.targets import (
    ADDITIVE,
    DRUG_LIKE,
    TargetLookupError,
    ligand_kind,
    looks_like_gene_symbol,
    lookup_target,
)


@pytest.fixture
def services(_loopback_only, target_services):
    return target_services


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Any connection to a host other than 127.0.0.1 fails the test: no network, ever."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        assert host == "127.0.0.1", f"a test tried to reach {address}"
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    for variable in ("DRUGDESK_UNIPROT_URL", "DRUGDESK_RCSB_SEARCH_URL",
                     "DRUGDESK_RCSB_DATA_URL", "DRUGDESK_ALPHAFOLD_API_URL"):  # fmt: skip
        # Unless a test's server sets them, the services are a closed port on loopback.
        monkeypatch.setenv(variable, "http://127.0.0.1:9")


def test_ftl_gives_its_accession_entries_ligands_and_alphafold_model(services):
    steps = []
    info = lookup_target("FTL", progress=lambda fraction, message="": steps.append(fraction))
    assert (info.accession, info.gene, info.name) == ("P02792", "FTL", "Ferritin light chain")
    assert (info.organism, info.organism_name, info.length) == (9606, "Homo sapiens", 175)
    assert [e.id for e in info.pdb_entries] == ["2FFX", "3FT7", "7A6B"]  # the search's order
    assert info.pdb_total == 3
    first = info.pdb_entries[0]
    assert (first.resolution, first.method) == (1.9, "X-RAY DIFFRACTION")
    assert first.title == "Structure of human ferritin L chain"
    em = info.pdb_entries[2]
    assert (em.method, em.resolution, em.ligands) == ("ELECTRON MICROSCOPY", 3.1, ())
    assert info.alphafold is not None
    assert info.alphafold.entry_id == "AF-P02792-F1"
    assert info.alphafold.model_url.endswith("AF-P02792-F1-model_v4.pdb")
    assert (info.alphafold.version, info.alphafold.mean_plddt) == (4, 93.5)
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)

    # The requests in the services' shapes (../shared/api-samples).
    uniprot = next(r for r in services.requests if r[0] == "uniprot")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(uniprot[2]).query)
    assert query["query"] == ["gene_exact:FTL AND organism_id:9606 AND reviewed:true"]
    assert query["format"] == ["json"]
    search = json.loads(next(r for r in services.requests if r[0] == "rcsb-search")[3])
    assert search["query"]["parameters"]["value"] == "P02792"
    assert search["return_type"] == "entry"
    graphql = json.loads(next(r for r in services.requests if r[0] == "rcsb-data")[3])
    assert 'entry_ids: ["2FFX", "3FT7", "7A6B"]' in graphql["query"]
    assert any(r[2] == "/alphafold/api/prediction/P02792" for r in services.requests)


def test_additives_are_set_apart_from_drug_like_ligands(services):
    info = lookup_target("FTL")
    inhibitor = info.pdb_entries[1]
    kinds = {ligand.id: ligand.kind for ligand in inhibitor.ligands}
    assert kinds == {"Q7X": DRUG_LIKE, "GOL": ADDITIVE, "NAG": ADDITIVE, "EDO": ADDITIVE}
    assert [ligand.id for ligand in inhibitor.drug_like_ligands] == ["Q7X"]
    assert inhibitor.ligands[0].id == "Q7X"  # drug-like ligands first
    assert info.pdb_entries[0].drug_like_ligands == ()  # CD and SO4 only
    # Any "... ION" is an additive, whatever its id; cofactors stay drug-like.
    assert ligand_kind("XE9", "SAMARIUM (III) ION") == ADDITIVE
    assert ligand_kind("HEM", "PROTOPORPHYRIN IX CONTAINING FE") == DRUG_LIKE


def test_the_api_samples_egfr_answers_parse(services):
    info = lookup_target("egfr")
    assert (info.accession, info.gene) == ("P00533", "EGFR")
    assert [(e.id, e.resolution) for e in info.pdb_entries] == [
        ("1M17", 2.6), ("4HJO", 2.75), ("2ITY", 3.42)
    ]  # fmt: skip
    assert [ligand.id for ligand in info.pdb_entries[1].drug_like_ligands] == ["AQ4"]
    assert info.alphafold.mean_plddt is None  # the sample gives none
    as_json = json.loads(json.dumps(info.to_dict()))
    assert as_json["pdb_entries"][1]["ligands"][1] == {
        "id": "SO4", "name": "SULFATE ION", "kind": "additive", "formula_weight": 96.063
    }  # fmt: skip


def test_a_second_lookup_comes_from_the_cache_without_the_server(services):
    first = lookup_target("FTL")
    assert list((data_dir() / "targets").glob("*.json"))
    services.stop()  # the port now refuses connections
    assert lookup_target("FTL") == first
    with pytest.raises(TargetLookupError, match=r"UniProt did not answer"):
        lookup_target("FTL", refresh=True)


def test_cache_dir_argument_is_used(services, tmp_path):
    folder = tmp_path / "elsewhere"
    lookup_target("FTL", cache_dir=folder)
    assert len(list(folder.glob("*.json"))) == 4  # UniProt, search, data, AlphaFold
    assert not (data_dir() / "targets").exists()


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("uniprot", r"^UniProt answered HTTP 500"),
        ("rcsb-search", r"^RCSB search answered HTTP 500"),
        ("rcsb-data", r"^RCSB Data API answered HTTP 500"),
        ("alphafold", r"^AlphaFold DB answered HTTP 500"),
    ],
)
def test_a_server_error_names_the_service(services, service, message):
    services.fail[service] = 500
    with pytest.raises(TargetLookupError, match=message):
        lookup_target("FTL")
    services.fail.clear()
    assert lookup_target("FTL").accession == "P02792"  # the error was not cached


@pytest.mark.parametrize(
    ("service", "body", "message"),
    [
        ("uniprot", b"<html>busy</html>", r"^UniProt sent an answer that is not JSON"),
        ("rcsb-search", b'{"result_set": ', r"^RCSB search sent an answer that is not JSON"),
        ("rcsb-data", b'{"errors": [{"message": "bad field"}]}',
         r"^RCSB Data API sent an answer DrugDesk cannot read: query refused: bad field"),
        ("alphafold", b'"a string"', r"^AlphaFold DB sent an answer DrugDesk cannot read"),
        ("uniprot", b"", r"^UniProt sent an empty answer"),
    ],
)  # fmt: skip
def test_malformed_answers_name_the_service(services, service, body, message):
    services.raw[service] = body
    with pytest.raises(TargetLookupError, match=message):
        lookup_target("FTL")
    services.raw.clear()
    asked = services.count(service)
    assert lookup_target("FTL").accession == "P02792"
    assert services.count(service) == asked + 1  # the malformed answer was not cached


def test_a_service_that_does_not_answer_in_time(services, monkeypatch):
    monkeypatch.setattr("core.targets.TIMEOUT_S", 0.2)
    services.delay["rcsb-search"] = 1.0
    with pytest.raises(TargetLookupError, match=r"^RCSB search did not answer: timed out"):
        lookup_target("FTL")


def test_an_answer_over_the_size_limit_is_refused(services, monkeypatch):
    monkeypatch.setattr("core.targets.MAX_ANSWER_BYTES", 1000)
    services.raw["rcsb-data"] = b'{"data": {"entries": [' + b" " * 300_000 + b"]}}"
    with pytest.raises(TargetLookupError, match=r"^RCSB Data API sent more than"):
        lookup_target("FTL")


def test_an_unknown_gene_is_one_clear_line(services):
    with pytest.raises(TargetLookupError, match=r"^UniProt has no human entry for gene 'XYZ1'"):
        lookup_target("XYZ1")
    # Reviewed first, then any entry.
    assert services.count("uniprot") == 2
    with pytest.raises(TargetLookupError, match=r"UniProt has no mouse entry for gene 'FTL'"):
        lookup_target("FTL", organism=10090)


def test_no_pdb_entry_and_no_alphafold_model_is_not_an_error(services):
    services.genes["LONE1"] = {
        "uniprot": {**services.genes["FTL"]["uniprot"], "primaryAccession": "Q9ZZZ1",
                    "genes": [{"geneName": {"value": "LONE1"}}]},
        "entries": [],
        "alphafold": [],
    }  # fmt: skip
    info = lookup_target("LONE1")
    assert (info.accession, info.pdb_entries, info.pdb_total, info.alphafold) == (
        "Q9ZZZ1", (), 0, None
    )  # fmt: skip
    assert services.count("rcsb-data") == 0  # nothing to describe (the search answered 204)


def test_offline_names_the_service():
    # The autouse fixture points every service at a closed port.
    with pytest.raises(TargetLookupError, match=r"^UniProt did not answer: .*127\.0\.0\.1:9"):
        lookup_target("FTL")


def test_symbols_and_organisms_are_checked_before_any_request(services):
    for bad in ("", "FTL OR 1=1", "gene:FTL", "(FTL)", "F" * 40):
        with pytest.raises(TargetLookupError, match="is not a gene symbol"):
            lookup_target(bad)
    with pytest.raises(TargetLookupError, match="is not an NCBI taxon id"):
        lookup_target("FTL", organism=0)
    assert services.requests == []


def test_cancel_stops_before_the_next_request(services):
    with pytest.raises(JobCancelled):
        lookup_target("FTL", is_cancelled=lambda: True)
    assert services.requests == []


def test_hostile_ids_never_reach_the_graphql_query(services):
    services.raw["rcsb-search"] = json.dumps({
        "total_count": 2,
        "result_set": [{"identifier": '1ABC"]) { x } #'}, {"identifier": "2FFX"}],
    }).encode()  # fmt: skip
    info = lookup_target("FTL")
    graphql = json.loads(next(r for r in services.requests if r[0] == "rcsb-data")[3])
    assert 'entry_ids: ["2FFX"]' in graphql["query"]
    assert [e.id for e in info.pdb_entries] == ["2FFX"]


def test_what_reads_as_a_gene_symbol():
    assert all(map(looks_like_gene_symbol, ["FTL", "EGFR", "HLA-A", "C1orf112", "Ftl1", "TP53"]))
    assert not any(
        map(looks_like_gene_symbol, ["1HVR", "P69905", "p69905", "A0A0C5B5G6", "", "a b"])
    )
