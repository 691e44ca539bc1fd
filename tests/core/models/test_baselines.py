"""Random-forest baselines: learn a simple rule, handle missing labels, save and load safely."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from sklearn.metrics import roc_auc_score

from core.jobs import JobCancelled
from core.models.baselines import (
    FORESTS_FILE,
    available_cores,
    fit_baseline,
    load_baseline,
    predict_baseline,
    save_baseline,
)

CHAINS = ["C", "CC", "CCC", "CC(C)", "CCCC", "CC(C)C", "CCCCC", "C1CC1", "C1CCCC1", "C1CCCCC1"]
GROUPS = [
    "O",
    "N",
    "Cl",
    "F",
    "C(=O)O",
    "C#N",
    "c1ccccc1",
    "c1ccncc1",
    "NC(=O)C",
    "OC",
    "S",
    "N(C)C",
]


def _molecules() -> list[str]:
    """120 small molecules: every chain with every end group (all parse in RDKit)."""
    smiles = [f"{chain}{group}" for chain in CHAINS for group in GROUPS]
    assert all(Chem.MolFromSmiles(s) is not None for s in smiles)
    return smiles


def _has(smiles: str, symbol: str) -> float:
    return float(any(a.GetSymbol() == symbol for a in Chem.MolFromSmiles(smiles).GetAtoms()))


@pytest.fixture(scope="module")
def data():
    smiles = _molecules()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(smiles))
    train = [smiles[i] for i in order[:90]]
    test = [smiles[i] for i in order[90:]]
    return train, test


@pytest.fixture(scope="module")
def nitrogen_model(data):
    train, _ = data
    y = np.array([_has(s, "N") for s in train])
    return fit_baseline(train, y, "classification", n_trees=60, seed=0, target_names=["has_N"])


def test_classifier_beats_chance_on_held_out_molecules(nitrogen_model, data):
    _, test = data
    y_test = np.array([_has(s, "N") for s in test])
    prediction = predict_baseline(nitrogen_model, test)
    assert prediction.mean.shape == prediction.std.shape == (len(test), 1)
    assert roc_auc_score(y_test, prediction.mean[:, 0]) > 0.9
    assert ((prediction.mean >= 0) & (prediction.mean <= 1)).all()
    assert (prediction.std >= 0).all() and prediction.std.max() > 0


def test_mean_equals_sklearn_predict_proba(nitrogen_model, data):
    from core.models.featurize import featurize

    _, test = data
    forest = nitrogen_model.forests[0]
    expected = forest.predict_proba(featurize(test).matrix.astype(np.float32))[:, 1]
    np.testing.assert_allclose(predict_baseline(nitrogen_model, test).mean[:, 0], expected)


def test_invalid_smiles_predict_nan(nitrogen_model):
    prediction = predict_baseline(nitrogen_model, ["CCN", "C1CC", "CCO"])
    assert prediction.valid.tolist() == [True, False, True]
    assert np.isnan(prediction.mean[1]).all() and not np.isnan(prediction.mean[[0, 2]]).any()


def test_regression_with_per_tree_std(data):
    train, test = data
    y = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in train], dtype=float)
    model = fit_baseline(train, y, "regression", n_trees=50, seed=1)
    prediction = predict_baseline(model, test)
    truth = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in test], dtype=float)
    assert np.corrcoef(truth, prediction.mean[:, 0])[0, 1] > 0.7
    forest = model.forests[0]
    np.testing.assert_allclose(
        prediction.mean[:, 0], forest.predict(model_features(test)), rtol=1e-10
    )


def model_features(smiles):
    from core.models.featurize import featurize

    return featurize(smiles).matrix.astype(np.float32)


def test_multitask_trains_each_forest_on_its_labelled_rows(data):
    train, test = data
    y = np.column_stack([[_has(s, "N") for s in train], [_has(s, "O") for s in train]])
    y[:30, 0] = np.nan  # task 0 labelled on 60 rows
    y[50:, 1] = np.nan  # task 1 labelled on 50 rows
    model = fit_baseline(train, y, "classification", n_trees=50)
    # A tree's bootstrap draws as many rows (its root's weighted count) as the forest saw.
    assert model.forests[0].estimators_[0].tree_.weighted_n_node_samples[0] == 60
    assert model.forests[1].estimators_[0].tree_.weighted_n_node_samples[0] == 50
    prediction = predict_baseline(model, test)
    assert prediction.mean.shape == (len(test), 2)
    y_test = np.column_stack([[_has(s, "N") for s in test], [_has(s, "O") for s in test]])
    for t in range(2):
        assert roc_auc_score(y_test[:, t], prediction.mean[:, t]) > 0.8


def test_balanced_class_weight_reaches_the_forest(data):
    train, _ = data
    y = np.array([_has(s, "N") for s in train])
    model = fit_baseline(train, y, "classification", n_trees=10, class_weight="balanced")
    assert model.forests[0].class_weight == "balanced"


def test_progress_and_cancel_between_chunks(data):
    train, _ = data
    y = np.array([_has(s, "N") for s in train])
    reports = []
    fit_baseline(train, y, "classification", n_trees=120, progress=lambda f, m: reports.append(f))
    assert reports == pytest.approx([1 / 3, 2 / 3, 1.0])
    calls = iter([False, False, True])  # featurize checks once, chunk 1 runs, cancel before chunk 2
    with pytest.raises(JobCancelled):
        fit_baseline(train, y, "classification", n_trees=120, is_cancelled=lambda: next(calls))


def test_bad_inputs(data):
    train, _ = data
    with pytest.raises(ValueError, match="only class"):
        fit_baseline(train, np.zeros(len(train)), "classification", n_trees=10)
    with pytest.raises(ValueError, match="must be 0 or 1"):
        fit_baseline(train, np.arange(len(train)) % 3, "classification", n_trees=10)
    with pytest.raises(ValueError, match="one row per SMILES"):
        fit_baseline(train, np.zeros(3), "regression", n_trees=10)
    with pytest.raises(ValueError, match="task must be"):
        fit_baseline(train, np.zeros(len(train)), "ranking", n_trees=10)


def test_save_load_round_trip_gives_identical_predictions(nitrogen_model, data, tmp_path):
    _, test = data
    save_baseline(nitrogen_model, tmp_path / "rf")
    loaded = load_baseline(tmp_path / "rf")
    assert loaded.target_names == ("has_N",) and loaded.task == "classification"
    before, after = predict_baseline(nitrogen_model, test), predict_baseline(loaded, test)
    assert np.array_equal(before.mean, after.mean) and np.array_equal(before.std, after.std)
    assert not list((tmp_path / "rf").glob("*.pkl"))


def test_load_refuses_untrusted_types_and_garbage(nitrogen_model, tmp_path):
    import skops.io as sio

    folder = save_baseline(nitrogen_model, tmp_path / "rf")
    # A file that would call a function when built: skops records it as an untrusted type.
    sio.dump([nitrogen_model.forests[0], print], folder / FORESTS_FILE)
    with pytest.raises(ValueError, match=r"refusing to load.*builtins\.print"):
        load_baseline(folder)
    (folder / FORESTS_FILE).write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="not a skops model file"):
        load_baseline(folder)
    (folder / FORESTS_FILE).unlink()
    with pytest.raises(ValueError, match=r"forests\.skops is missing"):
        load_baseline(folder)


@pytest.mark.parametrize(
    ("cpus", "requested", "reserve", "expected"),
    [
        (8, None, 1, 7),  # all but the core kept for the window
        (8, None, 0, 8),
        (8, 3, 1, 3),  # what was asked, when the machine has it
        (8, 10_000, 1, 8),  # capped by the machine
        (8, 0, 1, 1),  # never less than one
        (8, -4, 1, 1),
        (1, None, 1, 1),  # one core: the forest still gets it
        (None, None, 1, 1),  # os.cpu_count() unknown
        (2, 2, 1, 2),  # an explicit request may take the reserved core
    ],
)
def test_core_budget(monkeypatch, cpus, requested, reserve, expected):
    import core.models.baselines as baselines

    monkeypatch.setattr(baselines.os, "cpu_count", lambda: cpus)
    assert available_cores(requested, reserve=reserve) == expected


def test_forests_use_the_capped_core_budget(monkeypatch):
    import core.models.baselines as baselines

    monkeypatch.setattr(baselines.os, "cpu_count", lambda: 2)
    smiles, labels = _molecules()[:24], [i % 2 for i in range(24)]
    for n_jobs, expected in ((None, 1), (64, 2), (1, 1)):
        model = fit_baseline(smiles, labels, "classification", n_trees=4, n_jobs=n_jobs)
        assert [forest.n_jobs for forest in model.forests] == [expected], n_jobs
