"""The columns of a pandas DataFrame as a table shows them, with no Qt: what each column is
(:class:`ColumnSpec`), its arrays taken from the frame once and lazily (:class:`FrameArrays`,
:class:`TableColumn`: never ``iloc`` per cell, so a million-row frame costs milliseconds to show),
its display text and its sort keys (case-insensitive ranks for text, computed once per frame).
:mod:`core.table_view` sorts and filters a frame through them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
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
    """One visible column of a :class:`~core.table_view.FrameView` (and so of a table model).

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
