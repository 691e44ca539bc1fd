"""The command line: props, --help, --screenshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from app.cli import main
from core.chem.library import LIBRARY_COLUMNS
from resources import resource_path

ROOT = Path(__file__).resolve().parents[2]


def test_props_writes_one_row_per_record_in_input_order(tmp_path):
    source = tmp_path / "in.smi"
    source.write_text(
        "CCO ethanol\nC1=CC=CC=C1 benzene\nC(C)(C)(C)(C)C bad\nCC(=O)[O-].[Na+] acetate\nxyz junk\n"
    )
    out = tmp_path / "out.csv"
    assert main(["props", str(source), "--output", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == list(LIBRARY_COLUMNS)
    assert table["name"].tolist() == ["ethanol", "benzene", "bad", "acetate", "junk"]
    assert table["valid"].tolist() == [True, True, False, True, False]
    assert table.loc[1, "canonical_smiles"] == "c1ccccc1"
    assert table.loc[3, "canonical_smiles"] == "CC(=O)O"  # salt stripped and neutralised
    assert float(table.loc[0, "mw"]) == pytest.approx(Descriptors.MolWt(Chem.MolFromSmiles("CCO")))
    assert "valence" in table.loc[2, "error"].lower()
    assert table.loc[4, "error"] != "" and table.loc[0, "error"] == ""


def test_props_profile_columns(tmp_path):
    source = tmp_path / "in.smi"
    source.write_text("O=C1NC(=S)SC1=Cc1ccccc1 rhodanine\nCCO ethanol\nxyz junk\n")
    out = tmp_path / "out.csv"
    assert main(["props", str(source), "--output", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == [
        "name",
        "smiles",
        "canonical_smiles",
        "inchikey",
        "mw",
        "clogp",
        "tpsa",
        "hbd",
        "hba",
        "rotb",
        "qed",
        "formula",
        "sa_score",
        "fsp3",
        "lipinski_violations",
        "alerts",
        "valid",
        "error",
    ]
    # The PAINS hit, as RDKit's PAINS catalog finds it, then Brenk and NIH.
    assert table.loc[0, "alerts"] == (
        "PAINS_A:ene_rhod_A(235);BRENK:Michael_acceptor_1;BRENK:Thiocarbonyl_group;NIH:rhodanine"
    )
    pains = FilterCatalog(FilterCatalogParams.FilterCatalogs.PAINS)
    rhodanine = Chem.MolFromSmiles("O=C1NC(=S)SC1=Cc1ccccc1")
    assert [e.GetDescription() for e in pains.GetMatches(rhodanine)] == ["ene_rhod_A(235)"]
    assert table["alerts"].tolist()[1:] == ["", ""]
    assert table["formula"].tolist() == ["C10H7NOS2", "C2H6O", ""]
    assert table["lipinski_violations"].tolist() == ["0", "0", ""]  # integers, empty when invalid
    assert float(table.loc[1, "fsp3"]) == 1.0 and float(table.loc[0, "fsp3"]) == 0.0
    assert 1 <= float(table.loc[0, "sa_score"]) <= 10 and table.loc[2, "sa_score"] == ""


def test_props_reads_a_named_column(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,structure_text,activity\nm1,CCN,1\nm2,CCCl,2\n")
    out = tmp_path / "out.csv"
    assert main(["props", str(source), "--output", str(out), "--smiles-col", "structure_text"]) == 0
    table = pd.read_csv(out)
    assert table["canonical_smiles"].tolist() == ["CCN", "CCCl"]
    assert table["name"].tolist() == ["m1", "m2"]


def test_props_reports_unreadable_input(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["props", str(empty), "--output", str(tmp_path / "o.csv")]) == 1
    assert "empty.csv: the file is empty" in capsys.readouterr().err
    nosmiles = tmp_path / "numbers.csv"
    nosmiles.write_text("a,b\n1,2\n")
    assert main(["props", str(nosmiles), "--output", str(tmp_path / "o.csv")]) == 1
    assert "no column looks like SMILES" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("args", [["--help"], ["props", "--help"]])
def test_help(args):
    out = subprocess.run(
        [sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
    if args == ["--help"]:
        assert "props" in out.stdout and "--screenshot" in out.stdout


def test_screenshot_draws_the_window_with_a_library(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    result = subprocess.run(
        [
            sys.executable,
            "main.py",
            "--screenshot",
            str(out),
            str(resource_path("demo/example_library.smi")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert image.width() >= 600 and image.height() >= 500
    if env["QT_QPA_PLATFORM"] == "offscreen":
        # The picture is the window, which fits the offscreen platform's 800×800 screen.
        assert image.width() <= 800 and image.height() <= 800
    # Not a flat picture: sample a grid and expect many distinct colours.
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)
    }
    assert len(colours) > 20


def test_conformers_writes_3d_conformers_with_energies(tmp_path):
    source = tmp_path / "in.smi"
    source.write_text("CC(=O)Nc1ccc(O)cc1 paracetamol\nC1CC broken\nCCCCO butanol\n")
    out = tmp_path / "confs.sdf"
    assert main(["conformers", str(source), "--n", "4", "--output", str(out)]) == 0
    mols = list(Chem.SDMolSupplier(str(out), removeHs=False))
    names = [m.GetProp("name") for m in mols]
    assert set(names) == {"paracetamol", "butanol"} and 2 <= len(mols) <= 8
    for name in ("paracetamol", "butanol"):
        energies = [float(m.GetProp("energy_kcal_mol")) for m in mols if m.GetProp("name") == name]
        assert 1 <= len(energies) <= 4 and energies == sorted(energies)
    first = mols[0]
    assert first.GetNumAtoms() > first.GetNumHeavyAtoms()  # hydrogens written
    z = [first.GetConformer().GetAtomPosition(i).z for i in range(first.GetNumAtoms())]
    assert max(z) - min(z) > 0.5  # really 3D


def test_conformers_rejects_bad_options(tmp_path, capsys):
    assert main(["conformers", "CCO", "--n", "0", "--output", str(tmp_path / "x.sdf")]) == 2
    assert main(["conformers", "CCO", "--rms", "-1", "--output", str(tmp_path / "x.sdf")]) == 2
    assert main(["conformers", "CCO", "--time-limit", "0", "-o", str(tmp_path / "x.sdf")]) == 2
    assert main(["conformers", "CCO", "--output", str(tmp_path / "x.mol2")]) == 2
    assert main(["conformers", "CCO", "--n", "many", "--output", str(tmp_path / "x.sdf")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 5 and all(e.startswith("drugdesk conformers: error: ") for e in err)
    assert not (tmp_path / "x.sdf").exists()


def test_conformers_takes_smiles_with_slashes_and_long_smiles(tmp_path, capsys):
    out = tmp_path / "styrene.sdf"
    # '/' sets the double bond's geometry: a SMILES, not a path.
    assert main(["conformers", "C/C=C/c1ccccc1", "--n", "2", "-o", str(out)]) == 0
    mol = next(iter(Chem.SDMolSupplier(str(out), removeHs=False)))
    assert mol.GetProp("smiles") == "C/C=C/c1ccccc1"
    # Longer than a file name may be (255 bytes): a SMILES all the same, no "File name too long".
    long_smiles = "[CH3+0]" + "[CH2+0]" * 38 + "[CH3+0]"  # tetracontane, 280 characters
    assert len(long_smiles) > 255
    done = main(["conformers", long_smiles, "--n", "1", "--time-limit", "60", "-o", str(out)])
    err = capsys.readouterr().err
    assert done == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("C1CC(", "is neither a file nor a SMILES"),
        ("x" * 300, "is neither a file nor a SMILES"),  # too long for a file name
        ("no/such/folder/mols.smi", "no such file"),
    ],
)
def test_conformers_input_neither_file_nor_smiles(tmp_path, capsys, given, message):
    out = tmp_path / "x.sdf"
    assert main(["conformers", given, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists()


def test_conformers_refuses_a_molecule_too_large_with_a_message_per_molecule(tmp_path, capsys):
    source = tmp_path / "in.smi"
    source.write_text(f"CCO ethanol\n{'C' * 300} chain300\n")
    out = tmp_path / "x.sdf"
    assert main(["conformers", str(source), "--n", "1", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "chain300: Too large for conformer generation: 300 heavy atoms" in err
    assert "limits are 250 and 500" in err and "1 failed" in err
    assert [m.GetProp("name") for m in Chem.SDMolSupplier(str(out))] == ["ethanol"]
    # One molecule alone: its reason is the error line, exit 1, nothing written.
    assert main(["conformers", "C" * 5000, "-o", str(tmp_path / "y.sdf")]) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("drugdesk conformers: error: mol1: Too large") and "\n" not in line
    assert not (tmp_path / "y.sdf").exists()


def test_pretrain_writes_a_loadable_model(tmp_path):
    corpus = tmp_path / "corpus.smi"
    chembl = (
        Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
    )
    lines = [line.split()[0] for line in chembl.read_text().splitlines()[:150] if line.strip()]
    corpus.write_text("\n".join(lines) + "\n")
    out = tmp_path / "model"
    args = [
        "pretrain",
        "--corpus",
        str(corpus),
        "--steps",
        "3",
        "--hidden",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
        "--intermediate",
        "64",
        "--batch-size",
        "16",
        "--n-valid",
        "20",
        "--eval-every",
        "2",
        "--device",
        "cpu",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["kind"] == "transformer"
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    from core.models.transformer import load_model

    loaded = load_model(out)
    assert loaded is not None


def test_pretrain_reports_a_missing_corpus(tmp_path, capsys):
    assert (
        main(
            [
                "pretrain",
                "--corpus",
                str(tmp_path / "nothing.smi"),
                "--steps",
                "1",
                "--output",
                str(tmp_path / "m"),
            ]
        )
        == 1
    )
    assert "nothing.smi" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--hidden", "30", "--heads", "4"], "multiple of heads"),
        (["--lr", "0"], "--lr"),
        (["--batch-size", "0"], "--batch-size"),
        (["--steps", "5", "--minutes", "1"], "not allowed with argument"),
    ],
)
def test_pretrain_usage_errors_exit_2(tmp_path, capsys, options, message):
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("CCO\nCCN\n")
    args = ["pretrain", "--corpus", str(corpus), "--output", str(tmp_path / "m"), *options]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("drugdesk pretrain: error: ")
    assert not (tmp_path / "m").exists()
