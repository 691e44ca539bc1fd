"""The project session keeps the work areas (issue 17, part 1): a changed area is autosaved,
reopening gives its state back (at once when it is built, else when the user first opens it), an
area not opened since is carried into Save as, and an area that cannot restore does not stop the
project opening."""

from __future__ import annotations

import pandas as pd
from PySide6.QtCore import QObject, Signal

from app.areas import AREAS
from core.project.areas import AreaSnapshot
from core.project.store import read_project


class NotebookArea(QObject):
    """A stand-in work area: a dict of choices and one table."""

    state_changed = Signal()
    state_key = "notebook"

    def __init__(self, fail_restore: bool = False) -> None:
        super().__init__()
        self.choices: dict = {}
        self.table: pd.DataFrame | None = None
        self.restored: list = []
        self.fail_restore = fail_restore

    def edit(self, **choices) -> None:
        self.choices.update(choices)
        self.state_changed.emit()

    def area_state(self) -> AreaSnapshot:
        tables = {} if self.table is None else {"results": self.table.copy()}
        return AreaSnapshot(state=dict(self.choices), tables=tables)

    def restore_area_state(self, stored) -> list[str]:
        self.restored.append(stored)
        if self.fail_restore:
            raise RuntimeError("broken area")
        if stored is None:
            self.choices, self.table = {}, None
            return []
        self.choices = dict(stored.state)
        self.table = stored.tables.get("results")
        self.state_changed.emit()  # as a real area does while it rebuilds its widgets
        return ["the file /data/old.csv is no longer there"] if "lost" in self.choices else []


def save_as(qtbot, window, path):
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        assert window.project.save_as(path) is not None


def open_project(qtbot, window, path):
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        window.project.open_project(path)
    qtbot.waitUntil(lambda: window.project.path == path, timeout=30_000)


def test_area_changes_are_autosaved_and_restored_when_the_area_is_built(
    qtbot, make_window, tmp_path
):
    window = make_window()
    area = NotebookArea()
    window.project.attach_area("notebook", area)
    path = tmp_path / "campaign.drugdesk"
    save_as(qtbot, window, path)
    assert not window.project.is_dirty()
    area.table = pd.DataFrame({"padj": [0.01, 0.2]}, index=pd.Index(["FTL", "TP53"], name="gene"))
    area.edit(genes=["FTL"], alpha=0.05)
    assert window.project.is_dirty()
    with qtbot.waitSignal(window.project.saved, timeout=30_000):
        assert window.project.autosave()
    assert not window.project.is_dirty()
    stored = read_project(path).areas["notebook"]
    assert stored.state == {"genes": ["FTL"], "alpha": 0.05}
    assert list(stored.tables["results"].index) == ["FTL", "TP53"]

    # A second window: the area is not built yet when the project opens.
    other = make_window()
    open_project(qtbot, other, path)
    assert "notebook" in other.project._pending_areas
    again = NotebookArea()
    problems = other.project.attach_area("notebook", again)
    assert problems == []
    assert again.choices == {"genes": ["FTL"], "alpha": 0.05}
    pd.testing.assert_frame_equal(again.table, area.table)
    assert not other.project.is_dirty()  # restoring is not a change to save


def test_an_area_not_opened_since_is_carried_into_save_as(qtbot, make_window, tmp_path):
    window = make_window()
    area = NotebookArea()
    window.project.attach_area("notebook", area)
    first = tmp_path / "first.drugdesk"
    save_as(qtbot, window, first)
    area.edit(trial="design A")
    window.project.flush()

    other = make_window()
    open_project(qtbot, other, first)
    second = tmp_path / "second.drugdesk"
    save_as(qtbot, other, second)  # the notebook area was never built in this window
    assert read_project(second).areas["notebook"].state == {"trial": "design A"}


def test_built_areas_are_restored_on_open_and_cleared_by_new_project(qtbot, make_window, tmp_path):
    window = make_window()
    area = NotebookArea()
    window.project.attach_area("notebook", area)
    path = tmp_path / "p.drugdesk"
    save_as(qtbot, window, path)
    area.edit(genes=["FTL"], lost=True)
    window.project.flush()
    area.choices = {"scratch": 1}  # edited after the save, then the project is opened again
    open_project(qtbot, window, path)
    assert area.choices == {"genes": ["FTL"], "lost": True}
    # A project holding more than libraries opens on its Campaign overview.
    assert AREAS[window.area_list.currentRow()].key == "campaign"
    assert any("no longer there" in message for message in _messages(window))
    window.project.new_project(tmp_path / "new.drugdesk")
    assert area.restored[-1] is None and area.choices == {}


def test_an_area_that_cannot_restore_does_not_stop_the_project(qtbot, make_window, tmp_path):
    window = make_window()
    window.project.attach_area("notebook", NotebookArea())
    window.project._areas["notebook"].edit(x=1)
    path = tmp_path / "p.drugdesk"
    save_as(qtbot, window, path)

    other = make_window()
    broken = NotebookArea(fail_restore=True)
    other.project.attach_area("notebook", broken)
    open_project(qtbot, other, path)
    assert other.project.path == path
    assert any("could not be restored" in message for message in _messages(other))


def _messages(window) -> list[str]:
    return [window.notifications.text()]


def test_the_campaign_overview_counts_a_library_that_loads_while_it_is_shown(qtbot, make_window):
    from resources import resource_path

    window = make_window()
    overview = window.show_area("campaign")
    molecules = overview.cards[3]
    assert not molecules.step.started
    window.open_library(resource_path("demo/example_library.smi"), remember=False)
    window.show_area("campaign")  # the file loads in the background while Campaign is shown
    qtbot.waitUntil(lambda: overview.cards[3].step.started, timeout=60_000)
    assert overview.cards[3].step.lines[0] == "1 library, 30 molecules (28 valid)"


def test_the_campaign_counts_take_an_area_state_again_only_after_it_changed(main_window):
    taken = []

    class CountedArea(NotebookArea):
        def area_state(self) -> AreaSnapshot:
            taken.append(1)
            return super().area_state()

    area = CountedArea()
    main_window.project.attach_area("notebook", area)
    area.edit(genes=["FTL"])
    for _ in range(3):  # a library loading asks for the counts again and again
        _, areas = main_window.project.campaign_inputs()
    assert len(taken) == 1 and areas["notebook"].state == {"genes": ["FTL"]}
    area.edit(genes=["FTL", "TP53"])
    _, areas = main_window.project.campaign_inputs()
    assert len(taken) == 2 and areas["notebook"].state == {"genes": ["FTL", "TP53"]}
    replacement = CountedArea()
    replacement.choices = {"genes": ["MYC"]}
    main_window.project.attach_area("notebook", replacement)  # a new area object, same key
    _, areas = main_window.project.campaign_inputs()
    assert areas["notebook"].state == {"genes": ["MYC"]}
