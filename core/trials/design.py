"""Sample size and power of two-arm trials: two proportions, two means, time to event.

Conventions: the test is two-sided at level ``alpha``; ``ratio`` is the allocation ratio
``n2 / n1`` (arm 2, usually the experimental arm, over arm 1, the control); ``dropout`` is the
fraction of patients lost without information, so patient numbers are divided by ``1 - dropout``.
Arm sizes are rounded up separately.

Formulas
--------
- Two proportions, ``method="pooled"`` (default; the textbook normal approximation with the pooled
  variance under H0, Fleiss without continuity correction, as in most trial software)::

      n1 = [z(1-α/2) √(p̄ q̄ (1 + 1/r)) + z(1-β) √(p1 q1 + p2 q2 / r)]² / (p1 - p2)²,
      p̄ = (p1 + r p2) / (1 + r)

  ``method="arcsine"``: statsmodels ``NormalIndPower`` with Cohen's h from
  ``proportion_effectsize``.
- Two means, ``method="t"`` (default): statsmodels ``TTestIndPower`` (non-central t);
  ``method="normal"``: ``n1 = (z(1-α/2) + z(1-β))² σ² (1 + 1/r) / δ²``.
- Time to event: events by Schoenfeld ``D = (z(1-α/2) + z(1-β))² (1 + r)² / (r (log HR)²)`` or
  Freedman ``D = (z(1-α/2) + z(1-β))² (1 + r HR)² / (r (1 - HR)²)``; patients ``N = D / P(event)``
  with exponential survival (hazard ``log 2 / median`` in the control arm, ``HR ×`` that in arm 2),
  uniform accrual over ``accrual`` and a further ``follow_up`` after the last patient enters:
  ``P(event) = 1 - (exp(-λF) - exp(-λ(A+F))) / (λA)``. The events alone need only the hazard
  ratio (:func:`n_events`); the patients need the control median, accrual and follow-up too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import norm

from core.trials import TrialDataError

ENDPOINTS = ("binary", "continuous", "survival")
SURVIVAL_METHODS = ("schoenfeld", "freedman")


@dataclass(slots=True, frozen=True)
class DesignResult:
    """Patients per arm, total, and (time to event) the events needed."""

    endpoint: str
    n_per_arm: tuple[int, int] | None
    """``None`` for a time-to-event design of events only (:func:`n_events`)."""
    total: int | None
    alpha: float
    power: float
    ratio: float
    method: str
    dropout: float = 0.0
    events: int | None = None
    details: dict[str, float] = field(default_factory=dict)
    """Unrounded numbers and intermediate values (effect size, event probability…)."""

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.n_per_arm is None:  # events only: no patient numbers to show
            del out["n_per_arm"], out["total"]
        else:
            out["n_per_arm"] = list(self.n_per_arm)
        if self.events is None:
            del out["events"]
        return out


def _check_common(alpha: float, power: float, ratio: float, dropout: float) -> None:
    if not (math.isfinite(alpha) and 0 < alpha < 1):
        raise TrialDataError(f"alpha must be between 0 and 1 (exclusive), not {alpha}")
    if not (math.isfinite(power) and 0 < power < 1):
        raise TrialDataError(
            f"power must be between 0 and 1 (exclusive), not {power}: a power of 1 needs "
            "infinitely many patients"
        )
    if power <= alpha / 2:
        raise TrialDataError(f"power ({power}) must be larger than alpha/2 ({alpha / 2})")
    if not (math.isfinite(ratio) and ratio > 0):
        raise TrialDataError(f"allocation ratio must be positive, not {ratio}")
    if not (math.isfinite(dropout) and 0 <= dropout < 1):
        raise TrialDataError(f"dropout must be in [0, 1), not {dropout}")


def _arms(n1: float, ratio: float, dropout: float) -> tuple[int, int]:
    inflate = 1.0 / (1.0 - dropout)
    # A tiny tolerance so that 63.0000000001 (float noise) does not round up to 64.
    return (
        math.ceil(n1 * inflate - 1e-9),
        math.ceil(n1 * ratio * inflate - 1e-9),
    )


def _z(alpha: float, power: float) -> tuple[float, float]:
    return float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))


# ----------------------------------------------------------------------------------------------
# Two proportions


def _check_p(name: str, p: float) -> None:
    if not (math.isfinite(p) and 0 < p < 1):
        raise TrialDataError(f"{name} must be a proportion strictly between 0 and 1, not {p}")


def n_two_proportions(
    p1: float,
    p2: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    dropout: float = 0.0,
    method: str = "pooled",
) -> DesignResult:
    """Patients per arm to detect ``p1`` vs ``p2`` (see the module notes for the formulas)."""
    _check_common(alpha, power, ratio, dropout)
    _check_p("p1", p1)
    _check_p("p2", p2)
    if p1 == p2:
        raise TrialDataError("p1 and p2 are equal: there is no difference to detect")
    za, zb = _z(alpha, power)
    if method == "pooled":
        pbar = (p1 + ratio * p2) / (1 + ratio)
        n1 = (
            za * math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
            + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
        ) ** 2 / (p1 - p2) ** 2
        details = {"n1_exact": n1, "pooled_p": pbar}
    elif method == "arcsine":
        from statsmodels.stats.power import NormalIndPower
        from statsmodels.stats.proportion import proportion_effectsize

        h = abs(float(proportion_effectsize(p1, p2)))
        n1 = float(
            NormalIndPower().solve_power(
                effect_size=h, alpha=alpha, power=power, ratio=ratio, alternative="two-sided"
            )
        )
        details = {"n1_exact": n1, "cohens_h": h}
    else:
        raise TrialDataError(f"Unknown method {method!r} for two proportions: pooled or arcsine")
    arms = _arms(n1, ratio, dropout)
    return DesignResult(
        "binary", arms, sum(arms), alpha, power, ratio, method, dropout, details=details
    )


def power_two_proportions(
    n1: float | np.ndarray,
    p1: float,
    p2: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    method: str = "pooled",
) -> np.ndarray:
    """Power with ``n1`` evaluable patients in arm 1 (and ``ratio × n1`` in arm 2)."""
    n1 = np.asarray(n1, dtype=float)
    za = norm.ppf(1 - alpha / 2)
    if method == "arcsine":
        from statsmodels.stats.proportion import proportion_effectsize

        h = abs(float(proportion_effectsize(p1, p2)))
        shift = h * np.sqrt(n1 * ratio / (1 + ratio))
        return norm.cdf(shift - za) + norm.cdf(-shift - za)
    pbar = (p1 + ratio * p2) / (1 + ratio)
    s0 = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    s1 = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    return norm.cdf((abs(p1 - p2) * np.sqrt(n1) - za * s0) / s1)


# ----------------------------------------------------------------------------------------------
# Two means


def n_two_means(
    delta: float,
    sd: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    dropout: float = 0.0,
    method: str = "t",
) -> DesignResult:
    """Patients per arm to detect a difference ``delta`` in means with common SD ``sd``."""
    _check_common(alpha, power, ratio, dropout)
    if not (math.isfinite(sd) and sd > 0):
        raise TrialDataError(f"standard deviation must be positive, not {sd}")
    if not math.isfinite(delta) or delta == 0:
        raise TrialDataError(f"difference in means must be non-zero, not {delta}")
    d = abs(delta) / sd
    if method == "normal":
        za, zb = _z(alpha, power)
        n1 = (za + zb) ** 2 * (1 + 1 / ratio) / d**2
    elif method == "t":
        from statsmodels.stats.power import TTestIndPower

        n1 = float(
            TTestIndPower().solve_power(
                effect_size=d, alpha=alpha, power=power, ratio=ratio, alternative="two-sided"
            )
        )
    else:
        raise TrialDataError(f"Unknown method {method!r} for two means: t or normal")
    arms = _arms(n1, ratio, dropout)
    return DesignResult(
        "continuous",
        arms,
        sum(arms),
        alpha,
        power,
        ratio,
        method,
        dropout,
        details={"n1_exact": n1, "cohens_d": d},
    )


def power_two_means(
    n1: float | np.ndarray,
    delta: float,
    sd: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    method: str = "t",
) -> np.ndarray:
    n1 = np.asarray(n1, dtype=float)
    d = abs(delta) / sd
    if method == "t":
        from statsmodels.stats.power import TTestIndPower

        solver = TTestIndPower()
        return np.array(
            [
                solver.power(effect_size=d, nobs1=max(float(n), 2.0), alpha=alpha, ratio=ratio)
                for n in np.atleast_1d(n1)
            ]
        ).reshape(n1.shape)
    za = norm.ppf(1 - alpha / 2)
    shift = d * np.sqrt(n1 / (1 + 1 / ratio))
    return norm.cdf(shift - za) + norm.cdf(-shift - za)


# ----------------------------------------------------------------------------------------------
# Time to event


def events_needed(
    hr: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    method: str = "schoenfeld",
) -> float:
    """Events (unrounded) for a log-rank test of hazard ratio ``hr`` (Schoenfeld or Freedman)."""
    _check_common(alpha, power, ratio, 0.0)
    _check_hr(hr)
    za, zb = _z(alpha, power)
    if method == "schoenfeld":
        return (za + zb) ** 2 * (1 + ratio) ** 2 / (ratio * math.log(hr) ** 2)
    if method == "freedman":
        return (za + zb) ** 2 * (1 + ratio * hr) ** 2 / (ratio * (1 - hr) ** 2)
    raise TrialDataError(f"Unknown method {method!r}: schoenfeld or freedman")


def _check_hr(hr: float) -> None:
    if not (math.isfinite(hr) and hr > 0):
        raise TrialDataError(f"hazard ratio must be positive, not {hr}")
    if hr == 1:
        raise TrialDataError("hazard ratio 1 means no effect: there is nothing to detect")


def event_probability(hazard: float, accrual: float, follow_up: float) -> float:
    """Chance that a patient has an event by the end of the study under exponential survival,
    uniform entry over ``accrual`` and ``follow_up`` after the last entry."""
    if accrual <= 0:
        return 1.0 - math.exp(-hazard * follow_up)
    return 1.0 - (math.exp(-hazard * follow_up) - math.exp(-hazard * (accrual + follow_up))) / (
        hazard * accrual
    )


def n_survival(
    hr: float,
    median_control: float,
    accrual: float,
    follow_up: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    dropout: float = 0.0,
    method: str = "schoenfeld",
    event_rate: float | None = None,
) -> DesignResult:
    """Events and patients for a log-rank comparison (see the module notes).

    ``event_rate``: the share of patients who will have an event by the end of the study, when
    it is known (from an earlier trial's events / patients); it then replaces the chance
    computed from the control median, accrual and follow-up under exponential survival.
    """
    _check_common(alpha, power, ratio, dropout)
    _check_hr(hr)
    if not (math.isfinite(median_control) and median_control > 0):
        raise TrialDataError(
            f"median survival of the control arm must be positive, not {median_control}"
        )
    if not (math.isfinite(accrual) and accrual >= 0) or not (
        math.isfinite(follow_up) and follow_up >= 0
    ):
        raise TrialDataError("accrual and follow-up times must be ≥ 0")
    if accrual + follow_up <= 0:
        raise TrialDataError("accrual + follow-up must be positive: nobody could have an event")
    if event_rate is not None and not (math.isfinite(event_rate) and 0 < event_rate <= 1):
        raise TrialDataError(f"the event rate must be in (0, 1], not {event_rate}")
    events = events_needed(hr, alpha, power, ratio, method)
    hazard_control = math.log(2) / median_control
    p_control = event_probability(hazard_control, accrual, follow_up)
    p_treatment = event_probability(hazard_control * hr, accrual, follow_up)
    p_event = (p_control + ratio * p_treatment) / (1 + ratio)
    given = {} if event_rate is None else {"event_rate": float(event_rate)}
    if event_rate is not None:
        p_event = float(event_rate)
    n_total = events / p_event
    arms = _arms(n_total / (1 + ratio), ratio, dropout)
    return DesignResult(
        "survival",
        arms,
        sum(arms),
        alpha,
        power,
        ratio,
        method,
        dropout,
        events=math.ceil(events - 1e-9),
        details={
            "events_exact": events,
            "p_event_control": p_control,
            "p_event_treatment": p_treatment,
            "p_event": p_event,
            "hazard_control": hazard_control,
            "median_control": median_control,
            "hr": hr,
            "accrual": accrual,
            "follow_up": follow_up,
            **given,
        },
    )


def n_events(
    hr: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    method: str = "schoenfeld",
) -> DesignResult:
    """The events a log-rank comparison needs (Schoenfeld or Freedman), without patient numbers:
    those depend on the control arm's median survival, accrual and follow-up
    (:func:`n_survival`). ``n_per_arm`` and ``total`` are ``None``."""
    events = events_needed(hr, alpha, power, ratio, method)
    return DesignResult(
        "survival",
        None,
        None,
        alpha,
        power,
        ratio,
        method,
        events=math.ceil(events - 1e-9),
        details={"events_exact": events, "hr": hr},
    )


def power_events(
    events: float | np.ndarray,
    hr: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    method: str = "schoenfeld",
) -> np.ndarray:
    """Power of the log-rank test with ``events`` events."""
    events = np.asarray(events, dtype=float)
    za = norm.ppf(1 - alpha / 2)
    if method == "freedman":
        shift = np.sqrt(events * ratio) * abs(1 - hr) / (1 + ratio * hr)
    else:
        shift = np.sqrt(events * ratio) * abs(math.log(hr)) / (1 + ratio)
    return norm.cdf(shift - za) + norm.cdf(-shift - za)


def power_curve(result: DesignResult, totals: np.ndarray) -> np.ndarray:
    """Power of the design ``result`` as a function of the total number of patients enrolled
    (dropout applied), for a power-curve plot."""
    if result.n_per_arm is None:
        raise ValueError("A design of events only has no patient numbers to plot power against")
    totals = np.asarray(totals, dtype=float)
    evaluable = totals * (1 - result.dropout)
    n1 = evaluable / (1 + result.ratio)
    d = result.details
    if result.endpoint == "binary":
        return power_two_proportions(
            n1, d["p1"], d["p2"], result.alpha, result.ratio, result.method
        )
    if result.endpoint == "continuous":
        return power_two_means(n1, d["delta"], d["sd"], result.alpha, result.ratio, result.method)
    return power_events(
        evaluable * d["p_event"], d["hr"], result.alpha, result.ratio, result.method
    )


def design(endpoint: str, **parameters: float | str) -> DesignResult:
    """One entry point for the panel and the command line.

    ``endpoint="binary"``: ``p1``, ``p2``; ``"continuous"``: ``delta``, ``sd``; ``"survival"``:
    ``hr``, ``median_control``, ``accrual``, ``follow_up`` (``hr`` alone, the others absent or
    ``None``: the events only, see :func:`n_events`); all take ``alpha``, ``power``, ``ratio``,
    ``dropout`` and ``method``. The inputs are kept in ``details`` for :func:`power_curve`.
    """
    if endpoint == "binary":
        result = n_two_proportions(**parameters)  # type: ignore[arg-type]
        keep = {"p1": parameters["p1"], "p2": parameters["p2"]}
    elif endpoint == "continuous":
        result = n_two_means(**parameters)  # type: ignore[arg-type]
        keep = {"delta": parameters["delta"], "sd": parameters["sd"]}
    elif endpoint == "survival":
        accrual_inputs = ("median_control", "accrual", "follow_up")
        given = [name for name in accrual_inputs if parameters.get(name) is not None]
        if not given:
            rest = {
                k: v
                for k, v in parameters.items()
                if k not in (*accrual_inputs, "dropout", "event_rate")
            }
            return n_events(**rest)  # type: ignore[arg-type]
        if len(given) < len(accrual_inputs):
            missing = [name for name in accrual_inputs if name not in given]
            raise TrialDataError(
                f"patients need {', '.join(accrual_inputs)} together: {', '.join(missing)} "
                "missing (leave all three out for the events only)"
            )
        return n_survival(**parameters)  # type: ignore[arg-type]
    else:
        raise TrialDataError(f"Unknown endpoint {endpoint!r}: choose one of {', '.join(ENDPOINTS)}")
    result.details.update(keep)  # type: ignore[arg-type]
    return result
