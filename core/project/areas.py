"""What a project keeps of the work areas beyond the Libraries: Expression, Proteins, Models,
Trials (issue 17, part 1).

An area gives the project an :class:`AreaSnapshot`: a JSON object (its settings, choices, view
state, paths with content hashes) and named tables (results, data sets). The store
(:mod:`core.project.store`) writes each area as one row of ``areas`` and its tables column by
column in ``area_columns``, with the same codec as libraries (no pickle), and checks everything it
reads back as it checks libraries: a damaged or hostile area gives one message naming the area
and the table, and the other areas still open.

A table's index is kept when it carries information (gene names, sample ids): it is stored as
the column :data:`INDEX_COLUMN` and restored as the index, with its name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

AREA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""What an area's key looks like (``expression``, ``proteins``…): also what the store accepts."""

TABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
"""What a table's name in an area looks like."""

INDEX_COLUMN = "__index__"
"""The stored column that holds a table's index when it is not 0, 1, 2…"""

MAX_STATE_BYTES = 16 * 1024**2
"""Most bytes an area's JSON state may have: settings and view state, not data (data go in
tables)."""

MAX_TABLES = 64
"""Most tables one area may store."""

MAX_TABLE_COLUMNS = 100_000
"""Most columns one area table may have (an expression matrix has one per sample)."""


class AreaStateError(ValueError):
    """An area's state cannot be stored or was stored damaged; the message names the area."""


@dataclass(slots=True)
class AreaSnapshot:
    """One area as a project stores it.

    ``state`` is a JSON object (only dicts, lists, strings, numbers, booleans and None);
    ``tables`` maps a name to a DataFrame with text column names, or to ``None`` to keep the
    table stored under that name by the last save (so saving a view change does not rewrite a
    large table). ``format`` is the area's own version of its state, which its restore reads.
    """

    state: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    format: int = 1

    def is_empty(self) -> bool:
        return not self.state and not self.tables


@dataclass(slots=True)
class StoredArea:
    """An area as read back from a project."""

    name: str
    format: int
    modified: str
    state: dict[str, Any]
    tables: dict[str, pd.DataFrame]


def state_json(name: str, state: Mapping[str, Any]) -> str:
    """The text stored for an area's ``state``; :class:`AreaStateError` when it is not plain
    JSON or is too large."""
    if not isinstance(state, Mapping):
        raise AreaStateError(f"the {name} area's state is a {type(state).__name__}, not a dict")
    try:
        text = json.dumps(dict(state), allow_nan=True, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as error:
        raise AreaStateError(f"the {name} area's state is not plain JSON ({error})") from None
    if len(text.encode()) > MAX_STATE_BYTES:
        raise AreaStateError(
            f"the {name} area's state is {len(text.encode()):,} bytes (at most "
            f"{MAX_STATE_BYTES:,}: data belong in its tables)"
        )
    return text


def _has_plain_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def table_columns(name: str, table: str, frame: pd.DataFrame) -> tuple[list[pd.Series], dict]:
    """The columns to store for ``frame`` (the index first when it carries information) and the
    table's description (``index_name``, ``has_index``) for the area row."""
    if not TABLE_NAME.match(table):
        raise AreaStateError(f"the {name} area names a table {table!r}, which is not a plain name")
    if not isinstance(frame, pd.DataFrame):
        raise AreaStateError(f"the {name} area's table '{table}' is not a table")
    if frame.shape[1] > MAX_TABLE_COLUMNS:
        raise AreaStateError(
            f"the {name} area's table '{table}' has {frame.shape[1]:,} columns (at most "
            f"{MAX_TABLE_COLUMNS:,})"
        )
    names = [str(column) for column in frame.columns]
    if len(set(names)) != len(names) or INDEX_COLUMN in names:
        raise AreaStateError(
            f"the {name} area's table '{table}' has two columns of one name (or one named "
            f"{INDEX_COLUMN})"
        )
    if isinstance(frame.index, pd.MultiIndex):
        raise AreaStateError(f"the {name} area's table '{table}' has a multi-level index")
    columns: list[pd.Series] = []
    info: dict[str, Any] = {"has_index": False, "index_name": None}
    if not _has_plain_index(frame):
        index = pd.Series(frame.index, name=INDEX_COLUMN).reset_index(drop=True)
        columns.append(index)
        info = {
            "has_index": True,
            "index_name": None if frame.index.name is None else str(frame.index.name),
        }
    for column, series in zip(names, frame.columns, strict=True):
        values = frame[series]
        if isinstance(values, pd.DataFrame):  # cannot happen after the duplicate check
            raise AreaStateError(f"the {name} area's table '{table}' has duplicate columns")
        columns.append(values.reset_index(drop=True).rename(column))
    return columns, info


def table_from_columns(columns: dict[str, pd.Series], info: Mapping[str, Any]) -> pd.DataFrame:
    """The DataFrame of stored ``columns`` (in order), with its index restored from ``info``."""
    index = columns.pop(INDEX_COLUMN, None)
    n_rows = len(next(iter(columns.values()))) if columns else (0 if index is None else len(index))
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    if info.get("has_index") and index is not None:
        frame.index = pd.Index(index.to_numpy(), name=info.get("index_name"))
    return frame


def file_reference(path: str | os.PathLike, *, chunk: int = 1 << 20) -> dict[str, Any]:
    """What a project stores for a file an area read (an expression matrix, a structure): the
    absolute path, its size and its SHA-256, so reopening the project can tell whether the
    file is still the one the results came from."""
    path = Path(path).resolve()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return {"path": str(path), "size": path.stat().st_size, "sha256": digest.hexdigest()}


def check_file_reference(reference: Mapping[str, Any]) -> str | None:
    """``None`` when the file a project names is there and unchanged, else one line saying what
    happened to it (moved, changed since the project was saved)."""
    path = reference.get("path") if isinstance(reference, Mapping) else None
    if not isinstance(path, str) or not path:
        return "the project names no file"
    file = Path(path)
    if not file.is_file():
        return f"{path} is no longer there"
    expected = reference.get("sha256")
    if isinstance(expected, str):
        try:
            found = file_reference(file)["sha256"]
        except OSError as error:
            return f"{path} cannot be read ({error.strerror or error})"
        if found != expected:
            return f"{path} has changed since the project was saved"
    return None


__all__ = [
    "AREA_NAME",
    "INDEX_COLUMN",
    "MAX_STATE_BYTES",
    "MAX_TABLES",
    "AreaSnapshot",
    "AreaStateError",
    "StoredArea",
    "check_file_reference",
    "file_reference",
    "state_json",
    "table_columns",
    "table_from_columns",
]
