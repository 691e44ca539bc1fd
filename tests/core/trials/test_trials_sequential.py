"""Group-sequential boundaries against published values (Jennison & Turnbull 2000, tables 2.1, 2.3)
and simulated trials against the crossing integrals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.jobs import JobCancelled
from core.trials import TrialDataError
from core.trials.sequential import crossing_probabilities, efficacy_bounds, sequential_power
from core.trials.simulation import (
    SimulationDesign,
    design_from_fractions,
    logrank_z,
    simulate_trials,
)


def test_obrien_fleming_two_and_three_looks_match_published_values():
    assert efficacy_bounds([0.5, 1.0], 0.05, "obf") == pytest.approx([2.797, 1.977], abs=1e-3)
    assert efficacy_bounds([1 / 3, 2 / 3, 1.0], 0.05, "obf") == pytest.approx(
        [3.471, 2.454, 2.004], abs=1e-3
    )
    assert efficacy_bounds([0.25, 0.5, 0.75, 1.0], 0.05, "obf")[-1] == pytest.approx(
        2.024, abs=1e-3
    )


def test_pocock_constants_match_published_values():
    assert efficacy_bounds([0.5, 1.0], 0.05, "pocock") == pytest.approx([2.178, 2.178], abs=1e-3)
    assert efficacy_bounds([1 / 3, 2 / 3, 1.0], 0.05, "pocock") == pytest.approx(
        [2.289] * 3, abs=1e-3
    )


def test_crossing_probability_is_alpha_at_unequal_fractions():
    t = [0.3, 0.7, 1.0]
    bounds = efficacy_bounds(t, 0.025, "obf")
    assert crossing_probabilities(bounds, t).total == pytest.approx(0.025, abs=1e-7)
    one_look = crossing_probabilities([1.959964], [1.0])
    assert one_look.total == pytest.approx(0.05, abs=1e-6)
    # Power of a fixed design with drift z(0.975) + z(0.8) is 0.8.
    assert sequential_power([1.959964], [1.0], 1.959964 + 0.841621)[0] == pytest.approx(
        0.8, abs=1e-5
    )


def test_bad_fractions_are_refused():
    with pytest.raises(TrialDataError, match=r"end at|last analysis"):
        efficacy_bounds([0.5, 0.8])
    with pytest.raises(TrialDataError, match="increase"):
        design_from_fractions("0.6, 0.4, 1")
    assert design_from_fractions("1/3, 2/3, 1") == pytest.approx((1 / 3, 2 / 3, 1.0))


def test_vectorised_logrank_equals_lifelines():
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(3)
    n = 120
    treated = np.arange(n) >= 60
    times = rng.exponential(np.where(treated, 15.0, 10.0))
    censor = rng.exponential(20.0, n)
    observed = np.minimum(times, censor)
    events = times <= censor
    z = logrank_z(observed[None], events[None], treated[None], np.ones((1, n), dtype=bool))[0]
    test = logrank_test(observed[~treated], observed[treated], events[~treated], events[treated])
    assert z**2 == pytest.approx(test.test_statistic, rel=1e-9)
    assert z > 0  # the treated arm lives longer


def _design(hr: float, looks: tuple[float, ...]) -> SimulationDesign:
    return SimulationDesign(
        n_total=300,
        max_events=200,
        hr=hr,
        median_control=12.0,
        accrual_rate=20.0,
        fractions=looks,
        boundary="obf",
    )


def test_null_rejection_rate_is_alpha_within_monte_carlo_error():
    result = simulate_trials(_design(1.0, (1 / 3, 2 / 3, 1.0)), n_sims=3000, seed=11)
    se = math.sqrt(0.05 * 0.95 / 3000)
    assert abs(result.rejection_rate - 0.05) < 3 * se
    assert result.stop_probabilities.sum() == pytest.approx(1.0)
    assert result.expected_n <= 300 and result.expected_events <= 200 + 1e-9


def test_simulated_power_matches_the_crossing_integrals():
    result = simulate_trials(_design(0.65, (0.5, 1.0)), n_sims=2000, seed=5)
    assert abs(result.prob_success - result.analytic_power) < 3 * result.mc_error + 0.01
    # Early stopping shortens the trial on average.
    assert result.stop_probabilities[0] > 0.1
    assert result.expected_events < 200


def test_simulation_reports_progress_and_stops_when_cancelled():
    fractions = []
    simulate_trials(
        _design(0.7, (1.0,)),
        n_sims=400,
        batch_size=100,
        progress=lambda f, m="": fractions.append(f),
    )
    assert fractions[-1] == 1.0 and len(fractions) >= 4
    calls = []

    def cancel_after_first_batch() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(JobCancelled):
        simulate_trials(
            _design(0.7, (1.0,)), n_sims=1000, batch_size=100, is_cancelled=cancel_after_first_batch
        )


def test_simulation_refuses_impossible_designs():
    with pytest.raises(TrialDataError, match="events cannot occur"):
        simulate_trials(
            SimulationDesign(n_total=50, max_events=60, hr=0.7, median_control=12, accrual_rate=5)
        )
