"""The Models panel end to end: columns, training with live curves, metrics, plots, registry,
cancel, apply to a library and explanations, with a tiny model on a small written table."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QObject, Qt, Signal

from app.engine import InferenceEngine
from core.jobs import CANCELLED, FAILED, FINISHED
from core.models.registry import list_models
from core.models.training import EpochPoint
from ui.models_area.metrics_view import metrics_table
from ui.models_area.panel import ModelsPanel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def assay_csv(tmp_path, tiny_smiles):
    frame = pd.DataFrame(
        {
            "smiles": tiny_smiles,
            "active": [i % 2 for i in range(len(tiny_smiles))],
            "logS": np.linspace(-3, 1, len(tiny_smiles)),
            "note": ["x"] * len(tiny_smiles),
        }
    )
    path = tmp_path / "assay.csv"
    frame.to_csv(path, index=False)
    return path


class FakeLibraryPanel(QObject):
    """What the panel uses of a library tab (``ui.workbench.LibraryView``)."""

    current_row_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.title = "demo"
        self._table = pd.DataFrame(
            {"canonical_smiles": ["CCO", "", "c1ccccc1O"], "valid": [True, False, True]},
            index=[10, 11, 12],
        )
        self.added: list[pd.DataFrame] = []
        self.notes: list[dict | None] = []

    def table(self) -> pd.DataFrame:
        return self._table

    def add_columns(self, frame: pd.DataFrame, notes=None) -> None:
        self.added.append(frame)
        self.notes.append(notes)

    def current_row(self) -> dict:
        return self._table.iloc[2].to_dict()


class FakeLibraries(QObject):
    """The library access of the window (``ui.workbench.LibraryAccess``)."""

    current_library_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.library_panel: FakeLibraryPanel | None = FakeLibraryPanel()

    def current_library(self) -> FakeLibraryPanel | None:
        return self.library_panel


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine(device_preference="cpu")
    engine.start()
    yield engine
    assert engine.stop(10_000)


@pytest.fixture
def panel(qtbot, engine, make_area_context):
    widget = ModelsPanel(make_area_context(engine, libraries=FakeLibraries()))
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    return widget


def _wait_job(qtbot, handle, timeout=60_000):
    """Until the job of ``handle`` has ended; the panel's slots have run by then (the handle
    records its state and emits in one go, on the GUI thread)."""
    qtbot.waitUntil(handle.is_done, timeout=timeout)


def _open(qtbot, panel, path):
    handle = panel.open_file(path)
    _wait_job(qtbot, handle, timeout=10_000)
    assert handle.state == FINISHED
    assert panel.form.columns is not None


def test_train_compare_register_apply_and_explain(qtbot, panel, assay_csv, tiny_pretrained):
    assert not panel.training.train_button.isEnabled()  # nothing opened yet
    _open(qtbot, panel, assay_csv)
    assert panel.form.smiles_combo.currentData() == "smiles"
    panel.set_targets(["active"])
    assert panel.form.task_combo.currentText() == "classification"  # two distinct values
    assert panel.training.train_button.isEnabled() and not panel.training.cancel_button.isEnabled()
    panel.form.split_combo.setCurrentIndex(panel.form.split_combo.findData("stratified"))
    panel.form.epochs_spin.setValue(2)
    panel.form.batch_spin.setValue(16)
    panel.form.name_edit.setText("assay-active")
    # Transformer and forest (the D-MPNN is tested through training in test_families.py).
    panel.form.dmpnn_check.setChecked(False)

    job = panel.train(pretrained_dir=tiny_pretrained)
    assert job is not None and panel.training.cancel_button.isEnabled()
    assert not panel.training.train_button.isEnabled()
    _wait_job(qtbot, job)
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=5_000)

    assert panel.curves.n_points() == 2  # one point per epoch arrived as the handle's partial
    assert "Trained assay-active" in panel.training.status_label.text()
    table = panel.metrics.model.frame()
    assert {"SMILES transformer (test)", "Random forest (ECFP4) (test)"} <= set(table.columns)
    assert "ROC-AUC" in set(table["metric"])
    assert table["SMILES transformer (valid)"].notna().any()
    assert panel.plots.curve_count() == 4  # ROC and PR for both models
    # Registered and selected.
    names = [entry.path.name for entry in list_models()]
    assert names == ["assay-active"]
    assert panel.selected_model_path().name == "assay-active"
    assert "assay-active" in panel.models_list.currentItem().text()
    assert panel.model_list.apply_button.isEnabled() and panel.model_list.delete_button.isEnabled()
    # The predictor chosen on the validation part: the transformer, the forest or a mix.
    card = json.loads((panel.selected_model_path() / "card.json").read_text())
    assert set(card["chosen"]["families"]) <= {"transformer", "rf"}
    mixed_or_forest = card["chosen"]["families"] != ["transformer"]

    # Explain a held-out molecule picked in the test table.
    assert panel.explain_tab.test_model.rowCount() == 4
    panel.explain_tab.test_view.selectRow(0)
    qtbot.waitUntil(lambda: "Red" in panel.explain_tab.label.text(), timeout=60_000)
    explanation = panel.explain_tab.explanation
    assert explanation.family == card["family"]  # the chosen family (the heavier of a mix)
    tab = panel.explain_tab
    if explanation.family != "transformer":
        tab.family_combo.setCurrentIndex(0)
        qtbot.waitUntil(lambda: tab.explanation.family == "transformer", timeout=60_000)
        explanation = tab.explanation
    assert explanation.family == "transformer" and explanation.sum_check(1e-2)
    assert "relative to the" in panel.explain_tab.label.text()
    assert panel.explain_tab.heat_map.renderer().isValid()
    # The model's forest explains too, when chosen.
    assert [tab.family_combo.itemData(i) for i in range(tab.family_combo.count())] == [
        "transformer",
        "rf",
    ]
    tab.family_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: tab.explanation.family == "rf", timeout=60_000)
    assert tab.explanation.sum_check(1e-9) and "tree-path" in tab.label.text()
    tab.family_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: tab.explanation.family == "transformer", timeout=60_000)

    # Apply to the current library: predictions aligned with its index.
    library = panel.context.libraries.library_panel
    job = panel.apply_to_library()
    _wait_job(qtbot, job)
    (frame,) = library.added
    # Each prediction column names the model that made it (a hit list's row leads back to it).
    assert library.notes == [{"active": "probability of class 1 of 'active' by model assay-active"}]
    assert list(frame.columns) == [
        "active",
        # A forest or a mix has a spread (the trees', and between families).
        *(["active_std"] if mixed_or_forest else []),
        # A single classifier stores no calibration: its empty _calibrated/_set are not added.
        "active_nearest_train_similarity",
        "active_in_domain",
    ]
    # The model stored its domain when it was trained: every valid molecule has its similarity.
    assert frame.loc[[10, 12], "active_nearest_train_similarity"].between(0, 1).all()
    assert frame.loc[[10, 12], "active_in_domain"].notna().all()
    assert list(frame.index) == [10, 11, 12]
    assert np.isnan(frame.loc[11, "active"]) and frame.loc[[10, 12], "active"].between(0, 1).all()
    # Two applies in a row: each job brings its own predictions to the library it was asked for.
    first, second = panel.apply_to_library(), panel.apply_to_library()
    _wait_job(qtbot, first)
    _wait_job(qtbot, second)
    assert len(library.added) == 3
    pd.testing.assert_frame_equal(library.added[1], frame)
    pd.testing.assert_frame_equal(library.added[2], frame)

    # The library's current row: on request, and when the library's row changes.
    job = panel.explain_library_row()
    _wait_job(qtbot, job)
    assert panel.explain_tab.explanation.smiles == "c1ccccc1O"
    panel.show()
    qtbot.waitExposed(panel)
    library.current_row_changed.emit({"canonical_smiles": "CCN", "valid": True})
    qtbot.waitUntil(lambda: panel.explain_tab.explanation.smiles == "CCN", timeout=20_000)

    assert panel.delete_selected()
    assert list_models() == []
    assert panel.context.notifier.errors == []


def test_bad_input_is_reported_not_raised(qtbot, panel, tmp_path, tiny_smiles):
    one_class = tmp_path / "one_class.csv"
    pd.DataFrame({"smiles": tiny_smiles, "active": [1] * len(tiny_smiles)}).to_csv(
        one_class, index=False
    )
    _open(qtbot, panel, one_class)
    panel.set_targets(["active"])
    panel.form.task_combo.setCurrentText("classification")
    panel.form.split_combo.setCurrentIndex(panel.form.split_combo.findData("random"))
    job = panel.train()
    _wait_job(qtbot, job)
    assert job.state == FAILED
    assert "only one class" in panel.training.status_label.text()
    assert panel.context.notifier.errors and "only one class" in panel.context.notifier.errors[-1]
    assert panel.training.train_button.isEnabled() and not panel.training.cancel_button.isEnabled()

    few = tmp_path / "few.csv"
    pd.DataFrame({"smiles": tiny_smiles[:5], "y": range(5)}).to_csv(few, index=False)
    _open(qtbot, panel, few)
    panel.set_targets(["y"])
    job = panel.train()
    _wait_job(qtbot, job)
    assert "usable molecules" in panel.training.status_label.text()

    job = panel.open_file(tmp_path / "missing.csv")
    _wait_job(qtbot, job, timeout=10_000)
    assert job.state == FAILED
    assert "missing.csv" in panel.form.data_label.text()
    assert not panel.training.train_button.isEnabled()


def test_cancel_keeps_the_best_epochs(qtbot, panel, assay_csv, tiny_pretrained):
    _open(qtbot, panel, assay_csv)
    panel.set_targets(["logS"])
    assert panel.form.task_combo.currentText() == "regression"
    panel.form.split_combo.setCurrentIndex(panel.form.split_combo.findData("random"))
    panel.form.epochs_spin.setValue(200)
    panel.form.lr_spin.setValue(0.00001)  # slow learning: no early stop before the cancel
    panel.form.name_edit.setText("solubility")
    job = panel.train(pretrained_dir=tiny_pretrained)
    qtbot.waitUntil(lambda: panel.curves.n_points() >= 2, timeout=30_000)
    panel.cancel_training()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=30_000)
    assert job.state == CANCELLED  # the job kept its best epochs, then the panel read them back
    assert "Cancelled; kept solubility" in panel.training.status_label.text()
    card = json.loads((list_models()[0].path / "card.json").read_text())
    assert card["status"] == "cancelled" and card["metrics"]["test"]["transformer"]["rmse"] > 0
    # Regression: the predicted-against-measured scatter, not the classification curves (the
    # panel is not shown, so isHidden(): what the panel itself asked for).
    assert not panel.plots.scatter_plot.isHidden()
    assert panel.plots.roc_plot.isHidden() and panel.plots.pr_plot.isHidden()
    assert panel.plots.curve_count() == 1  # transformer only: the baseline was skipped
    assert metrics_table(panel._report.metrics)["metric"].tolist()[0] == "RMSE"


# Screen fit: 1280×720 logical pixels (1920×1080 at 150 %) less the sidebar and the Molecule dock.
BUDGET_WIDTH, BUDGET_HEIGHT = 800, 540


def test_panel_fits_the_screen_budget_and_shows_the_baseline_test_column(qtbot, panel):
    panel.context.libraries.library_panel = None  # no library row to explain when the panel shows
    panel.resize(BUDGET_WIDTH, BUDGET_HEIGHT)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.minimumSizeHint().width() <= BUDGET_WIDTH
    assert panel.minimumSizeHint().height() <= BUDGET_HEIGHT

    # The shipped potency model's evaluation, on the Metrics tab at the budget width.
    items = [panel.models_list.item(i) for i in range(panel.models_list.count())]
    (potency,) = [item for item in items if "potency" in item.text()]
    panel.models_list.setCurrentItem(potency)
    qtbot.waitUntil(lambda: panel.metrics.model.rowCount() > 0, timeout=20_000)
    panel.tabs.setCurrentWidget(panel.metrics)
    for index in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(index)
        hint = panel.minimumSizeHint()
        assert hint.width() <= BUDGET_WIDTH and hint.height() <= BUDGET_HEIGHT, index
    panel.tabs.setCurrentWidget(panel.metrics)
    qtbot.wait(10)

    model, view = panel.metrics.model, panel.metrics.view
    columns = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    # One target (Act): named in the heading, no column for it; the test columns come first.
    assert columns[:3] == ["Metric", "Transformer\ntest", "Random forest\ntest"]
    assert "potency-chembl2321810</b>: regression of Act;" in panel.metrics.label.text()
    baseline = model.column_index("Random forest (ECFP4) (test)")
    assert baseline == 2
    right_edge = view.columnViewportPosition(baseline) + view.columnWidth(baseline)
    assert view.horizontalScrollBar().value() == 0
    assert 0 < right_edge <= view.viewport().width()
    tip = model.headerData(baseline, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "Random forest (ECFP4)" in tip and "test" in tip
    # Each saved model reads as its name over what it predicts.
    assert potency.text().splitlines()[0] == "potency-chembl2321810 [shipped]"
    assert potency.text().splitlines()[1].startswith("regression of Act; test RMSE")


def test_open_demo_ticks_the_potency_as_a_regression(qtbot, panel):
    panel.form.task_combo.setCurrentText("classification")  # what the form showed before
    job = panel.open_demo()
    _wait_job(qtbot, job, timeout=20_000)
    assert panel.form.smiles_combo.currentData() == "smiles"
    assert panel.checked_targets() == ["Act"]
    assert panel.form.task_combo.currentText() == "regression"
    assert panel.training.train_button.isEnabled()
    assert "Act" in panel.form.data_label.text()
    assert panel.context.notifier.errors == []


def _foreign_columns(*, progress, is_cancelled):
    """What a columns job returns, from a job the panel did not submit."""
    del is_cancelled
    progress(0.5, "foreign progress")
    return SimpleNamespace(
        path="foreign.csv",
        columns=["foreign"],
        numeric_columns=["foreign"],
        distinct_values={"foreign": 2},
        smiles_column="foreign",
        is_sdf=False,
    )


def _foreign_failure(*, progress, is_cancelled):
    del progress, is_cancelled
    raise ValueError("foreign failure")


def _foreign_epochs(*, progress, is_cancelled, report_partial):
    del is_cancelled
    report_partial(EpochPoint(0, 1, 0.5, 0.5))
    progress(1.0, "foreign epoch")
    return None


def test_the_panel_ignores_jobs_it_did_not_submit(qtbot, panel, assay_csv):
    """Another area's jobs (a result shaped like the panel's own, a failure, epochs and progress
    sent as partial results) end while the panel waits for its own: nothing of them shows."""
    engine = panel.engine
    if panel._report_job is not None:  # the selected shipped model's evaluation, read at start
        _wait_job(qtbot, panel._report_job, timeout=10_000)
    points = panel.curves.n_points()
    before = (
        panel.training.status_label.text(),
        panel.form.data_label.text(),
        panel.metrics.label.text(),
    )
    others = [
        engine.submit(_foreign_columns, title="other columns"),
        engine.submit(_foreign_failure, title="other failure"),
        engine.submit(_foreign_epochs, title="other epochs"),
    ]
    for other in others:
        _wait_job(qtbot, other, timeout=10_000)
    assert [other.state for other in others] == [FINISHED, FAILED, FINISHED]
    assert panel.form.columns is None and panel.form.smiles_combo.count() == 0
    assert panel.curves.n_points() == points
    after = (
        panel.training.status_label.text(),
        panel.form.data_label.text(),
        panel.metrics.label.text(),
    )
    assert after == before
    assert panel.context.notifier.errors == []

    # The panel's own job, submitted behind another that fails and another that finishes.
    blocked = engine.submit(_foreign_failure, title="other failure first")
    mine = panel.open_file(assay_csv)
    late = engine.submit(_foreign_columns, title="other columns last")
    _wait_job(qtbot, mine, timeout=10_000)
    _wait_job(qtbot, late, timeout=10_000)
    assert blocked.state == FAILED and mine.state == FINISHED
    assert panel.form.columns.path == str(assay_csv)
    assert panel.form.smiles_combo.currentData() == "smiles"
    assert "foreign failure" not in panel.form.data_label.text()
    assert panel.context.notifier.errors == []


def test_a_newer_file_request_wins_over_an_older_answer(
    qtbot, panel, assay_csv, tmp_path, tiny_smiles
):
    """Reading the columns of a second file supersedes the first: only the second fills the
    form, even when the first job had ended (its answer on its way) before the second request."""
    other = tmp_path / "other.csv"
    pd.DataFrame({"structure": tiny_smiles[:10], "pIC50": range(10)}).to_csv(other, index=False)
    filled: list[str] = []
    set_columns = panel.form._set_columns
    panel.form._set_columns = lambda columns: (filled.append(columns.path), set_columns(columns))
    first = panel.open_file(assay_csv)
    # The first job ends in the engine; no event loop runs here, so its answer waits in the
    # GUI thread's queue while the second request is made.
    deadline = time.monotonic() + 10
    while panel.engine.job(first.id).state != FINISHED and time.monotonic() < deadline:
        time.sleep(0.02)
    assert panel.engine.job(first.id).state == FINISHED
    second = panel.open_file(other)
    _wait_job(qtbot, first, timeout=10_000)
    _wait_job(qtbot, second, timeout=10_000)
    assert first.state == FINISHED and second.state == FINISHED
    assert filled == [str(other)]  # the older answer was dropped
    assert [
        panel.form.smiles_combo.itemText(i) for i in range(panel.form.smiles_combo.count())
    ] == [
        "structure",
        "pIC50",
    ]
