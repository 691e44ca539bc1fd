"""Write library tables to CSV, SDF and XLSX, atomically and safe to open in a spreadsheet.

Every table writer of DrugDesk (libraries, hit lists, expression results, trial tables, model
predictions) goes through :func:`write_delimited` or :func:`write_xlsx`, so one neutraliser
(:func:`neutralise_table`) stands between a cell and a spreadsheet's formula engine, and through
:mod:`core.fileio`, so a failed write leaves the old file and says why in one line.
"""

from __future__ import annotations

import csv
import math
import os
import unicodedata
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
    "export_format",
    "export_table",
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
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def _xlsx_text(value: object) -> object:
        # openpyxl refuses control characters (but tab and newlines) that input files can hold.
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    clean = table.copy()
    for column in clean.columns:
        if _is_text_column(clean[column]):
            clean[column] = clean[column].map(_xlsx_text)
    clean.columns = [_xlsx_text(str(c)) for c in clean.columns]
    safe = neutralise_table(clean)
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
    quiet = rdBase.BlockLogs()  # noqa: F841 (RDKit logs stay off while it lives)
    columns = [c for c in table.columns]
    name_column = "name" if "name" in table.columns else None
    written = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
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
