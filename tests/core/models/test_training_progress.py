"""What the Models panel needs from training: per-epoch callbacks, cancel that keeps the best
epochs, and reports written to (and read back from) the model folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.jobs import JobCancelled
from core.models import transformer as tf
from core.models.datasets import assay_columns, load_assay_table
from core.models.training import TrainSettings, load_training_report, train_and_evaluate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_on_epoch_reports_every_epoch_of_every_member(tiny_pretrained, tiny_smiles):
    seen = []
    values = np.arange(len(tiny_smiles), dtype=float) % 7
    tf.finetune(
        tiny_pretrained,
        tiny_smiles,
        values,
        "regression",
        np.arange(30),
        np.arange(30, 40),
        tf.FinetuneOptions(epochs=2, n_models=2, batch_size=16, patience=10, device="cpu"),
        device="cpu",
        on_epoch=lambda *args: seen.append(args),
    )
    assert [(m, e) for m, e, _, _ in seen] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert all(loss > 0 and metric > 0 for _, _, loss, metric in seen)


def test_cancel_keeps_the_best_epoch_when_asked(tiny_pretrained, tiny_smiles, tmp_path):
    epochs = []
    values = np.arange(len(tiny_smiles), dtype=float) % 5
    options = tf.FinetuneOptions(epochs=20, n_models=3, batch_size=16, device="cpu")
    args = (tiny_pretrained, tiny_smiles, values, "regression", np.arange(30), np.arange(30, 40))
    result = tf.finetune(
        *args,
        options,
        output_dir=tmp_path / "kept",
        device="cpu",
        on_epoch=lambda *a: epochs.append(a),
        keep_on_cancel=True,
        is_cancelled=lambda: len(epochs) >= 2,
    )
    assert result.cancelled and len(result.model.members) == 1 and result.epochs[0] in (1, 2)
    card = json.loads((tmp_path / "kept" / "card.json").read_text())
    assert card["status"] == "cancelled" and card["weights"] == ["model.safetensors"]
    assert tf.predict(tmp_path / "kept", ["CCO"]).mean.shape == (1, 1)
    # Without keep_on_cancel, cancel still raises and nothing is written.
    with pytest.raises(JobCancelled):
        tf.finetune(*args, options, output_dir=tmp_path / "none", is_cancelled=lambda: True)
    assert not (tmp_path / "none").exists()


def test_reports_are_written_and_read_back(tiny_pretrained, tiny_smiles, tmp_path):
    frame = pd.DataFrame(
        {
            "smiles": tiny_smiles,
            "active": [i % 2 for i in range(len(tiny_smiles))],
            "logp": range(40),
        }
    )
    path = tmp_path / "assay.csv"
    frame.to_csv(path, index=False)
    columns = assay_columns(path)
    assert columns.smiles_column == "smiles" and set(columns.numeric_columns) == {"active", "logp"}
    assert columns.distinct_values["active"] == 2
    dataset = load_assay_table(path, "smiles", ["active"], "classification")
    curve = []
    report = train_and_evaluate(
        dataset,
        tmp_path / "model",
        TrainSettings(split="random", epochs=2, n_trees=20, batch_size=16),
        tiny_pretrained,
        device="cpu",
        on_epoch=lambda *a: curve.append(a),
    )
    assert len(curve) == 2 and len(report.curve) == 2
    test = report.predictions[report.predictions["part"] == "test"]
    # Each family and the predictor chosen among them on the validation part.
    assert set(test["model"]) == {"transformer", "rf_ecfp4", "chosen"}
    assert test["predicted"].between(0, 1).all() and len(test) == 3 * report.split["sizes"][2]
    again = load_training_report(tmp_path / "model")
    assert again.task == "classification" and again.target_names == ("active",)
    pd.testing.assert_frame_equal(
        again.predictions.reset_index(drop=True),
        report.predictions.reset_index(drop=True),
        check_dtype=False,
    )
    assert set(again.metrics["model"]) == {"transformer", "rf_ecfp4", "chosen"}
    assert again.choice is not None and again.choice.families == report.choice.families
    with pytest.raises(ValueError, match=r"card\.json"):
        load_training_report(tmp_path / "nothing")
