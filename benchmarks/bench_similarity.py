"""Similarity search over 1,000,000 Morgan fingerprints: DrugDesk's scan against RDKit's
``DataStructs.BulkTanimotoSimilarity`` in the same run, threshold (0.7) and top-k (50) searches
with popcount bounds against the full scan and RDKit, plus memory.

Fingerprints of N real MOSES molecules are tiled to one million (a scan's cost does not depend on
which molecules the rows hold; fingerprinting a million molecules would take ~10 minutes and
measures RDKit, not the search). Tiling repeats each molecule total/N times, so a top-k search
finds its k-th best among fewer distinct molecules than in a real library of that size: use a
large --unique. Queries are MOSES molecules outside the indexed ones (``--queries-inside``: drawn
from them). Both sides get the very same bits; the script checks that the similarities and the
hits (same rows, same order) agree exactly. DrugDesk's compiled scans use every core (numba);
RDKit's bulk call one; the "1 thread" rows run DrugDesk on one core too.

    python benchmarks/bench_similarity.py [--unique 200000] [--total 1000000] [--queries 10]
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from core.chem.search import (
    FP_WORDS,
    HAVE_NUMBA,
    FingerprintIndex,
    build_fingerprint_index,
    fingerprint_words,
    similar_fingerprints,
    similarity_search,
    tanimoto,
)

THRESHOLD = 0.7
TOP_K = 50


def rdkit_select(similarity: np.ndarray, top_k, threshold) -> tuple[np.ndarray, np.ndarray]:
    """What a caller of RDKit's bulk call does next: keep, sort (ties by row)."""
    keep = (
        np.arange(len(similarity)) if threshold is None else np.flatnonzero(similarity >= threshold)
    )
    if top_k is not None and len(keep) > top_k:
        part = np.argpartition(-similarity[keep], top_k - 1)[:top_k]
        keep = keep[similarity[keep] >= similarity[keep[part]].min()]
    keep = keep[np.lexsort((keep, -similarity[keep]))]
    if top_k is not None:
        keep = keep[:top_k]
    return keep, similarity[keep]


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unique", type=int, default=200_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--queries-inside", action="store_true")
    args = parser.parse_args()
    info = _common.machine_info()
    smiles = _common.moses_smiles(args.unique + 1000)
    library, outside = smiles[: args.unique], smiles[args.unique :]

    start = time.perf_counter()
    small = build_fingerprint_index(library)
    fp_seconds = time.perf_counter() - start
    repeats = -(-args.total // len(small))
    words = np.tile(small.words, (repeats, 1))[: args.total]
    index = FingerprintIndex(
        words=np.ascontiguousarray(words),
        counts=np.bitwise_count(words).sum(axis=1, dtype=np.int32),
        rows=np.arange(len(words), dtype=np.int64),
        n_rows=len(words),
    )
    assert index.words.shape[1] == FP_WORDS

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    rdkit_small = [
        generator.GetFingerprint(Chem.MolFromSmiles(small_smiles))
        for small_smiles in (library[r] for r in small.rows)
    ]
    rdkit_fps = (rdkit_small * repeats)[: args.total]
    del rdkit_small

    rng = np.random.default_rng(0)
    pool = library if args.queries_inside else outside
    queries = [pool[i] for i in rng.choice(len(pool), args.queries, replace=False)]
    query_mols = [Chem.MolFromSmiles(q) for q in queries]
    tanimoto(index, index.words[0])  # compile (numba caches it on disk after the first run)
    build_seconds, buckets = timed(index.popcount_buckets)
    # The bounded kernels, compiled or loaded: one thread (short runs) and all cores (long ones).
    similar_fingerprints(index, index.words[0], top_k=TOP_K)
    similar_fingerprints(index, index.words[0], top_k=None, threshold=0.0)

    load = _common.OtherLoad()
    times: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {"threshold": [], "top-k": []}

    def note(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    if HAVE_NUMBA:
        import numba

        threads = numba.get_num_threads()
    for mol in query_mols:
        query = fingerprint_words(mol)
        seconds, expected = timed(
            DataStructs.BulkTanimotoSimilarity, generator.GetFingerprint(mol), rdkit_fps
        )
        expected = np.asarray(expected)
        note("rdkit", seconds)
        seconds, got = timed(tanimoto, index, query)
        note("scan", seconds)
        if not np.array_equal(got, expected):
            raise SystemExit("similarities differ from RDKit's")
        note("numpy", timed(tanimoto, index, query, use_numba=False)[0])
        note("top100", timed(similarity_search, index, mol, top_k=100)[0])
        for kind, top_k, threshold in (("threshold", None, THRESHOLD), ("top-k", TOP_K, None)):
            seconds, want = timed(rdkit_select, expected, top_k, threshold)
            note(f"rdkit {kind}", times["rdkit"][-1] + seconds)
            seconds, full = timed(
                similar_fingerprints,
                index,
                query,
                top_k=top_k,
                threshold=threshold,
                use_bounds=False,
            )
            note(f"full {kind}", seconds)
            seconds, bounded = timed(
                similar_fingerprints, index, query, top_k=top_k, threshold=threshold
            )
            note(f"bounded {kind}", seconds)
            if HAVE_NUMBA:
                numba.set_num_threads(1)
                try:
                    seconds, single = timed(
                        similar_fingerprints, index, query, top_k=top_k, threshold=threshold
                    )
                finally:
                    numba.set_num_threads(threads)
                note(f"bounded {kind} 1 thread", seconds)
            else:
                single = bounded
            for answer in (full, bounded, single):
                if not (np.array_equal(answer[0], want[0]) and np.array_equal(answer[1], want[1])):
                    raise SystemExit(f"{kind} hits differ from RDKit's")
            hits[kind].append(len(want[0]))
    other = load.cores()
    median = {name: _common.median(values) for name, values in times.items()}
    scan = "numba" if HAVE_NUMBA else "numpy"
    rows = [
        (
            "full similarity column",
            "RDKit BulkTanimotoSimilarity (baseline, 1 core)",
            "rdkit",
            "rdkit",
        ),
        ("", f"DrugDesk scan ({scan}, all cores)", "scan", "rdkit"),
        ("", "DrugDesk scan, numpy fallback", "numpy", "rdkit"),
        ("top-100", "DrugDesk similarity_search (bounded, all cores)", "top100", "rdkit"),
    ]
    for kind, label in (("threshold", f"threshold {THRESHOLD}"), ("top-k", f"top-{TOP_K}")):
        rows += [
            (
                label,
                "RDKit BulkTanimotoSimilarity + numpy select and sort (1 core)",
                f"rdkit {kind}",
                f"rdkit {kind}",
            ),
            (
                "",
                f"DrugDesk full scan + select ({scan}, all cores)",
                f"full {kind}",
                f"rdkit {kind}",
            ),
            ("", "DrugDesk popcount bounds (all cores)", f"bounded {kind}", f"rdkit {kind}"),
        ]
        if HAVE_NUMBA:
            rows.append(
                (
                    "",
                    "DrugDesk popcount bounds (1 thread)",
                    f"bounded {kind} 1 thread",
                    f"rdkit {kind}",
                )
            )
    print(f"### Similarity search over {args.total:,} fingerprints\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- Data: Morgan r=2 2048-bit fingerprints of the first {args.unique:,} MOSES SMILES, "
        f"tiled to {args.total:,}; {args.queries} queries "
        + (
            "drawn from them"
            if args.queries_inside
            else "from the MOSES molecules after them (not in the index)"
        )
        + "; median per query"
    )
    print(f"- Fingerprinting {len(small):,} molecules: {fp_seconds:.1f} s")
    print(
        f"- Memory: {index.nbytes / 1e6:,.0f} MB for the index "
        f"({index.nbytes / args.total:.0f} bytes per molecule); the popcount buckets (a sorted "
        f"copy in 64-byte planes, built once per index in {build_seconds:.2f} s) "
        f"{buckets.nbytes / 1e6:,.0f} MB more"
    )
    print(
        f"- Hits per query (median): {int(np.median(hits['threshold'])):,} at {THRESHOLD}, "
        f"{TOP_K} for top-{TOP_K}; every answer equal to RDKit's (rows, similarities, order)"
    )
    print(f"- Other processes used {other:.2f} cores meanwhile\n")
    print("| search | method | s per query | vs RDKit |")
    print("|---|---|---:|---:|")
    for search, name, key, baseline in rows:
        print(f"| {search} | {name} | {median[key]:.4f} | {median[baseline] / median[key]:.1f}× |")


if __name__ == "__main__":
    main()
