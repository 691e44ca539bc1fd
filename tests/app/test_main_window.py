"""The main window driven as a user would: open, wait, sort, filter, export, bad files, cancel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import shiboken6
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDialog

from app.main_window import MainWindow
from core.settings import Settings
from resources import resource_path
from ui.library.panel import LibraryPanel

EXAMPLE = resource_path("demo/example_library.smi")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(main_window):
    return main_window


def closed(window: MainWindow, panel: LibraryPanel) -> bool:
    return not shiboken6.isValid(panel) or window.libraries.tabs.indexOf(panel) < 0


def wait_loaded(qtbot, window: MainWindow, panel: LibraryPanel, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: closed(window, panel) or panel.library is not None, timeout=timeout)


def column_of(panel: LibraryPanel, key: str) -> int:
    return [spec.key for spec in panel.model.columns()].index(key)


def shown_values(panel: LibraryPanel, key: str) -> list:
    table = panel.visible_table()
    return table[key].tolist()


def test_window_opens_on_the_start_page_with_menus(window):
    titles = [action.text() for action in window.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Help"]
    assert window.libraries.stack.currentWidget() is window.libraries.start_page
    assert not window.libraries.export_action.isEnabled()


def test_open_smiles_file_shows_every_record(qtbot, window):
    panel = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, panel)
    library = panel.library
    assert library is not None
    records = [
        line for line in EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert panel.model.rowCount() == len(records) == library.n_valid + library.n_invalid
    assert library.n_invalid == 2
    assert window.libraries.export_action.isEnabled()
    assert "30 of 30 records shown" in panel.summary_label.text()
    # The invalid rows are there, with their reasons.
    invalid = library.table[~library.table["valid"]]
    assert set(invalid["name"]) == {"pentavalent_carbon_error", "not_kekulizable"}
    assert all(invalid["error"].str.len() > 0)


def test_sort_and_filter_change_the_view(qtbot, window):
    panel = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, panel)
    panel.view.sortByColumn(column_of(panel, "mw"), Qt.SortOrder.AscendingOrder)
    mw = [v for v in shown_values(panel, "mw") if pd.notna(v)]
    assert mw == sorted(mw) and mw[0] == pytest.approx(123.115, abs=1e-3)  # pyrazinamide
    panel.view.sortByColumn(column_of(panel, "mw"), Qt.SortOrder.DescendingOrder)
    assert shown_values(panel, "name")[0] == "terfenadine"

    panel.filter_bar.text_edit.setText("ibuprofen")
    panel.filter_bar.flush()
    assert sorted(shown_values(panel, "name")) == ["ibuprofen", "ibuprofen_sodium"]
    panel.filter_bar.clear()
    assert panel.model.rowCount() == 30

    panel.filter_bar.add_range("mw", 150, 200)
    names = shown_values(panel, "name")
    expected = panel.library.table.query("mw >= 150 and mw <= 200")["name"]
    assert sorted(names) == sorted(expected) and len(names) == 7
    panel.filter_bar.clear()
    panel.filter_bar.validity_box.setCurrentIndex(2)  # invalid only
    assert sorted(shown_values(panel, "name")) == ["not_kekulizable", "pentavalent_carbon_error"]


def test_export_writes_the_shown_rows(qtbot, window, tmp_path):
    panel = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, panel)
    panel.filter_bar.add_range("qed", 0.6, None)
    panel.view.sortByColumn(column_of(panel, "qed"), Qt.SortOrder.DescendingOrder)
    shown = shown_values(panel, "name")
    for suffix in (".csv", ".xlsx", ".sdf", ".html"):
        out = tmp_path / f"hits{suffix}"
        handle = window.libraries.export_current(out)
        assert handle is not None
        with qtbot.waitSignal(handle.finished, timeout=60_000):
            pass  # the handle's signals come from the event loop, which runs only in here
        assert out.is_file()
        if suffix == ".csv":
            assert pd.read_csv(out)["name"].tolist() == shown
        elif suffix == ".xlsx":
            assert pd.read_excel(out)["name"].tolist() == shown
            from openpyxl import load_workbook

            assert len(load_workbook(out).active._images) == len(shown)  # structure pictures
        elif suffix == ".html":
            text = out.read_text()
            assert "Oral drug-likeness" in text and text.count("<svg") == len(shown)
        else:
            from rdkit import Chem

            names = [m.GetProp("name") for m in Chem.SDMolSupplier(str(out))]
            assert names == shown
    assert window.notifications.level == "success"


def test_csv_with_a_smiles_column_opens_without_asking(qtbot, window, tmp_path):
    path = tmp_path / "assay.csv"
    path.write_text("ID,SMILES,pIC50\nA1,CCO,5.1\nA2,c1ccccc1O,6.3\nA3,not_a_smiles,7.0\n")
    panel = window.open_library(path)
    wait_loaded(qtbot, window, panel)
    table = panel.library.table
    assert table["name"].tolist() == ["A1", "A2", "A3"]
    assert table["valid"].tolist() == [True, True, False]
    assert table["pIC50"].tolist() == [5.1, 6.3, 7.0]


def test_ambiguous_csv_asks_for_the_column(qtbot, window, tmp_path, monkeypatch):
    path = tmp_path / "two_structures.csv"
    path.write_text("reactant,product,yield\nCCO,CC=O,0.5\nCCN,CC#N,0.7\n")
    asked = []

    def fake_exec(dialog):
        asked.append(dialog.smiles_box.currentText())
        dialog.smiles_box.setCurrentText("product")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr("ui.dialogs.column_picker.ColumnPickerDialog.exec", fake_exec)
    panel = window.open_library(path)
    wait_loaded(qtbot, window, panel)
    assert asked == ["reactant"]
    assert panel.library.table["canonical_smiles"].tolist() == ["CC=O", "CC#N"]


def test_cancelling_the_column_dialog_opens_nothing(window, tmp_path, monkeypatch):
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    monkeypatch.setattr(
        "ui.dialogs.column_picker.ColumnPickerDialog.exec",
        lambda dialog: QDialog.DialogCode.Rejected,
    )
    assert window.open_library(path) is None
    assert window.libraries.tabs.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.smi", b"", "empty"),
        ("garbage.sdf", bytes(range(256)) * 40, "binary"),
        ("missing.smi", None, "no such file"),
        ("table.pdf", b"%PDF-1.4", "unsupported file type"),
    ],
)
def test_bad_files_show_a_clear_message_and_the_engine_keeps_working(
    qtbot, window, tmp_path, name, content, expected
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    panel = window.open_library(path)
    if panel is not None:
        wait_loaded(qtbot, window, panel)
    qtbot.waitUntil(lambda: window.notifications.isVisible(), timeout=10_000)
    assert window.notifications.level == "error"
    assert expected in window.notifications.text().lower()
    assert name in window.notifications.text()
    assert window.libraries.tabs.count() == 0
    # The engine still runs: a good file opens afterwards.
    good = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, good)
    assert good.library is not None and good.library.n_records == 30


def test_cancel_loading_closes_the_tab(qtbot, window, tmp_path):
    smiles = EXAMPLE.read_text().splitlines()[2:28]
    path = tmp_path / "big.smi"
    path.write_text("\n".join(smiles * 400) + "\n")  # 10,400 records: seconds of work
    window.settings.load_workers = 1
    panel = window.open_library(path)
    qtbot.waitUntil(lambda: panel.progress_bar.value() > 0, timeout=30_000)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: closed(window, panel), timeout=2000)
    assert "cancelled" in window.notifications.text()


def test_a_large_file_shows_its_first_rows_while_it_loads(qtbot, window, tmp_path, monkeypatch):
    import threading

    import core.chem.library as library_module

    smiles = EXAMPLE.read_text().splitlines()[2:28]
    path = tmp_path / "big.smi"
    path.write_text("\n".join(smiles * 10) + "\n")  # 260 records
    monkeypatch.setattr(library_module, "PREVIEW_MIN_RECORDS", 100)
    monkeypatch.setattr(library_module, "PREVIEW_FIRST", 40)
    go_on = threading.Event()
    describe = library_module.process_records

    def held(records, options=None):  # the rest of the file waits until the test says so
        if records[0].index >= 64:
            go_on.wait(30)
        return describe(records, options)

    monkeypatch.setattr(library_module, "process_records", held)
    window.settings.load_workers = 1
    panel = window.open_library(path)
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=30_000)
    assert panel.is_loading() and panel.preview_bar.isVisible()
    assert 40 <= panel.model.rowCount() < 260
    assert "showing the first" in panel.preview_label.text()
    notes = column_of(panel, "notes")
    assert not panel.model.setData(panel.model.index(0, notes), "too early")  # read-only
    assert "once loading ends" in panel.hint_label.text()
    assert not panel.side_panel.isEnabled()
    panel.sort_by("mw", descending=True)  # the chemist starts browsing
    qtbot.waitUntil(lambda: not panel.model.is_busy(), timeout=5000)
    panel.view.setCurrentIndex(panel.model.index(3, 1))
    looked_at = panel.model.source_row(3)
    go_on.set()
    wait_loaded(qtbot, window, panel)
    assert panel.preview is None and not panel.preview_bar.isVisible()
    assert panel.model.rowCount() == 260 and panel.side_panel.isEnabled()
    assert panel.model.setData(panel.model.index(0, notes), "now")
    assert panel.current_position() == looked_at  # still on the row the user was looking at
    key, order = panel.model.sort_column()
    assert key == "mw" and order == Qt.SortOrder.DescendingOrder  # the sort carries over
    mw = shown_values(panel, "mw")
    valid = [v for v in mw if v == v]
    assert valid == sorted(valid, reverse=True)


def test_drop_a_file_opens_it(qtbot, window):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(EXAMPLE))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.libraries.tabs.count() == 1
    wait_loaded(qtbot, window, window.current_panel())
    assert window.current_panel().library.n_records == 30


def test_recent_files_are_remembered(qtbot, window, tmp_path):
    path = tmp_path / "recent.smi"
    path.write_text("CCO ethanol\n")
    panel = window.open_library(path)
    wait_loaded(qtbot, window, panel)
    assert window.settings.recent_files[0] == str(path.resolve())
    assert Settings.load().recent_files[0] == str(path.resolve())
    assert window.recent_menu.actions()[0].text() == "recent.smi"


def test_selecting_a_row_shows_the_molecule(qtbot, window):
    panel = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, panel)
    panel.view.selectRow(1)
    workspace = window.molecule_workspace
    assert workspace.name() == "ibuprofen"
    assert workspace.current_smiles() == "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    assert workspace.source == (panel, 1)
    assert "Record 2 of example_library.smi" in workspace.source_label.text()


def test_edit_and_save_to_library_is_undoable(qtbot, window):
    panel = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, panel)
    panel.view.selectRow(0)  # aspirin
    workspace = window.molecule_workspace
    editor = workspace.editor
    assert workspace.open_smiles("CC(=O)Oc1ccccc1C(=O)OC", "aspirin methyl ester", (panel, 0))
    # Edited structures are not replaced by clicking through other rows.
    editor.set_molecule(editor.molecule(), undoable=True)
    assert workspace.is_modified()
    panel.view.selectRow(3)
    assert workspace.name() == "aspirin methyl ester"

    window.save_molecule(as_new=False)
    table = panel.library.table
    assert table.at[0, "canonical_smiles"] == "COC(=O)c1ccccc1OC(C)=O"
    assert table.at[0, "name"] == "aspirin methyl ester"
    assert not workspace.is_modified()
    assert window.notifications.level == "success"

    window.save_molecule(as_new=True)
    assert panel.library.n_records == 31
    assert panel.library.table.at[30, "duplicate_of"] == "aspirin methyl ester"

    panel.undo_stack.undo()
    assert panel.library.n_records == 30
    panel.undo_stack.undo()
    assert panel.library.table.at[0, "canonical_smiles"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert panel.library.table.at[0, "name"] == "aspirin"
    assert "30 of 30 records shown" in panel.summary_label.text()


def test_new_molecule_saved_without_a_library_creates_one(qtbot, window):
    window.new_molecule()
    workspace = window.molecule_workspace
    assert workspace.open_smiles("c1ccncc1", "pyridine", None)
    window.save_molecule()
    panel = window.current_panel()
    assert panel is not None and panel.title == "New library"
    assert panel.library.table["canonical_smiles"].tolist() == ["c1ccncc1"]
    assert workspace.source == (panel, 0)


def test_saving_an_empty_canvas_explains(window):
    window.new_molecule()
    window.save_molecule()
    assert window.notifications.level == "error"
    assert "empty" in window.notifications.text()


def test_about_shows_versions_and_the_device(qtbot, window):
    window.show_about()
    dialog = window._about
    qtbot.waitUntil(lambda: "CPU" in dialog.device_label.text(), timeout=60_000)
    dialog.close()
    window.show_about()  # the same dialog again, not a second child of the window
    assert window._about is dialog and dialog.isVisible()
    assert "CPU" in dialog.device_label.text()


def test_window_opens_without_importing_torch():
    code = (
        "import os, sys; os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen');"
        "from app.gui import create_application, create_main_window;"
        "app = create_application(); w = create_main_window(); w.show(); app.processEvents();"
        "print('torch' in sys.modules); w.close()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_predict_3d_runs_in_the_engine_and_shows_conformers(qtbot, window, vtk_image):
    workspace = window.molecule_workspace
    assert workspace.open_smiles("CC(=O)Nc1ccc(O)cc1", "paracetamol")
    workspace.tabs.setCurrentIndex(1)
    viewer = workspace.viewer
    assert viewer is not None
    handle = workspace.predict_3d()
    qtbot.waitUntil(lambda: viewer._ensemble is not None, timeout=60_000)
    ensemble = viewer._ensemble
    assert ensemble.name == "paracetamol" and len(ensemble.energies_kcal_mol) >= 1
    assert list(ensemble.energies_kcal_mol) == sorted(ensemble.energies_kcal_mol)
    assert handle.state == "finished"
    image = vtk_image(viewer.render_window())
    assert len({tuple(p) for p in image.reshape(-1, 3)[::97]}) > 20


def test_predict_3d_of_an_empty_canvas_explains(window):
    window.new_molecule()
    assert window.molecule_workspace.predict_3d() is None


def test_closing_a_tab_ends_its_table_thread(qtbot, window, monkeypatch):
    # Tables over 20,000 rows sort text in a worker thread; here every table does.
    monkeypatch.setattr("ui.tables.dataframe_model.TEXT_ASYNC_ROWS", 0)
    panel = window.open_library(EXAMPLE)
    wait_loaded(qtbot, window, panel)
    panel.view.sortByColumn(column_of(panel, "name"), Qt.SortOrder.AscendingOrder)
    assert panel.model.wait_until_idle()
    assert shown_values(panel, "name") == sorted(shown_values(panel, "name"))
    threads = list(panel.model._executor._threads)  # the tab's own sort/filter thread
    assert threads and all(thread.is_alive() for thread in threads)
    window.libraries.close_tab(window.libraries.tabs.indexOf(panel))
    qtbot.waitUntil(lambda: not any(thread.is_alive() for thread in threads), timeout=5_000)


def _returns(value, *, progress, is_cancelled):
    return value


def _raises(*, progress, is_cancelled):
    raise ValueError("another panel's job went wrong")


def test_a_loading_tab_hears_only_of_its_own_job(qtbot, window, monkeypatch):
    """Other jobs ending, even with a library as their result, leave a loading tab alone; the
    tab keeps its job's handle while it loads and drops it when the load ends."""
    import threading

    import ui.library.loading as loading_module
    from core.chem.library import load_library

    other_library = load_library(EXAMPLE)
    go_on = threading.Event()

    def held_load(*args, **kwargs):  # the load waits until the test says so
        go_on.wait(30)
        return load_library(*args, **kwargs)

    monkeypatch.setattr(loading_module, "load_library", held_load)
    panel = window.open_library(EXAMPLE, remember=False)
    handle = panel.load_job
    assert handle is not None and not handle.is_done()
    # Jobs of other panels end first (the load runs in the long lane, these in the main one).
    finished = window.engine.submit(_returns, other_library, title="Another panel's library")
    failed = window.engine.submit(_raises, title="Another panel's failure")
    cancelled = window.engine.submit(_returns, 1, title="Another panel's cancelled job")
    cancelled.cancel()
    qtbot.waitUntil(lambda: finished.is_done() and failed.is_done(), timeout=10_000)
    assert cancelled.state == "cancelled"
    assert panel.is_loading() and panel.library is None and panel.preview is None
    assert panel.load_job is handle and window.libraries.tabs.indexOf(panel) >= 0
    assert not window.notifications.isVisible()  # no other job's news is shown as this tab's
    assert not window.wait_for_loads(timeout_ms=50)
    go_on.set()
    assert window.wait_for_loads()
    assert handle.state == "finished" and panel.load_job is None
    assert panel.library is not None and panel.library is not other_library
    assert panel.library.n_records == 30
    assert "example_library.smi" in window.notifications.text()


def test_closing_a_loading_tab_cancels_its_job_and_forgets_it(qtbot, window, tmp_path):
    smiles = EXAMPLE.read_text().splitlines()[2:28]
    path = tmp_path / "big.smi"
    path.write_text("\n".join(smiles * 400) + "\n")  # 10,400 records: seconds of work
    window.settings.load_workers = 1
    panel = window.open_library(path, remember=False)
    handle = panel.load_job
    window.libraries.close_tab(window.libraries.tabs.indexOf(panel))
    assert panel.load_job is None  # a closed tab keeps no handle
    qtbot.waitUntil(handle.is_done, timeout=30_000)
    assert handle.state == "cancelled"
    assert window.libraries.tabs.count() == 0 and window.wait_for_loads(timeout_ms=0)
    assert "cancelled" not in window.notifications.text()  # closing is not news


def test_a_failed_export_names_the_file(qtbot, window, tmp_path):
    panel = window.open_library(EXAMPLE, remember=False)
    wait_loaded(qtbot, window, panel)
    out = tmp_path / "missing" / "hits.csv"
    handle = window.libraries.export_current(out)
    with qtbot.waitSignal(handle.failed, timeout=60_000):
        pass
    assert window.notifications.level == "error"
    assert "Export hits.csv failed" in window.notifications.text()


def test_the_libraries_menu_entries_work_from_the_window(qtbot, window):
    """The Libraries area's actions sit in the window's File and View menus; their shortcuts
    reach the area."""
    from PySide6.QtGui import QKeySequence
    from PySide6.QtTest import QTest

    menus = {action.text(): action.menu() for action in window.menuBar().actions()}
    libraries = window.libraries
    file_entries = menus["&File"].actions()
    for action in (libraries.open_action, libraries.export_action, libraries.close_action):
        assert action in file_entries
    assert libraries.hit_list_action in menus["&View"].actions()
    panel = window.open_library(EXAMPLE, remember=False)
    wait_loaded(qtbot, window, panel)
    window.activateWindow()
    qtbot.waitActive(window)
    QTest.keySequence(window, QKeySequence("Ctrl+Shift+H"))
    assert not libraries.hit_list_action.isChecked() and panel.side_panel.isHidden()
    QTest.keySequence(window, QKeySequence(QKeySequence.StandardKey.Close))
    assert closed(window, panel)
    assert libraries.stack.currentWidget() is libraries.start_page


def test_preferences_give_the_engine_the_model_precision(window):
    from dataclasses import replace

    assert window.engine.inference_precision == "auto"
    window.apply_settings(replace(window.settings, inference_precision="bfloat16"))
    assert window.engine.inference_precision == "bfloat16"
