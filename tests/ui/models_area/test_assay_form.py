"""The assay form shows what training will do with a table (units converted, censored values
left out, replicates merged) once a file and a target are chosen, before Train is pressed."""

from __future__ import annotations

import pandas as pd
import pytest
from PySide6.QtWidgets import QLabel

from core.jobs import FINISHED
from ui.models_area.assay_form import CENSORED_TEXT, AssayForm

SMILES = [
    "CCO", "CCN", "CCC", "c1ccccc1", "c1ccncc1", "CC(=O)O", "CCCl", "CCBr", "C1CCCCC1", "CCOC",
    "CC(C)O", "CCCN", "OCCO", "NCCN", "CC#N", "CS", "CCS", "c1ccoc1", "c1ccsc1", "CC(C)(C)O",
    "CCCCO", "CCCCN",
]  # fmt: skip
FORM_WIDTH = 311
"""The form's width in the Models area at the smallest screen the window is made for."""


@pytest.fixture
def form(qtbot, engine):
    widget = AssayForm(engine)
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def ic50_csv(tmp_path):
    """IC50s as a lab writes them: nM and µM, one '>10 µM', ethanol measured twice (7.0, 7.4)."""
    cells = [f"{10 * (i + 1)} nM" for i in range(len(SMILES))]
    cells[0], cells[1], cells[2] = "100 nM", ">10 µM", "0.5 µM"
    frame = pd.DataFrame(
        {
            "smiles": [*SMILES, "OCC"],
            "IC50": [*cells, "39.81 nM"],
            "bare": [f"{10 * (i + 1)}" for i in range(len(SMILES) + 1)],
        }
    )
    path = tmp_path / "ic50.csv"
    frame.to_csv(path, index=False)
    return path


def _open(qtbot, form, path):
    handle = form.open_file(path)
    qtbot.waitUntil(handle.is_done, timeout=10_000)
    assert handle.state == FINISHED


def _record(qtbot, form):
    """The record the form shows next (its job submitted after the choices settle)."""
    qtbot.waitUntil(lambda: form._record_job is not None or form.record is not None, timeout=5000)
    qtbot.waitUntil(lambda: form.record is not None and form._record_job is None, timeout=20_000)
    return form.record


def test_the_record_shows_under_the_form_before_training(qtbot, form, ic50_csv):
    form.show()
    qtbot.waitExposed(form)
    width = form.minimumSizeHint().width()
    _open(qtbot, form, ic50_csv)
    assert form.record is None and not form.record_label.isVisible()  # nothing ticked yet
    assert "IC50" in form.columns.numeric_columns  # '>10 µM' and '100 nM' are measurements
    form.set_targets(["IC50"])
    assert form.task() == "regression"
    record = _record(qtbot, form)
    text = form.record_label.text()
    assert form.record_label.isVisible() and text == record.text()
    assert text.splitlines() == [
        "23 rows read -> 21 molecules (regression); dropped: 1 censored value only (left out).",
        "'IC50' -> 'pIC50': 21 nM, 2 µM converted to pXC50 = -log10(M) (units in the cells); "
        "22 exact, 1 censored.",
        "Censored values: 1 (0 '>', 1 '<' in trained units), left out of training and metrics "
        "(counted and listed).",
        "Replicates of 'pIC50': 1 molecule measured more than once (n 2), merged by InChIKey "
        "(mean); SD median 0.28, max 0.28.",
    ]
    assert "CCN >10 µM (censored)" in form.record_label.toolTip()
    assert "CCO: 7.00, 7.40 -> 7.20" in form.record_label.toolTip()
    # What happens to censored values is said in the form itself.
    assert CENSORED_TEXT in [label.text() for label in form.findChildren(QLabel)]
    # The record wraps inside the form's width: the form asks for no more room than before.
    assert form.minimumSizeHint().width() == width <= FORM_WIDTH
    assert form.record_label.width() <= form.width()


def test_the_units_chooser_changes_what_training_reads(qtbot, form, ic50_csv):
    _open(qtbot, form, ic50_csv)
    form.set_targets(["bare"])
    record = _record(qtbot, form)
    assert record.problem is None
    assert "'bare': numbers used as given (no unit in cells" in form.record_label.text()
    form.set_units("uM")
    qtbot.waitUntil(lambda: form.record is None or form.record.units_asked == "uM", timeout=5000)
    record = _record(qtbot, form)
    assert record.units_asked == "uM" and record.targets[0].name == "bare (pXC50)"
    assert "'bare' -> 'bare (pXC50)': 23 µM converted to pXC50" in form.record_label.text()
    assert form.request().units == "uM"
    # Said to be p-values, numbers up to 230 are refused, in red, before any training.
    form.set_units("p")
    qtbot.waitUntil(lambda: form.record is None or form.record.units_asked == "p", timeout=5000)
    record = _record(qtbot, form)
    assert record.problem is not None and "cannot be p-values" in record.problem
    assert form.record_label.text().startswith("Cannot train: target column 'bare'")
    assert "b00020" in form.record_label.styleSheet()
    # A classifier reads labels: no units to choose, none sent.
    form.task_combo.setCurrentText("classification")
    assert not form.units_combo.isEnabled() and form.request().units == "auto"


def test_a_newer_choice_wins_and_another_file_clears_the_record(qtbot, form, ic50_csv, tmp_path):
    _open(qtbot, form, ic50_csv)
    form.set_targets(["IC50"])
    first = form.refresh_record()
    form.set_targets(["bare"])
    second = form.refresh_record()
    qtbot.waitUntil(lambda: first.is_done() and second.is_done(), timeout=20_000)
    assert form.record is not None and form.record.targets[0].column == "bare"
    other = tmp_path / "other.csv"
    pd.DataFrame({"smiles": SMILES, "pIC50": range(len(SMILES))}).to_csv(other, index=False)
    _open(qtbot, form, other)
    assert form.record is None and not form.record_label.isVisible()


def test_the_calibration_choice_reaches_training_and_the_project(qtbot, form, ic50_csv):
    assert form.calibration_combo.currentText() == "Automatic"
    assert form.settings().calibration_folds == 0
    form.calibration_combo.setCurrentIndex(form.calibration_combo.findData(5))
    assert form.settings().calibration_folds == 5
    assert form.form_state()["calibration_folds"] == 5
    form._restore_settings({"calibration_folds": 3})
    assert form.settings().calibration_folds == 3
    form._restore_settings({"calibration_folds": 1})  # not a choice: left as it was
    assert form.settings().calibration_folds == 3
