"""The chemprop D-MPNN family: training (regression, classification, several targets with missing
labels, RDKit descriptors), cancel, the model folder (safetensors only, every size checked), and
the same predictions in the model host as in-process.

The models are tiny (hidden 32) and train for a few epochs on forty small molecules; the targets
are things a graph network sees at once (heavy-atom count, whether there is a nitrogen), so a
model that learnt nothing fails the checks."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from rdkit import Chem

from core.jobs import JobCancelled
from core.models import dmpnn
from core.models.dmpnn import DmpnnOptions, load_dmpnn, predict_dmpnn, train_dmpnn
from core.models.registry import MAX_JSON_BYTES, load_card
from core.models.training import EpochPoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Mean aggregation and small batches: tiny molecules learn in a few epochs (chemprop's default
# sum/100 gives them a near-zero fingerprint to start from).
TINY = DmpnnOptions(hidden_size=32, ffn_hidden_size=32, batch_size=4, aggregation="mean")
N_TRAIN = 30


def heavy_atoms(smiles: list[str]) -> np.ndarray:
    return np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles], dtype=float)


def has_nitrogen(smiles: list[str]) -> np.ndarray:
    return np.array(
        [any(a.GetSymbol() == "N" for a in Chem.MolFromSmiles(s).GetAtoms()) for s in smiles],
        dtype=float,
    )


@pytest.fixture(scope="module")
def regression(tiny_smiles, tmp_path_factory):
    """A regression model of heavy-atom counts: (result, folder, epochs reported)."""
    y = heavy_atoms(tiny_smiles)
    points = []
    folder = tmp_path_factory.mktemp("dmpnn") / "atoms"
    result = train_dmpnn(
        tiny_smiles[:N_TRAIN],
        y[:N_TRAIN],
        tiny_smiles[N_TRAIN:],
        y[N_TRAIN:],
        "regression",
        output_dir=folder,
        epochs=30,
        seed=0,
        options=TINY,
        target_names=["heavy_atoms"],
        device="cpu",
        report_partial=points.append,
    )
    return result, folder, points


def test_regression_learns_and_reports_every_epoch(regression, tiny_smiles):
    result, folder, points = regression
    y = heavy_atoms(tiny_smiles)
    guess_the_mean = np.sqrt(np.mean((y[N_TRAIN:] - y[:N_TRAIN].mean()) ** 2))
    assert result.metric_name == "rmse"
    assert result.valid_metric < 0.7 * guess_the_mean
    # The validation predictions are the ensemble's, in atoms (not standardised units).
    rmse = np.sqrt(np.mean((result.valid_predictions[:, 0] - y[N_TRAIN:]) ** 2))
    assert rmse == pytest.approx(result.valid_metric)
    assert all(isinstance(p, EpochPoint) for p in points) and list(result.curve) == points
    assert [p.epoch for p in points] == list(range(1, len(points) + 1))
    assert points[-1].train_loss < points[0].train_loss
    assert 1 <= result.best_epochs[0] <= len(points)
    card = load_card(folder)  # the registry reads it as a dmpnn model
    assert card.kind == "dmpnn" and card.target_columns == ("heavy_atoms",)
    assert card.metrics["valid"]["rmse"] == pytest.approx(result.valid_metric)


def test_predictions_come_back_in_units_with_invalid_smiles_as_empty_rows(regression):
    _, folder, _ = regression
    prediction = predict_dmpnn(folder, ["CCO", "not a smiles", "", "c1ccccc1CCCCCC"], device="cpu")
    assert prediction.mean.shape == (4, 1) and prediction.invalid == (1, 2)
    assert np.isnan(prediction.mean[[1, 2]]).all()
    ethanol, hexylbenzene = prediction.mean[0, 0], prediction.mean[3, 0]
    assert 0 < ethanol < hexylbenzene  # 3 and 12 heavy atoms
    assert (prediction.std[[0, 3]] == 0).all()  # one member: no spread
    assert predict_dmpnn(folder, [], device="cpu").mean.shape == (0, 1)


def test_the_folder_read_back_predicts_what_training_saw(regression, tiny_smiles):
    result, folder, _ = regression
    again = predict_dmpnn(folder, tiny_smiles[N_TRAIN:], device="cpu")
    np.testing.assert_allclose(again.mean, result.valid_predictions, rtol=1e-6)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["card.json", "dmpnn_config.json", "dmpnn_curve.csv", "model.safetensors"]


def test_same_seed_same_model_on_the_cpu(regression, tiny_smiles, tmp_path):
    result, _, _ = regression
    y = heavy_atoms(tiny_smiles)
    again = train_dmpnn(
        tiny_smiles[:N_TRAIN], y[:N_TRAIN], tiny_smiles[N_TRAIN:], y[N_TRAIN:], "regression",
        output_dir=tmp_path / "again", epochs=30, seed=0, options=TINY, device="cpu",
    )  # fmt: skip
    np.testing.assert_array_equal(again.valid_predictions, result.valid_predictions)


def test_classification_learns_to_see_nitrogen(tiny_smiles, tmp_path):
    labels = has_nitrogen(tiny_smiles)
    result = train_dmpnn(
        tiny_smiles[:N_TRAIN],
        labels[:N_TRAIN],
        tiny_smiles[N_TRAIN:],
        labels[N_TRAIN:],
        "classification",
        output_dir=tmp_path / "n",
        epochs=30,
        options=replace(TINY, max_lr=3e-3),
        device="cpu",
    )
    assert result.metric_name == "roc_auc" and result.valid_metric >= 0.9
    probabilities = predict_dmpnn(tmp_path / "n", ["CCN", "CCO", "C1CCNCC1", "CCCC"], device="cpu")
    assert ((probabilities.mean >= 0) & (probabilities.mean <= 1)).all()
    assert probabilities.mean[[0, 2], 0].min() > probabilities.mean[[1, 3], 0].max()


def test_two_targets_with_missing_labels_and_an_ensemble(tiny_smiles, tmp_path):
    y = np.column_stack([heavy_atoms(tiny_smiles), has_nitrogen(tiny_smiles) * 3])
    y[::3, 0] = np.nan  # a third of the first target is unmeasured
    y[1::4, 1] = np.nan
    options = DmpnnOptions(
        hidden_size=32, ffn_hidden_size=32, batch_size=4, aggregation="mean", n_models=2
    )
    points = []
    result = train_dmpnn(
        tiny_smiles[:N_TRAIN], y[:N_TRAIN], tiny_smiles[N_TRAIN:], y[N_TRAIN:], "regression",
        output_dir=tmp_path / "two", epochs=3, seed=5, options=options,
        target_names=["atoms", "nitrogen"], device="cpu", report_partial=points.append,
    )  # fmt: skip
    assert np.isfinite([p.train_loss for p in points]).all()  # NaN labels left out of the loss
    assert [(p.model_index, p.epoch) for p in points] == [(m, e) for m in (0, 1) for e in (1, 2, 3)]
    assert np.isfinite(result.valid_predictions).all() and result.valid_predictions.shape == (10, 2)
    card = json.loads((tmp_path / "two" / "card.json").read_text())
    assert card["weights"] == ["model.safetensors", "model_1.safetensors"]
    assert card["seeds"] == [5, 6] and card["target_names"] == ["atoms", "nitrogen"]
    # The scaling was learnt from the labelled rows only.
    assert card["target_mean"][0] == pytest.approx(np.nanmean(y[:N_TRAIN, 0]))
    prediction = predict_dmpnn(tmp_path / "two", tiny_smiles[N_TRAIN:], device="cpu")
    assert prediction.target_names == ("atoms", "nitrogen")
    assert (prediction.std > 0).any()  # two seeds disagree somewhere
    np.testing.assert_allclose(prediction.mean, result.valid_predictions, rtol=1e-6)


def test_rdkit_descriptors_travel_with_the_model(tiny_smiles, tmp_path):
    from safetensors import safe_open

    y = heavy_atoms(tiny_smiles)
    smiles = [*tiny_smiles[:N_TRAIN], "not a smiles"]
    result = train_dmpnn(
        smiles, [*y[:N_TRAIN], 1.0], tiny_smiles[N_TRAIN:], y[N_TRAIN:], "regression",
        output_dir=tmp_path / "desc", descriptors=True, epochs=2, device="cpu",
        options=replace(TINY, monitor="metric"),
    )  # fmt: skip
    assert result.n_invalid == {"train": 1, "valid": 0}
    config = json.loads((tmp_path / "desc" / "dmpnn_config.json").read_text())
    assert config["descriptors"] == "v1_rdkit_2d_normalized" and config["n_descriptors"] == 200
    with safe_open(str(tmp_path / "desc" / "model.safetensors"), framework="pt") as handle:
        scale = handle.get_tensor("X_d_transform.scale").numpy()
        first = handle.get_tensor("predictor.ffn.0.0.weight")
    assert scale.shape == (1, 200) and (scale > 0).all()  # standardised on the training rows
    assert first.shape == (32, 32 + 200)  # the head reads fingerprint and descriptors
    prediction = predict_dmpnn(tmp_path / "desc", [*tiny_smiles[N_TRAIN:], "C1CC"], device="cpu")
    np.testing.assert_allclose(prediction.mean[:-1], result.valid_predictions, rtol=1e-6)
    assert prediction.invalid == (10,)


def test_cancel_stops_between_epochs_and_saves_nothing(tiny_smiles, tmp_path):
    y = heavy_atoms(tiny_smiles)
    points = []
    with pytest.raises(JobCancelled):
        train_dmpnn(
            tiny_smiles[:N_TRAIN], y[:N_TRAIN], tiny_smiles[N_TRAIN:], y[N_TRAIN:], "regression",
            output_dir=tmp_path / "never", epochs=50, options=TINY, device="cpu",
            report_partial=points.append, is_cancelled=lambda: len(points) >= 2,
        )  # fmt: skip
    assert [p.epoch for p in points] == [1, 2]
    assert not (tmp_path / "never").exists()


def test_bad_input_is_refused_before_training(tiny_smiles, tmp_path):
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        train_dmpnn(tiny_smiles[:4], [0, 1, 2, 1], [], [], "classification", output_dir=tmp_path)
    with pytest.raises(ValueError, match="one row per SMILES"):
        train_dmpnn(tiny_smiles[:4], [0, 1], [], [], "regression", output_dir=tmp_path)
    with pytest.raises(ValueError, match="No training labels for b"):
        train_dmpnn(
            tiny_smiles[:3], [[1, np.nan]] * 3, [], [], "regression", output_dir=tmp_path,
            target_names=["a", "b"], device="cpu",
        )  # fmt: skip
    with pytest.raises(ValueError, match="task"):
        train_dmpnn(tiny_smiles[:3], [1, 2, 3], [], [], "ranking", output_dir=tmp_path)


# ----------------------------------------------------------------------------------------------
# Folders from anyone


@pytest.fixture
def copy_of(regression, tmp_path):
    _, folder, _ = regression
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def _edit(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_an_oversized_config_is_refused_before_a_module_is_built(copy_of, monkeypatch):
    built = []
    monkeypatch.setattr(dmpnn, "build_model", lambda *a, **k: built.append(a))
    _edit(copy_of / "dmpnn_config.json", hidden_size=10**9)
    with pytest.raises(ValueError, match="hidden_size is 1000000000"):
        load_dmpnn(copy_of)
    _edit(copy_of / "dmpnn_config.json", hidden_size=4096, ffn_hidden_size=8192, n_tasks=10_000)
    with pytest.raises(ValueError, match="n_tasks"):  # differs from the card's
        load_dmpnn(copy_of)
    _edit(copy_of / "dmpnn_config.json", hidden_size=4096, depth=20, n_tasks=1)
    with pytest.raises(ValueError, match="do not fit"):  # 4096 wide: 50 M parameters, 34 KB
        load_dmpnn(copy_of)
    (copy_of / "dmpnn_config.json").write_text(" " * (MAX_JSON_BYTES + 1))
    with pytest.raises(ValueError, match="more than"):
        load_dmpnn(copy_of)
    assert built == []


def test_weights_outside_the_folder_are_refused(copy_of, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(copy_of / "model.safetensors", other / "model.safetensors")
    _edit(copy_of / "card.json", weights=["../other/model.safetensors"])
    with pytest.raises(ValueError, match="not a file name inside"):
        load_dmpnn(copy_of)
    _edit(copy_of / "card.json", weights=["model.safetensors"])
    (copy_of / "model.safetensors").unlink()
    (copy_of / "model.safetensors").symlink_to(other / "model.safetensors")
    with pytest.raises(ValueError, match="leads out of the folder"):
        load_dmpnn(copy_of)


def test_weights_of_another_shape_are_refused(copy_of):
    _edit(copy_of / "dmpnn_config.json", depth=4, hidden_size=31)
    with pytest.raises(ValueError, match="do not match"):
        load_dmpnn(copy_of)
    _edit(copy_of / "dmpnn_config.json", hidden_size=32)
    (copy_of / "model.safetensors").write_bytes(b"\x00" * 40_000)
    with pytest.raises(ValueError, match="Cannot read the weights"):
        load_dmpnn(copy_of)


def test_the_model_cache_serves_a_folder_until_it_changes(regression):
    from core.compute import ModelCache

    _, folder, _ = regression
    cache = ModelCache()
    first = load_dmpnn(folder, "cpu", cache)
    assert load_dmpnn(folder, "cpu", cache) is first
    predict_dmpnn(folder, ["CCO"], device="cpu", model_cache=cache)
    assert len(cache) == 1


def test_nothing_is_read_with_torch_load(tiny_smiles, tmp_path, monkeypatch):
    import torch
    import torch.serialization

    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch.serialization, "load", refuse)
    y = heavy_atoms(tiny_smiles)
    train_dmpnn(
        tiny_smiles[:N_TRAIN], y[:N_TRAIN], tiny_smiles[N_TRAIN:], y[N_TRAIN:], "regression",
        output_dir=tmp_path / "m", epochs=1, options=TINY, device="cpu",
    )  # fmt: skip
    assert np.isfinite(predict_dmpnn(tmp_path / "m", ["CCO"], device="cpu").mean).all()


# ----------------------------------------------------------------------------------------------
# In the model host


def test_the_model_host_trains_and_predicts_as_in_process(regression, tiny_smiles, tmp_path):
    from core.modelhost import ModelHost

    result, _, points = regression
    y = heavy_atoms(tiny_smiles)
    partial = []
    host = ModelHost("cpu")
    try:
        hosted = host.run(
            train_dmpnn,
            (tiny_smiles[:N_TRAIN], y[:N_TRAIN], tiny_smiles[N_TRAIN:], y[N_TRAIN:], "regression"),
            {"output_dir": tmp_path / "hosted", "epochs": 30, "seed": 0, "options": TINY},
            report_partial=partial.append,
        )
        remote = host.run(predict_dmpnn, (tmp_path / "hosted", tiny_smiles[N_TRAIN:]))
    finally:
        host.close()
    assert hosted.device == "cpu" and partial == list(hosted.curve)
    assert [p.epoch for p in partial] == [p.epoch for p in points]
    local = predict_dmpnn(tmp_path / "hosted", tiny_smiles[N_TRAIN:], device="cpu")
    np.testing.assert_array_equal(remote.mean, local.mean)
    # The same seed trained in the worker and here: the same model.
    np.testing.assert_allclose(remote.mean, result.valid_predictions, rtol=1e-5)
