"""The Libraries area: a tab per compound library (or a start page when none is open).

It opens compound files (asking for the SMILES column of an ambiguous table), loads them in the
engine's long lane with a preview of a large file's first rows (``ui.library.loading``), closes
tabs (cancelling a load still running), exports the shown rows (``ui.library.export``), places
the hit-list tools beside each tab and says which library the user is looking at
(``ui.workbench.LibraryAccess``).

The window around it places it and wires its signals: project files and recent files go to the
project session and the File menu, rows the user opens go to the Molecule panel, and each tab's
undo stack joins the window's Edit menu.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.chem.library import Library, LoadOptions
from core.chem.library_edit import describe_molecule, empty_library
from core.chem.readers import (
    SUPPORTED_SUFFIXES,
    LibraryReadError,
    ReadOptions,
    detect_format,
    is_tabular,
)
from core.project.store import PROJECT_SUFFIX
from core.settings import Settings
from resources import resource_path
from ui.hitlist.tools import HitListTools
from ui.library.export import ask_export_path, start_export
from ui.library.loading import TabLoads, ask_read_options
from ui.library.panel import LibraryPanel
from ui.widgets.splitter_memory import restore_splitters, save_splitters
from ui.workbench import AreaContext

if TYPE_CHECKING:
    from ui.jobs.handle import JobHandle

log = logging.getLogger(__name__)

OPEN_FILTER = (
    "Compound files (" + " ".join(f"*{s}" for s in SUPPORTED_SUFFIXES) + ");;"
    "SMILES (*.smi *.smiles *.txt);;CSV/TSV (*.csv *.tsv);;SDF (*.sdf *.sd);;Excel (*.xlsx);;"
    "All files (*)"
)
EXAMPLE_LIBRARY = "demo/example_library.smi"


class LibrariesArea(QWidget):
    """The library tabs, the start page, and what opening, loading and exporting need."""

    # The library tab the user looks at changed: the new LibraryPanel or None.
    current_library_changed = Signal(object)
    tab_opened = Signal(object, object)  # the new LibraryPanel; its project uid or None
    tab_closed = Signal(object)  # a LibraryPanel about to be deleted
    # A row to show in the Molecule panel: SMILES, name, source (panel, position) or None.
    row_selected = Signal(str, str, object)  # the user clicked through the rows
    row_activated = Signal(str, str, object)  # double-click or Enter: open it over edits
    structure_saved = Signal(object)  # (panel, position) of a row saved by save_structure
    project_requested = Signal(object)  # Path of a project file given to open_library/open_files
    file_opened = Signal(object)  # Path of a library file opened (for File > Open recent)
    show_requested = Signal()  # a tab was opened: bring the area to the front
    notification = Signal(str, str)  # message, level ("success", "warning", "info")

    def __init__(
        self,
        context: AreaContext,
        settings: Callable[[], Settings],
        window_settings: Callable[[], QSettings],
        query_name: Callable[[], str] = lambda: "",
        parent: QWidget | None = None,
    ) -> None:
        """``settings`` returns the user's settings now (they change in Preferences);
        ``window_settings`` the store of splitter positions; ``query_name`` the name of the
        Molecule panel's structure, which the hit-list tools search with."""
        super().__init__(parent)
        self.engine = context.engine
        self.notifier = context.notifier
        self.molecules = context.molecules
        self.links = context.links  # into the other areas (a row placed in a pocket, in 3D)
        self._settings = settings
        self._window_settings = window_settings
        self._query_name = query_name
        self.loads = TabLoads(self.engine, self.holds, self)
        self.loads.loaded.connect(self._on_loaded)
        self.loads.failed.connect(self._on_load_failed)
        self.loads.cancelled.connect(self._on_load_cancelled)

        self.tabs = QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._on_current_tab_changed)
        self.start_page = _start_page(self.choose_library, self.open_example_library)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._create_actions()

    @property
    def settings(self) -> Settings:
        return self._settings()

    # ------------------------------------------------------------------------------------------
    # Construction

    def _create_actions(self) -> None:
        """The area's menu entries; the window places them in its File and View menus."""
        self.open_action = QAction("&Open library…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_library)
        self.example_action = QAction("Open &example library", self)
        self.example_action.triggered.connect(self.open_example_library)
        self.export_action = QAction("&Export shown rows…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self.choose_export)
        self.export_action.setEnabled(False)
        self.close_action = QAction("&Close library", self)
        self.close_action.setShortcut(QKeySequence.StandardKey.Close)
        self.close_action.triggered.connect(lambda: self.close_tab(self.tabs.currentIndex()))
        self.hit_list_action = QAction("&Hit-list tools", self)
        self.hit_list_action.setCheckable(True)
        self.hit_list_action.setChecked(True)
        self.hit_list_action.setShortcut(QKeySequence("Ctrl+Shift+H"))
        self.hit_list_action.toggled.connect(self._show_hit_list_tools)

    # ------------------------------------------------------------------------------------------
    # Opening libraries

    def _start_folder(self) -> str:
        recent = self.settings.recent_files
        return str(Path(recent[0]).parent) if recent else ""

    def choose_library(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open compound library", self._start_folder(), OPEN_FILTER
        )
        for path in paths:
            self.open_library(path)

    def open_example_library(self) -> None:
        self.open_library(resource_path(EXAMPLE_LIBRARY), remember=False)

    def open_library(
        self, path: str | Path, read_options: ReadOptions | None = None, remember: bool = True
    ) -> LibraryPanel | None:
        """Open a compound file in a new tab; the engine loads it. Menus, drops and the command
        line all come here (a project file is handed on through ``project_requested``).
        Returns the tab's panel, or None when nothing was started."""
        path = Path(path)
        if path.suffix.lower() == PROJECT_SUFFIX:
            self.project_requested.emit(path)
            return None
        try:
            detect_format(path)
            if read_options is None and is_tabular(path):
                read_options = ask_read_options(path, self)
                if read_options is None:
                    return None
        except LibraryReadError as exc:
            self.notifier.show_error(str(exc))
            return None
        except Exception as exc:  # a parser's own error on a broken file (openpyxl's XML…)
            log.info("Reading the start of %s failed", path, exc_info=True)  # the log file only
            self.notifier.show_error(f"Could not open {path.name}: {type(exc).__name__}: {exc}")
            return None
        settings = self.settings
        options = LoadOptions(
            read=read_options or ReadOptions(),
            standardize=settings.standardize_options(),
            workers=settings.load_workers,
        )
        panel = self._make_library_panel(path.name)
        index = self.tabs.addTab(panel, path.name)
        self.tabs.setTabToolTip(index, str(path))
        self.tabs.setCurrentIndex(index)
        self.stack.setCurrentWidget(self.tabs)
        self.show_requested.emit()
        self.loads.start(panel, path, options)
        if remember:
            self.file_opened.emit(path)
        return panel

    def accepts_files(self, files: Iterable[Path]) -> bool:
        """Whether any of ``files`` (dragged over the window) is a library or a project."""
        return any(f.suffix.lower() in (*SUPPORTED_SUFFIXES, PROJECT_SUFFIX) for f in files)

    def open_files(self, files: Iterable[Path]) -> None:
        """Open dropped files: libraries in tabs, a project through ``project_requested``."""
        for file in files:
            if file.suffix.lower() == PROJECT_SUFFIX:
                self.project_requested.emit(file)
            elif file.suffix.lower() in SUPPORTED_SUFFIXES:
                self.open_library(file)
            else:
                self.notifier.show_error(f"{file.name}: not a compound file DrugDesk can open.")

    # ------------------------------------------------------------------------------------------
    # Loading (each tab hears of its own load job only)

    def wait_for_loads(self, timeout_ms: int = 120_000) -> bool:
        """Process events until every library has loaded (for --screenshot and scripts)."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer, QThread

        def loading() -> bool:
            return any(panel.load_job is not None for panel in self.library_panels())

        timer = QElapsedTimer()
        timer.start()
        while loading() and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
            QThread.msleep(10)
        QCoreApplication.processEvents()
        return not loading()

    def _on_loaded(self, panel: LibraryPanel, result: Library) -> None:
        panel.set_library(result)
        self._update_actions()
        level = "warning" if result.n_invalid else "success"
        detail = (
            " Invalid records are kept and marked; filter them with 'Invalid only'."
            if result.n_invalid
            else ""
        )
        self.notification.emit(f"{panel.title}: {result.summary()}.{detail}", level)
        if panel is self.current_panel():
            self._on_current_row_changed(panel, panel.current_row())

    def _on_load_failed(self, panel: LibraryPanel, message: str) -> None:
        self._remove_panel(panel)
        self.notifier.show_error(f"Could not open {panel.title}: {message}")

    def _on_load_cancelled(self, panel: LibraryPanel) -> None:
        self._remove_panel(panel)
        self.notification.emit(f"Loading {panel.title} was cancelled.", "info")

    # ------------------------------------------------------------------------------------------
    # Tabs

    def current_panel(self) -> LibraryPanel | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, LibraryPanel) else None

    def current_library(self) -> LibraryPanel | None:
        """The library tab shown (``ui.workbench.LibraryAccess``)."""
        return self.current_panel()

    def library_panels(self) -> list[LibraryPanel]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def holds(self, panel: object) -> bool:
        """Whether ``panel`` is one of the open tabs."""
        return isinstance(panel, LibraryPanel) and self.tabs.indexOf(panel) >= 0

    def show_panel(self, panel: LibraryPanel) -> None:
        self.tabs.setCurrentWidget(panel)

    def tab_tooltip(self, panel: LibraryPanel) -> str:
        return self.tabs.tabToolTip(self.tabs.indexOf(panel))

    def _make_library_panel(self, title: str, uid: str | None = None) -> LibraryPanel:
        """A library tab with its hit-list tools beside the table."""
        settings = self.settings
        panel = LibraryPanel(title, (settings.structure_width, settings.structure_height))
        panel.current_row_changed.connect(partial(self._on_current_row_changed, panel))
        panel.row_activated.connect(partial(self._on_row_activated, panel))
        panel.row_link_requested.connect(partial(self._on_row_link_requested, panel))
        tools = HitListTools(
            panel, self.engine, self.molecules.current_smiles, query_name=self._query_name
        )
        tools.status_message.connect(self.notifier.show_status)
        panel.set_side_panel(tools)
        restore_splitters(panel, "library", self._window_settings())
        tools.setVisible(self.hit_list_action.isChecked())
        self.tab_opened.emit(panel, uid)
        return panel

    def new_library(self, title: str) -> LibraryPanel:
        """An empty library in a new tab, shown."""
        panel = self._make_library_panel(title)
        panel.set_library(empty_library())
        self.tabs.addTab(panel, title)
        self.tabs.setCurrentWidget(panel)
        self.stack.setCurrentWidget(self.tabs)
        self.show_requested.emit()
        self._update_actions()
        return panel

    def add_library_tab(
        self, title: str, library: Library, tooltip: str = "", uid: str | None = None
    ) -> LibraryPanel:
        """A tab showing an already loaded library (a project's); ``uid`` names it in the project."""
        panel = self._make_library_panel(title, uid)
        panel.set_library(library)
        index = self.tabs.addTab(panel, title)
        if tooltip:
            self.tabs.setTabToolTip(index, tooltip)
        self.stack.setCurrentWidget(self.tabs)
        self._update_actions()
        return panel

    def _remove_panel(self, panel: LibraryPanel) -> None:
        self.tab_closed.emit(panel)
        if isinstance(panel.side_panel, HitListTools):
            panel.side_panel.shutdown()
        panel.model.shutdown(wait=False)  # its sort/filter thread (tables over 20,000 rows)
        index = self.tabs.indexOf(panel)
        if index >= 0:
            self.tabs.removeTab(index)
        panel.deleteLater()
        self._update_actions()

    def close_tab(self, index: int) -> None:
        panel = self.tabs.widget(index)
        if not isinstance(panel, LibraryPanel):
            return
        self.loads.forget(panel)  # its load's news is no longer wanted
        self._remove_panel(panel)

    def close_all_tabs(self) -> None:
        for index in reversed(range(self.tabs.count())):
            self.close_tab(index)

    def _update_actions(self) -> None:
        panel = self.current_panel()
        self.export_action.setEnabled(panel is not None and not panel.is_loading())
        if self.tabs.count() == 0:
            self.stack.setCurrentWidget(self.start_page)

    def _show_hit_list_tools(self, shown: bool) -> None:
        for panel in self.library_panels():
            if panel.side_panel is not None:
                panel.side_panel.setVisible(shown)

    def _on_current_tab_changed(self, _index: int) -> None:
        self._update_actions()
        panel = self.current_panel()
        self.current_library_changed.emit(panel)
        if panel is not None:
            self._on_current_row_changed(panel, panel.current_row())

    # ------------------------------------------------------------------------------------------
    # Rows and the Molecule panel

    def _on_current_row_changed(self, panel: LibraryPanel, row: dict | None) -> None:
        """Clicking through the current tab's rows shows each in the Molecule panel (the window
        keeps a structure with unsaved edits)."""
        if row is None or panel is not self.current_panel():
            return
        self.row_selected.emit(*_molecule_of(row), _source(panel, panel.current_position()))

    def _on_row_activated(self, panel: LibraryPanel, position: int, row: dict) -> None:
        """Double-click (or Enter) opens the row even over unsaved edits (undoable)."""
        self.row_activated.emit(*_molecule_of(row), _source(panel, position))

    def _on_row_link_requested(
        self, panel: LibraryPanel, link: str, position: int, row: dict
    ) -> None:
        """A row's menu link: "pocket" places it in Proteins, "3d" shows its conformers,
        "explain:<column>" explains the column's prediction with the model that made it."""
        smiles, name = _molecule_of(row)
        if not smiles:
            self.notifier.show_error("This row has no structure to place or show in 3D.")
            return
        if self.links is None:
            self.notifier.show_error("Proteins and the 3D view are not reachable from here.")
            return
        if link == "pocket":
            self.links.place_in_pocket(smiles, name)
        elif link == "3d":
            # The row stays the Molecule panel's source: saving there updates it.
            self.links.show_in_3d(smiles, name, _source(panel, position))
        elif link.startswith("explain:") and panel.library is not None:
            from ui.models_area.prediction_notes import predicted_by

            column = link.split(":", 1)[1]
            source = predicted_by(panel.library.column_notes.get(column))
            if source is None:
                self.notifier.show_error(f"No model is known to have predicted '{column}'.")
                return
            target, model = source
            self.links.explain_prediction(smiles, name, model, target)

    def find_similar(self, smiles: str, name: str = "") -> bool:
        """Search the current library for molecules similar to ``smiles`` (named ``name``) with
        its hit-list tools' Find tab, shown; False when no library is open and loaded."""
        panel = self.current_panel()
        if panel is None or panel.library is None or not isinstance(panel.side_panel, HitListTools):
            return False
        self.hit_list_action.setChecked(True)
        panel.side_panel.find_similar_to(smiles, name)
        return True

    def save_structure(
        self, smiles: str, name: str, source: object = None, as_new: bool = False
    ) -> tuple[LibraryPanel, int]:
        """Save a structure drawn in the Molecule panel: over its ``source`` row (panel,
        position) when that tab is still open and not ``as_new``, else as a new row of the
        current library (or of a new one). One undoable step in that tab; returns (panel,
        position) of the row, also told through ``structure_saved``."""
        target: LibraryPanel | None = None
        position: int | None = None
        if not as_new and source is not None:
            panel, source_position = source
            if self.holds(panel) and panel.library is not None:
                target, position = panel, source_position
        if target is None:
            target = self.current_panel()
            if target is None or target.library is None:
                target = self.new_library("New library")
        name = name or f"mol{target.library.n_records + 1}"
        values = describe_molecule(smiles, name, self.settings.standardize_options())
        target.save_row(position, values)
        saved_position = position if position is not None else target.library.n_records - 1
        self.structure_saved.emit((target, saved_position))
        self.tabs.setCurrentWidget(target)
        verb = "Updated" if position is not None else "Added"
        if values["valid"]:
            self.notification.emit(
                f"{verb} {name} in {target.title} (Edit > Undo reverts it).", "success"
            )
        else:
            self.notification.emit(
                f"{verb} {name} in {target.title}, marked invalid: {values['error']}", "warning"
            )
        return target, saved_position

    # ------------------------------------------------------------------------------------------
    # Export

    def choose_export(self) -> None:
        panel = self.current_panel()
        if panel is not None and panel.library is not None:
            path = ask_export_path(self, panel, self._start_folder())
            if path:
                self.export_current(path)

    def export_current(self, path: str | Path) -> JobHandle | None:
        """Write the current table's shown rows, in the shown order, to ``path`` in the engine:
        .csv/.tsv/.sdf, .xlsx with structure pictures, or an .html hit-list report with the
        profile and the models used. Returns the job's handle (None when nothing was started)."""
        panel = self.current_panel()
        if panel is None or panel.library is None:
            self.notifier.show_error("Nothing to export: open a library first.")
            return None
        path = Path(path)
        try:
            handle, n_rows = start_export(self.engine, panel, path)
        except ValueError as exc:
            self.notifier.show_error(str(exc))
            return None
        done = f"Exported {n_rows:,} rows to {path}."
        handle.finished.connect(lambda _result: self.notification.emit(done, "success"))
        handle.failed.connect(
            lambda message: self.notifier.show_error(f"Export {path.name} failed: {message}")
        )
        self.notifier.show_status(f"Exporting {n_rows:,} rows to {path.name}…", 5000)
        return handle

    # ------------------------------------------------------------------------------------------
    # Closing

    def save_splitters(self, settings: QSettings) -> None:
        """Remember the current tab's splitter (table | hit-list tools) for the next tabs."""
        panel = self.current_panel()
        if panel is not None:
            save_splitters(panel, "library", settings)

    def shutdown(self) -> None:
        """The window is closing: end every tab's sort/filter thread."""
        for panel in self.library_panels():
            panel.model.shutdown()


def _start_page(open_library: Callable[[], None], open_example: Callable[[], None]) -> QWidget:
    """What the area shows while no library is open: how to open one, and two buttons."""
    page = QWidget()
    title = QLabel("<h1>DrugDesk</h1>")
    title.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text = QLabel(
        "Open a compound library (SMILES, CSV/TSV, SDF or Excel) with File > Open library, "
        "or drop a file on this window."
    )
    text.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text.setWordWrap(True)
    open_button = QPushButton("Open library…")
    open_button.clicked.connect(open_library)
    example_button = QPushButton("Open example library")
    example_button.clicked.connect(open_example)
    layout = QVBoxLayout(page)
    layout.addStretch(1)
    layout.addWidget(title)
    layout.addWidget(text)
    for button in (open_button, example_button):
        button.setMinimumWidth(220)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addStretch(2)
    return page


def _molecule_of(row: dict) -> tuple[str, str]:
    """SMILES and name of a library row, for the Molecule panel."""
    smiles = row.get("canonical_smiles") or row.get("smiles") or ""
    return str(smiles), str(row.get("name", ""))


def _source(panel: LibraryPanel, position: int | None) -> tuple[LibraryPanel, int] | None:
    return (panel, position) if position is not None else None
