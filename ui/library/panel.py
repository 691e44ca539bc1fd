"""The library panel: one loaded compound file as a sortable, filterable table with structures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.chem.library import Library
from core.chem.library_edit import Row, add_columns
from core.project.annotations import (
    ANNOTATION_COLUMNS,
    FLAG_COLUMN,
    NOTES_COLUMN,
    TAGS_COLUMN,
    ensure_annotations,
    with_tag,
)
from ui.jobs.handle import JobHandle
from ui.library.columns import RESULT_COLUMNS, library_columns
from ui.library.columns import formula_text as formula_text  # re-exported: tests import it here
from ui.library.commands import SaveRowCommand, SetMarksCommand
from ui.library.compare import MAX_COMPARE, MIN_COMPARE, CompareDialog
from ui.library.filter_bar import FilterBar
from ui.tables.dataframe_model import DataFrameModel, RowFilter, configure_table_view
from ui.tables.structure_delegate import StructureDelegate
from ui.widgets.elided_label import ElidedLabel


class LibraryPanel(QWidget):
    """Shows loading progress, then the library table with its filter bar and a summary line."""

    cancel_requested = Signal()
    current_row_changed = Signal(object)  # dict of the current row's values, or None
    row_activated = Signal(int, object)  # frame position, row values (double-click or Enter)
    selection_changed = Signal(object)  # numpy array of the selected frame positions
    columns_changed = Signal()  # computed columns were added or replaced
    library_changed = Signal()  # a library arrived (set_library)
    rows_changed = Signal()  # rows were added, replaced or removed (refresh_table)
    annotations_changed = Signal()  # flags, tags or notes changed (undoable edits)
    # A row's menu asked for a link into another area: "pocket" (place it in Proteins) or "3d"
    # (the Molecule panel's 3D view); the frame position and the row's values.
    row_link_requested = Signal(str, int, object)

    def __init__(
        self, title: str, picture_size: tuple[int, int] = (160, 110), parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.library: Library | None = None
        self.newest_results: list[str] = []
        """Search result columns, the newest search's first: they are shown beside the name."""
        self.preview: Library | None = None
        """The first rows of a large file still loading (read-only), until :meth:`set_library`."""
        # The load job's handle while the file loads (ui.library.loading sets it), then None.
        self.load_job: JobHandle | None = None
        self.model = DataFrameModel(parent=self)
        self.undo_stack = QUndoStack(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.delegate = StructureDelegate(self.view, picture_size=picture_size)
        configure_table_view(self.view, picture_height=picture_size[1])
        self.filter_bar = FilterBar()
        self.filter_bar.filter_changed.connect(self._on_filter_changed)
        self.filter_bar.range_provider = self._column_range
        # Counts, then the file's path in a label of its own that takes what room is left,
        # elided in the middle (the whole path in its tooltip): a long folder path cannot widen
        # the window, and the counts stay whole.
        self.summary_label = ElidedLabel(mode="right", minimum_chars=24)
        self.summary_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.source_label = ElidedLabel(mode="middle", minimum_chars=6)
        self.source_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.source_label.setStyleSheet("ElidedLabel { color: palette(placeholder-text); }")
        self.model.filter_changed.connect(self._update_summary)
        self.model.busy_changed.connect(self._on_model_busy)
        # Flags, tags and notes: edited in the table, each edit one undoable step.
        self.model.edit_handler = self._on_cell_edited
        self.view.clicked.connect(self._on_clicked)
        self.compare_dialogs: list[CompareDialog] = []
        self.flag_action = QAction("Flag / unflag selected", self)
        self.flag_action.setShortcut(QKeySequence("Ctrl+D"))
        self.flag_action.triggered.connect(self.flag_selected)
        self.tag_action = QAction("Add tag to selected…", self)
        self.tag_action.setShortcut(QKeySequence("Ctrl+T"))
        self.tag_action.triggered.connect(self.choose_tag)
        self.compare_action = QAction("Compare selected", self)
        self.compare_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.compare_action.setToolTip(
            f"Show {MIN_COMPARE}–{MAX_COMPARE} selected rows side by side"
        )
        self.compare_action.triggered.connect(self.compare_selected)
        for action in (self.flag_action, self.tag_action, self.compare_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_context_menu)
        self.hint_label = QLabel()
        self.hint_label.setStyleSheet("color: #b00020;")
        flag_button = QPushButton("★ Flag")
        flag_button.setToolTip("Flag or unflag the selected rows (Ctrl+D)")
        flag_button.clicked.connect(self.flag_selected)
        compare_button = QPushButton("Compare selected")
        compare_button.setToolTip(self.compare_action.toolTip() + " (Ctrl+Shift+C)")
        compare_button.clicked.connect(self.compare_selected)

        # While a large file loads, its first rows are shown with this bar above them.
        self.preview_label = QLabel()
        self.preview_label.setWordWrap(True)
        self.preview_progress = QProgressBar()
        self.preview_progress.setRange(0, 1000)
        self.preview_progress.setMaximumWidth(220)
        preview_cancel = QPushButton("Cancel loading")
        preview_cancel.clicked.connect(self.cancel_requested)
        self.preview_bar = QWidget()
        self.preview_bar.setStyleSheet(
            "QWidget#previewBar { background: #fff4d6; border: 1px solid #e6c878; }"
        )
        self.preview_bar.setObjectName("previewBar")
        preview_row = QHBoxLayout(self.preview_bar)
        preview_row.setContentsMargins(6, 3, 6, 3)
        preview_row.addWidget(self.preview_label, 1)
        preview_row.addWidget(self.preview_progress)
        preview_row.addWidget(preview_cancel)
        self.preview_bar.hide()

        table_page = QWidget()
        table_layout = QVBoxLayout(table_page)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.preview_bar)
        table_layout.addWidget(self.filter_bar)
        table_layout.addWidget(self.view, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary_label)
        bottom.addWidget(self.source_label, 1)
        bottom.addWidget(self.hint_label)
        bottom.addWidget(flag_button)
        bottom.addWidget(compare_button)
        table_layout.addLayout(bottom)

        self.loading_label = QLabel(f"Loading {title}…")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(420)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop loading this file")
        self.cancel_button.clicked.connect(self.cancel_requested)
        loading_page = QWidget()
        loading_layout = QVBoxLayout(loading_page)
        loading_layout.addStretch(1)
        loading_layout.addWidget(self.loading_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.progress_bar, 3)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        loading_layout.addLayout(row)
        loading_layout.addStretch(2)

        # The table, and beside it the hit-list tools (set_side_panel) that the window adds.
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(table_page)
        self.side_panel: QWidget | None = None
        self.stack = QStackedWidget()
        self.stack.addWidget(loading_page)
        self.stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.view.activated.connect(self._on_activated)

    def set_side_panel(self, widget: QWidget, width: int = 300) -> None:
        """Place ``widget`` to the right of the table (the hit-list tools)."""
        self.side_panel = widget
        widget.setMinimumWidth(300)
        self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([max(400, self.width() - width), width])

    # ------------------------------------------------------------------------------------------
    def is_loading(self) -> bool:
        return self.library is None

    def show_preview(self, library: Library) -> None:
        """Show the first rows of a file still loading (``load_library(on_preview=...)``):
        read-only, sortable and filterable; flags, notes, scores and searches wait for
        :meth:`set_library`, which keeps the sort and filters chosen meanwhile."""
        if self.library is not None:
            return  # the whole library arrived first
        first = self.preview is None
        browsing = None if first else self._viewed_position()
        self.preview = library
        self.model.set_frame(library.table)
        if browsing is not None:  # a larger preview: stay on the row the user looks at
            self._select_position(browsing)
        if first:
            # Edits are refused meanwhile (_on_cell_edited): the full table replaces these rows.
            self.model.set_columns(library_columns(library, self.newest_results))
            self._after_columns_set()
            if self.side_panel is not None:
                self.side_panel.setEnabled(False)
            self.preview_bar.show()
            self.stack.setCurrentIndex(1)
        self._update_preview_text()

    def _viewed_position(self) -> int | None:
        """Frame position of the current row, whether a library or a preview is shown."""
        index = self.view.currentIndex()
        if not index.isValid() or self.model.rowCount() == 0:
            return None
        return self.model.source_row(index.row())

    def _update_preview_text(self) -> None:
        if self.preview is None:
            return
        fraction = self.progress_bar.value() / 1000 if self.progress_bar.maximum() else 0.0
        self.preview_progress.setValue(self.progress_bar.value())
        self.preview_label.setText(
            f"Loading {self.title}: showing the first {len(self.preview.table):,} molecules "
            f"({fraction:.0%} of the file read). Sorting and filters work now; flags, notes, "
            "scores and searches once loading ends."
        )
        self.summary_label.setText(
            f"{self.model.rowCount():,} of {len(self.preview.table):,} loaded records shown"
        )

    def set_progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(fraction * 1000))
        if message:
            self.loading_label.setText(f"Loading {self.title}… {message}")
        self._update_preview_text()

    def set_library(self, library: Library) -> None:
        ensure_annotations(library)
        # The row the user was looking at in a preview: previews are the library's first rows.
        browsing = self._viewed_position() if self.preview is not None else None
        self.library = library
        had_preview, self.preview = self.preview is not None, None
        self.preview_bar.hide()
        self.hint_label.clear()
        if self.side_panel is not None:
            self.side_panel.setEnabled(True)
        self.model.set_frame(library.table)
        self.model.set_columns(library_columns(library, self.newest_results))
        self._after_columns_set(keep_widths=had_preview)
        self.stack.setCurrentIndex(1)
        self._update_summary(self.model.rowCount(), self.model.total_rows())
        self.library_changed.emit()
        if browsing is not None and browsing < len(library.table):
            self._select_position(browsing)
        elif self.model.rowCount():
            self.view.selectionModel().setCurrentIndex(
                self.model.index(0, 1),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )

    def _after_columns_set(self, keep_widths: bool = False) -> None:
        for column in self.model.structure_columns():
            self.view.setItemDelegateForColumn(column, self.delegate)
        self.filter_bar.set_numeric_columns(
            [
                (spec.key, spec.title)
                for spec in self.model.columns()
                if spec.kind in ("float", "int")
            ]
        )
        if not keep_widths:  # after a preview the user may have resized columns already
            self._apply_column_widths()

    def _apply_column_widths(self) -> None:
        header = self.view.horizontalHeader()
        metrics = header.fontMetrics()
        for position, spec in enumerate(self.model.columns()):
            if spec.kind == "structure":
                header.resizeSection(position, self.delegate.picture_size[0] + 8)
            elif spec.kind in ("float", "int", "bool"):
                # Wide enough for the whole title and the sort arrow ("Scaffold size").
                title = metrics.horizontalAdvance(spec.title) + 28
                header.resizeSection(position, max(72, min(title, 200)))
            elif spec.key in ("canonical_smiles", "smiles", "error"):
                header.resizeSection(position, 260)
            elif spec.key == "inchikey":
                header.resizeSection(position, 230)
            elif spec.key in (TAGS_COLUMN, NOTES_COLUMN):
                # Empty until the user writes in them: narrow, so the numbers show beside the
                # names on a laptop screen (drag the column wider, or it is read in the tooltip).
                header.resizeSection(position, max(64, metrics.horizontalAdvance(spec.title) + 28))
            else:
                header.resizeSection(position, 140)

    # ------------------------------------------------------------------------------------------
    def _on_filter_changed(self, row_filter: RowFilter) -> None:
        self.model.set_filter(row_filter)

    def _on_model_busy(self, busy: bool) -> None:
        if busy:
            self.summary_label.setText(self.summary_label.text() + " · sorting and filtering…")
        else:
            self._update_summary(self.model.rowCount(), self.model.total_rows())

    def _update_summary(self, shown: int, total: int) -> None:
        if self.library is None:
            self._update_preview_text()
            return
        library = self.library
        text = f"{shown:,} of {total:,} records shown · {library.n_valid:,} valid"
        text += f" · {library.n_invalid:,} invalid"
        if library.n_duplicates:
            text += f" · {library.n_duplicates:,} duplicates"
        source = str(library.source) if library.source is not None else ""
        self.summary_label.setText(text)
        # On a narrow screen the path's label may get no room: the counts' tooltip has it too.
        self.summary_label.setToolTip(f"{text}\n{source}" if source else text)
        self.source_label.setText(source)

    def _on_current_row_changed(self, current, _previous) -> None:
        self.current_row_changed.emit(self.current_row())

    def _on_activated(self, index) -> None:
        if self.library is not None and index.isValid():
            position = self.model.source_row(index.row())
            self.row_activated.emit(position, self.library.table.iloc[position].to_dict())

    def current_position(self) -> int | None:
        index = self.view.currentIndex()
        if self.library is None or not index.isValid():
            return None
        return self.model.source_row(index.row())

    def save_row(self, position: int | None, values: Row) -> None:
        """Replace (or, with ``position=None``, append) a row, as one undoable step."""
        if self.library is None:
            raise RuntimeError("the library is still loading")
        self.undo_stack.push(SaveRowCommand(self, position, values))

    def refresh_table(self, select: int | None = None) -> None:
        """Show the library's current table (after an edit), keeping sort and filter."""
        assert self.library is not None
        self.model.set_frame(self.library.table)
        self._update_summary(self.model.rowCount(), self.model.total_rows())
        self.rows_changed.emit()
        if select is not None:
            self._select_position(select)

    def _select_position(self, position: int) -> None:
        view_row = self.model.view_row(position)
        if view_row >= 0:
            self.view.selectionModel().setCurrentIndex(
                self.model.index(view_row, 1),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.view.scrollTo(self.model.index(view_row, 1))

    def add_columns(
        self,
        frame: pd.DataFrame,
        notes: dict[str, str] | None = None,
        sort_by: str | None = None,
        descending: bool = False,
        drop: Sequence[str] = (),
    ) -> list[str]:
        """Add or replace computed columns (predictions, scores), aligned with the library's
        index; the filter is kept, and the sort unless ``sort_by`` names the column to sort by
        (sorting once, not by the old column and then again). ``notes``: header tooltips;
        ``drop``: computed columns to remove at the same time."""
        if self.library is None:
            raise RuntimeError("the library is still loading")
        # Flags, tags and notes are the user's: a computed column never replaces them.
        clashes = {c: f"{c} (computed)" for c in frame.columns if c in ANNOTATION_COLUMNS}
        if clashes:
            frame = frame.rename(columns=clashes)
            notes = {clashes.get(k, k): v for k, v in (notes or {}).items()}
        names = add_columns(self.library, frame, drop=drop)
        renamed = dict(zip([str(c) for c in frame.columns], names, strict=True))
        results = [name for name in names if name in RESULT_COLUMNS]
        if results:
            self.newest_results = results + [c for c in self.newest_results if c not in results]
        for name, note in (notes or {}).items():
            self.library.column_notes[renamed.get(name, name)] = note
        position = self.current_position()
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        if sort_by is not None:
            self.model.prepare_sort(renamed.get(sort_by, sort_by), order)
        self.model.set_columns(library_columns(self.library, self.newest_results))
        # Added columns leave the others' data untouched: keep their text caches.
        self.model.set_frame(self.library.table, keep_text_caches=True)
        for column in self.model.structure_columns():
            self.view.setItemDelegateForColumn(column, self.delegate)
        self._apply_column_widths()
        self.filter_bar.set_numeric_columns(
            [
                (spec.key, spec.title)
                for spec in self.model.columns()
                if spec.kind in ("float", "int")
            ]
        )
        if sort_by is not None:
            number = self.model.column_index(renamed.get(sort_by, sort_by))
            header = self.view.horizontalHeader()
            header.blockSignals(True)  # the model is sorted already: only show the indicator
            header.setSortIndicator(number, order)
            header.blockSignals(False)
        if position is not None:
            self._select_position(position)
        self.columns_changed.emit()
        return names

    def _column_range(self, key: str) -> tuple[float, float] | None:
        """The finite (min, max) of a numeric column, for the range sliders."""
        import numpy as np

        if self.library is None or key not in self.library.table.columns:
            return None
        values = pd.to_numeric(self.library.table[key], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        values = values[np.isfinite(values)]
        return (float(values.min()), float(values.max())) if values.size else None

    def set_row_mask(self, mask, description: str) -> None:
        """Show only the rows of ``mask`` (search hits, a cluster…), described on a chip."""
        self.filter_bar.set_row_mask(mask, description)

    def view_state(self) -> dict:
        """Sort and filters as plain values (saved with a project)."""
        key, order = self.model.sort_column()
        sort = None
        if key is not None:
            sort = {"column": str(key), "descending": order == Qt.SortOrder.DescendingOrder}
        return {"sort": sort, "filters": self.filter_bar.state()}

    def restore_view_state(self, state: Mapping[str, Any]) -> list[str]:
        """Apply :meth:`view_state`; returns what could not be restored."""
        n_rows = len(self.library.table) if self.library is not None else None
        problems = list(self.filter_bar.set_state(state.get("filters") or {}, n_rows))
        sort = state.get("sort")
        if isinstance(sort, Mapping) and sort.get("column"):
            column = str(sort["column"])
            if self.model.column_index(column) >= 0:
                self.sort_by(column, bool(sort.get("descending", False)))
            else:
                problems.append(f"sort by '{column}', which the table lacks")
        return problems

    def sort_by(self, column: str, descending: bool = False) -> None:
        number = self.model.column_index(column)
        if number >= 0:
            order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
            self.view.sortByColumn(number, order)

    def selected_positions(self):
        """Frame positions of the selected rows, in view order."""
        import numpy as np

        # Selection ranges, not one index per cell: selecting a million rows stays instant.
        ranges = self.view.selectionModel().selection()
        if self.library is None or ranges.isEmpty():
            return np.zeros(0, dtype=np.int64)
        rows = np.unique(np.concatenate([np.arange(r.top(), r.bottom() + 1) for r in ranges]))
        return np.asarray(self.model.visible_positions()[rows], dtype=np.int64)

    def select_positions(self, positions) -> None:
        """Select these frame positions (those shown) and scroll to the first."""
        from PySide6.QtCore import QItemSelection

        selection = QItemSelection()
        last_column = self.model.columnCount() - 1
        first_row = None
        for position in positions:
            row = self.model.view_row(int(position))
            if row < 0:
                continue
            first_row = row if first_row is None else min(first_row, row)
            selection.select(self.model.index(row, 0), self.model.index(row, last_column))
        model = self.view.selectionModel()
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if first_row is not None:
            model.setCurrentIndex(
                self.model.index(first_row, 1), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            self.view.scrollTo(self.model.index(first_row, 1))

    def _on_selection_changed(self, *_args) -> None:
        self.selection_changed.emit(self.selected_positions())

    def table(self) -> pd.DataFrame | None:
        """The whole library's table (``None`` while the file loads)."""
        return self.library.table if self.library is not None else None

    def current_row(self) -> dict | None:
        index = self.view.currentIndex()
        if self.library is None or not index.isValid():
            return None
        position = self.model.source_row(index.row())
        return self.library.table.iloc[position].to_dict()

    def visible_table(self) -> pd.DataFrame:
        """The rows the table shows, in the order shown (for export)."""
        assert self.library is not None
        return self.library.table.iloc[self.model.visible_positions()].reset_index(drop=True)

    # ------------------------------------------------------------------------------------------
    # Flags, tags, notes and comparison

    def set_marks(self, column: str, positions, values, text: str = "") -> None:
        """Set ``column`` (flag, tags or notes) of frame ``positions`` as one undoable step."""
        if self.library is None:
            raise RuntimeError("the library is still loading")
        if column not in ANNOTATION_COLUMNS:
            raise ValueError(f"only {', '.join(ANNOTATION_COLUMNS)} can be edited, not {column}")
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size == 0:
            return
        values = list(values)
        if len(values) == 1 and positions.size > 1:
            values = values * int(positions.size)
        label = {FLAG_COLUMN: "flag", TAGS_COLUMN: "tags", NOTES_COLUMN: "note"}[column]
        text = text or f"Edit {label} of {positions.size:,} row{'s' if positions.size > 1 else ''}"
        self.undo_stack.push(SetMarksCommand(self, column, positions, values, text))

    def write_marks(self, column: str, positions: np.ndarray, values: list) -> list:
        """Write ``values`` into ``column`` at ``positions``; returns the previous values (what
        :class:`SetMarksCommand` does and undoes)."""
        assert self.library is not None
        keep = positions < len(self.library.table)
        positions = positions[keep]
        values = [v for v, k in zip(values, keep, strict=True) if k]
        if column == FLAG_COLUMN:
            values = [bool(v) for v in values]
        else:
            values = ["" if v is None else str(v) for v in values]
        previous = self.model.write_cells(column, positions, values)
        row_filter = self.model.row_filter()
        if row_filter is not None and column in row_filter.true_columns:
            self.model.set_filter(row_filter)  # unflagged rows leave a "flagged only" view
        self.annotations_changed.emit()
        return previous

    def _on_cell_edited(self, position: int, key, value) -> bool:
        if key not in ANNOTATION_COLUMNS:
            return False
        if self.library is None:  # a preview of a file still loading
            self.hint_label.setText("Flags, tags and notes can be set once loading ends.")
            return False
        self.set_marks(str(key), [position], [value])
        return True

    def _on_clicked(self, index) -> None:
        spec = self.model.columns()[index.column()] if index.isValid() else None
        if spec is not None and spec.key == FLAG_COLUMN and self.library is not None:
            position = self.model.source_row(index.row())
            flagged = bool(self.library.table[FLAG_COLUMN].iat[position])
            self.set_marks(FLAG_COLUMN, [position], [not flagged], "Unflag" if flagged else "Flag")

    def flag_selected(self) -> None:
        """Flag the selected rows, or unflag them when all are flagged already."""
        positions = self.selected_positions()
        if self.library is None or positions.size == 0:
            return
        flags = self.library.table[FLAG_COLUMN].to_numpy(dtype=bool)[positions]
        flag = not bool(flags.all())
        verb = "Flag" if flag else "Unflag"
        self.set_marks(FLAG_COLUMN, positions, [flag], f"{verb} {positions.size:,} rows")

    def tag_selected(self, tag: str) -> None:
        """Add ``tag`` (comma-separated for several) to every selected row's tags."""
        positions = self.selected_positions()
        if self.library is None or positions.size == 0 or not tag.strip():
            return
        current = self.library.table[TAGS_COLUMN].to_numpy(dtype=object)[positions]
        values = [with_tag(str(text or ""), tag) for text in current]
        self.set_marks(TAGS_COLUMN, positions, values, f"Tag {positions.size:,} rows '{tag}'")

    def choose_tag(self) -> None:
        if self.selected_positions().size == 0:
            return
        tag, accepted = QInputDialog.getText(self, "Add tag", "Tag for the selected rows:")
        if accepted:
            self.tag_selected(tag)

    def compare_selected(self) -> CompareDialog | None:
        """Open the selected rows (2–6) side by side."""
        positions = self.selected_positions()
        if self.library is None:
            return None
        if not MIN_COMPARE <= positions.size <= MAX_COMPARE:
            self.hint_label.setText(
                f"Select {MIN_COMPARE} to {MAX_COMPARE} rows to compare "
                f"({positions.size} selected)."
            )
            return None
        self.hint_label.clear()
        rows = self.library.table.iloc[positions]
        dialog = CompareDialog(rows, self.model.columns(), positions.tolist(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(
            lambda _obj=None, d=dialog: (
                self.compare_dialogs.remove(d) if d in self.compare_dialogs else None
            )
        )
        self.compare_dialogs.append(dialog)
        dialog.show()
        return dialog

    def _show_context_menu(self, point) -> None:
        if self.library is None:
            return
        menu = QMenu(self)
        n = self.selected_positions().size
        for action in (self.flag_action, self.tag_action, self.compare_action):
            menu.addAction(action)
        self.compare_action.setEnabled(MIN_COMPARE <= n <= MAX_COMPARE)
        index = self.view.indexAt(point)
        if index.isValid():
            self.add_row_links(menu, self.model.source_row(index.row()))
        menu.exec(self.view.viewport().mapToGlobal(point))
        self.compare_action.setEnabled(True)
        menu.deleteLater()

    def add_row_links(self, menu: QMenu, position: int) -> None:
        """Add the row's links into other areas to ``menu``: "Place in pocket" (Proteins),
        "Show 3D" (the Molecule panel) and, for each column a model predicted (its note names
        the model), "Explain prediction" (Models)."""
        if self.library is None or not 0 <= position < len(self.library.table):
            return
        menu.addSeparator()
        for link, text, tip in (
            ("pocket", "Place in pocket",
             "Show a 3D conformer of this molecule at the binding site open in Proteins"),
            ("3d", "Show 3D", "Predict and show this molecule's 3D conformers"),
        ):  # fmt: skip
            action = menu.addAction(text)
            action.setToolTip(tip)
            action.triggered.connect(
                lambda _checked=False, link=link: self.row_link_requested.emit(
                    link, position, self.library.table.iloc[position].to_dict()
                )
            )
        from ui.models_area.prediction_notes import model_predictions

        predictions = model_predictions(self.library.column_notes, self.library.table.columns)
        for column, (target, model) in predictions.items():
            action = menu.addAction(f"Explain prediction of {column} ({model})")
            action.setToolTip(f"Models: which atoms drive {model}'s prediction of {target} here")
            action.triggered.connect(
                lambda _checked=False, link=f"explain:{column}": self.row_link_requested.emit(
                    link, position, self.library.table.iloc[position].to_dict()
                )
            )
