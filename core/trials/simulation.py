"""Monte Carlo simulation of a two-arm time-to-event trial with group-sequential analyses.

Each simulated trial enrols ``n_total`` patients by a Poisson process of rate ``accrual_rate``,
randomises them ``1 : ratio`` (control : treatment, fixed numbers per arm, random order), draws
exponential event times (control median ``median_control``, treatment hazard ``hr ×`` control)
and exponential dropout times (``dropout`` = fraction lost by ``dropout_time``). Analyses happen
when the planned numbers of events have occurred (``fractions × max_events``); each computes the
log-rank Z (positive favours treatment) on the data seen by then and stops the trial when
``|Z_k| ≥ b_k``. Many trials run at once as numpy arrays (a batch is a 2-D array: trials ×
patients), so 1000 trials of 1000 patients take about a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.jobs import CancelCheck, ProgressCallback, check_cancelled
from core.trials import TrialDataError
from core.trials.sequential import (
    BOUNDARY_KINDS,
    check_fractions,
    efficacy_bounds,
    sequential_power,
)


@dataclass(slots=True, frozen=True)
class SimulationDesign:
    """What one simulated trial looks like (times in one unit, e.g. months)."""

    n_total: int
    max_events: int
    hr: float
    median_control: float
    accrual_rate: float
    """Patients enrolled per time unit."""
    ratio: float = 1.0
    dropout: float = 0.0
    """Fraction of patients lost to follow-up by ``dropout_time`` (exponential)."""
    dropout_time: float = 12.0
    fractions: tuple[float, ...] = (1.0,)
    """Information fractions (events / max_events) of the analyses; the last is 1."""
    boundary: str = "obf"
    alpha: float = 0.05

    def check(self) -> None:
        if self.n_total < 4:
            raise TrialDataError(f"A trial needs at least 4 patients, not {self.n_total}")
        if self.max_events < 2:
            raise TrialDataError(
                f"The final analysis needs at least 2 events, not {self.max_events}"
            )
        if self.max_events > self.n_total:
            raise TrialDataError(
                f"{self.max_events} events cannot occur among {self.n_total} patients"
            )
        if not (math.isfinite(self.hr) and self.hr > 0):
            raise TrialDataError(f"hazard ratio must be positive, not {self.hr}")
        if not (math.isfinite(self.median_control) and self.median_control > 0):
            raise TrialDataError(f"control median must be positive, not {self.median_control}")
        if not (math.isfinite(self.accrual_rate) and self.accrual_rate > 0):
            raise TrialDataError(f"accrual rate must be positive, not {self.accrual_rate}")
        if not (math.isfinite(self.ratio) and self.ratio > 0):
            raise TrialDataError(f"allocation ratio must be positive, not {self.ratio}")
        if not 0 <= self.dropout < 1:
            raise TrialDataError(f"dropout must be in [0, 1), not {self.dropout}")
        if not self.dropout_time > 0:
            raise TrialDataError(f"dropout time must be positive, not {self.dropout_time}")
        if self.boundary not in BOUNDARY_KINDS:
            raise TrialDataError(f"Unknown boundary {self.boundary!r}: obf, pocock or none")
        if not 0 < self.alpha < 1:
            raise TrialDataError(f"alpha must be between 0 and 1, not {self.alpha}")
        check_fractions(self.fractions)


@dataclass(slots=True, frozen=True)
class SimulationResult:
    design: SimulationDesign
    n_sims: int
    bounds: np.ndarray
    rejection_rate: float
    """Chance of crossing a boundary in either direction (the type I error when hr = 1)."""
    prob_success: float
    """Chance of crossing the boundary in favour of treatment."""
    stop_probabilities: np.ndarray
    """Chance of stopping at each look (the last: reaching the final analysis)."""
    expected_n: float
    expected_duration: float
    expected_events: float
    analytic_power: float
    """Power from the boundary crossing integrals with Schoenfeld's drift, for comparison."""
    durations: np.ndarray = field(repr=False)
    sample_sizes: np.ndarray = field(repr=False)
    z_statistics: np.ndarray = field(repr=False)
    """Trials × looks; NaN after a trial stopped."""

    @property
    def mc_error(self) -> float:
        """Monte Carlo standard error of ``prob_success``."""
        p = self.prob_success
        return math.sqrt(max(p * (1 - p), 1e-12) / self.n_sims)

    def summary(self) -> dict[str, float]:
        out = {
            "n_sims": self.n_sims,
            "prob_success": self.prob_success,
            "rejection_rate": self.rejection_rate,
            "mc_standard_error": self.mc_error,
            "analytic_power": self.analytic_power,
            "expected_n": self.expected_n,
            "expected_duration": self.expected_duration,
            "expected_events": self.expected_events,
        }
        for k, (b, p) in enumerate(zip(self.bounds, self.stop_probabilities, strict=True), 1):
            out[f"look{k}_bound"] = float(b)
            out[f"look{k}_stop_probability"] = float(p)
        return out


def logrank_z(
    times: np.ndarray, events: np.ndarray, treated: np.ndarray, included: np.ndarray
) -> np.ndarray:
    """Log-rank Z for each row (trial) at once; positive when the treated arm does better.

    ``times``, ``events``, ``treated`` and ``included`` are trials × patients; rows may include
    different patients. Times are continuous (no ties), so each event is its own risk set.
    """
    order = np.argsort(np.where(included, times, np.inf), axis=1, kind="stable")
    ev = np.take_along_axis(events & included, order, axis=1)
    tr = np.take_along_axis(treated & included, order, axis=1)
    inc = np.take_along_axis(included, order, axis=1)
    at_risk = np.cumsum(inc[:, ::-1], axis=1)[:, ::-1].astype(float)
    treated_at_risk = np.cumsum(tr[:, ::-1], axis=1)[:, ::-1].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(at_risk > 0, treated_at_risk / at_risk, 0.0)
    observed_minus_expected = np.sum(ev * (tr - share), axis=1)
    variance = np.sum(ev * share * (1 - share), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, -observed_minus_expected / np.sqrt(variance), 0.0)
    return z


def simulate_trials(
    design: SimulationDesign,
    n_sims: int = 1000,
    seed: int | None = 0,
    batch_size: int = 200,
    *,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> SimulationResult:
    """Simulate ``n_sims`` trials of ``design``; a job function (progress, cancel between batches)."""
    design.check()
    if n_sims < 1:
        raise TrialDataError(f"Number of simulated trials must be at least 1, not {n_sims}")
    report = progress or (lambda fraction, message="": None)
    rng = np.random.default_rng(seed)
    t = np.asarray(design.fractions, dtype=float)
    bounds = efficacy_bounds(t, design.alpha, design.boundary)
    looks = len(t)
    event_targets = np.maximum(1, np.ceil(t * design.max_events).astype(int))
    n = design.n_total
    n_control = round(n / (1 + design.ratio))
    arms = np.zeros(n, dtype=bool)
    arms[n_control:] = True
    hazard_control = math.log(2) / design.median_control
    hazard = np.where(arms, hazard_control * design.hr, hazard_control)
    dropout_hazard = -math.log(1 - design.dropout) / design.dropout_time if design.dropout else 0.0

    z_all = np.full((n_sims, looks), np.nan)
    durations = np.zeros(n_sims)
    sample_sizes = np.zeros(n_sims)
    events_at_stop = np.zeros(n_sims)
    success = np.zeros(n_sims, dtype=bool)
    rejected = np.zeros(n_sims, dtype=bool)
    stop_look = np.full(n_sims, looks - 1)
    done = 0
    report(0.0, f"Simulating {n_sims} trials")
    while done < n_sims:
        check_cancelled(is_cancelled)
        b = min(batch_size, n_sims - done)
        rows = slice(done, done + b)
        entry = np.cumsum(rng.exponential(1.0 / design.accrual_rate, size=(b, n)), axis=1)
        treated = rng.permuted(np.broadcast_to(arms, (b, n)), axis=1)
        rate = np.where(treated, hazard[-1], hazard[0])
        event_time = rng.exponential(1.0, size=(b, n)) / rate
        if dropout_hazard > 0:
            dropout_time = rng.exponential(1.0 / dropout_hazard, size=(b, n))
        else:
            dropout_time = np.full((b, n), np.inf)
        observed_event = event_time <= dropout_time
        calendar = np.sort(np.where(observed_event, entry + event_time, np.inf), axis=1)
        last_event = np.max(np.where(np.isfinite(calendar), calendar, -np.inf), axis=1)
        active = np.ones(b, dtype=bool)
        for k in range(looks):
            target = min(int(event_targets[k]), n)
            tau = calendar[:, target - 1]
            tau = np.where(np.isfinite(tau), tau, last_event)
            included = entry < tau[:, None]
            follow = tau[:, None] - entry
            time_seen = np.minimum(np.minimum(event_time, dropout_time), follow)
            event_seen = observed_event & (event_time <= follow)
            z = logrank_z(time_seen, event_seen, treated, included)
            cross = active & (np.abs(z) >= bounds[k])
            final = active & ~cross if k == looks - 1 else np.zeros(b, dtype=bool)
            stopping = cross | final
            z_all[rows][active, k] = z[active]
            idx = np.flatnonzero(stopping)
            durations[done + idx] = tau[idx]
            sample_sizes[done + idx] = included[idx].sum(axis=1)
            events_at_stop[done + idx] = (event_seen & included)[idx].sum(axis=1)
            stop_look[done + idx] = k
            rejected[done + np.flatnonzero(cross)] = True
            success[done + np.flatnonzero(cross & (z > 0))] = True
            active &= ~stopping
        done += b
        report(done / n_sims, f"Simulated {done} of {n_sims} trials")
    stop_probabilities = np.bincount(stop_look, minlength=looks) / n_sims
    drift = (
        abs(math.log(design.hr)) * math.sqrt(design.max_events * design.ratio) / (1 + design.ratio)
    )
    analytic = sequential_power(bounds, t, drift)[0] if design.hr != 1 else design.alpha / 2
    return SimulationResult(
        design=design,
        n_sims=n_sims,
        bounds=bounds,
        rejection_rate=float(rejected.mean()),
        prob_success=float(success.mean()),
        stop_probabilities=stop_probabilities,
        expected_n=float(sample_sizes.mean()),
        expected_duration=float(durations.mean()),
        expected_events=float(events_at_stop.mean()),
        analytic_power=float(analytic),
        durations=durations,
        sample_sizes=sample_sizes,
        z_statistics=z_all,
    )


def design_from_fractions(text: str) -> tuple[float, ...]:
    """Parse '0.5, 1' (or '1/3, 2/3, 1') into information fractions."""
    values: list[float] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "/" in part:
                top, bottom = part.split("/", 1)
                values.append(float(top) / float(bottom))
            else:
                values.append(float(part))
        except (ValueError, ZeroDivisionError):
            raise TrialDataError(f"Not an information fraction: {part!r}") from None
    return tuple(check_fractions(values).tolist())


def equal_fractions(looks: int) -> tuple[float, ...]:
    """``looks`` equally spaced information fractions ending at 1."""
    if looks < 1:
        raise TrialDataError("At least one analysis is needed")
    return tuple(float(k) / looks for k in range(1, looks + 1))


__all__: Sequence[str] = (
    "SimulationDesign",
    "SimulationResult",
    "design_from_fractions",
    "equal_fractions",
    "logrank_z",
    "simulate_trials",
)
