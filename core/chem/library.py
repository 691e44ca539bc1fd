"""Load a compound file into a library table: parse, standardise, identify, compute properties.

``load_library`` is an engine job (progress and cancel callbacks). It reads the file in chunks and
processes the chunks in worker processes when the file is large enough to pay for starting them;
the results come back in input order. Records that fail stay in the table with ``valid = False``
and the reason in ``error``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from core.chem.properties import (
    INTEGER_PROFILE,
    INTEGER_PROPERTIES,
    PROFILE_COLUMNS,
    PROPERTY_COLUMNS,
    TEXT_PROFILE,
)
from core.chem.readers import (
    RawRecord,
    ReadOptions,
    estimate_record_count,
    iter_record_chunks,
    smiles_text_error,
    split_cxsmiles,
)
from core.chem.standardize import StandardizeOptions, Standardizer
from core.jobs import CancelCheck, JobCancelled, ProgressCallback, check_cancelled, no_progress
from core.parallel import WorkerCrashed, ordered_pool_map

IDENTITY_COLUMNS: tuple[str, ...] = ("name", "smiles", "canonical_smiles", "inchikey")
STATUS_COLUMNS: tuple[str, ...] = ("valid", "error")
LIBRARY_COLUMNS: tuple[str, ...] = (
    IDENTITY_COLUMNS + PROPERTY_COLUMNS + PROFILE_COLUMNS + STATUS_COLUMNS
)
"""The columns of ``python main.py props``, in order."""
# The computed values of a valid row (an invalid row has NaN or "" in each).
_VALUE_COLUMNS: tuple[str, ...] = PROPERTY_COLUMNS + PROFILE_COLUMNS
DUPLICATE_COLUMN = "duplicate_of"
"""Name of the first record with the same InChIKey, empty for first occurrences and invalid rows."""

# Below this many records, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 2000
# Records per task sent to a worker: small enough for smooth progress, large enough that
# inter-process overhead stays a few percent.
TASK_SIZE = 250
# Records per batch when working in this process: cancel is checked between batches, so a batch
# must stay well under a second even for large molecules (a 190-atom peptide takes about 30 ms,
# 12 of them for the structural alerts).
SERIAL_TASK_SIZE = 8


@dataclass(slots=True, frozen=True)
class LoadOptions:
    read: ReadOptions = field(default_factory=ReadOptions)
    standardize: StandardizeOptions = field(default_factory=StandardizeOptions)
    workers: int = 0
    """Worker processes; 0 picks one per core, 1 processes everything in this process."""


@dataclass(slots=True)
class Library:
    """A loaded compound library: one row per input record, in input order."""

    table: pd.DataFrame
    source: Path | None = None
    extra_columns: list[str] = field(default_factory=list)
    computed_columns: list[str] = field(default_factory=list)
    """Columns added after loading (predictions, scores); the others came from the file."""
    column_notes: dict[str, str] = field(default_factory=dict)
    """What added columns mean (model, units), shown as header tooltips."""
    _n_duplicates: int | None = field(default=None, repr=False, compare=False)
    annotations_ready: bool = field(default=False, repr=False, compare=False)
    """Set by ``core.project.annotations.ensure_annotations`` once flag/tags/notes are in shape."""

    @property
    def n_records(self) -> int:
        return len(self.table)

    @property
    def n_valid(self) -> int:
        return int(self.table["valid"].sum())

    @property
    def n_invalid(self) -> int:
        return self.n_records - self.n_valid

    @property
    def n_duplicates(self) -> int:
        # Comparing a million strings takes ~40 ms and the summary line asks often: count once
        # per change (library_edit calls rows_changed()).
        if self._n_duplicates is None:
            self._n_duplicates = int((self.table[DUPLICATE_COLUMN] != "").sum())
        return self._n_duplicates

    def rows_changed(self) -> None:
        """Forget what was derived from the rows (call after editing them)."""
        self._n_duplicates = None
        self.annotations_ready = False

    def summary(self) -> str:
        text = f"{self.n_records:,} records: {self.n_valid:,} valid, {self.n_invalid:,} invalid"
        if self.n_duplicates:
            text += f", {self.n_duplicates:,} duplicates"
        return text


# ----------------------------------------------------------------------------------------------
# Per-record processing (runs in worker processes)

_STANDARDIZERS: dict[StandardizeOptions, Standardizer] = {}


def _standardizer(options: StandardizeOptions) -> Standardizer:
    standardizer = _STANDARDIZERS.get(options)
    if standardizer is None:
        standardizer = _STANDARDIZERS[options] = Standardizer(options)
    return standardizer


def parse_record(record: RawRecord) -> tuple[Chem.Mol | None, str]:
    """Parse a record's SMILES or molblock; return ``(mol, "")`` or ``(None, reason)``."""
    if record.error:
        return None, record.error
    if record.kind == "molblock":
        mol = Chem.MolFromMolBlock(record.text, sanitize=False, removeHs=False)
        if mol is None:
            return None, "broken SDF record: RDKit cannot read the molblock"
    else:
        # The readers check this too; a SMILES typed into the table arrives here directly.
        character_error = smiles_text_error(record.text)
        if character_error:
            return None, character_error
        # RDKit's default parser reads a CXSMILES extension (enhanced stereo, atom labels).
        mol = Chem.MolFromSmiles(record.text, sanitize=False)
        if mol is None:
            return None, "invalid SMILES: syntax error"
    if mol.GetNumAtoms() == 0:
        return None, "empty molecule (no atoms)"
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several exception types; all mean "bad chemistry"
        return None, f"invalid chemistry: {_rdkit_message(exc)}"
    return mol, ""


def _rdkit_message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def process_records(
    records: list[RawRecord], options: StandardizeOptions | None = None
) -> dict[str, list]:
    """Process records into column lists (see :data:`LIBRARY_COLUMNS`) plus ``index`` and extras.

    Each valid record's values are :func:`core.chem.library_values.row_values` of the
    standardised molecule: RDKit's own values, with the alert screens shared and molecules met
    before in this process (same canonical SMILES) not described again.
    """
    from core.chem.library_values import row_values

    quiet = rdBase.BlockLogs()  # noqa: F841 (invalid records would each print an RDKit error)
    standardizer = _standardizer(options or StandardizeOptions())
    columns: dict[str, list] = {name: [] for name in ("index", *LIBRARY_COLUMNS)}
    for record in records:
        values = _missing_values()
        canonical = inchikey = ""
        mol, error = parse_record(record)
        if mol is not None:
            try:
                mol = standardizer.standardize(mol)
                canonical = _canonical_smiles(mol, record)
                # Values shared with earlier records of the same canonical SMILES are reused.
                inchikey, computed = row_values(mol, canonical)
                values.update(computed)
            except Exception as exc:
                error = f"standardisation failed: {_rdkit_message(exc)}"
                canonical = inchikey = ""
                values = _missing_values()
        _append_row(columns, record, canonical, inchikey, values, error)
    columns["extra"] = _extra_columns(records)
    return columns


def _canonical_smiles(mol: Chem.Mol, record: RawRecord) -> str:
    """Canonical SMILES; CXSMILES when the record came as CXSMILES, whose enhanced stereo
    ("&1:1": either enantiomer) a plain SMILES would turn into one absolute configuration."""
    if record.kind == "smiles" and split_cxsmiles(record.text)[1]:
        return Chem.MolToCXSmiles(
            mol, Chem.SmilesWriteParams(), int(Chem.CXSmilesFields.CX_ALL_BUT_COORDS)
        )
    return Chem.MolToSmiles(mol)


def _append_row(
    columns: dict[str, list],
    record: RawRecord,
    canonical: str,
    inchikey: str,
    values: dict[str, object],
    error: str,
) -> None:
    columns["index"].append(record.index)
    columns["name"].append(record.name)
    columns["smiles"].append(record.text if record.kind == "smiles" else "")
    columns["canonical_smiles"].append(canonical)
    columns["inchikey"].append(inchikey)
    for name in _VALUE_COLUMNS:
        columns[name].append(values[name])
    columns["valid"].append(not error)
    columns["error"].append(error)


CRASHED_RECORD_ERROR = "RDKit crashed on this record (the process describing it ended)"


def crashed_records(records: list[RawRecord]) -> dict[str, list]:
    """Invalid rows for records that crashed the process describing them."""
    columns: dict[str, list] = {name: [] for name in ("index", *LIBRARY_COLUMNS)}
    for record in records:
        _append_row(columns, record, "", "", _missing_values(), CRASHED_RECORD_ERROR)
    columns["extra"] = _extra_columns(records)
    return columns


def _extra_columns(records: list[RawRecord]) -> dict[str, list[str]]:
    """The records' other file columns, column by column.

    Column lists rather than one dict per record: a million small dicts would make Python's garbage
    collector walk a million objects, pausing every thread (the GUI included) for a noticeable time.
    """
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record.extra))
    return {name: [record.extra.get(name, "") for record in records] for name in names}


def _missing_values() -> dict[str, object]:
    """The values of an invalid row: NaN for numbers, "" for text."""
    nan = float("nan")
    return {name: "" if name in TEXT_PROFILE else nan for name in _VALUE_COLUMNS}


def _process_task(task: tuple[list[RawRecord], StandardizeOptions]) -> dict[str, list]:
    records, options = task
    return process_records(records, options)


# ----------------------------------------------------------------------------------------------
# The job


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _tasks(
    chunks: Iterable[list[RawRecord]], options: StandardizeOptions, size: int | None = None
) -> Iterator[tuple[list[RawRecord], StandardizeOptions]]:
    size = size or TASK_SIZE
    for chunk in chunks:
        for start in range(0, len(chunk), size):
            yield chunk[start : start + size], options


PREVIEW_FIRST = 5_000
"""Rows of the first preview of a large file (see ``load_library(on_preview=...)``): about 10 s
into the load on two cores."""
PREVIEW_MIN_RECORDS = 20_000
"""Files estimated to hold fewer records load in under a minute on two cores: no previews."""
PREVIEW_MAX = 400_000
"""No previews beyond this many rows: enough to browse, and each preview is assembled beside
the window (a larger one would hold the GIL long enough to be felt)."""


def _preview_sizes() -> Iterator[int | None]:
    """Rows at which previews are assembled: doubling (all previews together cost less than
    assembling the final table once), then None (no more)."""
    size = PREVIEW_FIRST
    while size <= PREVIEW_MAX:
        yield size
        size *= 2
    while True:
        yield None


def load_library(
    path: str | os.PathLike,
    options: LoadOptions | None = None,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    on_preview: Callable[[Library], None] | None = None,
) -> Library:
    """Read, standardise and describe every record of a compound file.

    Raises :class:`~core.chem.readers.LibraryReadError` when the file as a whole cannot be read,
    :class:`~core.jobs.JobCancelled` when ``is_cancelled`` turns true (checked at least every
    0.1 s while workers run) and :class:`~core.parallel.WorkerCrashed` when worker processes
    cannot start or more than :data:`MAX_CRASHED_RECORDS` records crash them (a record that
    crashes its worker is otherwise kept as an invalid row, see :func:`_describe_in_pool`).

    ``on_preview``: for files of about :data:`PREVIEW_MIN_RECORDS` records or more (a million
    take most of an hour on two cores), called with a :class:`Library` of the records described
    so far at :data:`PREVIEW_FIRST` rows and then each time their number doubles, up to
    :data:`PREVIEW_MAX`, so that a window can show the first rows long before the end. Each
    preview is a complete library of those rows (duplicates marked among them); the returned
    library has every row.
    """
    options = options or LoadOptions()
    path = Path(path)
    progress(0.0, f"Reading {path.name}")
    chunks = iter_record_chunks(path, options.read)
    first = next(chunks)  # raises LibraryReadError early, before any worker starts
    estimate = estimate_record_count(path) or 0
    workers = options.workers or default_workers()
    all_chunks = _chain([first], chunks)
    results: list[dict[str, list]] = []
    done = 0
    previews = _preview_sizes()
    next_preview = next(previews)
    if on_preview is None or estimate < PREVIEW_MIN_RECORDS:
        next_preview = None

    def report(n: int) -> None:
        nonlocal next_preview
        total = max(estimate, n)
        fraction = min(0.99, n / total) if total else -1.0
        progress(fraction, f"Processed {n:,} molecules")
        if next_preview is not None and n >= next_preview and n < total:
            on_preview(assemble_library(results, source=path))
            while next_preview is not None and next_preview <= n:
                next_preview = next(previews)

    if workers <= 1 or (len(first) < PARALLEL_THRESHOLD and estimate < PARALLEL_THRESHOLD):
        for records, std_options in _tasks(all_chunks, options.standardize, SERIAL_TASK_SIZE):
            check_cancelled(is_cancelled)
            result = process_records(records, std_options)
            results.append(result)
            done += len(records)
            report(done)
    else:

        def worker_crashed() -> None:
            total = max(estimate, done)
            progress(
                min(0.99, done / total) if total else -1.0,
                f"A worker process crashed after {done:,} molecules: finding the record that "
                "did it",
            )

        for result in _describe_in_pool(
            _tasks(all_chunks, options.standardize), workers, is_cancelled, worker_crashed
        ):
            results.append(result)
            done += len(result["index"])
            report(done)
    check_cancelled(is_cancelled)
    progress(0.995, "Finding duplicates")
    library = assemble_library(results, source=path)
    progress(1.0, library.summary())
    return library


def _chain(*iterables: Iterable[list[RawRecord]]) -> Iterator[list[RawRecord]]:
    for iterable in iterables:
        yield from iterable


MAX_CRASHED_RECORDS = 20
"""More records than this crashing their worker means something else is wrong (memory): the
load stops instead of testing the rest of the file record by record."""


def _describe_in_pool(
    tasks: Iterator[tuple[list[RawRecord], StandardizeOptions]],
    workers: int,
    is_cancelled: CancelCheck | None,
    on_crash: Callable[[], None] | None = None,
) -> Iterator[dict[str, list]]:
    """Describe the tasks in worker processes, results in order, surviving records that crash.

    A record that crashes RDKit kills its worker, and would end the load each time the file is
    opened. Instead, the tasks that were out when a worker died go through a single worker (see
    :func:`_describe_carefully`) until the record that does it is found; it becomes an invalid
    row (:data:`CRASHED_RECORD_ERROR`) and the rest of the file goes on in a new pool. The
    out-of-memory killer is told apart only by numbers: past :data:`MAX_CRASHED_RECORDS` crashed
    records the load stops. ``on_crash`` is called each time a worker dies (to say so).
    """
    described = 0
    crashed = 0
    probed = False
    while True:
        try:
            for result in _run_in_pool(tasks, workers, is_cancelled):
                described += len(result["index"])
                yield result
            return
        except WorkerCrashed as exc:
            if on_crash is not None:
                on_crash()
            if not probed:
                # Workers that die before any record (no memory left for a new process) would
                # otherwise have every record of the first tasks tried alone, minutes of it.
                _probe_worker(exc.unfinished[0][1], described, is_cancelled)
                probed = True
            for result in _describe_carefully(exc.unfinished, is_cancelled):
                if result["error"] == [CRASHED_RECORD_ERROR]:
                    crashed += 1
                    if crashed > MAX_CRASHED_RECORDS:
                        raise WorkerCrashed(
                            f"loading stopped after {described:,} molecules: more than "
                            f"{MAX_CRASHED_RECORDS} records crashed the worker processes "
                            "describing them (out of memory?); try again with fewer worker "
                            "processes (Edit > Preferences), or split the file"
                        ) from exc
                described += len(result["index"])
                yield result


def _probe_worker(
    options: StandardizeOptions, described: int, is_cancelled: CancelCheck | None
) -> None:
    """Raise :class:`WorkerCrashed` when a worker process cannot even describe no records."""
    try:
        list(_run_in_pool(iter([([], options)]), 1, is_cancelled))
    except WorkerCrashed as exc:
        raise WorkerCrashed(
            f"loading stopped after {described:,} molecules: worker processes end before "
            "describing anything (out of memory?); close other programs, or try again with fewer "
            "worker processes (Edit > Preferences)"
        ) from exc


def _describe_carefully(
    tasks: list[tuple[list[RawRecord], StandardizeOptions]], is_cancelled: CancelCheck | None
) -> Iterator[dict[str, list]]:
    """The tasks through one worker process, in order. One worker works on one task at a time,
    so when it dies the first unfinished task is the one that killed it: that task is halved and
    the halves go first, until the crashing record is alone and becomes an invalid row. A record
    costs a new process per halving (about log2(TASK_SIZE) of them)."""
    waiting = deque(tasks)

    def take() -> Iterator[tuple[list[RawRecord], StandardizeOptions]]:
        while waiting:
            yield waiting.popleft()

    while waiting:
        try:
            yield from _run_in_pool(take(), 1, is_cancelled)
        except WorkerCrashed as exc:
            (records, options), *after = exc.unfinished
            if len(records) == 1:
                yield crashed_records(records)
                halves = []
            else:
                middle = len(records) // 2
                halves = [(records[:middle], options), (records[middle:], options)]
            waiting.extendleft(reversed([*halves, *after]))


def _run_in_pool(
    tasks: Iterator[tuple[list[RawRecord], StandardizeOptions]],
    workers: int,
    is_cancelled: CancelCheck | None,
) -> Iterator[dict[str, list]]:
    return ordered_pool_map(_process_task, tasks, workers, is_cancelled)


_ASSEMBLY_CHUNK = 50_000


def _column_array(values: list, kind: str) -> pd.Series:
    """A column's list of values as a Series, converted in chunks that let other threads run:
    one C call over a million values holds the GIL (and so freezes the window beside a loading
    job) for a tenth of a second. ``kind``: "float" (None and text become NaN), "bool" or
    "object"."""
    dtype = {"float": np.float64, "bool": np.bool_, "object": object}[kind]
    out = np.empty(len(values), dtype=dtype)
    for start in range(0, len(values), _ASSEMBLY_CHUNK):
        part = values[start : start + _ASSEMBLY_CHUNK]
        if kind == "float":
            numbers = pd.to_numeric(pd.Series(part, dtype=object), errors="coerce")
            out[start : start + len(part)] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            chunk = np.empty(len(part), dtype=dtype)
            chunk[:] = part
            out[start : start + len(part)] = chunk
        time.sleep(0)
    # dtype given: pandas does not scan object arrays for dates.
    return pd.Series(out, dtype=dtype, copy=False)


def assemble_library(results: list[dict[str, list]], source: Path | None = None) -> Library:
    """Concatenate processed column lists into a :class:`Library` and mark duplicates."""
    columns: dict[str, list] = {name: [] for name in ("index", *LIBRARY_COLUMNS)}
    for result in results:
        for name in columns:
            columns[name].extend(result[name])
    extras = _merge_extra_columns(results)
    index = columns.pop("index")
    series: dict[str, pd.Series] = {}
    for name in LIBRARY_COLUMNS:
        if name in _VALUE_COLUMNS and name not in TEXT_PROFILE:
            values = _column_array(columns[name], "float")
            if name in INTEGER_PROPERTIES or name in INTEGER_PROFILE:
                numbers = values.to_numpy()
                missing = np.isnan(numbers)
                integers = np.where(missing, 0, numbers).astype(np.int64)
                values = pd.Series(pd.arrays.IntegerArray(integers, mask=missing), copy=False)
        elif name == "valid":
            values = _column_array(columns[name], "bool")
        else:
            values = _column_array(columns[name], "object")
        series[name] = values
        columns[name] = []  # free the list as soon as it is converted
    table = pd.DataFrame(series, copy=False)
    table.index = pd.RangeIndex(len(table))
    if index and list(index) != sorted(index):
        # Workers return in order, so this is a safety net, not a normal path.
        order = np.argsort(np.asarray(index), kind="stable")
        table = table.iloc[order].reset_index(drop=True)
        extras = {name: [values[i] for i in order] for name, values in extras.items()}
    table[DUPLICATE_COLUMN] = find_duplicates(table)
    table, extra_columns = add_extra_columns(table, extras)
    return Library(table=table, source=source, extra_columns=extra_columns)


def find_duplicates(table: pd.DataFrame) -> pd.Series:
    """For each row, the name of the first earlier valid row with the same InChIKey (else "")."""
    usable = table["valid"].to_numpy(bool) & (table["inchikey"].to_numpy(object) != "")
    keys = table["inchikey"][usable]
    duplicate_of = pd.Series("", index=table.index, dtype=object)
    repeated = keys.duplicated(keep="first")
    if repeated.any():
        first_row = pd.Series(keys.index[~repeated], index=keys[~repeated].to_numpy())
        duplicate_rows = keys.index[repeated.to_numpy()]
        source_rows = first_row.loc[keys[repeated].to_numpy()].to_numpy()
        duplicate_of[duplicate_rows] = table["name"].to_numpy()[source_rows]
    return duplicate_of


def _merge_extra_columns(results: list[dict[str, list]]) -> dict[str, list[str]]:
    """Join the chunks' extra columns; a chunk without a column (SDF tags vary) gets ""."""
    names: dict[str, None] = {}
    for result in results:
        names.update(dict.fromkeys(result["extra"]))
    merged: dict[str, list[str]] = {name: [] for name in names}
    for result in results:
        size = len(result["index"])
        for name in names:
            merged[name].extend(result["extra"].get(name, [""] * size))
    return merged


def add_extra_columns(
    table: pd.DataFrame, extras: dict[str, list[str]]
) -> tuple[pd.DataFrame, list[str]]:
    """Add the input file's other columns (SDF tags, CSV columns), renamed when they clash.

    A column is numeric when every non-empty value is a number (assay data, scores), else text.
    Returns the new table and the added columns' names. The columns are converted many at a
    time and joined to the table at once: inserting 10,000 columns one by one took minutes
    (pandas copies its block list per insert) and flooded stderr with PerformanceWarnings.
    """
    taken = set(table.columns)
    names: dict[str, str] = {}
    for key in extras:
        column = key
        while column in taken:
            column = f"{column} (input)"
        taken.add(column)
        names[key] = column
    if not names:
        return table, []
    n_rows = len(table)
    keys = list(extras)
    # Columns per conversion: one for tall tables (as before), many for wide short ones, so
    # that each pandas call converts about _ASSEMBLY_CHUNK values.
    batch = max(1, _ASSEMBLY_CHUNK // max(1, n_rows))
    # Columns gathered by kind and made into one 2-D block each: a Series per column costs
    # about 0.1 ms, a second for 10,000 columns.
    numeric: dict[str, np.ndarray] = {}
    text: dict[str, np.ndarray] = {}
    for start in range(0, len(keys), batch):
        part = keys[start : start + batch]
        flat = np.empty(n_rows * len(part), dtype=object)
        for i, key in enumerate(part):
            flat[i * n_rows : (i + 1) * n_rows] = extras[key]
        values = pd.Series(flat, dtype=object, copy=False)
        empty = (values == "").to_numpy(dtype=bool)
        numbers = pd.to_numeric(values.mask(empty), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        counted = (~np.isnan(numbers)).reshape(len(part), n_rows).sum(axis=1)
        filled = (~empty).reshape(len(part), n_rows).sum(axis=1)
        for i, key in enumerate(part):
            rows = slice(i * n_rows, (i + 1) * n_rows)
            if counted[i] == filled[i] and counted[i] > 0:
                numeric[names[key]] = numbers[rows]
            else:
                text[names[key]] = flat[rows]
        time.sleep(0)  # let the window's thread run between batches (see _column_array)
    blocks = [
        pd.DataFrame(
            _stack_columns(arrays, dtype), index=table.index, columns=list(arrays), dtype=dtype
        )
        for arrays, dtype in ((numeric, np.float64), (text, object))
        if arrays
    ]
    added = pd.concat(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    ordered = list(names.values())
    if list(added.columns) != ordered:
        added = added[ordered]
    return pd.concat([table, added], axis=1), ordered


def _stack_columns(arrays: dict[str, np.ndarray], dtype: type) -> np.ndarray:
    """The 1-D arrays as the columns of one 2-D array (rows x columns)."""
    values = next(iter(arrays.values()))
    block = np.empty((len(values), len(arrays)), dtype=dtype)
    for position, column in enumerate(arrays.values()):
        block[:, position] = column
    return block


def props_table(library: Library) -> pd.DataFrame:
    """The ``python main.py props`` output: :data:`LIBRARY_COLUMNS` in input order."""
    return library.table.loc[:, list(LIBRARY_COLUMNS)].copy()


__all__ = [
    "DUPLICATE_COLUMN",
    "LIBRARY_COLUMNS",
    "JobCancelled",
    "Library",
    "LoadOptions",
    "add_extra_columns",
    "assemble_library",
    "find_duplicates",
    "load_library",
    "parse_record",
    "process_records",
    "props_table",
]
