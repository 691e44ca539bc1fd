"""Preferences, column picker and about dialogs."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.chem.readers import TablePreview
from core.settings import Settings
from ui.dialogs.about import AboutDialog, library_versions
from ui.dialogs.column_picker import NO_COLUMN, ColumnPickerDialog
from ui.dialogs.preferences import PreferencesDialog


def test_preferences_dialog_returns_edited_settings(qtbot):
    settings = Settings(recent_files=["/data/a.smi"])
    dialog = PreferencesDialog(settings)
    qtbot.addWidget(dialog)
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cpu"))
    dialog.workers_box.setValue(1)
    dialog.tautomer_box.setChecked(True)
    dialog.fragment_box.setChecked(False)
    dialog.picture_height.setValue(80)
    assert dialog.precision_box.currentData() == "auto"
    dialog.precision_box.setCurrentIndex(dialog.precision_box.findData("bfloat16"))
    result = dialog.result_settings()
    assert result.compute_device == "cpu"
    assert result.inference_precision == "bfloat16"
    assert result.load_workers == 1
    assert result.standardize_canonical_tautomer and not result.standardize_largest_fragment
    assert result.structure_height == 80
    assert result.recent_files == ["/data/a.smi"]
    assert settings.compute_device == "auto"  # the original is untouched until applied
    options = result.standardize_options()
    assert options.canonical_tautomer and not options.largest_fragment


def test_column_picker_preselects_detected_columns(qtbot):
    preview = TablePreview(
        columns=["id", "smi", "pIC50"],
        rows=[["a", "CCO", "5"], ["b", "CCN", "6", "extra"]],
        smiles_column="smi",
        name_column="id",
        smiles_candidates=["smi"],
    )
    dialog = ColumnPickerDialog("assay.csv", preview)
    qtbot.addWidget(dialog)
    assert dialog.read_options().smiles_column == "smi"
    assert dialog.read_options().name_column == "id"
    assert dialog.table_model.rowCount() == 2 and dialog.table_model.columnCount() == 4
    dialog.name_box.setCurrentText(NO_COLUMN)
    assert dialog.read_options().name_column == ""


def test_about_lists_versions(qtbot):
    versions = library_versions()
    assert versions["rdkit"] != "not installed" and versions["PySide6-Essentials"].startswith("6.")
    dialog = AboutDialog("CPU, 1 torch threads of 2 cores", {"Settings": "/x/settings.json"})
    qtbot.addWidget(dialog)
    assert "CPU" in dialog.device_label.text()


class _Handle(QObject):
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


def test_preferences_check_the_dask_scheduler_and_test_it(qtbot):
    from core.cluster_jobs import ClusterInfo

    handles = []

    def tester(address):
        handles.append((address, _Handle()))
        return handles[-1][1]

    dialog = PreferencesDialog(Settings(), test_cluster=tester)
    qtbot.addWidget(dialog)
    assert dialog.scheduler_status.text() == "This computer only."
    dialog.scheduler_edit.setText("htp://host:8786")
    assert not dialog.ok_button.isEnabled() and "expected tcp://HOST:PORT" in (
        dialog.scheduler_status.text()
    )
    dialog.scheduler_edit.setText("local:3")
    assert dialog.ok_button.isEnabled()
    assert "3 worker processes" in dialog.scheduler_status.text()
    dialog.test_button.click()
    address, handle = handles[-1]
    assert address == "local:3" and "Connecting" in dialog.scheduler_status.text()
    handle.finished.emit(ClusterInfo("local:3", 3, 3, 3 * 1024**3))
    assert dialog.scheduler_status.text().startswith("local:3: 3 workers, 3 threads, 3.0 GiB")
    dialog.test_button.click()
    handles[-1][1].failed.emit("cannot reach the Dask scheduler at local:3")
    assert "cannot reach" in dialog.scheduler_status.text()
    assert dialog.result_settings().dask_scheduler == "local:3"
