"""Add, replace and remove library rows (the Molecule panel's "Save to library").

Each change returns what is needed to undo it, so the GUI's undo stack stays a thin layer. Rows are
described by the same code that loads files (:func:`core.chem.library.process_records`), so a saved
molecule gets exactly the columns, standardisation and checks of a loaded one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from core.chem.library import (
    DUPLICATE_COLUMN,
    LIBRARY_COLUMNS,
    Library,
    assemble_library,
    find_duplicates,
    process_records,
)
from core.chem.readers import RawRecord
from core.chem.standardize import StandardizeOptions

Row = dict[str, object]


def describe_molecule(smiles: str, name: str, options: StandardizeOptions | None = None) -> Row:
    """The library columns for one molecule given as SMILES (invalid ones get valid=False)."""
    result = process_records([RawRecord(index=0, name=name, text=smiles)], options)
    return {column: result[column][0] for column in LIBRARY_COLUMNS}


def empty_library() -> Library:
    """A library with no rows and the column types of a loaded one (for "Save to library" when no
    library is open)."""
    template = assemble_library([process_records([RawRecord(index=0, name="", text="C")])])
    template.table = template.table.iloc[:0].copy()
    return template


def get_row(library: Library, position: int) -> Row:
    """Every column of one row (library and extra columns), as Python values."""
    return {column: library.table.at[position, column] for column in library.table.columns}


def set_row(library: Library, position: int, values: Row) -> Row:
    """Replace the given columns of row ``position``; returns the previous values of those columns."""
    table = library.table
    if not 0 <= position < len(table):
        raise IndexError(f"row {position} is not in the library ({len(table)} rows)")
    previous = {column: table.at[position, column] for column in values if column in table.columns}
    for column, value in values.items():
        if column in table.columns and column != DUPLICATE_COLUMN:
            table.at[position, column] = (
                _missing_for(table[column]) if _is_missing(value) else value
            )
    table[DUPLICATE_COLUMN] = find_duplicates(table)
    library.rows_changed()
    return previous


def append_row(library: Library, values: Row) -> int:
    """Add a row at the end (extra columns empty); returns its position."""
    table = library.table
    row = {}
    for column in table.columns:
        value = values.get(column)
        row[column] = [_missing_for(table[column]) if _is_missing(value) else value]
    addition = pd.DataFrame(row, index=[len(table)]).astype(table.dtypes.to_dict())
    library.table = pd.concat([table, addition]) if len(table) else addition
    library.table.index = pd.RangeIndex(len(library.table))
    library.table[DUPLICATE_COLUMN] = find_duplicates(library.table)
    library.rows_changed()
    return len(library.table) - 1


def remove_last_row(library: Library) -> Row:
    """Remove the last row (undo of :func:`append_row`); returns its values."""
    if len(library.table) == 0:
        raise IndexError("the library is empty")
    removed = get_row(library, len(library.table) - 1)
    library.table = library.table.iloc[:-1].copy()
    library.table[DUPLICATE_COLUMN] = find_duplicates(library.table)
    library.rows_changed()
    return removed


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and np.isnan(value)


def _missing_for(column: pd.Series) -> object:
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_float_dtype(column):
        return np.nan
    if pd.api.types.is_extension_array_dtype(column) and pd.api.types.is_integer_dtype(column):
        return pd.NA
    return ""


def add_columns(library: Library, columns: pd.DataFrame, drop: Iterable[str] = ()) -> list[str]:
    """Add (or replace) computed columns, such as model predictions or scores.

    ``columns`` is aligned with ``library.table`` by index; rows it lacks get missing values.
    Identity, property and status columns cannot be replaced (they describe the structure), and a
    column read from the input file is never overwritten: a computed column of the same name is
    added as ``"<name> (computed)"``. ``drop`` names computed columns to remove at the same time
    (a previous profile's desirabilities). Returns the names used, in the order given.

    ``library.table`` becomes a new frame that shares every column's data with the old one and
    with ``columns``: inserting into the old frame would copy each new column (a million rows
    take 15 ms a column, so a score with a dozen columns froze the window for a fifth of a
    second), while building a frame from Series without copying costs microseconds. Replaced
    columns keep their place; new ones come last.
    """
    protected = set(LIBRARY_COLUMNS) | {DUPLICATE_COLUMN}
    clash = [str(name) for name in columns.columns if name in protected]
    clash += [str(name) for name in drop if name in protected]
    if clash:
        raise ValueError(
            "these column names belong to the library itself and cannot be replaced: "
            + ", ".join(clash)
        )
    table = library.table
    aligned = columns if columns.index.equals(table.index) else columns.reindex(table.index)
    from_file = {c for c in library.extra_columns if c not in library.computed_columns}
    added: dict[str, pd.Series] = {}
    for name in columns.columns:
        target = f"{name} (computed)" if name in from_file else str(name)
        added[target] = aligned[name]
    removed = set(drop) - set(added)
    data = {
        column: added.pop(column) if column in added else table[column]
        for column in table.columns
        if column not in removed
    }
    data.update(added)
    # copy=False: each Series keeps its own array (no consolidation into 2-D blocks, no copy).
    library.table = pd.DataFrame(data, index=table.index, copy=False)
    library.extra_columns[:] = [c for c in library.extra_columns if c not in removed]
    library.computed_columns[:] = [c for c in library.computed_columns if c not in removed]
    for column in removed:
        library.column_notes.pop(column, None)
    names = []
    for name in columns.columns:
        target = f"{name} (computed)" if name in from_file else str(name)
        if target not in library.extra_columns:
            library.extra_columns.append(target)
        if target not in library.computed_columns:
            library.computed_columns.append(target)
        names.append(target)
    return names
