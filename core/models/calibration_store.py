"""Calibrated uncertainty from training to prediction: which out-of-fold predictions calibrate a
trained model, what its card stores, and the interval, calibrated-probability and
prediction-set columns that ``predict`` and Apply add (the maths is in
:mod:`core.models.calibration`).

Where the calibration predictions come from
-------------------------------------------
Conformal calibration needs predictions of molecules the model did not train on, that were not
used to choose or weight it either: the validation part stops training early and the test part
measures, so both are out. The calibration rows are therefore the **training part**, predicted
out of fold:

* ``crossfit`` (an ensemble of 3 or more members): the training part is cut into one fold per
  member and member ``k`` does not train on fold ``k`` (cross-fitting, as CV+ of Barber et al.
  2021); the rows of fold ``k`` are predicted by member ``k``. The out-of-fold predictions cost no
  extra training. With 2 members each would see only half of the training part, which costs more
  accuracy than it buys, so a pair is calibrated as a single model is.
* ``refit`` (asked for with ``calibration_folds``): K extra fits of the transformer, each on K-1
  folds, predict the fold they left out; they are thrown away afterwards. Honest, but K times the
  training time, so never the default.
* ``rf_proxy`` (the default for one or two members, regression only): K = 5 refits of the random
  forest (ECFP4) give out-of-fold residuals, whose size stands in for the transformer's. This is a
  proxy, not a guarantee: the card says so, and the measured coverage on the test part shows how
  good it is. A forest's probabilities say nothing about a transformer's, so classification has
  no proxy: a single classifier is stored without calibration (train an ensemble of 3 or more,
  or ask for refits).

Folds follow the split: with a scaffold split, whole scaffolds go to one fold, so that the
calibration residuals are, like the test part's, residuals on chemotypes the model has not seen
(random folds would calibrate on near neighbours and give intervals too narrow for new
scaffolds).

Regression intervals: per molecule or constant width
----------------------------------------------------
When the out-of-fold predictions come with the predictor's own spread, computed as it is for a
new molecule (``std`` in the out-of-fold table), the intervals are scaled per molecule
(normalised conformal, Papadopoulos et al. 2008; Lei et al. 2018): nonconformity
``|y - ŷ| / (σ + ε)``, interval ``ŷ ± q·(σ + ε)``, with ``ε`` a small floor (:data:`STD_EPS_FRACTION`
of the median out-of-fold ``σ``) so that an ensemble that happens to agree gets no zero-width
interval. The card's target entry says ``"interval": "scaled by the ensemble spread"``. That
spread exists out of fold for the forest (each out-of-fold forest's trees never saw the rows
they predict, as the saved forest's never saw a new molecule) and for the disagreement between
the families of a chosen mix; it does **not** exist for a transformer or D-MPNN ensemble: at an
out-of-fold row of a cross-fitted ensemble the other members trained on that very molecule, so
their spread there is mostly the left-out member's own error, and a refit is a single model. A
predictor whose spread at prediction time includes such members is therefore calibrated with
``prediction ± q`` (``"interval": "constant width"``), ``q`` the conformal quantile of the
absolute out-of-fold residuals (as is a proxy calibration: the forest's spread says nothing
certain about another model's). The interval is centred on the ensemble mean, which on average
errs less than the single member that made each score, so the coverage errs on the safe side.

Classification: a :class:`~core.models.calibration.ProbabilityCalibrator` fitted on the
out-of-fold probabilities, and conformal prediction-set scores (``1 -`` the probability given to
the true class) of the same uncalibrated probabilities (the calibrator was fitted on those rows,
so scores of its outputs would be in-sample).

The card's ``"calibration"`` holds the scores themselves (sorted; thinned to
:data:`MAX_STORED_SCORES` order statistics for large sets) so that any coverage can be asked at
prediction time, plus the test part's measured coverage, as plain JSON.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.models.calibration import (
    ProbabilityCalibrator,
    binomial_band,
    conformal_quantile,
    interval_coverage,
    reliability_curve,
)

CALIBRATION_KEY = "calibration"
OOF_FILE = "calibration_predictions.csv"
"""The out-of-fold training-part predictions the calibration was fitted on (for checking)."""
DEFAULT_COVERAGE = 0.9
DEFAULT_FOLDS = 5
PLOT_COVERAGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MIN_CROSSFIT_MEMBERS = 3
MAX_STORED_SCORES = 5000
PROXY_TREES = 200
"""Trees of each out-of-fold forest of the ``rf_proxy`` method (the residuals' size settles
long before the 500 of the baseline)."""
STD_EPS_FRACTION = 0.05
"""``ε`` of scaled intervals, as a fraction of the median out-of-fold standard deviation."""
SCALED = "scaled by the ensemble spread"
CONSTANT = "constant width"
LOWER_SUFFIX = "_lower"
UPPER_SUFFIX = "_upper"
CALIBRATED_SUFFIX = "_calibrated"
SET_SUFFIX = "_set"
METHODS = {
    "crossfit": "cross-fitted ensemble: member k did not train on fold k of the training part",
    "refit": "transformer refitted on K-1 folds of the training part, predicting the fold left out",
    "rf_proxy": (
        "random-forest out-of-fold residuals on the training part, standing in for the "
        "transformer's (a proxy: see the measured test coverage)"
    ),
}


def calibration_plan(task: str, n_models: int, calibration_folds: int) -> tuple[str | None, int]:
    """``(source, folds)`` for a training run (see the module docstring); ``(None, 0)`` when
    nothing can be calibrated (a single classifier without refits asked for)."""
    if n_models >= MIN_CROSSFIT_MEMBERS:
        return "crossfit", n_models
    if calibration_folds >= 2:
        return "refit", calibration_folds
    if task == "regression":
        return "rf_proxy", DEFAULT_FOLDS
    return None, 0


def assign_folds(
    smiles: list[str] | np.ndarray, k: int, *, by_scaffold: bool, seed: int = 0
) -> np.ndarray:
    """A fold number ``0…k-1`` for each molecule: whole Bemis–Murcko scaffolds per fold when
    ``by_scaffold`` (largest scaffolds first, each to the fold with fewest molecules, ties in a
    seeded order), else a seeded shuffle cut into ``k`` near-equal folds. Falls back to the
    shuffle when there are fewer scaffolds than folds.

    Raises
    ------
    ValueError
        When ``k < 2`` or there are fewer molecules than folds.
    """
    from core.models.splits import scaffold_groups

    n = len(smiles)
    if k < 2:
        raise ValueError(f"calibration needs at least 2 folds, not {k}")
    if n < k:
        raise ValueError(f"{n} training molecules cannot be cut into {k} folds")
    rng = np.random.default_rng(seed)
    folds = np.empty(n, dtype=np.int64)
    if by_scaffold:
        groups, invalid = scaffold_groups(list(smiles))
        groups = groups + [[i] for i in invalid]
        if len(groups) >= k:
            order = rng.permutation(len(groups))
            # Largest first (a stable sort keeps the seeded order among equals).
            order = sorted(order, key=lambda g: -len(groups[g]))
            sizes = np.zeros(k, dtype=np.int64)
            for g in order:
                fold = int(np.argmin(sizes))
                folds[groups[g]] = fold
                sizes[fold] += len(groups[g])
            if (sizes > 0).all():
                return folds
    folds[rng.permutation(n)] = np.arange(n) % k
    return folds


def _thin(scores: np.ndarray) -> list[float]:
    """Sorted scores, at most :data:`MAX_STORED_SCORES` of them (evenly spaced order statistics:
    a quantile read from them moves by less than one step of ``1/MAX_STORED_SCORES``)."""
    scores = np.sort(scores[np.isfinite(scores)])
    if scores.size > MAX_STORED_SCORES:
        scores = scores[np.linspace(0, scores.size - 1, MAX_STORED_SCORES).round().astype(int)]
    return [float(f"{s:.6g}") for s in scores]


def fit_calibration(
    oof: pd.DataFrame,
    task: str,
    target_names: list[str] | tuple[str, ...],
    *,
    source: str,
    folds: int,
    fold_kind: str,
) -> dict[str, Any]:
    """The card's ``"calibration"`` from out-of-fold predictions.

    Parameters
    ----------
    oof
        Tidy: ``row, fold, target, measured, predicted`` (training-part rows only), and ``std``
        when the predictor's spread is known out of fold: a regression target whose rows all
        have one gets intervals scaled per molecule (module docstring).
    task
        ``"regression"`` or ``"classification"``.
    source, folds, fold_kind
        How the predictions were made (:data:`METHODS` keys), how many folds, and
        ``"scaffold"`` or ``"random"``.
    """
    targets: dict[str, Any] = {}
    for name in target_names:
        rows = oof[(oof["target"] == name)]
        measured = rows["measured"].to_numpy(float)
        predicted = rows["predicted"].to_numpy(float)
        std = rows["std"].to_numpy(float) if "std" in rows else np.full(len(rows), np.nan)
        keep = np.isfinite(measured) & np.isfinite(predicted)
        measured, predicted, std = measured[keep], predicted[keep], std[keep]
        if not keep.any():
            targets[name] = {"task": task, "n": 0, "note": "no out-of-fold predictions"}
            continue
        if task == "regression":
            residual = np.abs(measured - predicted)
            if np.isfinite(std).all() and (std > 0).any():
                eps = STD_EPS_FRACTION * float(np.median(std[std > 0]))
                targets[name] = {
                    "task": task,
                    "n": int(keep.sum()),
                    "interval": SCALED,
                    "std_eps": float(f"{eps:.6g}"),
                    "score": "absolute residual / (ensemble std + eps)",
                    "scores": _thin(residual / (np.maximum(std, 0.0) + float(f"{eps:.6g}"))),
                }
            else:
                targets[name] = {
                    "task": task,
                    "n": int(keep.sum()),
                    "interval": CONSTANT,
                    "score": "absolute residual",
                    "scores": _thin(residual),
                }
            continue
        entry: dict[str, Any] = {"task": task, "n": int(keep.sum())}
        try:
            entry["calibrator"] = ProbabilityCalibrator.fit(predicted, measured).to_dict()
        except ValueError as exc:
            entry["note"] = f"no probability calibration: {exc}"
        entry["score"] = "1 - probability of the true class (uncalibrated)"
        entry["scores"] = _thin(np.where(measured == 1, 1 - predicted, predicted))
        targets[name] = entry
    return {
        "source": source,
        "method": METHODS[source],
        "folds": int(folds),
        "fold_kind": fold_kind,
        "n": int(oof["row"].nunique()) if len(oof) else 0,
        "default_coverage": DEFAULT_COVERAGE,
        "targets": targets,
    }


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    """A model's stored calibration, checked, ready to add columns to predictions."""

    summary: dict[str, Any]

    @property
    def source(self) -> str:
        return str(self.summary.get("source", ""))

    def target(self, name: str) -> dict[str, Any] | None:
        entry = self.summary.get("targets", {}).get(name)
        return entry if isinstance(entry, dict) and entry.get("scores") else None

    def scaled(self, name: str) -> bool:
        """Whether ``name``'s intervals are scaled per molecule by the predictor's spread."""
        entry = self.target(name)
        return entry is not None and entry.get("interval") == SCALED

    def quantile(self, name: str, coverage: float) -> float:
        """The conformal quantile of ``name``'s scores (``nan`` without scores; ``inf`` when
        there are too few for ``coverage``)."""
        entry = self.target(name)
        if entry is None:
            return math.nan
        return conformal_quantile(np.asarray(entry["scores"], dtype=float), coverage)

    def interval(
        self,
        name: str,
        predicted: np.ndarray,
        coverage: float,
        std: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Regression: ``(lower, upper)`` = prediction ∓ the quantile, times ``std + eps`` when
        the intervals are scaled (NaN when unknown, or where ``std`` is missing then).

        Raises
        ------
        ValueError
            When the intervals are scaled and no ``std`` is given.
        """
        predicted = np.asarray(predicted, dtype=float)
        q = self.quantile(name, coverage)
        if not self.scaled(name):
            return predicted - q, predicted + q
        if std is None:
            raise ValueError(
                f"the intervals of {name!r} are scaled by the ensemble spread: give each "
                "prediction's standard deviation"
            )
        eps = float(self.target(name).get("std_eps") or 0.0)
        half = q * (np.maximum(np.asarray(std, dtype=float), 0.0) + eps)
        return predicted - half, predicted + half

    def calibrated(self, name: str, probability: np.ndarray) -> np.ndarray:
        """Classification: the calibrated probability (NaN without a calibrator)."""
        probability = np.asarray(probability, dtype=float)
        entry = self.target(name)
        if entry is None or not isinstance(entry.get("calibrator"), dict):
            return np.full(probability.shape, np.nan)
        return ProbabilityCalibrator.from_dict(entry["calibrator"])(probability)

    def sets(self, name: str, probability: np.ndarray, coverage: float) -> list[str | None]:
        """Classification: each prediction set as ``"{0}"``, ``"{1}"``, ``"{0,1}"`` or ``"{}"``
        (``None`` for a missing prediction or without scores)."""
        probability = np.asarray(probability, dtype=float)
        q = self.quantile(name, coverage)
        out: list[str | None] = []
        for p in probability:
            # q is inf when too few scores for the coverage asked: then both classes.
            if not np.isfinite(p) or math.isnan(q):
                out.append(None)
                continue
            members = [str(c) for c, pc in ((0, 1 - p), (1, p)) if 1 - pc <= q]
            out.append("{" + ",".join(members) + "}")
        return out


def _check_number_list(values: Any, where: str) -> None:
    if not isinstance(values, list) or len(values) > MAX_STORED_SCORES:
        raise ValueError(f"{where}: the scores are not a list of at most {MAX_STORED_SCORES}")
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise ValueError(f"{where}: a score is not a finite number")


def check_calibration(summary: Any, where: str) -> StoredCalibration:
    """A card's ``"calibration"`` checked for shape and numbers.

    Raises
    ------
    ValueError
        When it is not what :func:`fit_calibration` writes.
    """
    if not isinstance(summary, dict) or not isinstance(summary.get("targets"), dict):
        raise ValueError(f"{where}: the calibration is not a table of targets")
    for name, entry in summary["targets"].items():
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: the calibration of {name!r} is not a table")
        if "scores" in entry:
            _check_number_list(entry["scores"], f"{where}, {name!r}")
        if entry.get("interval", CONSTANT) not in (SCALED, CONSTANT):
            raise ValueError(
                f"{where}: the interval of {name!r} is neither {SCALED!r} nor {CONSTANT!r}"
            )
        if entry.get("interval") == SCALED:
            eps = entry.get("std_eps")
            if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 < eps < math.inf:
                raise ValueError(
                    f"{where}: the scaled interval of {name!r} has no positive std_eps"
                )
        calibrator = entry.get("calibrator")
        if calibrator is not None:
            try:
                ProbabilityCalibrator.from_dict(calibrator)
                xs, ys = calibrator.get("x", []), calibrator.get("y", [])
                _check_number_list(list(xs), where)
                _check_number_list(list(ys), where)
                if len(xs) != len(ys) or calibrator["method"] not in ("isotonic", "platt"):
                    raise ValueError("bad calibrator")
            except (KeyError, TypeError, ValueError):
                raise ValueError(
                    f"{where}: the probability calibrator of {name!r} is malformed"
                ) from None
    return StoredCalibration(summary)


def load_calibration(model_dir: str | os.PathLike) -> StoredCalibration | None:
    """A model folder's stored calibration, or ``None`` for a model trained before calibration
    was stored (or one that could not be calibrated): not an error.

    Raises
    ------
    ValueError
        When the card is unreadable or its calibration malformed.
    """
    from core.models.registry import CARD_FILE, read_model_json

    card = read_model_json(Path(model_dir), CARD_FILE)
    summary = card.get(CALIBRATION_KEY) if isinstance(card, dict) else None
    if summary is None:
        return None
    return check_calibration(summary, f"model folder {model_dir}: the card's {CALIBRATION_KEY!r}")


def calibration_columns(
    calibration: StoredCalibration | None,
    task: str,
    name: str,
    predicted: np.ndarray,
    coverage: float = DEFAULT_COVERAGE,
    std: np.ndarray | None = None,
) -> dict[str, Any]:
    """The columns a prediction of target ``name`` gets: ``<name>_lower``/``_upper``
    (regression) or ``<name>_calibrated``/``_set`` (classification); empty (NaN / missing)
    when ``calibration`` is ``None`` or holds nothing for ``name``. ``std``: each prediction's
    standard deviation (the chosen predictor's spread), which scales the interval when the
    calibration says so (missing there: that row's interval is empty).

    Raises
    ------
    ValueError
        When ``coverage`` is not in (0, 1).
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must lie between 0 and 1, not {coverage}")
    predicted = np.asarray(predicted, dtype=float)
    if task == "regression":
        if calibration is None or calibration.target(name) is None:
            empty = np.full(predicted.shape, np.nan)
            return {f"{name}{LOWER_SUFFIX}": empty, f"{name}{UPPER_SUFFIX}": empty.copy()}
        if std is None and calibration.scaled(name):
            std = np.full(predicted.shape, np.nan)
        lower, upper = calibration.interval(name, predicted, coverage, std)
        return {f"{name}{LOWER_SUFFIX}": lower, f"{name}{UPPER_SUFFIX}": upper}
    if calibration is None or calibration.target(name) is None:
        calibrated = np.full(predicted.shape, np.nan)
        sets: list[str | None] = [None] * predicted.size
    else:
        calibrated = calibration.calibrated(name, predicted)
        sets = calibration.sets(name, predicted, coverage)
    return {
        f"{name}{CALIBRATED_SUFFIX}": calibrated,
        f"{name}{SET_SUFFIX}": pd.array(sets, dtype="string"),
    }


def evaluate_calibration(summary: dict[str, Any], test: pd.DataFrame) -> dict[str, Any]:
    """Add each target's measured behaviour on the **test** part to ``summary`` (in place; also
    returned): regression, the share of measured values inside the interval at each of
    :data:`PLOT_COVERAGES` and the binomial 95 % band at 90 %; classification, the prediction
    sets' coverage at 90 % with its band and the reliability curve before and after calibration.

    ``test``: tidy predictions (``target, measured, predicted``, and ``std`` for scaled
    intervals) of the test part.
    """
    stored = StoredCalibration(summary)
    for name, entry in summary["targets"].items():
        rows = test[test["target"] == name].dropna(subset=["measured", "predicted"])
        measured = rows["measured"].to_numpy(float)
        predicted = rows["predicted"].to_numpy(float)
        std = rows["std"].to_numpy(float) if "std" in rows else None
        if std is None and stored.scaled(name):
            std = np.full(len(rows), np.nan)
        n = len(rows)
        if stored.target(name) is None or n == 0:
            entry["test"] = {"n": n}
            continue
        low, high = binomial_band(DEFAULT_COVERAGE, n)
        if entry["task"] == "regression":
            observed, widths = [], []
            for c in PLOT_COVERAGES:
                lower, upper = stored.interval(name, predicted, c, std)
                observed.append(interval_coverage(measured, lower, upper))
                widths.append(float(np.nanmean(upper - lower)))
            entry["test"] = {
                "n": n,
                "nominal": list(PLOT_COVERAGES),
                "observed": observed,
                "mean_width": widths,
                "coverage_at_default": observed[PLOT_COVERAGES.index(DEFAULT_COVERAGE)],
                "band": [low, high],
            }
            continue
        sets = stored.sets(name, predicted, DEFAULT_COVERAGE)
        hit = [s is not None and str(int(y)) in s.strip("{}").split(",") for s, y in
               zip(sets, measured, strict=True)]  # fmt: skip
        calibrated = stored.calibrated(name, predicted)
        curves = {}
        for label, p in (("uncalibrated", predicted), ("calibrated", calibrated)):
            if np.isfinite(p).any():
                mean_p, freq, count = reliability_curve(p, measured)
                curves[label] = {
                    "predicted": mean_p.tolist(),
                    "observed": freq.tolist(),
                    "count": count.tolist(),
                    "brier": float(np.nanmean((p - measured) ** 2)),
                }
        entry["test"] = {
            "n": n,
            "coverage_at_default": float(np.mean(hit)),
            "band": [low, high],
            "both_classes": float(np.mean([s == "{0,1}" for s in sets])),
            "reliability": curves,
        }
    return summary


def describe_calibration(summary: dict[str, Any] | None) -> str:
    """One paragraph for the card and the report: the method and the measured test coverage."""
    if not summary:
        return "No calibration stored: predictions have no interval or calibrated probability."
    lines = [
        f"Calibration: {summary.get('method', summary.get('source', '?'))} "
        f"({summary.get('folds')} folds by {summary.get('fold_kind')}, "
        f"{summary.get('n')} training molecules)."
    ]
    for name, entry in summary.get("targets", {}).items():
        test = entry.get("test") or {}
        observed = test.get("coverage_at_default")
        band = test.get("band")
        if observed is None or band is None:
            lines.append(f"{name}: {entry.get('note', 'not measured on the test part')}.")
            continue
        what = "interval" if entry.get("task") == "regression" else "prediction set"
        if entry.get("task") == "regression":
            what += f" ({entry.get('interval', CONSTANT)})"
        verdict = "inside" if band[0] <= observed <= band[1] else "OUTSIDE"
        lines.append(
            f"{name}: the 90% {what} held {observed:.1%} of {test['n']} test molecules "
            f"(expected {band[0]:.1%}–{band[1]:.1%} if exchangeable: {verdict})."
        )
    return " ".join(lines)


def store_calibration(model_dir: str | os.PathLike, summary: dict[str, Any]) -> None:
    """Put ``summary`` on the model card (``"calibration"``); non-finite numbers become null.

    Raises
    ------
    ValueError
        When the folder holds no readable card.
    """
    from core.fileio import write_text_atomic
    from core.models.registry import CARD_FILE, read_model_json

    folder = Path(model_dir)
    card = read_model_json(folder, CARD_FILE)
    if not isinstance(card, dict):
        raise ValueError(f"model folder {folder}: {CARD_FILE} is not a JSON object")
    card[CALIBRATION_KEY] = _finite_or_none(summary)
    write_text_atomic(folder / CARD_FILE, json.dumps(card, indent=2))


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value
