"""A classifier's card stores the training part's base rate (``train_positive_rate``), and its
explanation is read against it (issue 15, part 7)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_fine_tuned_classifier_stores_its_training_base_rate(
    tiny_pretrained, tiny_smiles, tmp_path
):
    from core.models import transformer as tf
    from core.models.explain import model_reference

    labels = np.array([float("N" in s or "n" in s) for s in tiny_smiles])
    labels[3] = np.nan  # a missing label counts in neither class
    train, valid = np.arange(30), np.arange(30, 40)
    folder = tmp_path / "model"
    tf.finetune(
        tiny_pretrained, tiny_smiles, labels, "classification", train, valid,
        tf.FinetuneOptions(epochs=1, batch_size=8, device="cpu"), target_names=["has_n"],
        output_dir=folder, device="cpu",
    )  # fmt: skip
    card = json.loads((folder / "card.json").read_text())
    expected = float(np.nanmean(labels[train]))
    assert expected != pytest.approx(np.nanmean(labels[valid]))  # not the validation rate
    assert card["train_positive_rate"] == [pytest.approx(expected)]
    reference = model_reference(folder, "has_n", "classification")
    assert (reference.kind, reference.value) == ("training base rate", pytest.approx(expected))
    # A regression card has a training mean, no base rate.
    tf.finetune(
        tiny_pretrained, tiny_smiles, np.arange(40.0), "regression", train, valid,
        tf.FinetuneOptions(epochs=1, batch_size=8, device="cpu"), output_dir=tmp_path / "r",
        device="cpu",
    )  # fmt: skip
    assert "train_positive_rate" not in json.loads((tmp_path / "r" / "card.json").read_text())


def test_rates_per_target_leave_missing_labels_out():
    from core.models.metrics import positive_rates

    y = np.array([[1, np.nan], [0, np.nan], [1, np.nan], [1, np.nan]])
    assert positive_rates(y) == [0.75, None]
    assert positive_rates([0.0, 1.0]) == [0.5]
