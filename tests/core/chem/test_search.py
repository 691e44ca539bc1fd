"""Similarity, substructure, Butina clustering, MaxMin picks and scaffolds against RDKit's own."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.ML.Cluster import Butina

from core.chem.search import (
    HAVE_NUMBA,
    SearchError,
    SubstructureIndex,
    build_fingerprint_index,
    butina_clusters,
    fingerprint_words,
    maxmin_pick,
    scaffold_groups,
    similarity_search,
    substructure_mask,
    tanimoto,
)
from core.jobs import JobCancelled

DIVERSE = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "OC(=O)c1ccccc1",
    "c1ccc2ccccc2c1",
    "CCN(CC)CC",
    "C1CCNCC1",
    "Clc1ccc(cc1)C(c1ccccc1)N1CCNCC1",
]


@pytest.fixture(scope="module")
def smiles(chembl_entries) -> list[str]:
    # A congeneric series (many near neighbours) plus unrelated drugs, an empty and a bad entry.
    return [s for s, _ in chembl_entries[:240]] + DIVERSE + ["", "not a smiles"]


@pytest.fixture(scope="module")
def index(smiles):
    return build_fingerprint_index(smiles, workers=1)


def rdkit_fps(smiles):
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def test_index_skips_unreadable_rows(index, smiles):
    assert index.n_rows == len(smiles)
    assert len(index) == len(smiles) - 2
    assert list(index.rows[-2:]) == [len(smiles) - 4, len(smiles) - 3]


@pytest.mark.parametrize("use_numba", [False, True] if HAVE_NUMBA else [False])
def test_tanimoto_equals_rdkit_bulk(index, smiles, use_numba):
    readable = [smiles[r] for r in index.rows]
    fps = rdkit_fps(readable)
    for q in (0, 57, len(readable) - 1):
        expected = DataStructs.BulkTanimotoSimilarity(fps[q], fps)
        got = tanimoto(index, index.words[q], use_numba=use_numba)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_similarity_search_top_k_and_threshold(index, smiles):
    readable = [smiles[r] for r in index.rows]
    fps = rdkit_fps(readable)
    query = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"  # ibuprofen, in the list
    expected = np.asarray(DataStructs.BulkTanimotoSimilarity(rdkit_fps([query])[0], fps))
    hits = similarity_search(index, query, top_k=5)
    order = np.lexsort((np.arange(len(expected)), -expected))[:5]
    assert list(hits.rows) == list(index.rows[order])
    np.testing.assert_allclose(hits.scores, expected[order])
    assert smiles[hits.rows[0]] == query and hits.scores[0] == 1.0
    above = similarity_search(index, query, top_k=None, threshold=0.3)
    assert set(above.rows) == set(index.rows[expected >= 0.3])
    assert np.all(np.diff(above.scores) <= 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "empty"),
        ({"query": "C1CC"}, "not a SMILES"),
        ({"top_k": 0}, "top-k"),
        ({"threshold": 1.5}, "between 0 and 1"),
    ],
)
def test_bad_similarity_queries(index, kwargs, message):
    arguments = {"query": "CCO", **kwargs}
    with pytest.raises(SearchError, match=message):
        similarity_search(index, arguments.pop("query"), **arguments)


def test_substructure_index_matches_a_plain_loop(smiles):
    substructures = SubstructureIndex.build(smiles)
    for smarts in ("c1ccccc1C(=O)O", "[NX3;H1,H2]", "[#7]~[#6]=O", "Cl", "[Si]"):
        expected = np.flatnonzero(substructure_mask(smiles, smarts))
        assert list(substructures.search(smarts)) == list(expected), smarts
    with pytest.raises(SearchError, match="not a valid SMARTS"):
        substructures.search("c1ccc(")


def test_butina_matches_rdkit(index, smiles):
    readable = [smiles[r] for r in index.rows]
    fps = rdkit_fps(readable)
    distances = []
    for i in range(1, len(fps)):
        distances.extend(1 - s for s in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    expected = Butina.ClusterData(distances, len(fps), 0.6, isDistData=True)
    labels = butina_clusters(index, threshold=0.4)
    assert labels[len(smiles) - 1] == -1  # the unreadable row
    got = {}
    for position, label in zip(index.rows, labels[index.rows], strict=True):
        got.setdefault(label, set()).add(int(np.searchsorted(index.rows, position)))
    assert len(got) == len(expected)
    for number, cluster in enumerate(expected):
        assert got[number] == set(cluster)


def test_butina_cancel(index):
    with pytest.raises(JobCancelled):
        butina_clusters(index, is_cancelled=lambda: True)


def test_maxmin_picks_are_spread_out(index, smiles):
    picks = maxmin_pick(index, 8, first=0)
    assert len(set(picks)) == 8
    fps = rdkit_fps([smiles[p] for p in picks])
    nearest_pair = min(
        max(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i] + fps[i + 1 :])) for i in range(8)
    )
    # The unrelated drugs are far from the congeneric series: MaxMin must find most of them.
    assert sum(smiles[p] in DIVERSE for p in picks) >= 6
    rng = np.random.default_rng(0)
    random_pick = rng.choice(index.rows, 8, replace=False)
    random_fps = rdkit_fps([smiles[p] for p in random_pick])
    random_nearest = min(
        max(DataStructs.BulkTanimotoSimilarity(random_fps[i], random_fps[:i] + random_fps[i + 1 :]))
        for i in range(8)
    )
    assert nearest_pair <= random_nearest
    with pytest.raises(SearchError):
        maxmin_pick(index, 0)


def test_scaffolds_match_rdkit():
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CC", "", "Clc1ccc(cc1)C(c1ccccc1)N1CCNCC1"]
    scaffolds = scaffold_groups(smiles)
    assert scaffolds[0] == "c1ccccc1"
    assert scaffolds[1] == "" and scaffolds[2] == ""
    expected = Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(Chem.MolFromSmiles(smiles[3])))
    assert scaffolds[3] == expected
    assert scaffold_groups(smiles[3:], generic=True)[0] == "C1CCC(C(C2CCCCC2)C2CCCCC2)CC1"


def test_fingerprint_words_round_trip():
    mol = Chem.MolFromSmiles("c1ccccc1O")
    bits = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048).GetFingerprint(mol)
    words = fingerprint_words(mol)
    assert words.shape == (32,) and int(np.bitwise_count(words).sum()) == bits.GetNumOnBits()
