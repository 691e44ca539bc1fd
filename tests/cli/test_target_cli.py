"""``drugdesk target SYMBOL``: one JSON object or a short table, one-line errors and exit codes;
every service is a loopback stand-in (tests/target_services.py)."""

from __future__ import annotations

import json

import pytest

from app.cli import main


def test_json_is_one_object_with_the_entries_and_the_alphafold_model(target_services, capsys):
    assert main(["target", "FTL", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # the whole output is one JSON object
    assert (out["accession"], out["gene"], out["organism"]) == ("P02792", "FTL", 9606)
    assert out["name"] == "Ferritin light chain"
    assert [e["id"] for e in out["pdb_entries"]] == ["2FFX", "3FT7", "7A6B"]
    entry = out["pdb_entries"][1]
    assert (entry["resolution"], entry["method"]) == (2.25, "X-RAY DIFFRACTION")
    kinds = {ligand["id"]: ligand["kind"] for ligand in entry["ligands"]}
    assert kinds == {"Q7X": "drug-like", "GOL": "additive", "NAG": "additive", "EDO": "additive"}
    assert out["alphafold"]["entry_id"] == "AF-P02792-F1"
    assert out["alphafold"]["mean_plddt"] == 93.5


def test_without_json_a_short_table(target_services, capsys):
    assert main(["target", "EGFR"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "EGFR (human): P00533 Epidermal growth factor receptor, 1210 residues"
    assert lines[1] == "AlphaFold DB: AF-P00533-F1 (v4)"
    assert "PDB entries (3 of 3, best resolution first):" in out
    row = next(line for line in lines if line.strip().startswith("4HJO"))
    assert row.split()[1:3] == ["2.75", "x-ray"] and "AQ4" in row and row.endswith("SO4")


def test_an_unknown_gene_is_one_line_with_exit_1(target_services, capsys):
    assert main(["target", "XYZ1", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "drugdesk target: error: UniProt has no human entry for gene 'XYZ1': check the symbol "
        "(the official one, such as FTL or EGFR) and the organism."
    ]


def test_a_server_error_names_the_service_with_exit_1(target_services, capsys):
    target_services.fail["rcsb-data"] = 503
    assert main(["target", "FTL", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("drugdesk target: error: RCSB Data API answered HTTP 503")
    assert len(err.strip().splitlines()) == 1


def test_offline_is_exit_1_and_names_the_service(monkeypatch, capsys):
    monkeypatch.setenv("DRUGDESK_UNIPROT_URL", "http://127.0.0.1:9")  # nobody listens there
    assert main(["target", "FTL"]) == 1
    assert "UniProt did not answer" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["target", "FTL OR x"], "is not a gene symbol"),
        (["target", "FTL", "--organism", "0"], "--organism takes an NCBI taxon id"),
        (["target", "FTL", "--organism", "human"], "invalid int value"),
        (["target", "FTL", "--max-entries", "0"], "--max-entries must lie between"),
    ],
)
def test_usage_errors_exit_2_before_any_request(target_services, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert target_services.requests == []


def test_organism_reaches_uniprot(target_services, capsys):
    assert main(["target", "FTL", "--organism", "10090"]) == 1  # the stand-in knows human only
    assert "UniProt has no mouse entry for gene 'FTL'" in capsys.readouterr().err
    assert "organism_id%3A10090" in target_services.requests[0][2]
