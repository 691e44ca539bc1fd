"""Survival analysis on GBSG2 (shipped by lifelines) against lifelines and statsmodels called
directly, and binary effects against the textbook Wald/Katz/Woolf intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from core.trials import TrialDataError
from core.trials.data import load_demo
from core.trials.survival import analyse_survival, at_risk_table, binary_effects


@pytest.fixture(scope="module")
def gbsg2() -> pd.DataFrame:
    return load_demo("GBSG2")[0]


@pytest.fixture(scope="module")
def result(gbsg2):
    return analyse_survival(gbsg2, "time", "cens", "horTh")


def test_km_medians_and_ci_equal_lifelines(gbsg2, result):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    summary = result.summary().set_index("group")
    for arm in ("no", "yes"):
        rows = gbsg2[gbsg2["horTh"] == arm]
        kmf = KaplanMeierFitter().fit(rows["time"], rows["cens"])
        ci = median_survival_times(kmf.confidence_interval_)
        assert summary.loc[arm, "median"] == kmf.median_survival_time_
        assert summary.loc[arm, "ci_lower"] == ci.iloc[0, 0]
        upper = ci.iloc[0, 1]
        if math.isinf(upper):
            assert math.isnan(summary.loc[arm, "ci_upper"])  # the band never reaches 0.5
        else:
            assert summary.loc[arm, "ci_upper"] == upper
        assert summary.loc[arm, "n"] == len(rows)
        assert summary.loc[arm, "events"] == rows["cens"].sum()
    assert summary.loc["no", "median"] == 1528 and summary.loc["yes", "median"] == 2018
    curve = next(c for c in result.curves if c.group == "no")
    kmf = KaplanMeierFitter().fit(
        gbsg2.loc[gbsg2["horTh"] == "no", "time"], gbsg2.loc[gbsg2["horTh"] == "no", "cens"]
    )
    assert np.allclose(curve.survival, kmf.survival_function_.iloc[:, 0].to_numpy())
    assert np.allclose(curve.lower, kmf.confidence_interval_.iloc[:, 0].to_numpy())


def test_logrank_equals_lifelines(gbsg2, result):
    from lifelines.statistics import logrank_test

    no, yes = gbsg2[gbsg2["horTh"] == "no"], gbsg2[gbsg2["horTh"] == "yes"]
    test = logrank_test(no["time"], yes["time"], no["cens"], yes["cens"])
    assert result.logrank_p == pytest.approx(test.p_value, rel=1e-9)
    assert result.logrank_p == pytest.approx(0.00343, abs=1e-5)


def test_cox_hazard_ratio_and_ph_test_equal_lifelines(gbsg2):
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    result = analyse_survival(gbsg2, "time", "cens", "horTh", covariates=["age", "tgrade"])
    design = pd.DataFrame(
        {
            "time": gbsg2["time"],
            "cens": gbsg2["cens"],
            "hor": (gbsg2["horTh"] == "yes").astype(float),
            "age": gbsg2["age"].astype(float),
            "II": (gbsg2["tgrade"] == "II").astype(float),
            "III": (gbsg2["tgrade"] == "III").astype(float),
        }
    )
    cph = CoxPHFitter().fit(design, "time", "cens")
    cox = result.cox.set_index("term")
    assert cox.loc["horTh=yes", "hr"] == pytest.approx(
        cph.summary.loc["hor", "exp(coef)"], rel=1e-6
    )
    assert cox.loc["horTh=yes", "ci_lower"] == pytest.approx(
        cph.summary.loc["hor", "exp(coef) lower 95%"], rel=1e-6
    )
    assert cox.loc["tgrade=III", "hr"] == pytest.approx(
        cph.summary.loc["III", "exp(coef)"], rel=1e-6
    )
    ph = proportional_hazard_test(cph, design, time_transform="rank").summary
    ours = result.ph_test.set_index("term")
    assert ours.loc["age", "p"] == pytest.approx(ph.loc["age", "p"], rel=1e-6)
    assert ours.loc["age", "p"] < 0.05  # age violates proportional hazards in GBSG2


def test_numbers_at_risk_count_patients_still_followed(gbsg2, result):
    assert list(result.at_risk.loc[:, 0.0]) == [440, 246]
    table = at_risk_table(pd.DataFrame({"time": gbsg2["time"], "group": gbsg2["horTh"]}), [1000.0])
    assert table.loc["no", 1000.0] == int(
        ((gbsg2["horTh"] == "no") & (gbsg2["time"] >= 1000)).sum()
    )


def _frame(time, event, group):
    return pd.DataFrame({"t": time, "e": event, "g": group})


def test_bad_survival_input_gives_clear_messages():
    with pytest.raises(TrialDataError, match="negative"):
        analyse_survival(_frame([1, -2, 3, 4], [1, 0, 1, 1], list("abab")), "t", "e", "g")
    with pytest.raises(TrialDataError, match="0 \\(censored\\) or 1"):
        analyse_survival(_frame([1, 2, 3, 4], [1, 2, 1, 1], list("abab")), "t", "e", "g")
    with pytest.raises(TrialDataError, match=r"'b'.*no events"):
        analyse_survival(
            _frame([1, 2, 3, 4], [1, 0, 1, 0], list("abab")),
            "t",
            "e",
            "g",
            require_events_per_group=True,
        )
    with pytest.raises(TrialDataError, match="one arm"):
        analyse_survival(_frame([1, 2, 3, 4], [1, 0, 1, 0], list("aaaa")), "t", "e", "g")
    with pytest.raises(TrialDataError, match="No time column"):
        analyse_survival(_frame([1, 2], [1, 0], list("ab")), "x", "e", "g")


def test_binary_effects_match_textbook_intervals():
    # arm b: 30/100 events; control a: 20/100.
    frame = pd.DataFrame(
        {"y": [1] * 20 + [0] * 80 + [1] * 30 + [0] * 70, "arm": ["a"] * 100 + ["b"] * 100}
    )
    table = binary_effects(frame, "y", "arm").set_index("measure")
    z = norm.ppf(0.975)
    rd_se = math.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100)
    assert table.loc["risk difference", "estimate"] == pytest.approx(0.1)
    assert table.loc["risk difference", "ci_lower"] == pytest.approx(0.1 - z * rd_se, rel=1e-6)
    rr_se = math.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 100)
    assert table.loc["risk ratio", "estimate"] == pytest.approx(1.5)
    assert table.loc["risk ratio", "ci_upper"] == pytest.approx(1.5 * math.exp(z * rr_se), rel=1e-6)
    odds = (30 / 70) / (20 / 80)
    or_se = math.sqrt(1 / 30 + 1 / 70 + 1 / 20 + 1 / 80)
    assert table.loc["odds ratio", "estimate"] == pytest.approx(odds)
    assert table.loc["odds ratio", "ci_lower"] == pytest.approx(
        odds * math.exp(-z * or_se), rel=1e-6
    )
    with pytest.raises(TrialDataError, match="0/1"):
        binary_effects(frame.assign(y=frame["y"] * 3), "y", "arm")


def test_arm_without_events_is_reported_not_fitted(gbsg2):
    data = gbsg2.copy()
    data.loc[data["horTh"] == "yes", "cens"] = 0
    result = analyse_survival(data, "time", "cens", "horTh")
    summary = result.summary().set_index("group")
    assert summary.loc["yes", "events"] == 0 and math.isnan(summary.loc["yes", "median"])
    assert result.cox is None
    assert any("no events" in w for w in result.warnings)


# ----------------------------------------------------------------------------------------------
# Confidence bands and rows left out

# Seven patients: events at 1, 2, 3, 6, 8; censored at 2 and 5.
_TIMES = [1, 2, 2, 3, 5, 6, 8]
_EVENTS = [1, 1, 0, 1, 0, 1, 1]


def _by_hand(ci: str) -> tuple[list[float], list[float]]:
    """The bands at t = 1, 2, 3, 5, 6, written out from Ŝ and Greenwood's sum V (z = z 0.975).

    Events, at risk: t=1: 1 of 7; t=2: 1 of 6; t=3: 1 of 4; t=6: 1 of 2 (t=5 is censored only).
    """
    z = norm.ppf(0.975)
    s, v = 1.0, 0.0
    lower, upper = [], []
    for d, n in ((1, 7), (1, 6), (1, 4), (0, 3), (1, 2)):
        s *= 1 - d / n
        v += d / (n * (n - d))
        se = math.sqrt(v)
        if ci == "log":  # R survfit(conf.type = "log"): S exp(±z se), capped at 1
            low, high = s * math.exp(-z * se), min(1.0, s * math.exp(z * se))
        elif ci == "plain":  # R survfit(conf.type = "plain"): S ± z S se, clipped to [0, 1]
            low, high = max(0.0, s - z * s * se), min(1.0, s + z * s * se)
        else:  # log-log: S^exp(±z se / log S)
            low = s ** math.exp(-z * se / math.log(s))
            high = s ** math.exp(z * se / math.log(s))
        lower.append(low)
        upper.append(high)
    return lower, upper


@pytest.mark.parametrize("ci", ["log-log", "log", "plain"])
def test_km_bands_follow_greenwood_by_hand(ci):
    from core.trials.survival import kaplan_meier

    curve = kaplan_meier(pd.DataFrame({"time": _TIMES, "event": _EVENTS}), "a", 0.05, ci)
    assert curve.ci_method == ci
    assert curve.times.tolist() == [0, 1, 2, 3, 5, 6, 8]
    lower, upper = _by_hand(ci)
    assert curve.lower[1:6] == pytest.approx(lower, abs=1e-6)
    assert curve.upper[1:6] == pytest.approx(upper, abs=1e-6)
    assert (curve.lower[0], curve.upper[0]) == (1.0, 1.0)  # before the first event
    assert (curve.lower[-1], curve.upper[-1]) == (0.0, 0.0)  # Ŝ = 0 after the last event


def test_km_log_log_band_is_lifelines_own():
    from lifelines import KaplanMeierFitter

    from core.trials.survival import kaplan_meier

    kmf = KaplanMeierFitter().fit(_TIMES, _EVENTS)
    curve = kaplan_meier(pd.DataFrame({"time": _TIMES, "event": _EVENTS}), "a")
    assert curve.ci_method == "log-log"
    assert np.allclose(curve.lower, kmf.confidence_interval_.iloc[:, 0])
    assert np.allclose(curve.upper, kmf.confidence_interval_.iloc[:, 1])
    # The hand formula above is the same band: the log-log case checks it against lifelines.
    lower, _ = _by_hand("log-log")
    assert kmf.confidence_interval_.iloc[1:6, 0].tolist() == pytest.approx(lower, abs=1e-6)


def test_median_interval_is_read_off_the_chosen_band():
    from core.trials.survival import kaplan_meier

    data = pd.DataFrame({"time": _TIMES, "event": _EVENTS})
    # Median 6 (Ŝ drops to 0.257 there). The lower band first reaches 0.5 at t = 1 with log-log
    # (0.334), at t = 2 with log (0.447) and plain (0.380); the upper band only at t = 8.
    medians = {ci: kaplan_meier(data, "a", 0.05, ci) for ci in ("log-log", "log", "plain")}
    assert {ci: c.median for ci, c in medians.items()} == {"log-log": 6, "log": 6, "plain": 6}
    assert {ci: c.median_lower for ci, c in medians.items()} == {
        "log-log": 1,
        "log": 2,
        "plain": 2,
    }
    assert {c.median_upper for c in medians.values()} == {8}


def test_unknown_ci_is_refused():
    with pytest.raises(TrialDataError, match="log-log"):
        analyse_survival(_frame([1, 2, 3, 4], [1, 1, 1, 1], list("abab")), "t", "e", "g", ci="x")


def test_rows_left_out_are_counted_by_reason():
    frame = pd.DataFrame(
        {
            "t": [1, 2, 3, None, 5, 6, None, 8],
            "e": [1, 1, 0, 1, None, 1, 1, 1],
            "g": ["a", "b", "a", "b", "a", None, None, "b"],
        }
    )
    result = analyse_survival(frame, "t", "e", "g")
    # Row 7 lacks both time and group: counted once, under time.
    assert result.left_out == {"no time": 2, "no event": 1, "no group": 1}
    assert result.n_left_out == 4 and result.n_rows == 8
    message = "4 of 8 rows left out: 2 with no time, 1 with no event, 1 with no group"
    assert result.left_out_message() == message
    assert result.warnings[0] == message
    assert sum(c.n for c in result.curves) == 4
    complete = analyse_survival(frame.dropna(), "t", "e", "g")
    assert complete.left_out == {} and complete.left_out_message() == ""
