"""Write result tables to CSV, TSV or XLSX, atomically and safe to open in a spreadsheet."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from core.chem.export import ExportError, atomic_path, neutralise_table

FORMATS = (".csv", ".tsv", ".xlsx")

__all__ = ["FORMATS", "ExportError", "export_results"]


def export_results(
    table: pd.DataFrame, path: str | os.PathLike, sheet_name: str = "Results"
) -> Path:
    """Write ``table`` (no index) to ``path``; the format follows the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"Cannot export to '{suffix or path.name}': choose .csv, .tsv or .xlsx")
    safe = neutralise_table(table)
    with atomic_path(path) as temporary:
        if suffix == ".csv":
            safe.to_csv(temporary, index=False)
        elif suffix == ".tsv":
            safe.to_csv(temporary, index=False, sep="\t")
        else:
            with pd.ExcelWriter(temporary, engine="openpyxl") as writer:
                safe.to_excel(writer, index=False, sheet_name=sheet_name[:31])
                writer.sheets[sheet_name[:31]].freeze_panes = "A2"
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
