"""``drugdesk update``: what was read on stderr before training, one JSON line of test metrics and
seconds, and one-line errors with the documented exit codes (wrong old data, bad options)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from app.cli import main
from core.models import transformer as tf

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NEW = ["OCC", "CCCCO", "Cc1ccccc1", "c1ccsc1", "Cc1ccsc1", "CCc1ccsc1", "Oc1ccsc1", "c1cc[nH]c1",
       "Cc1cc[nH]c1", "C1CCCC1", "CC1CCCC1", "C1CCC1", "CC1CC1"]  # fmt: skip


def _atoms(smiles) -> list[float]:
    return [float(Chem.MolFromSmiles(s).GetNumHeavyAtoms()) for s in smiles]


@pytest.fixture(scope="module")
def model(tiny_pretrained, tiny_smiles, tmp_path_factory):
    """A tiny model fine-tuned on the tiny molecules' heavy-atom counts, as ``train`` writes
    its card (scaffold split, data hash); its table; a table of new measurements."""
    from core.models.datasets import load_assay_table
    from core.models.training import make_split

    root = tmp_path_factory.mktemp("update-cli")
    old = root / "old.csv"
    pd.DataFrame({"smiles": tiny_smiles, "atoms": _atoms(tiny_smiles)}).to_csv(old, index=False)
    new = root / "new.csv"
    pd.DataFrame({"smiles": NEW, "atoms": np.add(_atoms(NEW), 0.5)}).to_csv(new, index=False)
    dataset = load_assay_table(old, "smiles", ["atoms"], "regression")
    split = make_split(dataset, "scaffold", 0)
    folder = root / "atoms-model"
    tf.finetune(
        tiny_pretrained, dataset.smiles, dataset.targets, "regression", split.train, split.valid,
        tf.FinetuneOptions(epochs=1, batch_size=8, device="cpu"), target_names=["atoms"],
        output_dir=folder, split={"kind": "scaffold", "seed": 0}, smiles_column="smiles",
        data_hash=dataset.data_hash, device="cpu",
    )  # fmt: skip
    return {"model": folder, "old": old, "new": new, "root": root}


def _run(capsys, *args: object) -> tuple[int, str, str]:
    code = main(["update", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_update_prints_what_was_read_then_the_metrics(model, capsys, tmp_path):
    out = tmp_path / "updated"
    code, stdout, stderr = _run(
        capsys, model["model"], "--old", model["old"], "--new", model["new"],
        "--output", out, "--epochs", 1,
    )  # fmt: skip
    assert code == 0, stderr
    assert "New table: 13 rows read, 0 left out; 12 new molecules added" in stderr
    assert "1 already in the old data (same InChIKey): not used" in stderr
    assert "joined the part of their scaffold: train 1, valid 1, test 0" in stderr
    assert "new scaffolds, split 80/10/10: train 8, valid 1, test 1" in stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["metric"] == "rmse" and summary["warm_start"]["test"]["rmse"] > 0
    assert summary["rf_ecfp4"]["test"]["rmse"] > 0 and summary["scratch"] is None
    assert summary["reading"]["added"] == 12 and summary["split"]["sizes"] == [41, 8, 3]
    assert json.loads((out / "card.json").read_text())["warm_started_from"] == "atoms-model"


def test_wrong_old_data_is_an_error_and_writes_nothing(model, capsys, tmp_path):
    out = tmp_path / "updated"
    code, stdout, stderr = _run(
        capsys, model["model"], "--old", model["new"], "--new", model["new"], "--output", out
    )
    assert code == 1 and stdout == ""
    assert stderr.startswith("drugdesk update: error: these are not the data atoms-model")
    assert len(stderr.strip().splitlines()) == 1 and not out.exists()


def test_compare_without_the_pretrained_model_removes_the_folder(model, capsys, tmp_path):
    # The tiny model was fine-tuned from 'tiny', which is no installed model: the scratch run
    # cannot start, and the half-written update is not left behind.
    out = tmp_path / "updated"
    code, _, stderr = _run(
        capsys, model["model"], "--old", model["old"], "--new", model["new"], "--output", out,
        "--epochs", 1, "--compare",
    )  # fmt: skip
    assert code == 1 and "the pretrained model 'tiny'" in stderr and not out.exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--epochs", 0), "--epochs must be at least 1"),
        (("--learning-rate", 0), "more than 0"),
        (("--calibration-folds", 1), "--calibration-folds must be 0 or at least 2"),
        (("--calibration-folds", -2), "--calibration-folds must be 0 or at least 2"),
    ],
)
def test_bad_options_are_usage_errors(model, capsys, tmp_path, option, message):
    code, _, stderr = _run(
        capsys, model["model"], "--old", model["old"], "--new", model["new"],
        "--output", tmp_path / "x", *option,
    )  # fmt: skip
    assert code == 2 and message in stderr
