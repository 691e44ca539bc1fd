"""train and predict on a small real assay set (RDKit's CHEMBL2321810 potency data)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import rdkit

from app.cli import main

DATA = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"


@pytest.fixture
def potency_csv(tmp_path) -> Path:
    smiles = pd.read_csv(
        DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    activity = pd.read_csv(DATA / "CHEMBL2321810_act.csv")
    table = smiles.merge(activity, on="Name").iloc[::10].reset_index(drop=True)  # ~100 molecules
    path = tmp_path / "potency.csv"
    table.to_csv(path, index=False)
    return path


def test_train_then_predict(potency_csv, tmp_path, capsys):
    out = tmp_path / "model"
    args = [
        "train",
        str(potency_csv),
        "--target-col",
        "Act",
        "--task",
        "regression",
        "--epochs",
        "2",
        "--split",
        "random",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["split"]["kind"] == "random" and sum(report["split"]["sizes"]) == 102
    for part in ("valid", "test"):
        assert set(report[part]) == {"transformer", "rf_ecfp4"}
        assert report[part]["transformer"]["rmse"] > 0
    card = json.loads((out / "card.json").read_text())
    assert card["metrics"]["test"]["rf_ecfp4"]["rmse"] == report["test"]["rf_ecfp4"]["rmse"]
    assert (out / "baseline").is_dir()

    predictions = tmp_path / "pred.csv"
    assert main(["predict", str(out), str(potency_csv), "--output", str(predictions)]) == 0
    table = pd.read_csv(predictions)
    assert len(table) == 102
    assert {"Act", "Act (input)"} <= set(table.columns)
    assert table["Act"].between(3, 10).all()


def test_train_reports_bad_columns(potency_csv, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                str(potency_csv),
                "--target-col",
                "pIC50",
                "--task",
                "regression",
                "--output",
                str(tmp_path / "m"),
            ]
        )
        == 1
    )
    assert "pIC50" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--augment", "1.5"], "--augment"),
        (["--split", "temporal"], "invalid choice"),
    ],
)
def test_train_usage_errors_exit_2(potency_csv, tmp_path, capsys, option, message):
    args = ["train", str(potency_csv), "--target-col", "Act", "--task", "regression"]
    assert main([*args, "--output", str(tmp_path / "m"), *option]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("drugdesk train: error: ")
    assert not (tmp_path / "m").exists()


def test_predict_refuses_a_corrupt_model(potency_csv, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_text("{not json")
    assert (
        main(["predict", str(broken), str(potency_csv), "--output", str(tmp_path / "p.csv")]) == 1
    )
    assert "broken" in capsys.readouterr().err
    assert (
        main(["predict", str(broken), str(potency_csv), "--output", str(tmp_path / "p.pdf")]) == 2
    )
    assert ".csv" in capsys.readouterr().err
