"""Bounded similarity search (popcount buckets, plane-by-plane rejection) gives exactly the full
scan's answer: same positions, same similarities to the bit, same order, ties by position."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from core.chem import search
from core.chem.search import (
    FP_WORDS,
    HAVE_NUMBA,
    FingerprintIndex,
    build_fingerprint_index,
    popcount_bounds,
    similar_fingerprints,
    similarity_search,
)

KERNELS = [False, True] if HAVE_NUMBA else [False]


def make_index(words: np.ndarray) -> FingerprintIndex:
    words = np.ascontiguousarray(words, dtype=np.uint64).reshape(-1, FP_WORDS)
    n = len(words)
    return FingerprintIndex(
        words, np.bitwise_count(words).sum(axis=1, dtype=np.int32), np.arange(n) * 2, 2 * n
    )


def random_words(rng: np.random.Generator, n: int, density: float, span: int) -> np.ndarray:
    """``n`` fingerprints whose bits fall in the first ``span`` positions (a small span makes
    repeated fingerprints and tied similarities common)."""
    bits = np.zeros((n, FP_WORDS * 64), dtype=np.uint8)
    bits[:, :span] = rng.random((n, span)) < rng.uniform(0, density, (n, 1))
    return np.packbits(bits, axis=1).view(np.uint64).reshape(n, FP_WORDS)


def reference(words: np.ndarray, query: np.ndarray, top_k, threshold):
    """The answer from first principles: Python integers, one division each, sorted by
    (-similarity, position)."""
    query_count = int(np.bitwise_count(query).sum())
    found = []
    for position, row in enumerate(words):
        common = int(np.bitwise_count(row & query).sum())
        union = query_count + int(np.bitwise_count(row).sum()) - common
        similarity = common / union if union else 0.0
        if threshold is None or similarity >= threshold:
            found.append((-similarity, position))
    found.sort()
    if top_k is not None:
        found = found[:top_k]
    return [p for _, p in found], [-s for s, _ in found]


def assert_same(got, expected) -> None:
    positions, scores = got
    assert list(positions) == list(expected[0])
    assert np.array_equal(scores, np.asarray(expected[1], dtype=np.float64))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 80),
    density=st.sampled_from([0.0, 0.02, 0.1, 0.5, 1.0]),
    span=st.sampled_from([8, 64, 700, 2048]),
    query_kind=st.sampled_from(["random", "row", "zero", "full"]),
    top_k=st.one_of(st.none(), st.integers(1, 90)),
    threshold=st.one_of(
        st.none(),
        st.sampled_from([0.0, 1.0, 0.7, 0.5, 1 / 3, 2 / 3]),
        st.floats(0.0, 1.0),
    ),
    batch=st.sampled_from([1, 7, 32_768]),
    block=st.sampled_from([1, 5, 4096]),
    parallel=st.sampled_from([0, 262_144]),
)
def test_bounded_search_equals_the_full_scan_on_random_fingerprints(
    seed, n, density, span, query_kind, top_k, threshold, batch, block, parallel
):
    rng = np.random.default_rng(seed)
    words = random_words(rng, n, density, span)
    if query_kind == "row" and n:
        query = words[rng.integers(n)].copy()
    elif query_kind == "zero":
        query = np.zeros(FP_WORDS, np.uint64)
    elif query_kind == "full":
        query = np.full(FP_WORDS, np.iinfo(np.uint64).max, np.uint64)
    else:
        query = random_words(rng, 1, density, span)[0]
    index = make_index(words)
    expected = reference(words, query, top_k, threshold)
    # Small batches and blocks take the stop rule and the per-block hit lists through many
    # steps; PARALLEL_SCAN 0 sends every run of fingerprints to the multi-threaded kernel.
    with (
        mock.patch.object(search, "BOUNDED_BATCH", batch),
        mock.patch.object(search, "SCAN_BLOCK", block),
        mock.patch.object(search, "PARALLEL_SCAN", parallel),
    ):
        for use_numba in KERNELS:
            for use_bounds in (True, False):
                got = similar_fingerprints(
                    index,
                    query,
                    top_k=top_k,
                    threshold=threshold,
                    use_bounds=use_bounds,
                    use_numba=use_numba,
                )
                assert_same(got, expected)


@pytest.fixture(scope="module")
def chembl(chembl_entries):
    smiles = [s for s, _ in chembl_entries]
    index = build_fingerprint_index(smiles, workers=1)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    return smiles, index, fps


@pytest.mark.parametrize("use_numba", KERNELS)
def test_bounded_search_equals_rdkit_bulk_tanimoto_on_chembl(chembl, use_numba):
    smiles, index, fps = chembl
    assert len(index) == len(smiles)
    queries = [0, 17, 404, len(smiles) - 1]
    for q in queries:
        expected = np.asarray(DataStructs.BulkTanimotoSimilarity(fps[q], fps))
        order = np.lexsort((np.arange(len(expected)), -expected))
        for threshold in (None, 0.0, 0.3, 0.55, 0.7, 0.9, 1.0):
            for top_k in (None, 1, 10, 50, len(smiles) + 5):
                if top_k is None and threshold is None:
                    continue
                want = order if threshold is None else order[expected[order] >= threshold]
                want = want if top_k is None else want[:top_k]
                positions, scores = similar_fingerprints(
                    index,
                    index.words[q],
                    top_k=top_k,
                    threshold=threshold,
                    use_numba=use_numba,
                )
                assert list(positions) == list(want), (q, threshold, top_k)
                assert np.array_equal(scores, expected[want]), (q, threshold, top_k)


def test_similarity_search_bounded_equals_unbounded_for_smiles_queries(chembl):
    smiles, index, _ = chembl
    for query in (smiles[3], "CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1"):
        for kwargs in ({"top_k": 50}, {"top_k": None, "threshold": 0.7}, {"threshold": 0.4}):
            bounded = similarity_search(index, query, **kwargs)
            full = similarity_search(index, query, use_bounds=False, **kwargs)
            assert list(bounded.rows) == list(full.rows)
            assert np.array_equal(bounded.scores, full.scores)
    hits = similarity_search(index, smiles[3], top_k=None, threshold=1.0)
    assert smiles[3] in [smiles[r] for r in hits.rows] and set(hits.scores) == {1.0}


def test_a_threshold_on_an_exact_ratio_keeps_the_fingerprint_that_reaches_it():
    # 0.7 * 10 is 7.000000000000001 in floating point: a bucket range from ceil(t * |q|) would
    # start at 8 bits and lose this 7-of-10 fingerprint, whose similarity is exactly 0.7.
    query = np.zeros(FP_WORDS, np.uint64)
    query[0] = (1 << 10) - 1
    row = np.zeros(FP_WORDS, np.uint64)
    row[0] = (1 << 7) - 1
    index = make_index(np.stack([row, query]))
    assert popcount_bounds(10, 12)[7] == 0.7
    positions, scores = similar_fingerprints(index, query, top_k=None, threshold=0.7)
    assert list(positions) == [1, 0] and list(scores) == [1.0, 0.7]


@pytest.mark.parametrize("use_numba", KERNELS)
def test_empty_index_empty_query_and_all_zero_fingerprints(use_numba):
    empty = make_index(np.zeros((0, FP_WORDS), np.uint64))
    zero = np.zeros(FP_WORDS, np.uint64)
    for kwargs in ({"top_k": 5}, {"top_k": None, "threshold": 0.0}, {"threshold": 1.0}):
        positions, scores = similar_fingerprints(empty, zero, use_numba=use_numba, **kwargs)
        assert len(positions) == 0 and len(scores) == 0
    zeros = make_index(np.zeros((6, FP_WORDS), np.uint64))
    # All-zero against all-zero: similarity 0 (as RDKit), ties kept in position order.
    positions, scores = similar_fingerprints(zeros, zero, top_k=4, use_numba=use_numba)
    assert list(positions) == [0, 1, 2, 3] and list(scores) == [0.0] * 4
    positions, _ = similar_fingerprints(zeros, zero, top_k=None, threshold=0.0, use_numba=use_numba)
    assert list(positions) == list(range(6))
    positions, _ = similar_fingerprints(
        zeros, zero, top_k=None, threshold=0.01, use_numba=use_numba
    )
    assert len(positions) == 0


def test_k_larger_than_the_index_returns_every_fingerprint_best_first(chembl):
    _, index, fps = chembl
    positions, scores = similar_fingerprints(index, index.words[5], top_k=len(index) + 100)
    assert len(positions) == len(index) and sorted(positions) == list(range(len(index)))
    expected = np.asarray(DataStructs.BulkTanimotoSimilarity(fps[5], fps))
    assert np.array_equal(scores, expected[positions])
    assert np.all(np.diff(scores) <= 0)


def test_threshold_zero_and_one(chembl):
    _, index, fps = chembl
    expected = np.asarray(DataStructs.BulkTanimotoSimilarity(fps[9], fps))
    positions, _ = similar_fingerprints(index, index.words[9], top_k=None, threshold=0.0)
    assert len(positions) == len(index)
    positions, scores = similar_fingerprints(index, index.words[9], top_k=None, threshold=1.0)
    assert list(positions) == list(np.flatnonzero(expected == 1.0)) and set(scores) == {1.0}


def test_buckets_are_built_once_and_leave_the_index_as_it_was(chembl):
    _, index, _ = chembl
    copy = make_index(index.words.copy())
    words, counts, rows = copy.words.copy(), copy.counts.copy(), copy.rows.copy()
    first = copy.popcount_buckets()
    assert copy.popcount_buckets() is first
    similar_fingerprints(copy, copy.words[0], top_k=10)
    assert copy.popcount_buckets() is first
    assert np.array_equal(copy.words, words) and np.array_equal(copy.counts, counts)
    assert np.array_equal(copy.rows, rows) and len(copy) == len(rows)
    # The sorted copy holds the same fingerprints, popcount order, index order within a bucket.
    assert np.array_equal(np.sort(first.order), np.arange(len(copy)))
    assert np.all(np.diff(first.counts) >= 0)
    for c in np.unique(first.counts):
        members = first.order[first.offsets[c] : first.offsets[c + 1]]
        assert np.all(np.diff(members) > 0) and np.all(copy.counts[members] == c)
    unsorted = first.planes.transpose(1, 0, 2).reshape(len(copy), -1)[:, :FP_WORDS]
    assert np.array_equal(unsorted, copy.words[first.order])


def test_bad_arguments_are_refused():
    index = make_index(np.zeros((2, FP_WORDS), np.uint64))
    with pytest.raises(search.SearchError, match="top-k"):
        similar_fingerprints(index, index.words[0], top_k=0)
    with pytest.raises(search.SearchError, match="between 0 and 1"):
        similar_fingerprints(index, index.words[0], threshold=-0.1)
