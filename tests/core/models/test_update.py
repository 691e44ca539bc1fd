"""Learning from new measurements (issue 15, part 6): a fine-tuned model warm-started on new data
begins from its old weights, and ``core.models.update`` keeps held-out molecules held out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.models import calibration_store as cs
from core.models import transformer as tf

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _heavy_atoms(smiles: list[str]) -> np.ndarray:
    from rdkit import Chem

    return np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles], dtype=float)


@pytest.fixture(scope="module")
def old_model(tiny_pretrained, tiny_smiles, tmp_path_factory):
    """A tiny model fine-tuned (2 members) on the heavy-atom count of 30 molecules."""
    out = tmp_path_factory.mktemp("old") / "old-model"
    tf.finetune(
        tiny_pretrained,
        tiny_smiles,
        _heavy_atoms(tiny_smiles),
        "regression",
        np.arange(30),
        np.arange(30, 40),
        tf.FinetuneOptions(
            epochs=15, n_models=2, batch_size=8, learning_rate=1e-3, patience=15, device="cpu"
        ),
        target_names=["atoms"],
        output_dir=out,
        device="cpu",
    )
    return out


def test_warm_start_begins_from_the_old_weights(old_model, tiny_pretrained, tiny_smiles, tmp_path):
    """With a learning rate of ~0, the warm-started members predict what the old ones did (head
    and standardisation kept), member m from old member m % 2; a new head would not."""
    y = _heavy_atoms(tiny_smiles) + 3.0  # new data, another mean: the old scale must be kept
    options = tf.FinetuneOptions(
        epochs=1, n_models=3, batch_size=8, learning_rate=1e-12, weight_decay=0.0, device="cpu"
    )
    args = (tiny_smiles, y, "regression", np.arange(20), np.arange(20, 30), options)
    warm = tf.finetune(
        old_model, *args, target_names=["atoms"], output_dir=tmp_path / "warm",
        device="cpu", warm_start=True,
    )  # fmt: skip
    old = tf.load_model(old_model)
    probe = tiny_smiles[30:]
    before = [tf.predict(_single(old, i), probe).mean for i in range(2)]
    after = [tf.predict(_single(warm.model, i), probe).mean for i in range(3)]
    for m in range(3):
        np.testing.assert_allclose(after[m], before[m % 2], atol=1e-3)
    card = json.loads((tmp_path / "warm" / "card.json").read_text())
    old_card = json.loads((old_model / "card.json").read_text())
    assert card["warm_started_from"] == "old-model"
    assert card["pretrained"] == old_card["pretrained"] == "tiny"
    assert card["target_mean"] == old_card["target_mean"]
    assert card["target_scale"] == old_card["target_scale"]
    scratch = tf.finetune(tiny_pretrained, *args, target_names=["atoms"], device="cpu")
    assert not np.allclose(tf.predict(scratch.model, probe).mean, before[0], atol=1e-3)


def test_warm_start_first_epoch_loss_is_lower_than_from_scratch(
    old_model, tiny_pretrained, tiny_smiles
):
    losses = {}
    for name, start, warm in (
        ("warm", old_model, True),
        ("scratch", tiny_pretrained, False),
    ):
        seen = []
        tf.finetune(
            start, tiny_smiles, _heavy_atoms(tiny_smiles), "regression",
            np.arange(30), np.arange(30, 40),
            tf.FinetuneOptions(epochs=1, batch_size=8, learning_rate=1e-4, device="cpu"),
            target_names=["atoms"], device="cpu", warm_start=warm,
            on_epoch=lambda *a, seen=seen: seen.append(a),
        )  # fmt: skip
        losses[name] = seen[0][2]
    assert losses["warm"] < losses["scratch"]


def test_warm_start_keeps_the_old_weights_when_no_epoch_beats_them(old_model, tiny_smiles):
    """Early stopping scores the starting point too: epochs that only make the validation
    metric worse (a learning rate of 1 wrecks the weights) leave the old member as it was."""
    result = tf.finetune(
        old_model, tiny_smiles, _heavy_atoms(tiny_smiles), "regression",
        np.arange(30), np.arange(30, 40),
        tf.FinetuneOptions(epochs=2, batch_size=8, learning_rate=1.0, n_models=2, device="cpu"),
        target_names=["atoms"], device="cpu", warm_start=True,
    )  # fmt: skip
    assert result.epochs == (0, 0)
    probe = tiny_smiles[30:]
    np.testing.assert_allclose(
        tf.predict(result.model, probe).mean, tf.predict(old_model, probe).mean, atol=1e-5
    )


def test_warm_start_refuses_another_task_or_target(old_model, tiny_pretrained, tiny_smiles):
    args = (tiny_smiles, _heavy_atoms(tiny_smiles) > 5, "classification")
    with pytest.raises(ValueError, match="task 'regression', not 'classification'"):
        tf.finetune(old_model, *args, np.arange(30), [], target_names=["atoms"], warm_start=True)
    args = (tiny_smiles, _heavy_atoms(tiny_smiles), "regression", np.arange(30), [])
    with pytest.raises(ValueError, match=r"targets \['atoms'\], not \['logP'\]"):
        tf.finetune(old_model, *args, target_names=["logP"], warm_start=True)
    with pytest.raises(ValueError, match="needs a fine-tuned model"):
        tf.finetune(tiny_pretrained, *args, target_names=["atoms"], warm_start=True)


def _single(model, index: int):
    """Member ``index`` of a loaded ensemble, as a model of its own."""
    loaded = model if isinstance(model, tf.LoadedModel) else tf.load_model(model)
    return tf.LoadedModel(
        loaded.kind, loaded.tokenizer, loaded.config, loaded.card, [loaded.members[index]]
    )


# ----------------------------------------------------------------------------------------------
# core.models.update: placing new molecules and the updated model

# New measurements for the tiny data (see tests/conftest.py: scaffold split of TINY_SMILES puts
# the benzenes in valid, pyridine and furan in test, acyclic molecules and the other rings in
# train).
KNOWN = ["OCC", "C1=CC=CC=C1"]  # ethanol and benzene, written otherwise
JOINING = {"CCCCO": "train", "CC1CCCCC1": "train", "Cc1ccccc1": "valid", "Cc1ccncc1": "test"}
# New scaffolds: thiophene 4, pyrrole 2, cyclopentane 2, cyclobutane 1, cyclopropane 1; split alone
# (scaffold, 80/10/10) they give train 8, valid 1 (cyclopropane), test 1 (cyclobutane).
NEW_SCAFFOLDS = {
    "c1ccsc1": "train", "Cc1ccsc1": "train", "CCc1ccsc1": "train", "Oc1ccsc1": "train",
    "c1cc[nH]c1": "train", "Cc1cc[nH]c1": "train", "C1CCCC1": "train", "CC1CCCC1": "train",
    "C1CCC1": "test", "CC1CC1": "valid",
}  # fmt: skip


def _write_table(path, smiles, values):
    import pandas as pd

    pd.DataFrame({"smiles": smiles, "atoms": values}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tiny_pretrained, tiny_smiles, tmp_path_factory):
    """A tiny model trained as ``train`` would (scaffold split, card with hash and sizes) on the
    heavy-atom counts of the tiny molecules; its table."""
    from core.models.datasets import load_assay_table
    from core.models.training import make_split

    root = tmp_path_factory.mktemp("trained")
    table = _write_table(root / "old.csv", tiny_smiles, _heavy_atoms(tiny_smiles))
    dataset = load_assay_table(table, "smiles", ["atoms"], "regression")
    split = make_split(dataset, "scaffold", 0)
    out = root / "atoms-model"
    tf.finetune(
        tiny_pretrained,
        dataset.smiles,
        dataset.targets,
        "regression",
        split.train,
        split.valid,
        tf.FinetuneOptions(epochs=2, batch_size=8, device="cpu"),
        target_names=list(dataset.target_names),
        output_dir=out,
        split={"kind": "scaffold", "seed": 0},
        smiles_column="smiles",
        data_hash=dataset.data_hash,
        device="cpu",
    )
    card = json.loads((out / "card.json").read_text())
    card["split"]["sizes"] = [len(split.train), len(split.valid), len(split.test)]
    (out / "card.json").write_text(json.dumps(card))
    return out, table, split


@pytest.fixture
def new_table(tmp_path):
    smiles = KNOWN + list(JOINING) + ["CCCCO"] + list(NEW_SCAFFOLDS)  # CCCCO twice: replicates
    return _write_table(tmp_path / "new.csv", smiles, _heavy_atoms(smiles) + 0.5)


def test_new_molecules_are_placed_by_scaffold(trained, new_table):
    from core.models.update import plan_update

    model, old_table, old_split = trained
    plan = plan_update(model, old_table, new_table)
    reading = plan.reading
    assert reading.old_molecules == 40 and reading.new_rows == 17
    assert reading.already_known == 2
    # Each with its new value against the old one (heavy atoms + 0.5 against heavy atoms).
    assert set(reading.known_examples) == {"OCC (3.5 vs 3)", "C1=CC=CC=C1 (6.5 vs 6)"}
    assert reading.joined == {"train": 2, "valid": 1, "test": 1}
    assert reading.new_scaffold == {"train": 8, "valid": 1, "test": 1}
    assert dict(zip(plan.new.smiles, plan.new_parts, strict=True)) == {**JOINING, **NEW_SCAFFOLDS}
    # The old split is the model's: every old molecule keeps its part.
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(plan.old_split, part), getattr(old_split, part))
    assert "2 already in the old data" in reading.text()


def test_wrong_old_data_are_refused(trained, new_table, tiny_smiles, tmp_path):
    from core.models.update import plan_update

    model, _, _ = trained
    values = _heavy_atoms(tiny_smiles)
    values[3] += 1  # one measurement differs
    wrong = _write_table(tmp_path / "other.csv", tiny_smiles, values)
    with pytest.raises(ValueError, match="these are not the data atoms-model was trained on"):
        plan_update(model, wrong, new_table)
    shorter = _write_table(tmp_path / "shorter.csv", tiny_smiles[:-1], values[:-1])
    with pytest.raises(ValueError, match="not the data"):
        plan_update(model, shorter, new_table)


def test_only_known_molecules_add_nothing(trained, tmp_path):
    from core.models.update import plan_update

    model, old_table, _ = trained
    table = _write_table(tmp_path / "known.csv", KNOWN, [3.0, 6.0])
    with pytest.raises(ValueError, match="adds nothing"):
        plan_update(model, old_table, table)


def test_update_keeps_held_out_molecules_out_of_training(
    trained, new_table, tiny_pretrained, tmp_path
):
    """The warm-started model trains on no held-out molecule; its folder is a model like any
    other, whose training_data.csv is the old table of the next update."""
    import pandas as pd

    from core.models.datasets import load_assay_table
    from core.models.update import plan_update, update_model

    model, old_table, old_split = trained
    out = tmp_path / "updated"
    report = update_model(
        model, old_table, new_table, out, epochs=1, n_trees=10, compare=True,
        pretrained_dir=tiny_pretrained, device="cpu",
    )  # fmt: skip
    keys = _keys_by_part(out / "training_data.csv")
    held_out = keys["valid"] | keys["test"]
    assert not keys["train"] & held_out
    old_smiles = _old_smiles(old_table)
    old_held_out = {old_smiles[i] for i in (*old_split.valid, *old_split.test)}
    assert _keys(old_held_out) <= held_out
    assert _keys([s for s, p in {**JOINING, **NEW_SCAFFOLDS}.items() if p != "train"]) <= held_out
    card = json.loads((out / "card.json").read_text())
    assert card["warm_started_from"] == "atoms-model" and card["pretrained"] == "tiny"
    assert card["split"]["kind"] == "updated"
    assert card["split"]["sizes"] == [len(keys["train"]), len(keys["valid"]), len(keys["test"])]
    assert card["split"]["sizes"] == [32 + 10, 6 + 2, 2 + 2]
    assert card["update"]["reading"]["already_known"] == 2
    data = load_assay_table(out / "training_data.csv", "smiles", ["atoms"], "regression")
    assert data.data_hash == card["data_hash"]
    # Side by side: warm start, from scratch, the forest; each with its seconds.
    summary = report.as_json()
    assert summary["warm_start"]["test"]["rmse"] > 0 and summary["scratch"]["test"]["rmse"] > 0
    assert summary["rf_ecfp4"]["test"]["rmse"] > 0
    # The predictor is chosen again on the new valid part, among what was updated.
    assert set(card["chosen"]["families"]) <= {"transformer", "rf"}
    assert summary["chosen"]["predictor"] and "predicts with" in report.summary_line()
    assert summary["warm_start"]["seconds"] >= 0 and summary["scratch"]["seconds"] >= 0
    # Intervals calibrated on random-forest out-of-fold predictions of the training part only:
    # the forest's own when it predicts alone (scaled by its trees), else as a proxy, as train
    # does for a single model (constant width).
    forest_alone = card["chosen"]["families"] == ["rf"]
    assert card["calibration"]["source"] == ("chosen_oof" if forest_alone else "rf_proxy")
    assert card["calibration"]["targets"]["atoms"]["interval"] == (
        cs.SCALED if forest_alone else cs.CONSTANT
    )
    calibration_rows = pd.read_csv(out / "calibration_predictions.csv")
    assert set(calibration_rows["part"]) == {"train"} and len(calibration_rows) == 42
    for name in ("metrics.csv", "heldout_predictions.csv", "train_fingerprints.npy"):
        assert (out / name).is_file()
    assert tf.predict(out, ["CCO"]).mean.shape == (1, 1)
    from core.models.apply import predict_library

    applied = predict_library(out, pd.Series(["CCO", "c1ccsc1C"]))
    assert applied["atoms"].notna().all() and applied["atoms_upper"].notna().all()
    # The updated model can be updated again, its training_data.csv as the old table.
    again = _write_table(tmp_path / "again.csv", ["CCCCCO", "c1ccsc1C"], [6.5, 6.5])
    plan = plan_update(out, out / "training_data.csv", again)
    assert plan.reading.old_split == {"train": 42, "valid": 8, "test": 4}
    assert dict(zip(plan.new.smiles, plan.new_parts, strict=True)) == {
        "CCCCCO": "train",
        "c1ccsc1C": "train",
    }


def test_a_failed_update_leaves_no_folder(trained, new_table, tmp_path):
    from core.jobs import JobCancelled
    from core.models.update import update_model

    model, old_table, _ = trained
    with pytest.raises(JobCancelled):
        update_model(
            model, old_table, new_table, tmp_path / "cancelled", epochs=1,
            device="cpu", is_cancelled=lambda: True,
        )  # fmt: skip
    assert not (tmp_path / "cancelled").exists()
    with pytest.raises(ValueError, match="new folder"):
        update_model(model, old_table, new_table, model, epochs=1)


def _old_smiles(path) -> list[str]:
    import pandas as pd

    return pd.read_csv(path)["smiles"].tolist()


def _keys(smiles) -> set[str]:
    from rdkit import Chem

    return {Chem.MolToInchiKey(Chem.MolFromSmiles(s)) for s in smiles}


def _keys_by_part(path) -> dict[str, set[str]]:
    import pandas as pd

    frame = pd.read_csv(path)
    return {p: _keys(frame.loc[frame["part"] == p, "smiles"]) for p in ("train", "valid", "test")}
