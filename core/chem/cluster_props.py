"""``props`` on a Dask cluster: the same table as on one machine, written once every part exists.

The file is cut into byte ranges (:mod:`core.chem.partitions`); every range first counts its
records (so each record keeps its file index and default name), then is described by the same
function as on one machine (:func:`core.chem.library.process_records`), its table written as
``<output>.parts/part-00012.parquet`` through a temporary file and a rename: a task run again
after its worker died replaces its part, never adds a second one. When every part is there,
they are read in order, joined and written to the output atomically, and the parts folder is
removed. A scheduler that goes away, a failed part or Ctrl+C leave the output as it was.

Where the workers read and write: by default they open the input file and the parts folder by
their absolute paths, which holds for ``local:N`` and for a cluster sharing a file system (the
user names the shared path). ``ship_records=True`` is for workers that share no file system:
this process reads the records and sends them with each task, and each task returns its part
as Parquet bytes for this process to write. Files that cannot be cut by bytes (workbooks,
UTF-16 text, table cells holding line breaks) are read here and their records sent too.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.chem.library import (
    DUPLICATE_COLUMN,
    LIBRARY_COLUMNS,
    Library,
    LoadOptions,
    assemble_library,
    find_duplicates,
    process_records,
    props_table,
)
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
from core.chem.standardize import StandardizeOptions
from core.cluster import ClusterError, Task, run_tasks
from core.fileio import atomic_path, write_bytes_atomic
from core.jobs import CancelCheck, ProgressCallback, no_progress

DEFAULT_PARTITION_SIZE = 5000
"""Records per part: about half a minute of one worker's time, so a lost worker costs little."""

PARTS_SUFFIX = ".parts"
_PART_NAME = "part-{:05d}.parquet"


@dataclass(slots=True, frozen=True)
class ClusterPropsResult:
    """What a cluster run did: the summary line of :meth:`Library.summary`, the parts, and a
    note when the file was read here instead of by the workers (why)."""

    summary: str
    n_parts: int
    n_records: int
    read_here: str = ""


def parts_folder(output: str | os.PathLike) -> Path:
    """``<output>.parts``: where the workers write their parts."""
    output = Path(output).resolve()
    return output.with_name(output.name + PARTS_SUFFIX)


def props_on_cluster(
    client: Any,
    path: str | os.PathLike,
    output: str | os.PathLike,
    options: LoadOptions | None = None,
    *,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    note: ProgressCallback | None = None,
) -> ClusterPropsResult:
    """Compute the ``props`` table of ``path`` on the cluster of ``client`` and write ``output``.

    Parameters
    ----------
    client
        A ``distributed.Client`` (see :func:`core.cluster.connect`).
    partition_size
        Records per part (about: ranges are cut by bytes from the head's bytes per record).
    ship_records
        The workers share no file system with this machine (see the module docstring).

    Raises
    ------
    LibraryReadError
        The file cannot be read (said before any task runs).
    ClusterError
        The scheduler went away, the workers cannot see the files, a part came back wrong.
    ExportError, OSError
        The output or a part cannot be written.
    JobCancelled
        ``is_cancelled`` turned true.
    """
    from core.chem.export import export_table

    options = options or LoadOptions()
    path = Path(path).resolve()
    folder = parts_folder(output)
    _prepare_parts_folder(folder)
    try:
        read_here = ""
        plan = partitions = None
        try:
            plan, partitions = plan_partitions(path, options.read, partition_size)
        except NotSplittable as why:
            read_here = str(why)
        if plan is not None and not ship_records:
            _check_workers_see(client, path, folder)
            try:
                n_parts, n_records = _run_ranges(
                    client, plan, partitions, folder, options.standardize, progress, is_cancelled
                )
            except PartitionMismatch as why:
                read_here = f"{why} (the file is read here and its records sent)"
                _empty_folder(folder)
        if plan is None or ship_records or read_here:
            if read_here and note is not None:
                note(-1.0, f"{path.name}: {read_here}")
            if not ship_records:
                _check_workers_see(client, None, folder)
            n_parts, n_records = _run_shipped(
                client,
                path,
                options.read,
                folder,
                options.standardize,
                partition_size,
                ship_records,
                progress,
                is_cancelled,
            )
        table = _merge_parts(folder, n_parts)
        if len(table) != n_records:
            raise ClusterError(
                f"{path.name}: the parts hold {len(table):,} rows, {n_records:,} records were "
                "read; nothing written"
            )
        progress(0.995, "Writing the table")
        summary = _summary(table, path)
        export_table(table, output)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    progress(1.0, summary)
    return ClusterPropsResult(summary, n_parts, n_records, read_here)


def _prepare_parts_folder(folder: Path) -> None:
    """Create ``folder``; a leftover of an interrupted run (only part files) is emptied, anything
    else there is refused rather than deleted."""
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


def _empty_folder(folder: Path) -> None:
    for entry in folder.iterdir():
        entry.unlink(missing_ok=True)


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
    standardize: StandardizeOptions,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[int, int]:
    """Count then describe every byte range on the workers; returns (parts written, records)."""
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

    def describing(fraction: float, message: str) -> None:
        progress(0.05 + 0.9 * max(0.0, fraction), message)

    work = [(p, s) for p, s in zip(partitions, starts, strict=True) if s.n_records]
    tasks = (
        Task(
            describe_range,
            (plan, p, s.start_index, s.header_possible, standardize, str(folder), n),
            f"part {n} (records {s.start_index + 1:,} to {s.start_index + s.n_records:,})",
        )
        for n, (p, s) in enumerate(work)
    )
    for position, rows in run_tasks(
        client, tasks, total=len(work), progress=describing, is_cancelled=is_cancelled
    ):
        expected = work[position][1].n_records
        if rows != expected:
            raise ClusterError(
                f"part {position} gave {rows:,} rows for {expected:,} records (did the input "
                "file change during the run?); nothing written"
            )
    return len(work), sum(s.n_records for s in starts)


def _run_shipped(
    client: Any,
    path: Path,
    read: ReadOptions,
    folder: Path,
    standardize: StandardizeOptions,
    partition_size: int,
    return_bytes: bool,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[int, int]:
    """Read the records here, send them with the tasks; returns (parts written, records)."""
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
                describe_records,
                (records, standardize, None if return_bytes else str(folder), n),
                f"part {n} (records {records[0].index + 1:,} to {records[-1].index + 1:,})",
            )

    workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    for position, result in run_tasks(
        client,
        tasks(),
        total=total,
        max_in_flight=2 * workers + 2,
        progress=progress,
        is_cancelled=is_cancelled,
    ):
        if return_bytes:
            rows, data = result
            write_bytes_atomic(folder / _PART_NAME.format(position), data)
        else:
            rows = result
        if rows != sizes[position]:
            raise ClusterError(
                f"part {position} gave {rows:,} rows for {sizes[position]:,} records; nothing "
                "written"
            )
    return len(sizes), sum(sizes.values())


# ----------------------------------------------------------------------------------------------
# Tasks (run on the workers)


def describe_range(
    plan: FilePlan,
    part: Partition,
    start_index: int,
    header_possible: bool,
    standardize: StandardizeOptions,
    folder: str,
    number: int,
) -> int:
    """Describe the records of one byte range and write its part; returns its row count."""
    records = part_records(plan, part, start_index, header_possible)
    return describe_records(records, standardize, folder, number)


def describe_records(
    records: list[RawRecord], standardize: StandardizeOptions, folder: str | None, number: int
) -> int | tuple[int, bytes]:
    """Describe ``records`` as ``props`` does on one machine.

    With a ``folder``, write the part there (temporary file, then rename: a second run of the
    same task replaces it) and return the row count; without, return ``(rows, parquet bytes)``.
    """
    result = process_records(records, standardize)
    result["extra"] = {}  # props writes no input columns: no need to convert them
    table = props_table(assemble_library([result]))
    if folder is None:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return len(table), buffer.getvalue()
    with atomic_path(Path(folder) / _PART_NAME.format(number)) as temporary:
        table.to_parquet(temporary, index=False)
    return len(table)


# ----------------------------------------------------------------------------------------------
# Merging


def _merge_parts(folder: Path, n_parts: int) -> pd.DataFrame:
    """The parts' tables in part order, as one table with the single-machine columns."""
    frames = []
    for number in range(n_parts):
        part = folder / _PART_NAME.format(number)
        if not part.exists():
            raise ClusterError(f"part {number} is missing from {folder}; nothing written")
        frames.append(pd.read_parquet(part))
    if not frames:
        return props_table(assemble_library([]))
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return table.loc[:, list(LIBRARY_COLUMNS)]


def _summary(table: pd.DataFrame, path: Path) -> str:
    """The single-machine summary line (records, valid, invalid, duplicates)."""
    marked = table.copy(deep=False)
    marked[DUPLICATE_COLUMN] = find_duplicates(table)
    return Library(table=marked, source=path).summary()
