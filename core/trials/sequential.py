"""Group-sequential boundaries: O'Brien–Fleming and Pocock, two-sided, at any information fractions.

The boundaries are the classical ones (Jennison & Turnbull 2000, ch. 2): O'Brien–Fleming
``b_k = C / √t_k``, Pocock ``b_k = C``, with ``C`` chosen so that the chance of crossing
``|Z_k| ≥ b_k`` at some look under H0 is ``alpha``. Crossing probabilities are computed by
recursive numerical integration of the score process (Armitage, McPherson & Rowe 1969), with
Simpson's rule on a fine grid: deterministic and accurate to about 1e-6, unlike sampling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from core.trials import TrialDataError

BOUNDARY_KINDS = ("obf", "pocock", "none")
_GRID = 401  # points per stage (odd, for Simpson's rule)


@dataclass(slots=True, frozen=True)
class CrossingProbabilities:
    upper: np.ndarray
    """Chance of first crossing ``+b_k`` at look k."""
    lower: np.ndarray
    """Chance of first crossing ``-b_k`` at look k."""

    @property
    def total(self) -> float:
        return float(self.upper.sum() + self.lower.sum())


def check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """Information fractions as an array; they must increase strictly and end at 1."""
    t = np.asarray(list(fractions), dtype=float)
    if t.size == 0:
        raise TrialDataError("At least one analysis is needed")
    if not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1):
        raise TrialDataError(f"Information fractions must lie in (0, 1]: {list(map(float, t))}")
    if np.any(np.diff(t) <= 0):
        raise TrialDataError(f"Information fractions must increase: {list(map(float, t))}")
    if not math.isclose(t[-1], 1.0):
        raise TrialDataError(f"The last analysis must be at information fraction 1, not {t[-1]:g}")
    return t


def _simpson_weights(n: int, h: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2] = 4
    w[2:-1:2] = 2
    return w * h / 3


def crossing_probabilities(
    bounds: Sequence[float], fractions: Sequence[float], drift: float = 0.0
) -> CrossingProbabilities:
    """Chances of first crossing each two-sided boundary ``|Z_k| ≥ b_k``.

    ``Z_k = S_k / √t_k`` where the score ``S`` is Brownian motion with ``drift`` per unit
    information: ``Z`` at the final look is ``N(drift, 1)``.
    """
    t = check_fractions(fractions)
    b = np.asarray(list(bounds), dtype=float)
    if b.shape != t.shape:
        raise TrialDataError("One boundary per analysis is needed")
    upper = np.zeros(len(t))
    lower = np.zeros(len(t))
    grid = weights = density = None
    previous = 0.0
    for k, (tk, bk) in enumerate(zip(t, b, strict=True)):
        dt = tk - previous
        sd = math.sqrt(dt)
        c = bk * math.sqrt(tk)
        if grid is None:
            upper[k] = norm.sf((c - drift * tk) / sd)
            lower[k] = norm.cdf((-c - drift * tk) / sd)
            new_grid = np.linspace(-c, c, _GRID)
            new_density = norm.pdf((new_grid - drift * tk) / sd) / sd
        else:
            mean = grid + drift * dt
            mass = weights * density
            upper[k] = float(mass @ norm.sf((c - mean) / sd))
            lower[k] = float(mass @ norm.cdf((-c - mean) / sd))
            new_grid = np.linspace(-c, c, _GRID)
            kernel = norm.pdf((new_grid[:, None] - mean[None, :]) / sd) / sd
            new_density = kernel @ mass
        grid, density = new_grid, new_density
        weights = _simpson_weights(_GRID, grid[1] - grid[0])
        previous = tk
    return CrossingProbabilities(upper, lower)


def boundary_shape(kind: str, fractions: np.ndarray) -> np.ndarray:
    if kind == "obf":
        return 1.0 / np.sqrt(fractions)
    if kind == "pocock":
        return np.ones_like(fractions)
    raise TrialDataError(f"Unknown boundary {kind!r}: choose obf, pocock or none")


def efficacy_bounds(
    fractions: Sequence[float], alpha: float = 0.05, kind: str = "obf"
) -> np.ndarray:
    """Two-sided critical values ``b_k`` for ``|Z_k|`` at each look (overall level ``alpha``).

    ``kind="none"`` (or one look) gives the fixed-sample ``z(1-α/2)`` at every look: no
    correction, for comparison only.
    """
    if not 0 < alpha < 1:
        raise TrialDataError(f"alpha must be between 0 and 1, not {alpha}")
    t = check_fractions(fractions)
    if kind == "none" or len(t) == 1:
        return np.full(len(t), norm.ppf(1 - alpha / 2))
    shape = boundary_shape(kind, t)

    def excess(c: float) -> float:
        return crossing_probabilities(c * shape, t).total - alpha

    c = brentq(excess, 0.5, 10.0, xtol=1e-10)
    return c * shape


def sequential_power(
    bounds: Sequence[float], fractions: Sequence[float], drift: float
) -> tuple[float, float, np.ndarray]:
    """Power (chance of crossing the upper boundary, drift > 0), the expected information
    fraction at stopping, and the chance of stopping at each look."""
    t = check_fractions(fractions)
    p = crossing_probabilities(bounds, t, drift)
    stop = p.upper + p.lower
    stop[-1] = 1.0 - stop[:-1].sum()
    return float(p.upper.sum()), float((stop * t).sum()), stop
