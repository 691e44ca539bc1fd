"""``props`` on a Dask cluster: the same table as on one machine, written once every part exists.

Each part is described by the same function as on one machine
(:func:`core.chem.library.process_records`), through the part machinery of
:mod:`core.chem.cluster_parts` (byte ranges read by the workers, parts written atomically, read
back in order); the joined table is checked to hold a row for every record read, then written
to the output atomically. A scheduler that goes away, a failed part or Ctrl+C leave the output
as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.chem.cluster_parts import (
    DEFAULT_PARTITION_SIZE,
    PartWork,
    concat_parts,
    parts_folder,
    parts_folder_for,
    read_parts,
    run_parts,
)
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
from core.chem.readers import RawRecord
from core.chem.standardize import StandardizeOptions
from core.cluster import ClusterError
from core.jobs import CancelCheck, ProgressCallback, no_progress

__all__ = [
    "DEFAULT_PARTITION_SIZE",
    "ClusterPropsResult",
    "describe_records",
    "parts_folder",
    "props_on_cluster",
]


@dataclass(slots=True, frozen=True)
class ClusterPropsResult:
    """What a cluster run did: the summary line of :meth:`Library.summary`, the parts, and a
    note when the file was read here instead of by the workers (why)."""

    summary: str
    n_parts: int
    n_records: int
    read_here: str = ""


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
        The workers share no file system with this machine (see :mod:`core.chem.cluster_parts`).

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
    with parts_folder_for(output) as folder:
        run = run_parts(
            client,
            path,
            options.read,
            folder,
            PartWork(describe_records, (options.standardize,)),
            partition_size=partition_size,
            ship_records=ship_records,
            progress=progress,
            is_cancelled=is_cancelled,
            note=note,
        )
        table = concat_parts(read_parts(folder, run.n_parts), props_table(assemble_library([])))
        table = table.loc[:, list(LIBRARY_COLUMNS)]
        if len(table) != run.n_records:
            raise ClusterError(
                f"{path.name}: the parts hold {len(table):,} rows, {run.n_records:,} records "
                "were read; nothing written"
            )
        progress(0.995, "Writing the table")
        summary = _summary(table, path)
        export_table(table, output)
    progress(1.0, summary)
    return ClusterPropsResult(summary, run.n_parts, run.n_records, run.read_here)


def describe_records(
    records: list[RawRecord], standardize: StandardizeOptions
) -> tuple[pd.DataFrame, None]:
    """The part function of ``props``: ``records`` described as ``props`` does on one machine."""
    result = process_records(records, standardize)
    result["extra"] = {}  # props writes no input columns: no need to convert them
    return props_table(assemble_library([result])), None


def _summary(table: pd.DataFrame, path: Path) -> str:
    """The single-machine summary line (records, valid, invalid, duplicates)."""
    marked = table.copy(deep=False)
    marked[DUPLICATE_COLUMN] = find_duplicates(table)
    return Library(table=marked, source=path).summary()
