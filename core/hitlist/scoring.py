"""The scoring job: compute what a profile needs (model predictions, pKa estimates), then score.

Work is keyed by canonical SMILES in a :class:`ScoreCache` that outlives the job: rescoring after a
cancel, an edit or a new profile computes only the molecules not seen before, and duplicates in
a library are computed once. Scoring itself (:func:`core.hitlist.desirability.score_table`) takes
milliseconds, so changing a profile re-ranks without any of this.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.chem.library import DUPLICATE_COLUMN
from core.chem.readers import strip_cxsmiles_extension
from core.hitlist.desirability import (
    STD_SUFFIX,
    DesirabilityProfile,
    ProfileError,
    rank_scores,
    score_table,
)
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

if TYPE_CHECKING:
    from core.modelhost import ModelHost

log = logging.getLogger(__name__)

SCORE_COLUMN = "score"
RANK_COLUMN = "rank"
PKA_COLUMN = "basic_pka"
# Molecules per prediction batch: cancel is checked and the cache filled between batches.
BATCH = 2048


class ScoreCache:
    """Computed values by (source, canonical SMILES); thread-safe enough for one writer."""

    def __init__(self) -> None:
        self._values: dict[str, dict[str, tuple[float, ...]]] = {}

    def get(self, source: str) -> dict[str, tuple[float, ...]]:
        return self._values.setdefault(source, {})

    def __len__(self) -> int:
        return sum(len(values) for values in self._values.values())


@dataclass(frozen=True, slots=True)
class ScoringRequest:
    profile: DesirabilityProfile
    models: tuple[Path, ...] = ()
    device: str = "auto"
    """Where the models run (``auto``: CUDA, then MPS, then the CPU) when no engine passes its
    model host (the command line); the engine's host follows the app's setting."""
    admet: bool = False
    """Add the 41 admet-ai endpoints and their percentiles among approved drugs."""
    precision: str = "auto"
    """How the transformer models predict (:data:`core.compute.PRECISION_CHOICES`)."""


@dataclass(slots=True)
class ScoringResult:
    """New columns for the library (aligned with its index) and what they mean."""

    columns: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    n_scored: int = 0
    n_unscored: int = 0
    n_duplicates: int = 0
    """Scored rows repeating an earlier molecule (same InChIKey): not ranked."""
    n_computed: int = 0
    """Molecules computed by this job (the others came from the cache)."""
    model_cards: list[dict] = field(default_factory=list)


def _scored_smiles(table: pd.DataFrame) -> np.ndarray:
    """Canonical SMILES of valid rows, "" elsewhere."""
    # No astype(str): converting a million objects holds the GIL (the window) for 0.15 s; the
    # column holds strings already, and anything else is treated as empty below.
    smiles = table["canonical_smiles"].to_numpy(dtype=object, copy=True)
    if "valid" in table.columns:
        smiles[~table["valid"].to_numpy(dtype=bool, na_value=False)] = ""
    return smiles


def _fill(
    smiles: np.ndarray,
    source: str,
    width: int,
    compute: Callable[[list[str], ProgressCallback], np.ndarray],
    cache: ScoreCache,
    label: str,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[np.ndarray, int]:
    """Values (n, width) for every row, computing only unique SMILES the cache lacks.

    ``compute(batch, progress)`` may report its progress within the batch (a fraction of it):
    a batch of ADMET predictions takes most of a minute on a CPU."""
    known = cache.get(source)
    unique = _new_unique(smiles, known)
    total = max(len(unique), 1)
    for start in range(0, len(unique), BATCH):
        check_cancelled(is_cancelled)
        batch = unique[start : start + BATCH]
        size = len(batch)

        def within(fraction: float, _message: str = "", start=start, size=size) -> None:
            if fraction >= 0:
                done = start + int(min(fraction, 1.0) * size)
                progress(done / total, f"{label}: {done:,} of {len(unique):,} molecules")

        # Models and ADMET read plain SMILES: a record read as CXSMILES keeps its extension
        # (" |&1:1|") in canonical_smiles, and the cache its whole text.
        plain = [strip_cxsmiles_extension(text) for text in batch]
        values = np.asarray(compute(plain, within), dtype=np.float64).reshape(len(batch), width)
        for text, row in zip(batch, values, strict=True):
            known[text] = tuple(float(v) for v in row)
        done = min(start + BATCH, len(unique))
        progress(done / total, f"{label}: {done:,} of {len(unique):,} molecules")
    missing = (math.nan,) * width
    out = np.empty((len(smiles), width), dtype=np.float64)
    for start in range(0, len(smiles), 50_000):
        # In chunks: turning a million tuples into an array is one C call that would hold the
        # GIL (and freeze the window) for a quarter of a second.
        chunk = smiles[start : start + 50_000]
        out[start : start + len(chunk)] = [known.get(s, missing) if s else missing for s in chunk]
        time.sleep(0)
    return out, len(unique)


# Model jobs: these run in the model host's worker process (core.modelhost), which keeps the
# loaded models between scores.


def _loaded_model(directory: str, device: str, model_cache: Any):
    from core.models.transformer import load_model

    # The host outlives a score: a model retrained into the same folder must not be served from
    # memory, so its files' times are part of the key.
    folder = Path(directory)
    if model_cache is None or not folder.is_dir():  # a missing folder: load_model says so
        return load_model(folder, device=device)
    stamp = max((f.stat().st_mtime_ns for f in folder.iterdir() if f.is_file()), default=0)
    key = ("scoring", str(folder.resolve()), device, stamp)
    return model_cache.get(key, lambda: load_model(folder, device=device))


def describe_model(
    directory: str,
    *,
    device: str = "cpu",
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> tuple[str, dict, int]:
    """Host job: the model's kind, card and ensemble size (it stays loaded for predictions)."""
    model = _loaded_model(directory, device, model_cache)
    return model.kind, dict(model.card), len(model.members)


def predict_batch(
    directory: str,
    smiles: list[str],
    *,
    device: str = "cpu",
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    precision: str = "auto",
) -> np.ndarray:
    """Host job: ``(n, 2 × targets)``: the ensemble's means, then its standard deviations."""
    from core.models.transformer import predict

    model = _loaded_model(directory, device, model_cache)
    result = predict(
        model,
        smiles,
        device=device,
        progress=progress,
        is_cancelled=is_cancelled,
        precision=precision,
    )
    return np.hstack([result.mean, result.std])


def _new_unique(smiles: np.ndarray, known: dict) -> list[str]:
    """Distinct non-empty SMILES the cache lacks, in first-seen order. A Python loop in chunks:
    one C call over a million objects would hold the GIL (and freeze the window) throughout."""
    seen: dict[str, None] = {}
    for start in range(0, len(smiles), 50_000):
        for text in smiles[start : start + 50_000]:
            if isinstance(text, str) and text and text not in known:
                seen[text] = None
        time.sleep(0)
    return list(seen)


def model_source(directory: Path, card: dict, precision: str = "auto") -> str:
    """The :class:`ScoreCache` source of a model's predictions: its folder, its training and,
    for bf16, the precision (its values are not float32's)."""
    source = f"model:{directory.resolve()}:{card.get('created', '')}:{card.get('data_hash', '')}"
    return source + ":bfloat16" if precision == "bfloat16" else source


ADMET_SOURCE = "admet-ai:2"
"""The :class:`ScoreCache` source of admet-ai's predictions."""


def score_library(
    table: pd.DataFrame,
    request: ScoringRequest,
    cache: ScoreCache | None = None,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    device: str | None = None,
    model_cache: Any = None,
    model_host: ModelHost | None = None,
    described: dict[str, tuple[str, dict, int]] | None = None,
) -> ScoringResult:
    """Predict with each model, estimate pKa if the profile uses it, then score and rank.

    Runs in the caller's thread (an engine job that is not a torch job itself: the table stays
    here); model and ADMET predictions run in ``model_host``'s worker process, batch by batch.
    The engine passes its host; without one, :func:`core.modelhost.shared_host` is used, with
    ``device`` (or the request's) as its device preference. ``model_cache`` is not used (the
    host keeps the models).

    ``described``: each model folder's ``(kind, card, members)`` (:func:`describe_model`) known
    already, by ``str(folder)``: with a cache holding every molecule's values (computed on a
    cluster's workers, :mod:`core.hitlist.cluster_score`) no model is loaded here at all.

    Prediction columns are named as the model's targets (``<target>_std`` for ensembles); when
    two models predict a target of the same name the later is suffixed with its folder name.
    Raises :class:`ProfileError` when the profile needs a column that neither the table nor the
    models provide, and :class:`core.modelhost.ModelHostCrashed` (an ``OSError``) when the
    host's process ends while it predicts.
    """
    del model_cache
    cache = ScoreCache() if cache is None else cache
    smiles = _scored_smiles(table)
    columns: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    cards: list[dict] = []
    computed = 0
    steps = len(request.models) + 3
    step = 0

    def stage(fraction: float, message: str) -> None:
        progress(min((step + max(fraction, 0.0)) / steps, 0.99), message)

    started: list[ModelHost] = [] if model_host is None else [model_host]

    def host() -> ModelHost:
        # Started on first use: values all in the cache (a cluster's) need no model host.
        if not started:
            from core.modelhost import shared_host

            started.append(shared_host(device or request.device))
        return started[0]

    if request.models:
        for directory in request.models:
            directory = Path(directory)
            if described is not None and str(directory) in described:
                kind, card, n_members = described[str(directory)]
            else:
                kind, card, n_members = host().run(
                    describe_model, (str(directory),), is_cancelled=is_cancelled
                )
            names = list(card.get("target_names") or [])
            if kind == "pretrained" or not names:
                raise ProfileError(
                    f"{directory} is not a fine-tuned model (it predicts no targets)"
                )
            cards.append(card)
            width = len(names)

            def run(batch: list[str], within: ProgressCallback, directory=directory) -> np.ndarray:
                return host().run(
                    predict_batch,
                    (str(directory), batch),
                    {"precision": request.precision},
                    progress=within,
                    is_cancelled=is_cancelled,
                )

            values, n = _fill(
                smiles,
                model_source(directory, card, request.precision),
                2 * width,
                run,
                cache,
                f"Predicting with {directory.name}",
                stage,
                is_cancelled,
            )
            computed += n
            ensemble = n_members > 1
            for i, name in enumerate(names):
                column = (
                    name
                    if name not in columns and name not in table.columns
                    else (f"{name} ({directory.name})")
                )
                columns[column] = values[:, i]
                task = card.get("task", "")
                meaning = (
                    "probability of class 1" if task == "classification" else "predicted value"
                )
                notes[column] = f"{meaning} of '{name}' by model {directory.name}" + (
                    " (bfloat16)" if request.precision == "bfloat16" else ""
                )
                if ensemble:
                    columns[column + STD_SUFFIX] = values[:, width + i]
                    notes[column + STD_SUFFIX] = (
                        f"standard deviation over the ensemble for '{name}'"
                    )
            step += 1

    if request.admet:
        from core.hitlist.admet import admet_frame, column_notes, endpoints, predict_admet

        def admet_batch(batch: list[str], within: ProgressCallback) -> np.ndarray:
            return host().run(predict_admet, (batch,), progress=within, is_cancelled=is_cancelled)

        width = 2 * len(endpoints())
        values, n = _fill(
            smiles,
            ADMET_SOURCE,
            width,
            admet_batch,
            cache,
            "ADMET predictions",
            stage,
            is_cancelled,
        )
        computed += n
        admet = admet_frame(values, table.index)
        for name in admet.columns:
            columns[name] = admet[name].to_numpy()
        notes.update(column_notes())
    step += 1

    if PKA_COLUMN in request.profile.columns and PKA_COLUMN not in table.columns:
        from core.hitlist.pka import basic_pka_from_smiles

        values, n = _fill(
            smiles,
            "basic_pka:v1",
            1,
            lambda batch, _within: basic_pka_from_smiles(batch),
            cache,
            "Estimating pKa",
            stage,
            is_cancelled,
        )
        computed += n
        columns[PKA_COLUMN] = values[:, 0]
        notes[PKA_COLUMN] = (
            "estimated pKa of the most basic centre (rule-based, ± 1 unit or more; empty: none)"
        )
    step += 1
    check_cancelled(is_cancelled)
    stage(0.0, "Scoring")
    new = pd.DataFrame(columns, index=table.index)
    # Only the columns the profile reads (with their _std and the validity): concatenating the
    # whole million-row table would copy it, holding the GIL for a quarter of a second.
    wanted = [*request.profile.columns, *(c + STD_SUFFIX for c in request.profile.columns), "valid"]
    scored_table = pd.DataFrame(
        {
            c: (new[c] if c in new.columns else table[c])
            for c in dict.fromkeys(wanted)
            if c in new.columns or c in table.columns
        },
        index=table.index,
    )
    result = score_table(scored_table, request.profile, rank=False)
    rank = rank_without_repeats(table, result.score)
    n_duplicates = int((_repeats(table) & ~np.isnan(result.score)).sum())
    new = pd.concat([new, result.desirabilities], axis=1)
    for name, criterion in zip(
        result.desirabilities.columns, request.profile.criteria, strict=True
    ):
        notes[name] = f"desirability 0–1 of {criterion.title}"
    new[SCORE_COLUMN] = result.score
    new[RANK_COLUMN] = rank
    notes[SCORE_COLUMN] = f"desirability score 0–1 by profile '{request.profile.name}'"
    notes[RANK_COLUMN] = (
        "1 = best score; 0 = not ranked (invalid, a missing value, or a repeat of a molecule "
        "higher in the table)"
    )
    progress(1.0, f"Scored {len(table) - result.unscored:,} molecules")
    return ScoringResult(
        columns=new,
        notes=notes,
        n_scored=len(table) - result.unscored,
        n_unscored=result.unscored,
        n_duplicates=n_duplicates,
        n_computed=computed,
        model_cards=cards,
    )


def prediction_values(
    table: pd.DataFrame,
    models: tuple[Path, ...],
    admet: bool,
    *,
    device: str = "cpu",
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    precision: str = "auto",
) -> tuple[list[np.ndarray], list[tuple[str, dict, int]], np.ndarray | None]:
    """The model and ADMET values of every row of ``table``, computed in this process (a
    cluster's worker) as :func:`score_library` computes them in the model host: the same unique
    molecules in the same batches.

    Returns each of ``models``' ``(rows, 2 × targets)`` values (means, then standard deviations)
    and ``(kind, card, members)``, and the ADMET values ``(rows, 2 × endpoints)`` (``None``
    unless ``admet``).

    Raises
    ------
    ProfileError
        A model folder holds a pretrained model (it predicts no targets).
    """
    smiles = _scored_smiles(table)
    cache = ScoreCache()
    values: list[np.ndarray] = []
    described: list[tuple[str, dict, int]] = []
    for directory in models:
        directory = Path(directory)
        kind, card, n_members = describe_model(
            str(directory), device=device, model_cache=model_cache
        )
        names = list(card.get("target_names") or [])
        if kind == "pretrained" or not names:
            raise ProfileError(f"{directory} is not a fine-tuned model (it predicts no targets)")

        def run(batch: list[str], within: ProgressCallback, directory=directory) -> np.ndarray:
            return predict_batch(
                str(directory),
                batch,
                device=device,
                model_cache=model_cache,
                progress=within,
                is_cancelled=is_cancelled,
                precision=precision,
            )

        source = model_source(directory, card, precision)
        label = f"Predicting with {directory.name}"
        found, _ = _fill(smiles, source, 2 * len(names), run, cache, label, progress, is_cancelled)
        values.append(found)
        described.append((kind, card, n_members))
    admet_values = None
    if admet:
        from core.hitlist.admet import endpoints, predict_admet

        def admet_batch(batch: list[str], within: ProgressCallback) -> np.ndarray:
            return predict_admet(batch, progress=within, is_cancelled=is_cancelled, device=device)

        width = 2 * len(endpoints())
        admet_values, _ = _fill(
            smiles, ADMET_SOURCE, width, admet_batch, cache, "ADMET", progress, is_cancelled
        )
    return values, described, admet_values


def _repeats(table: pd.DataFrame) -> np.ndarray:
    if DUPLICATE_COLUMN not in table.columns:
        return np.zeros(len(table), dtype=bool)
    # No astype(str): a million-object conversion holds the GIL (and so the window) for 0.15 s.
    values = table[DUPLICATE_COLUMN].to_numpy(dtype=object)
    repeats = np.empty(len(values), dtype=bool)
    for start in range(0, len(values), 100_000):
        # In chunks: comparing a million objects is one C loop holding the GIL for 40 ms.
        chunk = values[start : start + 100_000]
        repeats[start : start + len(chunk)] = (chunk != "") & pd.notna(chunk)
        time.sleep(0)
    return repeats


def rank_without_repeats(table: pd.DataFrame, score: np.ndarray) -> np.ndarray:
    """Ranks by ``score`` (1 = best, 0 = unranked) where a molecule that occurs again (same
    InChIKey, see ``duplicate_of``) is one hit: only its first occurrence is ranked."""
    return rank_scores(np.where(_repeats(table), np.nan, score))


def rank_table(table: pd.DataFrame, profile: DesirabilityProfile, **_job) -> pd.DataFrame:
    """Desirability columns, ``score`` and ``rank`` from the table's own columns (no predictions):
    what a profile change needs. Takes well under a second for a million rows; an engine job for
    large tables (it accepts and ignores the engine's progress and cancel arguments)."""
    result = score_table(table, profile, rank=False)
    columns = {name: result.desirabilities[name].to_numpy() for name in result.desirabilities}
    columns[SCORE_COLUMN] = result.score
    columns[RANK_COLUMN] = rank_without_repeats(table, result.score)
    return pd.DataFrame(columns, index=table.index, copy=False)


def ranked(table: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """Rows with a rank, best first (the hit list), at most ``top`` of them."""
    hits = table[table[RANK_COLUMN] > 0].sort_values(RANK_COLUMN, kind="stable")
    return hits.head(top) if top else hits
