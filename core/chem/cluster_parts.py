"""One function per part of a compound file, on a Dask cluster; the parts read back in order.

Every cluster verb (``props``, ``search``, ``score``) works the same way and differs only in
the function run on each part's records (a :class:`PartWork`). The file is cut into byte ranges
(:mod:`core.chem.partitions`); every range first counts its records (so each record keeps its
file index and default name), then the part function turns its records into a table, written as
``<output>.parts/part-00012.parquet`` through a temporary file and a rename: a task run again
after its worker died replaces its part, never adds a second one. The caller streams the parts
back, never joining them (a vendor catalogue of 100 million molecules does not fit in the
client's memory): one part at a time in file order (:func:`iter_parts`), or a k-way merge of
parts each sorted by a key (:func:`merge_sorted_parts`, ``heapq.merge`` over batches of each
part: about :data:`MERGE_ROWS_IN_MEMORY` rows held); :func:`read_parts` still reads them all
for callers that want the table. The output is written through a temporary file renamed at
the end and the parts folder is removed whatever happens (:func:`parts_folder_for`), so a
scheduler that goes away, a failed or missing part or Ctrl+C leave the output as it was.

Where the workers read and write: by default they open the input file and the parts folder by
their absolute paths, which holds for ``local:N`` and for a cluster sharing a file system (the
user names the shared path). ``ship_records=True`` is for workers that share no file system:
this process reads the records and sends them with each task, and each task returns its part
as Parquet bytes for this process to write. Files that cannot be cut by bytes (workbooks,
UTF-16 text, table cells holding line breaks) are read here and their records sent too.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.chem.partitions import (
    FilePlan,
    NotSplittable,
    Partition,
    PartitionMismatch,
    count_part,
    part_records,
    part_starts,
    plan_partitions,
)
from core.chem.readers import RawRecord, ReadOptions, estimate_record_count, iter_record_chunks
from core.cluster import ClusterError, Task, run_tasks
from core.fileio import atomic_path, write_bytes_atomic
from core.jobs import CancelCheck, ProgressCallback, no_progress

DEFAULT_PARTITION_SIZE = 5000
"""Records per part: about half a minute of one worker's time, so a lost worker costs little."""

PARTS_SUFFIX = ".parts"
_PART_NAME = "part-{:05d}.parquet"


@dataclass(slots=True, frozen=True)
class PartWork:
    """What every part computes: ``function(records, *args) -> (table, tally)``.

    ``function`` must be a module-level function (the workers import it by name); ``table`` is
    written as the part's Parquet file, ``tally`` (small, picklable: counts, a model's card)
    comes back to the caller as it is. ``one_row_per_record``: the table has a row for every
    record (props, score), checked against the records each part was given; a search's hits
    are fewer.
    """

    function: Callable[..., tuple[pd.DataFrame, Any]]
    args: tuple = ()
    one_row_per_record: bool = True


@dataclass(slots=True, frozen=True)
class PartsRun:
    """What :func:`run_parts` did: the parts written (``part-00000`` to ``n_parts - 1``), the
    records read, each part's tally in part order, and a note when the file was read here
    instead of by the workers (why)."""

    n_parts: int
    n_records: int
    tallies: list[Any] = field(default_factory=list)
    read_here: str = ""


def parts_folder(output: str | os.PathLike) -> Path:
    """``<output>.parts``: where the workers write their parts."""
    output = Path(output).resolve()
    return output.with_name(output.name + PARTS_SUFFIX)


@contextlib.contextmanager
def parts_folder_for(output: str | os.PathLike) -> Iterator[Path]:
    """The parts folder of ``output``, created empty and removed on the way out, whatever
    happened (a leftover of an interrupted run, holding only part files, is emptied; a folder
    holding anything else is refused rather than deleted).

    Raises
    ------
    ClusterError
        ``<output>.parts`` exists and is not a parts folder.
    """
    folder = parts_folder(output)
    if folder.exists():
        if not folder.is_dir() or any(
            not (entry.name.startswith("part-") or entry.name.startswith("."))
            for entry in folder.iterdir()
        ):
            raise ClusterError(
                f"{folder} exists and is not a parts folder of DrugDesk: move it away, or "
                "choose another output name"
            )
        _empty_folder(folder)
    folder.mkdir(parents=False, exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _empty_folder(folder: Path) -> None:
    for entry in folder.iterdir():
        entry.unlink(missing_ok=True)


def run_parts(
    client: Any,
    path: str | os.PathLike,
    read: ReadOptions,
    folder: Path,
    work: PartWork,
    *,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    note: ProgressCallback | None = None,
) -> PartsRun:
    """Run ``work`` on every part of ``path`` on the cluster of ``client``; parts in ``folder``.

    Parameters
    ----------
    client
        A ``distributed.Client`` (see :func:`core.cluster.connect`).
    partition_size
        Records per part (about: ranges are cut by bytes from the head's bytes per record).
    ship_records
        The workers share no file system with this machine (see the module docstring).
    note
        Told (once, ``-1.0`` as the fraction) when the file is read here instead.

    Raises
    ------
    LibraryReadError
        The file cannot be read (said before any task runs).
    ClusterError
        The scheduler went away, the workers cannot see the files, a part came back wrong.
    OSError
        A part cannot be written.
    JobCancelled
        ``is_cancelled`` turned true.
    """
    path = Path(path).resolve()
    read_here = ""
    plan = partitions = None
    try:
        plan, partitions = plan_partitions(path, read, partition_size)
    except NotSplittable as why:
        read_here = str(why)
    if plan is not None and not ship_records:
        _check_workers_see(client, path, folder)
        try:
            n_parts, n_records, tallies = _run_ranges(
                client, plan, partitions, folder, work, progress, is_cancelled
            )
            return PartsRun(n_parts, n_records, tallies)
        except PartitionMismatch as why:
            read_here = f"{why} (the file is read here and its records sent)"
            _empty_folder(folder)
    if read_here and note is not None:
        note(-1.0, f"{path.name}: {read_here}")
    if not ship_records:
        _check_workers_see(client, None, folder)
    n_parts, n_records, tallies = _run_shipped(
        client, path, read, folder, work, partition_size, ship_records, progress, is_cancelled
    )
    return PartsRun(n_parts, n_records, tallies, read_here)


def _check_workers_see(client: Any, path: Path | None, folder: Path) -> None:
    """Every worker must reach the input and the parts folder by the same path."""
    for target, what in ((path, "input file"), (folder, "parts folder")):
        if target is None:
            continue
        seen = client.run(os.path.exists, str(target))
        blind = sorted(worker for worker, found in seen.items() if not found)
        if blind:
            raise ClusterError(
                f"the cluster's worker {blind[0]} cannot see the {what} {target}: put the input "
                "and output on a path every worker shares, or add --cluster-ship-records"
            )


def _run_ranges(
    client: Any,
    plan: FilePlan,
    partitions: list[Partition],
    folder: Path,
    work: PartWork,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[int, int, list[Any]]:
    """Count then run ``work`` on every byte range; returns (parts written, records, tallies)."""
    total = len(partitions)
    counts: list[tuple[int, bool]] = [(0, False)] * total

    def counting(fraction: float, message: str) -> None:
        progress(0.05 * max(0.0, fraction), f"Counting records: {message}")

    count_tasks = (Task(count_part, (plan, p), f"part {p.number}") for p in partitions)
    for position, result in run_tasks(
        client, count_tasks, total=total, progress=counting, is_cancelled=is_cancelled
    ):
        counts[position] = result
    starts = part_starts(counts)

    def working(fraction: float, message: str) -> None:
        progress(0.05 + 0.9 * max(0.0, fraction), message)

    ranges = [(p, s) for p, s in zip(partitions, starts, strict=True) if s.n_records]
    tasks = (
        Task(
            run_part_range,
            (plan, p, s.start_index, s.header_possible, work, str(folder), n),
            f"part {n} (records {s.start_index + 1:,} to {s.start_index + s.n_records:,})",
        )
        for n, (p, s) in enumerate(ranges)
    )
    tallies: list[Any] = [None] * len(ranges)
    for position, (n_read, n_rows, tally) in run_tasks(
        client, tasks, total=len(ranges), progress=working, is_cancelled=is_cancelled
    ):
        _check_part(position, ranges[position][1].n_records, n_read, n_rows, work)
        tallies[position] = tally
    return len(ranges), sum(s.n_records for s in starts), tallies


def _run_shipped(
    client: Any,
    path: Path,
    read: ReadOptions,
    folder: Path,
    work: PartWork,
    partition_size: int,
    return_bytes: bool,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[int, int, list[Any]]:
    """Read the records here, send them with the tasks; returns (parts, records, tallies)."""
    estimate = estimate_record_count(path)
    total = max(1, -(-estimate // partition_size)) if estimate else None
    chunks = iter_record_chunks(
        path, ReadOptions(read.smiles_column, read.name_column, partition_size)
    )
    sizes: dict[int, int] = {}

    def tasks() -> Iterator[Task]:
        for n, records in enumerate(chunks):
            sizes[n] = len(records)
            yield Task(
                run_part_records,
                (records, work, None if return_bytes else str(folder), n),
                f"part {n} (records {records[0].index + 1:,} to {records[-1].index + 1:,})",
            )

    workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    tallies: dict[int, Any] = {}
    for position, result in run_tasks(
        client,
        tasks(),
        total=total,
        max_in_flight=2 * workers + 2,
        progress=progress,
        is_cancelled=is_cancelled,
    ):
        if return_bytes:
            n_read, n_rows, tally, data = result
            write_bytes_atomic(folder / _PART_NAME.format(position), data)
        else:
            n_read, n_rows, tally = result
        _check_part(position, sizes[position], n_read, n_rows, work)
        tallies[position] = tally
    return len(sizes), sum(sizes.values()), [tallies[n] for n in range(len(sizes))]


def _check_part(position: int, expected: int, n_read: int, n_rows: int, work: PartWork) -> None:
    if n_read != expected or (work.one_row_per_record and n_rows != expected):
        got = n_rows if work.one_row_per_record else n_read
        raise ClusterError(
            f"part {position} gave {got:,} rows for {expected:,} records (did the input "
            "file change during the run?); nothing written"
        )


# ----------------------------------------------------------------------------------------------
# Tasks (run on the workers)


def run_part_range(
    plan: FilePlan,
    part: Partition,
    start_index: int,
    header_possible: bool,
    work: PartWork,
    folder: str,
    number: int,
) -> tuple[int, int, Any]:
    """Run ``work`` on the records of one byte range and write its part; returns
    ``(records, rows, tally)``."""
    records = part_records(plan, part, start_index, header_possible)
    return run_part_records(records, work, folder, number)


def run_part_records(
    records: list[RawRecord], work: PartWork, folder: str | None, number: int
) -> tuple[int, int, Any] | tuple[int, int, Any, bytes]:
    """Run ``work`` on ``records``.

    With a ``folder``, write the part there (temporary file, then rename: a second run of the
    same task replaces it) and return ``(records, rows, tally)``; without, return
    ``(records, rows, tally, parquet bytes)``.
    """
    table, tally = work.function(records, *work.args)
    if folder is None:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return len(records), len(table), tally, buffer.getvalue()
    with atomic_path(Path(folder) / _PART_NAME.format(number)) as temporary:
        table.to_parquet(temporary, index=False)
    return len(records), len(table), tally


# ----------------------------------------------------------------------------------------------
# Reading the parts back


def read_parts(folder: Path, n_parts: int) -> list[pd.DataFrame]:
    """The parts' tables, in part order (so in file order).

    Raises
    ------
    ClusterError
        A part is missing.
    """
    frames = []
    for number in range(n_parts):
        part = folder / _PART_NAME.format(number)
        if not part.exists():
            raise ClusterError(f"part {number} is missing from {folder}; nothing written")
        frames.append(pd.read_parquet(part))
    return frames


def concat_parts(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    """The parts as one table with a fresh index; ``empty`` (the columns) when there are none."""
    if not frames:
        return empty
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# ----------------------------------------------------------------------------------------------
# Streaming the parts back (issue 18): one part (or one batch of a part) in memory at a time

MERGE_ROWS_IN_MEMORY = 2 * DEFAULT_PARTITION_SIZE
"""Rows that :func:`merge_sorted_parts` holds at most, about (two parts' worth): each of k parts
is read ``MERGE_ROWS_IN_MEMORY // (k + 1)`` rows at a time (at least
:data:`MIN_MERGE_BATCH_ROWS`), and the merged rows go out in batches of that size."""
MIN_MERGE_BATCH_ROWS = 16
MERGE_BATCH_ROWS = 2048
"""Rows per batch when one part is read alone (:func:`iter_part_batches`)."""


def part_files(folder: Path, n_parts: int) -> list[Path]:
    """The parts' files in part order, every one checked to exist before anything is read (so
    that a missing part is said before a row is written).

    Raises
    ------
    ClusterError
        A part is missing.
    """
    files = [folder / _PART_NAME.format(number) for number in range(n_parts)]
    for number, part in enumerate(files):
        if not part.exists():
            raise ClusterError(f"part {number} is missing from {folder}; nothing written")
    return files


def part_dtypes(files: list[Path]) -> dict[str, Any]:
    """The dtype each column takes when the parts are joined by :func:`concat_parts`, from the
    parts' schemas alone (no rows read): casting every part to them makes a part written on its
    own give the same cells as the joined table (a column all empty in one part and text in
    another is ``object`` in both)."""
    empties = [_schema(file).empty_table().to_pandas() for file in files]
    if not empties:
        return {}
    joined = pd.concat(empties, ignore_index=True) if len(empties) > 1 else empties[0]
    return dict(joined.dtypes.items())


def _as_dtypes(frame: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    differ = {
        name: dtype
        for name, dtype in dtypes.items()
        if name in frame.columns and frame[name].dtype != dtype
    }
    return frame.astype(differ) if differ else frame


def iter_parts(
    folder: Path,
    n_parts: int,
    columns: list[str] | None = None,
    is_cancelled: CancelCheck | None = None,
) -> Iterator[pd.DataFrame]:
    """The parts' tables one at a time, in part order (so in file order), each cast to the
    joined table's dtypes (:func:`part_dtypes`) and indexed by its rows' positions in the joined
    table: writing them one after another writes what :func:`concat_parts` would have held.

    Raises
    ------
    ClusterError
        A part is missing (said before the first part is yielded).
    JobCancelled
        ``is_cancelled`` turned true (checked between parts).
    """
    return iter_files(part_files(folder, n_parts), columns, is_cancelled)


def iter_files(
    files: list[Path], columns: list[str] | None = None, is_cancelled: CancelCheck | None = None
) -> Iterator[pd.DataFrame]:
    """:func:`iter_parts` for any Parquet files of one table (a part's sorted run, say)."""
    from core.jobs import check_cancelled

    dtypes = part_dtypes(files)
    start = 0
    for file in files:
        check_cancelled(is_cancelled)
        frame = pd.read_parquet(file, columns=columns)
        frame = _as_dtypes(frame if columns is None else frame.loc[:, columns], dtypes)
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame


def iter_part_batches(file: Path, batch_rows: int = MERGE_BATCH_ROWS) -> Iterator[Any]:
    """One file's rows as ``pyarrow.RecordBatch`` es: an Arrow IPC file (``.arrow``, written
    by :func:`write_batched`) batch by batch as written, reading one at a time; a Parquet file
    ``batch_rows`` at a time (``ParquetFile.iter_batches``, which decodes a whole row group:
    the merge rewrites large ones first). A merge gathers its rows from them without making a
    pandas table of each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if file.suffix == ARROW_SUFFIX:
        with pa.OSFile(str(file)) as source:
            reader = pa.ipc.open_file(source)
            for number in range(reader.num_record_batches):
                yield reader.get_batch(number)
        return
    with pq.ParquetFile(file, pre_buffer=False) as parquet:
        yield from parquet.iter_batches(batch_size=batch_rows, use_threads=False)


ARROW_SUFFIX = ".arrow"


def write_batched(table: Any, path: Path, rows: int) -> Path:
    """Write a ``pyarrow.Table`` (or a pandas one) as an Arrow IPC file (``path`` with the
    suffix ``.arrow``) of record batches of ``rows``, for a k-way merge; returns its path.

    Not Parquet: reading a batch of Parquet decodes its whole row group, and a file of small
    row groups has a footer that takes about 1 KB of memory per row group and column once
    opened (3 MB an open file for a 5,000-row part in batches of 41); an IPC file's footer is
    24 bytes a batch and one batch is read at a time."""
    import pyarrow as pa

    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    path = path.with_suffix(ARROW_SUFFIX)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(1, rows))
    return path


def _schema(file: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if file.suffix == ARROW_SUFFIX:
        with pa.OSFile(str(file)) as source:
            return pa.ipc.open_file(source).schema
    return pq.read_schema(file)


def merge_batch_rows(n_files: int) -> int:
    """Rows that a k-way merge of ``n_files`` files reads from each at a time: half of
    :data:`MERGE_ROWS_IN_MEMORY` shared among them (at least :data:`MIN_MERGE_BATCH_ROWS`).
    Files written in row groups of this size are merged without being rewritten."""
    return max(MIN_MERGE_BATCH_ROWS, (MERGE_ROWS_IN_MEMORY // 2) // max(n_files, 1))


def merge_sorted_parts(
    folder: Path,
    n_parts: int,
    key: Callable[[Any], list[tuple]],
    *,
    limit: int | None = None,
    batch_rows: int | None = None,
    is_cancelled: CancelCheck | None = None,
    open_batches: Callable[[Path], Iterator[Any]] | None = None,
) -> Iterator[pd.DataFrame]:
    """The rows of parts that are each sorted by ``key``, merged into one order
    (``heapq.merge`` over rows of per-part batch iterators); at most ``limit`` rows.

    Each part is read ``batch_rows`` rows at a time (:func:`iter_part_batches`; by default half
    of :data:`MERGE_ROWS_IN_MEMORY` shared among the parts) and the merged rows come out in
    pandas batches of the other half (or ``batch_rows``, if more), so the merge holds a batch
    per part and the batch it is filling, never a whole part, plus each open part's reader
    (about 4 KB a column). A part written in row groups larger than the batches is rewritten
    first (reading a batch decodes its whole row group). More than :data:`MAX_OPEN_FILES` parts
    are merged in groups first (:func:`merge_sorted_files`).
    ``key(batch)`` gets a ``pyarrow.RecordBatch`` and gives the sort key of each of its rows
    (smallest first); keys must differ between rows (end them with the row's position in the
    file) for the order to be the same whatever the parts. Every batch is cast to the joined
    table's dtypes (:func:`part_dtypes`).

    Raises
    ------
    ClusterError
        A part is missing (said before the first batch is yielded).
    JobCancelled
        ``is_cancelled`` turned true (checked between output batches).
    """
    return merge_sorted_files(
        part_files(folder, n_parts),
        key,
        limit=limit,
        batch_rows=batch_rows,
        is_cancelled=is_cancelled,
        open_batches=open_batches,
    )


def merge_sorted_files(
    files: list[Path],
    key: Callable[[Any], list[tuple]],
    *,
    limit: int | None = None,
    batch_rows: int | None = None,
    is_cancelled: CancelCheck | None = None,
    open_batches: Callable[[Path], Iterator[Any]] | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`merge_sorted_parts` for any Parquet files of one table, each sorted by ``key``.

    More than :data:`MAX_OPEN_FILES` files are merged in groups first, each group into a sorted
    file beside its first file (removed when the merge ends), so that the merge never holds
    more files open than a desktop's file-descriptor limit allows."""
    if len(files) > MAX_OPEN_FILES:
        return _merge_in_groups(files, key, limit, batch_rows, is_cancelled, open_batches)
    if open_batches is not None:
        return _merge_files(files, key, limit, batch_rows, is_cancelled, open_batches)
    return _merge_rechunked(files, key, limit, batch_rows, is_cancelled)


def _merge_rechunked(
    files: list[Path],
    key: Callable[[Any], list[tuple]],
    limit: int | None,
    batch_rows: int | None,
    is_cancelled: CancelCheck | None,
) -> Iterator[pd.DataFrame]:
    """:func:`_merge_files`, after rewriting every Parquet file of more than one small row
    group as an Arrow IPC file of the merge's batches (:func:`write_batched`; one file at a
    time, beside it, removed at the end): the merge keeps every file open and a batch of each."""
    import pyarrow.parquet as pq

    rows = batch_rows or merge_batch_rows(len(files))
    copies: list[Path] = []
    try:
        chosen = []
        for file in files:
            if file.suffix != ARROW_SUFFIX:
                metadata = pq.read_metadata(file)
                small = metadata.num_row_groups <= 1 and metadata.num_rows <= rows
                if not small:
                    copy = write_batched(
                        pq.read_table(file), file.with_name(f"{file.name}.batches"), rows
                    )
                    copies.append(copy)
                    file = copy
            chosen.append(file)
        yield from _merge_files(chosen, key, limit, rows, is_cancelled, None)
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)


MAX_OPEN_FILES = 256
"""Files that one k-way merge opens at most (macOS allows 256 by default, Linux 1,024)."""


def _merge_in_groups(
    files: list[Path],
    key: Callable[[Any], list[tuple]],
    limit: int | None,
    batch_rows: int | None,
    is_cancelled: CancelCheck | None,
    open_batches: Callable[[Path], Iterator[Any]] | None,
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    schema = pa.unify_schemas([_schema(file) for file in files], promote_options="permissive")
    merged: list[Path] = []
    try:
        for start in range(0, len(files), MAX_OPEN_FILES):
            group = files[start : start + MAX_OPEN_FILES]
            target = group[0].with_name(f"{group[0].name}.merged-{len(merged):05d}{ARROW_SUFFIX}")
            merged.append(target)
            # Each group's own ``limit`` best hold the answer's (a top-k's k best).
            batches = merge_sorted_files(
                group,
                key,
                limit=limit,
                batch_rows=batch_rows,
                is_cancelled=is_cancelled,
                open_batches=open_batches,
            )
            rows = merge_batch_rows(-(-len(files) // MAX_OPEN_FILES))
            with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
                for batch in batches:
                    table = pa.Table.from_pandas(batch, schema=schema, preserve_index=False)
                    writer.write_table(table, max_chunksize=rows)
        yield from merge_sorted_files(
            merged, key, limit=limit, batch_rows=batch_rows, is_cancelled=is_cancelled
        )
    finally:
        for target in merged:
            target.unlink(missing_ok=True)


def _merge_files(
    files: list[Path],
    key: Callable[[Any], list[tuple]],
    limit: int | None,
    batch_rows: int | None,
    is_cancelled: CancelCheck | None,
    open_batches: Callable[[Path], Iterator[Any]] | None,
) -> Iterator[pd.DataFrame]:
    import heapq
    import itertools

    import pyarrow as pa

    from core.jobs import check_cancelled

    dtypes = part_dtypes(files)
    schemas = [_schema(file) for file in files]
    # pandas' metadata (Int64, object columns) lives on the files' schemas: the first one's.
    metadata = schemas[0].metadata if schemas else None
    # Half the rows for the parts' batches, half for the batch being filled.
    if batch_rows is None:
        batch_rows = merge_batch_rows(len(files))
    out_rows = max(batch_rows, MERGE_ROWS_IN_MEMORY // 2)
    opener = open_batches or (lambda file: iter_part_batches(file, batch_rows=batch_rows))
    batches: dict[int, pa.RecordBatch] = {}
    left: dict[int, int] = {}  # rows of each batch not yet gathered
    serial = itertools.count()

    def rows_of(file: Path) -> Iterator[tuple]:
        # (key..., batch, row in batch): the batch stays in ``batches`` while its rows merge.
        for batch in opener(file):
            if not batch.num_rows:
                continue
            number = next(serial)
            batches[number] = batch
            left[number] = batch.num_rows
            for position, row_key in enumerate(key(batch)):
                yield (*row_key, number, position)

    merged = heapq.merge(*(rows_of(file) for file in files))
    if limit is not None:
        merged = itertools.islice(merged, limit)
    while True:
        check_cancelled(is_cancelled)
        chosen = list(itertools.islice(merged, out_rows))
        if not chosen:
            return
        gathered = _gather(batches, chosen, metadata, dtypes)
        for item in chosen:
            left[item[-2]] -= 1
        for number in [n for n, count in left.items() if count == 0]:
            del batches[number], left[number]  # every row written: the batch is let go
        yield gathered


def _gather(
    batches: dict[int, Any], chosen: list[tuple], metadata: Any, dtypes: dict
) -> pd.DataFrame:
    """The rows named by ``chosen`` (``(..., batch, row)``), in that order, as pandas: the
    batches they come from joined (Arrow: no copy), one ``take``, one conversion."""
    import numpy as np
    import pyarrow as pa

    offsets: dict[int, int] = {}
    tables = []
    size = 0
    for number in dict.fromkeys(item[-2] for item in chosen):
        offsets[number] = size
        tables.append(pa.Table.from_batches([batches[number]]))
        size += batches[number].num_rows
    joined = (
        pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    )
    where = np.fromiter(
        (offsets[item[-2]] + item[-1] for item in chosen), dtype=np.int64, count=len(chosen)
    )
    frame = joined.take(where).replace_schema_metadata(metadata).to_pandas()
    return _as_dtypes(frame, dtypes)
