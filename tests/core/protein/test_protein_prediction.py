"""ESMFold through transformers on a tiny random configuration (no download, CPU, < 1 s)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.compute import ModelCache
from core.protein.prediction import (
    PredictionError,
    check_weights,
    clean_sequence,
    predict_and_parse,
    predict_structure,
    save_tiny_model,
)

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("esmfold") / "tiny")


def test_sequence_to_pdb_to_structure(tiny_weights):
    cache = ModelCache()
    result, structure = predict_and_parse(f">query\n{SEQUENCE}\n", tiny_weights, 16,
                                          model_cache=cache)  # fmt: skip
    assert result.sequence == SEQUENCE
    assert result.pdb_text.count(" CA ") == len(SEQUENCE)
    assert result.plddt.shape == (len(SEQUENCE),)
    assert result.plddt.min() >= 0 and result.plddt.max() <= 100
    assert result.pae.shape == (len(SEQUENCE), len(SEQUENCE))
    assert structure.chains[0].sequence == SEQUENCE
    # pLDDT (0–100) sits in the B-factor column, per residue.
    ca = structure.ca_atoms()
    assert np.allclose(structure.bfactors[ca], result.plddt, atol=1.0)
    assert structure.looks_predicted()
    assert len(cache) == 1  # the model stays loaded for the next run
    again = predict_structure(SEQUENCE[:10], tiny_weights, None, model_cache=cache)
    assert again.pae.shape == (10, 10)
    assert len(cache) == 1


def test_invalid_sequences_are_refused():
    with pytest.raises(PredictionError, match="'J' at 4"):
        clean_sequence("MKTJAYI")
    with pytest.raises(PredictionError, match="Enter a protein sequence"):
        clean_sequence(">header only\n")
    assert clean_sequence("mkt ayi\nkq*") == "MKTAYIKQ"


def test_missing_and_wrong_weights_are_explained(tmp_path):
    with pytest.raises(PredictionError, match="huggingface-cli download facebook/esmfold_v1"):
        predict_structure(SEQUENCE)  # nothing in the (offline, empty) Hugging Face cache
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(
        json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]})
    )
    (bert / "model.safetensors").write_bytes(b"")
    with pytest.raises(PredictionError, match="not ESMFold"):
        check_weights(bert)
    with pytest.raises(PredictionError, match="not ESMFold"):
        predict_structure(SEQUENCE, bert)
    with pytest.raises(PredictionError, match=r"no config.json"):
        check_weights(tmp_path)
