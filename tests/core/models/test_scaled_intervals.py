"""Regression intervals scaled per molecule (issue 15, part 3): normalised conformal on the
out-of-fold calibration predictions when they carry the predictor's own spread, constant width
otherwise; the card says which. On data whose noise grows with x, scaled intervals are wider
where the noise is larger and keep the nominal coverage on an exchangeable split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.models import calibration_store as cs
from core.models.calibration import binomial_band, conformal_quantile, interval_coverage


def _noisy(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """A model that knows the mean sin(x); the noise SD grows from 0.1 (x=0) to 1.6 (x=3), and
    the ensemble's std follows it up to a random factor (as a real ensemble's would)."""
    x = rng.uniform(0, 3, n)
    sd = 0.1 + 0.5 * x
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "fold": 0,
            "x": x,
            "target": "y",
            "predicted": np.sin(x),
            "measured": np.sin(x) + rng.normal(0, sd),
            "std": sd * rng.lognormal(0, 0.2, n),
        }
    )


def _fit(oof: pd.DataFrame) -> dict:
    return cs.fit_calibration(
        oof, "regression", ["y"], source="crossfit", folds=5, fold_kind="random"
    )


def test_scaled_intervals_follow_the_noise_and_keep_the_coverage():
    rng = np.random.default_rng(11)
    # One exchangeable draw cut at random into calibration and test rows.
    data = _noisy(rng, 3000)
    cut = rng.permutation(len(data))
    oof, test = data.iloc[cut[:2000]], data.iloc[cut[2000:]]
    scaled = _fit(oof)
    constant = _fit(oof.drop(columns="std"))
    assert scaled["targets"]["y"]["interval"] == cs.SCALED == "scaled by the ensemble spread"
    assert constant["targets"]["y"]["interval"] == cs.CONSTANT == "constant width"
    cs.evaluate_calibration(scaled, test)
    cs.evaluate_calibration(constant, test)
    n = len(test)
    low, high = binomial_band(0.9, n)
    for summary in (scaled, constant):
        assert low <= summary["targets"]["y"]["test"]["coverage_at_default"] <= high
        for nominal, observed in zip(
            summary["targets"]["y"]["test"]["nominal"],
            summary["targets"]["y"]["test"]["observed"],
            strict=True,
        ):
            band = binomial_band(nominal, n)
            assert band[0] <= observed <= band[1], (nominal, observed)
    stored = cs.StoredCalibration(scaled)
    lower, upper = stored.interval("y", test["predicted"], 0.9, test["std"].to_numpy())
    width = upper - lower
    quiet, noisy = test["x"].to_numpy() < 1, test["x"].to_numpy() > 2
    # Wider where the noise is larger: the noise SD is 3.4 times larger on average there.
    assert width[noisy].mean() > 2.5 * width[quiet].mean()
    # Each interval is q times (std + eps), q from the stored scores.
    q = conformal_quantile(np.asarray(scaled["targets"]["y"]["scores"]), 0.9)
    eps = scaled["targets"]["y"]["std_eps"]
    np.testing.assert_allclose(width / 2, q * (test["std"].to_numpy() + eps), rtol=1e-9)
    # Per molecule, the scaled intervals hold their coverage in both regions; constant ones
    # over-cover the quiet molecules and under-cover the noisy ones.
    measured = test["measured"].to_numpy()
    c_lower, c_upper = cs.StoredCalibration(constant).interval("y", test["predicted"], 0.9)
    for region in (quiet, noisy):
        band = binomial_band(0.9, int(region.sum()))
        covered = interval_coverage(measured[region], lower[region], upper[region])
        assert band[0] <= covered <= band[1]
    assert interval_coverage(measured[noisy], c_lower[noisy], c_upper[noisy]) < low
    assert interval_coverage(measured[quiet], c_lower[quiet], c_upper[quiet]) > high
    assert "(scaled by the ensemble spread)" in cs.describe_calibration(scaled)
    assert "(constant width)" in cs.describe_calibration(constant)


def test_scaled_intervals_need_each_predictions_std():
    summary = _fit(_noisy(np.random.default_rng(1), 200))
    stored = cs.check_calibration(json.loads(json.dumps(summary)), "card")
    predicted = np.array([1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="scaled by the ensemble spread"):
        stored.interval("y", predicted, 0.9)
    columns = cs.calibration_columns(
        stored, "regression", "y", predicted, 0.9, std=np.array([0.5, np.nan, 0.5])
    )
    assert np.isfinite(columns["y_lower"][0]) and np.isnan(columns["y_lower"][1:]).all()
    # Without any std (a caller that has none), the columns are empty, not constant width.
    assert np.isnan(cs.calibration_columns(stored, "regression", "y", predicted)["y_upper"]).all()
    # A zero std still gives an interval: eps wide.
    lower, upper = stored.interval("y", np.array([0.0]), 0.9, np.array([0.0]))
    assert upper[0] - lower[0] > 0


@pytest.mark.parametrize(
    "change",
    [{"interval": "wide"}, {"std_eps": 0}, {"std_eps": "x"}, {"std_eps": None}],
)
def test_a_malformed_scaled_calibration_is_refused(change):
    summary = _fit(_noisy(np.random.default_rng(2), 50))
    summary["targets"]["y"].update(change)
    with pytest.raises(ValueError, match=r"interval|std_eps"):
        cs.check_calibration(summary, "card")


def test_a_frame_with_missing_spread_is_calibrated_with_constant_width():
    oof = _noisy(np.random.default_rng(3), 100)
    oof.loc[5, "std"] = np.nan  # one row without its spread: not the same recipe everywhere
    assert _fit(oof)["targets"]["y"]["interval"] == cs.CONSTANT
    oof["std"] = 0.0  # an ensemble that agrees everywhere says nothing about difficulty
    assert _fit(oof)["targets"]["y"]["interval"] == cs.CONSTANT


# ------------------------------------------------------------------------------------------------
# As trained: a chosen forest is calibrated with its out-of-fold trees' spread


@pytest.mark.usefixtures("one_torch_thread")
def test_a_chosen_forest_gets_intervals_scaled_by_its_trees(
    tiny_pretrained, tiny_smiles, tmp_path, monkeypatch
):
    from core.models import families
    from core.models.apply import predict_library
    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, train_and_evaluate

    choose = families.choose_families

    def forest(valid, y, task, **kwargs):  # the validation part would choose it; here it must
        choice = choose(valid, y, task, **kwargs)
        return families.FamilyChoice(("rf",), (1.0,), choice.rule, "forced", choice.metric, {})

    monkeypatch.setattr(families, "choose_families", forest)
    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": tiny_smiles, "y": np.arange(len(tiny_smiles)) % 7}).to_csv(
        path, index=False
    )
    dataset = load_assay_table(path, "smiles", ["y"], "regression")
    settings = TrainSettings(
        split="random", epochs=1, batch_size=16, families=("transformer", "rf"), n_trees=30
    )
    folder = tmp_path / "model"
    report = train_and_evaluate(dataset, folder, settings, tiny_pretrained, device="cpu")
    calibration = json.loads((folder / "card.json").read_text())["calibration"]
    entry = calibration["targets"]["y"]
    assert calibration["source"] == "chosen_oof" and entry["interval"] == cs.SCALED
    oof = pd.read_csv(folder / cs.OOF_FILE)
    assert (oof["std"] > 0).all()  # the out-of-fold forests' trees disagree
    np.testing.assert_allclose(
        sorted(entry["scores"]),
        np.sort(np.abs(oof["measured"] - oof["predicted"]) / (oof["std"] + entry["std_eps"])),
        rtol=1e-5,
    )
    assert "scaled by the ensemble spread" in " ".join(report.notes)
    frame = predict_library(folder, pd.Series(["CCO", "c1ccccc1O", "CC(=O)O", "CCCCCCCCO"]))
    q = conformal_quantile(np.asarray(entry["scores"]), 0.9)
    np.testing.assert_allclose(
        (frame["y_upper"] - frame["y_lower"]) / 2, q * (frame["y_std"] + entry["std_eps"])
    )
    assert frame["y_upper"].sub(frame["y_lower"]).nunique() > 1  # per molecule


@pytest.mark.usefixtures("one_torch_thread")
def test_a_transformer_ensemble_keeps_constant_width(tiny_pretrained, tiny_smiles, tmp_path):
    """Cross-fitted members saw every out-of-fold row but one member's: no out-of-fold spread."""
    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, train_and_evaluate

    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": tiny_smiles, "y": np.arange(len(tiny_smiles)) % 7}).to_csv(
        path, index=False
    )
    dataset = load_assay_table(path, "smiles", ["y"], "regression")
    settings = TrainSettings(split="random", epochs=1, n_models=3, baseline=False, batch_size=16)
    train_and_evaluate(dataset, tmp_path / "m", settings, tiny_pretrained, device="cpu")
    calibration = json.loads((tmp_path / "m" / "card.json").read_text())["calibration"]
    assert calibration["source"] == "crossfit"
    assert calibration["targets"]["y"]["interval"] == cs.CONSTANT
    assert "std" not in pd.read_csv(tmp_path / "m" / cs.OOF_FILE).columns
