"""Calibration from training to prediction (core.models.calibration_store): the calibration rows
are the training part, predicted out of fold (never valid or test), the card stores them as JSON,
intervals hold their prediction and cover new values as often as asked, and predictions of a
model without a stored calibration get empty columns."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from core.models import calibration_store as cs
from core.models.calibration import binomial_band, conformal_quantile
from core.models.splits import murcko_scaffold

pytest_torch = pytest.mark.usefixtures("one_torch_thread")

SERIES = [
    "c1ccccc1C", "c1ccccc1CC", "c1ccccc1O", "c1ccccc1N", "c1ccccc1Cl",
    "C1CCCCC1C", "C1CCCCC1O", "C1CCCCC1N",
    "c1ccncc1C", "c1ccncc1O", "c1ccncc1N",
    "C1CCOC1C", "C1CCOC1O",
    "CCO", "CCCO", "CCN",
]  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Folds and the plan


def test_scaffold_folds_keep_each_scaffold_in_one_fold():
    folds = cs.assign_folds(SERIES, 3, by_scaffold=True, seed=1)
    assert sorted(set(folds.tolist())) == [0, 1, 2]
    by_scaffold: dict[str, set[int]] = {}
    for smiles, fold in zip(SERIES, folds, strict=True):
        by_scaffold.setdefault(murcko_scaffold(smiles), set()).add(int(fold))
    assert all(len(f) == 1 for f in by_scaffold.values())


def test_random_folds_are_near_equal_and_seeded():
    folds = cs.assign_folds(SERIES, 5, by_scaffold=False, seed=3)
    assert np.bincount(folds).tolist() in ([4, 3, 3, 3, 3], sorted([4, 3, 3, 3, 3]))
    assert np.array_equal(folds, cs.assign_folds(SERIES, 5, by_scaffold=False, seed=3))
    with pytest.raises(ValueError, match="at least 2 folds"):
        cs.assign_folds(SERIES, 1, by_scaffold=False)


def test_plan_by_task_and_ensemble_size():
    assert cs.calibration_plan("regression", 5, 0) == ("crossfit", 5)
    assert cs.calibration_plan("classification", 3, 0) == ("crossfit", 3)
    assert cs.calibration_plan("regression", 1, 0) == ("rf_proxy", 5)
    assert cs.calibration_plan("regression", 2, 4) == ("refit", 4)
    assert cs.calibration_plan("classification", 1, 0) == (None, 0)
    assert cs.calibration_plan("classification", 1, 5) == ("refit", 5)


# ------------------------------------------------------------------------------------------------
# The maths as wired: coverage with known noise, intervals around the prediction


def _regression_summary(residuals: np.ndarray) -> dict:
    oof = pd.DataFrame(
        {
            "row": np.arange(residuals.size),
            "fold": 0,
            "target": "y",
            "measured": residuals,
            "predicted": 0.0,
        }
    )
    return cs.fit_calibration(
        oof, "regression", ["y"], source="crossfit", folds=5, fold_kind="random"
    )


def test_coverage_with_known_noise_lies_in_the_binomial_band():
    rng = np.random.default_rng(7)
    truth_test = rng.normal(6, 1, 1000)
    # A model that knows the truth; measurements carry Gaussian noise of SD 0.5. Many
    # calibration rows, so that the binomial band of the 1000 test rows is the spread to expect.
    summary = _regression_summary(rng.normal(0, 0.5, 20_000))
    test = pd.DataFrame(
        {"target": "y", "predicted": truth_test, "measured": truth_test + rng.normal(0, 0.5, 1000)}
    )
    cs.evaluate_calibration(summary, test)
    result = summary["targets"]["y"]["test"]
    low, high = binomial_band(0.9, 1000)
    assert result["band"] == [low, high]
    assert low <= result["coverage_at_default"] <= high
    # Every nominal level is met within its own band, and wider levels give wider intervals.
    for nominal, observed in zip(result["nominal"], result["observed"], strict=True):
        band = binomial_band(nominal, 1000)
        assert band[0] <= observed <= band[1], (nominal, observed)
    assert np.all(np.diff(result["mean_width"]) > 0)
    # The 90 % half-width is near the noise's 1.645 SD.
    assert result["mean_width"][4] / 2 == pytest.approx(1.645 * 0.5, rel=0.15)


def test_interval_is_the_prediction_plus_minus_the_conformal_quantile():
    scores = np.linspace(0.01, 1.0, 100)
    stored = cs.StoredCalibration(_regression_summary(scores))
    predicted = np.array([1.0, 5.5, np.nan])
    columns = cs.calibration_columns(stored, "regression", "y", predicted, 0.8)
    lower, upper = columns["y_lower"], columns["y_upper"]
    q = conformal_quantile(scores, 0.8)
    np.testing.assert_allclose(lower[:2], predicted[:2] - q)
    np.testing.assert_allclose(upper[:2], predicted[:2] + q)
    assert (lower[:2] <= predicted[:2]).all() and (predicted[:2] <= upper[:2]).all()
    assert np.isnan(lower[2]) and np.isnan(upper[2])
    with pytest.raises(ValueError, match="between 0 and 1"):
        cs.calibration_columns(stored, "regression", "y", predicted, 1.0)


def test_large_score_sets_are_thinned_but_keep_their_quantiles():
    scores = np.random.default_rng(0).exponential(1.0, 30_000)
    summary = _regression_summary(scores)
    stored = summary["targets"]["y"]["scores"]
    assert len(stored) == cs.MAX_STORED_SCORES and stored == sorted(stored)
    for coverage in (0.5, 0.9, 0.95):
        exact = conformal_quantile(scores, coverage)
        assert conformal_quantile(np.array(stored), coverage) == pytest.approx(exact, rel=0.01)


def test_classification_sets_and_calibrated_probabilities():
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 600)
    # An overconfident model: the true chance is pulled halfway to 0.5.
    labels = (rng.uniform(0, 1, 600) < 0.25 + 0.5 * p).astype(float)
    oof = pd.DataFrame({"row": np.arange(600), "fold": 0, "target": "c", "measured": labels,
                        "predicted": p})  # fmt: skip
    summary = cs.fit_calibration(
        oof, "classification", ["c"], source="crossfit", folds=3, fold_kind="random"
    )
    assert summary["targets"]["c"]["calibrator"]["method"] == "isotonic"
    stored = cs.StoredCalibration(summary)
    columns = cs.calibration_columns(stored, "classification", "c", np.array([0.02, 0.5, 0.98]))
    assert set(columns["c_set"]) <= {"{0}", "{1}", "{0,1}", "{}"}
    assert columns["c_set"][1] == "{0,1}"  # a coin toss holds both classes at 90 %
    calibrated = columns["c_calibrated"]
    assert calibrated[0] > 0.02 and calibrated[2] < 0.98  # pulled in, as the truth is
    test_p = rng.uniform(0, 1, 1000)
    test = pd.DataFrame(
        {"target": "c", "predicted": test_p,
         "measured": (rng.uniform(0, 1, 1000) < 0.25 + 0.5 * test_p).astype(float)}
    )  # fmt: skip
    cs.evaluate_calibration(summary, test)
    result = summary["targets"]["c"]["test"]
    assert result["band"][0] <= result["coverage_at_default"] <= result["band"][1]
    curves = result["reliability"]
    assert curves["calibrated"]["brier"] < curves["uncalibrated"]["brier"]


def test_no_calibration_gives_empty_columns():
    regression = cs.calibration_columns(None, "regression", "y", np.array([1.0, 2.0]))
    assert list(regression) == ["y_lower", "y_upper"]
    assert np.isnan(regression["y_lower"]).all() and np.isnan(regression["y_upper"]).all()
    classification = cs.calibration_columns(None, "classification", "c", np.array([0.3]))
    assert list(classification) == ["c_calibrated", "c_set"]
    assert np.isnan(classification["c_calibrated"]).all()
    assert classification["c_set"].isna().all()


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"targets": {"y": {"scores": ["1"]}}},
        {"targets": {"y": {"scores": [1.0, math.inf]}}},
        {"targets": {"y": {"scores": [0.1] * (cs.MAX_STORED_SCORES + 1)}}},
        {"targets": {"c": {"scores": [0.1], "calibrator": {"method": "magic"}}}},
        {
            "targets": {
                "c": {"scores": [0.1], "calibrator": {"method": "isotonic", "x": [0], "y": []}}
            }
        },
    ],
)
def test_a_malformed_stored_calibration_is_refused(bad):
    with pytest.raises(ValueError):
        cs.check_calibration(bad, "card")


# ------------------------------------------------------------------------------------------------
# Training stores it from out-of-fold training rows


def _train(tmp_path, tiny_pretrained, tiny_smiles, task: str, n_models: int, **extra):
    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, make_split, train_and_evaluate

    path = tmp_path / "assay.csv"
    values = np.arange(len(tiny_smiles)) % (7 if task == "regression" else 2)
    pd.DataFrame({"smiles": tiny_smiles, "y": values}).to_csv(path, index=False)
    dataset = load_assay_table(path, "smiles", ["y"], task)
    settings = TrainSettings(
        split="random", epochs=1, n_models=n_models, baseline=False, batch_size=16, **extra
    )
    folder = tmp_path / "model"
    report = train_and_evaluate(dataset, folder, settings, tiny_pretrained, device="cpu")
    return folder, report, make_split(dataset, "random", 0), dataset


@pytest_torch
def test_cross_fitted_members_calibrate_on_training_rows_they_did_not_see(
    tiny_pretrained, tiny_smiles, tmp_path
):
    from core.models.transformer import LoadedModel, load_model, predict

    folder, report, split, _dataset = _train(
        tmp_path, tiny_pretrained, tiny_smiles, "regression", 3
    )
    card = json.loads((folder / "card.json").read_text())
    calibration = card["calibration"]
    assert calibration["source"] == "crossfit" and calibration["folds"] == 3
    assert report.calibration == calibration
    oof = pd.read_csv(folder / cs.OOF_FILE)
    # Exactly the training part: no validation or test molecule calibrates.
    assert sorted(oof["row"]) == sorted(split.train.tolist())
    assert not set(oof["row"]) & (set(split.valid.tolist()) | set(split.test.tolist()))
    assert (oof["part"] == "train").all()
    # Member k trained on every training row but fold k's.
    sizes = np.bincount(oof["fold"], minlength=3)
    assert card["member_train_sizes"] == [len(split.train) - s for s in sizes]
    # Each row's prediction is its own fold's member's (the one that did not see it); members
    # differ by more than 0.1 here, reading the saved weights back by less than 1e-3.
    model = load_model(folder, "cpu")
    for k in range(3):
        rows = oof[oof["fold"] == k]
        single = LoadedModel(model.kind, model.tokenizer, model.config, model.card,
                             [model.members[k]], "cpu")  # fmt: skip
        np.testing.assert_allclose(
            predict(single, list(rows["smiles"])).mean[:, 0], rows["predicted"], atol=2e-3
        )
        for j in set(range(3)) - {k}:
            other = LoadedModel(model.kind, model.tokenizer, model.config, model.card,
                                [model.members[j]], "cpu")  # fmt: skip
            gap = np.abs(predict(other, list(rows["smiles"])).mean[:, 0] - rows["predicted"])
            assert gap.max() > 1e-2
    # The stored scores are those rows' absolute residuals, sorted.
    expected = np.sort(np.abs(oof["measured"] - oof["predicted"]))
    np.testing.assert_allclose(calibration["targets"]["y"]["scores"], expected, rtol=1e-5)
    test = calibration["targets"]["y"]["test"]
    assert test["n"] == len(split.test)
    assert test["band"] == list(binomial_band(0.9, len(split.test)))
    assert "Calibration: cross-fitted ensemble" in " ".join(report.notes)


@pytest_torch
def test_a_single_regression_model_is_calibrated_on_forest_residuals_and_predicts_intervals(
    tiny_pretrained, tiny_smiles, tmp_path
):
    from core.models.apply import predict_library
    from core.models.training import load_training_report

    folder, _report, split, _dataset = _train(
        tmp_path, tiny_pretrained, tiny_smiles, "regression", 1
    )
    calibration = json.loads((folder / "card.json").read_text())["calibration"]
    assert calibration["source"] == "rf_proxy" and calibration["folds"] == 5
    assert "proxy" in calibration["method"]
    oof = pd.read_csv(folder / cs.OOF_FILE)
    assert sorted(oof["row"]) == sorted(split.train.tolist())
    assert load_training_report(folder).calibration == calibration
    library = pd.Series(["CCO", "c1ccccc1O", "", "CC(=O)O"], index=[10, 11, 12, 13])
    frame = predict_library(folder, library, coverage=0.8)
    assert list(frame.columns[:3]) == ["y", "y_lower", "y_upper"]
    known = frame.dropna(subset=["y"])
    assert len(known) == 3 and np.isnan(frame.loc[12, "y_lower"])
    assert (known["y_lower"] < known["y"]).all() and (known["y"] < known["y_upper"]).all()
    q = conformal_quantile(np.asarray(calibration["targets"]["y"]["scores"]), 0.8)
    np.testing.assert_allclose(known["y_upper"] - known["y_lower"], 2 * q)


@pytest_torch
def test_a_classifier_ensemble_stores_a_calibrator_and_predicts_sets(
    tiny_pretrained, tiny_smiles, tmp_path
):
    from core.models.apply import predict_library

    folder, _report, split, _dataset = _train(
        tmp_path, tiny_pretrained, tiny_smiles, "classification", 3
    )
    calibration = json.loads((folder / "card.json").read_text())["calibration"]
    entry = calibration["targets"]["y"]
    assert entry["calibrator"]["method"] == "platt"  # fewer than 100 rows
    assert entry["n"] == len(split.train)
    frame = predict_library(folder, pd.Series(["CCO", "c1ccccc1O", "CC(=O)O"]))
    assert {"y_calibrated", "y_set"} <= set(frame.columns)
    assert set(frame["y_set"]) <= {"{0}", "{1}", "{0,1}", "{}"}
    assert frame["y_calibrated"].between(0, 1).all()


@pytest_torch
def test_a_single_classifier_stores_no_calibration_and_says_so(
    tiny_pretrained, tiny_smiles, tmp_path
):
    from core.models.apply import predict_library

    folder, report, _split, _dataset = _train(
        tmp_path, tiny_pretrained, tiny_smiles, "classification", 1
    )
    assert "calibration" not in json.loads((folder / "card.json").read_text())
    assert not (folder / cs.OOF_FILE).exists()
    assert any(note.startswith("No calibration") for note in report.notes)
    frame = predict_library(folder, pd.Series(["CCO", "CCN"]))
    assert frame["y_calibrated"].isna().all() and frame["y_set"].isna().all()


@pytest_torch
def test_asked_refits_calibrate_a_single_classifier_on_training_rows_out_of_fold(
    tiny_pretrained, tiny_smiles, tmp_path
):
    folder, _report, split, _dataset = _train(
        tmp_path, tiny_pretrained, tiny_smiles, "classification", 1, calibration_folds=2
    )
    card = json.loads((folder / "card.json").read_text())
    assert card["calibration"]["source"] == "refit" and card["calibration"]["folds"] == 2
    assert card["seeds"] == [0]  # the refits are thrown away: the model is one member
    oof = pd.read_csv(folder / cs.OOF_FILE)
    assert sorted(oof["row"]) == sorted(split.train.tolist())
    assert set(oof["fold"]) == {0, 1}
    assert "calibrator" in card["calibration"]["targets"]["y"]


@pytest_torch
def test_finetune_refuses_member_rows_outside_the_training_part(tiny_pretrained, tiny_smiles):
    from core.models.transformer import FinetuneOptions, finetune

    y = np.arange(len(tiny_smiles), dtype=float)
    options = FinetuneOptions(epochs=1, n_models=2, device="cpu")
    with pytest.raises(ValueError, match="part of train_idx"):
        finetune(tiny_pretrained, tiny_smiles, y, "regression", [0, 1, 2, 3], [4, 5], options,
                 member_train_idx=[[0, 1], [2, 9]])  # fmt: skip
    with pytest.raises(ValueError, match="2 ensemble members"):
        finetune(tiny_pretrained, tiny_smiles, y, "regression", [0, 1, 2, 3], [4, 5], options,
                 member_train_idx=[[0, 1]])  # fmt: skip
