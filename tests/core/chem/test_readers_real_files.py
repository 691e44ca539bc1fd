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
    split_cxsmiles,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "bad_inputs"


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


# ----------------------------------------------------------------------------------------------
# Workbooks other programs write, damaged workbooks, hostile workbooks

SHEET = "xl/worksheets/sheet1.xml"


def write_workbook(path, rows):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def rewrite_zip(source, target, replace):
    """Copy a zip archive, passing the bytes of the members named in ``replace`` through it."""
    import zipfile

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename in replace:
                data = replace[info.filename](data)
            new.writestr(info.filename, data)
    return target


TEN_ROWS = [["smiles", "name"]] + [["C" * (i + 1), f"m{i + 1}"] for i in range(10)]


def write_under_reported_dimension(path):
    """Ten data rows whose sheet says <dimension ref="A1:B3"/>, as some exporters write it."""
    plain = write_workbook(path.with_name("plain.xlsx"), TEN_ROWS)

    def shrink(xml: bytes) -> bytes:
        assert b'<dimension ref="A1:B11"' in xml
        return xml.replace(b'<dimension ref="A1:B11"', b'<dimension ref="A1:B3"')

    return rewrite_zip(plain, path, {SHEET: shrink})


@pytest.mark.parametrize("source", ["written here", "corpus"])
def test_xlsx_whose_dimension_under_reports_its_rows(tmp_path, source):
    if source == "corpus":
        path = CORPUS / "xlsx" / "dimension_under_reported.xlsx"
    else:
        path = write_under_reported_dimension(tmp_path / "short.xlsx")
    records = read_all(path)
    assert [(r.index, r.name, r.text) for r in records] == [
        (i, f"m{i + 1}", "C" * (i + 1)) for i in range(10)
    ]


def test_xlsx_whose_dimension_over_reports_reads_only_the_rows_there(tmp_path):
    plain = write_workbook(tmp_path / "plain.xlsx", TEN_ROWS[:3])
    path = rewrite_zip(
        plain,
        tmp_path / "wide.xlsx",
        {SHEET: lambda xml: xml.replace(b'ref="A1:B3"', b'ref="A1:XFD1048576"')},
    )
    assert preview_table(path).columns == ["smiles", "name"]
    assert [(r.name, r.text, r.extra) for r in read_all(path)] == [
        ("m1", "C", {}),
        ("m2", "CC", {}),
    ]


def test_xlsx_of_random_parts_is_a_read_error(tmp_path):
    import random

    plain = write_workbook(tmp_path / "plain.xlsx", TEN_ROWS)
    rng = random.Random(3)
    for part in ("[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", SHEET):
        path = rewrite_zip(
            plain, tmp_path / "random.xlsx", {part: lambda data: rng.randbytes(len(data))}
        )
        with pytest.raises(LibraryReadError, match=r"^random\.xlsx: not a readable Excel workbook"):
            read_all(path)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("random_parts.xlsx", r"not a readable Excel workbook \(ParseError: not well-formed"),
        ("truncated.xlsx", r"not a readable Excel workbook \(damaged zip archive: BadZipFile"),
        ("password_protected.xlsx", r"a password-protected workbook or an old Excel 97-2003"),
        ("sheet_cut_after_row_6.xlsx", r"the workbook is damaged after row 6 \(ParseError"),
        (
            "entity_expansion.xlsx",
            r"the workbook is damaged after row 1 \(ParseError: limit on input",
        ),
        ("no_worksheet.xlsx", r"the workbook has no worksheet\."),
    ],
)
def test_broken_and_hostile_workbooks_in_the_corpus(name, message):
    path = CORPUS / "xlsx" / name
    with pytest.raises(LibraryReadError, match=rf"^{name.replace('.', '[.]')}: {message}"):
        read_all(path)
    with pytest.raises(LibraryReadError):
        preview_table(path)


def write_zip_bomb(path, cell_bytes: int):
    """A real workbook whose one cell expands to ``cell_bytes`` of 'C' (deflated ~1000 times)."""
    import zipfile

    plain = write_workbook(path.with_name("plain.xlsx"), [["smiles"], ["C"]])
    with zipfile.ZipFile(plain) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != SHEET:
                new.writestr(info.filename, old.read(info.filename))
                continue
            before, after = old.read(SHEET).split(b"<t>C</t>")
            with new.open(SHEET, "w", force_zip64=True) as member:
                member.write(before + b"<t>")
                chunk = b"C" * (1 << 20)
                for _ in range(cell_bytes >> 20):
                    member.write(chunk)
                member.write(b"</t>" + after)
    return path


def test_zip_bomb_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    # 20 MB of one letter deflate about a thousand times: refused under the default limits.
    path = write_zip_bomb(tmp_path / "bomb.xlsx", 20 << 20)
    assert path.stat().st_size < 200_000

    def no_openpyxl(*args, **kwargs):
        raise AssertionError("openpyxl must not open a refused workbook")

    monkeypatch.setattr("openpyxl.load_workbook", no_openpyxl)
    with pytest.raises(
        LibraryReadError,
        match=r"^bomb\.xlsx: the workbook part 'xl/worksheets/sheet1\.xml' expands [\d,]+ times "
        r"\(to 21 MB\); DrugDesk refuses more than 200 times: this is a zip bomb",
    ):
        read_all(path)


def test_workbook_limits_on_part_size_total_and_part_count(tmp_path, monkeypatch):
    import zipfile

    from core.chem import readers

    plain = write_workbook(tmp_path / "big.xlsx", TEN_ROWS)
    sizes = {info.filename: info.file_size for info in zipfile.ZipFile(plain).infolist()}
    assert len(read_all(plain)) == 10  # within every limit

    monkeypatch.setattr(readers, "MAX_XLSX_PART_BYTES", sizes[SHEET] - 1)
    with pytest.raises(
        LibraryReadError,
        match=r"^big\.xlsx: the workbook part '[^']+' expands to [\d,]+ bytes; DrugDesk reads "
        r"parts of at most [\d,]+ bytes\. Save the sheet as CSV",
    ):
        read_all(plain)
    monkeypatch.undo()

    monkeypatch.setattr(readers, "MAX_XLSX_TOTAL_BYTES", sum(sizes.values()) - 1)
    with pytest.raises(
        LibraryReadError, match=r"^big\.xlsx: the workbook expands to [\d,]+ bytes; DrugDesk opens"
    ):
        read_all(plain)
    monkeypatch.undo()

    monkeypatch.setattr(readers, "MAX_XLSX_MEMBERS", len(sizes) - 1)
    with pytest.raises(
        LibraryReadError,
        match=rf"^big\.xlsx: the workbook's zip archive holds {len(sizes)} parts; DrugDesk opens "
        rf"workbooks of at most {len(sizes) - 1} parts",
    ):
        read_all(plain)
    monkeypatch.undo()

    # The compression-ratio rule, on a part just over its size floor.
    monkeypatch.setattr(readers, "XLSX_RATIO_MIN_BYTES", 1000)
    monkeypatch.setattr(readers, "MAX_XLSX_RATIO", 2)
    with pytest.raises(LibraryReadError, match=r"expands [\d,]+ times .* more than 2 times"):
        read_all(plain)


# ----------------------------------------------------------------------------------------------
# CXSMILES and characters that are not SMILES


def test_cxsmiles_extension_stays_with_the_smiles_and_the_name_follows_it():
    records = read_all(CORPUS / "smiles" / "cxsmiles.smi")
    assert [(r.index, r.text, r.name, r.error) for r in records] == [
        (0, "C[C@H](N)C(=O)O |&1:1|", "alanine", None),
        (1, "[*:1]c1ccccc1", "R1-phenyl", None),
        (2, "*c1ccccc1 |$_R1;;;;;;$|", "labelled phenyl", None),
        (3, "C[C@H](O)[C@@H](C)N |o1:1,3|", "or-group", None),
        # Bars around words with spaces are a name, not an extension.
        (4, "CCO", "|a name in bars|", None),
    ]


def test_split_cxsmiles():
    assert split_cxsmiles("C[C@H](N)C(=O)O |&1:1| alanine") == (
        "C[C@H](N)C(=O)O",
        "|&1:1|",
        "alanine",
    )
    assert split_cxsmiles("*C |$_R1|x$| label") == ("*C", "|$_R1|x$|", "label")
    assert split_cxsmiles("CCO |&1:1|x") == ("CCO", "", "|&1:1|x")
    assert split_cxsmiles("CCO   ethyl alcohol ") == ("CCO", "", "ethyl alcohol")
    assert split_cxsmiles("  ") == ("", "", "")


def test_enhanced_stereo_and_rgroup_labels_survive_into_the_library():
    from rdkit import Chem

    from core.chem.library import LoadOptions, load_library, parse_record

    records = read_all(CORPUS / "smiles" / "cxsmiles.smi")
    mol, error = parse_record(records[0])
    assert error == ""
    groups = mol.GetStereoGroups()
    assert len(groups) == 1
    assert groups[0].GetGroupType() == Chem.StereoGroupType.STEREO_AND
    assert [atom.GetIdx() for atom in groups[0].GetAtoms()] == [1]

    table = load_library(CORPUS / "smiles" / "cxsmiles.smi", LoadOptions(workers=1)).table
    assert table["name"].tolist()[:4] == ["alanine", "R1-phenyl", "labelled phenyl", "or-group"]
    assert table["valid"].all()
    canonical = table["canonical_smiles"].tolist()
    # The input text is kept as it was; the canonical form keeps the stereo groups and labels.
    assert table["smiles"][0] == "C[C@H](N)C(=O)O |&1:1|"
    assert canonical[0] == "C[C@H](N)C(=O)O |&1:1|"
    assert "[*:1]" in canonical[1]
    assert "_R1" in canonical[2]
    assert canonical[3].endswith("|o1:1,3|")
    assert canonical[4] == "CCO"
    again = Chem.MolFromSmiles(canonical[0])
    assert len(again.GetStereoGroups()) == 1


SNOWMAN_ERROR = "character '☃' (U+2603) at position 4 is not SMILES"


def test_characters_that_are_not_smiles_in_a_smi_file():
    records = read_all(CORPUS / "smiles" / "non_smiles_characters.smi")
    assert [(r.index, r.name, r.error) for r in records] == [
        (0, "snowman", SNOWMAN_ERROR),
        (1, "no-break space", "character U+00A0 NO-BREAK SPACE at position 3 is not SMILES"),
        (2, "ethanol", None),
        (3, "fullwidth bracket", "character '（' (U+FF08) at position 3 is not SMILES"),
    ]


def test_characters_that_are_not_smiles_in_a_csv_file():
    records = read_all(CORPUS / "tables" / "non_smiles_characters.csv")
    assert [(r.index, r.name, r.error) for r in records] == [
        (0, "snowman", SNOWMAN_ERROR),
        (1, "ethanol", None),
        (
            2,
            "space inside",
            "text after the SMILES ('O'): a SMILES holds no spaces (a CXSMILES '|…|' extension "
            "may follow it)",
        ),
        (
            3,
            "text after extension",
            "text after the SMILES ('x'): a SMILES holds no spaces (a CXSMILES '|…|' extension "
            "may follow it)",
        ),
    ]


@pytest.mark.parametrize("source", ["written here", "corpus"])
def test_characters_that_are_not_smiles_in_a_workbook(tmp_path, source):
    if source == "corpus":
        path = CORPUS / "xlsx" / "non_smiles_characters.xlsx"
    else:
        path = write_workbook(
            tmp_path / "chars.xlsx",
            [["SMILES", "Name"], ["CCO☃", "snowman"], ["CCO |&1:1|", "cx"], ["CCO", "ethanol"]],
        )
    records = read_all(path)
    assert [(r.name, r.text, r.error) for r in records] == [
        ("snowman", "CCO☃", SNOWMAN_ERROR),
        ("cx", "CCO |&1:1|", None),
        ("ethanol", "CCO", None),
    ]


def test_loaded_library_keeps_the_bad_record_invalid_with_its_reason(tmp_path):
    from core.chem.library import LoadOptions, load_library, parse_record

    table = load_library(
        CORPUS / "smiles" / "non_smiles_characters.smi", LoadOptions(workers=1)
    ).table
    assert table["valid"].tolist() == [False, False, True, False]
    assert table["error"][0] == SNOWMAN_ERROR
    assert table["smiles"][0] == "CCO☃"  # what the file said, not ethanol
    assert table["canonical_smiles"][0] == ""
    # A SMILES typed into the table reaches parse_record without a reader.
    assert parse_record(RawRecord(index=0, name="typed", text="CCO☃")) == (None, SNOWMAN_ERROR)


# ----------------------------------------------------------------------------------------------
# Many columns


def write_wide_csv(path, n_columns: int, n_rows: int = 5, smiles: bool = True):
    first = "smiles" if smiles else "label"
    header = [first, "name"] + [f"c{i}" for i in range(n_columns - 2)]
    lines = [",".join(header)]
    for row in range(n_rows):
        values = ["CCO" if smiles else "x", f"m{row}"] + [
            str(row + i) for i in range(n_columns - 2)
        ]
        lines.append(",".join(values))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("n_columns", [10_001, 100_000])
def test_more_than_ten_thousand_columns_are_refused(tmp_path, n_columns):
    path = write_wide_csv(tmp_path / "wide.csv", n_columns, n_rows=2)
    message = (
        rf"^wide\.csv: {n_columns:,} columns; DrugDesk reads tables of at most 10,000 columns\. "
        r"Keep the columns you need"
    )
    with pytest.raises(LibraryReadError, match=message):
        preview_table(path)
    with pytest.raises(LibraryReadError, match=message):
        read_all(path)


def test_workbook_with_more_than_ten_thousand_columns_is_refused(tmp_path):
    path = write_workbook(tmp_path / "wide.xlsx", [["smiles"] + [f"c{i}" for i in range(10_000)]])
    with pytest.raises(LibraryReadError, match=r"^wide\.xlsx: 10,001 columns; DrugDesk reads"):
        read_all(path)


def test_ten_thousand_columns_load_without_performance_warnings(tmp_path):
    import warnings

    import pandas as pd

    from core.chem.library import LoadOptions, load_library

    path = write_wide_csv(tmp_path / "wide.csv", 10_000)
    with warnings.catch_warnings():
        # Inserting columns one by one made pandas warn once per column (and take minutes).
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        library = load_library(path, LoadOptions(workers=1))
    table = library.table
    assert len(table) == 5
    assert library.extra_columns == [f"c{i}" for i in range(9_998)]
    assert table["name"].tolist() == [f"m{row}" for row in range(5)]
    assert table["valid"].all()
    assert table["c0"].dtype == "float64"
    assert table["c9997"].tolist() == [float(row + 9_997) for row in range(5)]


def test_message_about_a_wide_table_lists_only_twenty_columns(tmp_path):
    path = write_wide_csv(tmp_path / "wide.csv", 10_000, n_rows=3, smiles=False)
    with pytest.raises(LibraryReadError) as caught:
        read_all(path)
    message = str(caught.value)
    assert message.startswith("wide.csv: no column looks like SMILES. Columns: label, name, c0,")
    assert message.endswith("c16, c17 and 9,980 more. Pick the SMILES column by hand.")
    assert len(message) < 400


@pytest.mark.parametrize("encoding", ["corpus cp1252", "utf-16"])
def test_sdf_names_and_tags_in_cp1252_or_utf16(tmp_path, encoding):
    path = CORPUS / "sdf" / "cp1252_names_and_tags.sdf"
    if encoding == "utf-16":
        text = path.read_bytes().decode("cp1252")
        path = tmp_path / "utf16.sdf"
        path.write_bytes(text.encode("utf-16"))
    records = read_all(path)
    assert [(r.index, r.name, r.extra, r.error) for r in records] == [
        (0, "éthanol", {"note": "Kühl, 4 °C"}, None),
        (1, "benzène", {"note": "“dry” — 5 €"}, None),
    ]


# ----------------------------------------------------------------------------------------------
# Cells beyond the header


def test_csv_cells_beyond_the_header_are_kept(write_text):
    path = write_text("a.csv", "smiles,name\nCCO,Smith, J.\nCCN,plain\n")
    records = read_all(path)
    assert [(r.name, r.extra) for r in records] == [
        ("Smith", {"column_3": " J."}),
        ("plain", {}),
    ]


def test_workbook_cells_beyond_the_header_are_kept(tmp_path):
    path = write_workbook(
        tmp_path / "a.xlsx", [["smiles", "name"], ["CCO", "ethanol", 7.5], ["CCN", "ethylamine"]]
    )
    records = read_all(path)
    assert [(r.name, r.extra) for r in records] == [
        ("ethanol", {"column_3": "7.5"}),
        ("ethylamine", {}),
    ]
