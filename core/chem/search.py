"""Find and narrow a library: similarity, substructure, clustering, scaffolds, diverse picks.

Fingerprints are 2048-bit Morgan (radius 2, RDKit's generator: the bits
``DataStructs.BulkTanimotoSimilarity`` compares) packed into 32 machine words per molecule, so a
million of them take 256 MB and one Tanimoto scan reads them once. The scan runs in a compiled,
multi-threaded loop (numba) that is about ten times faster than RDKit's bulk call; without numba a
chunked numpy popcount is used (about as fast as RDKit).

Threshold and top-k searches skip most of the scan with popcount bounds (as chemfp does; Swamidass
& Baldi 2007): Tanimoto(a, b) <= min(|a|, |b|) / max(|a|, |b|), so with the fingerprints grouped
by popcount a threshold only reads the groups whose bound reaches it, and a top-k search visits
groups best bound first and stops when the bound falls below the k-th best similarity found.
Within the groups read, the same bound per 128-bit segment (bits in common are at most the sum of
the segments' smaller counts) rejects most fingerprints from 16 bytes of counts before their bits
are read (see :class:`PopcountBuckets`). The answers are the full scan's, to the last bit and in
the same order; a threshold of 0.7 over a million fingerprints runs about 10x faster than
RDKit's bulk call (benchmarks/RESULTS.md).

Butina clustering follows RDKit's ``rdkit.ML.Cluster.Butina.ClusterData`` exactly (same ordering
and tie-breaking), computing neighbour lists block by block instead of a full distance matrix.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem, RDLogger, rdBase
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
    # Built on the first bounded search and kept (an index is not changed once built); it holds
    # a sorted copy of the fingerprints, so a bounded search doubles the index's memory.
    _buckets: PopcountBuckets | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    def popcount_buckets(self) -> PopcountBuckets:
        """The fingerprints grouped by popcount (built once per index, then cached)."""
        if self._buckets is None:
            self._buckets = PopcountBuckets.build(self.words, self.counts)
        return self._buckets

    @property
    def nbytes(self) -> int:
        return self.words.nbytes + self.counts.nbytes + self.rows.nbytes


PLANE_WORDS = 8
"""Words per plane of the sorted copy: 64 bytes, one cache line per fingerprint and plane."""
SEGMENT_WORDS = 2
"""Words per segment whose bits are counted (at most 128: one byte per segment)."""


@dataclass(frozen=True, slots=True)
class PopcountBuckets:
    """The fingerprints sorted by popcount, for bounded searches.

    Bucket ``c`` (``c`` bits set) is sorted positions ``offsets[c]:offsets[c + 1]``; ``order``
    maps a sorted position to the index position, in index order within a bucket (a stable sort),
    so that ties between equal similarities still fall to the lower position. ``planes`` holds
    the sorted fingerprints cut into planes of :data:`PLANE_WORDS` words, each plane one
    contiguous block (``planes[p, k]``), and ``segments[k, s]`` the bits set in segment ``s``
    (:data:`SEGMENT_WORDS` words) of sorted fingerprint ``k``.

    Bits in common within a segment are at most the smaller of the two counts, so the sum of
    those minima bounds the bits in common, and the similarity (a sharper form of the popcount
    bound min/max). A scan first checks that bound from the 16 counts alone, which rejects most
    fingerprints at a 0.7 threshold without reading their bits; the others are read plane by
    plane while the bound (bits in common so far plus the minima of the segments not yet read)
    still reaches the threshold.
    """

    order: np.ndarray  # (n,) int64
    offsets: np.ndarray  # (n_bits + 2,) int64
    counts: np.ndarray  # (n,) int16: popcount of each sorted fingerprint
    planes: np.ndarray  # (n_planes, n, PLANE_WORDS) uint64
    segments: np.ndarray  # (n, n_segments) uint8

    @classmethod
    def build(cls, words: np.ndarray, counts: np.ndarray) -> PopcountBuckets:
        n, n_words = words.shape
        counts = np.asarray(counts, dtype=np.int64)
        order = np.argsort(counts, kind="stable").astype(np.int64)
        sizes = np.bincount(counts, minlength=n_words * 64 + 1)
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        n_planes = -(-n_words // PLANE_WORDS)
        width = n_planes * PLANE_WORDS
        planes = np.zeros((n_planes, n, PLANE_WORDS), dtype=np.uint64)
        segments = np.zeros((n, width // SEGMENT_WORDS), dtype=np.uint8)
        for start in range(0, n, 65_536):  # in blocks: a gather of all rows at once doubles memory
            part = order[start : start + 65_536]
            rows = np.zeros((len(part), width), dtype=np.uint64)
            rows[:, :n_words] = words[part]
            for p in range(n_planes):
                planes[p, start : start + len(part)] = rows[
                    :, p * PLANE_WORDS : (p + 1) * PLANE_WORDS
                ]
            bits = np.bitwise_count(rows).reshape(len(part), -1, SEGMENT_WORDS)
            segments[start : start + len(part)] = bits.sum(axis=2)
        return cls(order, offsets, counts[order].astype(np.int16), planes, segments)

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes for a in (self.order, self.offsets, self.counts, self.planes, self.segments)
        )


def popcount_bounds(query_count: int, n_buckets: int) -> np.ndarray:
    """The highest Tanimoto similarity a query with ``query_count`` bits can reach with a
    fingerprint of each popcount ``0 .. n_buckets - 1``: min/max, computed as the scan computes a
    similarity (one float64 division of two integers, 0 when both are 0). Rounding is monotonic,
    so no similarity the scan computes exceeds its bucket's bound."""
    counts = np.arange(n_buckets, dtype=np.int64)
    low = np.minimum(counts, query_count)
    high = np.maximum(counts, query_count)
    return low / np.maximum(high, 1)  # 0 / 1 = 0 where both are 0, as the scan has it


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
_numba_plane_kernel = None
_numba_plane_kernel_serial = None
_numba_failed = False


def _compiled_kernel():
    """The numba Tanimoto kernel, compiled (or loaded from its cache) on first use; ``None``
    when numba cannot be used here (then the numpy kernel runs)."""
    global _numba_kernel, _numba_plane_kernel, _numba_plane_kernel_serial, _numba_failed
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

        @numba.njit(cache=True, nogil=True)
        def plane_rows(
            query,
            query_segments,
            query_count,
            planes,
            segments,
            counts,
            first,
            last,
            floor,
            hits,
            scores,
        ):  # pragma: no cover - compiled
            # The same arithmetic as ``kernel`` (same similarities to the bit) on sorted
            # fingerprints first..last: a fingerprint whose bound falls below ``floor`` is not
            # read (further). Hits (sorted position, similarity) are written from the start of
            # ``hits`` and ``scores``; returns their number.
            n_planes, _, w = planes.shape
            n_segments = segments.shape[1]
            per_plane = n_segments // n_planes
            m1 = np.uint64(0x5555555555555555)
            m2 = np.uint64(0x3333333333333333)
            m4 = np.uint64(0x0F0F0F0F0F0F0F0F)
            h01 = np.uint64(0x0101010101010101)
            # A multiplication instead of a division per bound; rejecting only bounds a billionth
            # (relative) below ``floor`` keeps every fingerprint whose rounded similarity reaches it.
            below = floor * (1.0 - 1e-9)
            f = 0
            for k in range(first, last):
                count = np.int64(counts[k])
                most = np.int64(0)  # bits in common at most: the sum of the segments' minima
                for s in range(n_segments):
                    most += min(query_segments[s], np.int64(segments[k, s]))
                if most < below * (query_count + count - most):
                    continue
                common = np.int64(0)
                rest = most
                alive = True
                for p in range(n_planes):
                    part = np.uint64(0)
                    for j in range(w):
                        x = query[p, j] & planes[p, k, j]
                        x = x - ((x >> np.uint64(1)) & m1)
                        x = (x & m2) + ((x >> np.uint64(2)) & m2)
                        x = (x + (x >> np.uint64(4))) & m4
                        part += (x * h01) >> np.uint64(56)
                    common += np.int64(part)
                    if p < n_planes - 1:
                        for s in range(p * per_plane, (p + 1) * per_plane):
                            rest -= min(query_segments[s], np.int64(segments[k, s]))
                        most = common + rest
                        if most < below * (query_count + count - most):
                            alive = False
                            break
                if alive:
                    union = query_count + count - common
                    similarity = common / union if union > 0 else 0.0
                    if similarity >= floor:
                        hits[f] = k
                        scores[f] = similarity
                        f += 1
            return f

        @numba.njit(parallel=True, cache=True, nogil=True)
        def plane_kernel(
            query,
            query_segments,
            query_count,
            planes,
            segments,
            counts,
            start,
            stop,
            floor,
            block,
            hits,
            scores,
        ):  # pragma: no cover - compiled
            # Blocks of rows on every core; each block writes its hits at the start of its own
            # stretch of ``hits`` and ``scores``.
            n_blocks = (stop - start + block - 1) // block
            n_found = np.zeros(n_blocks, dtype=np.int64)
            for b in numba.prange(n_blocks):
                first = start + b * block
                n_found[b] = plane_rows(
                    query,
                    query_segments,
                    query_count,
                    planes,
                    segments,
                    counts,
                    first,
                    min(first + block, stop),
                    floor,
                    hits[b * block :],
                    scores[b * block :],
                )
            return n_found

        @numba.njit(cache=True, nogil=True)
        def plane_kernel_serial(
            query,
            query_segments,
            query_count,
            planes,
            segments,
            counts,
            start,
            stop,
            floor,
            block,
            hits,
            scores,
        ):  # pragma: no cover - compiled
            # ``plane_kernel`` on one thread: a parallel region costs milliseconds when another
            # process holds a core, more than a short run of rows takes.
            n_blocks = (stop - start + block - 1) // block
            n_found = np.zeros(n_blocks, dtype=np.int64)
            for b in range(n_blocks):
                first = start + b * block
                n_found[b] = plane_rows(
                    query,
                    query_segments,
                    query_count,
                    planes,
                    segments,
                    counts,
                    first,
                    min(first + block, stop),
                    floor,
                    hits[b * block :],
                    scores[b * block :],
                )
            return n_found

        _numba_plane_kernel = plane_kernel
        _numba_plane_kernel_serial = plane_kernel_serial
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


SCAN_BLOCK = 4096
"""Sorted fingerprints per block of the bounded scan (each block a task for a thread)."""
PARALLEL_SCAN = 262_144
"""Shorter runs of sorted fingerprints are scanned on one thread (see ``plane_kernel_serial``)."""


def _scan_sorted(
    buckets: PopcountBuckets,
    query: np.ndarray,
    start: int,
    stop: int,
    floor: float,
    use_numba: bool = HAVE_NUMBA,
) -> tuple[np.ndarray, np.ndarray]:
    """Index positions and similarities of the sorted fingerprints ``start:stop`` at or above
    ``floor``; the others are rejected by their bound, most before any of their bits are read."""
    if stop <= start:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    kernel = None
    if use_numba and _compiled_kernel():
        kernel = (
            _numba_plane_kernel if stop - start >= PARALLEL_SCAN else _numba_plane_kernel_serial
        )
    n_planes = buckets.planes.shape[0]
    padded = np.zeros(n_planes * PLANE_WORDS, dtype=np.uint64)
    padded[: len(query)] = query
    query_planes = padded.reshape(n_planes, PLANE_WORDS)
    plane_counts = np.bitwise_count(query_planes).sum(axis=1, dtype=np.int64)
    query_count = int(plane_counts.sum())
    if kernel is None:  # numba cannot be used: a numpy scan of the slice, no early rejection
        words = buckets.planes[:, start:stop].transpose(1, 0, 2).reshape(stop - start, -1)
        common = np.bitwise_count(words & padded).sum(axis=1, dtype=np.int64)
        union = query_count + buckets.counts[start:stop].astype(np.int64) - common
        similarity = common / np.maximum(union, 1)  # 0 / 1 where both are empty, as the scan
        keep = np.flatnonzero(similarity >= floor)
        return buckets.order[start + keep], similarity[keep]
    # Pages of these are only touched where a hit is written.
    hits = np.empty(stop - start, dtype=np.int64)
    scores = np.empty(stop - start, dtype=np.float64)
    n_found = kernel(
        query_planes,
        np.bitwise_count(padded).reshape(-1, SEGMENT_WORDS).sum(axis=1, dtype=np.int64),
        np.int64(query_count),
        buckets.planes,
        buckets.segments,
        buckets.counts,
        np.int64(start),
        np.int64(stop),
        float(floor),
        np.int64(SCAN_BLOCK),
        hits,
        scores,
    )
    blocks = np.flatnonzero(n_found)
    sorted_positions = np.concatenate(
        [hits[b * SCAN_BLOCK : b * SCAN_BLOCK + n_found[b]] for b in blocks] or [hits[:0]]
    )
    similarity = np.concatenate(
        [scores[b * SCAN_BLOCK : b * SCAN_BLOCK + n_found[b]] for b in blocks] or [scores[:0]]
    )
    return buckets.order[sorted_positions], similarity


def parse_query(text: str) -> Chem.Mol:
    """A query molecule from SMILES (or SMARTS); :class:`SearchError` names what is wrong."""
    text = (text or "").strip()
    if not text:
        raise SearchError("the query is empty: draw a molecule or type a SMILES")
    # The error below names the problem; RDKit's own parse log would repeat it on stderr.
    with rdBase.BlockLogs():
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
    use_bounds: bool = True,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> Hits:
    """The most similar molecules to ``query``: the ``top_k`` best, those at or above
    ``threshold``, or both conditions together. Ties keep table order. An engine job: the first
    scan of a session imports numba and loads the compiled kernel.

    ``use_bounds`` (default) reads only the fingerprints whose popcount bound can reach the
    threshold or the k-th best (see :func:`similar_fingerprints`); the answer is the full scan's.
    """
    check_cancelled(is_cancelled)
    mol = parse_query(query) if isinstance(query, str) else query
    positions, scores = similar_fingerprints(
        index, fingerprint_words(mol), top_k=top_k, threshold=threshold, use_bounds=use_bounds
    )
    best = f" (best {scores[0]:.2f})" if len(scores) else ""
    progress(1.0, f"{len(scores):,} similar molecules among {len(index):,}{best}")
    return Hits(index.rows[positions], scores)


BOUNDED_BATCH = 32_768
"""A top-k search scores popcount buckets in batches of at least this many fingerprints, doubling
from one batch to the next: one compiled call per bucket (dozens per query) would cost more in
start-up than it saves."""


def similar_fingerprints(
    index: FingerprintIndex,
    query: np.ndarray,
    *,
    top_k: int | None = 100,
    threshold: float | None = None,
    use_bounds: bool = True,
    use_numba: bool = HAVE_NUMBA,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``index`` (not table rows) and similarities of the fingerprints most similar
    to ``query`` (32 words), best first, ties by position: the ``top_k`` best, those at or above
    ``threshold``, or both.

    With ``use_bounds``, popcount bounds skip fingerprints that cannot qualify: a threshold reads
    only the buckets whose bound ``min/max`` reaches it (one contiguous run of popcounts); a top-k
    search scores buckets in order of their bound and stops once the next bound is *below* the
    k-th best similarity found (a bucket whose bound equals it may hold a tie at a lower
    position). Without it every fingerprint is scored. Both give the same arrays.

    Raises
    ------
    SearchError
        ``top_k`` below 1 or ``threshold`` outside [0, 1].
    """
    if top_k is not None and top_k < 1:
        raise SearchError("top-k must be at least 1")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise SearchError("the similarity threshold must lie between 0 and 1")
    query = np.ascontiguousarray(query, dtype=np.uint64)
    if use_bounds and (top_k is not None or threshold is not None) and len(index):
        candidates, similarity = _bounded_candidates(index, query, top_k, threshold, use_numba)
    else:
        similarity = tanimoto(index, query, use_numba=use_numba)
        candidates = np.arange(len(similarity), dtype=np.int64)
    return _select(candidates, similarity, top_k, threshold)


def _select(
    candidates: np.ndarray, similarity: np.ndarray, top_k: int | None, threshold: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """The answer among scored ``candidates`` (positions; ``similarity`` is aligned with them)."""
    keep = np.arange(len(candidates))
    if threshold is not None:
        keep = np.flatnonzero(similarity >= threshold)
    if top_k is not None and len(keep) > top_k:
        # Partition first (linear time), then sort only the kept few (and their ties).
        part = np.argpartition(-similarity[keep], top_k - 1)[:top_k]
        cutoff = similarity[keep[part]].min()
        keep = keep[similarity[keep] >= cutoff]
    keep = keep[np.lexsort((candidates[keep], -similarity[keep]))]
    if top_k is not None:
        keep = keep[:top_k]
    return candidates[keep], similarity[keep]


def _bounded_candidates(
    index: FingerprintIndex,
    query: np.ndarray,
    top_k: int | None,
    threshold: float | None,
    use_numba: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and similarities of a set of fingerprints that holds the whole answer (every
    fingerprint at or above the threshold, or at or above the k-th best similarity)."""
    buckets = index.popcount_buckets()
    offsets = buckets.offsets
    sizes = np.diff(offsets)
    bound = popcount_bounds(int(np.bitwise_count(query).sum()), len(sizes))
    useful = sizes > 0
    if threshold is not None:
        useful &= bound >= threshold
    chosen = np.flatnonzero(useful)
    floor = threshold or 0.0
    if len(chosen) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    if top_k is None:
        # bound(c) rises to the query's popcount and falls after it, so the buckets reaching
        # the threshold are one run of popcounts: one contiguous run of sorted fingerprints.
        return _scan_sorted(
            buckets, query, int(offsets[chosen[0]]), int(offsets[chosen[-1] + 1]), floor, use_numba
        )
    # Best bound first; equal bounds in popcount order (any order would do). The buckets taken
    # so far are always one run of popcounts, grown at either end.
    visit = chosen[np.argsort(-bound[chosen], kind="stable")]
    kept_positions: list[np.ndarray] = [np.zeros(0, np.int64)]
    kept_scores: list[np.ndarray] = [np.zeros(0, np.float64)]
    n_kept = 0
    kth = -math.inf  # the k-th best similarity scored so far, once k are scored
    batch: list[int] = []
    n_batch = 0
    batch_size = BOUNDED_BATCH

    def can_stop(bucket: int) -> bool:
        # Strictly below: a bucket whose bound equals the k-th best may hold a tie at a lower
        # position, which would come first.
        return n_kept >= top_k and bound[bucket] < kth

    for step, bucket in enumerate(visit):
        if can_stop(bucket):
            break
        batch.append(int(bucket))
        n_batch += int(sizes[bucket])
        more = step + 1 < len(visit)
        if more and n_batch < batch_size and not can_stop(visit[step + 1]):
            continue
        # Fingerprints below the k-th best so far cannot be in the answer: rejected early.
        batch_floor = max(floor, kth)
        for first, last in _runs(sorted(batch)):
            positions, scores = _scan_sorted(
                buckets, query, int(offsets[first]), int(offsets[last + 1]), batch_floor, use_numba
            )
            kept_positions.append(positions)
            kept_scores.append(scores)
            n_kept += len(scores)
        batch, n_batch = [], 0
        batch_size *= 2  # the first batches raise the floor; later ones are cut by it
        if n_kept >= top_k:
            every_position = np.concatenate(kept_positions)
            every_score = np.concatenate(kept_scores)
            kth = float(np.partition(every_score, len(every_score) - top_k)[-top_k])
            # Keep what can still be in the answer: the k best and their ties.
            keep = every_score >= kth
            kept_positions, kept_scores = [every_position[keep]], [every_score[keep]]
            n_kept = len(kept_scores[0])
    return np.concatenate(kept_positions), np.concatenate(kept_scores)


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Sorted integers as runs of consecutive values, ``(first, last)`` each."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


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


def compile_kernels() -> bool:
    """Compile the Tanimoto kernels into the numba cache (a few seconds, once per version) by
    searching a four-molecule index every way a search runs: the full scan, the bounded scan on
    one thread and on all (the size that picks the parallel one lowered for the call). Returns
    whether numba was used (see :mod:`core.chem.numba_warmup`)."""
    global PARALLEL_SCAN
    if not HAVE_NUMBA or _compiled_kernel() is None:
        return False
    index = build_fingerprint_index(["CCO", "c1ccccc1O", "CC(=O)O", "CCN"], workers=1)
    query = fingerprint_words(Chem.MolFromSmiles("CCO"))
    similar_fingerprints(index, query, top_k=2, use_bounds=False)
    similar_fingerprints(index, query, threshold=0.3)
    parallel_from = PARALLEL_SCAN
    PARALLEL_SCAN = 1
    try:
        similar_fingerprints(index, query, threshold=0.3)
    finally:
        PARALLEL_SCAN = parallel_from
    return True
