"""Find and narrow a library: similarity, substructure, clustering, scaffolds, diverse picks.

Fingerprints are 2048-bit Morgan (radius 2, RDKit's generator: the bits
``DataStructs.BulkTanimotoSimilarity`` compares) packed into 32 machine words per molecule, so a
million of them take 256 MB and one Tanimoto scan reads them once. The scan runs in a compiled,
multi-threaded loop (numba) that is about ten times faster than RDKit's bulk call; without numba a
chunked numpy popcount is used (about as fast as RDKit).

Butina clustering follows RDKit's ``rdkit.ML.Cluster.Butina.ClusterData`` exactly (same ordering
and tie-breaking), computing neighbour lists block by block instead of a full distance matrix.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator, rdSubstructLibrary

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress
from core.parallel import available_workers, ordered_pool_map

log = logging.getLogger(__name__)

FP_BITS = 2048
FP_RADIUS = 2
FP_WORDS = FP_BITS // 64
# Below this many molecules, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 20_000
TASK_SIZE = 5_000
BUTINA_LIMIT = 50_000
"""Butina needs every pair: above this many molecules it takes too long for an interactive tool."""


class SearchError(ValueError):
    """A query that cannot be run (bad SMARTS, empty index, too many molecules)."""


def _generator():
    return rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)


def fingerprint_words(mol: Chem.Mol, generator=None) -> np.ndarray:
    """The Morgan fingerprint of ``mol`` as 32 unsigned 64-bit words."""
    generator = generator or _generator()
    bits = generator.GetFingerprintAsNumPy(mol).astype(np.uint8, copy=False)
    return np.packbits(bits).view(np.uint64)


@dataclass(slots=True)
class FingerprintIndex:
    """Packed fingerprints of the readable molecules of a table.

    ``rows[i]`` is the table position of fingerprint ``i``; unreadable SMILES have none.
    """

    words: np.ndarray  # (n, FP_WORDS) uint64
    counts: np.ndarray  # (n,) int32: bits set
    rows: np.ndarray  # (n,) int64: table positions
    n_rows: int  # rows of the table the index describes

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        return self.words.nbytes + self.counts.nbytes + self.rows.nbytes


def _fingerprint_chunk(task: tuple[int, Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    start, smiles = task
    RDLogger.DisableLog("rdApp.*")
    generator = _generator()
    words = np.zeros((len(smiles), FP_WORDS), dtype=np.uint64)
    ok = np.zeros(len(smiles), dtype=bool)
    for i, text in enumerate(smiles):
        mol = Chem.MolFromSmiles(text) if isinstance(text, str) and text else None
        if mol is not None:
            words[i] = fingerprint_words(mol, generator)
            ok[i] = True
    rows = np.flatnonzero(ok) + start
    return words[ok], rows


def build_fingerprint_index(
    smiles: Sequence[str],
    *,
    workers: int | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> FingerprintIndex:
    """Fingerprint every SMILES (an engine job). Empty or unreadable SMILES are skipped."""
    smiles = list(smiles)
    n = len(smiles)
    tasks = ((start, smiles[start : start + TASK_SIZE]) for start in range(0, n, TASK_SIZE))
    workers = available_workers(workers)
    if workers > 1 and n >= PARALLEL_THRESHOLD:
        results = ordered_pool_map(_fingerprint_chunk, tasks, workers, is_cancelled)
    else:
        results = map(_fingerprint_chunk, _small_tasks(smiles))
    parts_words, parts_rows = [], []
    done = 0
    for words, rows in results:
        check_cancelled(is_cancelled)
        parts_words.append(words)
        parts_rows.append(rows)
        done = int(rows[-1]) + 1 if len(rows) else done
        progress(min(done / max(n, 1), 0.99), f"Fingerprinted {done:,} of {n:,} molecules")
    words = np.concatenate(parts_words) if parts_words else np.zeros((0, FP_WORDS), np.uint64)
    rows = np.concatenate(parts_rows) if parts_rows else np.zeros(0, np.int64)
    counts = np.bitwise_count(words).sum(axis=1, dtype=np.int32)
    skipped = n - len(rows)
    progress(
        1.0,
        f"Fingerprinted {len(rows):,} of {n:,} molecules"
        + (f" ({skipped:,} without a structure)" if skipped else ""),
    )
    return FingerprintIndex(np.ascontiguousarray(words), counts, rows.astype(np.int64), n)


def _small_tasks(smiles: list[str], size: int = 500):
    # In-process work is cut small so that cancel is checked often.
    for start in range(0, len(smiles), size):
        yield start, smiles[start : start + size]


# ----------------------------------------------------------------------------------------------
# Tanimoto kernels


def _numba_cache_dir() -> str:
    # Compiled kernels are cached beside the user's data, not in the (maybe read-only) install.
    from core.paths import data_dir

    return str(data_dir() / "cache" / "numba")


HAVE_NUMBA = importlib.util.find_spec("numba") is not None
"""Whether numba is installed; it is imported (0.3 s) and the kernel compiled on first use."""
_numba_kernel = None
_numba_failed = False


def _compiled_kernel():
    """The numba Tanimoto kernel, compiled (or loaded from its cache) on first use; ``None``
    when numba cannot be used here (then the numpy kernel runs)."""
    global _numba_kernel, _numba_failed
    if _numba_kernel is not None or _numba_failed or not HAVE_NUMBA:
        return _numba_kernel
    try:  # numba is optional: it makes scans about ten times faster.
        os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_dir())
        import numba

        @numba.njit(parallel=True, cache=True, nogil=True)
        def kernel(query, words, counts, query_count, out):  # pragma: no cover - compiled
            n, w = words.shape
            m1 = np.uint64(0x5555555555555555)
            m2 = np.uint64(0x3333333333333333)
            m4 = np.uint64(0x0F0F0F0F0F0F0F0F)
            h01 = np.uint64(0x0101010101010101)
            for i in numba.prange(n):
                common = np.uint64(0)
                for j in range(w):
                    x = query[j] & words[i, j]
                    x = x - ((x >> np.uint64(1)) & m1)
                    x = (x & m2) + ((x >> np.uint64(2)) & m2)
                    x = (x + (x >> np.uint64(4))) & m4
                    common += (x * h01) >> np.uint64(56)
                union = query_count + counts[i] - common
                out[i] = common / union if union > 0 else 0.0

        _numba_kernel = kernel
    except Exception:  # pragma: no cover - numba cannot compile here: numpy instead
        log.warning("numba is unavailable; similarity scans use numpy", exc_info=True)
        _numba_failed = True
    return _numba_kernel


def _tanimoto_numpy(query, words, counts, query_count, out, chunk: int = 16_384) -> None:
    buffer = np.empty((chunk, words.shape[1]), dtype=np.uint64)
    bytes_ = np.empty((chunk, words.shape[1]), dtype=np.uint8)
    for start in range(0, len(words), chunk):
        stop = min(start + chunk, len(words))
        m = stop - start
        np.bitwise_and(words[start:stop], query, out=buffer[:m])
        np.bitwise_count(buffer[:m], out=bytes_[:m])
        common = bytes_[:m].sum(axis=1, dtype=np.int64)
        union = query_count + counts[start:stop] - common
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = np.where(union > 0, common / union, 0.0)


def tanimoto(
    index: FingerprintIndex, query: np.ndarray, use_numba: bool = HAVE_NUMBA
) -> np.ndarray:
    """Tanimoto similarity of ``query`` (32 words) to every fingerprint of ``index`` (float64)."""
    query = np.ascontiguousarray(query, dtype=np.uint64)
    query_count = int(np.bitwise_count(query).sum())
    out = np.empty(len(index), dtype=np.float64)
    if len(index) == 0:
        return out
    kernel = (_compiled_kernel() if use_numba else None) or _tanimoto_numpy
    kernel(query, index.words, index.counts.astype(np.int64), np.int64(query_count), out)
    return out


def parse_query(text: str) -> Chem.Mol:
    """A query molecule from SMILES (or SMARTS); :class:`SearchError` names what is wrong."""
    text = (text or "").strip()
    if not text:
        raise SearchError("the query is empty: draw a molecule or type a SMILES")
    mol = Chem.MolFromSmiles(text)
    if mol is None:
        raise SearchError(f"'{text}' is not a SMILES that RDKit can read")
    return mol


@dataclass(frozen=True, slots=True)
class Hits:
    """Search results: table positions and a score each (similarity), best first."""

    rows: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def similarity_search(
    index: FingerprintIndex,
    query: str | Chem.Mol,
    *,
    top_k: int | None = 100,
    threshold: float | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> Hits:
    """The most similar molecules to ``query``: the ``top_k`` best, those at or above
    ``threshold``, or both conditions together. Ties keep table order. An engine job: the first
    scan of a session imports numba and loads the compiled kernel."""
    check_cancelled(is_cancelled)
    mol = parse_query(query) if isinstance(query, str) else query
    if top_k is not None and top_k < 1:
        raise SearchError("top-k must be at least 1")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise SearchError("the similarity threshold must lie between 0 and 1")
    similarity = tanimoto(index, fingerprint_words(mol))
    candidates = np.arange(len(similarity))
    if threshold is not None:
        candidates = np.flatnonzero(similarity >= threshold)
    if top_k is not None and len(candidates) > top_k:
        # Partition first (linear time), then sort only the kept few.
        part = np.argpartition(-similarity[candidates], top_k - 1)[:top_k]
        cutoff = similarity[candidates[part]].min()
        candidates = candidates[similarity[candidates] >= cutoff]
    order = candidates[np.lexsort((candidates, -similarity[candidates]))]
    if top_k is not None:
        order = order[:top_k]
    best = f" (best {similarity[order[0]]:.2f})" if len(order) else ""
    progress(1.0, f"{len(order):,} similar molecules among {len(index):,}{best}")
    return Hits(index.rows[order], similarity[order])


# ----------------------------------------------------------------------------------------------
# Substructure


def parse_smarts(text: str) -> Chem.Mol:
    text = (text or "").strip()
    if not text:
        raise SearchError("the substructure query is empty")
    query = Chem.MolFromSmarts(text)
    if query is None:
        raise SearchError(f"'{text}' is not a valid SMARTS pattern")
    return query


class SubstructureIndex:
    """RDKit's ``SubstructLibrary`` over a table's SMILES, with pattern-fingerprint screening.

    Building it parses every molecule once (an engine job); queries then screen by fingerprint and
    match only the candidates, on all cores.
    """

    def __init__(self, library: rdSubstructLibrary.SubstructLibrary, rows: np.ndarray, n_rows: int):
        self._library = library
        self.rows = rows
        self.n_rows = n_rows

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(
        cls,
        smiles: Sequence[str],
        *,
        progress: ProgressCallback = no_progress,
        is_cancelled: CancelCheck | None = None,
    ) -> SubstructureIndex:
        RDLogger.DisableLog("rdApp.*")
        holder = rdSubstructLibrary.CachedTrustedSmilesMolHolder()
        patterns = rdSubstructLibrary.PatternHolder()
        rows = []
        n = len(smiles)
        for start in range(0, n, 1000):
            check_cancelled(is_cancelled)
            for position in range(start, min(start + 1000, n)):
                text = smiles[position]
                mol = Chem.MolFromSmiles(text) if isinstance(text, str) and text else None
                if mol is None:
                    continue
                holder.AddSmiles(Chem.MolToSmiles(mol))
                patterns.AddFingerprint(patterns.MakeFingerprint(mol))
                rows.append(position)
            progress(
                min(start + 1000, n) / max(n, 1), f"Indexed {min(start + 1000, n):,} molecules"
            )
        skipped = n - len(rows)
        progress(
            1.0,
            f"Indexed {len(rows):,} of {n:,} molecules"
            + (f" ({skipped:,} without a structure)" if skipped else ""),
        )
        library = rdSubstructLibrary.SubstructLibrary(holder, patterns)
        return cls(library, np.asarray(rows, dtype=np.int64), n)

    def search(self, smarts: str, max_hits: int = -1, threads: int = -1) -> np.ndarray:
        """Table positions of the molecules containing ``smarts``, in table order."""
        query = parse_smarts(smarts)
        matches = self._library.GetMatches(
            query,
            recursionPossible=True,
            useChirality=False,
            useQueryQueryMatches=False,
            numThreads=threads,
            maxResults=max_hits,
        )
        return np.sort(self.rows[np.asarray(list(matches), dtype=np.int64)])


def substructure_search(
    index: SubstructureIndex,
    smarts: str,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Engine job around :meth:`SubstructureIndex.search` (matching a million molecules takes
    seconds, so it must not run on the GUI thread)."""
    check_cancelled(is_cancelled)
    progress(-1.0, f"Searching {len(index):,} molecules for {smarts}")
    rows = index.search(smarts)
    progress(1.0, f"{len(rows):,} of {len(index):,} molecules contain {smarts}")
    return rows


def substructure_mask(smiles: Sequence[str], smarts: str) -> np.ndarray:
    """Which SMILES contain ``smarts`` (a plain loop: the reference for the index)."""
    query = parse_smarts(smarts)
    mask = np.zeros(len(smiles), dtype=bool)
    for i, text in enumerate(smiles):
        mol = Chem.MolFromSmiles(text) if isinstance(text, str) and text else None
        mask[i] = mol is not None and mol.HasSubstructMatch(query)
    return mask


# ----------------------------------------------------------------------------------------------
# Clustering and picking


def butina_clusters(
    index: FingerprintIndex,
    *,
    threshold: float = 0.4,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Butina (Taylor) clustering: a cluster id per table row (-1 for rows without a
    fingerprint); clusters are numbered by size, 0 the largest; each cluster's centroid is listed
    by :func:`butina_centroids`.

    Two molecules are neighbours when their Tanimoto distance is ≤ ``1 - threshold`` (so
    ``threshold`` is the similarity), as RDKit's ``ClusterData(…, distThresh=1 - threshold)``.
    """
    n = len(index)
    if n > BUTINA_LIMIT:
        raise SearchError(
            f"Butina clustering compares every pair: {n:,} molecules is more than the "
            f"{BUTINA_LIMIT:,} it handles here; filter the table first (or pick a diverse subset)"
        )
    if not 0.0 < threshold <= 1.0:
        raise SearchError("the clustering similarity threshold must lie in (0, 1]")
    cutoff = 1.0 - threshold
    neighbours: list[np.ndarray] = []
    for i in range(n):
        if i % 256 == 0:
            check_cancelled(is_cancelled)
            progress(0.9 * i / max(n, 1), f"Compared {i:,} of {n:,} molecules")
        similarity = tanimoto(index, index.words[i])
        # RDKit's distance is 1 - similarity compared with <= distThresh.
        found = np.flatnonzero(1.0 - similarity <= cutoff)
        neighbours.append(found[found != i])
    clusters = _butina_from_neighbours(neighbours)
    labels_for_index = np.full(n, -1, dtype=np.int64)
    for number, members in enumerate(clusters):
        labels_for_index[list(members)] = number
    labels = np.full(index.n_rows, -1, dtype=np.int64)
    labels[index.rows] = labels_for_index
    n_clusters = len(clusters)
    progress(1.0, f"{n_clusters:,} cluster{'s' if n_clusters != 1 else ''} among {n:,} molecules")
    return labels


def _butina_from_neighbours(neighbours: list[np.ndarray]) -> list[tuple[int, ...]]:
    """RDKit's Butina assignment: centroids in order of neighbour count (ties: higher index first).

    Returns clusters as tuples of fingerprint indices, centroid first, then numbered as RDKit
    numbers them (the order they are found, which is largest first).
    """
    n = len(neighbours)
    order = sorted(((len(neighbours[i]), i) for i in range(n)), reverse=True)
    seen = np.zeros(n, dtype=bool)
    clusters = []
    for _, centroid in order:
        if seen[centroid]:
            continue
        members = [centroid] + [int(j) for j in neighbours[centroid] if not seen[j]]
        seen[members] = True
        clusters.append(tuple(members))
    return clusters


def maxmin_pick(
    index: FingerprintIndex,
    n_pick: int,
    *,
    first: int = 0,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Pick ``n_pick`` diverse molecules (MaxMin: each pick is the molecule farthest, in Tanimoto
    distance, from all picked so far). Starts at fingerprint ``first``; returns table positions in
    pick order."""
    n = len(index)
    if n == 0:
        raise SearchError("no molecules to pick from")
    if n_pick < 1:
        raise SearchError("pick at least one molecule")
    n_pick = min(n_pick, n)
    nearest = np.full(n, math.inf)
    picks = [first]
    for k in range(1, n_pick):
        check_cancelled(is_cancelled)
        distance = 1.0 - tanimoto(index, index.words[picks[-1]])
        np.minimum(nearest, distance, out=nearest)
        nearest[picks[-1]] = -1.0
        picks.append(int(np.argmax(nearest)))
        progress(k / n_pick, f"Picked {k + 1:,} of {n_pick:,}")
    progress(1.0, f"Picked {n_pick:,} diverse molecule{'s' if n_pick != 1 else ''} of {n:,}")
    return index.rows[np.asarray(picks, dtype=np.int64)]


def scaffold_groups(
    smiles: Sequence[str],
    generic: bool = False,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> list[str]:
    """Bemis–Murcko scaffold SMILES per molecule ("" for acyclic or unreadable molecules);
    ``generic`` turns every atom to carbon and every bond to single (framework only)."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    result = []
    n = len(smiles)
    for i, text in enumerate(smiles):
        if i % 500 == 0:
            check_cancelled(is_cancelled)
            if i:
                progress(i / max(n, 1), f"Found the scaffolds of {i:,} of {n:,} molecules")
        mol = Chem.MolFromSmiles(text) if isinstance(text, str) and text else None
        if mol is None:
            result.append("")
            continue
        core = MurckoScaffold.GetScaffoldForMol(mol)
        if generic and core.GetNumAtoms():
            core = MurckoScaffold.MakeScaffoldGeneric(core)
        result.append(Chem.MolToSmiles(core) if core.GetNumAtoms() else "")
    distinct = len({text for text in result if text})
    acyclic = sum(1 for text in result if not text)
    progress(
        1.0,
        f"{distinct:,} scaffold{'s' if distinct != 1 else ''} among {n:,} molecules"
        + (f" ({acyclic:,} acyclic or unreadable)" if acyclic else ""),
    )
    return result
