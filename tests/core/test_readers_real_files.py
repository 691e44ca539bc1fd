"""Readers against files as other tools write them and as attackers craft them (issue #14).

Each case reads a small file of ``tests/corpus/bad_inputs/`` or one written by the test (bombs and
huge inputs are generated at run time, never committed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.chem.readers import (
    LibraryReadError,
    RawRecord,
    ReadOptions,
    detect_delimiter,
    iter_record_chunks,
    preview_table,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_inputs"


def read_all(path, **options) -> list[RawRecord]:
    return [
        record for chunk in iter_record_chunks(path, ReadOptions(**options)) for record in chunk
    ]


# ----------------------------------------------------------------------------------------------
# Delimiters


def test_chembl_semicolon_export_loads_with_smiles_and_chembl_ids():
    path = CORPUS / "tables" / "chembl_semicolon_export.csv"
    preview = preview_table(path)
    assert preview.columns[:3] == ["Molecule ChEMBL ID", "Name", "Synonyms"]
    assert len(preview.columns) == 12
    assert (preview.smiles_column, preview.name_column) == ("Smiles", "Molecule ChEMBL ID")
    records = read_all(path)
    assert [(r.index, r.name, r.text, r.error) for r in records] == [
        (0, "CHEMBL25", "CC(=O)Oc1ccccc1C(=O)O", None),
        (1, "CHEMBL113", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", None),
        (2, "CHEMBL545", "CCO", None),
        (3, "CHEMBL521", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", None),
    ]
    # A quoted cell keeps its commas and semicolons; the empty name stays empty (not shifted).
    assert records[0].extra["Synonyms"] == "Acetylsalicylic acid, ASA; Aspirin"
    assert records[2].extra["Name"] == ""
    assert records[3].extra["Molecular Weight"] == "206.29"


@pytest.mark.parametrize(
    ("suffix", "delimiter"), [(".csv", ";"), (".csv", "|"), (".csv", "\t"), (".tsv", ",")]
)
def test_table_delimiter_other_than_the_suffix_says(write_text, suffix, delimiter):
    rows = [["id", "smiles", "pIC50"], ["a", "CCO", "5,5"], ["b", "c1ccccc1", "6"]]
    if delimiter == ",":
        rows[1][2] = "5.5"
    path = write_text(f"t{suffix}", "".join(delimiter.join(row) + "\n" for row in rows))
    records = read_all(path)
    assert [(r.name, r.text) for r in records] == [("a", "CCO"), ("b", "c1ccccc1")]
    assert records[0].extra == {"pIC50": rows[1][2]}


def test_detect_delimiter_prefers_the_one_that_splits_rows_like_the_header():
    # Header counts tie (one ';' inside a name, one ','): the rows decide.
    assert detect_delimiter("id,a;b\nm1,CCO\nm2,CCN\n", ",") == ","
    assert detect_delimiter("id;a,b\nm1;CCO\nm2;CCN\n", ",") == ";"
    # Delimiters inside quotes do not count.
    assert detect_delimiter('"a;b;c",smiles\n"x;y;z",CCO\n', ",") == ","
    # One column: the suffix's default.
    assert detect_delimiter("smiles\nCCO\n", "\t") == "\t"
    # A header alone: the most frequent delimiter.
    assert detect_delimiter("a;b;c,d\n", ",") == ";"


# ----------------------------------------------------------------------------------------------
# Encodings

ACCENTED_ROWS = [
    ("CCO", "éthanol", "Kühlschrank 4 °C"),
    ("c1ccccc1", "benzène", "“dry” — 5 €"),
]


@pytest.mark.parametrize("name", ["utf16le_bom.csv", "utf16be_bom.csv", "cp1252.csv"])
def test_csv_in_utf16_or_cp1252_reads_every_character(name):
    records = read_all(CORPUS / "tables" / name)
    assert [(r.text, r.name, r.extra["note"], r.error) for r in records] == [
        (*row, None) for row in ACCENTED_ROWS
    ]


@pytest.mark.parametrize("name", ["utf16le_no_bom.smi", "latin1.smi"])
def test_smi_in_utf16_without_mark_or_latin1(name):
    records = read_all(CORPUS / "smiles" / name)
    assert [(r.text, r.name, r.error) for r in records] == [
        ("CCO", "éthanol", None),
        ("OCC(O)CO", "glycérol", None),
    ]


@pytest.mark.parametrize("encoding", ["utf-32", "utf-8-sig"])
def test_other_byte_order_marks(tmp_path, encoding):
    path = tmp_path / "a.tsv"
    path.write_bytes("SMILES\tName\nCCO\téthanol\n".encode(encoding))
    assert [(r.text, r.name) for r in read_all(path)] == [("CCO", "éthanol")]


def test_utf8_file_with_a_cp1252_byte_past_the_head(tmp_path):
    # The head (64 KiB) is plain UTF-8; a record pasted from a cp1252 file comes later.
    good = "".join(f"CCO,é{i}\n" for i in range(10_000)).encode()
    assert len(good) > 65_536
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"smiles,name\n" + good + b"CCN,\xe9thylamine\nCCC,propane\n")
    records = read_all(path)
    assert len(records) == 10_002
    assert records[0].name == "é0"
    assert [(r.index, r.name, r.error) for r in records[-2:]] == [
        (10_000, "éthylamine", None),
        (10_001, "propane", None),
    ]


def test_random_bytes_behind_a_byte_order_mark_are_a_binary_file(tmp_path):
    import random

    data = bytes(random.Random(7).randbytes(4096))
    for mark in (b"\xff\xfe", b"\xef\xbb\xbf"):
        path = tmp_path / "fake.csv"
        path.write_bytes(mark + data)
        with pytest.raises(LibraryReadError, match=r"^fake\.csv: this is a binary file, not text"):
            read_all(path)
