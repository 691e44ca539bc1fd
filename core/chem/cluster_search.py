"""``search`` on a Dask cluster: each part finds its own hits, this process merges them into the
single-machine answer (issue 18).

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
    parts_folder_for,
    read_parts,
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
    """The merged hits (:data:`HIT_COLUMNS`), the records read, how many had a structure to
    search, and the parts run."""

    table: pd.DataFrame
    n_records: int
    n_searched: int
    n_parts: int
    read_here: str = ""


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
) -> ClusterSearchResult:
    """Search ``path`` on the cluster of ``client``; the parts go beside ``output`` (removed
    before this returns) and the merged hits come back, equal to the single-machine search's.

    Raises
    ------
    LibraryReadError
        The file cannot be read (said before any task runs).
    SearchError
        The query cannot be read (raised by the first part).
    ClusterError, OSError, JobCancelled
        As :func:`core.chem.cluster_parts.run_parts`.
    """
    path = Path(path).resolve()
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
        frames = read_parts(folder, run.n_parts)
    table = merge_hits(frames, request)
    progress(1.0, f"{len(table):,} hits among {run.n_records:,} records")
    return ClusterSearchResult(
        table, run.n_records, int(sum(run.tallies)), run.n_parts, run.read_here
    )


def search_part(records: list[RawRecord], request: SearchRequest) -> tuple[pd.DataFrame, int]:
    """The part function of ``search``: this part's hits (a top-k search: its own k best) with
    their rows in the file, and the number of its records that had a structure to search."""
    from core.chem.search import SubstructureIndex, build_fingerprint_index, similarity_search

    with rdBase.BlockLogs():
        smiles = [record_search_smiles(record) for record in records]
        if request.substructure is not None:
            index = SubstructureIndex.build(smiles)
            # One thread: the cluster runs one task per worker thread already.
            positions = index.search(request.substructure, threads=1)
            scores = np.full(len(positions), np.nan)
        else:
            index = build_fingerprint_index(smiles, workers=1)
            hits = similarity_search(
                index, request.similar, top_k=request.top_k, threshold=request.threshold
            )
            positions, scores = hits.rows, hits.scores
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
    """The single-machine answer from the parts' hits (see the module docstring)."""
    empty = hits_table([], [], np.zeros(0, np.int64), np.zeros(0))
    table = concat_parts([f for f in frames if len(f)], empty)
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
