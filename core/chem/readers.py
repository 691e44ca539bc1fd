"""Read compound files (SMILES, CSV/TSV, SDF, XLSX) in chunks of raw records.

Reading only splits a file into records; parsing the chemistry happens later (in worker processes),
so a broken record never stops the file. Every record keeps its position in the file, and records
that cannot even be read are kept with an ``error`` so that nothing is dropped silently.

Files are taken as other tools write them: the text encoding is detected
(:mod:`core.chem.text_encoding`), a table's delimiter too (ChEMBL exports use ';'), a CXSMILES
extension stays with its SMILES. What cannot be trusted is refused with one line naming the file:
binary files, more than :data:`MAX_COLUMNS` columns, workbooks that would expand past the limits
of :func:`check_xlsx_archive` (zip bombs), damaged workbooks. A SMILES holding a character that is
not SMILES is an invalid record naming it, never silently cleaned (RDKit reads "CCO☃" as ethanol).
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdkit import Chem, rdBase

from core.chem.text_encoding import HEAD_BYTES, detect_encoding, open_text

SMILES_SUFFIXES = (".smi", ".smiles", ".txt", ".ism", ".can")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".xlsx")
SDF_SUFFIXES = (".sdf", ".sd", ".mol")
SUPPORTED_SUFFIXES = SMILES_SUFFIXES + TABLE_SUFFIXES + SDF_SUFFIXES

# Longer strings are rejected before RDKit sees them: a 10 MB "SMILES" of carbons would parse into a
# ten-million-atom chain and hold a worker for minutes. Large peptides stay well under this.
MAX_SMILES_LENGTH = 10_000
# An SDF record bigger than this is not a small molecule (or not an SDF record at all).
MAX_MOLBLOCK_BYTES = 2_000_000

SMILES_HEADER_NAMES = (
    "smiles",
    "canonical_smiles",
    "smiles_string",
    "isomeric_smiles",
    "mol",
    "structure",
    "molecule",
    "canonical smiles",
    "smi",
)
NAME_HEADER_NAMES = (
    "name",
    "id",
    "compound_id",
    "compound",
    "mol_id",
    "molecule_id",
    "title",
    "chembl_id",
    "identifier",
    "cmpd_id",
    "compound name",
    "molecule name",
    # ChEMBL's exports ("Molecule ChEMBL ID" in activity tables, "ChEMBL ID" in compound lists):
    # the identifier is always filled, the "Name" beside it mostly empty.
    "molecule chembl id",
    "molecule_chembl_id",
    "chembl id",
)

# Delimiters a table may use. ChEMBL's CSV exports are separated by semicolons, and spreadsheet
# programs in locales with a decimal comma write semicolons too.
TABLE_DELIMITERS = (",", ";", "\t", "|")
# Characters of the file's start looked at to choose the delimiter.
_DELIMITER_HEAD_CHARS = 65_536
# Data lines checked against the header when choosing the delimiter.
_DELIMITER_CHECK_ROWS = 20


# csv's default field limit (128 KiB) would reject a whole file over one long cell; with a higher
# limit the long value is read and then rejected as a record with a clear reason.
csv.field_size_limit(64 * 1024 * 1024)


class LibraryReadError(ValueError):
    """A file cannot be read as a compound library; the message names the file and the problem."""


@dataclass(slots=True)
class RawRecord:
    """One record of an input file, before any chemistry.

    ``index`` is the 0-based position among the file's records, ``kind`` is ``"smiles"`` or
    ``"molblock"``; ``error`` is set when the record could not even be read.
    """

    index: int
    name: str
    text: str
    kind: str = "smiles"
    extra: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True, frozen=True)
class ReadOptions:
    """How to read a table: which column holds SMILES and which the names (``None`` = detect).

    ``name_column=""`` reads no names (rows are named by their line number).
    """

    smiles_column: str | None = None
    name_column: str | None = None
    chunk_size: int = 1000


@dataclass(slots=True, frozen=True)
class TablePreview:
    """The first rows of a tabular file, with the detected SMILES and name columns."""

    columns: list[str]
    rows: list[list[str]]
    smiles_column: str | None
    name_column: str | None
    smiles_candidates: list[str]


def detect_format(path: str | os.PathLike) -> str:
    """Return ``"smiles"``, ``"csv"``, ``"tsv"``, ``"sdf"`` or ``"xlsx"`` from the file name."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in SMILES_SUFFIXES:
        return "smiles"
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in SDF_SUFFIXES:
        return "sdf"
    if suffix == ".xlsx":
        return "xlsx"
    raise LibraryReadError(
        f"{Path(path).name}: unsupported file type '{suffix or '(none)'}'. DrugDesk opens "
        + ", ".join(SUPPORTED_SUFFIXES)
        + " files."
    )


def is_tabular(path: str | os.PathLike) -> bool:
    return detect_format(path) in ("csv", "tsv", "xlsx")


# Excel writes password-protected workbooks, and wrote .xls files, as OLE compound documents.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise LibraryReadError(f"{path}: no such file.")
    if path.is_dir():
        raise LibraryReadError(f"{path}: is a folder, not a file.")
    head = _read_head(path)
    if not head:
        raise LibraryReadError(f"{path.name}: the file is empty.")
    if detect_format(path) == "xlsx":
        if head.startswith(_OLE_MAGIC):
            raise LibraryReadError(
                f"{path.name}: a password-protected workbook or an old Excel 97-2003 (.xls) file, "
                "not an .xlsx workbook; save it in Excel as .xlsx without a password."
            )
        if not head.startswith(b"PK"):
            raise LibraryReadError(f"{path.name}: not an Excel .xlsx workbook (not a zip archive).")
        return
    _text_encoding(path, head)


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError as exc:
        raise LibraryReadError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc


def _text_encoding(path: Path, head: bytes | None = None) -> str:
    """The encoding of a text file (see :mod:`core.chem.text_encoding`); binary files are refused."""
    if head is None:
        head = _read_head(path)
    encoding = detect_encoding(head, whole_file=len(head) < HEAD_BYTES)
    if encoding is None:
        raise LibraryReadError(
            f"{path.name}: this is a binary file, not text; expected {detect_format(path).upper()} text."
        )
    return encoding


def _open_text(path: Path) -> io.TextIOWrapper:
    # A byte order mark is dropped by its codec; see core.chem.text_encoding for the rest.
    return open_text(path, _text_encoding(path))


def looks_like_smiles(value: str) -> bool:
    """True when ``value`` parses as SMILES (quietly; for column detection only)."""
    value = value.strip()
    if not value or len(value) > MAX_SMILES_LENGTH or smiles_text_error(value):
        return False
    if value.replace(".", "").replace("-", "").replace("e", "").isdigit():
        return False  # numbers such as 12 or 3.5 parse as nothing useful but are not SMILES columns
    quiet = rdBase.BlockLogs()  # noqa: F841 (RDKit logs stay off while it lives)
    return Chem.MolFromSmiles(value, sanitize=False) is not None


def split_cxsmiles(text: str) -> tuple[str, str, str]:
    """Split a line into its SMILES, CXSMILES extension and what follows (the name).

    A CXSMILES extension is the word right after the SMILES that starts with '|' and ends at the
    matching '|' (a '|' inside a ``$...$`` atom label does not end it):
    ``"C[C@H](N)C(=O)O |&1:1| alanine"`` gives ``("C[C@H](N)C(=O)O", "|&1:1|", "alanine")``,
    ``"CCO ethanol"`` gives ``("CCO", "", "ethanol")``. A '|...|' holding a space is a name.
    """
    # Only ASCII blanks separate: str.split() would also split at a no-break space inside
    # "CC\u00a0O" and read ethane named "O".
    parts = _SEPARATOR.split(text.strip(), maxsplit=1)
    if not parts[0]:
        return "", "", ""
    rest = parts[1] if len(parts) > 1 else ""
    end = _cxsmiles_extension_end(rest)
    return parts[0], rest[:end], rest[end:].strip()


def strip_cxsmiles_extension(smiles: str) -> str:
    """The SMILES without its CXSMILES extension (``"CC |&1:1|"`` gives ``"CC"``).

    ``canonical_smiles`` keeps the extension of a record written as CXSMILES (its enhanced stereo
    and labels); models were trained on plain SMILES and get this.
    """
    if " |" not in smiles:
        return smiles
    return split_cxsmiles(smiles)[0]


_BLANKS = " \t\r\n\v\f"
_SEPARATOR = re.compile(f"[{_BLANKS}]+")


def _cxsmiles_extension_end(text: str) -> int:
    """Length of the CXSMILES extension at the start of ``text`` (0 when there is none)."""
    if not text.startswith("|"):
        return 0
    in_label = False
    for position in range(1, len(text)):
        character = text[position]
        if character in _BLANKS:
            return 0
        if character == "$":
            in_label = not in_label
        elif character == "|" and not in_label:
            after = position + 1
            return after if after == len(text) or text[after] in _BLANKS else 0
    return 0


# RDKit's SMILES parser skips some characters that are not SMILES and stops at others (a NUL):
# "CCO☃" and "CC\x00C" would load as ethanol and ethane. Outside printable ASCII nothing is SMILES.
_NOT_SMILES = re.compile(r"[^!-~]")


def smiles_text_error(text: str) -> str | None:
    """Why ``text`` cannot be a SMILES because of its characters, or ``None``.

    ``text`` is one SMILES, optionally followed by a space and a CXSMILES extension. A character
    outside printable ASCII, or anything after the SMILES and its extension, makes it invalid
    instead of being dropped by the parser: ``"CCO☃"`` gives
    ``"character '☃' (U+2603) at position 4 is not SMILES"``.
    """
    if _NOT_SMILES.search(text) is None:
        return None  # printable ASCII without spaces: the common case, decided at C speed
    smiles, extension, rest = split_cxsmiles(text)
    if rest:
        shown = rest if len(rest) <= 40 else rest[:37] + "…"
        return (
            f"text after the SMILES ('{shown}'): a SMILES holds no spaces (a CXSMILES '|…|' "
            "extension may follow it)"
        )
    for part, offset in ((smiles, 0), (extension, len(smiles) + 1)):
        found = _NOT_SMILES.search(part)
        if found:
            return _character_error(found.group(), offset + found.start() + 1)
    return None


def _character_error(character: str, position: int) -> str:
    code = f"U+{ord(character):04X}"
    if character.isprintable():
        return f"character '{character}' ({code}) at position {position} is not SMILES"
    name = unicodedata.name(character, "")
    shown = f"{code} {name}" if name else code
    return f"character {shown} at position {position} is not SMILES"


def detect_smiles_columns(columns: list[str], rows: list[list[str]]) -> list[str]:
    """Columns whose values mostly parse as SMILES, best first (named SMILES columns first)."""
    scored: list[tuple[int, float, str]] = []
    for position, column in enumerate(columns):
        values = [row[position] for row in rows if position < len(row) and row[position].strip()]
        if not values:
            continue
        fraction = sum(looks_like_smiles(v) for v in values) / len(values)
        # SMILES of real molecules contain letters; a column of "C" or "N" flags parses too, so
        # demand some length on average.
        mean_length = sum(len(v) for v in values) / len(values)
        named = column.strip().lower() in SMILES_HEADER_NAMES
        if fraction >= 0.6 and (mean_length >= 3 or named):
            scored.append((0 if named else 1, -fraction, position, column))
    detected = [column for *_, column in sorted(scored)]
    if not detected:
        # A column named like SMILES holds the SMILES even when its first values do not parse (all
        # invalid, too long, or no rows): read it and report each bad record instead of the file.
        detected = [c for c in columns if c.strip().lower() in SMILES_HEADER_NAMES]
    return detected


def detect_name_column(columns: list[str], smiles_column: str | None) -> str | None:
    for column in columns:
        if column != smiles_column and column.strip().lower() in NAME_HEADER_NAMES:
            return column
    return None


def _read_table_head(path: Path, fmt: str, n_rows: int) -> tuple[list[str], list[list[str]]]:
    if fmt == "xlsx":
        iterator = _iter_xlsx_rows(path)
        try:
            try:
                header = next(iterator)
            except StopIteration:
                raise LibraryReadError(
                    f"{path.name}: the workbook's first sheet is empty."
                ) from None
            _check_column_count(path, header)
            rows = []
            for row in iterator:
                rows.append(row)
                if len(rows) >= n_rows:
                    break
        finally:
            iterator.close()  # closes the workbook now, not when the generator is collected
        return header, rows
    delimiter = _table_delimiter(path, fmt)
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise LibraryReadError(f"{path.name}: the file is empty.") from None
        except csv.Error as exc:
            raise LibraryReadError(
                f"{path.name}: not a readable {fmt.upper()} file ({exc})."
            ) from exc
        _check_column_count(path, header)
        rows = []
        try:
            for row in reader:
                rows.append(row)
                if len(rows) >= n_rows:
                    break
        except csv.Error as exc:
            raise LibraryReadError(
                f"{path.name}: not a readable {fmt.upper()} file ({exc})."
            ) from exc
    return _unique_header(header), rows


MAX_COLUMNS = 10_000
"""Columns of a table. Every column is kept with each record; far wider files are matrices
(descriptors, fingerprints bit by bit) that belong in another tool, not a compound library."""


def _check_column_count(path: Path, header: list) -> None:
    if len(header) > MAX_COLUMNS:
        raise LibraryReadError(
            f"{path.name}: {len(header):,} columns; DrugDesk reads tables of at most "
            f"{MAX_COLUMNS:,} columns. Keep the columns you need (SMILES, name, measured values) "
            "and save a smaller file."
        )


# Cells parsed to find the SMILES column: a wide table is judged on fewer rows, so that its
# preview stays quick (each cell may be a SMILES parse).
_DETECTION_CELLS = 50_000


def _table_delimiter(path: Path, fmt: str) -> str:
    """The delimiter of a CSV or TSV file, chosen from its header line and first rows."""
    with _open_text(path) as handle:
        head = handle.read(_DELIMITER_HEAD_CHARS)
    return detect_delimiter(head, "," if fmt == "csv" else "\t")


def detect_delimiter(head: str, default: str) -> str:
    """Choose the delimiter of a table from the start of its text.

    Each of :data:`TABLE_DELIMITERS` is counted in the header line outside quotes. A delimiter
    that splits the first data lines into as many fields as the header is preferred, then the
    most frequent one, then ``default``. A header with none of them keeps ``default`` (a table of
    one column). Looking at a bounded head keeps this instant for any file size; ``csv.Sniffer``
    guesses from every character instead and is fooled by the brackets and '=' of SMILES.
    """
    # The last line of a cut head may be partial: leave it out unless the whole file was read.
    complete = head if len(head) < _DELIMITER_HEAD_CHARS else head[: head.rfind("\n") + 1]
    header_line = head.split("\n", 1)[0]
    counts = _count_outside_quotes(header_line, TABLE_DELIMITERS)
    candidates = [d for d in TABLE_DELIMITERS if counts[d]]
    if not candidates:
        return default

    def consistent(delimiter: str) -> bool:
        rows = csv.reader(io.StringIO(complete), delimiter=delimiter)
        try:
            widths = [
                len(row)
                for row, _ in zip(rows, range(_DELIMITER_CHECK_ROWS + 1), strict=False)
                if row
            ]
        except csv.Error:
            return False
        return len(widths) > 1 and all(width == widths[0] for width in widths[1:])

    ranked = sorted(candidates, key=lambda d: (not consistent(d), -counts[d], d != default))
    return ranked[0]


def _count_outside_quotes(line: str, characters: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(characters, 0)
    quoted = False
    for character in line:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    return counts


def _unique_header(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for i, name in enumerate(header):
        name = (name or "").strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        result.append(name)
    return result


def preview_table(path: str | os.PathLike, n_rows: int = 50) -> TablePreview:
    """Read the header and first rows of a CSV/TSV/XLSX file and detect its SMILES column."""
    path = Path(path)
    _check_readable(path)
    fmt = detect_format(path)
    if fmt not in ("csv", "tsv", "xlsx"):
        raise LibraryReadError(f"{path.name}: not a table (CSV, TSV or XLSX).")
    columns, rows = _read_table_head(path, fmt, n_rows)
    sample = max(5, _DETECTION_CELLS // max(1, len(columns)))
    candidates = detect_smiles_columns(columns, rows[:sample])
    smiles_column = candidates[0] if candidates else None
    return TablePreview(
        columns=columns,
        rows=rows,
        smiles_column=smiles_column,
        name_column=detect_name_column(columns, smiles_column),
        smiles_candidates=candidates,
    )


def iter_record_chunks(
    path: str | os.PathLike, options: ReadOptions | None = None
) -> Iterator[list[RawRecord]]:
    """Yield the file's records in lists of at most ``options.chunk_size``.

    Raises :class:`LibraryReadError` (before yielding anything) when the file as a whole cannot be
    read: missing, empty, binary, or a table with no SMILES column.
    """
    options = options or ReadOptions()
    path = Path(path)
    _check_readable(path)
    fmt = detect_format(path)
    if fmt == "smiles":
        records = _iter_smiles_file(path)
    elif fmt == "sdf":
        records = _iter_sdf(path)
    else:
        records = _iter_table(path, fmt, options)
    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= options.chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _iter_smiles_file(path: Path) -> Iterator[RawRecord]:
    empty = True
    with _open_text(path) as handle:
        for record in smiles_line_records(handle):
            empty = False
            yield record
    if empty:
        raise LibraryReadError(f"{path.name}: contains no SMILES (only blank or comment lines).")


def is_smiles_header(smiles: str) -> bool:
    """True when the first SMILES of a SMILES file is a column header ("smiles", "SMILES")."""
    return smiles.lower() in SMILES_HEADER_NAMES and not looks_like_smiles(smiles)


def smiles_line_records(
    lines: Iterable[str], start_index: int = 0, header_possible: bool = True
) -> Iterator[RawRecord]:
    """The records of a SMILES file's lines: one per line that is neither blank nor a comment.

    ``start_index`` is the file index of the first record (a part of a file read on its own,
    see :mod:`core.chem.partitions`); ``header_possible``: the first such line may be a header
    (true only at the file's start).
    """
    index = start_index
    first = header_possible
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        smiles, extension, name = split_cxsmiles(stripped)
        if first:
            first = False
            # A header line such as "smiles name" or "SMILES\tID" is not a record.
            if is_smiles_header(smiles):
                continue
        if extension:
            # The CXSMILES extension (enhanced stereo, R-group labels) belongs to the SMILES.
            smiles = f"{smiles} {extension}"
        error = None
        if len(smiles) > MAX_SMILES_LENGTH:
            error = (
                f"SMILES too long ({len(smiles):,} characters; the limit is {MAX_SMILES_LENGTH:,})"
            )
            smiles = smiles[:80] + "…"
            name = name[:200]
        else:
            error = smiles_text_error(smiles)
        yield RawRecord(index=index, name=name or f"mol{index + 1}", text=smiles, error=error)
        index += 1


def _iter_table_rows(path: Path, fmt: str) -> Iterator[list[str]]:
    if fmt == "xlsx":
        iterator = _iter_xlsx_rows(path)
        next(iterator, None)  # header
        yield from iterator
        return
    delimiter = _table_delimiter(path, fmt)
    with _open_text(path) as handle:
        rows = delimited_rows(handle, delimiter)
        next(rows, None)
        yield from rows


def delimited_rows(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """csv rows of ``lines``; a line csv cannot read becomes a one-cell marker row that
    :func:`table_row_records` turns into an invalid record."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # A malformed line (for example a NUL byte or a line past csv's field limit).
            yield [f"\x00csv-error:{exc}"]
            continue
        yield row


def _column_list(columns: list[str], shown: int = 20) -> str:
    """Column names for a message: the first ``shown`` (a message stays one readable line)."""
    if not columns:
        return "(none)"
    text = ", ".join(name if len(name) <= 60 else name[:57] + "…" for name in columns[:shown])
    if len(columns) > shown:
        text += f" and {len(columns) - shown:,} more"
    return text


@dataclass(slots=True, frozen=True)
class TableLayout:
    """A table's columns as read from its header, the SMILES and name columns chosen, and the
    delimiter (``None`` for a workbook)."""

    columns: list[str]
    smiles_column: str
    name_column: str | None
    delimiter: str | None


def table_layout(path: str | os.PathLike, options: ReadOptions | None = None) -> TableLayout:
    """Read a table's header and choose its SMILES and name columns (``options`` or detected).

    Raises
    ------
    LibraryReadError
        When no column looks like SMILES or a named column does not exist.
    """
    path = Path(path)
    options = options or ReadOptions()
    preview = preview_table(path)
    columns = preview.columns
    smiles_column = options.smiles_column or preview.smiles_column
    if smiles_column is None:
        raise LibraryReadError(
            f"{path.name}: no column looks like SMILES. Columns: {_column_list(columns)}. "
            "Pick the SMILES column by hand."
        )
    if smiles_column not in columns:
        raise LibraryReadError(
            f"{path.name}: there is no column '{smiles_column}'. Columns: {_column_list(columns)}."
        )
    name_column = options.name_column
    if name_column is None:
        name_column = detect_name_column(columns, smiles_column)
    elif name_column == "":
        name_column = None  # asked for no name column
    if name_column is not None and name_column not in columns:
        raise LibraryReadError(
            f"{path.name}: there is no column '{name_column}'. Columns: {_column_list(columns)}."
        )
    fmt = detect_format(path)
    delimiter = None if fmt == "xlsx" else _table_delimiter(path, fmt)
    return TableLayout(columns, smiles_column, name_column, delimiter)


def _iter_table(path: Path, fmt: str, options: ReadOptions) -> Iterator[RawRecord]:
    layout = table_layout(path, options)
    empty = True
    for record in table_row_records(_iter_table_rows(path, fmt), layout):
        empty = False
        yield record
    if empty:
        raise LibraryReadError(f"{path.name}: the table has a header but no rows.")


def table_row_records(
    rows: Iterable[list[str]], layout: TableLayout, start_index: int = 0
) -> Iterator[RawRecord]:
    """The records of a table's data rows (header excluded); ``start_index`` is the file index
    of the first row (a part of a file read on its own, see :mod:`core.chem.partitions`)."""
    columns = layout.columns
    smiles_column, name_column = layout.smiles_column, layout.name_column
    smiles_pos = columns.index(smiles_column)
    name_pos = columns.index(name_column) if name_column is not None else None
    extra_positions = [(i, c) for i, c in enumerate(columns) if i != smiles_pos and i != name_pos]
    for index, row in enumerate(rows, start=start_index):
        if len(row) == 1 and row[0].startswith("\x00csv-error:"):
            yield RawRecord(
                index=index,
                name=f"row{index + 2}",
                text="",
                error=f"unreadable line: {row[0][11:]}",
            )
            continue
        smiles = row[smiles_pos].strip() if smiles_pos < len(row) else ""
        name = row[name_pos].strip() if name_pos is not None and name_pos < len(row) else ""
        extra = {c: (row[i] if i < len(row) else "") for i, c in extra_positions}
        if len(row) > len(columns):
            _keep_cells_beyond_header(extra, row, columns)
        error = None
        if not smiles:
            error = f"empty SMILES in column '{smiles_column}'"
        elif len(smiles) > MAX_SMILES_LENGTH:
            error = (
                f"SMILES too long ({len(smiles):,} characters; the limit is {MAX_SMILES_LENGTH:,})"
            )
            smiles = smiles[:80] + "…"
        else:
            error = smiles_text_error(smiles)
        # Names default to the data row's line number (header is line 1), which users can find.
        yield RawRecord(
            index=index, name=name or f"row{index + 2}", text=smiles, extra=extra, error=error
        )


def _keep_cells_beyond_header(extra: dict[str, str], row: list[str], columns: list[str]) -> None:
    """Keep a row's non-empty cells right of the header's last column (an unquoted comma in a
    CSV name, a workbook column without a header) as ``column_N`` values instead of dropping
    them."""
    for position in range(len(columns), len(row)):
        if row[position].strip():
            name = f"column_{position + 1}"
            if name in columns:
                name += " (beyond the header)"
            extra[name] = row[position]


def _iter_xlsx_rows(path: Path) -> Iterator[list[str]]:
    """The first sheet's non-blank rows as text, the header first.

    Raises :class:`LibraryReadError` for every workbook openpyxl cannot read (damaged zip or XML,
    missing parts): before the first row when the workbook cannot be opened, later when a sheet
    is damaged part-way.
    """
    from openpyxl import load_workbook

    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl lets zip, XML, key and type errors of broken files out
        raise LibraryReadError(
            f"{path.name}: not a readable Excel workbook ({_exception_text(exc)})."
        ) from exc
    row_number = 0
    try:
        if not workbook.worksheets:
            raise LibraryReadError(f"{path.name}: the workbook has no worksheet.")
        sheet = workbook.worksheets[0]
        # Other programs write a <dimension> tag that under-reports the rows (openpyxl would stop
        # there) or over-reports them (a million empty rows): read the rows that are there.
        sheet.reset_dimensions()
        first = True
        rows = sheet.iter_rows(min_row=1, min_col=1, values_only=True)
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # a damaged sheet part-way: XML, zip CRC, bad cell values
                raise LibraryReadError(
                    f"{path.name}: the workbook is damaged after row {row_number:,} "
                    f"({_exception_text(exc)})."
                ) from exc
            row_number += 1
            row = ["" if v is None else _cell_text(v) for v in values]
            if first:
                if not any(row):
                    continue  # blank rows above the header
                first = False
                yield _unique_header(row)
                continue
            if any(row):
                yield row
    finally:
        workbook.close()


MAX_XLSX_MEMBERS = 10_000
"""Parts (files in the zip archive) of a workbook; Excel writes a few dozen."""
MAX_XLSX_PART_BYTES = 500_000_000
"""Uncompressed size of one part. A sheet of a million rows of ten short cells is about 400 MB of
XML; openpyxl needs about three times a part's size in memory when one cell holds it all."""
MAX_XLSX_TOTAL_BYTES = 2_000_000_000
"""Uncompressed size of all parts together."""
MAX_XLSX_RATIO = 200
"""Compression ratio of a part larger than :data:`XLSX_RATIO_MIN_BYTES`. Real sheet XML shrinks
10 to 30 times; deflate cannot do better than about 1,030 times, which is what a zip bomb uses."""
XLSX_RATIO_MIN_BYTES = 10_000_000


def check_xlsx_archive(path: str | os.PathLike) -> None:
    """Refuse a workbook whose zip archive would expand beyond the limits above.

    Reads only the archive's directory (the sizes it declares; Python's zipfile never returns more
    bytes than declared), so a zip bomb is refused before anything is decompressed.

    Raises
    ------
    LibraryReadError
        Naming the file, the part and the limit it passes, or saying the zip is damaged.
    """
    import zipfile

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # BadZipFile, OSError, EOFError, ValueError for damaged archives
        raise LibraryReadError(
            f"{path.name}: not a readable Excel workbook (damaged zip archive: "
            f"{_exception_text(exc)})."
        ) from exc
    if len(members) > MAX_XLSX_MEMBERS:
        raise LibraryReadError(
            f"{path.name}: the workbook's zip archive holds {len(members):,} parts; DrugDesk opens "
            f"workbooks of at most {MAX_XLSX_MEMBERS:,} parts (this is not a spreadsheet as Excel "
            "writes it)."
        )
    total = 0
    for member in members:
        size = member.file_size
        total += size
        if size > MAX_XLSX_PART_BYTES:
            raise LibraryReadError(
                f"{path.name}: the workbook part '{member.filename[:80]}' expands to "
                f"{_megabytes(size)}; DrugDesk reads parts of at most "
                f"{_megabytes(MAX_XLSX_PART_BYTES)}. Save the sheet as CSV to load it."
            )
        if size > XLSX_RATIO_MIN_BYTES and size > MAX_XLSX_RATIO * max(1, member.compress_size):
            raise LibraryReadError(
                f"{path.name}: the workbook part '{member.filename[:80]}' expands "
                f"{size / max(1, member.compress_size):,.0f} times (to {_megabytes(size)}); "
                f"DrugDesk refuses more than {MAX_XLSX_RATIO} times: this is a zip bomb, not a "
                "spreadsheet."
            )
    if total > MAX_XLSX_TOTAL_BYTES:
        raise LibraryReadError(
            f"{path.name}: the workbook expands to {_megabytes(total)}; DrugDesk opens workbooks "
            f"of at most {_megabytes(MAX_XLSX_TOTAL_BYTES)}. Save the sheet as CSV to load it."
        )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB" if size >= 1_000_000 else f"{size:,} bytes"


def _exception_text(exc: BaseException) -> str:
    """An exception as a short phrase for a one-line message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 200:
        text = text[:197] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _iter_sdf(path: Path) -> Iterator[RawRecord]:
    empty = True
    with _open_text(path) as handle:
        for record in sdf_line_records(handle):
            empty = False
            yield record
    if empty:
        raise LibraryReadError(f"{path.name}: contains no SDF records.")


def sdf_line_records(lines: Iterable[str], start_index: int = 0) -> Iterator[RawRecord]:
    """The records of an SDF file's lines, each ended by a ``$$$$`` line (the last one may lack
    it); ``start_index`` is the file index of the first record (a part of a file read on its
    own, see :mod:`core.chem.partitions`)."""
    index = start_index
    lines_of_record: list[str] = []
    size = 0
    too_big = False
    for line in lines:
        if line.startswith("$$$$"):
            yield _sdf_record(index, lines_of_record, too_big)
            index += 1
            lines_of_record, size, too_big = [], 0, False
            continue
        size += len(line)
        if size > MAX_MOLBLOCK_BYTES:
            too_big = True
            continue
        lines_of_record.append(line)
    # A last record without "$$$$" still counts when it holds anything.
    if any(line.strip() for line in lines_of_record):
        yield _sdf_record(index, lines_of_record, too_big)


def _sdf_record(index: int, lines: list[str], too_big: bool) -> RawRecord:
    default_name = f"record{index + 1}"
    if too_big:
        return RawRecord(
            index=index,
            name=default_name,
            text="",
            kind="molblock",
            error=f"SDF record larger than {MAX_MOLBLOCK_BYTES // 1_000_000} MB",
        )
    end = len(lines)
    for i, line in enumerate(lines):
        if line.startswith("M  END"):
            end = i + 1
            break
    molblock = "".join(lines[:end])
    tags = _parse_sdf_tags(lines[end:])
    title = lines[0].strip() if lines else ""
    name = title or _first_tag(tags, NAME_HEADER_NAMES) or default_name
    error = None
    if end == len(lines) and not any(line.startswith("M  END") for line in lines):
        error = "broken SDF record: no 'M  END' line"
    return RawRecord(
        index=index, name=name, text=molblock, kind="molblock", extra=tags, error=error
    )


def _parse_sdf_tags(lines: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    current: str | None = None
    values: list[str] = []
    for line in lines:
        if line.startswith(">"):
            if current is not None:
                tags[current] = "\n".join(values).strip()
            start, stop = line.find("<"), line.rfind(">")
            current = line[start + 1 : stop].strip() if 0 < start < stop else line[1:].strip()
            values = []
        elif current is not None:
            if line.strip() == "":
                tags[current] = "\n".join(values).strip()
                current, values = None, []
            else:
                values.append(line.rstrip("\r\n"))
    if current is not None:
        tags[current] = "\n".join(values).strip()
    return tags


def _first_tag(tags: dict[str, str], names: tuple[str, ...]) -> str:
    for key, value in tags.items():
        if key.strip().lower() in names and value:
            return value
    return ""


def estimate_record_count(path: str | os.PathLike) -> int | None:
    """A cheap estimate of the number of records, for progress; ``None`` when unknown."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return None
    fmt = detect_format(path)
    if fmt == "xlsx":
        return None
    with open(path, "rb") as handle:
        sample = handle.read(1 << 20)
    if not sample:
        return 0
    if fmt == "sdf":
        per_record = sample.count(b"$$$$")
        if per_record == 0:
            return 1
        return max(1, round(per_record * size / len(sample)))
    lines = sample.count(b"\n") or 1
    return max(1, round(lines * size / len(sample)))
