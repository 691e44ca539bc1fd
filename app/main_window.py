"""The main window: places the panels, owns the menus, and loads and exports libraries."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import shiboken6
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoGroup,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.areas import AREAS, Area
from app.engine import InferenceEngine
from app.project_session import PROJECT_FILTER, ProjectSession
from core.chem.library import Library, LoadOptions, load_library
from core.chem.library_edit import describe_molecule, empty_library
from core.chem.readers import (
    SUPPORTED_SUFFIXES,
    LibraryReadError,
    ReadOptions,
    detect_format,
    is_tabular,
    preview_table,
)
from core.jobs import LONG_LANE
from core.paths import config_dir, data_dir, log_dir
from core.project.store import PROJECT_SUFFIX
from core.settings import Settings
from resources import resource_path
from ui.dialogs.about import AboutDialog
from ui.dialogs.column_picker import ColumnPickerDialog
from ui.dialogs.preferences import PreferencesDialog
from ui.hitlist.tools import HitListTools
from ui.jobs.handle import JobHandle
from ui.jobs.panel import JobsIndicator, JobsPanel
from ui.library.panel import LibraryPanel
from ui.molecules.workspace import MoleculeWorkspace
from ui.widgets.notification_bar import NotificationBar
from ui.widgets.screen_fit import ScreenFit, initial_size, size_by_current_page
from ui.widgets.splitter_memory import restore_splitters, save_splitters
from ui.workbench import AreaContext

log = logging.getLogger(__name__)

OPEN_FILTER = (
    "Compound files (" + " ".join(f"*{s}" for s in SUPPORTED_SUFFIXES) + ");;"
    "SMILES (*.smi *.smiles *.txt);;CSV/TSV (*.csv *.tsv);;SDF (*.sdf *.sd);;Excel (*.xlsx);;"
    "All files (*)"
)
EXPORT_FILTER = (
    "CSV (*.csv);;SDF with tags (*.sdf);;Excel workbook with structures (*.xlsx);;"
    "HTML report (*.html);;TSV (*.tsv)"
)
EXAMPLE_LIBRARY = "demo/example_library.smi"
CHEMISTRY_AREAS = ("libraries", "models", "proteins")
# Below this available height (logical pixels) the Jobs panel starts hidden.
SHORT_SCREEN_HEIGHT = 900


class MainWindow(QMainWindow):
    # The library tab the user looks at changed (for other areas: ui.workbench.LibraryAccess).
    current_library_changed = Signal(object)

    def __init__(self, settings: Settings, engine: InferenceEngine) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine
        self.setWindowTitle("DrugDesk")
        self.resize(initial_size(self))
        self.setAcceptDrops(True)
        self._about: AboutDialog | None = None
        # Edit > Undo acts on the panel being worked in: the editor or the focused library.
        self.undo_group = QUndoGroup(self)

        # Central area: notification strip above the library tabs (or the start page).
        self.notifications = NotificationBar()
        self.tabs = QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._on_current_tab_changed)
        self.start_page = self._make_start_page()
        self.central_stack = QStackedWidget()
        self.central_stack.addWidget(self.start_page)
        self.central_stack.addWidget(self.tabs)
        # Work areas (libraries, models, proteins, …) in a sidebar; each is built on first use.
        self.area_stack = QStackedWidget()
        size_by_current_page(self.area_stack)
        self.area_stack.addWidget(self.central_stack)
        self._area_widgets: dict[str, QWidget] = {"libraries": self.central_stack}
        self.area_list = QListWidget()
        self.area_list.setObjectName("areaList")
        self.area_list.setFixedWidth(112)
        self.area_list.setSpacing(2)
        for area in AREAS:
            item = QListWidgetItem(area.title)
            item.setToolTip(area.tooltip)
            item.setData(Qt.ItemDataRole.UserRole, area.key)
            item.setSizeHint(QSize(100, 34))
            self.area_list.addItem(item)
        self.area_list.setCurrentRow(0)
        self.area_list.currentRowChanged.connect(self._on_area_changed)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(4, 4, 4, 0)
        central_layout.addWidget(self.notifications)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.area_list)
        body.addWidget(self.area_stack, 1)
        central_layout.addLayout(body, 1)
        self.setCentralWidget(central)

        # Docks: each panel owns its widgets; the window only places them.
        self.molecule_workspace = MoleculeWorkspace(engine)
        self.molecule_workspace.save_requested.connect(self.save_molecule)
        self.molecule_workspace.status_message.connect(
            lambda text: self.statusBar().showMessage(text, 8000)
        )
        self.undo_group.addStack(self.molecule_workspace.editor.undo_stack)
        self.molecule_dock = self._add_dock(
            "Molecule",
            "moleculeDock",
            self.molecule_workspace,
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self.jobs_panel = JobsPanel(engine)
        self.jobs_dock = self._add_dock(
            "Jobs", "jobsDock", self.jobs_panel, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        # A quarter of the window for the Molecule panel (at least what its editor needs, at
        # most 560 px): on a 1366-pixel laptop the table and the area panels keep the room.
        dock_width = max(300, min(560, self.width() // 4))
        self.resizeDocks([self.molecule_dock], [dock_width], Qt.Orientation.Horizontal)
        self.resizeDocks([self.jobs_dock], [110], Qt.Orientation.Vertical)

        self.jobs_indicator = JobsIndicator(engine)
        self.jobs_indicator.clicked.connect(self._show_jobs)
        self.statusBar().addPermanentWidget(self.jobs_indicator)
        self.statusBar().showMessage("Ready", 3000)

        # The open project file (File > New/Open/Save project) and its autosave.
        self.project = ProjectSession(self)
        self.project.project_changed.connect(self._on_project_changed)
        self._create_menus()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)
        engine.device_changed.connect(self._on_device_changed)
        self._restore_geometry()
        # Never larger than the screen: not at start, not from a geometry saved on a bigger
        # monitor, not when a panel's layout asks for more room.
        self.screen_fit = ScreenFit(self)

    # ------------------------------------------------------------------------------------------
    # Construction

    def _make_start_page(self) -> QWidget:
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
        open_button.clicked.connect(self.choose_library)
        example_button = QPushButton("Open example library")
        example_button.clicked.connect(self.open_example_library)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(text)
        for button in (open_button, example_button):
            button.setMinimumWidth(220)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    # ------------------------------------------------------------------------------------------
    # Work areas

    def show_area(self, key: str) -> QWidget:
        """Bring the area ``key`` to the front (building it on first use) and return its widget."""
        keys = [area.key for area in AREAS]
        row = keys.index(key)
        if self.area_list.currentRow() != row:
            self.area_list.setCurrentRow(row)  # calls _on_area_changed
        return self._area_widgets[key]

    def area_widget(self, key: str) -> QWidget | None:
        """The area's widget if it has been built, else ``None``."""
        return self._area_widgets.get(key)

    def _on_area_changed(self, row: int) -> None:
        if row < 0:
            return
        area = AREAS[row]
        widget = self._area_widgets.get(area.key)
        if widget is None:
            widget = self._build_area(area)
            self._area_widgets[area.key] = widget
            restore_splitters(widget, area.key, self._qsettings())
            self.area_stack.addWidget(widget)
            placed = getattr(widget, "placed_molecule_changed", None)
            if placed is not None:
                placed.connect(lambda _placed: self._update_molecule_dock())
        self.area_stack.setCurrentWidget(widget)
        self._update_molecule_dock()

    def _molecule_dock_wanted(self) -> bool:
        """The Molecule panel serves the chemistry areas; Proteins only while a molecule is
        placed in the view (the 3D view gets the width otherwise); expression and trials never."""
        row = self.area_list.currentRow()
        key = AREAS[row].key if row >= 0 else "libraries"
        if key == "proteins":
            widget = self._area_widgets.get(key)
            return bool(getattr(widget, "has_placed_molecule", lambda: False)())
        return key in CHEMISTRY_AREAS

    def _update_molecule_dock(self) -> None:
        # Only a dock the area hid is shown again: one the user closed stays closed.
        wanted = self._molecule_dock_wanted()
        if not wanted and self.molecule_dock.isVisible():
            self._molecule_dock_hidden_by_area = True
            self.molecule_dock.hide()
        elif wanted and getattr(self, "_molecule_dock_hidden_by_area", False):
            self._molecule_dock_hidden_by_area = False
            self.molecule_dock.show()

    def _build_area(self, area: Area) -> QWidget:
        try:
            return area.factory(self)
        except Exception as error:  # a broken panel must not take the window down
            log.exception("Could not build the %s area", area.title)
            label = QLabel(
                f"<h3>{area.title} could not be opened</h3>"
                f"<p>{type(error).__name__}: {error}</p>"
                "<p>The other areas keep working. Details are in the log file "
                "(Help > Open log folder).</p>"
            )
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label

    def _add_dock(
        self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState need names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _create_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open library…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_library)
        file_menu.addAction(self.open_action)
        new_molecule = QAction("&New molecule", self)
        new_molecule.setShortcut(QKeySequence.StandardKey.New)
        new_molecule.triggered.connect(self.new_molecule)
        file_menu.addAction(new_molecule)
        example = QAction("Open &example library", self)
        example.triggered.connect(self.open_example_library)
        file_menu.addAction(example)
        file_menu.addSeparator()
        new_project = QAction("New &project…", self)
        new_project.triggered.connect(self.choose_new_project)
        file_menu.addAction(new_project)
        open_project = QAction("Open pro&ject…", self)
        open_project.setShortcut(QKeySequence("Ctrl+Shift+O"))
        open_project.triggered.connect(self.choose_project)
        file_menu.addAction(open_project)
        self.save_project_action = QAction("&Save project as…", self)
        self.save_project_action.setShortcut(QKeySequence.StandardKey.SaveAs)
        self.save_project_action.triggered.connect(self.choose_save_project)
        file_menu.addAction(self.save_project_action)
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        self.export_action = QAction("&Export shown rows…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self.choose_export)
        self.export_action.setEnabled(False)
        file_menu.addAction(self.export_action)
        close_tab = QAction("&Close library", self)
        close_tab.setShortcut(QKeySequence.StandardKey.Close)
        close_tab.triggered.connect(lambda: self.close_tab(self.tabs.currentIndex()))
        file_menu.addAction(close_tab)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        undo = self.undo_group.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_group.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit_menu.addAction(undo)
        edit_menu.addAction(redo)
        edit_menu.addSeparator()
        preferences = QAction("&Preferences…", self)
        preferences.setShortcut(QKeySequence.StandardKey.Preferences)
        preferences.triggered.connect(self.edit_preferences)
        edit_menu.addAction(preferences)

        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.molecule_dock.toggleViewAction())
        view_menu.addAction(self.jobs_dock.toggleViewAction())
        self.hitlist_action = QAction("&Hit-list tools", self)
        self.hitlist_action.setCheckable(True)
        self.hitlist_action.setChecked(True)
        self.hitlist_action.setShortcut(QKeySequence("Ctrl+Shift+H"))
        self.hitlist_action.toggled.connect(self._show_hitlist_tools)
        view_menu.addAction(self.hitlist_action)
        view_menu.addSeparator()
        for number, area in enumerate(AREAS, start=1):
            action = QAction(area.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _checked=False, key=area.key: self.show_area(key))
            view_menu.addAction(action)

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About DrugDesk", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)
        logs = QAction("Open &log folder", self)
        logs.triggered.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))))
        help_menu.addAction(logs)

    # ------------------------------------------------------------------------------------------
    # Opening libraries

    def choose_library(self) -> None:
        start = (
            str(Path(self.settings.recent_files[0]).parent) if self.settings.recent_files else ""
        )
        paths, _ = QFileDialog.getOpenFileNames(self, "Open compound library", start, OPEN_FILTER)
        for path in paths:
            self.open_library(path)

    def open_example_library(self) -> None:
        self.open_library(resource_path(EXAMPLE_LIBRARY), remember=False)

    def open_library(
        self, path: str | Path, read_options: ReadOptions | None = None, remember: bool = True
    ) -> LibraryPanel | None:
        """Open a compound file in a new tab; the engine loads it. Menus, drops and the command
        line all come here. Returns the tab's panel, or None when nothing was started."""
        path = Path(path)
        if path.suffix.lower() == PROJECT_SUFFIX:
            self.project.open_project(path)
            return None
        try:
            detect_format(path)
            if read_options is None and is_tabular(path):
                read_options = self._ask_columns(path)
                if read_options is None:
                    return None
        except LibraryReadError as exc:
            self.show_error(str(exc))
            return None
        except Exception as exc:  # a parser's own error on a broken file (openpyxl's XML…)
            log.info("Reading the start of %s failed", path, exc_info=True)  # the log file only
            self.show_error(f"Could not open {path.name}: {type(exc).__name__}: {exc}")
            return None
        options = LoadOptions(
            read=read_options or ReadOptions(),
            standardize=self.settings.standardize_options(),
            workers=self.settings.load_workers,
        )
        panel = self._make_library_panel(path.name)
        panel.row_activated.connect(self._on_row_activated)
        self.undo_group.addStack(panel.undo_stack)
        index = self.tabs.addTab(panel, path.name)
        self.tabs.setTabToolTip(index, str(path))
        self.tabs.setCurrentIndex(index)
        self.central_stack.setCurrentWidget(self.tabs)
        self.show_area("libraries")
        # The long lane: a large file loads for minutes; searches and scores need not wait.
        handle = self.engine.submit(
            _load_for_window, path, options, title=f"Load {path.name}", lane=LONG_LANE
        )
        # The tab keeps its handle while it loads (wait_for_loads and close_tab look at it); the
        # handle's signals concern this file only.
        panel.load_job = handle
        handle.progress.connect(partial(self._on_load_progress, panel))
        handle.partial.connect(partial(self._on_load_preview, panel))
        handle.finished.connect(partial(self._on_load_finished, panel))
        handle.failed.connect(partial(self._on_load_failed, panel))
        handle.cancelled.connect(partial(self._on_load_cancelled, panel))
        panel.cancel_requested.connect(handle.cancel)
        if remember:
            self.settings.add_recent_file(path)
            self._save_settings()
            self._rebuild_recent_menu()
        return panel

    def _ask_columns(self, path: Path) -> ReadOptions | None:
        """Use the detected SMILES column when the choice is clear, else ask."""
        preview = preview_table(path)
        named = preview.smiles_column is not None and preview.smiles_column.strip().lower() in (
            "smiles",
            "canonical_smiles",
            "isomeric_smiles",
        )
        if named and len(preview.smiles_candidates) == 1:
            return ReadOptions(smiles_column=preview.smiles_column, name_column=preview.name_column)
        dialog = ColumnPickerDialog(path.name, preview, self)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.read_options()
        finally:
            dialog.deleteLater()  # a child of the window: it would stay until the window goes

    def _loading_panels(self) -> list[LibraryPanel]:
        return [panel for panel in self.library_panels() if panel.load_job is not None]

    def _still_loading(self, panel: LibraryPanel) -> bool:
        """Whether news of ``panel``'s load is wanted: its tab is open and loading (a tab
        closed meanwhile dropped its handle, and Qt may have deleted it already)."""
        return (
            shiboken6.isValid(panel)
            and panel.load_job is not None
            and self.tabs.indexOf(panel) >= 0
        )

    def _end_load(self, panel: LibraryPanel) -> bool:
        """The load of ``panel`` ended: drop its handle; False when nobody wants the news."""
        if not self._still_loading(panel):
            return False
        panel.load_job = None
        return True

    def _on_load_progress(self, panel: LibraryPanel, fraction: float, message: str) -> None:
        if self._still_loading(panel):
            panel.set_progress(fraction, message)

    def _on_load_preview(self, panel: LibraryPanel, preview: object) -> None:
        """The first rows of a large file still loading (each preview holds more rows)."""
        if self._still_loading(panel) and isinstance(preview, Library):
            panel.show_preview(preview)

    def _on_load_finished(self, panel: LibraryPanel, result: object) -> None:
        if not self._end_load(panel) or not isinstance(result, Library):
            return
        panel.set_library(result)
        self._update_actions()
        level = "warning" if result.n_invalid else "success"
        detail = (
            " Invalid records are kept and marked; filter them with 'Invalid only'."
            if result.n_invalid
            else ""
        )
        self.notifications.show_message(f"{panel.title}: {result.summary()}.{detail}", level)
        if panel is self.current_panel():
            self._on_current_row_changed(panel.current_row())

    def _on_load_failed(self, panel: LibraryPanel, message: str) -> None:
        if self._end_load(panel):
            self._remove_panel(panel)
            self.show_error(f"Could not open {panel.title}: {message}")

    def _on_load_cancelled(self, panel: LibraryPanel) -> None:
        if self._end_load(panel):
            self._remove_panel(panel)
            self.notifications.show_message(f"Loading {panel.title} was cancelled.", "info")

    def _remove_panel(self, panel: LibraryPanel) -> None:
        self.project.forget(panel)
        self.undo_group.removeStack(panel.undo_stack)
        if isinstance(panel.side_panel, HitListTools):
            panel.side_panel.shutdown()
        panel.model.shutdown(wait=False)  # its sort/filter thread (tables over 20,000 rows)
        if (
            self.molecule_workspace.source is not None
            and self.molecule_workspace.source[0] is panel
        ):
            self.molecule_workspace.source = None
        index = self.tabs.indexOf(panel)
        if index >= 0:
            self.tabs.removeTab(index)
        panel.deleteLater()
        self._update_actions()

    def close_tab(self, index: int) -> None:
        panel = self.tabs.widget(index)
        if not isinstance(panel, LibraryPanel):
            return
        handle, panel.load_job = panel.load_job, None  # its load's news is no longer wanted
        if handle is not None:
            handle.cancel()
        self._remove_panel(panel)

    # ------------------------------------------------------------------------------------------
    # Panels and actions

    def current_panel(self) -> LibraryPanel | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, LibraryPanel) else None

    def library_panels(self) -> list[LibraryPanel]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def _on_current_tab_changed(self, _index: int) -> None:
        self._update_actions()
        panel = self.current_panel()
        self.current_library_changed.emit(panel)
        if panel is not None:
            self.undo_group.setActiveStack(panel.undo_stack)
            self._on_current_row_changed(panel.current_row())

    def _on_current_row_changed(self, row: dict | None) -> None:
        """Clicking through rows shows each in the Molecule panel, unless it holds unsaved edits."""
        panel = self.current_panel()
        sender = self.sender()
        if isinstance(sender, LibraryPanel) and sender is not panel:
            return
        if row is None or panel is None or self.molecule_workspace.is_modified():
            return
        self._show_row(panel, panel.current_position(), row, undoable=False)

    def _on_row_activated(self, position: int, row: dict) -> None:
        """Double-click (or Enter) opens the row even over unsaved edits (undoable)."""
        panel = self.sender()
        if isinstance(panel, LibraryPanel):
            self._show_row(panel, position, row, undoable=True)
            self.molecule_dock.show()
            self.molecule_dock.raise_()

    def _show_row(
        self, panel: LibraryPanel, position: int | None, row: dict, undoable: bool
    ) -> None:
        smiles = row.get("canonical_smiles") or row.get("smiles") or ""
        source = (panel, position) if position is not None else None
        self.molecule_workspace.open_smiles(str(smiles), str(row.get("name", "")), source, undoable)

    def new_molecule(self) -> None:
        self.molecule_dock.show()
        self.molecule_dock.raise_()
        self.molecule_workspace.new_molecule()

    def save_molecule(self, as_new: bool = False) -> None:
        """Save the Molecule panel's structure: update its source row, or add a row (undoable)."""
        workspace = self.molecule_workspace
        smiles = workspace.current_smiles()
        if not smiles:
            self.show_error("Nothing to save: the Molecule panel is empty.")
            return
        source = workspace.source
        target: LibraryPanel | None = None
        position: int | None = None
        if not as_new and source is not None:
            panel, source_position = source
            if (
                isinstance(panel, LibraryPanel)
                and self.tabs.indexOf(panel) >= 0
                and panel.library is not None
            ):
                target, position = panel, source_position
        if target is None:
            target = self.current_panel()
            if target is None or target.library is None:
                target = self._new_library_panel("New library")
        name = workspace.name() or f"mol{target.library.n_records + 1}"
        values = describe_molecule(smiles, name, self.settings.standardize_options())
        target.save_row(position, values)
        saved_position = position if position is not None else target.library.n_records - 1
        workspace.mark_saved((target, saved_position))
        self.tabs.setCurrentWidget(target)
        verb = "Updated" if position is not None else "Added"
        if values["valid"]:
            self.notifications.show_message(
                f"{verb} {name} in {target.title} (Edit > Undo reverts it).", "success"
            )
        else:
            self.notifications.show_message(
                f"{verb} {name} in {target.title}, marked invalid: {values['error']}", "warning"
            )

    def _make_library_panel(self, title: str, uid: str | None = None) -> LibraryPanel:
        """A library tab with its hit-list tools beside the table."""
        panel = LibraryPanel(title, (self.settings.structure_width, self.settings.structure_height))
        self.project.watch(panel, uid)
        panel.current_row_changed.connect(self._on_current_row_changed)
        tools = HitListTools(
            panel,
            self.engine,
            self.molecule_workspace.current_smiles,
            query_name=self.molecule_workspace.name_edit.text,
        )
        tools.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        panel.set_side_panel(tools)
        restore_splitters(panel, "library", self._qsettings())
        panel.side_panel.setVisible(self.hitlist_action.isChecked())
        return panel

    def _show_hitlist_tools(self, shown: bool) -> None:
        for panel in self.library_panels():
            if panel.side_panel is not None:
                panel.side_panel.setVisible(shown)

    def _new_library_panel(self, title: str) -> LibraryPanel:
        panel = self._make_library_panel(title)
        panel.row_activated.connect(self._on_row_activated)
        self.undo_group.addStack(panel.undo_stack)
        panel.set_library(empty_library())
        self.tabs.addTab(panel, title)
        self.tabs.setCurrentWidget(panel)
        self.central_stack.setCurrentWidget(self.tabs)
        self.show_area("libraries")
        self._update_actions()
        return panel

    def add_library_tab(
        self, title: str, library: Library, tooltip: str = "", uid: str | None = None
    ) -> LibraryPanel:
        """A tab showing an already loaded library (a project's); ``uid`` names it in the project."""
        panel = self._make_library_panel(title, uid)
        panel.row_activated.connect(self._on_row_activated)
        self.undo_group.addStack(panel.undo_stack)
        panel.set_library(library)
        index = self.tabs.addTab(panel, title)
        if tooltip:
            self.tabs.setTabToolTip(index, tooltip)
        self.central_stack.setCurrentWidget(self.tabs)
        self._update_actions()
        return panel

    def close_all_tabs(self) -> None:
        for index in reversed(range(self.tabs.count())):
            self.close_tab(index)

    # ------------------------------------------------------------------------------------------
    # Projects

    def _project_start(self) -> str:
        return str(Path(self.settings.recent_files[0]).parent) if self.settings.recent_files else ""

    def choose_new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New project", self._project_start(), PROJECT_FILTER
        )
        if path:
            self.project.new_project(self._with_project_suffix(path))

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", self._project_start(), PROJECT_FILTER
        )
        if path:
            self.project.open_project(path)

    def choose_save_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project as", self._project_start(), PROJECT_FILTER
        )
        if path:
            self.project.save_as(self._with_project_suffix(path))

    @staticmethod
    def _with_project_suffix(path: str) -> Path:
        path = Path(path)
        return path if path.suffix else path.with_suffix(PROJECT_SUFFIX)

    def _on_project_changed(self, path) -> None:
        self.setWindowTitle(f"DrugDesk — {Path(path).name}" if path else "DrugDesk")

    def remember_file(self, path: str | Path) -> None:
        """Put ``path`` (a library or a project) at the top of File > Open recent."""
        self.settings.add_recent_file(path)
        self._save_settings()
        self._rebuild_recent_menu()

    def _on_focus_changed(self, _old, new) -> None:
        widget = new
        while widget is not None:
            if widget is self.molecule_workspace:
                self.undo_group.setActiveStack(self.molecule_workspace.editor.undo_stack)
                return
            if isinstance(widget, LibraryPanel):
                self.undo_group.setActiveStack(widget.undo_stack)
                return
            widget = widget.parentWidget()

    def _update_actions(self) -> None:
        panel = self.current_panel()
        self.export_action.setEnabled(panel is not None and not panel.is_loading())
        if self.tabs.count() == 0:
            self.central_stack.setCurrentWidget(self.start_page)

    def _show_jobs(self) -> None:
        self.jobs_dock.show()
        self.jobs_dock.raise_()

    # ------------------------------------------------------------------------------------------
    # What areas are given (ui.workbench): the window is their notifier and library access.

    @property
    def area_context(self) -> AreaContext:
        """The engine, notifier, library access and Molecule panel an area is built with."""
        return AreaContext(
            engine=self.engine,
            notifier=self,
            libraries=self,
            molecules=self.molecule_workspace,
        )

    def current_library(self) -> LibraryPanel | None:
        """The library tab shown in the Libraries area (``ui.workbench.LibraryAccess``)."""
        return self.current_panel()

    def show_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_error(self, message: str) -> None:
        log.warning(message)
        self.notifications.show_message(message, "error")

    # ------------------------------------------------------------------------------------------
    # Export

    def choose_export(self) -> None:
        panel = self.current_panel()
        if panel is None or panel.library is None:
            return
        shown = panel.model.rowCount()
        suggested = str(Path(panel.title).with_suffix("")) + "_export.csv"
        start = (
            str(Path(self.settings.recent_files[0]).parent / suggested)
            if self.settings.recent_files
            else suggested
        )
        path, chosen_filter = QFileDialog.getSaveFileName(
            self, f"Export {shown:,} shown rows", start, EXPORT_FILTER
        )
        if path:
            if not Path(path).suffix:
                path += "." + chosen_filter.split("*.")[-1].rstrip(")")
            self.export_current(path)

    def export_current(self, path: str | Path) -> JobHandle | None:
        """Write the current table's shown rows, in the shown order, to ``path`` in the engine:
        .csv/.tsv/.sdf, .xlsx with structure pictures, or an .html hit-list report with the
        profile and the models used. Returns the job's handle (None when nothing was started)."""
        from core.hitlist.presets import ORAL
        from core.hitlist.report import export_hit_list, hit_list_format

        panel = self.current_panel()
        if panel is None or panel.library is None:
            self.show_error("Nothing to export: open a library first.")
            return None
        path = Path(path)
        try:
            hit_list_format(path)
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        table = panel.visible_table()
        tools = panel.side_panel
        profile = getattr(tools, "profile", ORAL)
        cards = list(getattr(tools, "model_cards", []))
        handle = self.engine.submit(
            _export_job,
            export_hit_list,
            table,
            path,
            profile,
            cards,
            title=f"Export {path.name}",
        )
        handle.finished.connect(partial(self._on_export_finished, path, len(table)))
        handle.failed.connect(partial(self._on_export_failed, path))
        self.statusBar().showMessage(f"Exporting {len(table):,} rows to {path.name}…", 5000)
        return handle

    def _on_export_finished(self, path: Path, n_rows: int, _result: object) -> None:
        self.notifications.show_message(f"Exported {n_rows:,} rows to {path}.", "success")

    def _on_export_failed(self, path: Path, message: str) -> None:
        self.show_error(f"Export {path.name} failed: {message}")

    # ------------------------------------------------------------------------------------------
    # Recent files, drag and drop

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for file in self.settings.recent_files:
            action = self.recent_menu.addAction(Path(file).name)
            action.setToolTip(file)
            action.setStatusTip(file)
            action.triggered.connect(lambda _checked=False, f=file: self._open_recent(f))
        if self.settings.recent_files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear recent files", self._clear_recent)
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def _open_recent(self, file: str) -> None:
        if not Path(file).exists():
            self.settings.recent_files = [f for f in self.settings.recent_files if f != file]
            self._save_settings()
            self._rebuild_recent_menu()
            self.show_error(f"{file} no longer exists; removed from recent files.")
            return
        if Path(file).suffix.lower() == PROJECT_SUFFIX:
            self.project.open_project(file)
            return
        self.open_library(file)

    def _clear_recent(self) -> None:
        self.settings.recent_files = []
        self._save_settings()
        self._rebuild_recent_menu()

    @staticmethod
    def _dropped_files(event: QDragEnterEvent | QDropEvent) -> list[Path]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        files = self._dropped_files(event)
        if any(f.suffix.lower() in (*SUPPORTED_SUFFIXES, PROJECT_SUFFIX) for f in files):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files = self._dropped_files(event)
        event.acceptProposedAction()
        for file in files:
            if file.suffix.lower() == PROJECT_SUFFIX:
                self.project.open_project(file)
            elif file.suffix.lower() in SUPPORTED_SUFFIXES:
                self.open_library(file)
            else:
                self.show_error(f"{file.name}: not a compound file DrugDesk can open.")

    # ------------------------------------------------------------------------------------------
    # Settings, about, closing

    def edit_preferences(self) -> None:
        dialog = PreferencesDialog(self.settings, self)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                self.apply_settings(dialog.result_settings())
        finally:
            dialog.deleteLater()

    def apply_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.engine.set_device_preference(settings.compute_device)
        self._save_settings()

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except OSError as exc:
            # OutputError already names the file and the reason ("Cannot write …: no space left").
            self.show_error(f"Settings not saved. {exc}")

    def show_about(self) -> None:
        paths = {"Settings": str(Settings.path()), "Log": str(log_dir()), "Data": str(data_dir())}
        device = self.engine.device
        if self._about is None:  # one dialog, shown again (a new one each time would pile up)
            self._about = AboutDialog(device.description if device else "detecting…", paths, self)
        elif device is not None:
            self._about.set_device_text(device.description)
        if device is None:
            self.engine.detect_device().failed.connect(self._on_device_detection_failed)
        self._about.show()
        self._about.raise_()

    def _on_device_changed(self, device) -> None:
        if self._about is not None:
            self._about.set_device_text(device.description)

    def _on_device_detection_failed(self, message: str) -> None:
        self.show_error(f"Detect compute device failed: {message}")

    def _qsettings(self) -> QSettings:
        return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        qsettings = self._qsettings()
        geometry = qsettings.value("geometry")
        state = qsettings.value("state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        else:
            screen = self.screen()
            if screen is not None and screen.availableGeometry().height() < SHORT_SCREEN_HEIGHT:
                # First start on a laptop screen: the table gets the height; the status bar's jobs
                # indicator (or View > Jobs) shows the Jobs panel when wanted.
                self.jobs_dock.hide()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.screen_fit.on_shown()

    def closeEvent(self, event) -> None:
        if getattr(self, "_molecule_dock_hidden_by_area", False):
            self.molecule_dock.show()  # save the layout the user chose, not the area's
        qsettings = self._qsettings()
        qsettings.setValue("geometry", self.saveGeometry())
        qsettings.setValue("state", self.saveState())
        for key, widget in self._area_widgets.items():
            if key != "libraries":
                save_splitters(widget, key, qsettings)
        panel = self.current_panel()
        if panel is not None:
            save_splitters(panel, "library", qsettings)
        qsettings.sync()
        self._save_settings()
        self.project.close()  # the last edits reach the project file before anything stops
        self.engine.stop()
        for panel in self.library_panels():
            panel.model.shutdown()
        self.molecule_workspace.shutdown()
        for key, widget in self._area_widgets.items():
            # Areas with a 3D view must release it before Qt destroys the widget.
            close = getattr(widget, "close_view", None) or getattr(widget, "shutdown", None)
            if key != "libraries" and close is not None:
                try:
                    close()
                except Exception:  # closing must always finish
                    log.exception("Closing the %s area failed", key)
        super().closeEvent(event)

    def wait_for_loads(self, timeout_ms: int = 120_000) -> bool:
        """Process events until every library has loaded (for --screenshot and scripts)."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer, QThread

        timer = QElapsedTimer()
        timer.start()
        while self._loading_panels() and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
            QThread.msleep(10)
        QCoreApplication.processEvents()
        return not self._loading_panels()


def _export_job(export, table, path, profile, cards, *, progress, is_cancelled):
    """Engine job around ``core.hitlist.report.export_hit_list`` (which takes no callbacks)."""
    progress(-1.0, f"Writing {Path(path).name}")
    return export(table, path, profile, cards, title=f"Hit list: {Path(path).stem}")


def _load_for_window(path, options, *, progress, is_cancelled, report_partial=None):
    """Engine job: load a library and do, off the GUI thread, what showing it needs (the user's
    flag/tags/notes columns, the duplicate count): a million rows then open without a pause.
    ``report_partial`` receives the first rows of a large file meanwhile (a :class:`Library`
    each time their number doubles), prepared the same way; they reach the handle's
    ``partial`` signal."""
    from core.project.annotations import ensure_annotations

    def preview(library: Library) -> None:
        ensure_annotations(library)
        report_partial(library)

    library = load_library(
        path,
        options,
        progress=progress,
        is_cancelled=is_cancelled,
        on_preview=preview if report_partial is not None else None,
    )
    ensure_annotations(library)
    library.n_duplicates  # noqa: B018 - computed now, cached for the summary line
    return library
