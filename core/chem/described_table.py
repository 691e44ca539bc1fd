"""A table DrugDesk wrote (``props``, a hit list from ``score``) read back as a library, its
molecules not described again.

Opening such a file as a compound file would compute every property again on this computer
(hours for the vendor catalogue a cluster just described) and keep the file's own columns beside
the new ones as ``mw (input)``…. When a file holds every column of ``props``
(:data:`core.chem.library.LIBRARY_COLUMNS`), :func:`read_described_table` takes them as they
are, converted as the loader converts its own (numbers, counts, ``valid``), and keeps the other
columns (rank, score, desirabilities, predictions…) as the input columns a library carries.
Duplicates are found again from the InChIKeys, in the file's order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from core.chem.export import neutralise_formula
from core.chem.library import DUPLICATE_COLUMN, LIBRARY_COLUMNS, Library, assemble_library
from core.chem.properties import PROFILE_COLUMNS, PROPERTY_COLUMNS, TEXT_PROFILE
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

CHUNK_ROWS = 50_000
"""Rows read per pandas call: each call holds the GIL, and the window runs beside the job."""

_SEPARATORS = {".csv": ",", ".tsv": "\t"}
NUMBER_COLUMNS = frozenset(c for c in PROPERTY_COLUMNS + PROFILE_COLUMNS if c not in TEXT_PROFILE)


class NotDescribed(ValueError):
    """The file is not a table of ``props``' columns (or not one this module reads)."""


def is_described_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` (.csv, .tsv or .xlsx) has every column of ``props`` in its header."""
    try:
        header = _header(Path(path))
    except (OSError, ValueError, NotDescribed):
        return False
    return set(LIBRARY_COLUMNS) <= set(header)


def read_described_table(
    path: str | os.PathLike,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> Library:
    """The library of a table DrugDesk wrote, as written (see the module docstring).

    Raises
    ------
    NotDescribed
        The file lacks a column of ``props`` or is not .csv, .tsv or .xlsx.
    OSError
        It cannot be read.
    """
    path = Path(path)
    header = _header(path)
    missing = [c for c in LIBRARY_COLUMNS if c not in header]
    if missing:
        raise NotDescribed(f"{path.name} lacks the columns {', '.join(missing)}")
    columns: dict[str, list] = {name: [] for name in header}
    rows = 0
    for chunk in _chunks(path):
        check_cancelled(is_cancelled)
        for name in header:
            columns[name].extend(_column_values(name, chunk[name]))
        rows += len(chunk)
        progress(-1.0, f"Read {rows:,} rows of {path.name}")
        time.sleep(0)
    result: dict[str, list] = {"index": list(range(rows))}
    for name in LIBRARY_COLUMNS:
        result[name] = columns.pop(name)
    # Found again from the InChIKeys (the same rule as on loading): a file's own column would
    # stand beside it as "duplicate_of (input)".
    columns.pop(DUPLICATE_COLUMN, None)
    result["extra"] = columns
    check_cancelled(is_cancelled)
    return assemble_library([result], source=path)


def _header(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in _SEPARATORS:
        frame = pd.read_csv(path, sep=_SEPARATORS[suffix], nrows=0, dtype=str)
    elif suffix == ".xlsx":
        frame = pd.read_excel(path, nrows=0, dtype=str)
    else:
        raise NotDescribed(f"{path.name}: only .csv, .tsv and .xlsx tables are read as written")
    return [str(_unquoted(c)) for c in frame.columns]


def _chunks(path: Path) -> Iterator[pd.DataFrame]:
    """The file's rows, a chunk at a time: as text ("" for an empty cell), a workbook's cells
    as their own types."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":  # a sheet holds a million rows at most: read at once
        # The cells' own types: a number's text as pandas makes it is not always the shortest
        # one that reads back the same (128.17399999999995 became 128.1739999999999).
        frame = pd.read_excel(path, keep_default_na=False)
        frame.columns = [str(_unquoted(c)) for c in frame.columns]
        yield frame
        return
    reader = pd.read_csv(
        path,
        sep=_SEPARATORS[suffix],
        dtype=str,
        keep_default_na=False,
        chunksize=CHUNK_ROWS,
    )
    with reader:
        for frame in reader:
            frame.columns = [str(_unquoted(c)) for c in frame.columns]
            yield frame


def _column_values(name: str, column: pd.Series) -> list:
    """One chunk of a column as the loader's lists hold it: numbers (Python's float of each
    text), ``valid`` as booleans, text unquoted (see :func:`_unquoted`)."""
    if name == "valid":
        return _bools(column.tolist())
    if name in NUMBER_COLUMNS:
        return _numbers(column.tolist())
    values = column.tolist()
    if column.dtype == object:
        # Only a text starting with a quote can have been quoted: look at those alone.
        quoted = column.str.startswith("'", na=False).to_numpy(dtype=bool)
        for i in quoted.nonzero()[0]:
            values[i] = _unquoted(values[i])
    if name in LIBRARY_COLUMNS:  # text columns of the library (a workbook may hold numbers)
        values = [v if isinstance(v, str) else "" if v is None else str(v) for v in values]
    return values


def _unquoted(value: object) -> object:
    """A text cell as it was before the writer quoted it against spreadsheet formulas."""
    if isinstance(value, str) and value.startswith("'") and neutralise_formula(value[1:]) == value:
        return value[1:]
    return value


def _numbers(values: list) -> list[float | None]:
    """Python's float of each text: the shortest text that reads back as the same number
    (what the writers write) is read back exactly, which pandas' faster parser does not
    promise (94.11299999999999 came back as 94.113)."""
    out: list[float | None] = []
    for value in values:
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            out.append(None)
    return out


def _bools(values: list) -> list[bool]:
    return [v is True or (isinstance(v, str) and v.strip().lower() == "true") for v in values]


__all__ = ["CHUNK_ROWS", "NotDescribed", "is_described_table", "read_described_table"]
