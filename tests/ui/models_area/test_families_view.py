"""The Models area and the model families (issue 15, part 2): the form's family check boxes reach
the training settings, the Metrics tab shows every family and the chosen predictor with the
baseline's test column in view, and the model list says which family (or mix) predicts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from core.models.families import FamilyChoice
from core.models.registry import load_card
from ui.models_area.assay_form import AssayForm
from ui.models_area.metrics_view import MetricsView, metrics_table
from ui.models_area.model_list import _item_text, card_text

ROOT = Path(__file__).resolve().parents[3]
POTENCY = ROOT / "resources" / "models" / "potency-chembl2321810"
FORM_WIDTH = 311  # as tests/ui/models_area/test_assay_form.py
METRICS_WIDTH = 460
"""About what the Metrics tab gets beside the form in the area's 800 px budget."""
MODELS = ("transformer", "rf_ecfp4", "dmpnn", "chosen")


def _metrics() -> pd.DataFrame:
    rows = []
    for m, model in enumerate(MODELS):
        for part in ("valid", "test"):
            for metric, value in (("rmse", 0.7 + 0.01 * m), ("r2", 0.5 - 0.01 * m)):
                rows.append(
                    {"model": model, "part": part, "target": "Act", "metric": metric,
                     "value": value, "n": 100, "note": ""}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_the_form_fits_every_family_by_default_and_passes_the_ticked_ones(qtbot, engine):
    form = AssayForm(engine)
    qtbot.addWidget(form)
    assert form.families() == ("transformer", "dmpnn", "rf")
    assert form.settings().families == ("transformer", "dmpnn", "rf")
    assert form.transformer_check.isChecked() and not form.transformer_check.isEnabled()
    form.dmpnn_check.setChecked(False)
    assert form.settings().families == ("transformer", "rf")
    form.baseline_check.setChecked(False)
    settings = form.settings()
    assert settings.families == ("transformer",) and settings.baseline is False
    assert form.minimumSizeHint().width() <= FORM_WIDTH


def test_the_metrics_table_puts_every_family_and_the_chosen_one_side_by_side():
    table = metrics_table(_metrics())
    assert list(table.columns) == [
        "target",
        "metric",
        "SMILES transformer (test)",
        "Random forest (ECFP4) (test)",
        "D-MPNN (chemprop) (test)",
        "Chosen predictor (test)",
        "SMILES transformer (valid)",
        "Random forest (ECFP4) (valid)",
        "D-MPNN (chemprop) (valid)",
        "Chosen predictor (valid)",
    ]
    rmse = table[table["metric"] == "RMSE"].iloc[0]
    assert rmse["D-MPNN (chemprop) (test)"] == pytest.approx(0.72)
    assert rmse["Chosen predictor (valid)"] == pytest.approx(0.73)


def test_the_metrics_view_keeps_the_baseline_test_column_in_view(qtbot):
    view = MetricsView()
    qtbot.addWidget(view)
    choice = FamilyChoice(
        ("transformer", "rf"), (0.6, 0.4), "rule", "validation RMSE 0.7", "rmse", {}
    )
    report = SimpleNamespace(
        metrics=_metrics(), split={"kind": "scaffold", "sizes": [80, 10, 10]}, task="regression",
        target_names=("Act",), cancelled=False, notes=[], choice=choice,
    )  # fmt: skip
    view.set_report(report, "mix")
    view.resize(METRICS_WIDTH, 500)
    view.show()
    qtbot.waitExposed(view)
    model, table = view.model, view.view
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:5] == [
        "Metric", "Transformer\ntest", "Random forest\ntest", "D-MPNN\ntest", "Chosen\ntest",
    ]  # fmt: skip
    baseline = model.column_index("Random forest (ECFP4) (test)")
    right_edge = table.columnViewportPosition(baseline) + table.columnWidth(baseline)
    assert 0 < right_edge <= table.viewport().width()
    chosen = model.column_index("Chosen predictor (test)")
    tip = model.headerData(chosen, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "validation part" in tip
    assert "Chosen predictor: 0.6 transformer + 0.4 forest" in view.notes.text()


def _folder_with_choice(tmp_path: Path, families, weights) -> Path:
    folder = tmp_path / "mix"
    shutil.copytree(POTENCY, folder)
    (folder / "baseline").mkdir(exist_ok=True)
    (folder / "dmpnn").mkdir(exist_ok=True)
    card = json.loads((folder / "card.json").read_text())
    card["chosen"] = {
        "families": families,
        "weights": weights,
        "rule": "validation part only",
        "why": "validation RMSE 0.70 vs 0.74 (transformer)",
        "metric": "rmse",
        "valid": {},
    }
    card["metrics"]["test"]["chosen"] = {"rmse": 0.512}
    card["name"] = "mix"
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def test_the_model_list_says_which_family_or_mix_predicts(tmp_path):
    folder = _folder_with_choice(tmp_path, ["transformer", "dmpnn"], [0.7, 0.3])
    entry = SimpleNamespace(path=folder, card=load_card(folder), error=None, shipped=False)
    lines = _item_text(entry).splitlines()
    assert lines[0] == "mix"
    assert lines[1].startswith("regression of Act; test RMSE 0.512")
    assert lines[2] == "predicts with 0.7 transformer + 0.3 D-MPNN"
    text = card_text(entry.card, folder, False)
    assert "Chosen predictor: 0.7 transformer + 0.3 D-MPNN (validation RMSE 0.70" in text
    # A model without a choice (the shipped ones) keeps its two lines.
    shipped = SimpleNamespace(path=POTENCY, card=load_card(POTENCY), error=None, shipped=True)
    assert len(_item_text(shipped).splitlines()) == 2
