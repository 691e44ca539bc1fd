"""``props`` on a Dask cluster: the same table as on one machine, streamed once every part exists.

Each part is described by the same function as on one machine
(:func:`core.chem.library.process_records`), through the part machinery of
:mod:`core.chem.cluster_parts` (byte ranges read by the workers, parts written atomically).
The parts are then appended to the output one after another, in file order, never joined in
memory (:func:`write_props_parts`): a vendor catalogue of 100 million molecules does not fit in
this machine's memory, its parts do one at a time. The output goes to a temporary file renamed
at the end, after the rows were counted against the records read: a scheduler that goes away,
a failed or missing part, a cancel or Ctrl+C leave the output as it was. A workbook (.xlsx) of
more rows than a sheet holds is refused before any task runs (from the file's estimated record
count; the exact count is checked again before the first row is written).
"""

from __future__ import annotations

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
    iter_parts,
    parts_folder,
    parts_folder_for,
    run_parts,
)
from core.chem.library import (
    LIBRARY_COLUMNS,
    LoadOptions,
    assemble_library,
    process_records,
    props_table,
)
from core.chem.readers import RawRecord, estimate_record_count
from core.chem.standardize import StandardizeOptions
from core.cluster import ClusterError
from core.jobs import CancelCheck, ProgressCallback, no_progress

__all__ = [
    "DEFAULT_PARTITION_SIZE",
    "ClusterPropsResult",
    "describe_records",
    "parts_folder",
    "props_on_cluster",
    "write_props_parts",
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
    from core.chem.export import check_xlsx_rows

    options = options or LoadOptions()
    path = Path(path).resolve()
    estimate = estimate_record_count(path)
    check_xlsx_rows(output, estimate or 0, estimated=True)  # said before any task runs
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
        progress(0.995, "Writing the table")
        summary = write_props_parts(
            folder, run.n_parts, run.n_records, output, path.name, is_cancelled
        )
    progress(1.0, summary)
    return ClusterPropsResult(summary, run.n_parts, run.n_records, run.read_here)


def write_props_parts(
    folder: Path,
    n_parts: int,
    n_records: int,
    output: str | os.PathLike,
    source_name: str = "",
    is_cancelled: CancelCheck | None = None,
) -> str:
    """Write the ``props`` parts in ``folder`` to ``output``, one part after another (only one
    part in memory), and return the summary line of :meth:`Library.summary`.

    The file has the bytes that writing the joined table would give (a workbook: the same
    cells); it is written through a temporary file renamed at the end, so a missing part, a
    part count that does not add up to ``n_records``, a cancel or a full disk leave ``output``
    as it was.

    Raises
    ------
    ClusterError
        A part is missing, or the parts do not hold ``n_records`` rows.
    ExportError
        ``output`` cannot be written (a workbook of more rows than a sheet holds is refused
        before a row is read).
    JobCancelled
        ``is_cancelled`` turned true between parts.
    """
    from core.chem.export import check_xlsx_rows, export_table_stream

    check_xlsx_rows(output, n_records)
    tally = _Tally()
    parts = iter_parts(folder, n_parts, list(LIBRARY_COLUMNS), is_cancelled)
    export_table_stream(
        tally.counted(parts, n_records, source_name), output, props_table(assemble_library([]))
    )
    return tally.summary()


class _Tally:
    """The summary line's counts (records, valid, duplicates), gathered part by part as the
    parts are written: a duplicate is a valid row whose InChIKey an earlier row has. Keys are
    kept as 64-bit hashes (8 bytes a row, not the table): two different InChIKeys of the same
    hash would make one duplicate too few in the summary (about 1 in 3,000 at 100 million
    distinct molecules); the table's ``duplicate_of`` column is not written by ``props``."""

    def __init__(self) -> None:
        self.n_records = 0
        self.n_valid = 0
        self._keys: list[np.ndarray] = []

    def counted(
        self, frames: Iterator[pd.DataFrame], n_records: int, source_name: str
    ) -> Iterator[pd.DataFrame]:
        """``frames``, counted as they pass; raises (inside the writer, so that nothing is
        written) unless they hold ``n_records`` rows."""
        for frame in frames:
            valid = frame["valid"].to_numpy(dtype=bool)
            keys = frame["inchikey"].to_numpy(dtype=object)
            usable = valid & (keys != "")
            self.n_records += len(frame)
            self.n_valid += int(valid.sum())
            self._keys.append(pd.util.hash_array(keys[usable]))
            yield frame
        if self.n_records != n_records:
            raise ClusterError(
                f"{source_name}: the parts hold {self.n_records:,} rows, {n_records:,} "
                "records were read; nothing written"
            )

    def summary(self) -> str:
        keys = np.concatenate(self._keys) if self._keys else np.zeros(0, np.uint64)
        self._keys = [keys]
        n_duplicates = len(keys) - len(np.unique(keys))
        n_invalid = self.n_records - self.n_valid
        text = f"{self.n_records:,} records: {self.n_valid:,} valid, {n_invalid:,} invalid"
        if n_duplicates:
            text += f", {n_duplicates:,} duplicates"
        return text


def describe_records(
    records: list[RawRecord], standardize: StandardizeOptions
) -> tuple[pd.DataFrame, None]:
    """The part function of ``props``: ``records`` described as ``props`` does on one machine."""
    result = process_records(records, standardize)
    result["extra"] = {}  # props writes no input columns: no need to convert them
    return props_table(assemble_library([result])), None
