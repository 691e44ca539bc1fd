"""What to make next: rank a library by expected improvement (or an upper confidence bound) under a
model's uncertainty, then pick a diverse batch among the top candidates.

A model that gives a standard deviation with each prediction (a transformer ensemble: the spread
over its members; a random forest: the spread over its trees) says both how good a molecule may be
and how sure it is. Expected improvement (EI) weighs the two against the best value measured so
far; the upper confidence bound (UCB) adds ``kappa`` standard deviations to the mean. The batch is
then chosen in acquisition order with a MaxMin constraint: a candidate is taken only if its ECFP4
Tanimoto distance to every earlier pick is at least ``batch_diversity``, so ten near-copies of one
good molecule do not fill the batch (0 keeps the pure ranking).

Everything here is plain numpy/RDKit: :func:`suggest_from_predictions` takes predictions made
anywhere; :func:`suggest_for_library` is the engine job that predicts with a model folder first
(torch models in the model host when one is given).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

OBJECTIVES = ("maximize", "minimize")
STRATEGIES = ("ei", "ucb")
INTERVAL_Z = 1.645
"""Standard normal quantile of 0.95: mean ± 1.645 std holds 90% of a normal prediction."""
PICK_COLUMNS = [
    "suggest_rank",
    "row",
    "name",
    "smiles",
    "predicted",
    "std",
    "lower",
    "upper",
    "acquisition",
    "similarity_to_best",
    "nearest_pick_similarity",
    "why",
]
"""Columns of :attr:`SuggestResult.picks`, in order."""
DOMAIN_COLUMNS = ("nearest_train_similarity", "in_domain")
"""Per-target columns ``<target>_<name>`` a model may give beside its prediction (its
applicability domain); carried into the picks under these names when present."""


class NoBestKnown(ValueError):
    """Expected improvement was asked for without a best measured value to improve on."""


@dataclass(slots=True, frozen=True)
class SuggestSettings:
    """How to rank and pick.

    ``n`` picks; ``objective`` ``"maximize"`` (potency) or ``"minimize"`` (e.g. clearance);
    ``strategy`` ``"ei"`` or ``"ucb"``; ``batch_diversity`` the smallest Tanimoto distance
    (1 − similarity, ECFP4) allowed between two picks; ``kappa`` the UCB's standard deviations;
    ``pool_factor`` k: the batch is chosen among the top ``k · n`` candidates by acquisition;
    ``xi`` the improvement EI asks for beyond the best known value (0: any improvement).
    """

    n: int = 20
    objective: str = "maximize"
    strategy: str = "ei"
    batch_diversity: float = 0.4
    kappa: float = 2.0
    pool_factor: int = 5
    xi: float = 0.0

    def problem(self) -> str | None:
        """The first setting out of range, in words; ``None`` when all are usable."""
        checks = (
            (self.n >= 1, f"the number of picks must be at least 1, not {self.n}"),
            (
                self.objective in OBJECTIVES,
                f"the objective must be {' or '.join(OBJECTIVES)}, not {self.objective!r}",
            ),
            (
                self.strategy in STRATEGIES,
                f"the strategy must be {' or '.join(STRATEGIES)}, not {self.strategy!r}",
            ),
            (
                0.0 <= self.batch_diversity <= 1.0,
                "the batch diversity is a Tanimoto distance: between 0 and 1, "
                f"not {self.batch_diversity}",
            ),
            (
                math.isfinite(self.kappa) and self.kappa >= 0,
                f"kappa must be 0 or more, not {self.kappa}",
            ),
            (self.pool_factor >= 1, f"the pool factor must be at least 1, not {self.pool_factor}"),
            (math.isfinite(self.xi) and self.xi >= 0, f"xi must be 0 or more, not {self.xi}"),
        )
        return next((message for ok, message in checks if not ok), None)

    @property
    def maximize(self) -> bool:
        return self.objective == "maximize"


@dataclass(slots=True, frozen=True)
class BestKnown:
    """The best measured value so far, and the molecule that has it when known."""

    value: float
    smiles: str | None
    source: str
    """Where it came from, in words (``"given"``, ``"held-out measurements in …"``)."""


@dataclass(slots=True, frozen=True)
class KnownMeasurements:
    """Molecules already measured for the target: the best of them is the value to improve on,
    and a library molecule among them is not suggested again."""

    smiles: tuple[str, ...]
    values: tuple[float, ...]
    source: str

    def __len__(self) -> int:
        return len(self.smiles)

    def best(self, objective: str) -> BestKnown:
        """The best measured molecule for ``objective`` (``ValueError`` when none is measured)."""
        values = np.asarray(self.values, dtype=float)
        finite = np.flatnonzero(np.isfinite(values))
        if not len(finite):
            raise ValueError(f"{self.source}: no measured value to improve on")
        chosen = np.argmax if objective == "maximize" else np.argmin
        pick = finite[chosen(values[finite])]
        return BestKnown(float(values[pick]), self.smiles[pick], self.source)


@dataclass(slots=True, frozen=True)
class ModelPredictions:
    """One target's predictions for a list of molecules: mean and standard deviation (NaN where a
    molecule could not be predicted), and what made them."""

    target: str
    task: str
    mean: np.ndarray
    std: np.ndarray
    model: str
    """The model in words (``"random forest (500 trees)"``), for the result's summary."""
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """Further per-molecule columns the model gave, carried into the picks (the applicability
    domain's ``nearest_train_similarity`` and ``in_domain`` when the model keeps one)."""


@dataclass(slots=True)
class SuggestResult:
    """The picks (:data:`PICK_COLUMNS`, best first) and how they were chosen."""

    picks: pd.DataFrame
    target: str
    settings: SuggestSettings
    best: BestKnown | None
    n_candidates: int
    """Molecules with a prediction and a standard deviation."""
    n_measured_skipped: int
    """Candidates passed over because they were measured already."""
    n_beyond_pool: int
    """Picks taken from below the top ``k · n`` because the pool held too few diverse ones."""
    model: str = ""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a status bar or a terminal."""
        s = self.settings
        how = (
            f"expected improvement over the best known {self.target} {self.best.value:.3g}"
            if s.strategy == "ei" and self.best is not None
            else f"upper confidence bound (mean {'+' if s.maximize else '−'} {s.kappa:g} std)"
        )
        apart = (
            f"picks at least {s.batch_diversity:.2f} apart (Tanimoto distance)"
            if s.batch_diversity > 0
            else "no diversity asked (pure ranking)"
        )
        text = (
            f"{len(self.picks):,} picks of {self.n_candidates:,} candidates by {how} "
            f"({s.objective}); {apart}"
        )
        if self.model:
            text += f"; model: {self.model}"
        return "; ".join([text, *self.notes])


# ----------------------------------------------------------------------------------------------
# Acquisition


def expected_improvement(
    mean: np.ndarray | Sequence[float],
    std: np.ndarray | Sequence[float],
    best: float,
    *,
    maximize: bool = True,
    xi: float = 0.0,
) -> np.ndarray:
    """Expected improvement over ``best`` of a normal prediction ``N(mean, std²)``, in closed form.

    For maximising, ``EI = (μ − best − ξ) Φ(z) + σ φ(z)`` with ``z = (μ − best − ξ) / σ``: the mean of
    ``max(Y − best − ξ, 0)``. Minimising mirrors it (improvement is ``best − Y``). With ``σ = 0``
    it is the plain improvement ``max(μ − best − ξ, 0)``.

    Parameters
    ----------
    mean, std
        Predicted means and standard deviations (same shape; ``std`` ≥ 0).
    best
        The best value measured so far.
    maximize
        Whether larger values are better.
    xi
        Improvement asked for beyond ``best`` (0: any).

    Returns
    -------
    numpy.ndarray
        EI (≥ 0, in the target's units); NaN where ``mean`` or ``std`` is NaN.
    """
    from scipy.special import ndtr

    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    if mean.shape != std.shape:
        raise ValueError(f"mean {mean.shape} and std {std.shape} must have one shape")
    gain = (mean - best - xi) if maximize else (best - mean - xi)
    spread = np.where(std > 0, std, 1.0)  # placeholder where σ = 0: that branch is taken below
    z = gain / spread
    density = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    ei = np.where(std > 0, gain * ndtr(z) + std * density, np.maximum(gain, 0.0))
    # Rounding can take a far-below-best EI a hair under zero; an expectation of max(·, 0) is not.
    ei = np.maximum(ei, 0.0)
    ei[np.isnan(mean) | np.isnan(std)] = np.nan
    return ei


def upper_confidence_bound(
    mean: np.ndarray | Sequence[float],
    std: np.ndarray | Sequence[float],
    *,
    kappa: float = 2.0,
    maximize: bool = True,
) -> np.ndarray:
    """The optimistic bound: ``mean + kappa · std`` when maximising, ``mean − kappa · std`` when
    minimising (then smaller is better). NaN where ``mean`` or ``std`` is NaN."""
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    return mean + kappa * std if maximize else mean - kappa * std


def acquisition_scores(
    mean: np.ndarray, std: np.ndarray, best: float | None, settings: SuggestSettings
) -> tuple[np.ndarray, np.ndarray]:
    """``(acquisition, score)``: the acquisition as reported (EI, or the optimistic bound in the
    target's units) and a score where larger is always better (the bound negated when
    minimising)."""
    if settings.strategy == "ei":
        if best is None or not math.isfinite(best):
            raise NoBestKnown(
                "expected improvement needs the best measured value to improve on: give it, "
                "or a table of measured molecules (or use the upper confidence bound)"
            )
        value = expected_improvement(mean, std, best, maximize=settings.maximize, xi=settings.xi)
        return value, value
    value = upper_confidence_bound(mean, std, kappa=settings.kappa, maximize=settings.maximize)
    return value, value if settings.maximize else -value


def rank_candidates(score: np.ndarray, mean: np.ndarray, maximize: bool = True) -> np.ndarray:
    """Positions of the finite scores, best first; ties (EI is exactly 0 far below the best)
    broken by the better mean, then by position."""
    candidates = np.flatnonzero(np.isfinite(score))
    toward = mean[candidates] if maximize else -mean[candidates]
    # lexsort sorts by the last key first; negated for "larger first".
    order = np.lexsort((candidates, -toward, -score[candidates]))
    return candidates[order]


# ----------------------------------------------------------------------------------------------
# Fingerprints and the diverse batch


def _fingerprint(smiles: str) -> tuple[np.ndarray, str] | None:
    """ECFP4 (Morgan radius 2, 2048 bits, packed words as the Find tab's searches use) and the
    canonical SMILES; ``None`` when RDKit cannot read it."""
    from rdkit import Chem, rdBase

    from core.chem.search import fingerprint_words

    if not isinstance(smiles, str) or not smiles.strip():
        return None
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return fingerprint_words(mol), Chem.MolToSmiles(mol)


def _similarities(words: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of ``query`` (packed words) to each row of ``words``."""
    if not len(words):
        return np.zeros(0)
    common = np.bitwise_count(words & query).sum(axis=1, dtype=np.int64)
    union = (
        np.bitwise_count(words).sum(axis=1, dtype=np.int64)
        + int(np.bitwise_count(query).sum())
        - common
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, common / union, 0.0)


@dataclass(slots=True, frozen=True)
class BatchPick:
    """The batch in pick order: positions into the ranked list's molecules, each pick's highest
    similarity to an earlier pick (NaN for the first), fingerprints, and what was passed over."""

    positions: np.ndarray
    nearest_similarity: np.ndarray
    words: np.ndarray
    n_measured_skipped: int
    n_beyond_pool: int


def pick_diverse_batch(
    smiles: Sequence[str],
    ranked: np.ndarray,
    n: int,
    min_distance: float,
    pool_size: int,
    *,
    exclude: frozenset[str] = frozenset(),
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> BatchPick:
    """Walk the candidates in acquisition order and take each whose ECFP4 Tanimoto distance to
    every earlier pick is at least ``min_distance``, until ``n`` are taken.

    The walk covers the top ``pool_size`` readable, unmeasured candidates first; only if they hold
    fewer than ``n`` such picks does it go on down the ranking (those picks are counted in
    ``n_beyond_pool``). With ``min_distance`` 0 the batch is the top ``n`` of the ranking.

    Parameters
    ----------
    smiles
        Every molecule's SMILES; ``ranked`` indexes it.
    ranked
        Candidate positions, best first (see :func:`rank_candidates`).
    exclude
        Canonical SMILES of measured molecules: passed over (counted in ``n_measured_skipped``).
    """
    picks: list[int] = []
    nearest: list[float] = []
    words = np.zeros((0, 32), dtype=np.uint64)
    skipped = beyond = walked = 0
    # A similarity at least this high is too close: distance = 1 − similarity < min_distance.
    too_similar = 1.0 - min_distance
    for i, position in enumerate(ranked):
        if len(picks) >= n:
            break
        if i % 256 == 0:
            check_cancelled(is_cancelled)
            progress(min(walked / max(pool_size, 1), 0.99), f"Picked {len(picks)} of {n}")
        found = _fingerprint(smiles[int(position)])
        if found is None:
            continue
        fp, canonical = found
        if canonical in exclude:
            skipped += 1
            continue
        walked += 1
        similarity = _similarities(words, fp)
        closest = float(similarity.max()) if len(similarity) else math.nan
        # A tiny tolerance: a distance of exactly 0.4 must pass a 0.4 limit despite rounding.
        if len(picks) and min_distance > 0 and closest > too_similar + 1e-12:
            continue
        picks.append(int(position))
        nearest.append(closest)
        words = np.vstack([words, fp[None, :]])
        if walked > pool_size:
            beyond += 1
    progress(1.0, f"Picked {len(picks)} of {n}")
    return BatchPick(
        np.asarray(picks, dtype=np.int64),
        np.asarray(nearest, dtype=float),
        words,
        skipped,
        beyond,
    )


# ----------------------------------------------------------------------------------------------
# Picks


def _number(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.3g}"


def improvement_probability(mean: float, std: float, best: float, maximize: bool = True) -> float:
    """The chance that a normal prediction ``N(mean, std²)`` beats ``best``."""
    from scipy.special import ndtr

    gain = mean - best if maximize else best - mean
    if not std > 0:
        return 1.0 if gain > 0 else 0.0
    return float(ndtr(gain / std))


def _chance_text(p: float) -> str:
    if p < 0.005:
        return "under 1% chance"
    if p > 0.995:
        return "over 99% chance"
    return f"a {p:.0%} chance"


def why_text(
    target: str,
    mean: float,
    std: float,
    acquisition: float,
    settings: SuggestSettings,
    best: BestKnown | None,
    similarity_to_best: float,
) -> str:
    """Why a molecule was picked, in a chemist's words: its predicted value with the spread, how
    it stands against the best known, and how close it is to that molecule."""
    parts = []
    value = f"{target} {_number(mean)} ± {_number(INTERVAL_Z * std)}"
    if best is not None:
        probability = improvement_probability(mean, std, best.value, settings.maximize)
        chance = _chance_text(probability)
        better = mean > best.value if settings.maximize else mean < best.value
        against = f"the best known {_number(best.value)}"
    if settings.strategy == "ei" and best is not None:
        if better:
            word = "high" if settings.maximize else "low"
            parts.append(
                f"{word} predicted {value}, beyond {against} ({chance} to beat it; "
                f"EI {acquisition:.2g})"
            )
        else:
            hedge = ", but uncertain:" if probability >= 0.05 else ":"
            parts.append(
                f"predicted {value}: short of {against}{hedge} {chance} to beat it "
                f"(EI {acquisition:.2g})"
            )
    else:
        side = "upper" if settings.maximize else "lower"
        parts.append(
            f"predicted {value}; optimistic {side} bound {_number(acquisition)} "
            f"(mean {'+' if settings.maximize else '−'} {settings.kappa:g} std)"
        )
        if best is not None:
            parts.append(f"{chance} to beat {against}")
    if math.isfinite(similarity_to_best):
        parts.append(f"{similarity_to_best:.2f} similar to the best known")
    return "; ".join(parts)


def suggest_from_predictions(
    smiles: Sequence[str],
    mean: np.ndarray | Sequence[float],
    std: np.ndarray | Sequence[float],
    settings: SuggestSettings | None = None,
    *,
    names: Sequence[str] | None = None,
    target: str = "value",
    best_value: float | None = None,
    known: KnownMeasurements | None = None,
    model: str = "",
    extra: dict[str, np.ndarray] | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> SuggestResult:
    """Score every molecule, then pick a diverse batch among the best.

    Parameters
    ----------
    smiles
        The library's SMILES (unreadable or empty ones are never picked).
    mean, std
        One prediction and its standard deviation per molecule (NaN: no prediction).
    settings
        Picks, objective, strategy, diversity (:class:`SuggestSettings`).
    names
        The molecules' names (default: empty).
    target
        The predicted property's name, for the why-text.
    best_value
        The best measured value; default: the best of ``known``.
    known
        Molecules measured already: their best is the value to improve on (unless ``best_value``
        is given) and the molecule the picks' ``similarity_to_best`` refers to; library molecules
        among them (same canonical SMILES) are not suggested.
    model
        The model in words, for :meth:`SuggestResult.summary`.
    extra
        Further per-molecule columns, added to the picks after :data:`PICK_COLUMNS`; an
        ``in_domain`` column that is false puts a warning in the why-text.

    Returns
    -------
    SuggestResult
        ``picks``: :data:`PICK_COLUMNS`, one row per pick, best first; ``row`` is the position in
        ``smiles``; ``lower``/``upper`` are ``predicted ∓ 1.645 std`` (a 90% interval when the
        standard deviation is calibrated; a forest's spread over its trees is not).

    Raises
    ------
    ValueError
        Settings out of range, inputs of different lengths, no molecule with a standard deviation,
        or EI without a best value.
    """
    settings = settings or SuggestSettings()
    if problem := settings.problem():
        raise ValueError(problem)
    smiles = list(smiles)
    mean = np.asarray(mean, dtype=float).reshape(-1)
    std = np.asarray(std, dtype=float).reshape(-1)
    names = [""] * len(smiles) if names is None else list(names)
    if not (len(mean) == len(std) == len(smiles) == len(names)):
        raise ValueError(
            f"{len(smiles)} SMILES, {len(names)} names, {len(mean)} means and {len(std)} "
            "standard deviations: one of each per molecule is needed"
        )
    if np.any(std[np.isfinite(std)] < 0):
        raise ValueError("a standard deviation cannot be negative")
    best: BestKnown | None = None
    if known is not None and len(known):
        best = known.best(settings.objective)
    if best_value is not None:
        if not math.isfinite(best_value):
            raise ValueError(f"the best known value must be a number, not {best_value}")
        best = BestKnown(float(best_value), best.smiles if best else None, "given")
    usable = np.isfinite(mean) & np.isfinite(std)
    if not usable.any():
        raise ValueError("no molecule has a prediction with a standard deviation: nothing to rank")
    mean_usable = np.where(usable, mean, np.nan)
    acquisition, score = acquisition_scores(
        mean_usable, np.where(usable, std, np.nan), best.value if best else None, settings
    )
    ranked = rank_candidates(score, mean_usable, settings.maximize)
    exclude = frozenset()
    if known is not None:
        exclude = frozenset(
            found[1] for found in map(_fingerprint, known.smiles) if found is not None
        )
    batch = pick_diverse_batch(
        smiles,
        ranked,
        settings.n,
        settings.batch_diversity,
        settings.pool_factor * settings.n,
        exclude=exclude,
        progress=progress,
        is_cancelled=is_cancelled,
    )
    best_fp = _fingerprint(best.smiles) if best is not None and best.smiles else None
    if best_fp is not None:
        to_best = _similarities(batch.words, best_fp[0])
    else:
        to_best = np.full(len(batch.positions), np.nan)
    rows = batch.positions
    picks = pd.DataFrame(
        {
            "suggest_rank": np.arange(1, len(rows) + 1, dtype=np.int64),
            "row": rows,
            "name": [names[i] for i in rows],
            "smiles": [smiles[i] for i in rows],
            "predicted": mean[rows],
            "std": std[rows],
            "lower": mean[rows] - INTERVAL_Z * std[rows],
            "upper": mean[rows] + INTERVAL_Z * std[rows],
            "acquisition": acquisition[rows],
            "similarity_to_best": to_best,
            "nearest_pick_similarity": batch.nearest_similarity,
        }
    )
    why = [
        why_text(target, m, s, a, settings, best, b)
        for m, s, a, b in zip(
            picks["predicted"], picks["std"], picks["acquisition"], to_best, strict=True
        )
    ]
    extra_columns = []
    for column, values in (extra or {}).items():
        values = np.asarray(values)
        if len(values) != len(smiles):
            raise ValueError(
                f"the extra column {column!r} has {len(values)} values, not {len(smiles)}"
            )
        picks[column] = values[rows]
        extra_columns.append(column)
    if "in_domain" in picks.columns:
        near = picks.get("nearest_train_similarity")
        for i, inside in enumerate(picks["in_domain"].tolist()):
            if pd.notna(inside) and not bool(inside):
                detail = (
                    f" (nearest training molecule {near.iat[i]:.2f} similar)"
                    if near is not None and pd.notna(near.iat[i])
                    else ""
                )
                why[i] += f"; outside the model's applicability domain{detail}: less reliable"
    picks["why"] = why
    notes = []
    if best is not None:
        notes.append(f"best known {target} {best.value:.3g} ({best.source})")
    if batch.n_measured_skipped:
        k = batch.n_measured_skipped
        notes.append(f"{k:,} already measured molecule{'s' if k != 1 else ''} passed over")
    if batch.n_beyond_pool:
        notes.append(
            f"{batch.n_beyond_pool} picks came from below the top {settings.pool_factor}×"
            f"{settings.n} candidates: too few of those were {settings.batch_diversity:.2f} apart"
        )
    if len(rows) < settings.n:
        notes.append(
            f"only {len(rows)} of {settings.n} picks: no more candidates "
            f"{settings.batch_diversity:.2f} apart"
        )
    return SuggestResult(
        picks=picks[PICK_COLUMNS + extra_columns],
        target=target,
        settings=settings,
        best=best,
        n_candidates=int(usable.sum()),
        n_measured_skipped=batch.n_measured_skipped,
        n_beyond_pool=batch.n_beyond_pool,
        model=model,
        notes=notes,
    )


# ----------------------------------------------------------------------------------------------
# Model folders


def _is_forest_folder(folder: Path) -> bool:
    from core.models.baselines import FORESTS_FILE, META_FILE

    return (folder / FORESTS_FILE).is_file() and (folder / META_FILE).is_file()


def _choose_target(names: Sequence[str], target: str | None, folder: Path) -> str:
    names = list(names)
    if not names:
        raise ValueError(f"{folder}: the model predicts no target")
    if target is None:
        return names[0]
    if target not in names:
        raise ValueError(
            f"{folder}: the model has no target {target!r}; its targets: {', '.join(names)}"
        )
    return target


def _refuse_classification_ei(task: str, settings: SuggestSettings | None) -> None:
    if task == "classification" and settings is not None and settings.strategy == "ei":
        raise ValueError(
            "expected improvement needs a measured value to improve on, and a classifier "
            "predicts a probability: use the upper confidence bound (strategy ucb)"
        )


def model_targets(model_dir: str | os.PathLike) -> tuple[str, list[str]]:
    """``(task, target names)`` of a model folder, read from its ``baseline.json`` (a forest) or
    ``card.json`` without loading the model.

    Raises
    ------
    ValueError
        Not a model folder, or one whose file does not say its task and targets.
    """
    from core.models.baselines import META_FILE
    from core.models.registry import read_model_json

    folder = Path(model_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder")
    name = META_FILE if _is_forest_folder(folder) else "card.json"
    if not (folder / name).is_file():
        raise ValueError(f"{folder}: not a model folder (no {name})")
    data = read_model_json(folder, name)
    data = data if isinstance(data, dict) else {}
    task = data.get("task")
    targets = data.get("target_names") or data.get("target_columns") or []
    if task not in ("regression", "classification"):
        raise ValueError(
            f"{folder}: {name} does not say whether it is regression or classification"
        )
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise ValueError(f"{folder}: {name} names no targets: it predicts no property")
    return task, list(targets)


def predict_with_uncertainty(
    model_dir: str | os.PathLike,
    smiles: Sequence[str],
    target: str | None = None,
    *,
    model_host: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ModelPredictions:
    """Predict ``target`` (default: the model's first) with its standard deviation.

    A random-forest folder (``forests.skops`` + ``baseline.json``, e.g. a trained model's
    ``baseline/``) predicts here (the spread over its trees); any other model folder predicts
    through :func:`core.models.apply.predict_library`, in ``model_host``'s worker process when a
    host is given (torch stays out of the caller's process), and must give ``<target>_std`` (a
    transformer ensemble of more than one member).

    Raises
    ------
    ValueError
        Not a model folder, an unknown target, or a model that gives no standard deviation.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder")
    smiles = ["" if not isinstance(s, str) else s for s in smiles]
    if _is_forest_folder(folder):
        from core.models.baselines import load_baseline, predict_baseline

        forest = load_baseline(folder)
        name = _choose_target(forest.target_names, target, folder)
        column = forest.target_names.index(name)
        result = predict_baseline(forest, smiles, progress=progress, is_cancelled=is_cancelled)
        return ModelPredictions(
            name,
            forest.task,
            result.mean[:, column],
            result.std[:, column],
            f"random forest on {forest.featurizer.upper()} ({forest.n_trees} trees; std over trees)",
        )
    from core.models.apply import predict_library
    from core.models.registry import read_model_json

    card = read_model_json(folder, "card.json")
    if not isinstance(card, dict):
        raise ValueError(f"{folder}: card.json is not a model card")
    names = card.get("target_names") or card.get("target_columns") or []
    name = _choose_target(names, target, folder)
    series = pd.Series(smiles, dtype=object)
    if model_host is not None:
        frame = model_host.run(
            predict_library, (str(folder), series), progress=progress, is_cancelled=is_cancelled
        )
    else:
        frame = predict_library(folder, series, progress=progress, is_cancelled=is_cancelled)
    if f"{name}_std" not in frame.columns:
        hint = ""
        if _is_forest_folder(folder / "baseline"):
            hint = (
                f"; its random forest gives one (the spread over its trees): use "
                f"{folder / 'baseline'}"
            )
        raise ValueError(
            f"{folder.name} gives no uncertainty for {name}: a single transformer has no "
            f"spread (train an ensemble of 2 or more){hint}"
        )
    extra = {
        key: frame[f"{name}_{key}"].to_numpy()
        for key in DOMAIN_COLUMNS
        if f"{name}_{key}" in frame.columns
    }
    members = len(card.get("weights") or []) or None
    about = f"transformer ensemble of {members}" if members else "transformer ensemble"
    return ModelPredictions(
        name,
        str(card.get("task", "regression")),
        frame[name].to_numpy(dtype=float),
        frame[f"{name}_std"].to_numpy(dtype=float),
        f"{about} (std over members)",
        extra,
    )


@dataclass(slots=True, frozen=True)
class UncertainModel:
    """A model folder that gives a standard deviation, as a chooser lists it."""

    path: Path
    label: str
    task: str
    targets: tuple[str, ...]


def models_with_uncertainty(folders: Sequence[str | os.PathLike]) -> list[UncertainModel]:
    """The folders among ``folders`` (and their ``baseline/`` forests) that give a standard
    deviation with each prediction: random forests, and transformer ensembles of more than one
    member. A single transformer has no spread and is left out; so is an unreadable folder."""
    from core.models.registry import read_model_json

    found = []
    for folder in map(Path, folders):
        if _is_forest_folder(folder):
            places = [(folder, f"{folder.name} (random forest)")]
        else:
            try:
                card = read_model_json(folder, "card.json")
            except ValueError:
                card = None
            members = card.get("weights") if isinstance(card, dict) else None
            places = []
            if isinstance(members, list) and len(members) > 1:
                places.append((folder, f"{folder.name} (ensemble of {len(members)})"))
            if _is_forest_folder(folder / "baseline"):
                places.append((folder / "baseline", f"{folder.name}: its random forest"))
        for path, label in places:
            try:
                task, targets = model_targets(path)
            except ValueError:
                continue
            found.append(UncertainModel(path, label, task, tuple(targets)))
    return found


def known_from_model(model_dir: str | os.PathLike, target: str) -> KnownMeasurements | None:
    """The measured molecules a model folder keeps: its held-out (validation and test) rows in
    ``heldout_predictions.csv`` (the training rows are not stored). A forest in a trained model's
    ``baseline/`` uses its parent's file. ``None`` when there is none."""
    from core.models.registry import model_file
    from core.models.training import PREDICTIONS_FILE

    folder = Path(model_dir)
    candidates = [folder]
    if folder.name == "baseline":
        candidates.append(folder.parent)
    for place in candidates:
        try:
            path = model_file(place, PREDICTIONS_FILE, "held-out predictions")
        except ValueError:
            continue
        if not path.is_file():
            continue
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
        if not {"target", "smiles", "measured"} <= set(table.columns):
            continue
        rows = table[table["target"] == target]
        # Each held-out molecule appears once per model (transformer, forest): keep one.
        keys = [k for k in ("part", "row") if k in rows.columns] or ["smiles"]
        rows = rows.drop_duplicates(subset=keys)
        values = pd.to_numeric(rows["measured"], errors="coerce")
        keep = values.notna() & rows["smiles"].notna()
        if not keep.any():
            continue
        return KnownMeasurements(
            tuple(rows.loc[keep, "smiles"].astype(str)),
            tuple(values[keep].astype(float)),
            f"held-out measurements kept with {place.name}",
        )
    return None


def suggest_for_library(
    model_dir: str | os.PathLike,
    smiles: Sequence[str],
    names: Sequence[str] | None = None,
    settings: SuggestSettings | None = None,
    *,
    target: str | None = None,
    best_value: float | None = None,
    known: KnownMeasurements | None = None,
    model_host: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> SuggestResult:
    """Engine job: predict the library with ``model_dir`` (:func:`predict_with_uncertainty`),
    then :func:`suggest_from_predictions`.

    ``known`` defaults to the measurements the model folder keeps (:func:`known_from_model`);
    ``best_value`` overrides their best. The engine passes ``model_host``; without one, a torch
    model predicts in this process.
    """
    settings = settings or SuggestSettings()
    if problem := settings.problem():
        raise ValueError(problem)
    _refuse_classification_ei(model_targets(model_dir)[0], settings)
    smiles = list(smiles)

    def stage(start: float, end: float) -> ProgressCallback:
        return lambda f, m="": progress(start + (end - start) * max(f, 0.0), m)

    predictions = predict_with_uncertainty(
        model_dir,
        smiles,
        target,
        model_host=model_host,
        progress=stage(0.0, 0.8),
        is_cancelled=is_cancelled,
    )
    check_cancelled(is_cancelled)
    if known is None:
        known = known_from_model(model_dir, predictions.target)
    return suggest_from_predictions(
        smiles,
        predictions.mean,
        predictions.std,
        settings,
        names=names,
        target=predictions.target,
        best_value=best_value,
        known=known,
        model=predictions.model,
        extra=predictions.extra,
        progress=stage(0.8, 1.0),
        is_cancelled=is_cancelled,
    )
