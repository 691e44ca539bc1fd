"""The main window: places the work areas and docks, owns the menus, the status bar, the
settings and the window's geometry, and wires the project session to the Libraries area."""

from __future__ import annotations

import logging
from pathlib import Path

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
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.area_links import AreaLinks
from app.areas import AREAS, Area
from app.cluster_actions import ClusterActions
from app.engine import InferenceEngine
from app.project_session import ProjectSession
from core.chem.readers import ReadOptions
from core.paths import config_dir, data_dir, log_dir
from core.settings import Settings
from ui.dialogs.about import AboutDialog
from ui.dialogs.preferences import PreferencesDialog
from ui.jobs.panel import JobsIndicator, JobsPanel
from ui.library.area import LibrariesArea
from ui.library.panel import LibraryPanel
from ui.molecules.workspace import MoleculeWorkspace
from ui.widgets.notification_bar import NotificationBar
from ui.widgets.screen_fit import ScreenFit, initial_size, size_by_current_page
from ui.widgets.splitter_memory import restore_splitters, save_splitters
from ui.workbench import AreaContext

log = logging.getLogger(__name__)

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

        # Central area: notification strip above the work area shown.
        self.notifications = NotificationBar()
        # The Molecule panel (a dock, placed below) serves the Libraries area from the start.
        self.molecule_workspace = MoleculeWorkspace(engine)
        # Links between the areas (a gene to Proteins, a ligand to a search…): ui.workbench.AreaLinks.
        self.links = AreaLinks(self)
        # The Libraries area is there from the start (the start page, files named on the
        # command line); the other areas (models, proteins, …) are built on first use.
        self.libraries = LibrariesArea(
            self.area_context,
            settings=lambda: self.settings,
            window_settings=self._qsettings,
            query_name=self.molecule_workspace.name,
        )
        self.area_stack = QStackedWidget()
        size_by_current_page(self.area_stack)
        self.area_stack.addWidget(self.libraries)
        self._area_widgets: dict[str, QWidget] = {"libraries": self.libraries}
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
        # The window opens on the Libraries area (its start page); Campaign is one click above.
        self.area_list.setCurrentRow([area.key for area in AREAS].index("libraries"))
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
        self.project = ProjectSession(self, self.libraries)
        # Work on the Dask cluster named in Preferences (File > On the cluster: props, score, search).
        self.cluster = ClusterActions(self)
        self.project.project_changed.connect(self._on_project_changed)
        self._connect_libraries()
        self._create_menus()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)
        engine.device_changed.connect(self._on_device_changed)
        self._restore_geometry()
        # Never larger than the screen: not at start, not from a geometry saved on a bigger
        # monitor, not when a panel's layout asks for more room.
        self.screen_fit = ScreenFit(self)

    # ------------------------------------------------------------------------------------------
    # Construction

    def _connect_libraries(self) -> None:
        """What the Libraries area tells the window: the tab shown (other areas follow it),
        rows to show in the Molecule panel, tabs whose undo stacks join Edit > Undo, files to
        remember and projects to open, messages for the notification strip."""
        libraries = self.libraries
        libraries.current_library_changed.connect(self._on_current_library_changed)
        libraries.tab_opened.connect(self._on_library_tab_opened)
        libraries.tab_closed.connect(self._on_library_tab_closed)
        libraries.row_selected.connect(self._on_library_row_selected)
        libraries.row_activated.connect(self._on_library_row_activated)
        libraries.structure_saved.connect(self.molecule_workspace.mark_saved)
        libraries.project_requested.connect(self.project.open_project)
        libraries.file_opened.connect(self.remember_file)
        libraries.show_requested.connect(lambda: self.show_area("libraries"))
        libraries.notification.connect(self.notifications.show_message)

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
            # The open project keeps the area's work and gives back what it stored for it.
            self.project.attach_area(area.key, widget)
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
        libraries = self.libraries
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(libraries.open_action)
        new_molecule = QAction("&New molecule", self)
        new_molecule.setShortcut(QKeySequence.StandardKey.New)
        new_molecule.triggered.connect(self.new_molecule)
        file_menu.addAction(new_molecule)
        file_menu.addAction(libraries.example_action)
        file_menu.addSeparator()
        new_project = QAction("New &project…", self)
        new_project.triggered.connect(self.project.choose_new_project)
        file_menu.addAction(new_project)
        open_project = QAction("Open pro&ject…", self)
        open_project.setShortcut(QKeySequence("Ctrl+Shift+O"))
        open_project.triggered.connect(self.project.choose_project)
        file_menu.addAction(open_project)
        self.save_project_action = QAction("&Save project as…", self)
        self.save_project_action.setShortcut(QKeySequence.StandardKey.SaveAs)
        self.save_project_action.triggered.connect(self.project.choose_save_project)
        file_menu.addAction(self.save_project_action)
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(libraries.export_action)
        file_menu.addMenu(self.cluster.menu)
        file_menu.addAction(libraries.close_action)
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
        view_menu.addAction(libraries.hit_list_action)
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
    # The project's name, File > Open recent, Edit > Undo following the focus, the Jobs panel

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
            links=self.links,
        )

    def current_library(self) -> LibraryPanel | None:
        """The library tab shown in the Libraries area (``ui.workbench.LibraryAccess``)."""
        return self.libraries.current_library()

    def show_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_error(self, message: str) -> None:
        log.warning(message)
        self.notifications.show_message(message, "error")

    # ------------------------------------------------------------------------------------------
    # The Libraries area (what the command line, scripts and other areas call on the window)

    def open_library(
        self, path: str | Path, read_options: ReadOptions | None = None, remember: bool = True
    ) -> LibraryPanel | None:
        """Open a compound file in a new library tab (``LibrariesArea.open_library``)."""
        return self.libraries.open_library(path, read_options, remember)

    def current_panel(self) -> LibraryPanel | None:
        """The library tab shown in the Libraries area."""
        return self.libraries.current_panel()

    def wait_for_loads(self, timeout_ms: int = 120_000) -> bool:
        """Process events until every library has loaded (for --screenshot and scripts)."""
        return self.libraries.wait_for_loads(timeout_ms)

    def _on_current_library_changed(self, panel: LibraryPanel | None) -> None:
        self.current_library_changed.emit(panel)
        if panel is not None:
            self.undo_group.setActiveStack(panel.undo_stack)

    def _on_library_tab_opened(self, panel: LibraryPanel, _uid: str | None) -> None:
        self.undo_group.addStack(panel.undo_stack)

    def _on_library_tab_closed(self, panel: LibraryPanel) -> None:
        self.undo_group.removeStack(panel.undo_stack)
        workspace = self.molecule_workspace
        if workspace.source is not None and workspace.source[0] is panel:
            workspace.source = None

    # ------------------------------------------------------------------------------------------
    # The Molecule panel and the library rows

    def _on_library_row_selected(self, smiles: str, name: str, source: object) -> None:
        """Clicking through rows shows each in the Molecule panel, unless it holds unsaved edits."""
        if not self.molecule_workspace.is_modified():
            self.molecule_workspace.open_smiles(smiles, name, source, False)

    def _on_library_row_activated(self, smiles: str, name: str, source: object) -> None:
        """Double-click (or Enter) opens the row even over unsaved edits (undoable)."""
        self.molecule_workspace.open_smiles(smiles, name, source, True)
        self.molecule_dock.show()
        self.molecule_dock.raise_()

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
        # The area marks the workspace saved (structure_saved) before it shows the tab.
        self.libraries.save_structure(smiles, workspace.name(), workspace.source, as_new)

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
        self.libraries.open_library(file)  # a project goes on to the project session

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
        if self.libraries.accepts_files(self._dropped_files(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files = self._dropped_files(event)
        event.acceptProposedAction()
        self.libraries.open_files(files)  # libraries in tabs, a project to the project session

    # ------------------------------------------------------------------------------------------
    # Settings, about, closing

    def edit_preferences(self) -> None:
        dialog = PreferencesDialog(self.settings, self, test_cluster=self.cluster.test_connection)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                self.apply_settings(dialog.result_settings())
        finally:
            dialog.deleteLater()

    def apply_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.engine.set_device_preference(settings.compute_device)
        self.engine.inference_precision = settings.inference_precision
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
        self.libraries.save_splitters(qsettings)
        qsettings.sync()
        self._save_settings()
        self.project.close()  # the last edits reach the project file before anything stops
        self.engine.stop()
        self.libraries.shutdown()
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
