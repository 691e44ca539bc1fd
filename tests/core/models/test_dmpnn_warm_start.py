"""Learning from new measurements with the D-MPNN (issue 15, part 6): a warm start begins from the
saved weights, keeps the old scalings (so the old weights predict in the units they learned) and
refuses another task or targets."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from core.models.dmpnn import DmpnnOptions, predict_dmpnn, train_dmpnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = DmpnnOptions(hidden_size=16, ffn_hidden_size=16, batch_size=8, aggregation="mean")
FROZEN = replace(TINY, init_lr=1e-12, max_lr=1e-12, final_lr=1e-12)


def _atoms(smiles):
    from rdkit import Chem

    return np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles], dtype=float)


@pytest.fixture(scope="module")
def old(tiny_smiles, tmp_path_factory):
    """A 2-member D-MPNN of heavy-atom counts (with descriptors: their scaling must travel)."""
    folder = tmp_path_factory.mktemp("dmpnn-old") / "atoms"
    y = _atoms(tiny_smiles)
    train_dmpnn(
        tiny_smiles[:30], y[:30], tiny_smiles[30:], y[30:], "regression", output_dir=folder,
        epochs=3, options=replace(TINY, n_models=2), descriptors=True, target_names=["atoms"],
        name="atoms-dmpnn", device="cpu",
    )  # fmt: skip
    return folder


def test_warm_start_begins_from_the_old_weights_and_scalings(old, tiny_smiles, tmp_path):
    """With learning rates of ~0, the warm-started members predict what the old ones did, member
    m as old member m % 2 (the mean of 0,1,0,1 is that of 0,1), although the new targets have another mean (a new target scaling or
    descriptor scaling would shift every output)."""
    y = _atoms(tiny_smiles) + 3.0
    warm = train_dmpnn(
        tiny_smiles[:20], y[:20], tiny_smiles[20:30], y[20:30], "regression",
        output_dir=tmp_path / "warm", epochs=1, options=replace(FROZEN, n_models=4),
        descriptors=False, target_names=["atoms"], device="cpu", warm_start=old,
    )  # fmt: skip
    probe = tiny_smiles[30:]
    before = predict_dmpnn(old, probe, device="cpu")
    after = predict_dmpnn(tmp_path / "warm", probe, device="cpu")
    np.testing.assert_allclose(after.mean, before.mean, atol=1e-4)  # members 0,1,0,1 of 0,1
    card = json.loads((tmp_path / "warm" / "card.json").read_text())
    old_card = json.loads((old / "card.json").read_text())
    assert card["warm_started_from"] == "atoms-dmpnn"
    assert card["target_mean"] == old_card["target_mean"]
    assert card["descriptors"] == old_card["descriptors"]  # the old inputs, whatever was asked
    assert len(card["weights"]) == 4 and warm.valid_metric > 0


def test_warm_start_keeps_the_old_weights_when_no_epoch_beats_them(old, tiny_smiles, tmp_path):
    y = _atoms(tiny_smiles)
    result = train_dmpnn(
        tiny_smiles[:30], y[:30], tiny_smiles[30:], y[30:], "regression",
        output_dir=tmp_path / "kept", epochs=2, options=replace(FROZEN, n_models=2),
        target_names=["atoms"], device="cpu", warm_start=old,
    )  # fmt: skip
    # A learning rate of ~0 changes nothing, so no epoch beats the starting point's validation
    # loss (scored before training): every member keeps its old weights (best epoch 0).
    assert result.best_epochs == (0, 0)
    np.testing.assert_allclose(
        predict_dmpnn(tmp_path / "kept", tiny_smiles, device="cpu").mean,
        predict_dmpnn(old, tiny_smiles, device="cpu").mean,
        atol=1e-4,
    )


def test_warm_start_refuses_another_task_or_target(old, tiny_smiles, tmp_path):
    labels = (_atoms(tiny_smiles) > 4).astype(float)
    with pytest.raises(ValueError, match="task 'regression', not 'classification'"):
        train_dmpnn(tiny_smiles[:30], labels[:30], [], [], "classification",
                    output_dir=tmp_path / "c", options=TINY, warm_start=old,
                    target_names=["atoms"])  # fmt: skip
    with pytest.raises(ValueError, match="targets"):
        train_dmpnn(tiny_smiles[:30], _atoms(tiny_smiles)[:30], [], [], "regression",
                    output_dir=tmp_path / "r", options=TINY, warm_start=old,
                    target_names=["other"])  # fmt: skip
    assert not (tmp_path / "c").exists() and not (tmp_path / "r").exists()


def test_a_classifiers_card_stores_its_training_base_rate(tiny_smiles, tmp_path):
    labels = np.array([float("N" in s or "n" in s) for s in tiny_smiles])
    train_dmpnn(
        tiny_smiles[:30], labels[:30], tiny_smiles[30:], labels[30:], "classification",
        output_dir=tmp_path / "n", epochs=1, options=TINY, target_names=["has_n"], device="cpu",
    )  # fmt: skip
    card = json.loads((tmp_path / "n" / "card.json").read_text())
    assert card["train_positive_rate"] == [pytest.approx(labels[:30].mean())]
