"""``core.chem.cluster_search`` without a cluster: parts searched on their own and merged give
the single-machine answer (the same rows, order, names and similarities), ties included; a real
``local:2`` cluster is tested in tests/cli/test_search_cluster.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem

from core.chem.cluster_search import (
    HIT_COLUMNS,
    SearchRequest,
    hits_table,
    merge_hits,
    record_search_smiles,
    search_part,
)
from core.chem.readers import iter_record_chunks
from core.chem.search import SubstructureIndex, build_fingerprint_index, similarity_search

CHEMBL = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """300 ChEMBL records, an invalid one, then the first 100 again (ties at every similarity)."""
    lines = CHEMBL.read_text().splitlines()
    path = tmp_path_factory.mktemp("search") / "lib.smi"
    path.write_text("\n".join([*lines[:300], "C1CC broken", *lines[:100]]) + "\n")
    return [record for chunk in iter_record_chunks(path) for record in chunk]


def _single_machine(records, request: SearchRequest) -> pd.DataFrame:
    """What ``drugdesk search`` computes on one machine (all records at once)."""
    smiles = [record_search_smiles(r) for r in records]
    if request.substructure is not None:
        positions = SubstructureIndex.build(smiles).search(request.substructure)
        scores = np.full(len(positions), np.nan)
    else:
        hits = similarity_search(
            build_fingerprint_index(smiles, workers=1),
            request.similar,
            top_k=request.top_k,
            threshold=request.threshold,
        )
        positions, scores = hits.rows, hits.scores
    return hits_table(records, smiles, positions, scores)


def _on_parts(records, request: SearchRequest, cuts: list[int]) -> tuple[pd.DataFrame, int]:
    bounds = [0, *sorted(cuts), len(records)]
    results = [search_part(records[a:b], request) for a, b in itertools.pairwise(bounds)]
    return merge_hits([t for t, _ in results], request), sum(n for _, n in results)


REQUESTS = [
    SearchRequest(similar="O=S(=O)(Nc1cccs1)c1ccc(Oc2ccccc2-c2ccccc2)c(C#N)c1", top_k=25),
    SearchRequest(similar="O=S(=O)(Nc1cccs1)c1ccc(Oc2ccccc2-c2ccccc2)c(C#N)c1", threshold=0.5),
    SearchRequest(similar="Clc1ccc(cc1)Cn1ccc(n1)Oc1ccccc1", top_k=30, threshold=0.3),
    SearchRequest(substructure="c1ncns1"),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=["top-k", "threshold", "both", "substructure"])
def test_parts_merged_equal_the_single_machine_answer(records, request_):
    want = _single_machine(records, request_)
    assert len(want) > 5
    got, searched = _on_parts(records, request_, [37, 150, 151, 302])
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert searched == len(records) - 1  # the broken ring has no structure
    assert list(got.columns) == HIT_COLUMNS


def test_top_k_ties_keep_file_order_across_parts(records):
    request = REQUESTS[0]
    got, _ = _on_parts(records, request, [50, 320])
    similarity = got["similarity"].to_numpy()
    assert np.all(np.diff(similarity) <= 0)
    for value in np.unique(similarity):  # within a tie: rows ascending, whichever part
        rows = got["row"].to_numpy()[similarity == value]
        assert np.all(np.diff(rows) > 0)
    assert got["row"].max() > 300  # the repeated molecules (last part) tie with their firsts


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(0, 401), max_size=6),
    top_k=st.integers(1, 60),
    threshold=st.one_of(st.none(), st.sampled_from([0.0, 0.3, 0.55, 1.0])),
)
def test_any_cut_into_parts_gives_the_same_top_k(records, cuts, top_k, threshold):
    request = SearchRequest(similar=REQUESTS[0].similar, top_k=top_k, threshold=threshold)
    got, _ = _on_parts(records, request, cuts)
    pd.testing.assert_frame_equal(got, _single_machine(records, request), check_exact=True)


def test_no_hits_anywhere_is_an_empty_table_with_the_columns(records):
    request = SearchRequest(substructure="[U]")
    got, _ = _on_parts(records, request, [100])
    assert got.empty and list(got.columns) == HIT_COLUMNS
    assert got["row"].dtype == np.int64 and got["similarity"].dtype == np.float64


def test_a_request_is_one_kind_of_search():
    with pytest.raises(ValueError, match="similar SMILES or a substructure"):
        SearchRequest()
    with pytest.raises(ValueError, match="similar SMILES or a substructure"):
        SearchRequest(similar="C", substructure="C")
