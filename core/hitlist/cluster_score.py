"""``score`` on a Dask cluster: the workers describe their records and predict with the models
(and admet-ai); this process joins the parts, ranks and writes the hit list (issue 18).

Each part (:mod:`core.chem.cluster_parts`) is described as ``props`` describes it and its
molecules predicted by :func:`core.hitlist.scoring.prediction_values`, with the models loaded
from their folders *by the workers*: a folder must be on this machine (``local:N``) or on a path
every worker shares. A worker keeps the models it loaded for its next parts and runs torch on
one thread, so N workers on N cores do not fight over them. A part's table holds the library
columns, the input file's other columns as text (``input:<name>``: whether a column is numeric
is decided once, over the whole file, as on one machine) and each row's values
(``value:<k>:<j>``: model ``k``'s, then ADMET's). Here the parts are joined in file order,
duplicates found over the whole file, the values put in a
:class:`~core.hitlist.scoring.ScoreCache` keyed by canonical SMILES, and
:func:`~core.hitlist.scoring.score_library` run as on one machine: it finds every value in the
cache, so it names the columns, scores and ranks without loading a model.

Same answers: the library columns, duplicates, input columns, pKa estimates, scores and ranks
are computed by the same functions on the same records, and admet-ai predicts each molecule on
its own: all equal to the last digit. Transformer predictions come from batches of the part's
molecules instead of the whole file's, and a batch is padded to its own longest SMILES, so the
matrix products run over other shapes and sum in another order: equal to within float rounding
(1.7e-8 relative at most on 450 molecules; the tests allow 1e-6), not always to the last bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.chem.cluster_parts import (
    DEFAULT_PARTITION_SIZE,
    PartWork,
    concat_parts,
    parts_folder_for,
    read_parts,
    run_parts,
)
from core.chem.library import (
    DUPLICATE_COLUMN,
    LIBRARY_COLUMNS,
    Library,
    _add_extra_columns,  # the single-machine conversion of input columns, over the whole file
    assemble_library,
    find_duplicates,
    process_records,
    props_table,
)
from core.chem.readers import RawRecord, ReadOptions
from core.chem.standardize import StandardizeOptions
from core.cluster import ClusterError
from core.hitlist.scoring import (
    ADMET_SOURCE,
    ScoreCache,
    ScoringRequest,
    ScoringResult,
    model_source,
    prediction_values,
    score_library,
)
from core.jobs import CancelCheck, ProgressCallback, no_progress

INPUT_PREFIX = "input:"
VALUE_PREFIX = "value:"
_ADMET = "admet"


@dataclass(slots=True, frozen=True)
class PartTally:
    """What a part tells the client besides its table: its input columns (first-seen order)
    and each model's ``(kind, card, members)``."""

    input_columns: tuple[str, ...]
    described: tuple[tuple[str, dict, int], ...]


@dataclass(slots=True, frozen=True)
class ClusterScoreResult:
    """The library (every record, its input columns), the scores, and the parts run."""

    library: Library
    scoring: ScoringResult
    n_parts: int
    read_here: str = ""


def score_on_cluster(
    client: Any,
    path: str | os.PathLike,
    output: str | os.PathLike,
    request: ScoringRequest,
    read: ReadOptions | None = None,
    standardize: StandardizeOptions | None = None,
    *,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    note: ProgressCallback | None = None,
) -> ClusterScoreResult:
    """Describe, predict and score ``path`` on the cluster of ``client``; the parts go beside
    ``output`` (removed before this returns). The caller writes the hit list.

    Raises
    ------
    LibraryReadError
        The file cannot be read (said before any task runs).
    ProfileError, ValueError
        A model folder that cannot be used (raised by the first part), a profile that needs a
        column nothing provides.
    ClusterError, OSError, JobCancelled
        As :func:`core.chem.cluster_parts.run_parts`.
    """
    path = Path(path).resolve()
    models = tuple(str(Path(m).resolve()) for m in request.models)
    request = ScoringRequest(
        request.profile, tuple(Path(m) for m in models), request.device, request.admet
    )
    work = PartWork(
        score_part, (standardize or StandardizeOptions(), models, request.admet, request.device)
    )

    def working(fraction: float, message: str) -> None:
        progress(0.9 * max(fraction, 0.0), message)

    with parts_folder_for(output) as folder:
        run = run_parts(
            client,
            path,
            read or ReadOptions(),
            folder,
            work,
            partition_size=partition_size,
            ship_records=ship_records,
            progress=working,
            is_cancelled=is_cancelled,
            note=note,
        )
        frames = read_parts(folder, run.n_parts)
    library, cache, described = _join(frames, run.tallies, path, request)
    if len(library.table) != run.n_records:
        raise ClusterError(
            f"{path.name}: the parts hold {len(library.table):,} rows, {run.n_records:,} "
            "records were read; nothing written"
        )

    def scoring(fraction: float, message: str) -> None:
        progress(0.9 + 0.1 * max(fraction, 0.0), message)

    result = score_library(
        library.table,
        request,
        cache,
        progress=scoring,
        is_cancelled=is_cancelled,
        described=described,
    )
    return ClusterScoreResult(library, result, run.n_parts, run.read_here)


# ----------------------------------------------------------------------------------------------
# The part function (runs on the workers)

_MODELS: Any = None
"""This worker process's loaded models (a ``core.compute.ModelCache``), kept between parts."""


def score_part(
    records: list[RawRecord],
    standardize: StandardizeOptions,
    models: tuple[str, ...],
    admet: bool,
    device: str,
) -> tuple[pd.DataFrame, PartTally]:
    """The part function of ``score``: the records described (library columns), their input
    columns as text and their model (and ADMET) values."""
    global _MODELS
    result = process_records(records, standardize)
    extras = result["extra"]
    result["extra"] = {}  # kept as text here; converted over the whole file by the client
    table = props_table(assemble_library([result]))
    columns: dict[str, Any] = {}
    described: list[tuple[str, dict, int]] = []
    if models or admet:
        import torch

        from core.compute import ModelCache, choose_device

        # One thread per worker: N workers on N cores would each start N threads otherwise.
        torch.set_num_threads(1)
        if _MODELS is None:
            _MODELS = ModelCache()
        values, described, admet_values = prediction_values(
            table,
            tuple(Path(m) for m in models),
            admet,
            device=choose_device(device).device,
            model_cache=_MODELS,
        )
        for k, block in enumerate(values):
            columns.update({f"{VALUE_PREFIX}{k}:{j}": block[:, j] for j in range(block.shape[1])})
        if admet_values is not None:
            columns.update(
                {
                    f"{VALUE_PREFIX}{_ADMET}:{j}": admet_values[:, j]
                    for j in range(admet_values.shape[1])
                }
            )
    for name, texts in extras.items():
        columns[INPUT_PREFIX + name] = pd.Series(texts, dtype=object)
    if columns:
        table = pd.concat([table, pd.DataFrame(columns, index=table.index)], axis=1)
    return table, PartTally(tuple(extras), tuple(described))


# ----------------------------------------------------------------------------------------------
# Joining the parts


def _join(
    frames: list[pd.DataFrame], tallies: list[PartTally], path: Path, request: ScoringRequest
) -> tuple[Library, ScoreCache, dict[str, tuple[str, dict, int]]]:
    """The library as one machine reads it, the values in a cache, the models' descriptions."""
    empty = props_table(assemble_library([]))
    table = concat_parts([f[list(LIBRARY_COLUMNS)] for f in frames], empty)
    table = table.loc[:, list(LIBRARY_COLUMNS)].reset_index(drop=True)
    table[DUPLICATE_COLUMN] = find_duplicates(table)
    names = list(dict.fromkeys(name for tally in tallies for name in tally.input_columns))
    extras = {
        name: [
            text
            for frame in frames
            for text in (
                frame[INPUT_PREFIX + name].tolist()
                if INPUT_PREFIX + name in frame.columns
                else [""] * len(frame)
            )
        ]
        for name in names
    }
    table, extra_columns = _add_extra_columns(table, extras)
    library = Library(table=table, source=path, extra_columns=extra_columns)
    cache = ScoreCache()
    described: dict[str, tuple[str, dict, int]] = {}
    first = next((t for t in tallies if t.described), None)
    sources: list[tuple[str, str]] = []
    if first is not None:
        for k, (directory, description) in enumerate(
            zip(request.models, first.described, strict=True)
        ):
            described[str(directory)] = description
            sources.append((f"{VALUE_PREFIX}{k}:", model_source(Path(directory), description[1])))
    if request.admet:
        sources.append((f"{VALUE_PREFIX}{_ADMET}:", ADMET_SOURCE))
    smiles = table["canonical_smiles"].where(table["valid"], "").to_numpy(dtype=object)
    for prefix, source in sources if frames else ():
        values = np.concatenate(
            [f[[c for c in f.columns if c.startswith(prefix)]].to_numpy(np.float64) for f in frames]
        )
        _fill_cache(cache, source, smiles, values)
    return library, cache, described


def _fill_cache(cache: ScoreCache, source: str, smiles: np.ndarray, values: np.ndarray) -> None:
    """Each molecule's values (its first row's) under ``source``."""
    known = cache.get(source)
    seen = pd.Series(smiles)
    first = np.flatnonzero(~seen.duplicated(keep="first").to_numpy() & (seen != "").to_numpy())
    for row in first:
        known[smiles[row]] = tuple(values[row].tolist())
