"""A pandas DataFrame seen through chosen columns, a sort and a filter, with no Qt.

:class:`FrameView` keeps ``order``, the frame positions shown, in view order (as Orange3's
``TableModel`` keeps a row permutation), and rebuilds it with vectorised numpy/pandas operations:
sorting and filtering never copy the frame. Its columns are :mod:`core.table_columns`' (arrays
taken once; text columns keep their lower-case text and sort ranks until the frame changes).

:class:`ui.tables.dataframe_model.DataFrameModel` shows a :class:`FrameView` in Qt's views and
decides which sorts and filters are computed in a worker thread; everything here can be used
(and tested) without a display.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.table_columns import (
    ERROR_COLUMN,
    VALID_COLUMN,
    ColumnSpec,
    FrameArrays,
    TableColumn,
    infer_columns,
    stable_order,
)


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
