"""Write library tables to CSV, SDF and XLSX, atomically and safe to open in a spreadsheet.

Every table writer of DrugDesk (libraries, hit lists, expression results, trial tables, model
predictions) goes through :func:`write_delimited` or :func:`write_xlsx`, so one neutraliser
(:func:`neutralise_table`) stands between a cell and a spreadsheet's formula engine, and through
:mod:`core.fileio`, so a failed write leaves the old file and says why in one line.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from core.fileio import OutputError, atomic_output, atomic_path

EXPORT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".sdf": "sdf", ".xlsx": "xlsx"}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); the
# full-width forms are read as formulas by some Asian-locale spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Tab and carriage return are on OWASP's list by themselves: a spreadsheet may drop them on import.
FORMULA_PREFIXES = (*FORMULA_STARTS, "\t", "\r")

ExportError = OutputError
"""Writing failed (full disk, no permission…); the message names the file and the reason.

The same class as :class:`core.fileio.OutputError` (an :class:`OSError`)."""

__all__ = [
    "EXPORT_FORMATS",
    "ExportError",
    "atomic_path",
    "check_xlsx_rows",
    "export_format",
    "export_table",
    "export_table_stream",
    "neutralise_formula",
    "neutralise_table",
    "write_delimited",
    "write_sdf",
    "write_xlsx",
]


def export_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return EXPORT_FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"Cannot export to '{suffix or Path(path).name}': choose .csv, .tsv, .sdf or .xlsx."
        ) from None


def _invisible(character: str) -> bool:
    # Whitespace, control (Cc) and format (Cf: zero-width space, BOM, direction marks)
    # characters: a spreadsheet or its import may strip them and then see the formula behind.
    return character.isspace() or unicodedata.category(character) in ("Cc", "Cf")


def neutralise_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with a quote (OWASP's advice).

    A text is a formula when it starts with ``= + - @`` (or their full-width forms), also after
    leading whitespace, control or invisible characters (``"\\r=1+1"``, ``" =1+1"``,
    ``"\\u200b=1+1"``), and text starting with a tab or a carriage return is quoted too.
    Numbers are left alone: a negative logP is a number, not a formula.
    """
    if not isinstance(value, str) or not value:
        return value
    first = value[0]
    if first in FORMULA_PREFIXES:
        return "'" + value
    if first.isprintable() and not first.isspace():
        return value  # the common case, decided by the first character
    index = 0
    while index < len(value) and _invisible(value[index]):
        index += 1
    if value.startswith(FORMULA_STARTS, index):
        return "'" + value
    return value


def _is_text_column(column: pd.Series) -> bool:
    return column.dtype == object or pd.api.types.is_string_dtype(column)


def neutralise_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with every text cell neutralised (see :func:`neutralise_formula`)."""
    safe = table.copy()
    for column in safe.columns:
        if _is_text_column(safe[column]):
            safe[column] = safe[column].map(neutralise_formula)
    safe.columns = [str(neutralise_formula(str(c))) for c in safe.columns]
    return safe


def write_delimited(table: pd.DataFrame, path: str | os.PathLike, sep: str = ",") -> Path:
    """Write ``table`` (no index) as CSV (``sep=","``) or TSV (``sep="\\t"``), atomically.

    Text cells and headers are neutralised (:func:`neutralise_table`) and every text cell is
    quoted, numbers are not: a carriage return, a tab, a semicolon (the separator of spreadsheets
    in many locales) or a quote inside a text cannot split it into rows or cells.
    """
    path = Path(path)
    safe = neutralise_table(table)
    # newline="": the csv module writes its own line ends, the file object must not translate.
    with atomic_output(path, "w", encoding="utf-8", newline="") as handle:
        safe.to_csv(handle, index=False, sep=sep, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    return path


def export_table(
    table: pd.DataFrame,
    path: str | os.PathLike,
    smiles_column: str = "canonical_smiles",
    pictures: bool = False,
) -> Path:
    """Write ``table`` to ``path``; the format follows the suffix (.csv, .tsv, .sdf, .xlsx).

    ``pictures``: for .xlsx, put a structure picture of ``smiles_column`` in a first column (up
    to :data:`MAX_XLSX_PICTURES` rows; a spreadsheet with more images becomes unusably slow).
    The file is written atomically (see :mod:`core.fileio`); failures raise :class:`ExportError`.
    """
    path = Path(path)
    fmt = export_format(path)
    if fmt in ("csv", "tsv"):
        return write_delimited(table, path, sep="," if fmt == "csv" else "\t")
    with atomic_path(path) as temporary:
        if fmt == "xlsx":
            write_xlsx(table, temporary, pictures_from=smiles_column if pictures else None)
        else:
            write_sdf(table, temporary, smiles_column=smiles_column)
    return path


MAX_XLSX_PICTURES = 5000
XLSX_PICTURE_SIZE = (180, 120)


def write_xlsx(
    table: pd.DataFrame,
    path: Path,
    pictures_from: str | None = None,
    sheet_name: str = "Library",
) -> None:
    """Write ``table`` to a new workbook at ``path`` (not atomic: see :func:`export_table`).

    Characters a workbook cannot hold are dropped first and the text is then neutralised, so
    that a control character cannot hide a formula from the neutraliser.
    """
    safe = _xlsx_safe(table)
    sheet_name = sheet_name[:31]  # Excel's limit
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        with_pictures = pictures_from is not None and pictures_from in table.columns
        offset = 1 if with_pictures else 0
        safe.to_excel(writer, index=False, sheet_name=sheet_name, startcol=offset)
        sheet = writer.sheets[sheet_name]
        sheet.freeze_panes = "B2" if with_pictures else "A2"
        for i, column in enumerate(safe.columns, start=1 + offset):
            width = min(60, max(8, len(str(column)) + 2))
            sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = width
        if with_pictures:
            _add_pictures(sheet, table[pictures_from].tolist()[:MAX_XLSX_PICTURES])


def _xlsx_text(value: object) -> object:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # openpyxl refuses control characters (but tab and newlines) that input files can hold.
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _xlsx_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` without the characters a workbook cannot hold, then neutralised."""
    clean = table.copy()
    for column in clean.columns:
        if _is_text_column(clean[column]):
            clean[column] = clean[column].map(_xlsx_text)
    clean.columns = [_xlsx_text(str(c)) for c in clean.columns]
    return neutralise_table(clean)


def _add_pictures(sheet, smiles: list) -> None:
    """A first column of structure pictures, one per row, anchored in its cell."""
    from io import BytesIO

    from openpyxl.drawing.image import Image

    from core.chem.depict import molecule_png

    width, height = XLSX_PICTURE_SIZE
    sheet.cell(row=1, column=1, value="Structure")
    sheet.column_dimensions["A"].width = width / 7.0  # Excel width units are about 7 pixels
    for row, text in enumerate(smiles, start=2):
        png = molecule_png(text, width, height) if isinstance(text, str) and text else None
        sheet.row_dimensions[row].height = height * 0.75  # points
        if png is None:
            continue
        image = Image(BytesIO(png))
        image.width, image.height = width, height
        sheet.add_image(image, f"A{row}")


def _tag_value(value: object) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        # Every digit (assay data), and "3" rather than "3.0" for whole numbers.
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    # A line starting with "$$$$" or ">" inside a value would end the record or start a tag, and a
    # blank line would end the value (and lose the tags after it): indent the first, drop the second.
    text = str(value).replace("\r", " ")
    return "\n".join(
        (" " + line) if line.startswith(("$$$$", ">")) else line
        for line in text.split("\n")
        if line.strip()
    )


def write_sdf(table: pd.DataFrame, path: Path, smiles_column: str = "canonical_smiles") -> int:
    """Write one record per row with a parseable structure, all other columns as data tags.

    Rows without a structure (invalid records) are written as empty molecules with their tags, so
    the file keeps every row, like the table. Returns the number of records written.
    """
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        return _write_sdf_records(table, handle, smiles_column)


def _write_sdf_records(table: pd.DataFrame, handle, smiles_column: str) -> int:
    """The records of :func:`write_sdf` for ``table``'s rows, written to an open text file."""
    quiet = rdBase.BlockLogs()  # noqa: F841 (RDKit logs stay off while it lives)
    columns = [c for c in table.columns]
    name_column = "name" if "name" in table.columns else None
    written = 0
    for row in table.itertuples(index=False, name=None):
        values = dict(zip(columns, row, strict=True))
        # An invalid row is written without a structure even when its raw SMILES parses (it
        # may parse but fail sanitisation or standardisation).
        smiles = "" if values.get("valid", True) is False else values.get(smiles_column) or ""
        mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles else None
        if mol is None:
            mol = Chem.Mol()
        title = str(values[name_column]) if name_column else ""
        block = Chem.MolToMolBlock(mol)
        lines = block.split("\n")
        lines[0] = title.replace("\n", " ")[:80]
        handle.write("\n".join(lines).rstrip("\n") + "\n")
        for column in columns:
            text = _tag_value(values[column])
            handle.write(f">  <{column}>\n{text}\n\n")
        handle.write("$$$$\n")
        written += 1
    return written


# ----------------------------------------------------------------------------------------------
# Streaming: a table that arrives in pieces (a cluster's parts), never whole in memory

XLSX_MAX_ROWS = 1_048_576
"""Rows of a workbook sheet, its header row included (Excel's limit)."""

_XLSX_HEADER_STYLE = {
    # pandas' header cells (``pandas.io.formats.excel.ExcelFormatter.header_style``), so that a
    # streamed workbook looks like one written by :func:`write_xlsx`.
    "font": {"bold": True},
    "border": {"top": "thin", "right": "thin", "bottom": "thin", "left": "thin"},
    "alignment": {"horizontal": "center", "vertical": "top"},
}


def check_xlsx_rows(path: str | os.PathLike, n_rows: int, *, estimated: bool = False) -> None:
    """Refuse a workbook of more rows than a sheet holds (call it before any work is done).

    Raises
    ------
    ExportError
        ``path`` is an .xlsx file and ``n_rows`` (plus the header) exceed :data:`XLSX_MAX_ROWS`;
        ``estimated``: ``n_rows`` is an estimate (the message says "about").
    """
    if export_format(path) == "xlsx" and n_rows + 1 > XLSX_MAX_ROWS:
        raise OutputError.about(
            path,
            f"{'about ' if estimated else ''}{n_rows:,} rows do not fit in a workbook sheet (at "
            f"most {XLSX_MAX_ROWS - 1:,} under its header): write .csv, .tsv or .sdf instead",
        )


def export_table_stream(
    frames: Iterable[pd.DataFrame],
    path: str | os.PathLike,
    empty: pd.DataFrame,
    smiles_column: str = "canonical_smiles",
) -> int:
    """Write the rows of ``frames``, one frame after another, as the one table they make, in
    the format the suffix names; only one frame is held at a time. Returns the rows written.

    The file has the bytes :func:`export_table` writes for ``pd.concat(frames)`` (CSV, TSV,
    SDF; a workbook has the same cells, header style, frozen header and column widths, written
    by openpyxl's write-only mode, without pictures). ``empty`` gives the columns when
    ``frames`` is empty; every frame must have them, in that order. Written through a temporary
    file renamed at the end (:mod:`core.fileio`): a frame that fails to come (an exception from
    ``frames``: a missing part, a cancel) leaves the old file as it was.

    Raises
    ------
    ExportError
        The file cannot be written, or a workbook would exceed :data:`XLSX_MAX_ROWS`.
    """
    path = Path(path)
    fmt = export_format(path)

    def checked() -> Iterator[pd.DataFrame]:
        seen = False
        for frame in frames:
            if list(frame.columns) != list(empty.columns):
                raise ValueError(
                    f"a piece of the table has the columns {list(frame.columns)}, not "
                    f"{list(empty.columns)}"
                )
            seen = True
            yield frame
        if not seen:
            yield empty

    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        written = 0
        with atomic_output(path, "w", encoding="utf-8", newline="") as handle:
            for number, frame in enumerate(checked()):
                neutralise_table(frame).to_csv(
                    handle,
                    index=False,
                    header=number == 0,
                    sep=sep,
                    quoting=csv.QUOTE_NONNUMERIC,
                    lineterminator="\n",
                )
                written += len(frame)
        return written
    with atomic_path(path) as temporary:
        if fmt == "xlsx":
            return _write_xlsx_stream(checked(), temporary, path)
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            return sum(_write_sdf_records(frame, handle, smiles_column) for frame in checked())


def _write_xlsx_stream(
    frames: Iterator[pd.DataFrame], temporary: Path, path: Path, sheet_name: str = "Library"
) -> int:
    """The workbook of :func:`write_xlsx` (no pictures) in openpyxl's write-only mode: rows go
    to the file as they are appended."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])
    try:
        written = _append_xlsx_rows(sheet, frames, path)
    except BaseException:
        with contextlib.suppress(Exception):
            sheet.close()  # its rows' temporary file: closed, not left to the collector
        raise
    book.save(temporary)
    return written


def _append_xlsx_rows(sheet, frames: Iterator[pd.DataFrame], path: Path) -> int:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side

    thin = Side(style="thin")
    written = 0
    started = False
    for frame in frames:
        safe = _xlsx_safe(frame)
        if not started:
            started = True
            sheet.freeze_panes = "A2"
            header = []
            for i, column in enumerate(safe.columns, start=1):
                width = min(60, max(8, len(str(column)) + 2))
                sheet.column_dimensions[_column_letter(i)].width = width
                cell = WriteOnlyCell(sheet, value=str(column))
                cell.font = Font(bold=True)
                cell.border = Border(top=thin, right=thin, bottom=thin, left=thin)
                cell.alignment = Alignment(horizontal="center", vertical="top")
                header.append(cell)
            sheet.append(header)
        if written + len(safe) + 1 > XLSX_MAX_ROWS:
            raise OutputError.about(
                path,
                f"more than {XLSX_MAX_ROWS - 1:,} rows do not fit in a workbook sheet: write "
                ".csv, .tsv or .sdf instead",
            )
        for row in safe.itertuples(index=False, name=None):
            sheet.append([_excel_value(value) for value in row])
        written += len(safe)
    return written


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def _excel_value(value: object) -> object:
    """A cell's value as pandas' ``to_excel`` hands it to openpyxl (missing: "", infinities:
    "inf", numpy numbers as Python numbers, anything else as text)."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(value)
    return str(value)
