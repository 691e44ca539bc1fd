"""Preferences, column picker and about dialogs."""

from __future__ import annotations

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
    result = dialog.result_settings()
    assert result.compute_device == "cpu"
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
