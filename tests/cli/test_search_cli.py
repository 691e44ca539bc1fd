"""``drugdesk search``: similarity (threshold, top-k) and substructure hits from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdkit
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from app.cli import main

CHEMBL_SMI = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"

ROWS = [
    ("CC(=O)Oc1ccccc1C(=O)O", "aspirin"),
    ("OC(=O)c1ccccc1O", "salicylic acid"),
    ("C1CC", "broken"),
    ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "ibuprofen"),
    ("OC(=O)c1ccccc1O", "salicylic acid again"),
    ("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "caffeine"),
    ("", "empty"),
    ("CCO", "ethanol"),
]


@pytest.fixture
def library(tmp_path) -> Path:
    path = tmp_path / "library.csv"
    pd.DataFrame(ROWS, columns=["smiles", "id"]).to_csv(path, index=False)
    return path


def similarities(query: str, smiles: list[str]) -> np.ndarray:
    """RDKit's own Tanimoto of Morgan r=2 2048-bit fingerprints (NaN for no structure)."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fp = generator.GetFingerprint(Chem.MolFromSmiles(query))
    out = []
    for text in smiles:
        mol = Chem.MolFromSmiles(text) if text else None
        out.append(
            DataStructs.TanimotoSimilarity(fp, generator.GetFingerprint(mol)) if mol else np.nan
        )
    return np.asarray(out)


def run(*arguments) -> int:
    return main(["search", *map(str, arguments)])


def test_top_k_rows_best_first_ties_in_file_order(library, tmp_path, capsys):
    out = tmp_path / "hits.csv"
    assert run(library, "--similar", "OC(=O)c1ccccc1O", "--top-k", "3", "--output", out) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["row", "name", "smiles", "similarity"]
    expected = similarities("OC(=O)c1ccccc1O", [s for s, _ in ROWS])
    # Salicylic acid twice (1.0, rows 1 and 4, in file order), then aspirin.
    assert list(table["row"]) == [1, 4, 0]
    assert list(table["name"]) == ["salicylic acid", "salicylic acid again", "aspirin"]
    assert list(table["smiles"]) == [ROWS[1][0], ROWS[4][0], ROWS[0][0]]
    np.testing.assert_array_equal(table["similarity"], expected[[1, 4, 0]])
    err = capsys.readouterr().err
    assert (
        "3 similar molecules (best 1.000) among 8 records (2 without a readable structure)" in err
    )


def test_threshold_keeps_every_molecule_at_or_above_it(library, tmp_path):
    out = tmp_path / "hits.tsv"
    assert run(library, "--similar", "CC(=O)Oc1ccccc1C(=O)O", "--threshold", "0.3", "-o", out) == 0
    table = pd.read_csv(out, sep="\t")
    expected = similarities("CC(=O)Oc1ccccc1C(=O)O", [s for s, _ in ROWS])
    want = [i for i in np.lexsort((np.arange(len(ROWS)), -np.nan_to_num(expected, nan=-1)))]
    want = [i for i in want if expected[i] >= 0.3]
    assert list(table["row"]) == want and 0 in want and 2 not in want
    np.testing.assert_array_equal(table["similarity"], expected[want])


def test_without_threshold_or_top_k_the_default_top_50_lists_every_readable_molecule(
    library, tmp_path
):
    out = tmp_path / "hits.csv"
    assert run(library, "--similar", "CCO", "--output", out) == 0
    table = pd.read_csv(out)
    assert sorted(table["row"]) == [0, 1, 3, 4, 5, 7]  # not the broken or empty rows
    assert table["row"].iloc[0] == 7 and table["similarity"].iloc[0] == 1.0


def test_no_hits_write_the_header_only(library, tmp_path, capsys):
    out = tmp_path / "hits.csv"
    assert run(library, "--similar", "c1ccc2ccccc2c1", "--threshold", "1", "-o", out) == 0
    assert out.read_text().strip() == '"row","name","smiles","similarity"'
    assert "0 similar molecules among 8 records" in capsys.readouterr().err


def test_substructure_hits_in_file_order(library, tmp_path, capsys):
    out = tmp_path / "acids.csv"
    assert run(library, "--substructure", "c1ccccc1C(=O)[OH]", "--output", out) == 0
    table = pd.read_csv(out)
    assert list(table["row"]) == [0, 1, 4]
    assert list(table["name"]) == ["aspirin", "salicylic acid", "salicylic acid again"]
    assert table["similarity"].isna().all()
    assert "3 molecules contain c1ccccc1C(=O)[OH] among 8 records" in capsys.readouterr().err


def test_sdf_library_and_smiles_of_its_records(tmp_path):
    sdf = tmp_path / "library.sdf"
    writer = Chem.SDWriter(str(sdf))
    for text, name in [ROWS[0], ROWS[3], ROWS[5]]:
        mol = Chem.MolFromSmiles(text)
        mol.SetProp("_Name", name)
        writer.write(mol)
    writer.close()
    out = tmp_path / "hits.csv"
    assert run(sdf, "--similar", "CC(=O)Oc1ccccc1C(=O)O", "--top-k", "1", "-o", out) == 0
    table = pd.read_csv(out)
    assert list(table["row"]) == [0] and list(table["name"]) == ["aspirin"]
    assert Chem.CanonSmiles(table["smiles"].iloc[0]) == Chem.CanonSmiles(ROWS[0][0])
    assert table["similarity"].iloc[0] == 1.0


def test_chembl_threshold_07_equals_rdkit_bulk_tanimoto(tmp_path):
    lines = [line.split() for line in CHEMBL_SMI.read_text().splitlines() if line.strip()]
    smiles = [parts[0] for parts in lines]
    query = smiles[10]
    out = tmp_path / "hits.csv"
    assert run(CHEMBL_SMI, "--similar", query, "--threshold", "0.7", "-o", out, "--workers", 1) == 0
    table = pd.read_csv(out, dtype={"name": str})
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    expected = np.asarray(DataStructs.BulkTanimotoSimilarity(fps[10], fps))
    order = np.lexsort((np.arange(len(expected)), -expected))
    want = order[expected[order] >= 0.7]
    assert len(want) > 1
    assert list(table["row"]) == list(want)
    np.testing.assert_array_equal(table["similarity"], expected[want])
    assert list(table["name"]) == [lines[i][1] for i in want]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--similar", "C1CC"], "not a SMILES"),
        (["--similar", ""], "empty"),
        (["--substructure", "c1ccc("], "not a valid SMARTS"),
        (["--similar", "CCO", "--top-k", "0"], "--top-k must be at least 1"),
        (["--similar", "CCO", "--threshold", "1.5"], "between 0 and 1"),
        (["--substructure", "CO", "--threshold", "0.5"], "go with --similar"),
        (["--similar", "CCO", "--substructure", "CO"], "not allowed with"),
        ([], "one of the arguments --similar --substructure is required"),
    ],
)
def test_usage_errors_exit_2_in_one_line_and_write_nothing(
    library, tmp_path, capsys, arguments, message
):
    out = tmp_path / "hits.csv"
    assert run(library, *arguments, "--output", out) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("drugdesk search")
    assert not out.exists()


def test_output_errors(library, tmp_path, capsys):
    assert run(library, "--similar", "CCO", "--output", tmp_path / "hits.pdf") == 2
    assert "Cannot export to '.pdf'" in capsys.readouterr().err
    assert run(library, "--similar", "CCO", "--output", library) == 2
    assert capsys.readouterr().err.startswith("drugdesk search: error:")
    assert pd.read_csv(library).shape == (len(ROWS), 2)  # the library is untouched


def test_an_unreadable_library_exits_1_naming_the_file(tmp_path, capsys):
    out = tmp_path / "hits.csv"
    assert run(tmp_path / "missing.csv", "--similar", "CCO", "-o", out) == 1
    err = capsys.readouterr().err
    assert "missing.csv" in err and err.count("\n") == 1 and not out.exists()
    binary = tmp_path / "binary.smi"
    binary.write_bytes(bytes(range(256)) * 8)
    assert run(binary, "--substructure", "CO", "-o", out) == 1
    err = capsys.readouterr().err
    assert "binary.smi" in err and err.count("\n") == 1 and not out.exists()


def test_an_unreadable_query_is_one_line_without_rdkit_noise(tmp_path):
    import subprocess
    import sys

    library = tmp_path / "lib.smi"
    library.write_text("CCO a\n")
    done = subprocess.run(
        [
            sys.executable,
            "main.py",
            "search",
            str(library),
            "--similar",
            "C1CC",
            "-o",
            str(tmp_path / "hits.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "drugdesk search: error: 'C1CC' is not a SMILES that RDKit can read"
    ]
    assert not (tmp_path / "hits.csv").exists()
