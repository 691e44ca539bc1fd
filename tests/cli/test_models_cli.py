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
        "--dmpnn-epochs",
        "3",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["split"]["kind"] == "random" and sum(report["split"]["sizes"]) == 102
    # Every family by default, and the predictor chosen among them on the validation part.
    for part in ("valid", "test"):
        assert set(report[part]) == {"transformer", "dmpnn", "rf_ecfp4", "chosen"}
        assert report[part]["transformer"]["rmse"] > 0
    card = json.loads((out / "card.json").read_text())
    assert card["metrics"]["test"]["rf_ecfp4"]["rmse"] == report["test"]["rf_ecfp4"]["rmse"]
    assert (out / "baseline").is_dir() and (out / "dmpnn" / "model.safetensors").is_file()
    assert card["chosen"] == report["chosen"]
    assert sum(card["chosen"]["weights"]) == pytest.approx(1.0)

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


@pytest.fixture
def ic50_csv(potency_csv, tmp_path) -> Path:
    """The potency set as a lab writes it: IC50 in nM from pIC50, two rows censored, ethanol
    measured twice."""
    table = pd.read_csv(potency_csv)
    nanomolar = 10 ** (9 - table["Act"])
    table["IC50"] = [f"{v:.4g} nM" for v in nanomolar]
    table.loc[0, "IC50"] = ">10 µM"
    table.loc[1, "IC50"] = "> 10000 nM"
    extra = pd.DataFrame({"smiles": ["CCO", "OCC"], "IC50": ["100 nM", "40 nM"]})
    path = tmp_path / "ic50.csv"
    pd.concat([table.drop(columns=["Act"]), extra]).to_csv(path, index=False)
    return path


def test_train_prints_what_it_read_before_training(ic50_csv, tmp_path, capsys, monkeypatch):
    """The record (conversion, censored values left out, replicates merged) is on stderr before
    training starts; the trainer gets pIC50 values."""
    import core.models.training as training

    seen = {}

    def fake_train(dataset, output, settings, pretrained, progress):
        seen["stderr"] = capsys.readouterr().err
        seen["dataset"] = dataset
        raise ValueError("stopped here by the test")

    monkeypatch.setattr(training, "train_and_evaluate", fake_train)
    args = ["train", str(ic50_csv), "--target-col", "IC50", "--task", "regression"]
    assert main([*args, "--output", str(tmp_path / "m")]) == 1
    err = seen["stderr"]
    assert "104 rows read -> 101 molecules (regression); dropped: 2 censored value only" in err
    assert "'IC50' -> 'pIC50': 1 µM, 103 nM converted to pXC50 = -log10(M)" in err
    assert "Censored values: 2 (0 '>', 2 '<' in trained units), left out of training" in err
    assert "Replicates of 'pIC50': 1 molecule measured more than once (n 2)" in err
    dataset = seen["dataset"]
    assert dataset.target_names == ("pIC50",)
    measured = pd.read_csv(DATA / "CHEMBL2321810_act.csv")["Act"]
    assert dataset.targets[:, 0].min() >= measured.min() - 1e-3
    assert dataset.targets[-1, 0] == pytest.approx(7.2, abs=0.005)  # ethanol: 7.0 and 7.4
    assert "stopped here by the test" in capsys.readouterr().err


def test_train_asks_for_the_units_of_a_bare_concentration(potency_csv, tmp_path, capsys):
    table = pd.read_csv(potency_csv)
    table["IC50"] = 10 ** (9 - table["Act"])
    path = tmp_path / "bare.csv"
    table.to_csv(path, index=False)
    args = ["train", str(path), "--target-col", "IC50", "--task", "regression"]
    assert main([*args, "--output", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "'IC50' looks like a concentration but no unit is given" in err
    assert not (tmp_path / "m").exists()
    assert main([*args, "--output", str(tmp_path / "m"), "--units", "mg"]) == 2
    assert "invalid choice: 'mg'" in capsys.readouterr().err
