"""Reading compound files into raw records: every format, chunking, column detection, bad input."""

from __future__ import annotations

import os
import random

import pytest
from openpyxl import Workbook
from rdkit import Chem

from core.chem.readers import (
    MAX_SMILES_LENGTH,
    LibraryReadError,
    RawRecord,
    ReadOptions,
    detect_format,
    detect_name_column,
    detect_smiles_columns,
    estimate_record_count,
    is_tabular,
    iter_record_chunks,
    looks_like_smiles,
    preview_table,
)

TEN_MB = 10_000_000


def read_all(path, **options) -> list[RawRecord]:
    return [
        record for chunk in iter_record_chunks(path, ReadOptions(**options)) for record in chunk
    ]


def summary(records: list[RawRecord]) -> list[tuple]:
    return [(r.index, r.name, r.text, r.error) for r in records]


def write_sdf(path, entries):
    """``entries``: (smiles, name, {tag: value}); written by RDKit's own SDWriter."""
    writer = Chem.SDWriter(str(path))
    for smiles, name, tags in entries:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        for key, value in tags.items():
            mol.SetProp(key, value)
        writer.write(mol)
    writer.close()
    return path


def write_xlsx(path, rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


SDF_ENTRIES = [
    ("CC(=O)Oc1ccccc1C(=O)O", "aspirin", {"pIC50": "5.2", "source": "bench"}),
    ("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "caffeine", {"pIC50": "4.1", "source": "shelf"}),
    ("c1ccccc1", "benzene", {"pIC50": "3", "source": "bench"}),
]


# ----------------------------------------------------------------------------------------------
# Formats


def test_detect_format_and_is_tabular():
    assert detect_format("a.smi") == "smiles"
    assert detect_format("A.SMILES") == "smiles"
    assert detect_format("a.txt") == "smiles"
    assert detect_format("dir.v2/a.csv") == "csv"
    assert detect_format("a.tsv") == "tsv"
    assert detect_format("a.tab") == "tsv"
    assert detect_format("a.sdf") == "sdf"
    assert detect_format("a.SD") == "sdf"
    assert detect_format("a.mol") == "sdf"
    assert detect_format("a.xlsx") == "xlsx"
    assert is_tabular("a.csv") and is_tabular("a.tsv") and is_tabular("a.xlsx")
    assert not is_tabular("a.smi") and not is_tabular("a.sdf")
    for name, shown in (("a.pdf", "'.pdf'"), ("a.smi.gz", "'.gz'"), ("noext", r"'\(none\)'")):
        with pytest.raises(LibraryReadError, match=f"unsupported file type {shown}"):
            detect_format(name)


def test_smi_with_names(write_text):
    path = write_text("a.smi", "CCO ethanol\nc1ccccc1\tbenzene\nCC(=O)O acetic acid\n")
    assert summary(read_all(path)) == [
        (0, "ethanol", "CCO", None),
        (1, "benzene", "c1ccccc1", None),
        (2, "acetic acid", "CC(=O)O", None),
    ]
    assert {r.kind for r in read_all(path)} == {"smiles"}
    assert all(r.extra == {} for r in read_all(path))


def test_smi_without_names_numbers_from_one(write_text):
    path = write_text("a.smi", "CCO\nc1ccccc1\n")
    assert summary(read_all(path)) == [(0, "mol1", "CCO", None), (1, "mol2", "c1ccccc1", None)]


@pytest.mark.parametrize(
    "header", ["SMILES Name", "smiles\tid", "Canonical_SMILES title", "smiles"]
)
def test_smi_header_line_is_not_a_record(write_text, header):
    path = write_text("a.smi", f"{header}\nCCO ethanol\nCCN ethylamine\n")
    assert summary(read_all(path)) == [
        (0, "ethanol", "CCO", None),
        (1, "ethylamine", "CCN", None),
    ]


def test_smi_comments_blank_lines_and_crlf(write_text):
    text = "# exported 2026\r\n\r\nCCO ethanol\r\n   \r\n# a comment\r\n\tCCN  ethylamine \r\n\n"
    path = write_text("a.smi", text)
    assert summary(read_all(path)) == [
        (0, "ethanol", "CCO", None),
        (1, "ethylamine", "CCN", None),
    ]


def test_smi_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.smi"
    path.write_bytes("\ufeffCCO ethanol\n".encode())
    assert summary(read_all(path)) == [(0, "ethanol", "CCO", None)]


def test_chembl_file_reads_every_line_in_order(chembl_path, chembl_entries):
    records = read_all(chembl_path)
    assert [(r.text, r.name) for r in records] == chembl_entries
    assert [r.index for r in records] == list(range(1017))
    assert all(r.error is None for r in records)


def test_csv_with_detected_smiles_and_name_columns(write_text):
    path = write_text(
        "a.csv",
        'compound_id,smiles,pIC50,note\nC-1,CCO,5.5,"ethyl, alcohol"\nC-2,c1ccccc1,6,\n',
    )
    records = read_all(path)
    assert summary(records) == [(0, "C-1", "CCO", None), (1, "C-2", "c1ccccc1", None)]
    assert [r.extra for r in records] == [
        {"pIC50": "5.5", "note": "ethyl, alcohol"},
        {"pIC50": "6", "note": ""},
    ]


def test_tsv_with_detected_smiles_and_name_columns(write_text):
    path = write_text(
        "a.tsv", "Name\tSMILES\tActivity\nasp\tCC(=O)Oc1ccccc1C(=O)O\t1.5\nbz\tc1ccccc1\t2\n"
    )
    records = read_all(path)
    assert summary(records) == [
        (0, "asp", "CC(=O)Oc1ccccc1C(=O)O", None),
        (1, "bz", "c1ccccc1", None),
    ]
    assert [r.extra for r in records] == [{"Activity": "1.5"}, {"Activity": "2"}]


def test_csv_smiles_column_under_an_unusual_header(write_text):
    path = write_text(
        "a.csv",
        "ID,Parent Structure (canonical),MW\n"
        "a,CC(=O)Oc1ccccc1C(=O)O,180.16\n"
        "b,CN1C=NC2=C1C(=O)N(C(=O)N2C)C,194.19\n"
        "c,c1ccc2ccccc2c1,128.17\n",
    )
    preview = preview_table(path)
    assert preview.smiles_column == "Parent Structure (canonical)"
    assert preview.name_column == "ID"
    records = read_all(path)
    assert [(r.name, r.text) for r in records] == [
        ("a", "CC(=O)Oc1ccccc1C(=O)O"),
        ("b", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"),
        ("c", "c1ccc2ccccc2c1"),
    ]
    assert records[0].extra == {"MW": "180.16"}


def test_csv_without_name_column_names_rows_by_line_number(write_text):
    path = write_text("a.csv", "smiles,score\nCCO,1\nCCN,2\n")
    assert [r.name for r in read_all(path)] == ["row2", "row3"]


def test_csv_empty_smiles_cell_is_an_invalid_record(write_text):
    path = write_text("a.csv", "smiles,name\nCCO,a\n,b\nCCN,c\n")
    assert summary(read_all(path)) == [
        (0, "a", "CCO", None),
        (1, "b", "", "empty SMILES in column 'smiles'"),
        (2, "c", "CCN", None),
    ]


def test_xlsx_written_with_openpyxl(tmp_path):
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [
            ["Compound", "SMILES", "pIC50", "count"],
            ["asp", "CC(=O)Oc1ccccc1C(=O)O", 7.25, 3],
            ["bz", "c1ccccc1", 6.0, None],
            [None, None, None, None],
            ["eth", "CCO", 5, 1],
        ],
    )
    preview = preview_table(path)
    assert preview.columns == ["Compound", "SMILES", "pIC50", "count"]
    assert (preview.smiles_column, preview.name_column) == ("SMILES", "Compound")
    records = read_all(path)
    assert summary(records) == [
        (0, "asp", "CC(=O)Oc1ccccc1C(=O)O", None),
        (1, "bz", "c1ccccc1", None),
        (2, "eth", "CCO", None),
    ]
    assert [r.extra for r in records] == [
        {"pIC50": "7.25", "count": "3"},
        {"pIC50": "6", "count": ""},
        {"pIC50": "5", "count": "1"},
    ]


def test_xlsx_header_below_blank_rows_is_made_unique(tmp_path):
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [[None, None], [None, None], ["smiles", "smiles"], ["CCO", "CCN"]],
    )
    assert preview_table(path).columns == ["smiles", "smiles_2"]
    records = read_all(path)
    assert [(r.text, r.extra) for r in records] == [("CCO", {"smiles_2": "CCN"})]


def test_sdf_written_by_rdkit_with_tags(tmp_path):
    path = write_sdf(tmp_path / "a.sdf", SDF_ENTRIES)
    records = read_all(path)
    assert [(r.index, r.name, r.kind, r.error) for r in records] == [
        (0, "aspirin", "molblock", None),
        (1, "caffeine", "molblock", None),
        (2, "benzene", "molblock", None),
    ]
    assert [r.extra for r in records] == [tags for _, _, tags in SDF_ENTRIES]
    for record, (smiles, _, _) in zip(records, SDF_ENTRIES, strict=True):
        mol = Chem.MolFromMolBlock(record.text)
        assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))
        assert record.text.rstrip().endswith("M  END")


def test_sdf_without_title_takes_the_name_from_a_tag(tmp_path):
    path = write_sdf(tmp_path / "a.sdf", [("CCO", "", {"ID": "E-1"}), ("CCN", "", {"x": "1"})])
    assert [r.name for r in read_all(path)] == ["E-1", "record2"]


def test_sdf_whose_last_record_lacks_the_terminator(tmp_path):
    path = write_sdf(tmp_path / "a.sdf", SDF_ENTRIES)
    text = path.read_text()
    assert text.endswith("$$$$\n")
    path.write_text(text[: -len("$$$$\n")])
    records = read_all(path)
    assert [r.name for r in records] == ["aspirin", "caffeine", "benzene"]
    assert [r.error for r in records] == [None, None, None]
    assert records[2].extra == {"pIC50": "3", "source": "bench"}


def test_single_molfile_is_one_record(tmp_path):
    path = tmp_path / "one.mol"
    mol = Chem.MolFromSmiles("CCO")
    mol.SetProp("_Name", "ethanol")
    path.write_text(Chem.MolToMolBlock(mol))
    records = read_all(path)
    assert [(r.index, r.name, r.error) for r in records] == [(0, "ethanol", None)]


# ----------------------------------------------------------------------------------------------
# Chunks


@pytest.mark.parametrize("chunk_size", [1, 100, 1017, 5000])
def test_chunk_size_is_respected_and_indices_continue(chembl_path, chunk_size):
    chunks = list(iter_record_chunks(chembl_path, ReadOptions(chunk_size=chunk_size)))
    sizes = [len(chunk) for chunk in chunks]
    expected = [chunk_size] * (1017 // chunk_size) + (
        [1017 % chunk_size] if 1017 % chunk_size else []
    )
    assert sizes == expected
    assert [r.index for chunk in chunks for r in chunk] == list(range(1017))


def test_chunks_of_csv_and_sdf(tmp_path, chembl_entries):
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("smiles,name\n" + "".join(f"{s},{n}\n" for s, n in chembl_entries[:25]))
    chunks = list(iter_record_chunks(csv_path, ReadOptions(chunk_size=10)))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [r.index for c in chunks for r in c] == list(range(25))
    assert [r.name for c in chunks for r in c] == [n for _, n in chembl_entries[:25]]

    sdf_path = write_sdf(tmp_path / "a.sdf", [(s, n, {}) for s, n in chembl_entries[:7]])
    chunks = list(iter_record_chunks(sdf_path, ReadOptions(chunk_size=3)))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [r.index for c in chunks for r in c] == list(range(7))


def test_estimate_record_count(chembl_path, tmp_path):
    assert estimate_record_count(chembl_path) == 1017
    assert estimate_record_count(write_sdf(tmp_path / "a.sdf", SDF_ENTRIES)) == 3
    assert estimate_record_count(tmp_path / "missing.smi") is None
    xlsx = write_xlsx(tmp_path / "a.xlsx", [["smiles"], ["CCO"]])
    assert estimate_record_count(xlsx) is None


# ----------------------------------------------------------------------------------------------
# Column detection and preview


def test_looks_like_smiles():
    assert looks_like_smiles("CC(=O)Oc1ccccc1C(=O)O")
    assert looks_like_smiles(" c1ccccc1 ")
    for value in (
        "",
        "12",
        "3.5",
        "-1e5",
        "hello world",
        "CHEMBL25",
        "C" * (MAX_SMILES_LENGTH + 1),
    ):
        assert not looks_like_smiles(value), value


def test_detect_smiles_columns_named_columns_first():
    columns = ["id", "Product", "smiles", "flag", "score", "empty"]
    rows = [
        ["CHEMBL1", "CCOC(C)=O", "CCO", "C", "1.5", ""],
        ["CHEMBL2", "c1ccccc1O", "CCN", "N", "2", ""],
        ["CHEMBL3", "CC(=O)N", "CCC", "C", "-3", ""],
    ]
    assert detect_smiles_columns(columns, rows) == ["smiles", "Product"]
    assert detect_name_column(columns, "smiles") == "id"
    assert detect_name_column(columns, "id") is None
    # Short values are accepted only under a SMILES-like name.
    assert detect_smiles_columns(["smi", "other"], [["C", "N"], ["O", "C"]]) == ["smi"]


def test_detect_smiles_columns_needs_most_values_to_parse():
    rows = [["CCO"], ["CCN"], ["not a smiles"], ["xyz!"], ["?"]]
    assert detect_smiles_columns(["structure_text"], rows) == []
    rows = [["CCO"], ["CCN"], ["c1ccccc1"], ["xyz!"], ["?"]]
    assert detect_smiles_columns(["structure_text"], rows) == ["structure_text"]


def test_preview_table(write_text):
    lines = ["name,smiles,other_smiles,value"] + [
        f"m{i},{'C' * (i + 1)}O,CCN,{i}" for i in range(60)
    ]
    path = write_text("a.csv", "\n".join(lines) + "\n")
    preview = preview_table(path, n_rows=5)
    assert preview.columns == ["name", "smiles", "other_smiles", "value"]
    assert preview.rows == [line.split(",") for line in lines[1:6]]
    assert preview.smiles_column == "smiles"
    assert preview.name_column == "name"
    assert preview.smiles_candidates == ["smiles", "other_smiles"]
    assert len(preview_table(path).rows) == 50


def test_preview_table_makes_header_names_unique(write_text):
    path = write_text("a.csv", "smiles,x,x,\nCCO,1,2,3\n")
    assert preview_table(path).columns == ["smiles", "x", "x_2", "column_4"]


def test_preview_table_rejects_non_tables(write_text):
    with pytest.raises(LibraryReadError, match=r"a\.smi: not a table"):
        preview_table(write_text("a.smi", "CCO\n"))


def test_smiles_column_override(write_text):
    path = write_text("a.csv", "id,smiles,product\nm1,CCO,CCN\nm2,c1ccccc1,CCCl\n")
    records = read_all(path, smiles_column="product")
    # name_column=None still means "detect": the id column names the rows.
    assert summary(records) == [(0, "m1", "CCN", None), (1, "m2", "CCCl", None)]
    assert [r.extra for r in records] == [{"smiles": "CCO"}, {"smiles": "c1ccccc1"}]


def test_no_name_column(write_text):
    path = write_text("a.csv", "id,smiles,product\nm1,CCO,CCN\nm2,c1ccccc1,CCCl\n")
    records = read_all(path, smiles_column="product", name_column="")
    assert summary(records) == [(0, "row2", "CCN", None), (1, "row3", "CCCl", None)]
    assert [r.extra for r in records] == [
        {"id": "m1", "smiles": "CCO"},
        {"id": "m2", "smiles": "c1ccccc1"},
    ]


def test_name_column_override(write_text):
    path = write_text("a.csv", "id,smiles,label\nm1,CCO,first\nm2,CCN,second\n")
    records = read_all(path, name_column="label")
    assert [(r.name, r.extra) for r in records] == [
        ("first", {"id": "m1"}),
        ("second", {"id": "m2"}),
    ]


def test_wrong_column_names_are_errors(write_text):
    path = write_text("a.csv", "id,smiles\nm1,CCO\n")
    with pytest.raises(
        LibraryReadError, match=r"a\.csv: there is no column 'SMILES'\. Columns: id, smiles\."
    ):
        read_all(path, smiles_column="SMILES")
    with pytest.raises(
        LibraryReadError, match=r"a\.csv: there is no column 'title'\. Columns: id, smiles\."
    ):
        read_all(path, name_column="title")


# ----------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("suffix", [".smi", ".csv", ".tsv", ".sdf", ".xlsx"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(LibraryReadError, match=rf"^empty\{suffix}: the file is empty\.$"):
        read_all(path)


def test_smi_with_only_comments(write_text):
    path = write_text("c.smi", "# nothing here\n\n   \n")
    with pytest.raises(LibraryReadError, match=r"c\.smi: contains no SMILES"):
        read_all(path)


def test_sdf_with_only_blank_lines(write_text):
    with pytest.raises(LibraryReadError, match=r"b\.sdf: contains no SDF records"):
        read_all(write_text("b.sdf", "\n\n\n"))


def test_csv_with_no_smiles_like_column(write_text):
    path = write_text("n.csv", "id,weight,comment\nA,12.5,first batch\nB,13,second batch\n")
    with pytest.raises(
        LibraryReadError,
        match=r"n\.csv: no column looks like SMILES\. Columns: id, weight, comment\. Pick the SMILES column by hand\.",
    ):
        read_all(path)


def test_csv_with_header_but_no_rows(write_text):
    with pytest.raises(LibraryReadError, match=r"h\.csv: the table has a header but no rows"):
        read_all(write_text("h.csv", "smiles,id\n"))


def _garbage(n: int = 4096) -> bytes:
    data = bytearray(random.Random(1234).randbytes(n))
    data[10] = 0  # random bytes nearly always hold a NUL; make sure
    data[:2] = b"\x89Z"  # and never look like a zip archive
    return bytes(data)


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        (".smi", r"this is a binary file, not text; expected SMILES text"),
        (".csv", r"this is a binary file, not text; expected CSV text"),
        (".tsv", r"this is a binary file, not text; expected TSV text"),
        (".sdf", r"this is a binary file, not text; expected SDF text"),
        (".xlsx", r"not an Excel \.xlsx workbook \(not a zip archive\)"),
    ],
)
def test_binary_garbage(tmp_path, suffix, message):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(_garbage())
    with pytest.raises(LibraryReadError, match=rf"^garbage\{suffix}: {message}"):
        read_all(path)
    if suffix in (".csv", ".xlsx"):
        with pytest.raises(LibraryReadError, match=message):
            preview_table(path)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"PK\x03\x04" + _garbage())
    with pytest.raises(LibraryReadError, match=r"^fake\.xlsx: not a readable Excel workbook"):
        read_all(path)


def test_nul_byte_deep_in_a_csv_spoils_only_its_record(tmp_path):
    # Past the 8 KiB sniffed for binary content, a NUL is just a bad character in one SMILES
    # (RDKit's parser would stop at it and read "CC").
    good = "".join(f"CCO,e{i}\n" for i in range(1000))
    path = tmp_path / "nul.csv"
    path.write_bytes(("smiles,name\n" + good + "CC\x00C,bad\nCCN,last\n").encode())
    records = read_all(path)
    assert len(records) == 1002
    assert [(r.text, r.error) for r in records[:1000]] == [("CCO", None)] * 1000
    assert summary(records[1000:]) == [
        (1000, "bad", "CC\x00C", "character U+0000 at position 3 is not SMILES"),
        (1001, "last", "CCN", None),
    ]


@pytest.mark.timeout(20)
def test_ten_megabyte_smi_line(tmp_path):
    path = tmp_path / "big.smi"
    path.write_text("C" * TEN_MB + " huge\n")
    records = read_all(path)
    assert len(records) == 1
    assert records[0].error == "SMILES too long (10,000,000 characters; the limit is 10,000)"
    assert records[0].name == "huge"
    assert len(records[0].text) == 81  # a short excerpt, not 10 MB kept in memory


@pytest.mark.timeout(20)
def test_ten_megabyte_csv_line(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("smiles,name\n" + "C" * TEN_MB + ",huge\n")
    records = read_all(path)
    assert [(r.index, r.name, r.error) for r in records] == [
        (0, "huge", "SMILES too long (10,000,000 characters; the limit is 10,000)")
    ]
    assert len(records[0].text) == 81


@pytest.mark.timeout(20)
def test_ten_megabyte_line_between_good_ones(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("smiles,name\nCCO,a\n" + "C" * TEN_MB + ",huge\nCCN,b\n")
    assert [(r.name, r.error is None) for r in read_all(path)] == [
        ("a", True),
        ("huge", False),
        ("b", True),
    ]
    smi = tmp_path / "big.smi"
    smi.write_text("CCO a\n" + "C" * TEN_MB + "\nCCN b\n")
    assert [(r.name, r.error is None) for r in read_all(smi)] == [
        ("a", True),
        ("mol2", False),
        ("b", True),
    ]


def test_sdf_with_a_broken_record_between_two_good_ones(tmp_path):
    good = write_sdf(tmp_path / "good.sdf", SDF_ENTRIES[:2]).read_text()
    first, second = good.split("$$$$\n")[:2]
    path = tmp_path / "broken.sdf"
    path.write_text(
        first + "$$$$\nthis is not\na molblock\n>  <pIC50>\n9\n\n$$$$\n" + second + "$$$$\n"
    )
    records = read_all(path)
    assert [(r.index, r.name, r.error) for r in records] == [
        (0, "aspirin", None),
        (1, "this is not", "broken SDF record: no 'M  END' line"),
        (2, "caffeine", None),
    ]
    assert records[2].extra == {"pIC50": "4.1", "source": "shelf"}


def test_nonexistent_path(tmp_path):
    with pytest.raises(LibraryReadError, match=r"missing\.smi: no such file\."):
        read_all(tmp_path / "missing.smi")


def test_directory_path(tmp_path):
    folder = tmp_path / "folder.smi"
    folder.mkdir()
    with pytest.raises(LibraryReadError, match=r"folder\.smi: is a folder, not a file\."):
        read_all(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(write_text):
    path = write_text("locked.smi", "CCO\n")
    path.chmod(0)
    try:
        with pytest.raises(
            LibraryReadError, match=r"locked\.smi: cannot be read \(Permission denied\)"
        ):
            read_all(path)
    finally:
        path.chmod(0o644)


def test_unsupported_suffix(write_text):
    path = write_text("molecules.pdf", "CCO\n")
    with pytest.raises(LibraryReadError, match=r"^molecules\.pdf: unsupported file type '\.pdf'"):
        read_all(path)


def test_errors_are_raised_before_any_chunk(tmp_path):
    chunks = iter_record_chunks(tmp_path / "missing.csv")
    with pytest.raises(LibraryReadError):
        next(chunks)
