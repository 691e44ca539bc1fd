"""Projects in the main window: save as, autosave of flags/notes/columns/profiles, reopen restores
every tab; a failing disk is reported and never damages the last good save."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from core.hitlist.presets import PRESETS
from core.project.store import read_project
from resources import resource_path

EXAMPLE = resource_path("demo/example_library.smi")


def open_example(qtbot, window):
    panel = window.open_library(EXAMPLE, remember=False)
    qtbot.waitUntil(lambda: panel.library is not None, timeout=60_000)
    return panel


def save_as(qtbot, window, path):
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        assert window.project.save_as(path) is not None
    assert window.project.path == path


def autosave(qtbot, window):
    with qtbot.waitSignal(window.project.saved, timeout=30_000):
        assert window.project.autosave()


def test_save_edit_autosave_and_reopen_restores_everything(qtbot, make_window, tmp_path):
    window = make_window()
    panel = open_example(qtbot, window)
    path = tmp_path / "hits.drugdesk"
    save_as(qtbot, window, path)
    assert window.windowTitle() == "DrugDesk — hits.drugdesk"
    assert str(path) == window.settings.recent_files[0]
    assert not window.project.is_dirty()
    # Edits of marks, a computed column and the profile, as a chemist makes them.
    panel.set_marks("flag", [2, 5], [True])
    panel.set_marks("notes", [5], ["resynthesise"])
    panel.set_marks("tags", [2], ["series A"])
    n = panel.library.n_records
    panel.add_columns(pd.DataFrame({"pred_logS": np.linspace(-5, 0, n)}), {"pred_logS": "model"})
    panel.side_panel.set_profile(PRESETS["cns"])
    assert window.project.is_dirty()
    autosave(qtbot, window)
    assert not window.project.is_dirty()
    # A note alone is saved without rewriting the table.
    panel.set_marks("notes", [0], ["first"])
    assert window.project._dirty_tables == set()
    autosave(qtbot, window)
    # The view: a sort, filters (validity, alerts, a range) and a search result are saved and
    # come back.
    panel.sort_by("mw", descending=True)
    panel.filter_bar.validity_box.setCurrentIndex(1)
    panel.filter_bar.alerts_box.setCurrentIndex(panel.filter_bar.alerts_box.findData("none"))
    panel.filter_bar.add_range("mw", 100, 400)
    panel.filter_bar.flush()
    search = np.zeros(panel.library.n_records, dtype=bool)
    search[[0, 2, 3, 5, 7, 11, 13]] = True  # a similarity search's hits, say
    panel.set_row_mask(search, "Similar to aspirin: 7")
    view = panel.view_state()
    shown = panel.model.visible_positions().tolist()
    assert view["sort"] == {"column": "mw", "descending": True}
    assert 0 < len(shown) < panel.library.n_records
    assert window.project.is_dirty()
    autosave(qtbot, window)
    window.close()

    contents = read_project(path)
    assert len(contents.libraries) == 1
    other = make_window()
    with qtbot.waitSignal(other.project.project_changed, timeout=30_000):
        assert other.open_library(path) is None  # files given on the command line come here
    (restored,) = other.libraries.library_panels()
    table = restored.library.table
    assert restored.title == panel.title
    assert table.index[table["flag"]].tolist() == [2, 5]
    assert table.at[5, "notes"] == "resynthesise" and table.at[0, "notes"] == "first"
    assert table.at[2, "tags"] == "series A"
    assert np.allclose(table["pred_logS"], np.linspace(-5, 0, n))
    assert restored.library.column_notes["pred_logS"] == "model"
    assert "pred_logS" in [spec.key for spec in restored.model.columns()]
    assert restored.side_panel.profile == PRESETS["cns"]
    assert restored.view_state() == view
    assert restored.model.visible_positions().tolist() == shown
    assert restored.filter_bar.search_label.text() == "Similar to aspirin: 7"
    assert not other.project.is_dirty()  # restoring the view is not an edit
    # Undo still works on restored marks, and the change is saved again.
    restored.set_marks("flag", [2], [False])
    restored.undo_stack.undo()
    assert table.index[restored.library.table["flag"]].tolist() == [2, 5]
    assert other.project.is_dirty()


def test_autosave_timer_saves_within_seconds(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    panel = open_example(qtbot, window)
    path = tmp_path / "t.drugdesk"
    save_as(qtbot, window, path)
    window.project.timer.setInterval(100)
    panel.set_marks("flag", [1], [True])
    qtbot.waitUntil(lambda: not window.project.is_dirty(), timeout=10_000)
    window.project.writer.wait_idle(10)
    assert read_project(path).libraries[0].library.table.at[1, "flag"]


def test_closing_the_window_saves_pending_edits(qtbot, make_window, tmp_path):
    window = make_window()
    panel = open_example(qtbot, window)
    path = tmp_path / "c.drugdesk"
    save_as(qtbot, window, path)
    window.project.timer.stop()
    panel.set_marks("notes", [3], ["last edit"])
    window.close()
    assert read_project(path).libraries[0].library.table.at[3, "notes"] == "last edit"


def test_a_full_disk_is_reported_and_the_last_save_survives(qtbot, make_window, tmp_path):
    window = make_window()
    panel = open_example(qtbot, window)
    path = tmp_path / "full.drugdesk"
    save_as(qtbot, window, path)
    session = window.project
    session.timer.stop()
    connection = session.store._connection
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count={pages}")
    panel.add_columns(
        pd.DataFrame({"big": ["x" * 100_000 + str(i) for i in range(panel.library.n_records)]})
    )
    panel.set_marks("flag", [0], [True])
    with qtbot.waitSignal(session.save_failed, timeout=30_000) as failure:
        assert session.autosave()
    assert "disk is full" in failure.args[0]
    assert "Autosave failed" in window.notifications.text()
    assert session.is_dirty()  # kept for the next try
    stored = read_project(path).libraries[0].library.table
    assert "big" not in stored.columns and not stored["flag"].any()
    # Space again: the next autosave writes everything that was pending.
    connection.execute("PRAGMA max_page_count=1073741823")
    autosave(qtbot, window)
    assert "again" in window.notifications.text()
    stored = read_project(path).libraries[0].library.table
    assert "big" in stored.columns and stored.at[0, "flag"]


def test_bad_project_files_and_folders_are_reported(qtbot, make_window, tmp_path):
    window = make_window()
    open_example(qtbot, window)
    not_project = tmp_path / "library.drugdesk"
    not_project.write_text("CCO ethanol\n" * 100)
    handle = window.project.open_project(not_project)
    with qtbot.waitSignal(handle.failed, timeout=30_000):
        pass
    assert "not a DrugDesk project" in window.notifications.text()
    assert len(window.libraries.library_panels()) == 1  # the open tabs stay
    handle = window.project.save_as(tmp_path / "missing" / "p.drugdesk")
    with qtbot.waitSignal(handle.failed, timeout=30_000):
        pass
    assert "does not exist" in window.notifications.text()
    assert window.project.path is None


def test_new_project_starts_empty_and_collects_opened_libraries(qtbot, make_window, tmp_path):
    window = make_window()
    open_example(qtbot, window)
    path = tmp_path / "new.drugdesk"
    assert window.project.new_project(path)
    assert window.libraries.library_panels() == []
    panel = open_example(qtbot, window)
    panel.set_marks("flag", [0], [True])
    autosave(qtbot, window)
    (stored,) = read_project(path).libraries
    assert stored.library.table.at[0, "flag"]
    assert stored.library.n_records == panel.library.n_records


def test_the_project_menu_asks_for_a_file_and_adds_the_suffix(
    qtbot, make_window, tmp_path, monkeypatch
):
    """File > New project and Save project as… take the name typed in the dialog, with
    .drugdesk added when it has no suffix; Open project… opens the file chosen."""
    window = make_window()
    asked = []

    def fake_dialog(parent, caption, folder, file_filter):
        asked.append(caption)
        return str(tmp_path / ("hits" if len(asked) == 1 else "copy")), file_filter

    monkeypatch.setattr("app.project_session.QFileDialog.getSaveFileName", fake_dialog)
    monkeypatch.setattr("app.project_session.QFileDialog.getOpenFileName", fake_dialog)
    actions = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    actions["New &project…"].trigger()
    assert window.project.path == tmp_path / "hits.drugdesk"
    open_example(qtbot, window)
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        actions["&Save project as…"].trigger()
    assert window.project.path == tmp_path / "copy.drugdesk"
    monkeypatch.setattr(
        "app.project_session.QFileDialog.getOpenFileName",
        lambda *args: (str(tmp_path / "hits.drugdesk"), ""),
    )
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        actions["Open pro&ject…"].trigger()
    assert window.project.path == tmp_path / "hits.drugdesk"
    assert asked == ["New project", "Save project as"]


def _returns(value, *, progress, is_cancelled):
    return value


def _raises(*, progress, is_cancelled):
    raise ValueError("another panel's job went wrong")


def _waits(event, *, progress, is_cancelled):
    event.wait(30)


def test_the_project_session_hears_only_of_its_own_job(qtbot, make_window, tmp_path, monkeypatch):
    """Other jobs ending, even with a project's contents as their result, neither open a
    project nor end the session's own job; its job's handle is dropped when it ends."""
    import app.project_session as session_module
    from core.jobs import LONG_LANE

    window = make_window()
    open_example(qtbot, window)
    path = tmp_path / "hits.drugdesk"
    save_as(qtbot, window, path)
    contents = read_project(path)
    window.project.detach()
    window.libraries.close_all_tabs()
    go_on = threading.Event()

    def held_read(project_path):  # the read waits until the test says so
        go_on.wait(30)
        return read_project(project_path)

    monkeypatch.setattr(session_module, "read_project", held_read)
    handle = window.project.open_project(path)
    assert handle is not None and window.project._job is handle
    # Jobs of other panels end first (the read holds the main lane; these run in the long one).
    finished = window.engine.submit(_returns, contents, title="Other contents", lane=LONG_LANE)
    failed = window.engine.submit(_raises, title="Other failure", lane=LONG_LANE)
    qtbot.waitUntil(lambda: finished.is_done() and failed.is_done(), timeout=10_000)
    assert window.libraries.library_panels() == [] and window.project.path is None
    assert "went wrong" not in window.notifications.text()
    assert window.project.open_project(path) is None  # its own job still runs
    assert "being opened or saved" in window.notifications.text()
    with qtbot.waitSignal(handle.finished, timeout=30_000):
        go_on.set()
    assert window.project._job is None and window.project.path == path
    assert len(window.libraries.library_panels()) == 1


def test_a_cancelled_save_as_keeps_everything_for_the_next_save(qtbot, make_window, tmp_path):
    window = make_window()
    open_example(qtbot, window)
    path = tmp_path / "hits.drugdesk"
    save_as(qtbot, window, path)
    assert not window.project.is_dirty()
    go_on = threading.Event()
    blocker = window.engine.submit(_waits, go_on, title="Holds the main lane")
    handle = window.project.save_as(tmp_path / "other.drugdesk")
    with qtbot.waitSignal(handle.cancelled, timeout=30_000):
        handle.cancel()  # still queued behind the other job: it never starts
    go_on.set()
    qtbot.waitUntil(blocker.is_done, timeout=10_000)
    assert window.project._job is None and window.project.path == path
    assert window.project.is_dirty() and window.project.timer.isActive()
    assert not (tmp_path / "other.drugdesk").exists()
