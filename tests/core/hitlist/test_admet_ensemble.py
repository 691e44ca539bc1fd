"""ADMET predictions through core.hitlist.admet_ensemble equal admet-ai's own ``predict``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.hitlist import admet
from core.hitlist.admet import admet_frame, endpoints, predict_admet
from core.jobs import JobCancelled

pytest.importorskip("admet_ai")

# Drugs and building blocks of many kinds: charges, salts, stereocentres, E/Z bonds, isotopes,
# explicit hydrogens, single atoms, macrocycles, halogens, phosphorus, boron, silicon, selenium.
VARIED = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",  # caffeine
    "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O",  # (S)-ibuprofen
    "CC(=O)Nc1ccc(O)cc1",  # paracetamol
    "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O",  # estradiol
    "CN1CCC[C@H]1c1cccnc1",  # nicotine
    "OC(=O)/C=C/C(=O)O",  # fumaric acid
    "OC(=O)/C=C\\C(=O)O",  # maleic acid
    "C[N+](C)(C)CCOC(C)=O",  # acetylcholine
    "[Na+].[Cl-]",
    "[O-]C(=O)c1ccccc1.[K+]",
    "C",
    "O",
    "[2H]C([2H])([2H])O",
    "[H]C([H])([H])Cl",
    "FC(F)(F)c1ccc(Oc2ccc(Cl)cc2)cc1",
    "Brc1ccc(I)cc1",
    "OB(O)c1ccccc1",
    "C[Si](C)(C)OC",
    "COP(=O)(OC)OC",
    "[Se]1C=CC=C1",
    "NC(=O)N",
    "C1CCCCCCCCCCC1",  # a 12-ring
    "CC(C)C[C@H](NC(=O)[C@@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O",  # bortezomib
    "CC1=C(C(=O)N(N1C)c1ccccc1)N(C)CS(=O)(=O)[O-].[Na+]",  # metamizole sodium
    "c1ccc2c(c1)ccc1ccccc12",  # phenanthrene
    "N#Cc1ccccc1",
    "O=[N+]([O-])c1ccccc1",
    "CC[C@H](C)[C@H](NC(=O)[C@@H](N)CC(C)C)C(=O)O",  # a dipeptide
    "Oc1ccc(cc1)C1(c2ccc(O)cc2)OC(=O)c2ccccc12",  # phenolphthalein
    "S=C=S",
]


# Values are float32: a batched product may round a few elements' last bits differently (so may
# admet-ai, for a molecule at another place in its batch); a regression output near 0 that is the
# difference of larger sums then differs by up to ~2e-7 absolute. Hence rtol 1e-6 with atol 1e-6.
# A value one float32 step away from a DrugBank value can move its percentile by one drug
# (100 / 2,845 points): the most that rounding may change.
ONE_DRUG = 100.0 / 2845 + 1e-9


@pytest.fixture(scope="module")
def admet_ai_model():
    return admet._load_model()


@pytest.mark.slow
def test_values_and_percentiles_equal_admet_ai_predict(admet_ai_model):
    import contextlib
    import io

    ours = admet_frame(predict_admet(VARIED), pd.Index(VARIED))
    admet_ai_model.include_physchem = False  # its RDKit columns are not ours
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            direct = admet_ai_model.predict(smiles=VARIED)
    finally:
        admet_ai_model.include_physchem = True
    assert list(direct.index) == VARIED  # every one readable
    for endpoint in endpoints():
        np.testing.assert_allclose(
            ours[endpoint.column], direct[endpoint.id], rtol=1e-6, atol=1e-6, err_msg=endpoint.id
        )
        np.testing.assert_allclose(
            ours[endpoint.percentile_column],
            direct[f"{endpoint.id}_drugbank_approved_percentile"],
            rtol=0,
            atol=ONE_DRUG,
            err_msg=endpoint.id,
        )


@pytest.mark.slow
def test_unreadable_and_empty_smiles_give_nan_rows_and_keep_positions():
    smiles = ["", "not a smiles", "C1CC", VARIED[0], None, VARIED[1], VARIED[0]]
    values = predict_admet(smiles)
    assert values.shape == (len(smiles), 2 * len(endpoints()))
    assert np.isnan(values[[0, 1, 2, 4]]).all()
    assert not np.isnan(values[[3, 5, 6]]).any()
    # A repeat scores the same (to float32 rounding: a row's place in the batch can change
    # which matrix kernel computes it, in admet-ai too).
    width = len(endpoints())
    for a, b in ((values[3], values[6]), (values[5], predict_admet([VARIED[1]])[0])):
        np.testing.assert_allclose(a[:width], b[:width], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(a[width:], b[width:], rtol=0, atol=ONE_DRUG)


@pytest.mark.slow
def test_cancel_stops_between_batches(monkeypatch):
    monkeypatch.setattr(admet, "BATCH", 4)
    seen = []

    def progress(fraction, message):
        seen.append(fraction)

    with pytest.raises(JobCancelled):
        predict_admet(VARIED, progress=progress, is_cancelled=lambda: len(seen) >= 2)
    assert seen == [4 / len(VARIED), 8 / len(VARIED)]


@pytest.mark.slow
def test_batched_pass_equals_each_model_on_its_own():
    ensembles = admet._load_ensembles("cpu")
    assert ensembles.fused
    graphs = ensembles.featurise(ensembles.parse(VARIED))
    fused = ensembles.predict_graphs(graphs)
    ensembles.fused = False
    try:
        each = ensembles.predict_graphs(graphs)
    finally:
        ensembles.fused = True
    np.testing.assert_allclose(fused, each, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_percentiles_equal_scipy_rank_percentiles_with_ties(admet_ai_model):
    from scipy.stats import percentileofscore

    ensembles = admet._load_ensembles("cpu")
    reference = admet_ai_model.drugbank_atc_filtered
    # Values from the reference itself (ties), between them, and beyond both ends.
    rows = []
    for task in ensembles.tasks:
        column = np.sort(reference[task].to_numpy(dtype=np.float64))
        picks = column[[0, 1, len(column) // 2, -1]]
        rows.append(np.concatenate([picks, (picks[:2] + picks[1:3]) / 2, [-1e9, 1e9, np.nan]]))
    values = np.stack(rows, axis=1).astype(np.float32)
    got = ensembles.percentiles(values)
    for j, task in enumerate(ensembles.tasks):
        expected = [percentileofscore(reference[task], value) for value in values[:, j]]
        np.testing.assert_array_equal(got[:, j], expected, err_msg=task)


@pytest.mark.slow
def test_batched_pass_reads_any_edge_order():
    """Edges not stored as consecutive pairs (the gather path) give the same predictions."""
    import torch
    from chemprop.data.collate import BatchMolGraph

    ensembles = admet._load_ensembles("cpu")
    bmg = BatchMolGraph(ensembles.featurise(ensembles.parse(VARIED[:8])))
    order = torch.randperm(bmg.E.shape[0], generator=torch.Generator().manual_seed(0))
    place = torch.empty_like(order)
    place[order] = torch.arange(len(order))
    shuffled = BatchMolGraph(ensembles.featurise(ensembles.parse(VARIED[:8])))
    shuffled.E = bmg.E[order]
    shuffled.edge_index = bmg.edge_index[:, order]
    shuffled.rev_edge_index = place[bmg.rev_edge_index[order]]
    with torch.inference_mode():
        expected = [model(bmg) for model in ensembles.models]
        got = ensembles._forward_fused(shuffled)
    # Another edge order adds each atom's messages in another order: float32 steps apart after
    # three layers (up to 1.5e-5 relative seen on the CI machine; a wrong reverse edge gives
    # errors of order 1), not the same arithmetic as chemprop's.
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
