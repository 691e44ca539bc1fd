"""drugdesk explain: per-atom attributions as JSON and a heat map file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main

SMILES = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "OCCO", "CCBr"] * 2


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, make_tiny_regression_model):
    return make_tiny_regression_model(tmp_path_factory.mktemp("explain"), SMILES)


def test_explain_writes_a_heat_map_and_one_value_per_atom(model_dir, tmp_path, capsys):
    out = tmp_path / "map.svg"
    assert main(["explain", str(model_dir), "OC(=O)c1ccc(Br)cc1", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["target"] == "logS" and len(report["atoms"]) == 10
    assert report["family"] == "transformer"  # the family the folder predicts with
    # Relative to the training mean of the 12 training rows (values 0..11).
    assert report["reference_kind"] == "training mean"
    assert report["reference"] == pytest.approx(5.5)
    # The atoms add up to the prediction minus the reference (completeness, rebased).
    total = sum(atom["attribution"] for atom in report["atoms"]) + report["not_on_atoms"]
    assert total == pytest.approx(report["prediction"] - 5.5, abs=1e-3)
    assert report["additive"] and report["sum_check_passed"]
    # The terminal gets the reference, the atoms that raise and lower it, and the sum check.
    assert "relative to the training mean logS 5.50" in captured.err
    assert "Raise it most:" in captured.err and "Lower it most:" in captured.err
    assert "Sum check (passed)" in captured.err
    assert "</svg>" in out.read_text()
    png = tmp_path / "map.png"
    assert main(["explain", str(model_dir), "CCO", "--steps", "32", "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_explain_with_the_folders_forest(model_dir, tmp_path, capsys):
    from core.models.baselines import fit_baseline, save_baseline

    forest = fit_baseline(
        SMILES[:12], np.arange(12.0), "regression", target_names=["logS"], n_trees=20
    )
    save_baseline(forest, model_dir / "baseline")
    out = tmp_path / "forest.png"
    smiles = "OC(=O)c1ccc(Br)cc1"
    assert main(["explain", str(model_dir), smiles, "--family", "rf", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["family"] == "rf" and report["reference"] == pytest.approx(5.5)
    total = sum(atom["attribution"] for atom in report["atoms"]) + report["not_on_atoms"]
    assert total == pytest.approx(report["prediction"] - 5.5, abs=1e-9)  # exact for a forest
    assert "tree-path decomposition" in captured.err
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["explain", str(model_dir), "CCO", "--family", "dmpnn"]) == 1
    assert "holds no dmpnn model" in capsys.readouterr().err


def test_explain_reports_bad_input(model_dir, tmp_path, capsys):
    assert main(["explain", str(model_dir), "C1CC("]) == 1  # bad data
    assert "cannot parse" in capsys.readouterr().err
    assert main(["explain", str(model_dir), "CCO", "--target", "nope"]) == 1
    assert main(["explain", str(model_dir), "CCO", "-o", str(tmp_path / "x.txt")]) == 2
    assert main(["explain", str(model_dir), "CCO", "--family", "svm"]) == 2
    assert main(["explain", str(model_dir), "CCO", "--steps", "1"]) == 2  # usage
    assert "--steps" in capsys.readouterr().err.splitlines()[-1]
