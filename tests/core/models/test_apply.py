"""Applying a fine-tuned model to a library: one column per target (+ ``<target>_std`` for an
ensemble, ``<target>_nearest_train_similarity`` and ``<target>_in_domain``), the library's index
kept, invalid and empty rows NaN, progress and cancel passed on, the domain unknown for a model
that stores none and refused when malformed.

Tiny models (hidden 32, 2 layers) fine-tuned for one epoch on small molecules: the numbers mean
nothing, the plumbing is what is checked (against ``transformer.predict`` on the same SMILES).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.jobs import JobCancelled
from core.models import transformer as tf
from core.models.apply import predict_library

SMILES = [
    "CCO", "CCN", "CCC", "CCCl", "CCBr", "c1ccccc1", "c1ccncc1", "c1ccoc1", "CC(=O)O", "CC(=O)N",
    "CCOC", "CCCO", "CCCN", "CCCCl", "c1ccc(O)cc1", "c1ccc(N)cc1", "c1ccc(Cl)cc1", "OCCO", "NCCN",
    "CC(C)O", "CC(C)N", "CC(C)Cl", "C1CCCCC1", "C1CCNCC1", "C1CCOCC1", "CCSC", "CCS", "CC#N",
]  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pretrained(pretrain_tiny):
    return pretrain_tiny(SMILES)


def _finetune(pretrained, folder, n_models: int, task: str = "regression"):
    n = len(SMILES)
    if task == "regression":
        targets = np.stack(
            [[float(s.count("C")) for s in SMILES], [float(len(s)) for s in SMILES]], axis=1
        )
        names = ["carbons", "length"]
    else:
        targets = np.array([float("N" in s or "n" in s) for s in SMILES])
        names = ["has_nitrogen"]
    order = np.random.default_rng(0).permutation(n)
    tf.finetune(
        pretrained,
        SMILES,
        targets,
        task,
        order[:20],
        order[20:],
        tf.FinetuneOptions(epochs=1, batch_size=8, n_models=n_models),
        target_names=names,
        output_dir=folder,
        device="cpu",
    )
    return folder


@pytest.fixture(scope="module")
def ensemble(pretrained, tmp_path_factory):
    """Two members, two regression targets."""
    return _finetune(pretrained, tmp_path_factory.mktemp("models") / "ensemble", n_models=2)


@pytest.fixture(scope="module")
def single(pretrained, tmp_path_factory):
    """One member, one classification target."""
    folder = tmp_path_factory.mktemp("models") / "single"
    return _finetune(pretrained, folder, n_models=1, task="classification")


@pytest.fixture
def library():
    """A library table's SMILES and validity, with the non-default index a filtered table has."""
    smiles = pd.Series(
        ["CCO", "", "c1ccccc1O", None, "CC(=O)Nc1ccc(O)cc1", "C1CC", "CCN"],
        index=[10, 11, 12, 13, 14, 15, 16],
        dtype=object,
    )
    valid = pd.Series([True, False, True, False, True, False, True], index=smiles.index)
    return smiles, valid


def test_ensemble_gives_a_column_and_a_std_per_target_on_the_library_index(ensemble, library):
    smiles, valid = library
    frame = predict_library(ensemble, smiles, valid, device="cpu")
    assert list(frame.columns) == [
        "carbons",
        "carbons_std",
        "carbons_lower",
        "carbons_upper",
        "carbons_nearest_train_similarity",
        "carbons_in_domain",
        "length",
        "length_std",
        "length_lower",
        "length_upper",
        "length_nearest_train_similarity",
        "length_in_domain",
    ]
    assert frame.index.equals(smiles.index)
    predicted = [10, 12, 14, 16]
    expected = tf.predict(tf.load_model(ensemble), smiles[predicted].tolist(), device="cpu")
    np.testing.assert_allclose(frame.loc[predicted, "carbons"], expected.mean[:, 0], atol=1e-6)
    np.testing.assert_allclose(frame.loc[predicted, "length_std"], expected.std[:, 1], atol=1e-6)
    values = ["carbons", "carbons_std", "length", "length_std"]
    assert np.isfinite(frame.loc[predicted, values].to_numpy()).all()
    # tf.finetune alone stores no domain: it is unknown, not an error.
    assert frame["carbons_nearest_train_similarity"].isna().all()
    assert frame["carbons_in_domain"].dtype == "boolean" and frame["carbons_in_domain"].isna().all()
    assert (frame.loc[predicted, "carbons_std"] > 0).any()  # two members disagree somewhere
    # tf.finetune alone stores no calibration either: the intervals are empty.
    assert frame[["carbons_lower", "length_upper"]].isna().all().all()
    # Invalid rows (the unreadable "C1CC" too) and empty SMILES are NaN in every column.
    assert frame.loc[[11, 13, 15]].isna().all().all()


def test_a_single_model_gives_no_std_column_and_probabilities(single, library):
    smiles, valid = library
    frame = predict_library(single, smiles, valid, device="cpu")
    assert list(frame.columns) == [
        "has_nitrogen",
        "has_nitrogen_calibrated",
        "has_nitrogen_set",
        "has_nitrogen_nearest_train_similarity",
        "has_nitrogen_in_domain",
    ]
    scored = frame.loc[[10, 12, 14, 16], "has_nitrogen"]
    assert ((scored >= 0) & (scored <= 1)).all()
    assert frame.loc[[11, 13, 15], "has_nitrogen"].isna().all()


def test_without_a_valid_column_every_non_empty_smiles_is_predicted(single, library):
    smiles, _ = library
    frame = predict_library(single, smiles, device="cpu")
    assert frame["has_nitrogen"].isna().tolist() == [False, True, False, True, False, False, False]


def test_validity_is_aligned_by_index_and_missing_entries_count_as_invalid(single, library):
    smiles, valid = library
    # Same labels in another order, and row 16 absent: it must not be predicted.
    shuffled = valid.drop(16).iloc[::-1]
    frame = predict_library(single, smiles, shuffled, device="cpu")
    assert frame["has_nitrogen"].notna().tolist() == [True, False, True, False, True, False, False]


def test_a_library_without_valid_rows_gives_all_nan_without_predicting(
    single, library, monkeypatch
):
    smiles, valid = library

    def must_not_run(*args, **kwargs):
        raise AssertionError("predict called for a library with nothing to predict")

    monkeypatch.setattr(tf, "predict", must_not_run)
    frame = predict_library(single, smiles, valid & False, device="cpu")
    assert frame.shape == (len(smiles), 5) and frame.isna().all().all()


def test_progress_reaches_the_end_and_cancel_stops(ensemble, library):
    smiles, valid = library
    fractions: list[float] = []
    predict_library(
        ensemble, smiles, valid, device="cpu", progress=lambda f, m="": fractions.append(f)
    )
    assert fractions and fractions[-1] == pytest.approx(1.0)
    assert all(0 <= f <= 1 for f in fractions if not math.isnan(f) and f >= 0)
    with pytest.raises(JobCancelled):
        predict_library(ensemble, smiles, valid, device="cpu", is_cancelled=lambda: True)


def test_the_model_is_loaded_once_through_the_cache(ensemble, library):
    from core.compute import ModelCache

    smiles, valid = library
    cache = ModelCache()
    first = predict_library(ensemble, smiles, valid, device="cpu", model_cache=cache)
    assert len(cache) == 1
    second = predict_library(ensemble, smiles, valid, device="cpu", model_cache=cache)
    assert len(cache) == 1
    pd.testing.assert_frame_equal(first, second)


def test_a_pretrained_folder_is_refused_by_name(pretrained, library):
    smiles, valid = library
    with pytest.raises(ValueError, match=r"tiny is a pretrained model"):
        predict_library(pretrained, smiles, valid, device="cpu")


def test_unknown_validity_is_not_predicted(single, library):
    smiles, valid = library
    unknown = valid.astype(object)
    unknown[12] = np.nan  # e.g. a table whose 'valid' cell was left empty
    frame = predict_library(single, smiles, unknown, device="cpu")
    assert frame["has_nitrogen"].notna().tolist() == [True, False, False, False, True, False, True]


@pytest.fixture
def with_domain(single, tmp_path):
    """The single model, copied, with a domain stored from its first twenty molecules; its
    "validation" molecules are two of those, so the threshold is 1: only a training molecule is
    in domain (plumbing, not a sensible domain)."""
    import shutil

    from core.models.domain import fit_domain

    folder = tmp_path / "with_domain"
    shutil.copytree(single, folder)
    fit_domain(folder, SMILES, np.arange(20), np.array([0, 1]))
    return folder


def _rdkit_nearest(queries, train):
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    train_fps = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in train]
    return [
        max(
            DataStructs.BulkTanimotoSimilarity(
                generator.GetFingerprint(Chem.MolFromSmiles(q)), train_fps
            )
        )
        for q in queries
    ]


def test_a_stored_domain_gives_nearest_similarity_and_in_domain(with_domain, library):
    from core.models.domain import load_domain

    smiles, valid = library
    frame = predict_library(with_domain, smiles, valid, device="cpu")
    predicted = [10, 12, 14, 16]
    similarity = frame["has_nitrogen_nearest_train_similarity"]
    np.testing.assert_allclose(
        similarity[predicted], _rdkit_nearest(smiles[predicted].tolist(), SMILES[:20]), atol=1e-12
    )
    assert similarity[10] == 1.0  # ethanol is a training molecule
    assert load_domain(with_domain).threshold == 1.0
    flags = frame["has_nitrogen_in_domain"]
    # Ethanol, phenol and ethylamine were trained on; paracetamol was not.
    assert flags[predicted].tolist() == [True, True, False, True]
    assert similarity[14] < 1
    assert flags[[11, 13, 15]].isna().all() and similarity[[11, 13, 15]].isna().all()


def test_a_malformed_domain_is_refused_before_predicting(with_domain, library, monkeypatch):
    from core.models.domain import FINGERPRINTS_FILE

    np.save(with_domain / FINGERPRINTS_FILE, np.zeros((20, 3), np.float32))

    def must_not_run(*args, **kwargs):
        raise AssertionError("predicted with a malformed domain")

    monkeypatch.setattr(tf, "predict", must_not_run)
    smiles, valid = library
    with pytest.raises(ValueError, match="not packed ECFP4 fingerprints"):
        predict_library(with_domain, smiles, valid, device="cpu")
