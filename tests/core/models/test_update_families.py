"""Updating every family (issue 15, part 6): a model's D-MPNN is warm-started beside its
transformer and is among the families chosen again; an updated classifier is calibrated again
on out-of-fold predictions of the training part (refits of its chosen families), so predictions
get ``<t>_calibrated`` and ``<t>_set``; a forest chosen alone gets intervals scaled by its trees."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.models import calibration_store as cs
from core.models import transformer as tf
from core.models.dmpnn import DmpnnOptions, train_dmpnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_DMPNN = DmpnnOptions(hidden_size=16, ffn_hidden_size=16, batch_size=8, aggregation="mean")
NEW = ["CCCCO", "Cc1ccccc1", "c1ccsc1", "Cc1ccsc1", "CCc1ccsc1", "Oc1ccsc1", "c1cc[nH]c1",
       "Cc1cc[nH]c1", "C1CCCC1", "CC1CCCC1", "C1CCC1", "CC1CC1", "NC1CCCC1", "NCc1ccsc1"]  # fmt: skip


def _atoms(smiles) -> np.ndarray:
    from rdkit import Chem

    return np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles], dtype=float)


def _values(smiles, task: str) -> np.ndarray:
    atoms = _atoms(smiles)
    return (atoms >= 6).astype(float) if task == "classification" else atoms


def _model(root, tiny_pretrained, tiny_smiles, task: str):
    """A tiny model as ``train`` writes it (scaffold split, hash, sizes) with a D-MPNN beside its
    transformer; its table and a table of new measurements."""
    from core.models.datasets import load_assay_table
    from core.models.training import make_split

    old = root / "old.csv"
    pd.DataFrame({"smiles": tiny_smiles, "y": _values(tiny_smiles, task)}).to_csv(old, index=False)
    new = root / "new.csv"
    pd.DataFrame({"smiles": NEW, "y": _values(NEW, task)}).to_csv(new, index=False)
    dataset = load_assay_table(old, "smiles", ["y"], task)
    split = make_split(dataset, "scaffold", 0)
    folder = root / f"{task}-model"
    tf.finetune(
        tiny_pretrained, dataset.smiles, dataset.targets, task, split.train, split.valid,
        tf.FinetuneOptions(epochs=1, batch_size=8, device="cpu"), target_names=["y"],
        output_dir=folder, split={"kind": "scaffold", "seed": 0}, smiles_column="smiles",
        data_hash=dataset.data_hash, device="cpu",
    )  # fmt: skip
    card = json.loads((folder / "card.json").read_text())
    card["split"]["sizes"] = [len(split.train), len(split.valid), len(split.test)]
    (folder / "card.json").write_text(json.dumps(card))
    smiles = np.asarray(dataset.smiles, dtype=object)
    train_dmpnn(
        list(smiles[split.train]), dataset.targets[split.train], list(smiles[split.valid]),
        dataset.targets[split.valid], task, output_dir=folder / "dmpnn", epochs=2,
        options=TINY_DMPNN, target_names=["y"], name="old-dmpnn", device="cpu",
    )  # fmt: skip
    return folder, old, new


@pytest.fixture(scope="module")
def regression(tiny_pretrained, tiny_smiles, tmp_path_factory):
    return _model(tmp_path_factory.mktemp("reg"), tiny_pretrained, tiny_smiles, "regression")


@pytest.fixture(scope="module")
def classifier(tiny_pretrained, tiny_smiles, tmp_path_factory):
    return _model(tmp_path_factory.mktemp("cls"), tiny_pretrained, tiny_smiles, "classification")


def _force(monkeypatch, families_chosen, weights):
    """The validation part would choose; these tests need a given choice to check its path."""
    from core.models import families

    choose = families.choose_families

    def forced(valid, y, task, **kwargs):
        assert set(valid) == {"transformer", "dmpnn", "rf"}  # every updated family competes
        made = choose(valid, y, task, **kwargs)
        return families.FamilyChoice(
            tuple(families_chosen), tuple(weights), made.rule, "forced", made.metric, made.valid
        )

    monkeypatch.setattr(families, "choose_families", forced)


def test_the_dmpnn_is_warm_started_and_chosen_among(regression, tiny_pretrained, tmp_path):
    from core.models.families import predict_with_choice
    from core.models.update import update_model

    folder, old, new = regression
    out = tmp_path / "updated"
    report = update_model(
        folder, old, new, out, epochs=1, n_trees=10, compare=True,
        pretrained_dir=tiny_pretrained, device="cpu",
    )  # fmt: skip
    card = json.loads((out / "card.json").read_text())
    dmpnn_card = json.loads((out / "dmpnn" / "card.json").read_text())
    assert dmpnn_card["warm_started_from"] == "old-dmpnn"
    # Trained on the new training part: old training molecules and the new ones placed there.
    assert dmpnn_card["split"]["sizes"]["train"] == card["split"]["sizes"][0]
    assert "dmpnn" in card["chosen"]["valid"]  # compared on the validation part with the others
    metrics = pd.read_csv(out / "metrics.csv")
    assert {"transformer", "dmpnn", "rf_ecfp4"} <= set(metrics["model"])
    summary = report.as_json()
    assert summary["dmpnn"]["test"]["rmse"] > 0 and summary["dmpnn"]["seconds"] >= 0
    # Compared with a D-MPNN trained from scratch as the old one was, on the same split.
    assert summary["dmpnn"]["scratch"]["test"]["rmse"] > 0
    assert summary["dmpnn"]["scratch"]["seconds"] >= 0
    assert "D-MPNN warm start" in report.summary_line()
    assert not (out / "dmpnn_scratch").exists()
    assert predict_with_choice(out, ["CCO", "c1ccsc1"]).mean.shape == (2, 1)


def test_a_chosen_forest_is_calibrated_on_its_own_refits_with_scaled_intervals(
    regression, tmp_path, monkeypatch
):
    from core.models.apply import predict_library
    from core.models.update import update_model

    _force(monkeypatch, ["rf"], [1.0])
    folder, old, new = regression
    out = tmp_path / "forest"
    update_model(folder, old, new, out, epochs=1, n_trees=10, device="cpu")
    calibration = json.loads((out / "card.json").read_text())["calibration"]
    assert calibration["source"] == "chosen_oof"
    assert calibration["targets"]["y"]["interval"] == cs.SCALED
    frame = predict_library(out, pd.Series(["CCO", "c1ccsc1", "CCCCCCCCO"]))
    assert frame["y_upper"].sub(frame["y_lower"]).nunique() > 1


def test_an_updated_classifier_is_calibrated_again(
    classifier, tiny_pretrained, tmp_path, monkeypatch
):
    from core.models.apply import predict_library
    from core.models.update import update_model

    _force(monkeypatch, ["transformer", "dmpnn", "rf"], [0.4, 0.3, 0.3])
    folder, old, new = classifier
    assert "calibration" not in json.loads((folder / "card.json").read_text())  # never had one
    out = tmp_path / "updated"
    report = update_model(
        folder, old, new, out, epochs=1, n_trees=10, calibration_folds=2,
        pretrained_dir=tiny_pretrained, device="cpu",
    )  # fmt: skip
    card = json.loads((out / "card.json").read_text())
    calibration = card["calibration"]
    assert calibration["source"] == "chosen_oof" and calibration["folds"] == 2
    assert "transformer fine-tuned from its pretrained model" in calibration["method"]
    assert "D-MPNN trained from scratch" in calibration["method"]
    assert "calibrator" in calibration["targets"]["y"]
    # Out of fold on the new training part only: never a validation or test molecule.
    oof = pd.read_csv(out / cs.OOF_FILE)
    parts = pd.read_csv(out / "training_data.csv")["part"].to_numpy()
    assert sorted(oof["row"]) == sorted(np.flatnonzero(parts == "train").tolist())
    assert set(oof["fold"]) == {0, 1}
    # The refits are thrown away: the model keeps its warm-started members.
    assert card["seeds"] == [0] and not (out / "calibration").exists()
    data = pd.read_csv(out / "training_data.csv")
    # The base rate an explanation reads against is the new training part's.
    assert card["train_positive_rate"] == [
        pytest.approx(data.loc[data["part"] == "train", "y"].mean())
    ]
    frame = predict_library(out, pd.Series(["CCO", "c1ccsc1", "CCCCCCN"]))
    assert frame["y_calibrated"].between(0, 1).all()
    assert set(frame["y_set"]) <= {"{0}", "{1}", "{0,1}", "{}"} and frame["y_set"].notna().all()
    assert any(note.startswith("Calibration:") for note in report.notes)


def test_no_refits_leave_a_deep_classifier_uncalibrated_and_say_so(
    classifier, tmp_path, monkeypatch
):
    from core.models.update import update_model

    _force(monkeypatch, ["transformer"], [1.0])
    folder, old, new = classifier
    out = tmp_path / "plain"
    report = update_model(
        folder, old, new, out, epochs=1, n_trees=10, calibration_folds=0, device="cpu"
    )
    assert "calibration" not in json.loads((out / "card.json").read_text())
    assert any("refits were turned off" in note for note in report.notes)
    # Refits need the pretrained model: without it here, the update stands, uncalibrated.
    report = update_model(folder, old, new, tmp_path / "elsewhere", epochs=1, n_trees=10,
                          calibration_folds=2, device="cpu")  # fmt: skip
    assert any(
        note.startswith("No calibration: the pretrained model 'tiny'") for note in report.notes
    )
    with pytest.raises(ValueError, match="calibration_folds"):
        update_model(folder, old, new, tmp_path / "bad", calibration_folds=1)
