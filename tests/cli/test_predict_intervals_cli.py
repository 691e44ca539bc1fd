"""``drugdesk predict`` adds calibrated uncertainty: ``<target>_lower``/``<target>_upper`` for
regression at ``--coverage`` (0.9 by default), empty with one line on stderr for a model trained
before calibration was stored; ``--coverage`` outside (0, 1) and a bad ``train
--calibration-folds`` are usage errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from core.models.calibration import conformal_quantile
from core.models.calibration_store import CALIBRATION_KEY, fit_calibration

ROOT = Path(__file__).resolve().parents[2]
POTENCY = ROOT / "resources" / "models" / "potency-chembl2321810"
SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "C1CC", "c1ccccc1O"]


def _input(tmp_path: Path) -> Path:
    path = tmp_path / "input.csv"
    pd.DataFrame({"smiles": SMILES, "name": ["aspirin", "caffeine", "broken", "phenol"]}).to_csv(
        path, index=False
    )
    return path


def test_a_model_without_stored_calibration_gives_empty_columns_and_says_so(tmp_path, capsys):
    assert "calibration" not in json.loads((POTENCY / "card.json").read_text())
    output = tmp_path / "out.csv"
    assert main(["predict", str(POTENCY), str(_input(tmp_path)), "-o", str(output)]) == 0
    table = pd.read_csv(output)
    assert {"Act_lower", "Act_upper"} <= set(table.columns)
    assert table["Act_lower"].isna().all() and table["Act_upper"].isna().all()
    assert table["Act"].notna().sum() == 3
    err = capsys.readouterr().err
    assert sum("No calibration stored" in line for line in err.splitlines()) == 1


def test_stored_calibration_gives_intervals_around_the_prediction(tmp_path, capsys):
    model = tmp_path / "potency"
    shutil.copytree(POTENCY, model)
    scores = np.random.default_rng(0).exponential(0.4, 300)
    oof = pd.DataFrame(
        {"row": np.arange(300), "fold": 0, "target": "Act", "measured": scores, "predicted": 0.0}
    )
    card = json.loads((model / "card.json").read_text())
    card[CALIBRATION_KEY] = fit_calibration(
        oof, "regression", ["Act"], source="crossfit", folds=3, fold_kind="scaffold"
    )
    (model / "card.json").write_text(json.dumps(card))
    source = _input(tmp_path)
    for coverage, name in ((None, "default.csv"), ("0.8", "eighty.csv")):
        output = tmp_path / name
        extra = [] if coverage is None else ["--coverage", coverage]
        assert main(["predict", str(model), str(source), "-o", str(output), *extra]) == 0
        table = pd.read_csv(output).set_index("name")
        # The card keeps the scores to 6 significant digits.
        stored = np.asarray(card[CALIBRATION_KEY]["targets"]["Act"]["scores"])
        q = conformal_quantile(stored, 0.9 if coverage is None else 0.8)
        exact = conformal_quantile(scores, 0.9 if coverage is None else 0.8)
        assert q == pytest.approx(exact, rel=1e-5)
        known = table.drop(index="broken")
        np.testing.assert_allclose(known["Act_lower"], known["Act"] - q, rtol=1e-9)
        np.testing.assert_allclose(known["Act_upper"], known["Act"] + q, rtol=1e-9)
        assert (known["Act_lower"] < known["Act"]).all() and (
            known["Act"] < known["Act_upper"]
        ).all()
        assert np.isnan(table.loc["broken", "Act_lower"])
        # The interval columns sit beside their prediction, before the domain's.
        columns = list(table.columns)
        assert columns.index("Act_lower") < columns.index("nearest_train_similarity")
    assert "conformal intervals" in capsys.readouterr().err


@pytest.mark.parametrize("coverage", ["0", "1", "1.5", "-0.2"])
def test_coverage_outside_zero_and_one_is_a_usage_error(tmp_path, coverage, capsys):
    output = tmp_path / "out.csv"
    args = ["predict", str(POTENCY), str(_input(tmp_path)), "-o", str(output)]
    assert main([*args, "--coverage", coverage]) == 2
    assert "--coverage" in capsys.readouterr().err
    assert not output.exists()


def test_one_calibration_fold_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN"], "y": [1.0, 2.0]}).to_csv(data, index=False)
    args = ["train", str(data), "--target-col", "y", "--task", "regression"]
    code = main([*args, "-o", str(tmp_path / "m"), "--calibration-folds", "1"])
    assert code == 2
    assert "--calibration-folds" in capsys.readouterr().err


def test_a_calibration_scaled_by_the_spread_gives_intervals_per_molecule(tmp_path, capsys):
    model = tmp_path / "potency"
    shutil.copytree(POTENCY, model)
    rng = np.random.default_rng(1)
    std = rng.uniform(0.1, 0.5, 300)
    oof = pd.DataFrame(
        {"row": np.arange(300), "fold": 0, "target": "Act", "measured": rng.normal(0, std),
         "predicted": 0.0, "std": std}
    )  # fmt: skip
    card = json.loads((model / "card.json").read_text())
    card[CALIBRATION_KEY] = fit_calibration(
        oof, "regression", ["Act"], source="crossfit", folds=3, fold_kind="scaffold"
    )
    entry = card[CALIBRATION_KEY]["targets"]["Act"]
    assert entry["interval"] == "scaled by the ensemble spread"
    (model / "card.json").write_text(json.dumps(card))
    output = tmp_path / "out.csv"
    assert main(["predict", str(model), str(_input(tmp_path)), "-o", str(output)]) == 0
    known = pd.read_csv(output).set_index("name").drop(index="broken")
    q = conformal_quantile(np.asarray(entry["scores"]), 0.9)
    # Each interval is as wide as its own prediction's spread (the 3 members' std) says.
    np.testing.assert_allclose(
        (known["Act_upper"] - known["Act_lower"]) / 2,
        q * (known["Act_std"] + entry["std_eps"]),
        rtol=1e-6,
    )
    np.testing.assert_allclose((known["Act_upper"] + known["Act_lower"]) / 2, known["Act"])
    assert "scaled by the ensemble spread" in capsys.readouterr().err
