"""Loading a compound file into a library tab: which column holds the SMILES of a table, the
engine job, and the news of each tab's own load (progress, a large file's first rows, the end).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from core.chem.library import Library, LoadOptions, load_library
from core.chem.readers import ReadOptions, preview_table
from core.jobs import LONG_LANE
from ui.dialogs.column_picker import ColumnPickerDialog
from ui.library.panel import LibraryPanel

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle


def ask_read_options(path: Path, parent: QWidget) -> ReadOptions | None:
    """How to read the table ``path``: the detected SMILES column when the choice is clear,
    else the user's choice in the column picker (None: the user cancelled)."""
    preview = preview_table(path)
    named = preview.smiles_column is not None and preview.smiles_column.strip().lower() in (
        "smiles",
        "canonical_smiles",
        "isomeric_smiles",
    )
    if named and len(preview.smiles_candidates) == 1:
        return ReadOptions(smiles_column=preview.smiles_column, name_column=preview.name_column)
    dialog = ColumnPickerDialog(path.name, preview, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.read_options()
    finally:
        dialog.deleteLater()  # a child of ``parent``: it would stay until the window goes


class TabLoads(QObject):
    """The loads of library tabs in the engine's long lane. A tab holds its job's handle
    (``panel.load_job``) while it loads and hears of that job only; a tab closed meanwhile
    hears nothing more."""

    loaded = Signal(object, object)  # LibraryPanel, its Library
    failed = Signal(object, str)  # LibraryPanel (to be closed), message
    cancelled = Signal(object)  # LibraryPanel (to be closed)

    def __init__(
        self,
        engine: Engine,
        is_open: Callable[[LibraryPanel], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self._is_open = is_open

    def start(self, panel: LibraryPanel, path: Path, options: LoadOptions) -> JobHandle:
        """Load ``path`` for ``panel`` (which shows the progress and a Cancel button)."""
        # The long lane: a large file loads for minutes; searches and scores need not wait.
        handle = self.engine.submit(
            load_for_tab, path, options, title=f"Load {path.name}", lane=LONG_LANE
        )
        # The tab keeps its handle while it loads (wait_for_loads and close_tab look at it); the
        # handle's signals concern this file only.
        panel.load_job = handle
        handle.progress.connect(partial(self._on_progress, panel))
        handle.partial.connect(partial(self._on_preview, panel))
        handle.finished.connect(partial(self._on_finished, panel))
        handle.failed.connect(partial(self._on_failed, panel))
        handle.cancelled.connect(partial(self._on_cancelled, panel))
        panel.cancel_requested.connect(handle.cancel)
        return handle

    @staticmethod
    def forget(panel: LibraryPanel) -> None:
        """The tab is closing: cancel its load, whose news is no longer wanted."""
        handle, panel.load_job = panel.load_job, None
        if handle is not None:
            handle.cancel()

    def _still_loading(self, panel: LibraryPanel) -> bool:
        """Whether news of ``panel``'s load is wanted: its tab is open and loading (a tab
        closed meanwhile dropped its handle, and Qt may have deleted it already)."""
        return shiboken6.isValid(panel) and panel.load_job is not None and self._is_open(panel)

    def _end(self, panel: LibraryPanel) -> bool:
        """The load of ``panel`` ended: drop its handle; False when nobody wants the news."""
        if not self._still_loading(panel):
            return False
        panel.load_job = None
        return True

    def _on_progress(self, panel: LibraryPanel, fraction: float, message: str) -> None:
        if self._still_loading(panel):
            panel.set_progress(fraction, message)

    def _on_preview(self, panel: LibraryPanel, preview: object) -> None:
        """The first rows of a large file still loading (each preview holds more rows)."""
        if self._still_loading(panel) and isinstance(preview, Library):
            panel.show_preview(preview)

    def _on_finished(self, panel: LibraryPanel, result: object) -> None:
        if self._end(panel) and isinstance(result, Library):
            self.loaded.emit(panel, result)

    def _on_failed(self, panel: LibraryPanel, message: str) -> None:
        if self._end(panel):
            self.failed.emit(panel, message)

    def _on_cancelled(self, panel: LibraryPanel) -> None:
        if self._end(panel):
            self.cancelled.emit(panel)


def load_for_tab(path, options, *, progress, is_cancelled, report_partial=None):
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
