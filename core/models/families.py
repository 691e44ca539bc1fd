"""Best of families, chosen honestly: which model family (or weighted mix of families) a trained
model folder predicts with, chosen on the validation part only, and prediction with that choice.

``train`` fits up to three families on the same split: the SMILES transformer (the folder
itself), chemprop's D-MPNN (``<model>/dmpnn/``, :mod:`core.models.dmpnn`) and the random forest
on ECFP4 (``<model>/baseline/``, :mod:`core.models.baselines`). :func:`choose_families` compares
them **on the validation molecules only** (the test part is never looked at): the best single
family, or a weighted mean of families when one beats the best single family there. Weights come
from a grid over the simplex (steps of :data:`GRID_STEP`): a few dozen candidates, two degrees of
freedom for three families, so little room to fit the validation part's noise.

The card's ``"chosen"`` records the choice::

    "chosen": {"families": ["transformer", "rf"], "weights": [0.6, 0.4],
               "rule": "...", "metric": "rmse",
               "valid": {"transformer": 0.74, "dmpnn": 0.80, "rf": 0.77, "chosen": 0.71},
               "why": "validation RMSE 0.710 (0.6 transformer + 0.4 forest) vs 0.740 ..."}

A folder without ``"chosen"`` (trained before families were compared, or shipped) predicts with
its transformer, as before.

The combined prediction is the weighted mean of the families' predictions (probabilities of
class 1 for a classifier). Its standard deviation is that of the mixture (law of total
variance): ``sqrt(sum_i w_i * (s_i**2 + (m_i - m)**2))`` where ``s_i`` is a family's own spread
(the transformer's or D-MPNN's ensemble members, the forest's trees; 0 for a single network)
and ``(m_i - m)`` its disagreement with the mix. A single chosen family keeps its own spread.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.jobs import CancelCheck, ProgressCallback, no_progress

FAMILIES = ("transformer", "dmpnn", "rf")
"""Model families ``train`` can fit, in the order they are fitted (and preferred on a tie)."""
DEFAULT_FAMILIES = FAMILIES
"""What ``train`` and the Models area fit unless told otherwise."""
FAMILY_MODELS = {"transformer": "transformer", "dmpnn": "dmpnn", "rf": "rf_ecfp4"}
"""The ``model`` name of each family's rows in ``metrics.csv`` and ``heldout_predictions.csv``."""
FAMILY_TITLES = {"transformer": "transformer", "dmpnn": "D-MPNN", "rf": "forest"}
FAMILY_FOLDERS = {"dmpnn": "dmpnn", "rf": "baseline"}
"""Sub-folders of a trained model holding a family's model (the transformer is the folder)."""
CHOSEN_KEY = "chosen"
CHOSEN_MODEL = "chosen"
"""The ``model`` name of the chosen predictor's rows in the report tables."""
GRID_STEP = 0.1
"""Weights of a mix are multiples of this (a grid over the simplex)."""
_TIE = 1e-9


def parse_families(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"transformer,dmpnn,rf"`` (or a list) as a tuple in :data:`FAMILIES` order.

    Raises
    ------
    ValueError
        An unknown or empty name, or no transformer: a trained model folder is built around its
        transformer (card, domain, calibration), so it is always fitted.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [str(n).strip().lower() for n in names]
    aliases = {"forest": "rf", "rf_ecfp4": "rf", "d-mpnn": "dmpnn"}
    names = [aliases.get(n, n) for n in names]
    if not names or any(not n for n in names):
        raise ValueError(f"families must be a comma-separated list of {', '.join(FAMILIES)}")
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise ValueError(
            f"unknown model family {', '.join(map(repr, unknown))}: choose from "
            f"{', '.join(FAMILIES)}"
        )
    if "transformer" not in names:
        raise ValueError(
            "families must include transformer: the model folder is built around it "
            "(add dmpnn and/or rf beside it)"
        )
    return tuple(f for f in FAMILIES if f in names)


def primary_metric(task: str) -> tuple[str, bool]:
    """``(metric, lower_is_better)`` that chooses: RMSE (regression) or ROC-AUC (classification)."""
    return ("rmse", True) if task == "regression" else ("roc_auc", False)


def validation_score(y: np.ndarray, predicted: np.ndarray, task: str) -> float:
    """Mean over targets of the primary metric (:func:`primary_metric`); NaN if none scores."""
    from core.models.metrics import evaluate

    name, _ = primary_metric(task)
    table = evaluate(np.asarray(y, float), np.asarray(predicted, float), task)
    values = table.loc[table["metric"] == name, "value"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan


def simplex_grid(k: int, step: float = GRID_STEP) -> list[tuple[float, ...]]:
    """Every weight vector of ``k`` non-negative multiples of ``step`` that sum to 1."""
    n = round(1 / step)
    return [
        tuple(c / n for c in combo)
        for combo in itertools.product(range(n + 1), repeat=k)
        if sum(combo) == n
    ]


def combine(
    means: Sequence[np.ndarray], stds: Sequence[np.ndarray | None], weights: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of the families' predictions and the mixture's standard deviation (module
    docstring). A ``None`` std is 0 (a single network). NaN in any family's prediction gives NaN."""
    w = np.asarray(weights, dtype=float)
    m = np.stack([np.asarray(x, dtype=float) for x in means])
    s = np.stack(
        [np.zeros_like(m[0]) if x is None else np.nan_to_num(np.asarray(x, float)) for x in stds]
    )
    shape = (-1,) + (1,) * (m.ndim - 1)
    mean = (w.reshape(shape) * m).sum(axis=0)
    variance = (w.reshape(shape) * (s**2 + (m - mean) ** 2)).sum(axis=0)
    return mean, np.sqrt(variance)


@dataclass(slots=True, frozen=True)
class FamilyChoice:
    """Which families predict and with what weights (they sum to 1), and why."""

    families: tuple[str, ...]
    weights: tuple[float, ...]
    rule: str
    why: str
    metric: str
    valid: dict[str, float]
    """Validation score of each family fitted and of the chosen predictor (``"chosen"``)."""

    @property
    def is_transformer_only(self) -> bool:
        return self.families == ("transformer",)

    @property
    def main_family(self) -> str:
        """The family with the largest weight (what an explanation of the folder shows)."""
        return self.families[int(np.argmax(self.weights))]

    def describe(self) -> str:
        """``"0.6 transformer + 0.4 forest"`` or ``"forest"``."""
        if len(self.families) == 1:
            return FAMILY_TITLES[self.families[0]]
        return " + ".join(
            f"{w:g} {FAMILY_TITLES[f]}" for f, w in zip(self.families, self.weights, strict=True)
        )

    def as_card(self) -> dict[str, Any]:
        return {
            "families": list(self.families),
            "weights": [float(w) for w in self.weights],
            "rule": self.rule,
            "why": self.why,
            "metric": self.metric,
            "valid": {
                k: (None if not math.isfinite(v) else float(v)) for k, v in self.valid.items()
            },
        }


RULE = (
    "validation part only: the best single family by validation {metric}, or a weighted mean of "
    "families (weights on a {step:g} grid over the simplex) when it beats the best single "
    "family on validation; the test part was not looked at"
)


def choose_families(
    valid_predictions: Mapping[str, np.ndarray],
    y_valid: np.ndarray,
    task: str,
    *,
    step: float = GRID_STEP,
) -> FamilyChoice:
    """Choose the predictor on the validation part (module docstring).

    Parameters
    ----------
    valid_predictions
        Family name -> (n_valid, targets) predictions of the validation molecules (probabilities
        of class 1 for a classifier). Only rows every family predicted are compared, so that each
        family is scored on the same molecules.
    y_valid
        (n_valid, targets) measured values (NaN: missing label).
    task
        ``"classification"`` or ``"regression"``.

    Raises
    ------
    ValueError
        No family given, or an unknown family name.
    """
    families = [f for f in FAMILIES if f in valid_predictions]
    if not families or len(families) != len(valid_predictions):
        raise ValueError(f"choose among {', '.join(FAMILIES)}; got {sorted(valid_predictions)}")
    metric, lower = primary_metric(task)
    y = np.asarray(y_valid, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    stacked = [np.asarray(valid_predictions[f], dtype=float).reshape(y.shape) for f in families]
    common = np.all([np.isfinite(p).all(axis=1) for p in stacked], axis=0)
    stacked = [np.where(common[:, None], p, np.nan) for p in stacked]

    def better(new: float, old: float) -> bool:
        if not math.isfinite(new):
            return False
        if not math.isfinite(old):
            return True
        return new < old - _TIE if lower else new > old + _TIE

    scores = {f: validation_score(y, p, task) for f, p in zip(families, stacked, strict=True)}
    best = families[0]
    for f in families[1:]:
        if better(scores[f], scores[best]):
            best = f
    chosen_families, chosen_weights, chosen_score = (best,), (1.0,), scores[best]
    if len(families) > 1:
        for weights in simplex_grid(len(families), step):
            if max(weights) == 1.0:  # a single family: already scored
                continue
            score = validation_score(y, combine(stacked, [None] * len(stacked), weights)[0], task)
            if better(score, chosen_score):
                keep = [i for i, w in enumerate(weights) if w > 0]
                chosen_families = tuple(families[i] for i in keep)
                chosen_weights = tuple(weights[i] for i in keep)
                chosen_score = score
    title = metric.upper() if metric == "rmse" else "ROC-AUC"
    others = ", ".join(
        f"{scores[f]:.3f} ({FAMILY_TITLES[f]})"
        for f in families
        if (f,) != chosen_families  # a single chosen family is named before "vs"
    )
    described = FamilyChoice(chosen_families, chosen_weights, "", "", metric, {}).describe()
    if len(families) == 1:
        why = f"the only family fitted (validation {title} {chosen_score:.3f})"
    else:
        why = f"validation {title} {chosen_score:.3f} ({described}) vs {others}"
        if not common.all():
            why += f"; compared on the {int(common.sum())} molecules every family predicted"
    return FamilyChoice(
        families=chosen_families,
        weights=chosen_weights,
        rule=RULE.format(metric=title, step=step),
        why=why,
        metric=metric,
        valid={**scores, CHOSEN_MODEL: chosen_score},
    )


def load_choice(
    model_dir: str | os.PathLike, card: Mapping[str, Any] | None = None
) -> FamilyChoice | None:
    """The folder's chosen predictor, or ``None`` for a folder without one (it predicts with its
    transformer, as before).

    Raises
    ------
    ValueError
        A malformed ``"chosen"``: unknown families, weights that are not finite, non-negative and
        summing to 1, or a chosen family whose sub-folder is missing.
    """
    folder = Path(model_dir)
    if card is None:
        from core.models.registry import CARD_FILE, read_model_json

        card = read_model_json(folder, CARD_FILE)
    entry = card.get(CHOSEN_KEY) if isinstance(card, Mapping) else None
    if entry is None:
        return None
    where = f"model folder {folder}: the card's {CHOSEN_KEY!r}"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} is not a table")
    families, weights = entry.get("families"), entry.get("weights")
    if (
        not isinstance(families, list)
        or not families
        or not all(isinstance(f, str) and f in FAMILIES for f in families)
        or len(set(families)) != len(families)
    ):
        raise ValueError(f"{where}: families must name some of {', '.join(FAMILIES)}")
    if (
        not isinstance(weights, list)
        or len(weights) != len(families)
        or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
            for w in weights
        )
        or abs(sum(weights) - 1.0) > 1e-6
    ):
        raise ValueError(
            f"{where}: weights must be one non-negative number per family, summing to 1"
        )
    for family in families:
        if family in FAMILY_FOLDERS and not (folder / FAMILY_FOLDERS[family]).is_dir():
            raise ValueError(
                f"{where}: it predicts with {family}, but {FAMILY_FOLDERS[family]}/ is missing"
            )
    valid = entry.get("valid") if isinstance(entry.get("valid"), Mapping) else {}
    return FamilyChoice(
        tuple(families),
        tuple(float(w) for w in weights),
        str(entry.get("rule", "")),
        str(entry.get("why", "")),
        str(entry.get("metric", "")),
        {str(k): (math.nan if v is None else float(v)) for k, v in valid.items()},
    )


@dataclass(slots=True, frozen=True)
class ChosenPrediction:
    """The chosen predictor's predictions: ``mean`` and ``std`` (n, targets)."""

    mean: np.ndarray
    std: np.ndarray
    has_spread: bool
    """``std`` means something: a mix, a forest, or an ensemble of more than one network."""
    choice: FamilyChoice | None
    per_family: dict[str, np.ndarray]
    """Each chosen family's own mean prediction (for checking)."""


def predict_with_choice(
    model_dir: str | os.PathLike,
    smiles: Sequence[str],
    *,
    transformer: Any = None,
    choice: FamilyChoice | None = None,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ChosenPrediction:
    """Predict ``smiles`` with the folder's chosen predictor (its transformer when it has no
    ``"chosen"``: exactly what it predicted before).

    Parameters
    ----------
    transformer
        The folder's transformer already loaded (``core.models.transformer.load_model``), to
        avoid reading it twice; loaded here when needed and not given.
    choice
        The choice (default: read from the card with :func:`load_choice`).
    """
    from core.models.transformer import load_model, predict

    folder = Path(model_dir)
    if choice is None:
        choice = load_choice(folder)
    smiles = list(smiles)
    families = choice.families if choice is not None else ("transformer",)
    weights = choice.weights if choice is not None else (1.0,)
    means, stds, spread = [], [], len(families) > 1
    share = 1.0 / len(families)
    for k, family in enumerate(families):

        def step(fraction: float, message: str = "", k: int = k) -> None:
            progress((k + max(fraction, 0.0)) * share if fraction >= 0 else fraction, message)

        if family == "transformer":
            model = transformer or load_model(folder, device or "cpu", model_cache)
            result = predict(model, smiles, device=device, progress=step, is_cancelled=is_cancelled)
            spread = spread or len(model.members) > 1
            means.append(result.mean)
            stds.append(result.std if len(model.members) > 1 else None)
        elif family == "dmpnn":
            from core.models.dmpnn import predict_dmpnn

            result = predict_dmpnn(
                folder / FAMILY_FOLDERS["dmpnn"],
                smiles,
                device=device or "cpu",
                model_cache=model_cache,
                progress=step,
                is_cancelled=is_cancelled,
            )
            members = len(_sub_card(folder / FAMILY_FOLDERS["dmpnn"]).get("weights") or [])
            spread = spread or members > 1
            means.append(result.mean)
            stds.append(result.std if members > 1 else None)
        else:
            from core.models.baselines import load_baseline, predict_baseline

            forest = load_baseline(folder / FAMILY_FOLDERS["rf"])
            result = predict_baseline(forest, smiles, progress=step, is_cancelled=is_cancelled)
            spread = True
            means.append(result.mean)
            stds.append(result.std)
    mean, std = combine(means, stds, weights)
    return ChosenPrediction(mean, std, spread, choice, dict(zip(families, means, strict=True)))


def _sub_card(folder: Path) -> dict:
    try:
        return json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
