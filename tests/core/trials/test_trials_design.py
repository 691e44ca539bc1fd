"""Sample size and power against hand-computed textbook numbers and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from core.trials import TrialDataError
from core.trials.design import (
    design,
    event_probability,
    events_needed,
    n_survival,
    n_two_means,
    n_two_proportions,
    power_curve,
    power_events,
    power_two_proportions,
)

Z975 = 1.959964
Z80 = 0.841621
Z90 = 1.281552


def test_two_proportions_pooled_matches_hand_computed_fleiss_formula():
    # p1 = 0.5, p2 = 0.3: p̄ = 0.4; [1.959964·√(0.4·0.6·2) + 0.841621·√(0.25 + 0.21)]² / 0.2²
    by_hand = (Z975 * math.sqrt(0.4 * 0.6 * 2) + Z80 * math.sqrt(0.25 + 0.21)) ** 2 / 0.04
    assert by_hand == pytest.approx(93.0, abs=0.01)
    result = n_two_proportions(0.5, 0.3)
    assert result.details["n1_exact"] == pytest.approx(by_hand, rel=1e-5)
    assert result.n_per_arm == (93, 93) and result.total == 186


def test_two_proportions_pooled_with_allocation_ratio():
    r = 2.0
    p1, p2 = 0.2, 0.1
    pbar = (p1 + r * p2) / (1 + r)
    by_hand = (
        Z975 * math.sqrt(pbar * (1 - pbar) * (1 + 1 / r))
        + Z80 * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / r)
    ) ** 2 / (p1 - p2) ** 2
    result = n_two_proportions(p1, p2, ratio=r)
    assert result.n_per_arm == (math.ceil(by_hand - 1e-6), math.ceil(2 * by_hand - 1e-6))


def test_two_proportions_arcsine_equals_statsmodels_normal_ind_power():
    h = proportion_effectsize(0.5, 0.3)
    expected = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.5)
    result = n_two_proportions(0.5, 0.3, ratio=1.5, method="arcsine")
    assert result.details["n1_exact"] == pytest.approx(expected, rel=1e-6)
    assert result.n_per_arm == (math.ceil(expected), math.ceil(1.5 * expected))
    # The two approximations agree to a few patients here.
    assert abs(result.n_per_arm[0] - n_two_proportions(0.5, 0.3, ratio=1.5).n_per_arm[0]) <= 3


def test_two_means_normal_and_t():
    # δ/σ = 0.5: 2 (1.959964 + 0.841621)² / 0.25 = 62.79 → 63 per arm.
    normal = n_two_means(5.0, 10.0, method="normal")
    assert normal.details["n1_exact"] == pytest.approx(2 * (Z975 + Z80) ** 2 / 0.25, rel=1e-5)
    assert normal.n_per_arm == (63, 63)
    t = n_two_means(5.0, 10.0, ratio=2.0)
    expected = TTestIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8, ratio=2.0)
    assert t.details["n1_exact"] == pytest.approx(expected, rel=1e-6)
    assert t.n_per_arm == (math.ceil(expected), math.ceil(2 * expected))
    assert n_two_means(5.0, 10.0).n_per_arm == (64, 64)  # the classic t-test answer


def test_dropout_inflates_each_arm():
    base = n_two_means(5.0, 10.0, method="normal")
    inflated = n_two_means(5.0, 10.0, method="normal", dropout=0.2)
    assert inflated.n_per_arm[0] == math.ceil(base.details["n1_exact"] / 0.8)


def test_schoenfeld_events_by_hand():
    # (1.959964 + 0.841621)² (1 + 1)² / (1 · log(0.7)²) = 7.848879 · 4 / 0.127217 = 246.79
    assert events_needed(0.7) == pytest.approx(7.848879 * 4 / math.log(0.7) ** 2, rel=1e-5)
    assert events_needed(0.7) == pytest.approx(246.79, abs=0.01)
    # r = 2, HR = 0.75, power 0.9: (1.959964 + 1.281552)² · 9 / (2 log(0.75)²) = 571.3
    by_hand = (Z975 + Z90) ** 2 * 9 / (2 * math.log(0.75) ** 2)
    assert events_needed(0.75, power=0.9, ratio=2) == pytest.approx(by_hand, rel=1e-5)
    assert by_hand == pytest.approx(571.3, abs=0.1)


def test_freedman_events_by_hand():
    # (z sum)² (1 + 0.7)² / (1 − 0.7)² = 7.848879 · 2.89 / 0.09 = 252.04
    assert events_needed(0.7, method="freedman") == pytest.approx(252.04, abs=0.01)


def test_event_probability_matches_numerical_integral():
    hazard, accrual, follow_up = 0.05, 24.0, 12.0
    integral, _ = quad(lambda s: 1 - math.exp(-hazard * (accrual + follow_up - s)), 0, accrual)
    assert event_probability(hazard, accrual, follow_up) == pytest.approx(integral / accrual)
    assert event_probability(hazard, 0.0, follow_up) == pytest.approx(1 - math.exp(-0.6))


def test_survival_patients_follow_from_events_and_event_probability():
    result = n_survival(0.7, median_control=12, accrual=24, follow_up=12)
    lam = math.log(2) / 12
    pc = event_probability(lam, 24, 12)
    pt = event_probability(0.7 * lam, 24, 12)
    n_total = events_needed(0.7) / ((pc + pt) / 2)
    assert result.events == 247
    assert result.n_per_arm == (math.ceil(n_total / 2), math.ceil(n_total / 2))
    assert result.total == 370


def test_power_functions_return_the_target_power_at_the_exact_size():
    result = n_two_proportions(0.4, 0.25)
    assert power_two_proportions(result.details["n1_exact"], 0.4, 0.25) == pytest.approx(
        0.8, abs=1e-4
    )
    assert power_events(events_needed(0.6), 0.6) == pytest.approx(0.8, abs=1e-4)
    survival = design("survival", hr=0.7, median_control=12, accrual=24, follow_up=12)
    curve = power_curve(survival, np.array([10.0, survival.total, 5 * survival.total]))
    assert curve[0] < 0.2 and curve[1] == pytest.approx(0.8, abs=0.01) and curve[2] > 0.99
    binary = design("binary", p1=0.5, p2=0.3)
    assert power_curve(binary, np.array([binary.total]))[0] == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: n_two_proportions(0.5, 0.3, power=1.0), "power"),
        (lambda: n_two_proportions(0.5, 0.3, alpha=0.0), "alpha"),
        (lambda: n_two_proportions(0.5, 1.2), "p2"),
        (lambda: n_two_proportions(-0.1, 0.3), "p1"),
        (lambda: n_two_proportions(0.3, 0.3), "equal"),
        (lambda: n_two_means(1.0, 0.0), "standard deviation"),
        (lambda: events_needed(1.0), "hazard ratio 1"),
        (lambda: n_survival(0.7, 12, 0, 0), r"accrual \+ follow-up"),
        (lambda: n_two_means(1.0, 1.0, ratio=0), "ratio"),
        (lambda: n_two_means(1.0, 1.0, dropout=1.0), "dropout"),
    ],
)
def test_impossible_designs_raise_clear_errors(call, words):
    with pytest.raises(TrialDataError, match=words):
        call()


def test_survival_design_of_events_only_needs_the_hazard_ratio_alone():
    common = dict(alpha=0.05, power=0.8, ratio=1.0, dropout=0.0, method="schoenfeld")
    result = design("survival", hr=0.7, **common)
    assert result.events == 247 and result.details["events_exact"] == pytest.approx(246.79, 1e-4)
    assert result.n_per_arm is None and result.total is None
    out = result.to_dict()
    assert out["events"] == 247 and "n_per_arm" not in out and "total" not in out
    # Absent and None are the same: the events equal the full design's.
    full = design("survival", hr=0.7, median_control=12, accrual=24, follow_up=12, **common)
    assert full.events == result.events and full.n_per_arm == (185, 185)
    same = design("survival", hr=0.7, median_control=None, accrual=None, follow_up=None, **common)
    assert same.events == 247 and same.total is None
    with pytest.raises(ValueError, match="no patient numbers"):
        power_curve(result, np.array([100.0]))


def test_survival_design_refuses_part_of_the_accrual_inputs():
    with pytest.raises(TrialDataError, match="accrual, follow_up missing"):
        design("survival", hr=0.7, median_control=12)
