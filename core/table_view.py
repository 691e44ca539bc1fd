"""A pandas DataFrame seen through chosen columns, a sort and a filter, with no Qt.

:class:`FrameView` keeps ``order``, the frame positions shown, in view order (as Orange3's
``TableModel`` keeps a row permutation), and rebuilds it with vectorised numpy/pandas operations:
sorting and filtering never copy the frame. Column arrays are taken from the frame once, lazily
(``frame[col].to_numpy()``), never ``iloc`` per cell, so a million-row frame costs milliseconds
to show; text columns keep their lower-case text and sort ranks until the frame changes.

:class:`ui.tables.dataframe_model.DataFrameModel` shows a :class:`FrameView` in Qt's views and
decides which sorts and filters are computed in a worker thread; everything here can be used
(and tested) without a display.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

ColumnKind = Literal["text", "float", "int", "bool", "structure"]
COLUMN_KINDS: tuple[str, ...] = ("text", "float", "int", "bool", "structure")

VALID_COLUMN = "valid"
ERROR_COLUMN = "error"
DEFAULT_SMILES_SOURCES: tuple[str, ...] = ("canonical_smiles", "smiles")
# Above this many bytes, sorting unique strings as a fixed-width numpy array costs too much memory;
# fall back to sorting Python objects (slower, no extra memory).
_UNICODE_SORT_BYTES = 64 * 1024 * 1024
_TEXT_CHUNK = 50_000
UNICODE_RANK_ROWS = 200_000
"""From this many strings on, ranks come from a numpy unicode array built in chunks (other
threads run meanwhile) instead of ``pd.factorize`` (which holds the GIL throughout)."""


@dataclass(slots=True, frozen=True)
class ColumnSpec:
    """One visible column of a :class:`FrameView` (and so of a table model).

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
        :meth:`~ui.tables.dataframe_model.DataFrameModel.setData`. Edits go to the model's
        ``edit_handler`` when set
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
    """Which rows a :class:`FrameView` shows.

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


class TableColumn:
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

    def __init__(self, spec: ColumnSpec, arrays: FrameArrays) -> None:
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

    def adopt_caches(self, other: TableColumn | None) -> None:
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
            self.sort_keys = string_ranks(texts)
        return self.sort_keys, self.sort_missing


class FrameArrays:
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


def string_ranks(values: np.ndarray) -> np.ndarray:
    """Integer ranks of strings (equal strings share a rank), vectorised over unique values."""
    if len(values) >= UNICODE_RANK_ROWS:
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


class FrameView:
    """A frame seen through chosen columns, a sort and a filter: :attr:`order` holds the frame
    positions shown, in view order.

    Setting a frame, columns, a sort or a filter only records it; :meth:`sort_permutation` and
    :meth:`filter_mask` compute (they read the view and change nothing, so a worker thread may
    run them), and :meth:`apply_sort` / :meth:`apply_filter` install a result and rebuild
    :attr:`order`.
    """

    def __init__(self) -> None:
        self.frame = pd.DataFrame()
        self.arrays = FrameArrays(self.frame)
        self.explicit_specs: list[ColumnSpec] | None = None
        """The columns chosen with :meth:`set_specs`; ``None``: every frame column."""
        self.columns: list[TableColumn] = []
        self.order = np.arange(0, dtype=np.int64)
        """Frame positions in view order: exactly the rows shown, as shown."""
        self.sort_key: Hashable | None = None
        self.ascending = True
        self.sorted: np.ndarray | None = None
        """The full permutation of the frame for the sort, or ``None`` for frame order."""
        self.row_filter: RowFilter | None = None
        self.mask: np.ndarray | None = None
        """Rows passing the filter, or ``None`` for all."""
        self.invalid = np.zeros(0, dtype=bool)
        """Rows whose ``valid`` column is false."""
        self.errors: np.ndarray | None = None
        """The ``error`` column's values (why a row is invalid), when the frame has both."""
        self._inverse: np.ndarray | None = None
        self._hidden_text: dict[Hashable, tuple[FrameArrays, TableColumn]] = {}

    def __len__(self) -> int:
        """Rows in the frame, shown or not."""
        return len(self.frame)

    # ------------------------------------------------------------------------------------------
    # Frame and columns

    def set_frame(self, frame: pd.DataFrame | None, keep_text_caches: bool = False) -> None:
        """View ``frame`` with the same column choice; the sort and filter are kept but not
        recomputed (call :meth:`apply_sort` and :meth:`apply_filter`)."""
        self.frame = frame if frame is not None else pd.DataFrame()
        self.arrays = FrameArrays(self.frame)
        self._hidden_text = {}
        self.invalid = np.zeros(len(self.frame), dtype=bool)
        self.errors = None
        if self.arrays.has(VALID_COLUMN):
            valid = self.arrays.series(VALID_COLUMN)
            if pd.api.types.is_bool_dtype(valid.dtype):
                self.invalid = ~valid.to_numpy(dtype=bool, na_value=True)
                if self.arrays.has(ERROR_COLUMN):
                    self.errors = self.arrays.objects(ERROR_COLUMN)
        # The same rows with columns added: text columns whose data did not change keep their
        # lower-case text and sort ranks (recomputing, and freeing, a million strings costs a
        # tenth of a second each). Only callers that did not edit cells in place may ask.
        self._build_columns({c.spec.key: c for c in self.columns} if keep_text_caches else None)

    def set_specs(self, specs: Sequence[ColumnSpec] | None) -> None:
        """Choose and order the columns; ``None`` shows every frame column. When the sort
        column is gone, back to frame order rather than an order nobody can see."""
        self.explicit_specs = None if specs is None else list(specs)
        self._build_columns({c.spec.key: c for c in self.columns})  # same frame: same data
        if self.sort_key is not None and self.column_for_key(self.sort_key) is None:
            self.sort_key = None
            self.sorted = None
            self.update_order()

    def _build_columns(self, adopt: dict[Hashable, TableColumn] | None = None) -> None:
        """Columns for the current specs and frame; ``adopt``: earlier columns whose text caches
        are reused where they hold the very same data (see :meth:`TableColumn.adopt_caches`)."""
        specs = (
            self.explicit_specs if self.explicit_specs is not None else infer_columns(self.frame)
        )
        self.columns = [TableColumn(spec, self.arrays) for spec in specs]
        for column in self.columns:
            column.adopt_caches((adopt or {}).get(column.spec.key))

    def column_index(self, key: Hashable) -> int:
        """The view column showing ``key``, or -1."""
        for number, column in enumerate(self.columns):
            if column.spec.key == key:
                return number
        return -1

    def column_for_key(self, key: Hashable) -> TableColumn | None:
        """The sortable (not structure) column showing ``key``, or None."""
        for column in self.columns:
            if column.spec.key == key and column.spec.kind != "structure":
                return column
        return None

    def write_cells(self, key: Hashable, positions: Sequence[int], values: Sequence[Any]) -> list:
        """Set cells of column ``key`` at frame positions; returns the previous values.

        The column is replaced whole (its dtype kept), so arrays other code took from the frame
        are not changed under it. Call :meth:`refresh_column` afterwards.
        """
        if not self.arrays.has(key):
            raise KeyError(f"column {key!r} is not in the frame")
        column = self.arrays.series(key)
        positions = np.asarray(positions, dtype=np.int64)
        current = column.to_numpy(copy=True)
        previous = current[positions].tolist()
        current[positions] = np.asarray(list(values), dtype=current.dtype)
        self.frame[key] = pd.Series(current, index=self.frame.index, dtype=column.dtype)
        return previous

    def refresh_column(self, key: Hashable) -> list[int]:
        """Re-read column ``key`` from the frame after it changed in place (cell edits); returns
        the view columns that show it (its own, and structures drawn from it)."""
        self.arrays = FrameArrays(self.frame)  # cheap: arrays are taken lazily
        self._hidden_text.pop(key, None)
        numbers = []
        for number, column in enumerate(self.columns):
            if column.spec.key == key or key in column.spec.source:
                self.columns[number] = TableColumn(column.spec, self.arrays)
                numbers.append(number)
        return numbers

    # ------------------------------------------------------------------------------------------
    # Rows shown

    def view_row(self, position: int) -> int:
        """The view row showing frame position ``position``, or -1 when filtered out."""
        if not 0 <= position < len(self.frame):
            return -1
        if self._inverse is None:
            inverse = np.full(len(self.frame), -1, dtype=np.int64)
            inverse[self.order] = np.arange(len(self.order))
            self._inverse = inverse
        return int(self._inverse[position])

    def update_order(self) -> None:
        """Rebuild :attr:`order` from the sort permutation and the filter mask."""
        if self.sorted is None:
            order = (
                np.arange(len(self.frame), dtype=np.int64)
                if self.mask is None
                else np.flatnonzero(self.mask)
            )
        else:
            order = self.sorted if self.mask is None else self.sorted[self.mask[self.sorted]]
        self.order = order.astype(np.int64, copy=False)
        self._inverse = None

    def fit_results_to_frame(self) -> None:
        """Drop a sort permutation or mask made for a frame of another length (a new frame whose
        own are still being computed): frame order and every row meanwhile."""
        n = len(self.frame)
        if self.sorted is not None and len(self.sorted) != n:
            self.sorted = None
        if self.mask is not None and len(self.mask) != n:
            self.mask = None
        self.update_order()

    # ------------------------------------------------------------------------------------------
    # Sorting

    def sort_permutation(self) -> np.ndarray | None:
        """The permutation for the current sort (``None``: frame order, also when the sort
        column is gone)."""
        if self.sort_key is None:
            return None
        return sort_rows(self.column_for_key(self.sort_key), len(self.frame), self.ascending)

    def resort(self) -> None:
        """Recompute :attr:`sorted` here and now for the current sort (a sort key whose column
        is gone is dropped: frame order); :attr:`order` follows at :meth:`update_order`."""
        if self.sort_key is not None and self.column_for_key(self.sort_key) is None:
            self.sort_key = None
        self.sorted = self.sort_permutation()

    def apply_sort(self, permutation: np.ndarray | None) -> None:
        """Install a sort permutation (``None``: frame order) and rebuild :attr:`order`."""
        self.sorted = permutation
        self.update_order()

    # ------------------------------------------------------------------------------------------
    # Filtering

    def apply_filter(self, row_filter: RowFilter | None, mask: np.ndarray | None) -> None:
        """Install a filter and its mask (from :meth:`filter_mask`) and rebuild :attr:`order`."""
        self.row_filter = row_filter
        self.mask = mask
        self.update_order()

    def filter_mask(self, row_filter: RowFilter | None) -> np.ndarray | None:
        """Which frame rows pass ``row_filter``; ``None`` when it lets every row through."""
        if row_filter is None or row_filter.is_empty():
            return None
        arrays = self.arrays
        n = len(self.frame)
        mask = np.ones(n, dtype=bool)
        if row_filter.rows is not None:
            rows = np.asarray(row_filter.rows, dtype=bool)
            if len(rows) == n:
                mask &= rows
            else:  # a mask for another version of the table: show nothing rather than wrong rows
                mask[:] = False
        for name in row_filter.true_columns:
            if arrays.has(name):
                mask &= arrays.series(name).to_numpy(dtype=bool, na_value=False)
            else:
                mask[:] = False
        for name, must_be_empty in [(c, True) for c in row_filter.empty_columns] + [
            (c, False) for c in row_filter.nonempty_columns
        ]:
            if not arrays.has(name):
                mask[:] = False
                continue
            text = self.lower_text(name)
            empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
            mask &= empty if must_be_empty else ~empty
        for name, word in row_filter.without_text:
            if not arrays.has(name):
                continue  # nothing can contain the word
            found = self.lower_text(name).str.contains(word.lower(), regex=False, na=False)
            mask &= ~found.to_numpy(dtype=bool)
        if row_filter.valid != "all" and arrays.has(VALID_COLUMN):
            valid = arrays.series(VALID_COLUMN)
            if pd.api.types.is_bool_dtype(valid.dtype):
                if row_filter.valid == "valid":
                    mask &= valid.to_numpy(dtype=bool, na_value=False)
                else:
                    mask &= ~valid.to_numpy(dtype=bool, na_value=True)
        for name, low, high in row_filter.ranges:
            values = self.numbers(name)
            passed = ~np.isnan(values)
            if low is not None:
                passed &= values >= low
            if high is not None:
                passed &= values <= high
            mask &= passed
        words = row_filter.words
        if words:
            names = (
                arrays.text_columns()
                if row_filter.text_columns is None
                else [name for name in row_filter.text_columns if arrays.has(name)]
            )
            texts = [self.lower_text(name) for name in names]
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

    def numbers(self, name: Hashable) -> np.ndarray:
        """A column as floats (NaN where missing or not a number); all NaN if it is absent."""
        n = len(self.frame)
        if not self.arrays.has(name):
            return np.full(n, np.nan)
        series = self.arrays.series(name)
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            if series.dtype == np.float64:  # plain floats: no copy through a nullable dtype
                return series.to_numpy()
            return series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def lower_text(self, name: Hashable) -> pd.Series:
        """Lower-case text of column ``name`` (NaN where missing), computed once per frame."""
        for column in self.columns:
            if column.spec.key == name and column.spec.kind == "text" and column.values is not None:
                return column.text_lower()
        # A text column that is not shown: keep its lower-case text for the next filter.
        arrays = self.arrays
        hidden = self._hidden_text.get(name)
        if hidden is None or hidden[0] is not arrays:  # none yet, or made for an older frame
            hidden = self._hidden_text[name] = (arrays, TableColumn(ColumnSpec(key=name), arrays))
        return hidden[1].text_lower()


def sort_rows(column: TableColumn | None, n_rows: int, ascending: bool) -> np.ndarray | None:
    """The permutation that sorts ``n_rows`` rows by ``column`` (stable, missing values last);
    ``None`` (frame order) for no column."""
    if column is None:
        return None
    keys, missing = column.sort_key(n_rows)
    return stable_order(keys, missing, ascending)
