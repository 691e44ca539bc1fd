"""The window's open project: which file, which library tabs and work areas belong to it, and
autosave.

The tabs are the Libraries area's (``ui.library.area.LibrariesArea``); the other areas (Models,
Proteins, Expression, Trials) are kept through :class:`ui.workbench.KeepsState`: each gives a
snapshot when it changed and gets back what the project stored. An area is built the first
time the user opens it, so a stored area waits here until then (and is saved as stored). The
window tells the user what happened (errors, notifications) and keeps File > Open recent.

Autosave runs every few seconds when something changed. Flags, tags, notes, titles and profiles
are cheap to save; a library's table is written only when its rows or columns changed. The
snapshot is taken on the GUI thread (a cheap copy) and written by a
:class:`~core.project.writer.ProjectWriter` thread, so the window never waits for the disk.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog

from core.campaign import AreaRecord, LibrarySummary
from core.hitlist.desirability import DesirabilityProfile, ProfileError
from core.project.areas import AreaSnapshot, StoredArea
from core.project.store import (
    PROJECT_SUFFIX,
    ProjectContents,
    ProjectError,
    ProjectState,
    ProjectStore,
    library_state,
    read_project,
    save_project_as,
)
from core.project.writer import ProjectWriter

if TYPE_CHECKING:
    from ui.jobs.handle import JobHandle
    from ui.library.area import LibrariesArea
    from ui.library.panel import LibraryPanel
    from ui.workbench import KeepsState

log = logging.getLogger(__name__)

AUTOSAVE_MS = 3000
PROJECT_FILTER = f"DrugDesk projects (*{PROJECT_SUFFIX});;All files (*)"


def _with_project_suffix(path: str) -> Path:
    path = Path(path)
    return path if path.suffix else path.with_suffix(PROJECT_SUFFIX)


def _save_as_job(path: Path, state: ProjectState, progress, is_cancelled) -> Path:
    progress(-1.0, f"Writing {path.name}")
    return save_project_as(path, state)


def _read_job(path: Path, progress, is_cancelled) -> ProjectContents:
    progress(-1.0, f"Reading {path.name}")
    return read_project(path)


class ProjectSession(QObject):
    """Keeps the library tabs of a main window's Libraries area in a project file."""

    project_changed = Signal(object)  # Path of the open project, or None
    # What the project holds changed (a library loaded or edited, a tab closed, an area's work),
    # saved or not: the Campaign overview counts again.
    content_changed = Signal()
    saved = Signal(str)  # path, after each successful save
    save_failed = Signal(str)  # message
    _write_done = Signal(int, str)  # from the writer thread: ticket, error ("" when saved)

    def __init__(self, window, libraries: LibrariesArea) -> None:
        super().__init__(window)
        self.window = window
        self.libraries = libraries
        self.engine = window.engine
        self.path: Path | None = None
        self.store: ProjectStore | None = None
        self.writer: ProjectWriter | None = None
        self._uids: dict[LibraryPanel, str] = {}
        self._dirty_tables: set[str] = set()
        self._dirty_marks: set[str] = set()
        self._structure_dirty = False
        self._saved_profiles: dict[str, str] = {}
        self._in_flight: tuple[int, set[str], set[str], dict[str, str], set[str]] | None = None
        # Work areas: those built (and keeping state), stored ones not built yet, changed ones.
        self._areas: dict[str, KeepsState] = {}
        self._pending_areas: dict[str, StoredArea] = {}
        self._dirty_areas: set[str] = set()
        self._area_times: dict[str, str] = {}  # last state_changed of each built area (UTC)
        # The Campaign overview counts again after every change of the project (a library
        # loading changes it many times): each built area's state is taken again only when the
        # area said it changed (Expression's copies its matrix, up to 50 MB, on the GUI thread).
        self._area_versions: dict[str, int] = {}
        self._campaign_snapshots: dict[str, tuple[int, AreaSnapshot]] = {}
        self._tickets = 0
        self._failing = False
        # The project being opened or saved as, until its job ends (one at a time).
        self._job: JobHandle | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.autosave)
        self._write_done.connect(self._on_write_done)
        # Every tab the area opens is followed; the order and the current tab are saved too.
        libraries.tab_opened.connect(self.watch)
        libraries.tab_closed.connect(self.forget)
        libraries.tabs.tabBar().tabMoved.connect(self._on_structure_changed)
        libraries.tabs.currentChanged.connect(self._on_structure_changed)

    # ------------------------------------------------------------------------------------------
    # Tabs

    def watch(self, panel: LibraryPanel, uid: str | None = None) -> str:
        """Follow a library tab's changes (the area's ``tab_opened``: every new tab)."""
        uid = uid or uuid.uuid4().hex
        self._uids[panel] = uid
        panel.library_changed.connect(lambda p=panel: self._mark_table(p))
        panel.columns_changed.connect(lambda p=panel: self._mark_table(p))
        panel.rows_changed.connect(lambda p=panel: self._mark_table(p))
        panel.annotations_changed.connect(lambda p=panel: self._mark_marks(p))
        self._structure_dirty = True
        return uid

    def forget(self, panel: LibraryPanel) -> None:
        """A tab was closed: the next save removes its library from the project."""
        uid = self._uids.pop(panel, None)
        if uid is not None:
            self._dirty_tables.discard(uid)
            self._dirty_marks.discard(uid)
            self._structure_dirty = True
            self.content_changed.emit()

    def _mark_table(self, panel: LibraryPanel) -> None:
        uid = self._uids.get(panel)
        if uid is not None:
            self._dirty_tables.add(uid)
            self._dirty_marks.add(uid)  # the table may have grown or shrunk
            self.content_changed.emit()

    def _mark_marks(self, panel: LibraryPanel) -> None:
        uid = self._uids.get(panel)
        if uid is not None:
            self._dirty_marks.add(uid)
            self.content_changed.emit()

    def _on_structure_changed(self, *_args) -> None:
        self._structure_dirty = True

    # ------------------------------------------------------------------------------------------
    # Work areas

    def attach_area(self, key: str, area: object) -> list[str]:
        """Keep a work area the window has just built (no-op for one that keeps no state);
        a state the open project stored for it is restored now. Returns the restore's
        problems (also shown to the user)."""
        if not callable(getattr(area, "area_state", None)):
            return []
        self._areas[key] = area  # type: ignore[assignment]
        self._campaign_snapshots.pop(key, None)
        area.state_changed.connect(lambda *_args, k=key: self._area_changed(k))
        stored = self._pending_areas.pop(key, None)
        if stored is None:
            return []
        problems = self._restore_area(key, stored)
        if problems:
            self.window.notifications.show_message(
                f"{self.path.name if self.path else 'The project'}: " + "; ".join(problems),
                "warning",
            )
        return problems

    def _area_changed(self, key: str) -> None:
        self._area_versions[key] = self._area_versions.get(key, 0) + 1
        self._dirty_areas.add(key)
        self._area_times[key] = datetime.now(UTC).isoformat(timespec="seconds")
        self.content_changed.emit()

    def campaign_inputs(self) -> tuple[list[LibrarySummary], dict[str, AreaRecord]]:
        """What the Campaign overview and report read: the open libraries (with their
        profiles) and each area's kept state, live for built areas, as stored for the others."""
        libraries = [
            LibrarySummary(panel.title, panel.library.table, self._profile(panel))
            for panel in self.libraries.library_panels()
            if panel.library is not None
        ]
        areas = {
            key: AreaRecord(stored.state, stored.tables, stored.modified)
            for key, stored in self._pending_areas.items()
        }
        for key, area in self._areas.items():
            version = self._area_versions.get(key, 0)
            cached = self._campaign_snapshots.get(key)
            if cached is not None and cached[0] == version:
                snapshot = cached[1]
            else:
                try:
                    snapshot = area.area_state()
                except Exception:
                    log.exception("Could not take the %s area's state", key)
                    continue
                self._campaign_snapshots[key] = (version, snapshot)
            tables = {name: t for name, t in snapshot.tables.items() if t is not None}
            areas[key] = AreaRecord(snapshot.state, tables, self._area_times.get(key))
        return libraries, areas

    def _restore_area(self, key: str, stored: StoredArea | None) -> list[str]:
        area = self._areas[key]
        self._area_versions[key] = self._area_versions.get(key, 0) + 1  # even if it emits nothing
        try:
            problems = list(area.restore_area_state(stored))
        except Exception as error:  # an area's bug must not stop the project opening
            log.exception("Could not restore the %s area", key)
            problems = [f"the {key} area could not be restored ({type(error).__name__}: {error})"]
        self._dirty_areas.discard(key)  # what it emitted while restoring is what is stored
        if stored is not None:
            self._area_times[key] = stored.modified
        else:
            self._area_times.pop(key, None)
        return problems

    def _area_snapshots(self, full: bool) -> tuple[dict[str, AreaSnapshot | None], set[str]]:
        """What to save of the areas (``None``: unchanged) and which were taken."""
        snapshots: dict[str, AreaSnapshot | None] = {}
        taken = set()
        for key, area in self._areas.items():
            if full or key in self._dirty_areas:
                try:
                    snapshots[key] = area.area_state()
                except Exception:  # keep the stored state rather than lose the save
                    log.exception("Could not take the %s area's state", key)
                    snapshots[key] = None
                    continue
                taken.add(key)
            else:
                snapshots[key] = None
        for key, stored in self._pending_areas.items():
            snapshots[key] = (
                AreaSnapshot(state=stored.state, tables=dict(stored.tables), format=stored.format)
                if full
                else None
            )
        return snapshots, taken

    def _panels(self) -> list[LibraryPanel]:
        return [
            panel
            for panel in self.libraries.library_panels()
            if panel in self._uids and panel.library is not None
        ]

    @staticmethod
    def _profile(panel: LibraryPanel) -> dict | None:
        tools = panel.side_panel
        profile = getattr(tools, "profile", None)
        return profile.to_dict() if isinstance(profile, DesirabilityProfile) else None

    def _signature(self, panel: LibraryPanel) -> str:
        """What autosave compares to see whether a library's profile, sort or filters changed."""
        return json.dumps(
            {"profile": self._profile(panel), "view": panel.view_state()}, sort_keys=True
        )

    def _state(
        self, full: bool
    ) -> tuple[ProjectState, set[str], set[str], dict[str, str], set[str]]:
        """A snapshot to save: everything (``full``) or what changed since the last save."""
        libraries, tables, marks, profiles = [], set(), set(), {}
        current = self.libraries.current_panel()
        current_uid = ""
        for panel in self._panels():
            uid = self._uids[panel]
            if panel is current:
                current_uid = uid
            profile = self._profile(panel)
            profiles[uid] = self._signature(panel)
            with_table = full or uid in self._dirty_tables
            with_marks = full or uid in self._dirty_marks
            libraries.append(
                library_state(
                    uid,
                    panel.title,
                    panel.library,
                    profile,
                    {
                        "tooltip": self.libraries.tab_tooltip(panel),
                        "view": panel.view_state(),
                    },
                    with_table=with_table,
                    with_annotations=with_marks,
                )
            )
            if with_table:
                tables.add(uid)
            if with_marks:
                marks.add(uid)
        areas, taken = self._area_snapshots(full)
        state = ProjectState(libraries, {"current": current_uid}, areas)
        return state, tables, marks, profiles, taken

    def is_dirty(self) -> bool:
        if self.store is None:
            return False
        if self._structure_dirty or self._dirty_tables or self._dirty_marks or self._dirty_areas:
            return True
        return any(
            self._signature(panel) != self._saved_profiles.get(self._uids[panel])
            for panel in self._panels()
        )

    # ------------------------------------------------------------------------------------------
    # Autosave

    def autosave(self) -> bool:
        """Start a background save of what changed; False when nothing was started."""
        if self.store is None or self.writer is None or self._in_flight is not None:
            return False
        if not self.is_dirty():
            return False
        state, tables, marks, profiles, areas = self._state(full=False)
        # New to this file: the table must be written even if nothing changed since loading.
        self._tickets += 1
        self._in_flight = (self._tickets, tables, marks, profiles, areas)
        self._dirty_tables -= tables
        self._dirty_marks -= marks
        self._dirty_areas -= areas
        self._structure_dirty = False
        self.writer.submit(state, self._tickets)
        return True

    def _on_write_done(self, ticket: int, error: str) -> None:
        if self._in_flight is None or self._in_flight[0] != ticket:
            return
        _ticket, tables, marks, profiles, areas = self._in_flight
        self._in_flight = None
        if error:
            # Keep the changes for the next try; tell the user once, not every few seconds.
            self._dirty_tables |= tables
            self._dirty_marks |= marks
            self._dirty_areas |= areas
            self._structure_dirty = True
            if not self._failing:
                self._failing = True
                self.window.show_error(
                    f"Autosave failed. {error}. The project file still holds the last good save; "
                    "DrugDesk keeps trying. File > Save project as… saves elsewhere."
                )
            self.save_failed.emit(error)
            return
        self._saved_profiles.update(profiles)
        if self._failing:
            self._failing = False
            self.window.notifications.show_message(f"Saved {self.path.name} again.", "success")
        self.saved.emit(str(self.path))

    def flush(self, timeout: float = 60.0) -> bool:
        """Save everything pending now and wait for it (closing, switching projects)."""
        if self.store is None or self.writer is None:
            return True
        self.writer.wait_idle(timeout)
        self._deliver_pending()
        if self.autosave():
            self.writer.wait_idle(timeout)
            self._deliver_pending()
        return not self.is_dirty()

    def _deliver_pending(self) -> None:
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.sendPostedEvents(self)  # the queued _write_done of the writer thread

    # ------------------------------------------------------------------------------------------
    # File > New project, Open project, Save project as: the file asked for in a dialog

    def _start_folder(self) -> str:
        recent = self.window.settings.recent_files
        return str(Path(recent[0]).parent) if recent else ""

    def choose_new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "New project", self._start_folder(), PROJECT_FILTER
        )
        if path:
            self.new_project(_with_project_suffix(path))

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open project", self._start_folder(), PROJECT_FILTER
        )
        if path:
            self.open_project(path)

    def choose_save_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save project as", self._start_folder(), PROJECT_FILTER
        )
        if path:
            self.save_as(_with_project_suffix(path))

    # ------------------------------------------------------------------------------------------
    # Opening, creating, saving as

    def _attach(self, path: Path, store: ProjectStore) -> None:
        self.path = path
        self.store = store
        self.writer = ProjectWriter(store, self._write_done.emit)
        self._failing = False
        self.timer.start()
        self.project_changed.emit(path)

    def detach(self) -> None:
        """Save what is pending and close the project file (the tabs stay open)."""
        if self.store is None:
            return
        self.timer.stop()
        self.flush()
        if self.writer is not None:
            self.writer.stop()
        self.store.close()
        self.store = self.writer = None
        self.path = None
        self._in_flight = None
        self.project_changed.emit(None)

    def new_project(self, path: str | Path) -> bool:
        """Close the current project and its tabs; start an empty project at ``path``."""
        path = Path(path)
        self.detach()
        self.libraries.close_all_tabs()
        self._pending_areas.clear()
        problems = [line for key in self._areas for line in self._restore_area(key, None)]
        if problems:
            self.window.show_error("; ".join(problems))
        try:
            save_project_as(path, ProjectState())
            store = ProjectStore(path)
        except ProjectError as error:
            self.window.show_error(str(error))
            return False
        self._reset_tracking()
        self._attach(path, store)
        self._remember(path)
        self.window.notifications.show_message(
            f"New project {path.name}: libraries you open are saved in it automatically.",
            "success",
        )
        return True

    def save_as(self, path: str | Path) -> JobHandle | None:
        """Write every open library to ``path`` (in the engine), then keep saving there.
        Returns the job's handle (None when another project job is still running)."""
        path = Path(path)
        if self._busy():
            self.window.show_error("A project is being opened or saved; try again in a moment.")
            return None
        if self.writer is not None:
            self.writer.wait_idle(60.0)
            self._deliver_pending()
        state, _tables, _marks, profiles, _areas = self._state(full=True)
        self._dirty_tables.clear()
        self._dirty_marks.clear()
        self._dirty_areas.clear()
        self._structure_dirty = False
        self.timer.stop()
        handle = self.engine.submit(_save_as_job, path, state, title=f"Save project {path.name}")
        self._job = handle
        handle.finished.connect(partial(self._on_save_as_finished, handle, path, profiles))
        handle.failed.connect(partial(self._on_save_as_failed, handle))
        handle.cancelled.connect(partial(self._on_save_as_cancelled, handle))
        return handle

    def open_project(self, path: str | Path) -> JobHandle | None:
        """Read ``path`` in the engine; when read, its libraries replace the open tabs.
        Returns the job's handle (None when another project job is still running)."""
        path = Path(path)
        if self._busy():
            self.window.show_error("A project is being opened or saved; try again in a moment.")
            return None
        handle = self.engine.submit(_read_job, path, title=f"Open project {path.name}")
        self._job = handle
        handle.finished.connect(partial(self._on_open_finished, handle, path))
        handle.failed.connect(partial(self._on_open_failed, handle))
        handle.cancelled.connect(partial(self._end_job, handle))
        return handle

    def _busy(self) -> bool:
        return self._job is not None

    def _end_job(self, handle: JobHandle) -> bool:
        """``handle``'s job ended: drop it; False when it is not the session's job."""
        if handle is not self._job:
            return False
        self._job = None
        return True

    def _on_open_finished(self, handle: JobHandle, path: Path, result: object) -> None:
        if self._end_job(handle) and isinstance(result, ProjectContents):
            self._finish_open(path, result)

    def _on_open_failed(self, handle: JobHandle, message: str) -> None:
        if self._end_job(handle):
            self.window.show_error(f"{handle.title} failed: {message}")

    def _on_save_as_finished(
        self, handle: JobHandle, path: Path, profiles: dict[str, str], _result: object
    ) -> None:
        if self._end_job(handle):
            self._finish_save_as(path, profiles)

    def _on_save_as_failed(self, handle: JobHandle, message: str) -> None:
        if self._on_save_as_cancelled(handle):
            self.window.show_error(f"{handle.title} failed: {message}")

    def _on_save_as_cancelled(self, handle: JobHandle) -> bool:
        """Nothing was saved: what was pending is saved again by the next autosave."""
        if not self._end_job(handle):
            return False
        self._mark_everything_dirty()
        if self.store is not None:
            self.timer.start()
        return True

    def _finish_save_as(self, path: Path, profiles: dict[str, str]) -> None:
        old_path = self.path
        if self.store is not None:
            self.timer.stop()
            if self.writer is not None:
                self.writer.stop()
            self.store.close()
            self.store = self.writer = None
        try:
            store = ProjectStore(path)
        except ProjectError as error:
            self.window.show_error(str(error))
            self._mark_everything_dirty()
            return
        self._saved_profiles = dict(profiles)
        self._attach(path, store)
        self._remember(path)
        moved = f" (the previous project {old_path.name} is unchanged)" if old_path else ""
        self.window.notifications.show_message(
            f"Saved the project as {path}{moved}; changes are saved automatically.", "success"
        )

    def _finish_open(self, path: Path, contents: ProjectContents) -> None:
        self.detach()
        self.libraries.close_all_tabs()
        self._reset_tracking()
        current = None
        problems = []
        for stored in contents.libraries:
            panel = self.libraries.add_library_tab(
                stored.title, stored.library, stored.settings.get("tooltip", ""), uid=stored.uid
            )
            if stored.profile is not None and hasattr(panel.side_panel, "set_profile"):
                try:
                    panel.side_panel.set_profile(DesirabilityProfile.from_dict(stored.profile))
                except ProfileError as error:
                    problems.append(f"{stored.title}: profile not restored ({error})")
            view = stored.settings.get("view")
            if isinstance(view, dict):
                lost = panel.restore_view_state(view)
                if lost:
                    problems.append(f"{stored.title}: " + "; ".join(lost))
            self._saved_profiles[stored.uid] = self._signature(panel)
            if stored.uid == contents.settings.get("current"):
                current = panel
        if current is not None:
            self.libraries.show_panel(current)
        problems.extend(contents.problems)
        self._pending_areas = {
            key: stored for key, stored in contents.areas.items() if key not in self._areas
        }
        for key in self._areas:
            problems.extend(self._restore_area(key, contents.areas.get(key)))
        self._dirty_tables.clear()
        self._dirty_marks.clear()
        self._dirty_areas.clear()
        self._structure_dirty = False
        try:
            store = ProjectStore(path)
        except ProjectError as error:
            self.window.show_error(str(error))
            return
        self._attach(path, store)
        self._remember(path)
        kept = sorted(contents.areas)
        areas = f" and the {', '.join(kept)} area{'s' if len(kept) > 1 else ''}" if kept else ""
        text = f"Opened project {path.name}: {len(contents.libraries)} libraries{areas}."
        show_area = getattr(self.window, "show_area", None)
        if kept and show_area is not None:
            # A project that holds more than libraries opens on its Campaign overview: what it
            # holds at each step, one click from each area.
            show_area("campaign")
            text += " The Campaign overview shows what it holds at each step."
        if problems:
            self.window.notifications.show_message(text + " " + "; ".join(problems), "warning")
        else:
            self.window.notifications.show_message(text, "success")

    def _mark_everything_dirty(self) -> None:
        for panel in self._panels():
            self._dirty_tables.add(self._uids[panel])
            self._dirty_marks.add(self._uids[panel])
        self._dirty_areas.update(self._areas)
        self._structure_dirty = True

    def _reset_tracking(self) -> None:
        self._dirty_tables.clear()
        self._dirty_marks.clear()
        self._dirty_areas.clear()
        self._saved_profiles.clear()
        self._structure_dirty = True

    def _remember(self, path: Path) -> None:
        self.window.remember_file(path)

    def close(self) -> None:
        """Save what is pending and close the file (the window is closing)."""
        try:
            self.detach()
        except ProjectError as error:
            log.warning("Final project save failed: %s", error)


__all__ = ["AUTOSAVE_MS", "PROJECT_FILTER", "ProjectSession"]
