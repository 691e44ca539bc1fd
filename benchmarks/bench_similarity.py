"""Similarity search over 1,000,000 Morgan fingerprints: DrugDesk's scan against RDKit's
``DataStructs.BulkTanimotoSimilarity`` in the same run, plus top-k selection and memory.

Fingerprints of N real MOSES molecules are tiled to one million (a scan's cost does not depend on
which molecules the rows hold; fingerprinting a million molecules would take ~10 minutes and
measures RDKit, not the search). Both sides get the very same bits; the script checks that the
similarities agree exactly.

    python benchmarks/bench_similarity.py [--unique 50000] [--total 1000000] [--queries 10]
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
    similarity_search,
    tanimoto,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unique", type=int, default=50_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10)
    args = parser.parse_args()
    info = _common.machine_info()
    smiles = _common.moses_smiles(args.unique)

    start = time.perf_counter()
    small = build_fingerprint_index(smiles)
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
    rdkit_small = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    rdkit_fps = (rdkit_small * repeats)[: args.total]

    rng = np.random.default_rng(0)
    queries = rng.choice(len(smiles), args.queries, replace=False)
    tanimoto(index, index.words[0])  # compile (numba caches it on disk after the first run)

    load = _common.OtherLoad()
    rdkit_times, ours_times, numpy_times, topk_times = [], [], [], []
    for q in queries:
        t = time.perf_counter()
        expected = np.asarray(DataStructs.BulkTanimotoSimilarity(rdkit_small[q], rdkit_fps))
        rdkit_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        got = tanimoto(index, small.words[q])
        ours_times.append(time.perf_counter() - t)
        if not np.array_equal(got, expected):
            raise SystemExit(f"similarities differ for query {q}")
        t = time.perf_counter()
        tanimoto(index, small.words[q], use_numba=False)
        numpy_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        similarity_search(index, Chem.MolFromSmiles(smiles[q]), top_k=100)
        topk_times.append(time.perf_counter() - t)
    other = load.cores()
    rdkit_s = _common.median(rdkit_times)
    rows = [
        ("RDKit BulkTanimotoSimilarity (baseline)", rdkit_s),
        (f"DrugDesk scan ({'numba' if HAVE_NUMBA else 'numpy'})", _common.median(ours_times)),
        ("DrugDesk scan, numpy fallback", _common.median(numpy_times)),
        ("DrugDesk top-100 search (scan + select + sort)", _common.median(topk_times)),
    ]
    print("### Similarity search over 1,000,000 fingerprints\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- Data: Morgan r=2 2048-bit fingerprints of the first {args.unique:,} MOSES SMILES, "
        f"tiled to {args.total:,}; {args.queries} queries drawn from them; median per query"
    )
    print(f"- Fingerprinting {len(small):,} molecules: {fp_seconds:.1f} s")
    print(
        f"- Memory: {index.nbytes / 1e6:,.0f} MB for the index "
        f"({index.nbytes / args.total:.0f} bytes per molecule)"
    )
    print(f"- Other processes used {other:.2f} cores meanwhile\n")
    print("| method | s per query | vs RDKit |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {rdkit_s / seconds:.1f}× |")


if __name__ == "__main__":
    main()
