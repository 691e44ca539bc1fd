"""``search --cluster`` (issue 18): on a ``local:2`` cluster the answer equals the single-machine
one (rows, order, names, similarities) for a threshold, a top-k (ties across parts: the library
holds every molecule twice) and a substructure search; a bad address is a usage error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from app.cli import main

CHEMBL = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
QUERY = "FC(F)(F)c1cc(ccc1Oc2ccn(Cc3ccc(Cl)cc3)n2)S(=O)(=O)Nc4ncns4"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """2,036 records: RDKit's ChEMBL set twice (so ties), a header line, an invalid SMILES and a
    comment, in the middle of the file."""
    path = tmp_path_factory.mktemp("lib") / "library.smi"
    text = CHEMBL.read_text()
    path.write_text("SMILES Name\n" + text + "C1CC broken_ring\n# a comment\nxyz? bad\n" + text)
    return path


def _search(capsys, library: Path, out: Path, *options: str) -> str:
    code = main(["search", str(library), "-o", str(out), *options])
    err = capsys.readouterr().err
    assert code == 0, err
    return err


@pytest.mark.slow  # about 9 s each: a local cluster starts for every search
@pytest.mark.parametrize(
    "query",
    [
        ["--similar", QUERY, "--threshold", "0.45"],
        ["--similar", QUERY, "--top-k", "25"],
        ["--substructure", "c1ncns1"],
    ],
    ids=["threshold", "top-k", "substructure"],
)
def test_local_cluster_gives_the_single_machine_answer(capsys, library, tmp_path, query):
    single = tmp_path / "single.csv"
    single_err = _search(capsys, library, single, *query)
    out = tmp_path / "cluster.csv"
    err = _search(capsys, library, out, *query, "--cluster", "local:2", "--partition-size", "300")
    want = pd.read_csv(single, keep_default_na=False)
    got = pd.read_csv(out, keep_default_na=False)
    assert len(want) >= 25
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert out.read_bytes() == single.read_bytes()
    # The same summary line (hits, best, records, unreadable), the output named.
    assert err.splitlines()[-1] == single_err.splitlines()[-1].replace(str(single), str(out))
    assert "(2 without a readable structure)" in err
    assert "Traceback" not in err and "Warning" not in err
    assert not out.with_name(out.name + ".parts").exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "local:0", "nowhere"])
def test_a_bad_address_is_a_usage_error(capsys, library, tmp_path, address):
    out = tmp_path / "never.csv"
    code = main(["search", str(library), "--similar", "CCO", "-o", str(out), "--cluster", address])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.splitlines() == [err.splitlines()[0]]
    assert err.startswith(f"drugdesk search: error: cluster address '{address}'")
    assert not out.exists()


def test_an_unreadable_query_is_said_before_any_cluster_starts(capsys, library, tmp_path):
    out = tmp_path / "never.csv"
    code = main(
        ["search", str(library), "--similar", "C1CC", "-o", str(out), "--cluster", "local:2"]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == "drugdesk search: error: 'C1CC' is not a SMILES that RDKit can read\n"
    assert not out.exists()


@pytest.mark.slow  # about 25 s: three local clusters
def test_sdf_records_a_workbook_and_shipped_records_give_the_same_answer(capsys, tmp_path):
    """SDF records cut by byte ranges (their SMILES written by RDKit), a workbook (read here,
    records sent, with a note) and workers that share no file system."""
    lines = CHEMBL.read_text().splitlines()[:150]
    sdf = tmp_path / "small.sdf"
    writer = Chem.SDWriter(str(sdf))
    for line in lines:
        smiles, name = line.split()
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        writer.write(mol)
    writer.close()
    book = tmp_path / "small.xlsx"
    pd.DataFrame(
        {"smiles": [x.split()[0] for x in lines], "name": [x.split()[1] for x in lines]}
    ).to_excel(book, index=False)
    query = ["--similar", QUERY, "--top-k", "20"]
    for source, extra in ((sdf, []), (book, []), (sdf, ["--cluster-ship-records"])):
        single = tmp_path / "single.csv"
        _search(capsys, source, single, *query)
        out = tmp_path / "cluster.csv"
        cluster = ["--cluster", "local:1", "--partition-size", "40", *extra]
        err = _search(capsys, source, out, *query, *cluster)
        if source == book:
            assert "note: small.xlsx: an .xlsx workbook cannot be cut into byte ranges" in err
        assert out.read_bytes() == single.read_bytes(), (source.name, extra)
        assert len(pd.read_csv(out)) == 20
