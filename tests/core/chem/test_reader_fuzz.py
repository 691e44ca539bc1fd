"""Fuzzing the compound-file readers: whatever the bytes, a reader either refuses the file with a
:class:`LibraryReadError` or yields every record it found, numbered 0..n-1, and nothing else.

Seeded (``derandomize=True``) so that a failure reproduces; a few seconds in all.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.chem.readers import LibraryReadError, RawRecord, ReadOptions, iter_record_chunks

FUZZ = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text made mostly of what these formats are made of, plus characters that break things.
SMILES_PIECES = ["C", "c1", "ccccc1", "O", "N", "(", ")", "=", "[C@H]", "[*:1]", "Cl", "%10", "."]
SEPARATORS = [",", ";", "\t", "|", " ", "\n", "\r\n", "\r", '"', "'", "#"]
ODD = [
    "\x00",
    "\ufeff",
    "\u00a0",
    "☃",
    "é",
    "\ufffd",
    "\x1a",
    "$$$$",
    "M  END",
    "> <tag>",
    "|&1:1|",
]
TOKENS = st.sampled_from(SMILES_PIECES + SEPARATORS + ODD) | st.text(max_size=5)
TEXT = st.lists(TOKENS, max_size=80).map("".join)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "utf-32"])


@st.composite
def encoded_text(draw) -> bytes:
    text = draw(TEXT)
    encoding = draw(ENCODINGS)
    return text.encode(encoding, errors="replace")


FILE_BYTES = encoded_text() | st.binary(max_size=600)


def read_or_refuse(name: str, data: bytes) -> list[RawRecord] | None:
    """Write ``data`` to a file called ``name`` and read it; ``None`` when it is refused."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return [
                record
                for chunk in iter_record_chunks(path, ReadOptions(chunk_size=7))
                for record in chunk
            ]
        except LibraryReadError as exc:
            message = str(exc)
            assert message.startswith(name) or message.startswith(str(path)), message
            assert "Traceback" not in message
            return None


def assert_records_in_order(records: list[RawRecord] | None) -> None:
    if records is None:
        return
    assert [record.index for record in records] == list(range(len(records)))
    for record in records:
        assert isinstance(record.name, str) and record.name
        assert isinstance(record.text, str)
        assert record.kind in ("smiles", "molblock")
        assert record.error is None or (isinstance(record.error, str) and record.error)


@FUZZ
@given(data=FILE_BYTES)
def test_fuzzed_smi(data):
    assert_records_in_order(read_or_refuse("fuzz.smi", data))


@FUZZ
@given(data=FILE_BYTES, header=st.sampled_from(["smiles,name\n", "id;Smiles\n", ""]))
def test_fuzzed_csv(data, header):
    assert_records_in_order(read_or_refuse("fuzz.csv", header.encode() + data))


@FUZZ
@given(data=FILE_BYTES, header=st.sampled_from(["SMILES\tName\n", "smiles\n", ""]))
def test_fuzzed_tsv(data, header):
    assert_records_in_order(read_or_refuse("fuzz.tsv", header.encode() + data))


SDF_LINES = st.sampled_from(
    [
        "ethanol",
        "     RDKit          2D",
        "",
        "  3  2  0  0  0  0  0  0  0  0999 V2000",
        "    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0",
        "  1  2  1  0",
        "M  END",
        "> <pIC50>",
        ">  <name>  (1)",
        "5.2",
        "$$$$",
        "M  V30 BEGIN CTAB",
    ]
) | st.text(max_size=20)


@FUZZ
@given(lines=st.lists(SDF_LINES, max_size=60), newline=st.sampled_from(["\n", "\r\n"]))
def test_fuzzed_sdf(lines, newline):
    assert_records_in_order(read_or_refuse("fuzz.sdf", newline.join(lines).encode()))


@FUZZ
@given(data=FILE_BYTES)
def test_fuzzed_sdf_bytes(data):
    assert_records_in_order(read_or_refuse("fuzz.sdf", data))


CELLS = (
    st.none()
    | TEXT
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
)


def workbook_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        # Excel cannot hold control characters; openpyxl refuses to write them.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@FUZZ
@given(
    header=st.sampled_from([["SMILES", "Name"], ["smiles"], [], ["a", None, "b"]]),
    rows=st.lists(st.lists(CELLS, max_size=5), max_size=12),
)
def test_fuzzed_xlsx_cells(header, rows):
    assert_records_in_order(read_or_refuse("fuzz.xlsx", workbook_bytes([header, *rows])))


VALID_WORKBOOK = workbook_bytes([["smiles", "name"], ["CCO", "ethanol"], ["c1ccccc1", "benzene"]])


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(VALID_WORKBOOK) - 1), st.integers(0, 255)), max_size=8
    ),
    cut=st.none() | st.integers(0, len(VALID_WORKBOOK)),
)
def test_fuzzed_xlsx_bytes(changes, cut):
    data = bytearray(VALID_WORKBOOK)
    for position, value in changes:
        data[position] = value
    if cut is not None:
        del data[cut:]
    assert_records_in_order(read_or_refuse("fuzz.xlsx", bytes(data)))


@settings(derandomize=True, max_examples=12, deadline=None)
@given(
    data=encoded_text(),
    name=st.sampled_from(["fuzz.smi", "fuzz.csv"]),
)
def test_fuzzed_load_library_keeps_every_record(data, name):
    from core.chem.library import LoadOptions, load_library

    records = read_or_refuse(name, data)
    assume(records is not None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        library = load_library(path, LoadOptions(workers=1))
    table = library.table
    assert len(table) == len(records)
    assert list(table.index) == list(range(len(records)))
    assert table["name"].tolist() == [record.name for record in records]
    # Every record is either valid or says why not.
    assert all(valid or error for valid, error in zip(table["valid"], table["error"], strict=True))
