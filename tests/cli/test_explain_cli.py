"""drugdesk explain: per-atom attributions as JSON and a heat map file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.cli import main
from core.models import transformer as tf

TINY = tf.ModelSize(hidden=32, layers=2, heads=2, intermediate=64, max_length=64, dropout=0.0)
SMILES = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "OCCO", "CCBr"] * 2


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("explain")
    options = tf.PretrainOptions(
        size=TINY, steps=2, batch_size=8, n_valid=4, eval_every=2, device="cpu"
    )
    tf.pretrain(SMILES, root / "pre", options, device="cpu")
    tf.finetune(
        root / "pre",
        SMILES,
        np.arange(len(SMILES), dtype=float),
        "regression",
        np.arange(12),
        np.arange(12, 16),
        tf.FinetuneOptions(epochs=1, device="cpu"),
        target_names=["logS"],
        output_dir=root / "model",
        device="cpu",
    )
    return root / "model"


def test_explain_writes_a_heat_map_and_one_value_per_atom(model_dir, tmp_path, capsys):
    out = tmp_path / "map.svg"
    assert main(["explain", str(model_dir), "OC(=O)c1ccc(Br)cc1", "-o", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == "logS" and len(report["atoms"]) == 10
    # Atoms plus bond/branch/ring tokens add up to the output difference (completeness).
    total = sum(atom["attribution"] for atom in report["atoms"]) + report["non_atom_tokens"]
    assert total == pytest.approx(report["output"] - report["baseline_output"], abs=1e-3)
    assert "</svg>" in out.read_text()
    png = tmp_path / "map.png"
    assert main(["explain", str(model_dir), "CCO", "--steps", "32", "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_explain_reports_bad_input(model_dir, tmp_path, capsys):
    assert main(["explain", str(model_dir), "C1CC("]) == 1  # bad data
    assert "cannot parse" in capsys.readouterr().err
    assert main(["explain", str(model_dir), "CCO", "--target", "nope"]) == 1
    assert main(["explain", str(model_dir), "CCO", "-o", str(tmp_path / "x.txt")]) == 2
    assert main(["explain", str(model_dir), "CCO", "--steps", "1"]) == 2  # usage
    assert "--steps" in capsys.readouterr().err.splitlines()[-1]
