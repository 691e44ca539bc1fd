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

The command line does not join the parts: :func:`score_to_file_on_cluster` streams the hit list
into its output (:func:`write_scored_parts`): a first pass over the parts' small columns finds
the repeats and the input columns' types over the whole file, then each part is scored here by
the same :func:`~core.hitlist.scoring.score_library` and split into sorted runs, and the ranked
runs are merged (``heapq.merge``) and numbered while written. :func:`_join` (the parts joined
in memory, scored by ``score_library`` over the whole table) is the reference the tests and the
merge benchmark compare the streamed hit list with.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator
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
    run_parts,
)
from core.chem.library import (
    DUPLICATE_COLUMN,
    LIBRARY_COLUMNS,
    Library,
    add_extra_columns,  # the single-machine conversion of input columns, over the whole file
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
    RANK_COLUMN,
    ScoreCache,
    ScoringRequest,
    ScoringResult,
    model_source,
    prediction_values,
    score_library,
)
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

INPUT_PREFIX = "input:"
VALUE_PREFIX = "value:"
_ADMET = "admet"


@dataclass(slots=True, frozen=True)
class PartTally:
    """What a part tells the client besides its table: its input columns (first-seen order)
    and each model's ``(kind, card, members)``."""

    input_columns: tuple[str, ...]
    described: tuple[tuple[str, dict, int], ...]


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
    precision: str = "auto",
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
            precision=precision,
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
    table, extra_columns = add_extra_columns(table, extras)
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
            source = model_source(Path(directory), description[1], request.precision)
            sources.append((f"{VALUE_PREFIX}{k}:", source))
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


# ----------------------------------------------------------------------------------------------
# Streaming the hit list (issue 18): the parts are never joined in memory

ROW_COLUMN = "__row__"
"""The row's position in the file, kept in the sorted runs (the ranking's tie-break); not written."""
_HASH_KEYS = ("drugdesk-dups-01", "drugdesk-dups-02")  # two 64-bit hashes: a 128-bit identity
_SECTIONS = ("ranked", "repeats", "unscored", "invalid")
_RUN_NAME = "part-{}-{:05d}.parquet"


@dataclass(slots=True, frozen=True)
class StreamedHitList:
    """What :func:`write_scored_parts` wrote: the counts of
    :class:`core.hitlist.hit_list_file.HitListFile` and the first invalid rows (name, reason),
    without the table."""

    path: Path
    profile_name: str
    n_records: int
    n_ranked: int
    n_invalid: int
    n_unscored: int
    n_duplicates: int
    n_written: int
    n_written_ranked: int
    invalid_examples: tuple[tuple[str, str], ...] = ()
    n_parts: int = 0
    read_here: str = ""

    def describe(self) -> str:
        """The line of :meth:`core.hitlist.hit_list_file.HitListFile.describe`."""
        return (
            f"Ranked {self.n_ranked:,} of {self.n_records:,} molecules "
            f"({self.n_invalid:,} invalid) by '{self.profile_name}'; wrote {self.n_written:,} "
            f"rows ({self.n_written_ranked:,} ranked) to {self.path}"
        )


def score_to_file_on_cluster(
    client: Any,
    path: str | os.PathLike,
    output: str | os.PathLike,
    request: ScoringRequest,
    read: ReadOptions | None = None,
    standardize: StandardizeOptions | None = None,
    *,
    top: int | None = None,
    ranked_only: bool = False,
    title: str = "Hit list",
    partition_size: int = DEFAULT_PARTITION_SIZE,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    note: ProgressCallback | None = None,
) -> StreamedHitList:
    """Describe, predict and score ``path`` on the cluster of ``client`` and write the hit list
    to ``output`` (:func:`core.hitlist.hit_list_file.write_hit_list`'s file), without ever
    holding the whole table: the parts are scored, sorted and merged one part (or one batch per
    part) at a time by :func:`write_scored_parts`. The parts go beside ``output`` (removed
    before this returns).

    Raises
    ------
    LibraryReadError
        The file cannot be read (said before any task runs).
    ProfileError, ValueError
        A model folder that cannot be used (raised by the first part), a profile that needs a
        column nothing provides.
    ClusterError, OSError, JobCancelled
        As :func:`core.chem.cluster_parts.run_parts`.
    core.chem.export.ExportError, OSError
        The output cannot be written (nothing is written then).
    """
    from core.hitlist.report import hit_list_format

    hit_list_format(output)  # a wrong suffix is said before any task runs
    path = Path(path).resolve()
    request, work = _score_work(request, standardize)

    def working(fraction: float, message: str) -> None:
        progress(0.8 * max(fraction, 0.0), message)

    def writing(fraction: float, message: str) -> None:
        progress(0.8 + 0.2 * max(fraction, 0.0), message)

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
        done = write_scored_parts(
            folder,
            run.n_parts,
            run.n_records,
            run.tallies,
            request,
            output,
            top=top,
            ranked_only=ranked_only,
            title=title,
            source_name=path.name,
            progress=writing,
            is_cancelled=is_cancelled,
        )
    return dataclasses.replace(done, n_parts=run.n_parts, read_here=run.read_here)


def _score_work(
    request: ScoringRequest, standardize: StandardizeOptions | None
) -> tuple[ScoringRequest, PartWork]:
    """The request with absolute model folders, and the part function with its arguments."""
    models = tuple(str(Path(m).resolve()) for m in request.models)
    request = dataclasses.replace(request, models=tuple(Path(m) for m in models))
    work = PartWork(
        score_part,
        (
            standardize or StandardizeOptions(),
            models,
            request.admet,
            request.device,
            request.precision,
        ),
    )
    return request, work


@dataclass(slots=True)
class _FileFacts:
    """What the whole file decides, gathered from the parts' small columns (first pass)."""

    extra_names: dict[str, str]  # input column -> its name in the table (renamed on a clash)
    numeric: dict[str, bool]  # input column -> numbers over the whole file
    duplicate_rows: np.ndarray  # rows repeating an earlier valid row's InChIKey (ascending)
    duplicate_of_row: np.ndarray  # ... and that first row
    first_rows: np.ndarray  # the rows that others repeat (ascending)
    first_names: dict[int, str]  # first row -> its name (for the rows that repeat it)


def write_scored_parts(
    folder: Path,
    n_parts: int,
    n_records: int,
    tallies: list[PartTally],
    request: ScoringRequest,
    output: str | os.PathLike,
    *,
    top: int | None = None,
    ranked_only: bool = False,
    title: str = "Hit list",
    source_name: str = "",
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> StreamedHitList:
    """Write the hit list of the ``score`` parts in ``folder`` to ``output`` as
    :func:`core.hitlist.hit_list_file.write_hit_list` writes it for the joined table, holding
    one part (or, while merging, a batch per part) at a time.

    1. A first pass reads the parts' small columns (validity, InChIKey, the input columns):
       which rows repeat an earlier molecule (128 bits of hash per valid row, sorted once: 24
       bytes a row, not the table), and which input columns are numbers over the whole file.
    2. Each part is then scored here as on one machine (:func:`score_library` on the part with
       the file's ``duplicate_of`` and input columns: every desirability is a function of its
       row alone, nothing is normalised over the column, ADMET percentiles are against a fixed
       reference), its repeats given their first copy's values (kept for molecules that repeat
       only), and its rows split into four runs: ranked rows sorted by (score descending, file
       order), repeats, rows lacking a value, invalid rows (file order).
    3. The ranked runs are merged (``heapq.merge`` over batches of each run) and numbered
       while written; the other runs follow, part after part.

    Tables (.csv, .tsv, .sdf) have the bytes that writing the joined table gives; an .html
    report gets the best 100 and the count; a workbook (.xlsx, at most 1,048,575 rows, with
    structure pictures) is built in memory from the streamed rows and written as before.

    Raises
    ------
    ClusterError
        A part is missing, or the parts do not hold ``n_records`` rows.
    ExportError, OSError
        The output cannot be written (nothing is written then).
    JobCancelled
        ``is_cancelled`` turned true (between parts and batches).
    """
    from core.chem.cluster_parts import merge_batch_rows, part_files, write_batched

    output = Path(output)
    files = part_files(folder, n_parts)
    facts = _first_pass(files, tallies, is_cancelled)
    progress(0.1, "Scoring the parts")
    described, sources = _descriptions(tallies, request)
    columns: list[str] | None = None
    template: pd.DataFrame | None = None
    cards: list[dict] = []
    stash: list[pd.DataFrame] = []  # first copies' values, for their repeats
    counts = dict.fromkeys(("records", "ranked", "invalid", "unscored", "duplicates"), 0)
    examples: list[tuple[str, str]] = []
    start = 0
    for number, file in enumerate(files):
        check_cancelled(is_cancelled)
        frame = pd.read_parquet(file)
        table = _part_library(frame, start, facts)
        cache = ScoreCache()
        smiles = table["canonical_smiles"].where(table["valid"], "").to_numpy(dtype=object)
        for prefix, source in sources:
            cells = [c for c in frame.columns if c.startswith(prefix)]
            _fill_cache(cache, source, smiles, frame[cells].to_numpy(np.float64))
        del frame
        result = score_library(
            table, request, cache, is_cancelled=is_cancelled, described=described
        )
        runs, part_columns = _part_runs(table, result, request, facts, stash)
        if columns is None:
            columns, cards = part_columns, result.model_cards
            template = runs["ranked"].iloc[:0].drop(columns=ROW_COLUMN)
        elif part_columns != columns:
            raise ClusterError(f"part {number} has other columns than part 0; nothing written")
        for section, rows in runs.items():
            run = folder / _RUN_NAME.format(section, number)
            if section == "ranked":  # in the merge's batches: merged without being rewritten
                write_batched(rows, run, merge_batch_rows(len(files)))
            else:
                rows.to_parquet(run, index=False)
        valid = table["valid"].to_numpy(dtype=bool)
        counts["records"] += len(table)
        counts["ranked"] += int((result.columns[RANK_COLUMN].to_numpy() > 0).sum())
        counts["invalid"] += int((~valid).sum())
        counts["unscored"] += int((valid & result.columns["score"].isna().to_numpy()).sum())
        counts["duplicates"] += result.n_duplicates
        if len(examples) < 10:
            invalid = table.loc[~valid, ["name", "error"]].head(10 - len(examples))
            examples += [(str(n), str(e)) for n, e in invalid.itertuples(index=False)]
        start += len(table)
        progress(0.1 + 0.6 * (number + 1) / max(len(files), 1), f"Scored part {number + 1:,}")
    if counts["records"] != n_records:
        raise ClusterError(
            f"{source_name}: the parts hold {counts['records']:,} rows, {n_records:,} records "
            "were read; nothing written"
        )
    if template is None:  # no part at all: an empty file
        raise ClusterError(f"{source_name}: no records to score; nothing written")
    del stash
    progress(0.7, f"Writing {output.name}")
    written, written_ranked = _write_runs(
        folder, len(files), template, request, cards, output, top, ranked_only, title, is_cancelled
    )
    progress(1.0, f"Wrote {output.name}")
    return StreamedHitList(
        path=output,
        profile_name=request.profile.name,
        n_records=counts["records"],
        n_ranked=counts["ranked"],
        n_invalid=counts["invalid"],
        n_unscored=counts["unscored"],
        n_duplicates=counts["duplicates"],
        n_written=written,
        n_written_ranked=written_ranked,
        invalid_examples=tuple(examples),
    )


def _first_pass(
    files: list[Path], tallies: list[PartTally], is_cancelled: CancelCheck | None
) -> _FileFacts:
    """Duplicates and input column types over the whole file, from the parts' small columns."""
    import pyarrow.parquet as pq

    keys = list(dict.fromkeys(name for tally in tallies for name in tally.input_columns))
    taken = {*LIBRARY_COLUMNS, DUPLICATE_COLUMN}
    extra_names: dict[str, str] = {}
    for key in keys:  # as core.chem.library.add_extra_columns renames them
        column = key
        while column in taken:
            column = f"{column} (input)"
        taken.add(column)
        extra_names[key] = column
    all_numbers = dict.fromkeys(keys, True)
    any_number = dict.fromkeys(keys, False)
    hashes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    start = 0
    for file in files:
        check_cancelled(is_cancelled)
        present = set(pq.read_schema(file).names)
        wanted = [
            "valid",
            "inchikey",
            *(INPUT_PREFIX + k for k in keys if INPUT_PREFIX + k in present),
        ]
        frame = pd.read_parquet(file, columns=wanted)
        valid = frame["valid"].to_numpy(dtype=bool)
        inchikey = frame["inchikey"].to_numpy(dtype=object)
        usable = np.flatnonzero(valid & (inchikey != ""))
        found = inchikey[usable]
        hashes.append(
            (
                pd.util.hash_array(found, hash_key=_HASH_KEYS[0]),
                pd.util.hash_array(found, hash_key=_HASH_KEYS[1]),
                usable.astype(np.int64) + start,
            )
        )
        for key in keys:
            if INPUT_PREFIX + key not in frame.columns:
                continue  # "" throughout: neither a number nor text
            values = frame[INPUT_PREFIX + key].astype(object)
            empty = (values == "").to_numpy(dtype=bool)
            numbers = pd.to_numeric(values.mask(empty), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            counted = int((~np.isnan(numbers)).sum())
            all_numbers[key] &= counted == int((~empty).sum())
            any_number[key] |= counted > 0
        start += len(frame)
    first = np.concatenate([h[0] for h in hashes]) if hashes else np.zeros(0, np.uint64)
    second = np.concatenate([h[1] for h in hashes]) if hashes else np.zeros(0, np.uint64)
    rows = np.concatenate([h[2] for h in hashes]) if hashes else np.zeros(0, np.int64)
    del hashes
    order = np.lexsort((rows, second, first))
    first, second, rows = first[order], second[order], rows[order]
    new_group = np.ones(len(rows), dtype=bool)
    new_group[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    group_first = rows[np.flatnonzero(new_group)][np.cumsum(new_group) - 1]
    repeats = ~new_group
    duplicate_rows, duplicate_of_row = rows[repeats], group_first[repeats]
    by_row = np.argsort(duplicate_rows, kind="stable")
    duplicate_rows, duplicate_of_row = duplicate_rows[by_row], duplicate_of_row[by_row]
    del first, second, rows, order
    first_rows = np.unique(duplicate_of_row)
    return _FileFacts(
        extra_names=extra_names,
        numeric={key: all_numbers[key] and any_number[key] for key in keys},
        duplicate_rows=duplicate_rows,
        duplicate_of_row=duplicate_of_row,
        first_rows=first_rows,
        first_names=_first_names(files, first_rows, is_cancelled),
    )


def _first_names(
    files: list[Path], wanted: np.ndarray, is_cancelled: CancelCheck | None
) -> dict[int, str]:
    """The names of the rows ``wanted`` (sorted): the first copies that others repeat."""
    names: dict[int, str] = {}
    start = 0
    for file in files:
        check_cancelled(is_cancelled)
        frame = pd.read_parquet(file, columns=["name"])
        stop = start + len(frame)
        here = wanted[(wanted >= start) & (wanted < stop)]
        if len(here):
            column = frame["name"].to_numpy(dtype=object)
            names.update({int(row): column[row - start] for row in here})
        start = stop
    return names


def _descriptions(
    tallies: list[PartTally], request: ScoringRequest
) -> tuple[dict[str, tuple[str, dict, int]], list[tuple[str, str]]]:
    """Each model's description (by folder) and the cache sources of the parts' value columns."""
    described: dict[str, tuple[str, dict, int]] = {}
    sources: list[tuple[str, str]] = []
    first = next((t for t in tallies if t.described), None)
    if first is not None:
        for k, (directory, description) in enumerate(
            zip(request.models, first.described, strict=True)
        ):
            described[str(directory)] = description
            source = model_source(Path(directory), description[1], request.precision)
            sources.append((f"{VALUE_PREFIX}{k}:", source))
    if request.admet:
        sources.append((f"{VALUE_PREFIX}{_ADMET}:", ADMET_SOURCE))
    return described, sources


def _part_library(frame: pd.DataFrame, start: int, facts: _FileFacts) -> pd.DataFrame:
    """One part's rows as the joined library has them: the library columns, ``duplicate_of``
    (over the whole file) and the input columns typed over the whole file; indexed by the
    rows' positions in the file."""
    n = len(frame)
    table = frame.loc[:, list(LIBRARY_COLUMNS)].copy()
    table.index = pd.RangeIndex(start, start + n)
    duplicate_of = np.full(n, "", dtype=object)
    lo, hi = np.searchsorted(facts.duplicate_rows, [start, start + n])
    for row, first in zip(facts.duplicate_rows[lo:hi], facts.duplicate_of_row[lo:hi], strict=True):
        duplicate_of[row - start] = facts.first_names[int(first)]
    table[DUPLICATE_COLUMN] = pd.Series(duplicate_of, index=table.index, dtype=object)
    if not facts.extra_names:
        return table
    added: dict[str, np.ndarray] = {}
    for key, name in facts.extra_names.items():
        column = INPUT_PREFIX + key
        texts = (
            frame[column].to_numpy(dtype=object)
            if column in frame.columns
            else np.full(n, "", object)
        )
        if facts.numeric[key]:
            values = pd.Series(texts, dtype=object, copy=False)
            empty = (values == "").to_numpy(dtype=bool)
            added[name] = pd.to_numeric(values.mask(empty), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        else:
            added[name] = texts
    extra = pd.DataFrame(
        {
            name: pd.Series(values, index=table.index, dtype=values.dtype)
            for name, values in added.items()
        },
        index=table.index,
    )
    return pd.concat([table, extra], axis=1)


def _part_runs(
    table: pd.DataFrame,
    result: ScoringResult,
    request: ScoringRequest,
    facts: _FileFacts,
    stash: list[pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One part's rows of the hit list, as :func:`core.hitlist.hit_list_file.output_rows`
    makes them, split by section (the ranked rows sorted, best first, ties in file order);
    with the column order of ``write_hit_list`` and the row's position (:data:`ROW_COLUMN`)."""
    from core.hitlist.hit_list_file import PROBLEM_COLUMN, hit_list_columns

    profile = request.profile
    table, order, computed = hit_list_columns(table, result.columns, profile.columns)
    computed = [c for c in computed if c in table.columns and c != RANK_COLUMN]

    rank = table[RANK_COLUMN].to_numpy()
    ranked = rank > 0
    valid = table["valid"].to_numpy(dtype=bool, na_value=False)
    first = table[DUPLICATE_COLUMN].astype(object)
    repeat = (first.notna() & (first != "")).to_numpy() & valid & ~ranked
    unscored = valid & ~repeat & ~ranked
    problem = pd.Series("", index=table.index, dtype=object)
    problem[repeat] = "repeats " + table.loc[repeat, DUPLICATE_COLUMN].astype(str)
    lacking = [c for c in profile.columns if c in table.columns]
    for index in table.index[unscored]:
        missing = [c for c in lacking if pd.isna(table.at[index, c])]
        problem[index] = "no value for " + ", ".join(missing) if missing else "no score"
    problem[~valid] = [str(e) or "invalid" for e in table["error"][~valid]]
    table = table.assign(**{PROBLEM_COLUMN: problem})

    # First copies that others repeat keep their values for them (molecules that repeat only).
    lo, hi = (int(table.index[0]), int(table.index[-1]) + 1) if len(table) else (0, 0)
    firsts = facts.first_rows
    mine = firsts[(firsts >= lo) & (firsts < hi)]
    if len(mine):
        stash.append(table.loc[mine, computed])
    if repeat.any():
        known = pd.concat(stash) if len(stash) > 1 else stash[0]
        stash[:] = [known]
        rows = table.index[repeat].to_numpy()
        at = np.searchsorted(facts.duplicate_rows, rows)
        rows_from = facts.duplicate_of_row[at]
        for column in computed:  # column by column: dtypes
            table.loc[repeat, column] = known.loc[rows_from, column].to_numpy()

    rest = [c for c in table.columns if c not in order]
    columns = [c for c in order if c in table.columns] + rest
    table = table[columns].assign(**{ROW_COLUMN: table.index.to_numpy(dtype=np.int64)})
    scores = table["score"].to_numpy(dtype=np.float64)
    hits = np.flatnonzero(ranked)
    hits = hits[np.lexsort((hits, -scores[hits]))]
    runs = {
        "ranked": table.iloc[hits],
        "repeats": table[repeat],
        "unscored": table[unscored],
        "invalid": table[~valid],
    }
    return {k: v.reset_index(drop=True) for k, v in runs.items()}, columns


def _rank_key(batch: Any) -> list[tuple]:
    """Best first, ties in file order: (-score, row) of a ``pyarrow.RecordBatch``."""
    score = batch.column("score").to_numpy(zero_copy_only=False)
    rows = batch.column(ROW_COLUMN).to_numpy(zero_copy_only=False)
    return list(zip((-score).tolist(), rows.tolist(), strict=True))


def _write_runs(
    folder: Path,
    n_parts: int,
    template: pd.DataFrame,
    request: ScoringRequest,
    cards: list[dict],
    output: Path,
    top: int | None,
    ranked_only: bool,
    title: str,
    is_cancelled: CancelCheck | None,
) -> tuple[int, int]:
    """Write the runs: the ranked rows merged and numbered, then the other sections in file
    order; returns (rows written, ranked rows written)."""
    from core.chem.cluster_parts import ARROW_SUFFIX, iter_files, merge_sorted_files
    from core.chem.export import export_table_stream
    from core.hitlist.report import export_hit_list, hit_list_format, write_html_report

    only_ranked = top is not None or ranked_only
    fmt = hit_list_format(output)
    counted = {"rows": 0, "ranked": 0}

    def run_files(section: str) -> list[Path]:
        files = [folder / _RUN_NAME.format(section, n) for n in range(n_parts)]
        return [f.with_suffix(ARROW_SUFFIX) for f in files] if section == "ranked" else files

    def ranked_rows(limit: int | None) -> Iterator[pd.DataFrame]:
        for batch in merge_sorted_files(
            run_files("ranked"), _rank_key, limit=limit, is_cancelled=is_cancelled
        ):
            batch = batch.drop(columns=ROW_COLUMN)
            first = counted["ranked"] + 1
            numbers = np.arange(first, first + len(batch), dtype=np.int64)
            # output_rows: Int64 ranks (empty for the unranked) unless only ranked rows are
            # written, which keep the scorer's integers.
            batch[RANK_COLUMN] = numbers if only_ranked else pd.array(numbers, dtype="Int64")
            counted["ranked"] += len(batch)
            counted["rows"] += len(batch)
            yield batch

    def other_rows() -> Iterator[pd.DataFrame]:
        for section in _SECTIONS[1:]:
            for batch in iter_files(run_files(section), is_cancelled=is_cancelled):
                if not len(batch):
                    continue
                batch = batch.drop(columns=ROW_COLUMN).reset_index(drop=True)
                batch[RANK_COLUMN] = pd.array([pd.NA] * len(batch), dtype="Int64")
                counted["rows"] += len(batch)
                yield batch

    empty = template.copy()
    if not only_ranked:
        empty[RANK_COLUMN] = empty[RANK_COLUMN].astype("Int64")
    if fmt == "html":
        # A report shows the best 100 and says how many are ranked: count the rest, keep none.
        from core.hitlist.report import DEFAULT_REPORT_ROWS

        shown: list[pd.DataFrame] = []
        kept = 0
        for batch in ranked_rows(top):
            if kept < DEFAULT_REPORT_ROWS:
                shown.append(batch.head(DEFAULT_REPORT_ROWS - kept))
                kept += len(shown[-1])
        head = pd.concat(shown, ignore_index=True) if shown else empty
        write_html_report(
            head, output, request.profile, cards, title=title, n_ranked=counted["ranked"]
        )
        return counted["ranked"], counted["ranked"]
    frames = itertools.chain(ranked_rows(top), () if only_ranked else other_rows())
    if fmt == "xlsx":
        # A workbook holds at most 1,048,575 rows and gets structure pictures: built in memory
        # from the streamed rows (at most a sheet's worth) and written as one machine writes it.
        table = pd.concat(list(frames), ignore_index=True)
        if not len(table):
            table = empty
        export_hit_list(table, output, request.profile, cards, title=title)
        return counted["rows"], counted["ranked"]
    export_table_stream(frames, output, empty)
    return counted["rows"], counted["ranked"]
