"""Write result tables to CSV, TSV or XLSX, atomically and safe to open in a spreadsheet."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from core.chem.export import ExportError, atomic_path, write_delimited, write_xlsx

FORMATS = (".csv", ".tsv", ".xlsx")

__all__ = ["FORMATS", "ExportError", "export_results"]


def export_results(
    table: pd.DataFrame, path: str | os.PathLike, sheet_name: str = "Results"
) -> Path:
    """Write ``table`` (no index) to ``path``; the format follows the suffix.

    The library's writers do it (one formula neutraliser, one atomic write path); a failure
    raises :class:`ExportError` naming the file and the reason and leaves an old file as it was.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"Cannot export to '{suffix or path.name}': choose .csv, .tsv or .xlsx")
    if suffix in (".csv", ".tsv"):
        return write_delimited(table, path, sep="," if suffix == ".csv" else "\t")
    with atomic_path(path) as temporary:
        write_xlsx(table, temporary, sheet_name=sheet_name)
    return path


def write_results(
    table: pd.DataFrame,
    path: str | os.PathLike,
    sheet_name: str = "Results",
    *,
    progress=None,
    is_cancelled=None,
) -> Path:
    """:func:`export_results` as an engine job (file I/O off the GUI thread)."""
    del is_cancelled
    written = export_results(table, path, sheet_name)
    if progress is not None:
        progress(1.0, f"Wrote {written.name}")
    return written
