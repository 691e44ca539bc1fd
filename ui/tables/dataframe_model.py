"""One table model for every table in the app: a pandas DataFrame seen through a row permutation.

:class:`DataFrameModel` shows a :class:`core.table_view.FrameView` (the frame, its columns, the
sort and the filter, and ``order``: the frame positions shown) to Qt's views. Column arrays are
taken once per :meth:`~DataFrameModel.set_frame`, never ``iloc`` per cell, so opening a million-row
library costs milliseconds; sorting and filtering do not copy the frame and do not use
``QSortFilterProxyModel``. What is Qt's lives here: roles, layout changes that keep the selection
on its records, and a worker thread for the sorts and filters of large tables (the table keeps its
order until the new one is ready).

Structures are not drawn by the model. A ``"structure"`` column answers
:data:`STRUCTURE_SMILES_ROLE` with the SMILES; :class:`ui.tables.structure_delegate.StructureDelegate`
draws the picture. Qt paints only visible cells, so pictures are drawn lazily.

Predictions outside their model's applicability domain are greyed: a ``<target>``,
``<target>_std``, ``<target>_lower`` or ``<target>_upper`` cell whose ``<target>_in_domain`` is
False is drawn in :data:`OUT_OF_DOMAIN_COLOR`, and its tooltip says how similar the nearest
training molecule is (``<target>_nearest_train_similarity``). The flags are read once per frame.

Views of this model must give the vertical header fixed-size sections for large tables
(:func:`configure_table_view` does it): with ``ResizeToContents`` Qt asks every row for its size,
which draws every structure and reads every cell of a million-row table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from core.models.domain import IN_DOMAIN_SUFFIX, SIMILARITY_SUFFIX

# The column and filter records are core's; imported here too, where the app has always
# imported them.
from core.table_columns import (
    COLUMN_KINDS,
    DEFAULT_SMILES_SOURCES,
    ERROR_COLUMN,
    VALID_COLUMN,
    ColumnKind,
    ColumnSpec,
    TableColumn,
    infer_columns,
    infer_kind,
    is_text_dtype,
    stable_order,
    structure_column,
)
from core.table_view import FrameView, RowFilter, sort_rows

RawValueRole = int(Qt.ItemDataRole.UserRole) + 1
"""The cell's raw Python value (``None`` when missing); also the sort role."""
SortRole = RawValueRole
STRUCTURE_SMILES_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""For ``"structure"`` columns: the SMILES to draw (``""`` when the row has none)."""
PROBLEM_ROLE = int(Qt.ItemDataRole.UserRole) + 3
"""For ``"structure"`` columns of invalid rows: why the record is invalid (the frame's ``error``
column, else "Invalid record"); ``None`` for valid rows. The structure delegate draws it."""

LONG_TEXT = 40
"""Text cells longer than this many characters show the full text as a tooltip."""
INVALID_ROW_COLOR = QColor(255, 224, 224)

_ALIGN_NUMBER = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_TEXT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ALIGN_CENTER = Qt.AlignmentFlag.AlignCenter
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
OUT_OF_DOMAIN_COLOR = QColor(150, 150, 150)
"""Text colour of a prediction outside its model's applicability domain."""
PREDICTION_SUFFIXES = ("_std", "_lower", "_upper")
"""Columns beside a prediction that belong to it and share its in-domain flag."""
COMPUTED_SUFFIX = " (computed)"
"""What a library adds to a computed column's name when the input file had the name."""
STAR_ON, STAR_OFF = "★", "☆"
STAR_COLOR = QColor(214, 150, 0)
# PySide6 emits the no-argument overload of layout signals unless the signature is named.
_LAYOUT_SIGNATURE = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")
ASYNC_ROWS = 200_000
"""Above this many rows, sorting and filtering are computed in a worker thread: the table keeps
its current order until the new one is ready, and the window stays responsive."""
TEXT_ASYNC_ROWS = 20_000
"""Sorting by text and filtering by words lower-case and compare every string (the first time
half a second for 150,000 rows): above this many rows they run in the worker thread too."""
log = logging.getLogger(__name__)


class DataFrameModel(QAbstractTableModel):
    """A table model over a pandas DataFrame, sorted and filtered by a row permutation; read-only
    except for columns whose :class:`ColumnSpec` is ``editable``.

    Views of this model must use fixed-size vertical header sections for large tables
    (``verticalHeader().setSectionResizeMode(QHeaderView.Fixed)`` and ``setDefaultSectionSize``):
    anything else makes Qt measure every row. :func:`configure_table_view` sets this up.

    Signals
    -------
    filter_changed(shown, total)
        After every filter change or new frame: rows shown and rows in the frame.
    """

    filter_changed = Signal(int, int)
    busy_changed = Signal(bool)
    """True while a sort or filter of a large table is being computed in the background."""
    _computed = Signal(str, int, object)  # kind, generation, (apply, result, error)

    def __init__(self, frame: pd.DataFrame | None = None, parent=None) -> None:
        super().__init__(parent)
        self._view = FrameView()
        self._generations = {"sort": 0, "filter": 0}
        self._pending = 0
        self._executor: ThreadPoolExecutor | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._computed.connect(self._on_computed)
        self._domain_cache: dict[Hashable, tuple[np.ndarray, np.ndarray | None] | None] = {}
        self.edit_handler: Callable[[int, Hashable, Any], bool] | None = None
        """Called with (frame position, column key, new value) for user edits of editable
        columns; returns whether the edit was taken. ``None``: edits are written to the frame."""
        if frame is not None:
            self.set_frame(frame)

    # ------------------------------------------------------------------------------------------
    # Data and columns

    def frame(self) -> pd.DataFrame:
        """The frame shown (not a copy: do not modify it; call :meth:`set_frame` with a new one)."""
        return self._view.frame

    def set_frame(self, frame: pd.DataFrame | None, keep_text_caches: bool = False) -> None:
        """Show ``frame``; columns set with :meth:`set_columns`, the sort and the filter are kept.

        Only column arrays are taken here (no per-cell work); sorting and filtering a large frame
        happen only when a sort or filter is active. ``keep_text_caches``: the frame holds the
        same rows (columns added, none edited in place), so unchanged text columns keep their
        lower-case text and sort ranks.
        """
        view = self._view
        self.beginResetModel()
        view.set_frame(frame, keep_text_caches)
        self._domain_cache.clear()
        n = len(view)
        # A new frame makes pending results for the old one meaningless.
        for kind in self._generations:
            self._generations[kind] += 1
        sort_column = None if view.sort_key is None else view.column_for_key(view.sort_key)
        if (view.sort_key is not None and self._sort_is_slow(sort_column)) or (
            view.row_filter is not None and self._filter_is_slow(view.row_filter)
        ):
            # Keep showing the current order while the new one is computed aside; an order made
            # for other rows falls back to frame order meanwhile.
            view.fit_results_to_frame()
            self.endResetModel()
            self.filter_changed.emit(len(view.order), n)
            self._resort_async()
            self._refilter_async(view.row_filter)
            return
        view.resort()
        view.mask = view.filter_mask(view.row_filter)
        view.update_order()
        self.endResetModel()
        self.filter_changed.emit(len(view.order), n)

    def columns(self) -> list[ColumnSpec]:
        """The visible columns, in order."""
        return [column.spec for column in self._view.columns]

    def set_columns(self, specs: Sequence[ColumnSpec] | None) -> None:
        """Choose and order the visible columns; ``None`` shows every frame column (the default).

        Specs naming a column the frame lacks show empty cells; they fill in when a later frame
        has the column. When the sort column is gone, rows go back to frame order.
        """
        self.beginResetModel()
        self._view.set_specs(specs)
        self.endResetModel()

    def column_index(self, key: Hashable) -> int:
        """The model column showing ``key``, or -1."""
        return self._view.column_index(key)

    def structure_columns(self) -> list[int]:
        """Model columns of kind ``"structure"`` (give them a ``StructureDelegate``)."""
        return [n for n, column in enumerate(self._view.columns) if column.spec.kind == "structure"]

    def write_cells(self, key: Hashable, positions: Sequence[int], values: Sequence[Any]) -> list:
        """Set cells of column ``key`` at frame positions; returns the previous values.

        The column is replaced whole (its dtype kept), so arrays other code took from the frame
        are not changed under it. Sort order and filter are kept until the next sort or filter.
        """
        previous = self._view.write_cells(key, positions, values)
        self.refresh_column(key, positions)
        return previous

    def refresh_column(self, key: Hashable, positions: Sequence[int] | None = None) -> None:
        """Re-read column ``key`` from the frame after it changed in place (cell edits)."""
        numbers = self._view.refresh_column(key)
        self._domain_cache.clear()
        n_rows = len(self._view.order)
        if not numbers or not n_rows:
            return
        rows = (
            None
            if positions is None
            else [r for p in positions if (r := self.view_row(int(p))) >= 0]
        )
        for number in numbers:
            if rows is None or len(rows) > 200:
                self.dataChanged.emit(self.index(0, number), self.index(n_rows - 1, number))
            else:
                for row in rows:
                    cell = self.index(row, number)
                    self.dataChanged.emit(cell, cell)

    # ------------------------------------------------------------------------------------------
    # Row mapping

    def total_rows(self) -> int:
        """Rows in the frame, shown or not."""
        return len(self._view)

    def source_row(self, view_row: int) -> int:
        """The frame position shown at ``view_row``."""
        return int(self._view.order[view_row])

    def view_row(self, source_row: int) -> int:
        """The view row showing frame position ``source_row``, or -1 when filtered out."""
        return self._view.view_row(source_row)

    def visible_positions(self) -> np.ndarray:
        """Frame positions in view order (read-only): exactly the rows shown, as shown."""
        positions = self._view.order.view()
        positions.flags.writeable = False
        return positions

    def _change_layout(self, update: Callable[[], None]) -> None:
        """Run ``update`` (which changes the view's order) inside a layout change, moving
        persistent indexes (selection, current item) to the rows that now show their records."""
        hint = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
        # Only rows move: the hint lets QItemSelectionModel track one index per selected row.
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], hint)
        old_order = self._view.order
        persistent = self.persistentIndexList()
        update()
        if persistent:
            new_from, new_to = [], []
            n_rows = len(self._view.order)
            for index in persistent:
                row = index.row()
                if not 0 <= row < len(old_order):
                    continue
                target = self.view_row(int(old_order[row]))
                new_from.append(index)
                if 0 <= target < n_rows:
                    new_to.append(self.createIndex(target, index.column()))
                else:
                    new_to.append(QModelIndex())
            self.changePersistentIndexList(new_from, new_to)
        self.layoutChanged[_LAYOUT_SIGNATURE].emit([], hint)

    # ------------------------------------------------------------------------------------------
    # Sorting

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort rows by a column (stable; missing and empty values last in both directions).

        ``column = -1`` restores frame order. Sorting a structure column does nothing.
        """
        view = self._view
        order = Qt.SortOrder(order)  # plain ints from callers compare unequal to the enum
        if column >= len(view.columns):
            return
        if column >= 0 and view.columns[column].spec.kind == "structure":
            return
        key = None if column < 0 else view.columns[column].spec.key
        if key is None and view.sorted is None:
            return
        ascending = order == Qt.SortOrder.AscendingOrder

        if self._sort_is_slow(None if column < 0 else view.columns[column]):
            view.sort_key, view.ascending = key, ascending
            self._resort_async()
            return

        def update() -> None:
            view.sort_key, view.ascending = key, ascending
            view.resort()
            view.update_order()

        self._generations["sort"] += 1  # a slower sort still computing must not land after this
        self._change_layout(update)

    def prepare_sort(self, key: Hashable | None, order: Qt.SortOrder) -> None:
        """Sort by ``key`` from the next :meth:`set_frame` on (a column that frame brings), so a
        new frame is sorted once, by the right column."""
        self._view.sort_key = key
        self._view.ascending = Qt.SortOrder(order) == Qt.SortOrder.AscendingOrder

    def sort_column(self) -> tuple[Hashable | None, Qt.SortOrder]:
        """The key sorted by (``None`` for frame order) and the direction."""
        view = self._view
        direction = Qt.SortOrder.AscendingOrder if view.ascending else Qt.SortOrder.DescendingOrder
        return view.sort_key, direction

    def _sort_is_slow(self, column: TableColumn | None) -> bool:
        """Whether a sort by ``column`` (None: frame order) is computed in the worker thread."""
        n = len(self._view)
        text = column is not None and column.spec.kind == "text"
        return n > ASYNC_ROWS or (text and n > TEXT_ASYNC_ROWS)

    def _resort_async(self) -> None:
        view = self._view
        column = None if view.sort_key is None else view.column_for_key(view.sort_key)
        n, ascending = len(view), view.ascending

        def apply(permutation: np.ndarray | None) -> None:
            self._change_layout(lambda: view.apply_sort(permutation))

        self._run_async("sort", lambda: sort_rows(column, n, ascending), apply)

    # ------------------------------------------------------------------------------------------
    # Filtering

    def row_filter(self) -> RowFilter | None:
        return self._view.row_filter

    def set_filter(self, row_filter: RowFilter | None) -> None:
        """Show only the rows passing ``row_filter`` (``None``: all rows), keeping the sort.

        For large frames the mask is computed in a worker thread and applied when ready."""
        if self._filter_is_slow(row_filter):
            self._refilter_async(row_filter)
            return
        self._generations["filter"] += 1  # a slower filter still computing must not land later
        self._apply_filter(row_filter, self._view.filter_mask(row_filter))

    def filter_mask(self, row_filter: RowFilter | None) -> np.ndarray:
        """Which frame rows pass ``row_filter`` (a boolean array over frame positions)."""
        mask = self._view.filter_mask(row_filter)
        return np.ones(len(self._view), dtype=bool) if mask is None else mask

    def _filter_is_slow(self, row_filter: RowFilter | None) -> bool:
        """Whether ``row_filter`` is computed in the worker thread."""
        n = len(self._view)
        if n > ASYNC_ROWS:
            return True
        words = row_filter is not None and bool(
            row_filter.text
            or row_filter.without_text
            or row_filter.empty_columns
            or row_filter.nonempty_columns
        )
        return words and n > TEXT_ASYNC_ROWS

    def _refilter_async(self, row_filter: RowFilter | None) -> None:
        self._run_async(
            "filter",
            lambda: self._view.filter_mask(row_filter),
            lambda mask: self._apply_filter(row_filter, mask),
        )

    def _apply_filter(self, row_filter: RowFilter | None, mask: np.ndarray | None) -> None:
        self._change_layout(lambda: self._view.apply_filter(row_filter, mask))
        self.filter_changed.emit(len(self._view.order), len(self._view))

    # ------------------------------------------------------------------------------------------
    # The worker thread

    def _run_async(
        self, kind: str, compute: Callable[[], Any], apply: Callable[[Any], None]
    ) -> None:
        """Compute in the worker thread; apply on the GUI thread unless a newer request of the
        same kind (or a new frame) came meanwhile."""
        self._generations[kind] += 1
        generation = self._generations[kind]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="table-model")
        self._pending += 1
        self._idle.clear()
        if self._pending == 1:
            self.busy_changed.emit(True)

        def work() -> None:
            try:
                payload = (apply, compute(), None)
            except Exception as error:  # shown in the log; the table keeps its order
                payload = (apply, None, error)
            try:
                self._computed.emit(kind, generation, payload)
            except RuntimeError:  # the model was deleted meanwhile (its tab closed)
                pass

        self._executor.submit(work)

    def _on_computed(self, kind: str, generation: int, payload) -> None:
        self._pending -= 1
        apply, result, error = payload
        if generation == self._generations[kind]:
            if error is not None:
                log.error("Table %s failed", kind, exc_info=error)
            else:
                apply(result)
        if self._pending == 0:
            self._idle.set()
            self.busy_changed.emit(False)

    def is_busy(self) -> bool:
        return self._pending > 0

    def wait_until_idle(self, timeout_ms: int = 60_000) -> bool:
        """Process events until background sorts and filters are applied (tests, scripts)."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer, QThread

        timer = QElapsedTimer()
        timer.start()
        while self._pending and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
            QThread.msleep(5)
        return not self._pending

    def shutdown(self, wait: bool = True) -> None:
        """Stop the worker thread (pending results are dropped). ``wait=False``: a computation
        under way finishes on its own, then the thread ends (for a table going away)."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------------------------------------
    # QAbstractItemModel

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._view.order)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._view.columns)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        col = index.column()
        if 0 <= col < len(self._view.columns):
            spec = self._view.columns[col].spec
            if spec.editable and spec.kind == "text":
                return _FLAGS | Qt.ItemFlag.ItemIsEditable
        return _FLAGS

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: Any,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        """A user edit of an editable column (text: EditRole; star: EditRole with a bool)."""
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._view.order) and 0 <= col < len(self._view.columns)):
            return False
        spec = self._view.columns[col].spec
        if not spec.editable or not self._view.arrays.has(spec.key):
            return False
        value = bool(value) if spec.kind == "bool" else ("" if value is None else str(value))
        position = int(self._view.order[row])
        if self._view.columns[col].raw(position) == value or (
            value == "" and self._view.columns[col].raw(position) is None
        ):
            return False
        if self.edit_handler is not None:
            return bool(self.edit_handler(position, spec.key, value))
        self.write_cells(spec.key, [position], [value])
        return True

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._view.order) and 0 <= col < len(self._view.columns)):
            return None
        column = self._view.columns[col]
        position = int(self._view.order[row])
        kind = column.spec.kind
        editable_bool = kind == "bool" and column.spec.editable
        if role == Qt.ItemDataRole.DisplayRole:
            if editable_bool:
                return STAR_ON if column.raw(position) else STAR_OFF
            return column.display(position)
        if role == Qt.ItemDataRole.EditRole:
            if kind == "bool":
                return bool(column.raw(position))
            return column.display(position)
        if role == Qt.ItemDataRole.ForegroundRole:
            if editable_bool:
                return STAR_COLOR
            domain = self._domain_arrays(column.spec.key)
            return OUT_OF_DOMAIN_COLOR if domain is not None and domain[0][position] else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return INVALID_ROW_COLOR if self._view.invalid[position] else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if kind in ("int", "float"):
                return _ALIGN_NUMBER
            return _ALIGN_CENTER if kind == "bool" else _ALIGN_TEXT
        if role == Qt.ItemDataRole.CheckStateRole:
            if kind != "bool" or editable_bool:
                return None
            value = column.raw(position)
            if value is None:
                return None
            return Qt.CheckState.Checked if value else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            if self._view.invalid[position]:
                error = "" if self._view.errors is None else self._view.errors[position]
                return str(error) if isinstance(error, str) and error else "Invalid record"
            if kind == "structure":
                return column.smiles(position) or None
            domain = self._domain_arrays(column.spec.key)
            if domain is not None and domain[0][position]:
                return _out_of_domain_tip(domain[1], position)
            if editable_bool:
                return column.spec.tooltip or None
            if kind == "text":
                text = column.display(position)
                return text if len(text) > LONG_TEXT else None
            return None
        if role == RawValueRole:
            return column.raw(position)
        if role == STRUCTURE_SMILES_ROLE:
            return column.smiles(position) if kind == "structure" else None
        if role == PROBLEM_ROLE:
            if kind != "structure" or not self._view.invalid[position]:
                return None
            error = "" if self._view.errors is None else self._view.errors[position]
            return str(error) if isinstance(error, str) and error else "Invalid record"
        return None

    def _domain_arrays(self, key: Hashable) -> tuple[np.ndarray, np.ndarray | None] | None:
        """For a prediction column: (outside the domain per frame row, nearest training
        similarity or None); ``None`` for other columns. Read once per frame, then cached."""
        try:
            return self._domain_cache[key]
        except KeyError:
            pass
        found = None
        arrays = self._view.arrays
        if isinstance(key, str) and not key.endswith((IN_DOMAIN_SUFFIX, SIMILARITY_SUFFIX)):
            base = key.removesuffix(COMPUTED_SUFFIX)
            # The column itself first: a target may be named "x_std" and have its own flags.
            targets = [base] + [base[: -len(s)] for s in PREDICTION_SUFFIXES if base.endswith(s)]
            for target in targets:
                flags = f"{target}{IN_DOMAIN_SUFFIX}"
                if target and arrays.has(flags):
                    similarity_key = f"{target}{SIMILARITY_SUFFIX}"
                    similarity = (
                        pd.to_numeric(arrays.series(similarity_key), errors="coerce").to_numpy(
                            dtype=float, na_value=np.nan
                        )
                        if arrays.has(similarity_key)
                        else None
                    )
                    found = (_is_false(arrays.series(flags)), similarity)
                    break
        self._domain_cache[key] = found
        return found

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._view.columns):
                return None
            spec = self._view.columns[section].spec
            if role == Qt.ItemDataRole.DisplayRole:
                return spec.title
            if role == Qt.ItemDataRole.ToolTipRole:
                return spec.tooltip or None
            if role == Qt.ItemDataRole.InitialSortOrderRole:
                return int(Qt.SortOrder.AscendingOrder.value)  # the same first click on any style
            return None
        if not 0 <= section < len(self._view.order):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            # The record number: the frame position + 1, stable under sorting and filtering.
            return str(int(self._view.order[section]) + 1)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN_NUMBER
        return None


def _is_false(flags: pd.Series) -> np.ndarray:
    """Where an in-domain column says False (missing and unknown values are not False):
    a boolean column, a number 0, or the text "false"/"0"/"no" (a column read back from a file)."""
    dtype = flags.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return flags.eq(0).fillna(False).to_numpy(dtype=bool)
    false_texts = {"false", "0", "no"}
    return np.fromiter(
        (
            (value is False or (isinstance(value, (int, float, np.bool_)) and value == 0))
            or (isinstance(value, str) and value.strip().lower() in false_texts)
            for value in flags.to_numpy()
        ),
        dtype=bool,
        count=len(flags),
    )


def _out_of_domain_tip(similarity: np.ndarray | None, position: int) -> str:
    value = np.nan if similarity is None else similarity[position]
    nearest = (
        f"nearest training molecule {value:.2f} similar"
        if np.isfinite(value)
        else "nearest training molecule not known"
    )
    return (
        f"Outside the model's domain: {nearest} (ECFP4 Tanimoto), less than the threshold on "
        "the model card. Treat this prediction as an extrapolation."
    )


def configure_table_view(view: QTableView, picture_height: int | None = None) -> None:
    """Set up a table view for a (possibly million-row) :class:`DataFrameModel`.

    Rows get a fixed height (``picture_height`` plus a 4 px margin when structures are shown,
    else one line of text), so Qt never measures rows; the header sorts on click (ascending,
    descending, then back to frame order); rows are selected whole; colours alternate; the
    view scrolls horizontally by pixel.
    """
    vertical = view.verticalHeader()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    text_height = view.fontMetrics().height() + 8
    height = text_height if picture_height is None else int(picture_height) + 4
    vertical.setMinimumSectionSize(min(vertical.minimumSectionSize(), height))
    vertical.setDefaultSectionSize(height)
    horizontal = view.horizontalHeader()
    horizontal.setSortIndicatorClearable(True)
    # setSortingEnabled sorts at once by the indicator: start from "unsorted", not column 0.
    horizontal.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setWordWrap(False)


__all__ = [
    "COLUMN_KINDS",
    "DEFAULT_SMILES_SOURCES",
    "ERROR_COLUMN",
    "INVALID_ROW_COLOR",
    "OUT_OF_DOMAIN_COLOR",
    "PROBLEM_ROLE",
    "STAR_OFF",
    "STAR_ON",
    "STRUCTURE_SMILES_ROLE",
    "VALID_COLUMN",
    "ColumnKind",
    "ColumnSpec",
    "DataFrameModel",
    "RawValueRole",
    "RowFilter",
    "SortRole",
    "configure_table_view",
    "infer_columns",
    "infer_kind",
    "is_text_dtype",
    "stable_order",
    "structure_column",
]
