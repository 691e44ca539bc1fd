"""Write library tables to CSV, SDF and XLSX, atomically and safe to open in a spreadsheet."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

EXPORT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".sdf": "sdf", ".xlsx": "xlsx"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(OSError):
    """Writing failed (full disk, no permission…); the message names the file and the reason."""


def export_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return EXPORT_FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"Cannot export to '{suffix or Path(path).name}': choose .csv, .tsv, .sdf or .xlsx."
        ) from None


def neutralise_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with a quote (OWASP's advice).

    Numbers are left alone: a negative logP is a number, not a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with every text cell neutralised (see :func:`neutralise_formula`)."""
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_formula)
    safe.columns = [str(neutralise_formula(str(c))) for c in safe.columns]
    return safe


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    A full disk or a crash half-way leaves the old file as it was and no partial file behind.
    """
    path = Path(path)
    # Not tempfile.mkstemp: its files are private (0600); an export gets the usual permissions.
    temporary_path = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        yield temporary_path
        os.replace(temporary_path, path)
    except OSError as exc:
        temporary_path.unlink(missing_ok=True)
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise


def export_table(
    table: pd.DataFrame,
    path: str | os.PathLike,
    smiles_column: str = "canonical_smiles",
    pictures: bool = False,
) -> Path:
    """Write ``table`` to ``path``; the format follows the suffix (.csv, .tsv, .sdf, .xlsx).

    ``pictures``: for .xlsx, put a structure picture of ``smiles_column`` in a first column (up
    to :data:`MAX_XLSX_PICTURES` rows; a spreadsheet with more images becomes unusably slow).
    """
    path = Path(path)
    fmt = export_format(path)
    with atomic_path(path) as temporary:
        if fmt == "csv":
            neutralise_table(table).to_csv(temporary, index=False)
        elif fmt == "tsv":
            neutralise_table(table).to_csv(temporary, index=False, sep="\t")
        elif fmt == "xlsx":
            write_xlsx(table, temporary, pictures_from=smiles_column if pictures else None)
        else:
            write_sdf(table, temporary, smiles_column=smiles_column)
    return path


MAX_XLSX_PICTURES = 5000
XLSX_PICTURE_SIZE = (180, 120)


def write_xlsx(table: pd.DataFrame, path: Path, pictures_from: str | None = None) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def _xlsx_text(value: object) -> object:
        # openpyxl refuses control characters (but tab and newlines) that input files can hold.
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    safe = neutralise_table(table)
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_xlsx_text)
    safe.columns = [_xlsx_text(c) for c in safe.columns]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        with_pictures = pictures_from is not None and pictures_from in table.columns
        offset = 1 if with_pictures else 0
        safe.to_excel(writer, index=False, sheet_name="Library", startcol=offset)
        sheet = writer.sheets["Library"]
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
