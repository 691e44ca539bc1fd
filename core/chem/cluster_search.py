"""``search`` on a Dask cluster: each part finds its own hits, this process merges them into the
single-machine answer (issue 18), a batch at a time (:func:`iter_merged_hits`): substructure
hits part after part, similarity hits by a k-way merge of the parts, each sorted on its worker.

Every part reads its records (:mod:`core.chem.cluster_parts`), takes their SMILES by the rule
of :func:`record_search_smiles` (the one ``drugdesk search`` uses on one machine) and searches
them with the single-machine functions of :mod:`core.chem.search`; its hits carry their global
row (the record's position in the file). The merge is exact, not approximate:

- a threshold keeps every molecule at or above it, so the parts' hits together are the answer;
- a top-k answer is the k best with ties in file order, and each of its molecules is among the
  k best of its own part by that same order, so the parts' own top-k lists hold the answer: it
  is their k best by (similarity, descending; row, ascending);
- substructure hits are the matching rows in file order.

Similarities are the same float64 divisions of two bit counts as on one machine, so they are
equal to the last bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from core.chem.cluster_parts import (
    DEFAULT_PARTITION_SIZE,
    PartWork,
    concat_parts,
    iter_parts,
    merge_sorted_parts,
    parts_folder_for,
    run_parts,
)
from core.chem.readers import RawRecord, ReadOptions
from core.jobs import CancelCheck, ProgressCallback, no_progress

HIT_COLUMNS = ["row", "name", "smiles", "similarity"]
"""The columns of a search's answer: the record's 0-based position in the file, its name, its
SMILES as read (RDKit's SMILES for SDF records) and its similarity (empty for substructure)."""


@dataclass(slots=True, frozen=True)
class SearchRequest:
    """One search: ``similar`` (a SMILES) with ``top_k`` and/or ``threshold``, or
    ``substructure`` (a SMARTS)."""

    similar: str | None = None
    substructure: str | None = None
    top_k: int | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if (self.similar is None) == (self.substructure is None):
            raise ValueError("a search takes a similar SMILES or a substructure SMARTS")


@dataclass(slots=True, frozen=True)
class ClusterSearchResult:
    """The merged hits (:data:`HIT_COLUMNS`; ``None`` when they were streamed into the output
    instead), the records read, how many had a structure to search, the parts run, the number
    of hits and the best similarity (``None``: no hit, or a substructure search)."""

    table: pd.DataFrame | None
    n_records: int
    n_searched: int
    n_parts: int
    read_here: str = ""
    n_hits: int = 0
    best: float | None = None


def record_search_smiles(record: RawRecord) -> str:
    """The SMILES a search reads for ``record``: "" for a record that could not be read, RDKit's
    SMILES for an SDF record, else the text as read (parsed once, by the search's index; a
    SMILES that RDKit cannot parse is skipped there)."""
    if record.error:
        return ""
    if record.kind == "molblock":
        from core.chem.library import parse_record

        mol, _ = parse_record(record)
        return Chem.MolToSmiles(mol) if mol is not None else ""
    return record.text


def search_on_cluster(
    client: Any,
    path: str | os.PathLike,
    output: str | os.PathLike,
    request: SearchRequest,
    read: ReadOptions | None = None,
    *,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    note: ProgressCallback | None = None,
    write: bool = False,
) -> ClusterSearchResult:
    """Search ``path`` on the cluster of ``client``; the parts go beside ``output`` (removed
    before this returns) and the merged hits come back, equal to the single-machine search's.

    ``write``: stream the merged hits into ``output`` (.csv, .tsv, .sdf, .xlsx) instead of
    returning them (the result's ``table`` is ``None``): a threshold or substructure search of a
    vendor catalogue may hit more molecules than fit in memory. Written through a temporary
    file renamed at the end, with the bytes that writing the returned table would give (a
    workbook: its cells; a workbook of more hits than a sheet holds is refused, nothing
    written).

    Raises
    ------
    LibraryReadError
        The file cannot be read (said before any task runs).
    SearchError
        The query cannot be read (raised by the first part).
    ClusterError, OSError, JobCancelled
        As :func:`core.chem.cluster_parts.run_parts`.
    ExportError
        ``write`` and the output cannot be written.
    """
    path = Path(path).resolve()
    if write:
        from core.chem.export import export_format

        export_format(output)  # a wrong suffix is said before any task runs
    with parts_folder_for(output) as folder:
        run = run_parts(
            client,
            path,
            read or ReadOptions(),
            folder,
            PartWork(search_part, (request,), one_row_per_record=False),
            partition_size=partition_size,
            ship_records=ship_records,
            progress=progress,
            is_cancelled=is_cancelled,
            note=note,
        )
        count = _Counted()
        merged = count.frames(iter_merged_hits(folder, run.n_parts, request, is_cancelled))
        if write:
            from core.chem.export import export_table_stream

            export_table_stream(merged, output, _empty_hits(), smiles_column="smiles")
            table = None
        else:
            table = _hits_frame(concat_parts(list(merged), _empty_hits()))
    progress(1.0, f"{count.rows:,} hits among {run.n_records:,} records")
    return ClusterSearchResult(
        table,
        run.n_records,
        int(sum(run.tallies)),
        run.n_parts,
        run.read_here,
        count.rows,
        count.best if request.similar is not None else None,
    )


class _Counted:
    """The hits and the first (best) similarity, counted as the merged hits pass."""

    def __init__(self) -> None:
        self.rows = 0
        self.best: float | None = None

    def frames(self, frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            if self.best is None and len(frame):
                self.best = float(frame["similarity"].iloc[0])
            self.rows += len(frame)
            yield frame


def iter_merged_hits(
    folder: Path,
    n_parts: int,
    request: SearchRequest,
    is_cancelled: CancelCheck | None = None,
) -> Iterator[pd.DataFrame]:
    """The single-machine answer from the parts' hits (see the module docstring), a batch at a
    time and never whole: substructure hits part after part (file order); similarity hits by a
    k-way merge of the parts, each sorted by (similarity, descending; row) on its worker
    (:func:`search_part`), stopped after ``top_k``. Each batch has :data:`HIT_COLUMNS` with
    the dtypes of :func:`hits_table`."""
    if request.substructure is not None:
        for frame in iter_parts(folder, n_parts, HIT_COLUMNS, is_cancelled):
            if len(frame):
                yield _hits_frame(frame)
        return
    for frame in merge_sorted_parts(
        folder, n_parts, _rank_key, limit=request.top_k, is_cancelled=is_cancelled
    ):
        yield _hits_frame(frame)


def _rank_key(batch: Any) -> list[tuple]:
    """Best first, ties in file order: (-similarity, row) of a ``pyarrow.RecordBatch``."""
    similarity = batch.column("similarity").to_numpy(zero_copy_only=False)
    rows = batch.column("row").to_numpy(zero_copy_only=False)
    return list(zip((-similarity).tolist(), rows.tolist(), strict=True))


def _empty_hits() -> pd.DataFrame:
    return hits_table([], [], np.zeros(0, np.int64), np.zeros(0))


def _hits_frame(table: pd.DataFrame) -> pd.DataFrame:
    """``table``'s :data:`HIT_COLUMNS` with :func:`hits_table`'s dtypes and a fresh index."""
    return pd.DataFrame(
        {
            "row": table["row"].to_numpy(dtype=np.int64),
            "name": pd.Series(table["name"].tolist(), dtype=object),
            "smiles": pd.Series(table["smiles"].tolist(), dtype=object),
            "similarity": table["similarity"].to_numpy(dtype=np.float64),
        },
        columns=HIT_COLUMNS,
    )


def search_part(records: list[RawRecord], request: SearchRequest) -> tuple[pd.DataFrame, int]:
    """The part function of ``search``: this part's hits (a top-k search: its own k best) with
    their rows in the file, and the number of its records that had a structure to search."""
    from core.chem.search import (
        SubstructureIndex,
        build_fingerprint_index,
        parse_smarts,
        similarity_search,
    )

    with rdBase.BlockLogs():
        smiles = [record_search_smiles(record) for record in records]
        if request.substructure is not None:
            index = SubstructureIndex.build(smiles)
            if len(index):
                # One thread: the cluster runs one task per worker thread already.
                positions = index.search(request.substructure, threads=1)
            else:  # RDKit refuses to search an empty library ("Pre-condition Violation")
                parse_smarts(request.substructure)  # a bad pattern is still said
                positions = np.zeros(0, dtype=np.int64)
            scores = np.full(len(positions), np.nan)
        else:
            index = build_fingerprint_index(smiles, workers=1)
            hits = similarity_search(
                index, request.similar, top_k=request.top_k, threshold=request.threshold
            )
            positions, scores = hits.rows, hits.scores
            # Sorted here, on the worker, by the merge's key (:func:`iter_merged_hits`):
            # best first, ties in file order (as the search returns them already).
            order = np.lexsort((np.asarray(positions), -np.asarray(scores, dtype=np.float64)))
            positions, scores = np.asarray(positions)[order], np.asarray(scores)[order]
    return hits_table(records, smiles, positions, scores), len(index)


def hits_table(
    records: list[RawRecord], smiles: list[str], positions: np.ndarray, scores: np.ndarray
) -> pd.DataFrame:
    """The :data:`HIT_COLUMNS` table of the hits at ``positions`` of ``records``."""
    positions = np.asarray(positions, dtype=np.int64)
    return pd.DataFrame(
        {
            "row": np.asarray([records[p].index for p in positions], dtype=np.int64),
            "name": pd.Series([records[p].name for p in positions], dtype=object),
            "smiles": pd.Series([smiles[p] for p in positions], dtype=object),
            "similarity": np.asarray(scores, dtype=np.float64),
        },
        columns=HIT_COLUMNS,
    )


def merge_hits(frames: list[pd.DataFrame], request: SearchRequest) -> pd.DataFrame:
    """The single-machine answer from the parts' hits (see the module docstring), in memory
    (what :func:`iter_merged_hits` gives a batch at a time)."""
    table = concat_parts([f for f in frames if len(f)], _empty_hits())
    rows = table["row"].to_numpy(dtype=np.int64)
    if request.substructure is not None:
        order = np.argsort(rows, kind="stable")
    else:
        order = np.lexsort((rows, -table["similarity"].to_numpy(dtype=np.float64)))
        if request.top_k is not None:
            order = order[: request.top_k]
    merged = table.iloc[order].reset_index(drop=True)
    return pd.DataFrame(
        {
            "row": merged["row"].to_numpy(dtype=np.int64),
            "name": pd.Series(merged["name"].tolist(), dtype=object),
            "smiles": pd.Series(merged["smiles"].tolist(), dtype=object),
            "similarity": merged["similarity"].to_numpy(dtype=np.float64),
        },
        columns=HIT_COLUMNS,
    )
