"""Hostile model folders: a card or config may name any path and any size. Weights must be plain
names that resolve inside the folder (no '../other/model.safetensors', no absolute path, no link
leading out), absurd sizes are refused before a torch module is built, JSON is read with size and
depth limits, and nothing is ever unpickled. Each case is a copy of a shipped model folder (or a
small fitted forest) tampered with by the test."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.models import registry
from core.models.registry import list_models, load_card, model_file, read_model_json

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "resources" / "models"
CORPUS = ROOT / "tests" / "corpus" / "bad_inputs" / "models"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DRUGDESK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def potency(tmp_path) -> Path:
    """A copy of the shipped fine-tuned ensemble (3 members), in the user's registry."""
    folder = registry.registry_dir() / "potency"
    shutil.copytree(SHIPPED / "potency-chembl2321810", folder)
    return folder


@pytest.fixture
def other(tmp_path) -> Path:
    """Another model's folder beside it, whose weights a hostile card would borrow."""
    folder = tmp_path / "other"
    shutil.copytree(SHIPPED / "logs-solubility-datamol", folder)
    return folder


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


# ----------------------------------------------------------------------------------------------
# Where a folder's files may lead (core.models.registry)


@pytest.mark.parametrize(
    "name", ["../other/model.safetensors", "/etc/passwd", "a/b.safetensors", "..", "", 7, None]
)
def test_model_file_accepts_only_plain_names(tmp_path, name):
    with pytest.raises(ValueError, match=f"model folder {tmp_path}: the weights file") as caught:
        model_file(tmp_path, name)
    assert "refusing to load it" in str(caught.value)


def test_model_file_refuses_a_link_leading_out_and_keeps_links_inside(tmp_path, other):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "real.safetensors").write_bytes(b"x")
    (folder / "inside.safetensors").symlink_to("real.safetensors")
    (folder / "outside.safetensors").symlink_to(other / "model.safetensors")
    assert model_file(folder, "inside.safetensors") == folder / "inside.safetensors"
    with pytest.raises(ValueError, match="leads out of the folder"):
        model_file(folder, "outside.safetensors")


def test_json_is_read_with_a_depth_and_size_limit(tmp_path, monkeypatch):
    (tmp_path / "card.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"card\.json is JSON nested too deeply"):
        read_model_json(tmp_path, "card.json")
    (tmp_path / "config.json").write_text(json.dumps({"x": "y" * 200}))
    monkeypatch.setattr(registry, "MAX_JSON_BYTES", 100)
    with pytest.raises(ValueError, match=r"config\.json is 2\d\d bytes, more than the 100"):
        read_model_json(tmp_path, "config.json")


def test_a_card_whose_weights_lead_out_is_a_broken_registry_entry(potency, other):
    edit_json(potency / "card.json", weights=["model.safetensors", "../other/model.safetensors"])
    with pytest.raises(ValueError, match="is not a file name inside the folder"):
        load_card(potency)
    (potency / "model_1.safetensors").unlink()
    (potency / "model_1.safetensors").symlink_to(other / "model.safetensors")
    edit_json(potency / "card.json", weights=["model.safetensors", "model_1.safetensors"])
    (entry,) = list_models()
    assert entry.card is None
    assert f"model folder {potency}" in entry.error and "leads out of the folder" in entry.error


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": {"a": 1}}, "'name' must be text"),
        ({"target_columns": "Act"}, "'target_columns' must be a list"),
        ({"target_columns": [1, 2]}, "'target_columns' must be a list"),
        ({"weights": "model.safetensors"}, "'weights' must be a list"),
    ],
)
def test_cards_with_values_of_the_wrong_type_are_refused(potency, change, message):
    edit_json(potency / "card.json", **change)
    with pytest.raises(ValueError, match=message):
        load_card(potency)


# ----------------------------------------------------------------------------------------------
# The transformer's folders (core.models.transformer.load_model)


@pytest.fixture
def tf():
    from core.models import transformer

    return transformer


def test_the_shipped_folders_still_load_and_no_pickle_is_used(tf, potency, monkeypatch):
    import torch

    def no_unpickling(*_args, **_kwargs):
        raise AssertionError("a model folder was unpickled")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    loaded = tf.load_model(potency)
    assert len(loaded.members) == 3
    assert tf.load_model(SHIPPED / "smiles-roberta-v1").kind == tf.PRETRAINED_KIND


@pytest.mark.parametrize(
    "weights",
    [
        ["model.safetensors", "../other/model.safetensors"],
        ["model.safetensors", "OTHER"],  # replaced by the absolute path of the other's weights
        ["model.safetensors", "link.safetensors"],  # a symbolic link to the other's weights
    ],
)
def test_weights_outside_the_folder_are_refused_before_loading(tf, potency, other, weights):
    weights = [str(other / "model.safetensors") if w == "OTHER" else w for w in weights]
    (potency / "link.safetensors").symlink_to(other / "model.safetensors")
    edit_json(potency / "card.json", weights=weights)
    with pytest.raises(ValueError, match=f"model folder {potency}: the weights file") as caught:
        tf.load_model(potency)
    assert "refusing to load it" in str(caught.value)


def test_a_model_safetensors_linked_out_of_a_pretrained_folder_is_refused(tf, tmp_path, other):
    folder = tmp_path / "pretrained"
    shutil.copytree(SHIPPED / "smiles-roberta-v1", folder)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(SHIPPED / "smiles-roberta-v1" / "model.safetensors")
    with pytest.raises(ValueError, match="leads out of the folder"):
        tf.load_model(folder)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hidden_size", 10**9),
        ("num_hidden_layers", 10**6),
        ("num_attention_heads", 10**5),
        ("vocab_size", 10**9),
        ("max_position_embeddings", 10**9),
        ("intermediate_size", 10**9),
        ("hidden_size", -192),
        ("hidden_size", "192"),
        ("num_hidden_layers", True),
    ],
)
def test_absurd_config_sizes_are_refused_naming_the_field(tf, potency, field, value):
    edit_json(potency / "config.json", **{field: value})
    with pytest.raises(ValueError, match=f"model folder {potency}: config.json: {field} is"):
        tf.load_model(potency)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # Each size within its limit, together about 9.7 billion parameters.
        (
            {"hidden_size": 4096, "num_hidden_layers": 48, "intermediate_size": 16384},
            "more than the 500,000,000",
        ),
        # 25 million parameters are fine in themselves, but the 2.5 MB weight files cannot hold them.
        (
            {"hidden_size": 512, "num_hidden_layers": 8, "intermediate_size": 2048},
            "cannot hold the",
        ),
        ({"hidden_size": 190}, "not a multiple of 4 heads"),
        ({"pad_token_id": 10**6}, "pad_token_id 1000000 is not a token"),
        ({"hidden_act": "rm -rf /"}, "cannot build the model its config.json describes"),
    ],
)
def test_configs_that_cannot_be_built_are_one_clear_error(tf, potency, changes, message):
    edit_json(potency / "config.json", **changes)
    with pytest.raises(ValueError, match=message) as caught:
        tf.load_model(potency)
    assert str(potency) in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_tasks": 10**7}, "'n_tasks' is 10000000; DrugDesk accepts 1 to 10,000"),
        ({"n_tasks": "1"}, "'n_tasks' is '1'"),
        ({"target_mean": [1.0, 2.0]}, "'target_mean' must be 1 number"),
        ({"target_scale": "wide"}, "'target_scale' must be 1 number"),
        ({"task": "os.system"}, "'task' is 'os.system'"),
        ({"dropout": 7}, "'dropout' is 7"),
        ({"weights": [f"m{i}.safetensors" for i in range(100)]}, "1 to 32 weight files"),
        ({"max_length": 10**6}, "'max_length' is 1000000"),
    ],
)
def test_absurd_card_numbers_are_refused(tf, potency, changes, message):
    edit_json(potency / "card.json", **changes)
    with pytest.raises(ValueError, match=message):
        tf.load_model(potency)


def test_corpus_model_files_are_refused(tf, potency):
    # Small committed files laid over a copy of a shipped model folder.
    shutil.copy(CORPUS / "weights_outside_the_folder" / "card.json", potency / "card.json")
    with pytest.raises(ValueError, match="is not a file name inside the folder"):
        tf.load_model(potency)
    shutil.copy(SHIPPED / "potency-chembl2321810" / "card.json", potency / "card.json")
    shutil.copy(CORPUS / "absurd_config" / "config.json", potency / "config.json")
    with pytest.raises(
        ValueError, match=r"config\.json: vocab_size is 1000000000; DrugDesk builds"
    ):
        tf.load_model(potency)


# ----------------------------------------------------------------------------------------------
# Random-forest folders (core.models.baselines.load_baseline)


@pytest.fixture(scope="module")
def forest_folder(tmp_path_factory) -> Path:
    from core.models.baselines import fit_baseline, save_baseline

    smiles = ["CCO", "CCN", "CCCl", "c1ccccc1", "CC(=O)O", "CCCN", "OCCO", "NCCN"]
    y = np.array([0, 1, 0, 0, 0, 1, 0, 1], dtype=float)
    model = fit_baseline(smiles, y, "classification", n_trees=5, seed=0, target_names=["has_N"])
    return save_baseline(model, tmp_path_factory.mktemp("forest") / "rf")


@pytest.fixture
def forest(forest_folder, tmp_path) -> Path:
    folder = tmp_path / "rf"
    shutil.copytree(forest_folder, folder)
    return folder


def test_a_forest_loads_without_unpickling(forest, monkeypatch):
    from core.models.baselines import load_baseline

    def no_unpickling(*_args, **_kwargs):
        raise AssertionError("a model folder was unpickled")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    model = load_baseline(forest)
    assert model.target_names == ("has_N",) and len(model.forests) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "evil"}, "task 'evil'"),
        ({"featurizer": ["x"]}, "unreadable baseline metadata"),
        ({"target_names": [{"a": 1}]}, "target_names must be a list of names"),
        ({"target_names": "has_N"}, "target_names must be a list of names"),
        ({"n_trees": "many"}, "n_trees must be a whole number"),
    ],
)
def test_forest_metadata_of_the_wrong_kind_is_refused(forest, changes, message):
    from core.models.baselines import load_baseline

    edit_json(forest / "baseline.json", **changes)
    with pytest.raises(ValueError, match=message):
        load_baseline(forest)


def test_forest_files_linked_out_of_the_folder_are_refused(forest, forest_folder):
    from core.models.baselines import load_baseline

    (forest / "forests.skops").unlink()
    (forest / "forests.skops").symlink_to(forest_folder / "forests.skops")
    with pytest.raises(ValueError, match="leads out of the folder"):
        load_baseline(forest)


def test_a_zip_bomb_in_place_of_the_forests_is_refused_unopened(forest):
    from core.models.baselines import load_baseline

    with zipfile.ZipFile(forest / "forests.skops", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", b" " * (64 * 1024**2))  # 64 MB in about 64 KB
    assert (forest / "forests.skops").stat().st_size < 200_000
    with pytest.raises(ValueError, match="zip bomb"):
        load_baseline(forest)
