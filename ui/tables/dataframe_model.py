"""One table model for every table in the app: a pandas DataFrame seen through a row permutation.

:class:`DataFrameModel` reads column arrays that are taken once per :meth:`~DataFrameModel.set_frame`
(``frame[col].to_numpy()``), never ``iloc`` per cell, so opening a million-row library costs
milliseconds. Sorting and filtering do not copy the frame and do not use
``QSortFilterProxyModel``: the model keeps ``_order``, the frame positions in view order (as
Orange3's ``TableModel`` does), and rebuilds it with vectorised numpy/pandas operations.

Structures are not drawn by the model. A ``"structure"`` column answers
:data:`STRUCTURE_SMILES_ROLE` with the SMILES; :class:`ui.tables.structure_delegate.StructureDelegate`
draws the picture. Qt paints only visible cells, so pictures are drawn lazily.

Views of this model must give the vertical header fixed-size sections for large tables
(:func:`configure_table_view` does it): with ``ResizeToContents`` Qt asks every row for its size,
which draws every structure and reads every cell of a million-row table.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

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

ColumnKind = Literal["text", "float", "int", "bool", "structure"]
COLUMN_KINDS: tuple[str, ...] = ("text", "float", "int", "bool", "structure")

RawValueRole = int(Qt.ItemDataRole.UserRole) + 1
"""The cell's raw Python value (``None`` when missing); also the sort role."""
SortRole = RawValueRole
STRUCTURE_SMILES_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""For ``"structure"`` columns: the SMILES to draw (``""`` when the row has none)."""
PROBLEM_ROLE = int(Qt.ItemDataRole.UserRole) + 3
"""For ``"structure"`` columns of invalid rows: why the record is invalid (the frame's ``error``
column, else "Invalid record"); ``None`` for valid rows. The structure delegate draws it."""

VALID_COLUMN = "valid"
ERROR_COLUMN = "error"
DEFAULT_SMILES_SOURCES: tuple[str, ...] = ("canonical_smiles", "smiles")
LONG_TEXT = 40
"""Text cells longer than this many characters show the full text as a tooltip."""
INVALID_ROW_COLOR = QColor(255, 224, 224)

_ALIGN_NUMBER = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_TEXT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ALIGN_CENTER = Qt.AlignmentFlag.AlignCenter
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
STAR_ON, STAR_OFF = "★", "☆"
STAR_COLOR = QColor(214, 150, 0)
# PySide6 emits the no-argument overload of layout signals unless the signature is named.
_LAYOUT_SIGNATURE = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")
# Above this many bytes, sorting unique strings as a fixed-width numpy array costs too much memory;
# fall back to sorting Python objects (slower, no extra memory).
_UNICODE_SORT_BYTES = 64 * 1024 * 1024
_TEXT_CHUNK = 50_000
ASYNC_ROWS = 200_000
"""Above this many rows, sorting and filtering are computed in a worker thread: the table keeps
its current order until the new one is ready, and the window stays responsive."""
TEXT_ASYNC_ROWS = 20_000
"""Sorting by text and filtering by words lower-case and compare every string (the first time
half a second for 150,000 rows): above this many rows they run in the worker thread too."""
log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class ColumnSpec:
    """One visible column of a :class:`DataFrameModel`.

    Parameters
    ----------
    key
        The frame column shown, or any name for a virtual ``"structure"`` column.
    title
        Header text; the key when empty.
    kind
        ``"text"``, ``"float"``, ``"int"``, ``"bool"`` or ``"structure"``.
    decimals
        Digits after the decimal point for ``"float"`` columns.
    tooltip
        Header tooltip.
    source
        For ``"structure"`` columns: frame columns holding SMILES, tried in order for each row
        until one is a non-empty string.
    editable
        The user may change the cells: ``"text"`` cells through an editor (double-click, F2),
        ``"bool"`` cells are shown as a star (★/☆) that the view toggles with
        :meth:`DataFrameModel.setData`. Edits go to :attr:`DataFrameModel.edit_handler` when set
        (to make them undoable), else straight into the frame.
    formatter
        For ``"text"`` columns: how a non-empty cell is shown (``C9H8O4`` as ``C₉H₈O₄``). Sorting,
        filtering and editing still see the stored text.
    """

    key: Hashable
    title: str = ""
    kind: ColumnKind = "text"
    decimals: int = 2
    tooltip: str = ""
    source: tuple[str, ...] = ()
    editable: bool = False
    formatter: Callable[[str], str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; expected one of {COLUMN_KINDS}")
        if not self.title:
            object.__setattr__(self, "title", str(self.key))
        if self.kind == "structure" and not self.source:
            object.__setattr__(self, "source", DEFAULT_SMILES_SOURCES)
        if self.editable and self.kind not in ("text", "bool"):
            raise ValueError(f"only text and bool columns can be editable, not {self.kind!r}")


def structure_column(
    key: str = "structure",
    title: str = "Structure",
    source: tuple[str, ...] = DEFAULT_SMILES_SOURCES,
    tooltip: str = "2D structure",
) -> ColumnSpec:
    """A virtual column that shows the picture of the first non-empty SMILES in ``source``."""
    return ColumnSpec(key=key, title=title, kind="structure", tooltip=tooltip, source=source)


def infer_kind(dtype: Any) -> ColumnKind:
    """The column kind for a pandas dtype: bool, int (nullable ``Int64`` too), float, else text."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "text"


def infer_columns(frame: pd.DataFrame) -> list[ColumnSpec]:
    """A :class:`ColumnSpec` for every column of ``frame``, in order, kinds from the dtypes."""
    specs = []
    seen: set[Hashable] = set()
    for position, name in enumerate(frame.columns):
        if name in seen:  # duplicate names: the model shows the first
            continue
        seen.add(name)
        specs.append(ColumnSpec(key=name, kind=infer_kind(frame.dtypes.iloc[position])))
    return specs


def is_text_dtype(dtype: Any) -> bool:
    """Whether a column holds text: ``object`` or a pandas string dtype."""
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


@dataclass(slots=True, frozen=True)
class RowFilter:
    """Which rows a :class:`DataFrameModel` shows.

    Parameters
    ----------
    text
        Words separated by spaces; a row passes when every word occurs (case-insensitive
        substring) in at least one of ``text_columns``.
    ranges
        ``(column, minimum, maximum)``, inclusive, ``None`` for an open end. Missing values
        (NaN/NA) fail a range; so does every row when the column is not in the frame.
    valid
        ``"all"``, ``"valid"`` or ``"invalid"``: rows by the frame's boolean ``valid`` column;
        ignored when the frame has none.
    text_columns
        Columns searched for ``text``; ``None`` searches every text (object/string) column.
    true_columns
        Boolean columns that must be true (``("flag",)``: flagged rows only); a row fails when
        the frame lacks the column.
    empty_columns, nonempty_columns
        Text columns that must be empty (``("alerts",)``: no structural alert) or must not be.
    without_text
        ``(column, word)`` pairs: the column must not contain the word (case-insensitive), as
        ``("alerts", "pains")`` keeps molecules free of PAINS alerts.
    """

    text: str = ""
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()
    valid: Literal["all", "valid", "invalid"] = "all"
    text_columns: tuple[str, ...] | None = None
    true_columns: tuple[str, ...] = ()
    empty_columns: tuple[str, ...] = ()
    nonempty_columns: tuple[str, ...] = ()
    without_text: tuple[tuple[str, str], ...] = ()
    rows: np.ndarray | None = field(default=None, compare=False)
    """Boolean mask over frame positions (search hits, a cluster); ``None`` keeps every row."""

    def __post_init__(self) -> None:
        if self.valid not in ("all", "valid", "invalid"):
            raise ValueError(f"valid must be 'all', 'valid' or 'invalid', not {self.valid!r}")

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.text.lower().split())

    def is_empty(self) -> bool:
        """Whether the filter lets every row through (on any frame)."""
        return (
            not self.words
            and not self.ranges
            and self.valid == "all"
            and self.rows is None
            and not self.true_columns
            and not self.empty_columns
            and not self.nonempty_columns
            and not self.without_text
        )


class _Column:
    """A column's data, taken from the frame once; sort keys and lower-case text come lazily."""

    __slots__ = (
        "_arrays",
        "_loaded",
        "_missing",
        "_values",
        "lower",
        "sort_keys",
        "sort_missing",
        "sources",
        "spec",
    )

    def __init__(self, spec: ColumnSpec, arrays: _FrameArrays) -> None:
        self.spec = spec
        self._arrays = arrays
        self._values: np.ndarray | None = None
        self._missing: np.ndarray | None = None
        # The arrays are taken on first use: a new frame of a million rows and 45 columns then
        # costs nothing until a column is drawn, sorted or filtered.
        self._loaded = False
        self.sources: tuple[np.ndarray, ...] = ()
        self.sort_keys: np.ndarray | None = None
        self.sort_missing: np.ndarray | None = None
        self.lower: pd.Series | None = None
        if spec.kind == "structure":
            self.sources = tuple(arrays.objects(name) for name in spec.source if arrays.has(name))
            self._loaded = True

    @property
    def values(self) -> np.ndarray | None:
        if not self._loaded:
            self._load()
        return self._values

    @property
    def missing(self) -> np.ndarray | None:
        if not self._loaded:
            self._load()
        return self._missing

    def _load(self) -> None:
        # May run in the GUI thread and a sort/filter worker at once: both compute the same
        # arrays, and "loaded" is set only after they are in place.
        spec, arrays = self.spec, self._arrays
        values = missing = None
        if arrays.has(spec.key):  # else a spec for a column this frame lacks: cells are empty
            series = arrays.series(spec.key)
            if spec.kind == "float":
                if series.dtype == np.float64:  # a view: copying 28 columns of a million: 50 ms
                    values = series.to_numpy()
                else:
                    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                missing = np.isnan(values)
            elif spec.kind in ("int", "bool"):
                dtype = np.int64 if spec.kind == "int" else np.bool_
                if series.dtype == dtype:
                    # A view, nothing missing (a copy of a million values costs ~10 ms a column,
                    # and the first paint of a table loads every visible column).
                    values = series.to_numpy()
                    missing = np.zeros(len(values), dtype=bool)
                else:
                    # Nullable Int64/boolean: values plus a mask; to_numpy() alone gives floats
                    # or objects.
                    missing = series.isna().to_numpy(dtype=bool)
                    values = series.to_numpy(
                        dtype=dtype, na_value=0 if dtype is np.int64 else False
                    )
            else:
                values = arrays.objects(spec.key)
        self._values, self._missing = values, missing
        self._loaded = True

    def adopt_caches(self, other: _Column | None) -> None:
        """Take ``other``'s lower-case text and sort keys when it holds the very same data."""
        if (
            other is None
            or self.spec.kind != "text"
            or other.spec.kind != "text"
            or self.values is None
            or other.values is None
            or self.values.shape != other.values.shape
            or self.values.strides != other.values.strides
            or self.values.__array_interface__["data"][0]
            != other.values.__array_interface__["data"][0]
        ):
            return
        self.lower = other.lower
        self.sort_keys = other.sort_keys
        self.sort_missing = other.sort_missing

    def smiles(self, position: int) -> str:
        for values in self.sources:
            value = values[position]
            if isinstance(value, str) and value.strip():
                return value
        return ""

    def raw(self, position: int) -> Any:
        """The Python value at a frame position, ``None`` when missing."""
        kind = self.spec.kind
        if kind == "structure":
            return self.smiles(position)
        if self.values is None:
            return None
        if self.missing is not None and self.missing[position]:
            return None
        value = self.values[position]
        if kind == "float":
            return float(value)
        if kind == "int":
            return int(value)
        if kind == "bool":
            return bool(value)
        return None if _is_missing_scalar(value) else value

    def display(self, position: int) -> str:
        kind = self.spec.kind
        if kind in ("structure", "bool") or self.values is None:
            return ""
        if kind == "float":
            value = self.values[position]
            return "" if math.isnan(value) else f"{value:.{self.spec.decimals}f}"
        if self.missing is not None and self.missing[position]:
            return ""
        value = self.values[position]
        if kind == "int":
            return str(int(value))
        if _is_missing_scalar(value):
            return ""
        if self.spec.formatter is not None and value != "":
            return self.spec.formatter(str(value))
        return str(value)

    def text_lower(self) -> pd.Series:
        """Lower-case text of the column (NaN where missing), computed once per frame."""
        if self.lower is None:
            values = self.values if self.values is not None else np.array([], dtype=object)
            series = pd.Series(values, dtype=object, copy=False)
            parts = []
            for start in range(0, len(series), _TEXT_CHUNK):
                part = series.iloc[start : start + _TEXT_CHUNK]
                # astype(str) turns None into "None" in pandas 2: put the missing values back.
                parts.append(part.astype(str).str.lower().mask(part.isna()))
                # Lower-casing runs in C without letting other threads in; in a worker thread
                # that would freeze the window for the whole column, so yield between chunks.
                time.sleep(0)
            self.lower = pd.concat(parts) if len(parts) > 1 else (parts[0] if parts else series)
        return self.lower

    def sort_key(self, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys that order the column ascending, and the mask of values that sort last."""
        kind = self.spec.kind
        if self.values is None:
            return np.zeros(n_rows, dtype=np.int64), np.ones(n_rows, dtype=bool)
        if kind in ("float", "int", "bool"):
            return self.values, self.missing
        if self.sort_keys is None or self.sort_missing is None:
            # Case-insensitive; missing and empty strings sort last.
            lower = self.text_lower().to_numpy(dtype=object)
            missing = np.empty(len(lower), dtype=bool)
            texts = np.empty(len(lower), dtype=object)
            for start in range(0, len(lower), _TEXT_CHUNK):
                # In chunks: each test over a million objects holds the GIL for 30 ms.
                part = lower[start : start + _TEXT_CHUNK]
                absent = pd.isna(part)
                missing[start : start + len(part)] = absent | (part == "")
                texts[start : start + len(part)] = np.where(absent, "", part)
                time.sleep(0)
            self.sort_missing = missing
            self.sort_keys = _string_ranks(texts)
        return self.sort_keys, self.sort_missing


class _FrameArrays:
    """Column arrays of one frame, taken once; the first column wins when names repeat."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._positions: dict[Hashable, int] = {}
        for position, name in enumerate(frame.columns):
            self._positions.setdefault(name, position)
        self._objects: dict[Hashable, np.ndarray] = {}

    def has(self, name: Hashable) -> bool:
        return name in self._positions

    def series(self, name: Hashable) -> pd.Series:
        return self.frame.iloc[:, self._positions[name]]

    def objects(self, name: Hashable) -> np.ndarray:
        values = self._objects.get(name)
        if values is None:
            values = self._objects[name] = self.series(name).to_numpy()
        return values

    def text_columns(self) -> list[Hashable]:
        return [
            name
            for name, position in self._positions.items()
            if is_text_dtype(self.frame.dtypes.iloc[position])
        ]


def _is_missing_scalar(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _string_ranks_unicode(values: np.ndarray) -> np.ndarray | None:
    """Dense ranks of strings through a numpy unicode array, built in chunks that let other
    threads run (``pd.factorize`` on a million objects holds the GIL, and so freezes the window,
    for 0.1–0.2 s); numpy sorts and compares unicode without the GIL. ``None`` when the array
    would need more than ``2 × _UNICODE_SORT_BYTES``."""
    n = len(values)
    width = 1
    for start in range(0, n, _TEXT_CHUNK):
        width = max(width, max((len(v) for v in values[start : start + _TEXT_CHUNK]), default=1))
        time.sleep(0)
    if n * width * 4 > 2 * _UNICODE_SORT_BYTES:
        return None
    text = np.empty(n, dtype=f"U{width}")
    for start in range(0, n, _TEXT_CHUNK):
        text[start : start + _TEXT_CHUNK] = values[start : start + _TEXT_CHUNK]
        time.sleep(0)
    order = np.argsort(text, kind="stable")
    ordered = text[order]
    change = np.zeros(n, dtype=np.int64)
    change[1:] = ordered[1:] != ordered[:-1]
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.cumsum(change)
    return ranks


def _string_ranks(values: np.ndarray) -> np.ndarray:
    """Integer ranks of strings (equal strings share a rank), vectorised over unique values."""
    if len(values) >= ASYNC_ROWS:
        ranks = _string_ranks_unicode(values)
        if ranks is not None:
            return ranks
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(uniques, dtype=object)
    if len(uniques) == 0:
        return np.zeros(len(values), dtype=np.int64)
    width = int(pd.Series(uniques, dtype=object).str.len().max())
    if len(uniques) * max(width, 1) * 4 <= _UNICODE_SORT_BYTES:
        order = np.argsort(uniques.astype(f"U{max(width, 1)}"), kind="stable")
    else:
        order = np.argsort(uniques, kind="stable")
    ranks = np.empty(len(uniques), dtype=np.int64)
    ranks[order] = np.arange(len(uniques))
    return ranks[codes]


def stable_order(keys: np.ndarray, missing: np.ndarray, ascending: bool) -> np.ndarray:
    """Positions that sort ``keys``; ties keep position order and missing values come last.

    Both directions are stable: a descending sort is not the reverse of the ascending one when
    there are ties.
    """
    present = np.flatnonzero(~missing)
    values = keys[present]
    if ascending:
        order = np.argsort(values, kind="stable")
    else:
        # Sorting the reversed array ascending, then reversing, gives descending with ties kept
        # in their original order, for any dtype (negating would not work for strings or uints).
        order = len(values) - 1 - np.argsort(values[::-1], kind="stable")[::-1]
    return np.concatenate([present[order], np.flatnonzero(missing)])


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
        self._generations = {"sort": 0, "filter": 0}
        self._pending = 0
        self._executor: ThreadPoolExecutor | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._computed.connect(self._on_computed)
        self._frame = pd.DataFrame()
        self._arrays = _FrameArrays(self._frame)
        self._explicit_specs: list[ColumnSpec] | None = None
        self._columns: list[_Column] = []
        self._order = np.arange(0, dtype=np.int64)
        self._inverse: np.ndarray | None = None
        self._sort_key: Hashable | None = None
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._sorted: np.ndarray | None = None  # full permutation of the frame, or None
        self._filter: RowFilter | None = None
        self._mask: np.ndarray | None = None  # rows passing the filter, or None for all
        self._invalid = np.zeros(0, dtype=bool)
        self._errors: np.ndarray | None = None
        self._hidden_text: dict[Hashable, tuple[_FrameArrays, _Column]] = {}
        self.edit_handler: Callable[[int, Hashable, Any], bool] | None = None
        """Called with (frame position, column key, new value) for user edits of editable
        columns; returns whether the edit was taken. ``None``: edits are written to the frame."""
        if frame is not None:
            self.set_frame(frame)

    # ------------------------------------------------------------------------------------------
    # Data and columns

    def frame(self) -> pd.DataFrame:
        """The frame shown (not a copy: do not modify it; call :meth:`set_frame` with a new one)."""
        return self._frame

    def set_frame(self, frame: pd.DataFrame | None, keep_text_caches: bool = False) -> None:
        """Show ``frame``; columns set with :meth:`set_columns`, the sort and the filter are kept.

        Only column arrays are taken here (no per-cell work); sorting and filtering a large frame
        happen only when a sort or filter is active.
        """
        self.beginResetModel()
        self._frame = frame if frame is not None else pd.DataFrame()
        self._arrays = _FrameArrays(self._frame)
        self._hidden_text = {}
        n = len(self._frame)
        self._invalid = np.zeros(n, dtype=bool)
        self._errors = None
        if self._arrays.has(VALID_COLUMN):
            valid = self._arrays.series(VALID_COLUMN)
            if pd.api.types.is_bool_dtype(valid.dtype):
                self._invalid = ~valid.to_numpy(dtype=bool, na_value=True)
                if self._arrays.has(ERROR_COLUMN):
                    self._errors = self._arrays.objects(ERROR_COLUMN)
        # The same rows with columns added: text columns whose data did not change keep their
        # lower-case text and sort ranks (recomputing, and freeing, a million strings costs a
        # tenth of a second each). Only callers that did not edit cells in place may ask.
        self._build_columns({c.spec.key: c for c in self._columns} if keep_text_caches else None)
        # A new frame makes pending results for the old one meaningless.
        for kind in self._generations:
            self._generations[kind] += 1
        sort_column = None if self._sort_key is None else self._column_for_key(self._sort_key)
        if (self._sort_key is not None and self._sort_is_slow(sort_column)) or (
            self._filter is not None and self._filter_is_slow(self._filter)
        ):
            # Keep showing the current order while the new one is computed aside; an order made
            # for other rows falls back to frame order meanwhile.
            if self._sorted is not None and len(self._sorted) != n:
                self._sorted = None
            if self._mask is not None and len(self._mask) != n:
                self._mask = None
            self._update_order()
            self.endResetModel()
            self.filter_changed.emit(len(self._order), n)
            self._resort_async()
            self._refilter_async(self._filter)
            return
        self._sorted = self._sort_permutation()
        self._mask = self._filter_mask(self._filter)
        self._update_order()
        self.endResetModel()
        self.filter_changed.emit(len(self._order), n)

    def columns(self) -> list[ColumnSpec]:
        """The visible columns, in order."""
        return [column.spec for column in self._columns]

    def set_columns(self, specs: Sequence[ColumnSpec] | None) -> None:
        """Choose and order the visible columns; ``None`` shows every frame column (the default).

        Specs naming a column the frame lacks show empty cells; they fill in when a later frame
        has the column.
        """
        self.beginResetModel()
        self._explicit_specs = None if specs is None else list(specs)
        self._build_columns({c.spec.key: c for c in self._columns})  # same frame: same data
        if self._sort_key is not None and self._column_for_key(self._sort_key) is None:
            # The sort column is gone: back to frame order rather than an order nobody can see.
            self._sort_key = None
            self._sorted = None
            self._update_order()
        self.endResetModel()

    def column_index(self, key: Hashable) -> int:
        """The model column showing ``key``, or -1."""
        for number, column in enumerate(self._columns):
            if column.spec.key == key:
                return number
        return -1

    def structure_columns(self) -> list[int]:
        """Model columns of kind ``"structure"`` (give them a ``StructureDelegate``)."""
        return [n for n, column in enumerate(self._columns) if column.spec.kind == "structure"]

    def _build_columns(self, adopt: dict[Hashable, _Column] | None = None) -> None:
        """Columns for the current specs and frame; ``adopt``: earlier columns whose text caches
        are reused where they hold the very same data (see :meth:`_Column.adopt_caches`)."""
        specs = (
            self._explicit_specs if self._explicit_specs is not None else infer_columns(self._frame)
        )
        self._columns = [_Column(spec, self._arrays) for spec in specs]
        for column in self._columns:
            column.adopt_caches((adopt or {}).get(column.spec.key))

    # ------------------------------------------------------------------------------------------
    # Row mapping

    def total_rows(self) -> int:
        """Rows in the frame, shown or not."""
        return len(self._frame)

    def source_row(self, view_row: int) -> int:
        """The frame position shown at ``view_row``."""
        return int(self._order[view_row])

    def view_row(self, source_row: int) -> int:
        """The view row showing frame position ``source_row``, or -1 when filtered out."""
        if not 0 <= source_row < len(self._frame):
            return -1
        if self._inverse is None:
            inverse = np.full(len(self._frame), -1, dtype=np.int64)
            inverse[self._order] = np.arange(len(self._order))
            self._inverse = inverse
        return int(self._inverse[source_row])

    def visible_positions(self) -> np.ndarray:
        """Frame positions in view order (read-only): exactly the rows shown, as shown."""
        positions = self._order.view()
        positions.flags.writeable = False
        return positions

    def _update_order(self) -> None:
        if self._sorted is None:
            order = (
                np.arange(len(self._frame), dtype=np.int64)
                if self._mask is None
                else np.flatnonzero(self._mask)
            )
        else:
            order = self._sorted if self._mask is None else self._sorted[self._mask[self._sorted]]
        self._order = order.astype(np.int64, copy=False)
        self._inverse = None

    def _change_layout(self, update) -> None:
        """Run ``update`` (which changes ``_order``) inside a layout change, moving persistent
        indexes (selection, current item) to the rows that now show their records."""
        hint = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
        # Only rows move: the hint lets QItemSelectionModel track one index per selected row.
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], hint)
        old_order = self._order
        persistent = self.persistentIndexList()
        update()
        if persistent:
            new_from, new_to = [], []
            n_rows = len(self._order)
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
        order = Qt.SortOrder(order)  # plain ints from callers compare unequal to the enum
        if column >= len(self._columns):
            return
        if column >= 0 and self._columns[column].spec.kind == "structure":
            return
        key = None if column < 0 else self._columns[column].spec.key
        if key is None and self._sorted is None:
            return

        if self._sort_is_slow(None if column < 0 else self._columns[column]):
            self._sort_key = key
            self._sort_order = order
            self._resort_async()
            return

        def update() -> None:
            self._sort_key = key
            self._sort_order = order
            self._sorted = self._sort_permutation()
            self._update_order()

        self._generations["sort"] += 1  # a slower sort still computing must not land after this
        self._change_layout(update)

    def _sort_is_slow(self, column: _Column | None) -> bool:
        """Whether a sort by ``column`` (None: frame order) is computed in the worker thread."""
        n = len(self._frame)
        text = column is not None and column.spec.kind == "text"
        return n > ASYNC_ROWS or (text and n > TEXT_ASYNC_ROWS)

    def _filter_is_slow(self, row_filter: RowFilter | None) -> bool:
        """Whether ``row_filter`` is computed in the worker thread."""
        n = len(self._frame)
        if n > ASYNC_ROWS:
            return True
        words = row_filter is not None and bool(
            row_filter.text
            or row_filter.without_text
            or row_filter.empty_columns
            or row_filter.nonempty_columns
        )
        return words and n > TEXT_ASYNC_ROWS

    def _resort_async(self) -> None:
        key, order = self._sort_key, self._sort_order
        column = None if key is None else self._column_for_key(key)
        n = len(self._frame)
        ascending = order == Qt.SortOrder.AscendingOrder

        def compute() -> np.ndarray | None:
            if column is None:
                return None
            keys, missing = column.sort_key(n)
            return stable_order(keys, missing, ascending)

        def apply(permutation: np.ndarray | None) -> None:
            def update() -> None:
                self._sorted = permutation
                self._update_order()

            self._change_layout(update)

        self._run_async("sort", compute, apply)

    def _refilter_async(self, row_filter: RowFilter | None) -> None:
        self._run_async(
            "filter",
            lambda: self._filter_mask(row_filter),
            lambda mask: self._apply_filter(row_filter, mask),
        )

    def _apply_filter(self, row_filter: RowFilter | None, mask: np.ndarray | None) -> None:
        def update() -> None:
            self._filter = row_filter
            self._mask = mask
            self._update_order()

        self._change_layout(update)
        self.filter_changed.emit(len(self._order), len(self._frame))

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

    def prepare_sort(self, key: Hashable | None, order: Qt.SortOrder) -> None:
        """Sort by ``key`` from the next :meth:`set_frame` on (a column that frame brings), so a
        new frame is sorted once, by the right column."""
        self._sort_key = key
        self._sort_order = Qt.SortOrder(order)

    def sort_column(self) -> tuple[Hashable | None, Qt.SortOrder]:
        """The key sorted by (``None`` for frame order) and the direction."""
        return self._sort_key, self._sort_order

    def _sort_permutation(self) -> np.ndarray | None:
        if self._sort_key is None:
            return None
        column = self._column_for_key(self._sort_key)
        if column is None:
            self._sort_key = None
            return None
        keys, missing = column.sort_key(len(self._frame))
        return stable_order(keys, missing, self._sort_order == Qt.SortOrder.AscendingOrder)

    def _column_for_key(self, key: Hashable) -> _Column | None:
        for column in self._columns:
            if column.spec.key == key and column.spec.kind != "structure":
                return column
        return None

    # ------------------------------------------------------------------------------------------
    # Filtering

    def row_filter(self) -> RowFilter | None:
        return self._filter

    def set_filter(self, row_filter: RowFilter | None) -> None:
        """Show only the rows passing ``row_filter`` (``None``: all rows), keeping the sort.

        For large frames the mask is computed in a worker thread and applied when ready."""
        if self._filter_is_slow(row_filter):
            self._refilter_async(row_filter)
            return
        self._generations["filter"] += 1  # a slower filter still computing must not land later
        self._apply_filter(row_filter, self._filter_mask(row_filter))

    def filter_mask(self, row_filter: RowFilter | None) -> np.ndarray:
        """Which frame rows pass ``row_filter`` (a boolean array over frame positions)."""
        mask = self._filter_mask(row_filter)
        return np.ones(len(self._frame), dtype=bool) if mask is None else mask

    def _filter_mask(self, row_filter: RowFilter | None) -> np.ndarray | None:
        if row_filter is None or row_filter.is_empty():
            return None
        n = len(self._frame)
        mask = np.ones(n, dtype=bool)
        if row_filter.rows is not None:
            rows = np.asarray(row_filter.rows, dtype=bool)
            if len(rows) == n:
                mask &= rows
            else:  # a mask for another version of the table: show nothing rather than wrong rows
                mask[:] = False
        for name in row_filter.true_columns:
            if self._arrays.has(name):
                mask &= self._arrays.series(name).to_numpy(dtype=bool, na_value=False)
            else:
                mask[:] = False
        for name, must_be_empty in [(c, True) for c in row_filter.empty_columns] + [
            (c, False) for c in row_filter.nonempty_columns
        ]:
            if not self._arrays.has(name):
                mask[:] = False
                continue
            text = self._lower_text(name)
            empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
            mask &= empty if must_be_empty else ~empty
        for name, word in row_filter.without_text:
            if not self._arrays.has(name):
                continue  # nothing can contain the word
            found = self._lower_text(name).str.contains(word.lower(), regex=False, na=False)
            mask &= ~found.to_numpy(dtype=bool)
        if row_filter.valid != "all" and self._arrays.has(VALID_COLUMN):
            valid = self._arrays.series(VALID_COLUMN)
            if pd.api.types.is_bool_dtype(valid.dtype):
                if row_filter.valid == "valid":
                    mask &= valid.to_numpy(dtype=bool, na_value=False)
                else:
                    mask &= ~valid.to_numpy(dtype=bool, na_value=True)
        for name, low, high in row_filter.ranges:
            values = self._numbers(name)
            passed = ~np.isnan(values)
            if low is not None:
                passed &= values >= low
            if high is not None:
                passed &= values <= high
            mask &= passed
        words = row_filter.words
        if words:
            names = (
                self._arrays.text_columns()
                if row_filter.text_columns is None
                else [name for name in row_filter.text_columns if self._arrays.has(name)]
            )
            texts = [self._lower_text(name) for name in names]
            for word in words:
                found = np.zeros(n, dtype=bool)
                for text in texts:
                    # Search only rows still in and not yet matched: each pass gets cheaper.
                    rows = np.flatnonzero(mask & ~found)
                    if rows.size == 0:
                        break
                    subset = text if rows.size == n else text.iloc[rows]
                    found[rows] |= subset.str.contains(word, regex=False, na=False).to_numpy(
                        dtype=bool
                    )
                mask &= found
        return mask

    def _numbers(self, name: Hashable) -> np.ndarray:
        """A column as floats (NaN where missing or not a number); all NaN if it is absent."""
        n = len(self._frame)
        if not self._arrays.has(name):
            return np.full(n, np.nan)
        series = self._arrays.series(name)
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            if series.dtype == np.float64:  # plain floats: no copy through a nullable dtype
                return series.to_numpy()
            return series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def _lower_text(self, name: Hashable) -> pd.Series:
        for column in self._columns:
            if column.spec.key == name and column.spec.kind == "text" and column.values is not None:
                return column.text_lower()
        # A text column that is not shown: keep its lower-case text for the next filter.
        arrays = self._arrays
        hidden = self._hidden_text.get(name)
        if hidden is None or hidden[0] is not arrays:  # none yet, or made for an older frame
            hidden = self._hidden_text[name] = (arrays, _Column(ColumnSpec(key=name), arrays))
        return hidden[1].text_lower()

    # ------------------------------------------------------------------------------------------
    # QAbstractItemModel

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        col = index.column()
        if 0 <= col < len(self._columns):
            spec = self._columns[col].spec
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
        if not (0 <= row < len(self._order) and 0 <= col < len(self._columns)):
            return False
        spec = self._columns[col].spec
        if not spec.editable or not self._arrays.has(spec.key):
            return False
        value = bool(value) if spec.kind == "bool" else ("" if value is None else str(value))
        position = int(self._order[row])
        if self._columns[col].raw(position) == value or (
            value == "" and self._columns[col].raw(position) is None
        ):
            return False
        if self.edit_handler is not None:
            return bool(self.edit_handler(position, spec.key, value))
        self.write_cells(spec.key, [position], [value])
        return True

    def write_cells(self, key: Hashable, positions: Sequence[int], values: Sequence[Any]) -> list:
        """Set cells of column ``key`` at frame positions; returns the previous values.

        The column is replaced whole (its dtype kept), so arrays other code took from the frame
        are not changed under it. Sort order and filter are kept until the next sort or filter.
        """
        if not self._arrays.has(key):
            raise KeyError(f"column {key!r} is not in the frame")
        column = self._arrays.series(key)
        positions = np.asarray(positions, dtype=np.int64)
        current = column.to_numpy(copy=True)
        previous = current[positions].tolist()
        current[positions] = np.asarray(list(values), dtype=current.dtype)
        self._frame[key] = pd.Series(current, index=self._frame.index, dtype=column.dtype)
        self.refresh_column(key, positions)
        return previous

    def refresh_column(self, key: Hashable, positions: Sequence[int] | None = None) -> None:
        """Re-read column ``key`` from the frame after it changed in place (cell edits)."""
        self._arrays = _FrameArrays(self._frame)  # cheap: arrays are taken lazily
        self._hidden_text.pop(key, None)
        numbers = []
        for number, column in enumerate(self._columns):
            if column.spec.key == key or key in column.spec.source:
                self._columns[number] = _Column(column.spec, self._arrays)
                numbers.append(number)
        if not numbers or not len(self._order):
            return
        rows = (
            None
            if positions is None
            else [r for p in positions if (r := self.view_row(int(p))) >= 0]
        )
        for number in numbers:
            if rows is None or len(rows) > 200:
                self.dataChanged.emit(
                    self.index(0, number), self.index(len(self._order) - 1, number)
                )
            else:
                for row in rows:
                    cell = self.index(row, number)
                    self.dataChanged.emit(cell, cell)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._order) and 0 <= col < len(self._columns)):
            return None
        column = self._columns[col]
        position = int(self._order[row])
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
            return STAR_COLOR if editable_bool else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return INVALID_ROW_COLOR if self._invalid[position] else None
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
            if self._invalid[position]:
                error = "" if self._errors is None else self._errors[position]
                return str(error) if isinstance(error, str) and error else "Invalid record"
            if kind == "structure":
                return column.smiles(position) or None
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
            if kind != "structure" or not self._invalid[position]:
                return None
            error = "" if self._errors is None else self._errors[position]
            return str(error) if isinstance(error, str) and error else "Invalid record"
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._columns):
                return None
            spec = self._columns[section].spec
            if role == Qt.ItemDataRole.DisplayRole:
                return spec.title
            if role == Qt.ItemDataRole.ToolTipRole:
                return spec.tooltip or None
            if role == Qt.ItemDataRole.InitialSortOrderRole:
                return int(Qt.SortOrder.AscendingOrder.value)  # the same first click on any style
            return None
        if not 0 <= section < len(self._order):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            # The record number: the frame position + 1, stable under sorting and filtering.
            return str(int(self._order[section]) + 1)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN_NUMBER
        return None


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
    "INVALID_ROW_COLOR",
    "PROBLEM_ROLE",
    "STAR_OFF",
    "STAR_ON",
    "STRUCTURE_SMILES_ROLE",
    "ColumnSpec",
    "DataFrameModel",
    "RawValueRole",
    "RowFilter",
    "SortRole",
    "configure_table_view",
    "infer_columns",
    "infer_kind",
    "stable_order",
    "structure_column",
]
