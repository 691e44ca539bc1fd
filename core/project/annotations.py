"""The chemist's own marks on library rows: a flag (star), comma-separated tags and free notes.

They are ordinary columns of ``library.table`` (so they sort, filter and export like any other
column), but they are user data: scoring never replaces them, and a project stores them in a table
of their own so that saving an edit does not rewrite the library.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.chem.library import Library

FLAG_COLUMN = "flag"
TAGS_COLUMN = "tags"
NOTES_COLUMN = "notes"
ANNOTATION_COLUMNS: tuple[str, ...] = (FLAG_COLUMN, TAGS_COLUMN, NOTES_COLUMN)


def ensure_annotations(library: Library) -> None:
    """Give ``library.table`` empty flag/tags/notes columns if it lacks them.

    A column of the same name read from the input file is kept, renamed ``"<name> (input)"``
    (as clashing file columns are when loading), so the user's marks never mix with file data.
    """
    table = library.table
    if library.annotations_ready and all(name in table.columns for name in ANNOTATION_COLUMNS):
        return  # done already (in the load job); checking a million cells again takes 0.1 s
    for name in ANNOTATION_COLUMNS:
        if name in table.columns and name in library.extra_columns:
            target = f"{name} (input)"
            while target in table.columns:
                target = f"{target} (input)"
            table.rename(columns={name: target}, inplace=True)
            library.extra_columns[library.extra_columns.index(name)] = target
            if name in library.computed_columns:
                library.computed_columns[library.computed_columns.index(name)] = target
            if name in library.column_notes:
                library.column_notes[target] = library.column_notes.pop(name)
    n = len(table)
    if FLAG_COLUMN not in table.columns:
        table[FLAG_COLUMN] = np.zeros(n, dtype=bool)
    else:
        table[FLAG_COLUMN] = table[FLAG_COLUMN].fillna(False).astype(bool)
    for name in (TAGS_COLUMN, NOTES_COLUMN):
        if name not in table.columns:
            table[name] = np.full(n, "", dtype=object)  # a list of a million "" takes 0.1 s
        else:
            table[name] = table[name].fillna("").astype(str).astype(object)
    library.annotations_ready = True


def annotation_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows carrying a flag, a tag or a note: columns ``row`` (position), flag, tags, notes."""
    n = len(table)
    flag = (
        table[FLAG_COLUMN].to_numpy(dtype=bool, na_value=False)
        if FLAG_COLUMN in table.columns
        else np.zeros(n, dtype=bool)
    )
    texts = {}
    used = flag.copy()
    for name in (TAGS_COLUMN, NOTES_COLUMN):
        if name in table.columns:
            values = table[name].to_numpy(dtype=object)
            present = pd.notna(values)
            texts[name] = values
            used |= present & (values != "")
        else:
            texts[name] = None
    rows = np.flatnonzero(used)

    def text(name: str) -> list[str]:
        values = texts[name]
        if values is None:
            return [""] * len(rows)
        return ["" if pd.isna(value) else str(value) for value in values[rows]]

    # Only the marked rows are converted: a million-row library has a handful of notes.
    return pd.DataFrame(
        {
            "row": rows.astype(np.int64),
            FLAG_COLUMN: flag[rows],
            TAGS_COLUMN: pd.Series(text(TAGS_COLUMN), dtype=object),
            NOTES_COLUMN: pd.Series(text(NOTES_COLUMN), dtype=object),
        }
    )


def apply_annotations(library: Library, rows: pd.DataFrame) -> int:
    """Write saved annotations (as from :func:`annotation_rows`) into the library's columns.

    Rows beyond the table's end are ignored; returns how many rows were applied.
    """
    ensure_annotations(library)
    table = library.table
    positions = rows["row"].to_numpy(dtype=np.int64)
    keep = (positions >= 0) & (positions < len(table))
    positions = positions[keep]
    flag = table[FLAG_COLUMN].to_numpy(dtype=bool).copy()
    flag[positions] = rows[FLAG_COLUMN].to_numpy(dtype=bool)[keep]
    table[FLAG_COLUMN] = flag
    for name in (TAGS_COLUMN, NOTES_COLUMN):
        values = table[name].to_numpy(dtype=object).copy()
        values[positions] = rows[name].fillna("").astype(str).to_numpy(dtype=object)[keep]
        table[name] = pd.Series(values, index=table.index, dtype=object)
    return int(keep.sum())


def parse_tags(text: str) -> list[str]:
    """Tags of a cell: comma-separated, trimmed, empty ones and repeats dropped."""
    tags: list[str] = []
    for part in str(text or "").split(","):
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def with_tag(text: str, tag: str) -> str:
    """``text``'s tags plus ``tag`` (once), written back as ``"a, b"``."""
    tags = parse_tags(text)
    for extra in parse_tags(tag):
        if extra not in tags:
            tags.append(extra)
    return ", ".join(tags)


__all__ = [
    "ANNOTATION_COLUMNS",
    "FLAG_COLUMN",
    "NOTES_COLUMN",
    "TAGS_COLUMN",
    "annotation_rows",
    "apply_annotations",
    "ensure_annotations",
    "parse_tags",
    "with_tag",
]
