""" "Suggest next…" from the Find tab: the dialog's choices, and the picks narrowing the library
table with their rank and why-text (a tiny random forest stands in for a trained model)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from rdkit import Chem

from core.models.baselines import fit_baseline, save_baseline
from core.models.suggest import UncertainModel
from ui.hitlist.find_tab import FindTab
from ui.hitlist.forms import ERROR_STYLE
from ui.hitlist.suggest_dialog import MAX_WIDTH, SuggestDialog, SuggestRequest

TRAINING = [
    "CCO", "CCCO", "CCCCO", "CCN", "CCCN", "c1ccccc1", "Cc1ccccc1", "CCc1ccccc1", "CC(=O)O",
    "CCC(=O)O", "c1ccccc1O", "c1ccccc1N", "CC(=O)Nc1ccccc1", "OC(=O)c1ccccc1", "CCCCCC",
]  # fmt: skip


def _heavy_atoms(smiles: str) -> float:
    return float(Chem.MolFromSmiles(smiles).GetNumHeavyAtoms())


@pytest.fixture(scope="module")
def forest(tmp_path_factory):
    """A trained model's folder whose forest predicts the number of heavy atoms."""
    folder = tmp_path_factory.mktemp("models") / "atoms"
    model = fit_baseline(
        TRAINING, np.array([_heavy_atoms(s) for s in TRAINING]), "regression",
        target_names=["atoms"], n_trees=30, seed=0,
    )  # fmt: skip
    save_baseline(model, folder / "baseline")
    (folder / "card.json").write_text(
        json.dumps({"kind": "transformer", "task": "regression", "target_names": ["atoms"]})
    )
    return folder


def _models(*specs) -> list[UncertainModel]:
    return [UncertainModel(path, label, task, targets) for path, label, task, targets in specs]


def test_the_dialog_gathers_the_choices_and_stays_narrow(qtbot, tmp_path):
    models = _models(
        (tmp_path / "a", "potency (ensemble of 3)", "regression", ("pIC50", "logD")),
        (tmp_path / "b", "herg: its random forest", "classification", ("herg",)),
    )
    dialog = SuggestDialog(models, "screen")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.width() <= MAX_WIDTH
    assert [dialog.target_box.itemText(i) for i in range(2)] == ["pIC50", "logD"]
    dialog.target_box.setCurrentIndex(1)
    dialog.count.setValue(12)
    dialog.objective_box.setCurrentIndex(1)
    dialog.diversity.setValue(0.25)
    dialog.best_edit.setText("2,5")
    request = dialog.request()
    assert isinstance(request, SuggestRequest)
    assert request.model.path == tmp_path / "a" and request.target == "logD"
    assert request.best_value == 2.5
    settings = request.settings
    assert (settings.n, settings.objective, settings.strategy, settings.batch_diversity) == (
        12,
        "minimize",
        "ei",
        0.25,
    )
    # A classifier has no measured value to improve on: the bound only.
    dialog.model_box.setCurrentIndex(1)
    assert dialog.strategy_box.currentData() == "ucb"
    assert not dialog.strategy_box.model().item(0).isEnabled()
    assert not dialog.best_edit.isEnabled()


def test_a_bad_best_value_keeps_the_dialog_open(qtbot, tmp_path):
    dialog = SuggestDialog(_models((tmp_path, "m (random forest)", "regression", ("y",))))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.best_edit.setText("high")
    dialog.accept()
    assert dialog.isVisible() and dialog.result() == 0
    assert "must be a number" in dialog.status.text()
    assert dialog.status.styleSheet() == ERROR_STYLE


def test_without_a_model_that_gives_an_uncertainty_it_says_what_to_do(qtbot):
    dialog = SuggestDialog([])
    qtbot.addWidget(dialog)
    assert "No model gives an uncertainty yet" in dialog.status.text()
    ok = dialog.buttons.buttons()[0]
    assert ok.text() == "Suggest" and not ok.isEnabled()
    assert dialog.request() == "Choose a model that gives an uncertainty."


@pytest.fixture
def tab(qtbot, panel, engine, forest):
    tab = FindTab(panel, engine)
    tab.model_entries = lambda: [SimpleNamespace(path=forest, card=object())]
    qtbot.addWidget(tab)
    yield tab
    tab.jobs.cancel_all()


def test_suggest_next_narrows_the_table_to_the_picks(qtbot, tab, panel, forest):
    dialog = tab.open_suggest_dialog()
    assert dialog is not None and dialog.isVisible()
    # The trained model's own forest is offered (the card lists one member: no spread).
    assert [dialog.model_box.itemText(i) for i in range(dialog.model_box.count())] == [
        "atoms: its random forest"
    ]
    dialog.count.setValue(2)
    dialog.diversity.setValue(0.0)
    dialog.best_edit.setText("10")
    dialog.accept()
    assert tab.find_status.text() == "Predicting with atoms: its random forest…"
    qtbot.waitUntil(lambda: bool(panel.masks), timeout=60_000)
    mask, description = panel.masks[-1]
    assert description == "Suggested next: 2" and mask.sum() == 2
    added = panel.added[-1]
    assert added["sort_by"] == "suggest_rank"
    frame = added["frame"]
    rank = frame["suggest_rank"]
    assert sorted(rank.dropna().tolist()) == [1, 2]
    assert rank.isna().to_numpy().tolist() == (~mask).tolist()
    assert not mask[5]  # the broken record has no structure
    why = frame["suggest_why"]
    assert all("predicted atoms" in text for text in why[mask])
    assert why[~mask].isna().all()
    assert "2 picks of 5 candidates" in tab.find_status.text()


def test_a_failed_suggestion_is_reported_in_the_tab(qtbot, tab, tmp_path):
    broken = UncertainModel(tmp_path / "gone", "gone (random forest)", "regression", ("y",))
    from core.models.suggest import SuggestSettings

    tab.suggest_next(SuggestRequest(broken, "y", SuggestSettings(n=2), 1.0))
    qtbot.waitUntil(lambda: tab.find_status.styleSheet() == ERROR_STYLE, timeout=30_000)
    assert "no such model folder" in tab.find_status.text()
