"""Split a compound file into byte ranges that workers read on their own (issue 18).

Nobody reads the whole file to split it: :func:`plan_partitions` looks at the file's head (its
encoding, a table's header and columns, the bytes per record) and cuts the rest into ranges of
about ``records_per_part`` records. Each worker aligns its range to whole records itself, as
dask's ``read_bytes`` does: a range owns the lines (SMILES, CSV, TSV) or SDF records that *start*
inside it, so neighbouring ranges never share or drop a record. The records of a range come from
the reader's own rules (:func:`core.chem.readers.smiles_line_records`,
:func:`~core.chem.readers.table_row_records`, :func:`~core.chem.readers.sdf_line_records`), with
the file index of their first record given by the client once every range has counted its
records (:func:`count_part`), so names and order equal those of reading the file at once.

What cannot be cut by bytes is said, never guessed: :class:`NotSplittable` for workbooks,
UTF-16/32 text and line breaks written as a bare carriage return; :class:`PartitionMismatch`
when a range finds a table row that spans lines (a quoted cell holding a line break). The caller
then reads the file here and sends the records with the tasks.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.chem.readers import (
    RawRecord,
    ReadOptions,
    TableLayout,
    delimited_rows,
    detect_format,
    iter_record_chunks,
    sdf_line_records,
    smiles_line_records,
    table_layout,
    table_row_records,
)
from core.chem.text_encoding import HEAD_BYTES, detect_encoding, error_handler

_SAMPLE_BYTES = 1 << 20
"""Bytes looked at to estimate the bytes per record."""
_MIN_PART_BYTES = 4096
_BLOCK = 1 << 16


class NotSplittable(ValueError):
    """The file cannot be cut into byte ranges; the message says why (for a note to the user)."""


class PartitionMismatch(ValueError):
    """A range's text does not split into records as the whole file would (a quoted cell with a
    line break crosses lines); the file must be read in one piece."""


@dataclass(slots=True, frozen=True)
class FilePlan:
    """What every range needs to read its records as the whole file would be read."""

    path: str
    fmt: str
    """``"smiles"``, ``"csv"``, ``"tsv"`` or ``"sdf"``."""
    encoding: str
    size: int
    data_start: int
    """Byte offset of the first record (after a table's header line)."""
    layout: TableLayout | None = None


@dataclass(slots=True, frozen=True)
class Partition:
    """Bytes ``[start, end)`` of the file: the records that start there."""

    number: int
    start: int
    end: int


def plan_partitions(
    path: str | os.PathLike, options: ReadOptions | None, records_per_part: int
) -> tuple[FilePlan, list[Partition]]:
    """Cut ``path`` into ranges of about ``records_per_part`` records, reading only its head.

    The file is first checked the way the single-machine reader checks it (missing, empty,
    binary, no SMILES column: :class:`~core.chem.readers.LibraryReadError`).

    Raises
    ------
    NotSplittable
        A workbook, UTF-16/32 text or bare carriage-return line breaks.
    LibraryReadError
        The file cannot be read at all.
    """
    path = Path(path).resolve()
    options = options or ReadOptions()
    # The same early refusals as reading the file here (and its first record).
    next(iter_record_chunks(path, ReadOptions(options.smiles_column, options.name_column, 1)))
    fmt = detect_format(path)
    if fmt == "xlsx":
        raise NotSplittable("an .xlsx workbook cannot be cut into byte ranges")
    with open(path, "rb") as handle:
        head = handle.read(max(HEAD_BYTES, _SAMPLE_BYTES))
        size = os.fstat(handle.fileno()).st_size
    encoding = detect_encoding(head[:HEAD_BYTES], whole_file=len(head) < HEAD_BYTES)
    if encoding is None or not encoding.startswith(("utf-8", "cp1252")):
        raise NotSplittable(f"{encoding or 'this'} text cannot be cut into byte ranges")
    if _bare_carriage_returns(head):
        raise NotSplittable("lines end in a bare carriage return (old Mac text)")
    layout = None
    data_start = 0
    if fmt in ("csv", "tsv"):
        layout = table_layout(path, options)
        header_end = head.find(b"\n")
        header = head[: header_end + 1] if header_end >= 0 else head
        if header_end < 0 or header.count(b'"') % 2:
            raise NotSplittable("the table's header does not end on its first line")
        data_start = header_end + 1
    sample = head[data_start:]
    marker = b"$$$$" if fmt == "sdf" else b"\n"
    per_record = len(sample) / max(1, sample.count(marker))
    part_bytes = max(_MIN_PART_BYTES, int(per_record * max(1, records_per_part)))
    plan = FilePlan(str(path), fmt, encoding, size, data_start, layout)
    partitions = []
    start = data_start
    while start < size or not partitions:
        end = min(size, start + part_bytes)
        partitions.append(Partition(len(partitions), start, end))
        start = end
    return plan, partitions


def _bare_carriage_returns(data: bytes) -> bool:
    return data.count(b"\r") != data.count(b"\r\n")


def part_records(
    plan: FilePlan, part: Partition, start_index: int = 0, header_possible: bool = False
) -> list[RawRecord]:
    """The records that start in ``part``, numbered from ``start_index``.

    ``header_possible``: the range's first SMILES line may be the file's header line (true for
    the first range holding any record, see :func:`count_part`).

    Raises
    ------
    PartitionMismatch
        The range does not read as the whole file would (see the module docstring).
    """
    data = read_part_bytes(plan, part)
    if _bare_carriage_returns(data):
        raise PartitionMismatch(f"part {part.number}: a bare carriage return ends a line")
    text = data.decode(plan.encoding, errors=error_handler(plan.encoding))
    lines = io.StringIO(text, newline="")
    if plan.fmt == "smiles":
        return list(smiles_line_records(lines, start_index, header_possible))
    if plan.fmt == "sdf":
        return list(sdf_line_records(lines, start_index))
    assert plan.layout is not None and plan.layout.delimiter is not None
    rows = list(delimited_rows(lines, plan.layout.delimiter))
    n_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if len(rows) != n_lines or any("\n" in cell or "\r" in cell for row in rows for cell in row):
        raise PartitionMismatch(f"part {part.number}: a quoted cell holds a line break")
    return list(table_row_records(rows, plan.layout, start_index))


def count_part(plan: FilePlan, part: Partition) -> tuple[int, bool]:
    """The number of records starting in ``part`` (no header rule) and whether its first
    record reads as a SMILES header line ("smiles", "SMILES ID")."""
    from core.chem.readers import is_smiles_header, split_cxsmiles

    records = part_records(plan, part)
    first_is_header = (
        plan.fmt == "smiles"
        and bool(records)
        and records[0].error is None
        and is_smiles_header(split_cxsmiles(records[0].text)[0])
    )
    return len(records), first_is_header


@dataclass(slots=True, frozen=True)
class PartStart:
    """Where a range's records begin in the file, from every range's :func:`count_part`."""

    start_index: int
    n_records: int
    header_possible: bool


def part_starts(counts: list[tuple[int, bool]]) -> list[PartStart]:
    """The file index of each range's first record; the header rule applies to the first
    range holding any line, as it does to the file's first line."""
    starts = []
    index = 0
    header_seen = False
    for n, first_is_header in counts:
        header_possible = not header_seen and n > 0
        if n > 0:
            header_seen = True
        n_records = n - 1 if header_possible and first_is_header else n
        starts.append(PartStart(index, n_records, header_possible))
        index += n_records
    return starts


def read_part_bytes(plan: FilePlan, part: Partition) -> bytes:
    """The bytes of the records that start in ``part``: from the first record start at or
    after ``part.start`` to the first at or after ``part.end``."""
    with open(plan.path, "rb") as handle:
        find_start = _sdf_record_start if plan.fmt == "sdf" else _line_start
        begin = find_start(handle, part.start, plan)
        end = find_start(handle, part.end, plan) if part.end < plan.size else plan.size
        if end <= begin:
            return b""
        handle.seek(begin)
        return handle.read(end - begin)


def _line_start(handle: io.BufferedReader, offset: int, plan: FilePlan) -> int:
    """The first line start at or after ``offset`` (line starts: ``data_start`` and the byte
    after each ``\\n``)."""
    if offset <= plan.data_start:
        return plan.data_start
    handle.seek(offset - 1)
    position = offset - 1
    while True:
        block = handle.read(_BLOCK)
        if not block:
            return plan.size
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)


def _sdf_record_start(handle: io.BufferedReader, offset: int, plan: FilePlan) -> int:
    """The first SDF record start at or after ``offset`` (the file's start and the line after
    each ``$$$$`` line)."""
    if offset <= plan.data_start:
        return plan.data_start
    line_start = _line_start(handle, offset, plan)
    if _line_before_starts_with_marker(handle, line_start):
        return line_start
    handle.seek(line_start)
    position = line_start
    for line in _lines(handle):
        position += len(line)
        if line.startswith(b"$$$$"):
            return position
    return plan.size


def _lines(handle: io.BufferedReader) -> Iterator[bytes]:
    while line := handle.readline():
        yield line


def _line_before_starts_with_marker(handle: io.BufferedReader, line_start: int) -> bool:
    """Whether the line that ends just before ``line_start`` begins with ``$$$$``."""
    if line_start <= 0:
        return False
    end = line_start - 1  # the "\n" ending the previous line
    position = end
    while position > 0:
        step = min(_BLOCK, position)
        handle.seek(position - step)
        block = handle.read(step)
        found = block.rfind(b"\n")
        if found >= 0:
            begin = position - step + found + 1
            break
        position -= step
    else:
        begin = 0
    handle.seek(begin)
    return handle.read(4) == b"$$$$" and begin + 4 <= end
