"""Calibrated uncertainty: conformal intervals for regression, calibrated probabilities and
conformal prediction sets for classification.

Everything here is fitted on predictions that were **not** used to train, choose or weight the
model (out-of-fold predictions on the training part, or a calibration part held back): conformal
guarantees hold only for predictions the model did not see. The guarantee is marginal and assumes
exchangeability; a scaffold split is deliberately not exchangeable (test molecules come from
unseen chemotypes), so coverage there is measured and reported, not promised.

Regression (split conformal, Vovk et al. 2005; Lei et al. 2018): nonconformity
``|y - ŷ| / σ``, where ``σ`` is the ensemble's standard deviation when there is one (normalised
conformal: wider intervals where the members disagree) and 1 otherwise; the interval is
``ŷ ± q·σ`` with ``q`` the ``⌈(n+1)(1-α)⌉``-th smallest score.

Classification: a probability calibrated by isotonic regression (or Platt scaling when the
calibration part is small), and a conformal prediction set ``{c : 1 - p_c ≤ q}`` that holds the
true class with probability at least ``1 - α``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Below this many calibration predictions, isotonic regression overfits: Platt scaling instead.
MIN_ISOTONIC = 100
# A standard deviation below this fraction of the median one is floored: an ensemble that happens
# to agree perfectly would otherwise get a zero-width interval.
STD_FLOOR_FRACTION = 0.05


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """The split-conformal quantile of nonconformity ``scores`` for ``coverage`` (e.g. 0.9).

    The ``⌈(n+1)·coverage⌉``-th smallest score (finite-sample correction); ``inf`` when ``n`` is
    too small for the coverage asked (then no finite interval has the guarantee).

    Raises
    ------
    ValueError
        When ``coverage`` is not in (0, 1) or there are no finite scores.
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must lie between 0 and 1, not {coverage}")
    scores = np.asarray(scores, dtype=float)
    scores = np.sort(scores[np.isfinite(scores)])
    n = scores.size
    if n == 0:
        raise ValueError("no calibration predictions with a measured value")
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        return math.inf
    return float(scores[rank - 1])


def _std_floor(std: np.ndarray) -> float:
    """The smallest ``σ`` used: a fraction of the median positive one (1 when there is none)."""
    positive = std[np.isfinite(std) & (std > 0)]
    return STD_FLOOR_FRACTION * float(np.median(positive)) if positive.size else 1.0


@dataclass(frozen=True, slots=True)
class ConformalRegressor:
    """Intervals ``ŷ ± quantile·σ`` with marginal coverage ``coverage`` (split conformal).

    ``normalized`` tells whether ``σ`` is the ensemble's standard deviation (else 1);
    ``std_floor`` is the smallest ``σ`` used (see :data:`STD_FLOOR_FRACTION`).
    """

    coverage: float
    quantile: float
    normalized: bool
    std_floor: float
    n_calibration: int

    @classmethod
    def fit(
        cls,
        predicted: np.ndarray,
        measured: np.ndarray,
        std: np.ndarray | None = None,
        coverage: float = 0.9,
    ) -> ConformalRegressor:
        """Calibrate on out-of-fold ``predicted`` values against ``measured`` ones.

        Parameters
        ----------
        predicted, measured
            Predictions the model did not train on, and the measured values (NaN rows ignored).
        std
            The ensemble's standard deviation of each prediction, or ``None``.
        coverage
            The share of new measured values the interval should hold (default 0.9).
        """
        predicted = np.asarray(predicted, dtype=float)
        measured = np.asarray(measured, dtype=float)
        keep = np.isfinite(predicted) & np.isfinite(measured)
        floor = 1.0
        scales = np.ones(int(keep.sum()))
        if std is not None:
            std = np.asarray(std, dtype=float)
            keep &= np.isfinite(std)
            floor = _std_floor(std[keep])
            scales = np.maximum(std[keep], floor)
        scores = np.abs(measured[keep] - predicted[keep]) / scales
        return cls(
            coverage=coverage,
            quantile=conformal_quantile(scores, coverage),
            normalized=std is not None,
            std_floor=floor,
            n_calibration=int(keep.sum()),
        )

    def interval(
        self, predicted: np.ndarray, std: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` for each prediction (NaN where the prediction is NaN)."""
        predicted = np.asarray(predicted, dtype=float)
        if self.normalized:
            if std is None:
                raise ValueError("this calibration scales by the ensemble's std: give std")
            std = np.asarray(std, dtype=float)
            scales = np.maximum(np.where(np.isfinite(std), std, self.std_floor), self.std_floor)
        else:
            scales = np.ones(predicted.size)
        half = self.quantile * scales
        return predicted - half, predicted + half

    def to_dict(self) -> dict:
        return {
            "method": "split conformal"
            + (", normalised by the ensemble std" if self.normalized else ""),
            "coverage": self.coverage,
            "quantile": self.quantile,
            "normalized": self.normalized,
            "std_floor": self.std_floor,
            "n_calibration": self.n_calibration,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ConformalRegressor:
        return cls(
            coverage=float(data["coverage"]),
            quantile=float(data["quantile"]),
            normalized=bool(data["normalized"]),
            std_floor=float(data["std_floor"]),
            n_calibration=int(data["n_calibration"]),
        )


@dataclass(frozen=True, slots=True)
class ProbabilityCalibrator:
    """Maps a classifier's probability of class 1 to a calibrated one.

    Isotonic regression when there are at least :data:`MIN_ISOTONIC` calibration predictions,
    Platt scaling (a logistic fit on the logit) otherwise. Stored as plain numbers (the isotonic
    steps or the two Platt coefficients), so a model card can hold it.
    """

    method: str
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, probability: np.ndarray, label: np.ndarray) -> ProbabilityCalibrator:
        probability = np.asarray(probability, dtype=float)
        label = np.asarray(label, dtype=float)
        keep = np.isfinite(probability) & np.isfinite(label)
        p, y = np.clip(probability[keep], 1e-6, 1 - 1e-6), label[keep]
        if p.size == 0 or len(np.unique(y)) < 2:
            raise ValueError("calibration needs predictions of both classes")
        if p.size >= MIN_ISOTONIC:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
            return cls(
                "isotonic",
                tuple(map(float, iso.X_thresholds_)),
                tuple(map(float, iso.y_thresholds_)),
            )
        from sklearn.linear_model import LogisticRegression

        logit = np.log(p / (1 - p)).reshape(-1, 1)
        fit = LogisticRegression(C=1e6).fit(logit, y.astype(int))
        return cls("platt", slope=float(fit.coef_[0, 0]), intercept=float(fit.intercept_[0]))

    def __call__(self, probability: np.ndarray) -> np.ndarray:
        probability = np.asarray(probability, dtype=float)
        if self.method == "isotonic":
            out = np.interp(probability, np.asarray(self.x), np.asarray(self.y))
        else:
            p = np.clip(probability, 1e-6, 1 - 1e-6)
            out = 1.0 / (1.0 + np.exp(-(self.slope * np.log(p / (1 - p)) + self.intercept)))
        return np.where(np.isfinite(probability), out, np.nan)

    def to_dict(self) -> dict:
        return {"method": self.method, "x": list(self.x), "y": list(self.y),
                "slope": self.slope, "intercept": self.intercept}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> ProbabilityCalibrator:
        return cls(
            method=str(data["method"]),
            x=tuple(float(v) for v in data.get("x", ())),
            y=tuple(float(v) for v in data.get("y", ())),
            slope=float(data.get("slope", 1.0)),
            intercept=float(data.get("intercept", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class ConformalClassifier:
    """Prediction sets for a binary classifier: ``{c : 1 - p_c ≤ quantile}``.

    Holds the true class with probability at least ``coverage`` (marginally, on exchangeable
    data). A set of both classes means the model cannot tell at that confidence; an empty set
    means neither class is plausible (rare; it happens when ``coverage`` is low).
    """

    coverage: float
    quantile: float
    n_calibration: int

    @classmethod
    def fit(
        cls, probability: np.ndarray, label: np.ndarray, coverage: float = 0.9
    ) -> ConformalClassifier:
        probability = np.asarray(probability, dtype=float)
        label = np.asarray(label, dtype=float)
        keep = np.isfinite(probability) & np.isfinite(label)
        p, y = probability[keep], label[keep]
        # Nonconformity of the true class: 1 - the probability the model gave it.
        scores = np.where(y == 1, 1 - p, p)
        return cls(coverage, conformal_quantile(scores, coverage), int(keep.sum()))

    def sets(self, probability: np.ndarray) -> list[tuple[int, ...]]:
        """For each probability of class 1, the classes in its prediction set."""
        out: list[tuple[int, ...]] = []
        for p in np.asarray(probability, dtype=float):
            if not np.isfinite(p):
                out.append(())
                continue
            members = tuple(c for c, pc in ((0, 1 - p), (1, p)) if 1 - pc <= self.quantile)
            out.append(members)
        return out

    def to_dict(self) -> dict:
        return {"coverage": self.coverage, "quantile": self.quantile,
                "n_calibration": self.n_calibration}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> ConformalClassifier:
        return cls(float(data["coverage"]), float(data["quantile"]), int(data["n_calibration"]))


def interval_coverage(measured: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The share of measured values inside their interval (NaN rows ignored)."""
    measured, lower, upper = (np.asarray(a, dtype=float) for a in (measured, lower, upper))
    keep = np.isfinite(measured) & np.isfinite(lower) & np.isfinite(upper)
    if not keep.any():
        return math.nan
    inside = (measured[keep] >= lower[keep]) & (measured[keep] <= upper[keep])
    return float(inside.mean())


def binomial_band(coverage: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Where the observed coverage of ``n`` test predictions falls ``level`` of the time when the
    true coverage is ``coverage`` (exact binomial quantiles, as shares of ``n``)."""
    from scipy.stats import binom

    tail = (1 - level) / 2
    return float(binom.ppf(tail, n, coverage) / n), float(binom.ppf(1 - tail, n, coverage) / n)


def reliability_curve(
    probability: np.ndarray, label: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted probability, observed frequency and count per equal-width bin (for a
    reliability plot); bins without predictions are left out."""
    probability = np.asarray(probability, dtype=float)
    label = np.asarray(label, dtype=float)
    keep = np.isfinite(probability) & np.isfinite(label)
    p, y = probability[keep], label[keep]
    which = np.minimum((p * bins).astype(int), bins - 1)
    mean_p, observed, count = [], [], []
    for b in range(bins):
        members = which == b
        if members.any():
            mean_p.append(float(p[members].mean()))
            observed.append(float(y[members].mean()))
            count.append(int(members.sum()))
    return np.asarray(mean_p), np.asarray(observed), np.asarray(count)
