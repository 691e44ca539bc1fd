"""Conformal intervals and calibrated probabilities hold their promises on exchangeable data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.models.calibration import (
    ConformalClassifier,
    ConformalRegressor,
    ProbabilityCalibrator,
    binomial_band,
    conformal_quantile,
    interval_coverage,
    reliability_curve,
)


def test_conformal_quantile_is_the_finite_sample_rank():
    scores = np.arange(1, 10, dtype=float)  # n = 9: rank ⌈10·0.9⌉ = 9
    assert conformal_quantile(scores, 0.9) == 9.0
    assert conformal_quantile(scores, 0.5) == 5.0  # ⌈10·0.5⌉ = 5
    assert math.isinf(conformal_quantile(scores[:5], 0.9))  # too few for 90 %
    with pytest.raises(ValueError, match="coverage"):
        conformal_quantile(scores, 1.0)
    with pytest.raises(ValueError, match="no calibration"):
        conformal_quantile(np.array([np.nan]), 0.9)


def _regression(rng, n, heteroscedastic=False):
    x = rng.uniform(-2, 2, n)
    noise_sd = 0.2 + (np.abs(x) if heteroscedastic else 0.3)
    y = np.sin(x) + rng.normal(0, noise_sd)
    return np.sin(x), y, noise_sd  # a model that knows the mean; std = the true noise level


@pytest.mark.parametrize("normalized", [False, True])
def test_intervals_cover_90_percent_of_new_values_on_average(normalized):
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(200):  # the guarantee is an average over calibration draws
        pred_cal, y_cal, sd_cal = _regression(rng, 100, heteroscedastic=True)
        pred_new, y_new, sd_new = _regression(rng, 200, heteroscedastic=True)
        calibrator = ConformalRegressor.fit(
            pred_cal, y_cal, sd_cal if normalized else None, coverage=0.9
        )
        lower, upper = calibrator.interval(pred_new, sd_new if normalized else None)
        covered.append(interval_coverage(y_new, lower, upper))
    mean = float(np.mean(covered))
    # Split conformal: 0.9 ≤ E[coverage] ≤ 0.9 + 1/(n+1); the mean of 200 draws is within ±0.01.
    assert 0.89 <= mean <= 0.92, mean


def test_normalised_intervals_are_narrow_where_the_ensemble_agrees():
    rng = np.random.default_rng(1)
    pred, y, sd = _regression(rng, 500, heteroscedastic=True)
    calibrator = ConformalRegressor.fit(pred, y, sd)
    lower, upper = calibrator.interval(np.array([0.0, 0.0]), np.array([0.2, 2.0]))
    assert (upper - lower)[0] < (upper - lower)[1] / 5
    with pytest.raises(ValueError, match="std"):
        calibrator.interval(np.array([0.0]))
    assert ConformalRegressor.from_dict(calibrator.to_dict()) == calibrator


def test_a_zero_std_does_not_give_a_zero_width_interval():
    pred = np.zeros(50)
    y = np.linspace(-1, 1, 50)
    calibrator = ConformalRegressor.fit(pred, y, np.full(50, 0.5))
    lower, upper = calibrator.interval(np.array([0.0]), np.array([0.0]))
    assert upper[0] - lower[0] > 0


def _classification(rng, n):
    score = rng.normal(0, 1.5, n)
    p_true = 1 / (1 + np.exp(-score))
    label = (rng.uniform(size=n) < p_true).astype(float)
    overconfident = 1 / (1 + np.exp(-3 * score))  # a model that is too sure
    return overconfident, label, p_true


def test_isotonic_calibration_fixes_an_overconfident_model():
    rng = np.random.default_rng(2)
    p_cal, y_cal, _ = _classification(rng, 2000)
    p_new, y_new, _ = _classification(rng, 5000)
    calibrator = ProbabilityCalibrator.fit(p_cal, y_cal)
    assert calibrator.method == "isotonic"

    def calibration_error(p, y):
        mean_p, observed, count = reliability_curve(p, y)
        return float(np.sum(count * np.abs(mean_p - observed)) / np.sum(count))

    assert calibration_error(calibrator(p_new), y_new) < calibration_error(p_new, y_new) / 2
    assert ProbabilityCalibrator.from_dict(calibrator.to_dict()) == calibrator


def test_small_calibration_sets_use_platt_scaling():
    rng = np.random.default_rng(3)
    p_cal, y_cal, _ = _classification(rng, 60)
    calibrator = ProbabilityCalibrator.fit(p_cal, y_cal)
    assert calibrator.method == "platt" and 0 < calibrator.slope < 1  # it tempers the confidence
    out = calibrator(np.array([0.01, 0.5, 0.99, np.nan]))
    assert out[0] < out[1] < out[2] and np.isnan(out[3])
    with pytest.raises(ValueError, match="both classes"):
        ProbabilityCalibrator.fit(np.array([0.2, 0.3]), np.array([1.0, 1.0]))


def test_prediction_sets_hold_the_true_class_at_the_coverage_asked():
    rng = np.random.default_rng(4)
    p_cal, y_cal, _ = _classification(rng, 1000)
    p_new, y_new, _ = _classification(rng, 4000)
    conformal = ConformalClassifier.fit(p_cal, y_cal, coverage=0.9)
    sets = conformal.sets(p_new)
    hit = np.mean([int(label) in members for label, members in zip(y_new, sets, strict=True)])
    assert 0.88 <= hit <= 0.93
    # Confident predictions get one class, unsure ones both.
    assert conformal.sets(np.array([0.999]))[0] == (1,)
    assert conformal.sets(np.array([0.5]))[0] == (0, 1)
    assert conformal.sets(np.array([np.nan]))[0] == ()


def test_binomial_band_and_coverage():
    low, high = binomial_band(0.9, 100)
    assert low < 0.9 < high and low >= 0.8 and high <= 0.97
    assert interval_coverage(np.array([1.0, 5.0, np.nan]), np.zeros(3), np.full(3, 2.0)) == 0.5
