"""Export: CSV/TSV/XLSX/SDF round trips, formula injection, atomic writes, clear errors."""

from __future__ import annotations

import csv
import errno
import io
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from rdkit import Chem

import core.chem.export as export_module
from core.chem.export import (
    ExportError,
    export_format,
    export_table,
    neutralise_formula,
    neutralise_table,
)
from core.chem.library import DUPLICATE_COLUMN, LIBRARY_COLUMNS, load_library

INPUT_CSV = (
    "id,smiles,pIC50,comment\n"
    '"=HYPERLINK(""http://evil.example"",""click"")",CCO,-1.5,+cmd|calc\n'
    "@SUM(A1),c1ccccc1,6.25,-2+3\n"
    "plain,C1CC,,ok\n"
    "again,OCC,7,\n"
)
NAMES = ['=HYPERLINK("http://evil.example","click")', "@SUM(A1)", "plain", "again"]
SAFE_NAMES = ["'" + NAMES[0], "'@SUM(A1)", "plain", "again"]
SAFE_COMMENTS = ["'+cmd|calc", "'-2+3", "ok", ""]


@pytest.fixture
def out(tmp_path):
    """An empty folder for exports (the input file lies beside it)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def table(write_text) -> pd.DataFrame:
    library = load_library(write_text("input.csv", INPUT_CSV))
    table = library.table
    assert list(table["name"]) == NAMES
    assert list(table["valid"]) == [True, True, False, True]
    assert list(table.columns) == [*LIBRARY_COLUMNS, DUPLICATE_COLUMN, "pIC50", "comment"]
    return table


def raw_rows(path, delimiter=","):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def assert_floats_equal(read: pd.Series, original: pd.Series) -> None:
    np.testing.assert_array_equal(
        read.to_numpy(dtype=float, na_value=np.nan),
        original.to_numpy(dtype=float, na_value=np.nan),
    )


# ----------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize(("suffix", "sep"), [(".csv", ","), (".tsv", "\t")])
def test_csv_and_tsv_round_trip(table, out, suffix, sep):
    path = export_table(table, out / f"out{suffix}")
    assert path == out / f"out{suffix}"
    read = pd.read_csv(path, sep=sep, float_precision="round_trip")  # exact floats in pandas 2 too
    assert list(read.columns) == list(table.columns)
    assert len(read) == 4
    for name in ("mw", "clogp", "tpsa", "qed", "hbd", "hba", "rotb", "pIC50"):
        assert_floats_equal(read[name], table[name])
    assert list(read["valid"]) == [True, True, False, True]
    text = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    assert list(text["name"]) == SAFE_NAMES
    assert list(text["comment"]) == SAFE_COMMENTS
    assert list(text["canonical_smiles"]) == ["CCO", "c1ccccc1", "", "CCO"]
    assert list(text["error"]) == ["", "", "invalid SMILES: syntax error", ""]
    assert list(text[DUPLICATE_COLUMN]) == ["", "", "", "'" + NAMES[0]]
    assert list(text["inchikey"]) == list(table["inchikey"])


def test_csv_formula_cells_are_quoted_and_numbers_stay_numbers(table, out):
    rows = raw_rows(export_table(table, out / "out.csv"))
    header, body = rows[0], rows[1:]
    name, comment, pic50 = header.index("name"), header.index("comment"), header.index("pIC50")
    assert [row[name] for row in body] == SAFE_NAMES
    assert [row[comment] for row in body] == SAFE_COMMENTS
    assert [row[pic50] for row in body] == ["-1.5", "6.25", "", "7.0"]
    clogp = header.index("clogp")
    assert all(not row[clogp].startswith("'") for row in body)
    assert float(body[0][clogp]) == table.loc[0, "clogp"] < 0


def test_xlsx_round_trip(table, out):
    path = export_table(table, out / "out.xlsx")
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Library"]
    sheet = workbook["Library"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[0]]
    assert header == list(table.columns)
    body = rows[1:]
    assert len(body) == 4
    column = {name: i for i, name in enumerate(header)}
    assert [row[column["name"]].value for row in body] == SAFE_NAMES
    assert [row[column["name"]].data_type for row in body] == ["s"] * 4
    assert [row[column["comment"]].value for row in body] == ["'+cmd|calc", "'-2+3", "ok", None]
    assert [row[column["pIC50"]].value for row in body] == [-1.5, 6.25, None, 7.0]
    assert [row[column["pIC50"]].data_type for row in (body[0], body[1])] == ["n", "n"]
    assert [row[column["valid"]].value for row in body] == [True, True, False, True]
    assert [row[column["error"]].value for row in body] == [
        None,
        None,
        "invalid SMILES: syntax error",
        None,
    ]
    for name in ("mw", "clogp", "qed", "hbd"):
        values = [row[column[name]].value for row in body]
        expected = table[name].to_numpy(dtype=float, na_value=np.nan)
        assert [np.nan if v is None else v for v in values] == pytest.approx(expected, nan_ok=True)
        # XLSX numbers keep about 16 significant digits (Excel shows 15).
        assert values[0] == pytest.approx(table.loc[0, name], rel=1e-15)
    assert not any(cell.data_type == "f" for row in rows for cell in row)
    # pandas reads it back as the same table.
    read = pd.read_excel(path, sheet_name="Library")
    assert list(read.columns) == list(table.columns)
    assert_floats_equal(read["mw"], table["mw"])


def test_xlsx_drops_characters_excel_cannot_hold(out):
    frame = pd.DataFrame({"name": ["bell\x07here", "tab\tand\nnewline"], "value": [1.0, 2.0]})
    path = export_table(frame, out / "ctl.xlsx")
    sheet = load_workbook(path)["Library"]
    assert [sheet.cell(row=r, column=1).value for r in (2, 3)] == [
        "bellhere",
        "tab\tand\nnewline",
    ]


def test_sdf_round_trip(table, out):
    path = export_table(table, out / "out.sdf")
    mols = list(Chem.SDMolSupplier(str(path), sanitize=True, removeHs=False))
    assert len(mols) == 4
    assert all(mol is not None for mol in mols)
    assert [mol.GetNumAtoms() for mol in mols] == [3, 6, 0, 3]
    assert [Chem.MolToSmiles(mol) for mol in mols] == ["CCO", "c1ccccc1", "", "CCO"]
    # The title line holds the name (SDF is no spreadsheet: no quoting there).
    assert [mol.GetProp("_Name") for mol in mols] == NAMES
    for mol, (_, row) in zip(mols, table.iterrows(), strict=True):
        assert list(mol.GetPropNames()) == list(table.columns)
        for column in table.columns:
            tag = mol.GetProp(column)
            value = row[column]
            if column in ("valid",):
                assert tag == ("true" if value else "false")
            elif pd.isna(value):
                assert tag == ""
            elif isinstance(value, float):
                assert tag == (str(int(value)) if value.is_integer() else repr(value))
                assert float(tag) == value  # every digit survives (assay data)
            else:
                assert tag == str(value), column
    assert mols[1].GetProp("hbd") == "0"
    assert mols[2].GetProp("error") == "invalid SMILES: syntax error"


def test_sdf_text_values_cannot_break_records(out):
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "canonical_smiles": ["CCO", "CCN"],
            "note": ["first\n\nsecond\n$$$$\n>  <fake>\nthird", "plain"],
            "after": ["A1", "A2"],
        }
    )
    path = export_table(frame, out / "tricky.sdf")
    mols = list(Chem.SDMolSupplier(str(path)))
    assert len(mols) == 2
    assert [sorted(mol.GetPropNames()) for mol in mols] == [
        ["after", "canonical_smiles", "name", "note"]
    ] * 2
    assert mols[0].GetProp("after") == "A1"
    assert mols[0].GetProp("note") == "first\nsecond\n $$$$\n >  <fake>\nthird"


def test_sdf_written_file_reads_back_as_a_library(table, out):
    path = export_table(table, out / "out.sdf")
    again = load_library(path).table
    assert list(again["name"]) == NAMES
    assert list(again["valid"]) == [True, True, False, True]
    assert again.loc[2, "error"] == "empty molecule (no atoms)"
    assert list(again["canonical_smiles"]) == list(table["canonical_smiles"])


# ----------------------------------------------------------------------------------------------
# Formula neutralisation


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=b", "a=b"),
        ("CC(=O)O", "CC(=O)O"),
        ("", ""),
        (-3.5, -3.5),
        (-2, -2),
        (None, None),
    ],
)
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected


def test_neutralise_table_copies_and_quotes_headers():
    frame = pd.DataFrame({"=cmd": ["=x", "y"], "n": [-1.0, 2.0]})
    safe = neutralise_table(frame)
    assert list(safe.columns) == ["'=cmd", "n"]
    assert list(safe["'=cmd"]) == ["'=x", "y"]
    assert list(safe["n"]) == [-1.0, 2.0]
    assert list(frame.columns) == ["=cmd", "n"] and list(frame["=cmd"]) == ["=x", "y"]


# ----------------------------------------------------------------------------------------------
# Atomic writes and errors


def _only_file(folder):
    return sorted(p.name for p in folder.iterdir())


def test_failure_while_writing_keeps_the_old_file(table, out, monkeypatch):
    target = out / "out.csv"
    target.write_text("old content\n")

    def failing_to_csv(self, handle, *args, **kwargs):
        handle.write("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    with pytest.raises(ExportError, match=r"^Cannot write .*out\.csv: no space left on device$"):
        export_table(table, target)
    assert target.read_text() == "old content\n"
    assert _only_file(out) == ["out.csv"]


@pytest.mark.parametrize(("suffix", "writer"), [(".xlsx", "write_xlsx"), (".sdf", "write_sdf")])
def test_crash_while_writing_keeps_the_old_file(table, out, monkeypatch, suffix, writer):
    target = out / f"out{suffix}"
    target.write_bytes(b"old content")

    def failing_writer(frame, path, **kwargs):
        path.write_bytes(b"partial")
        raise RuntimeError("writer crashed")

    monkeypatch.setattr(export_module, writer, failing_writer)
    with pytest.raises(RuntimeError, match="writer crashed"):
        export_table(table, target)
    assert target.read_bytes() == b"old content"
    assert _only_file(out) == [f"out{suffix}"]


def test_interrupt_while_writing_leaves_no_file(table, out, monkeypatch):
    def interrupted(frame, path, **kwargs):
        path.write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "write_sdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_table(table, out / "new.sdf")
    assert _only_file(out) == []


def test_successful_export_replaces_the_file_and_leaves_no_temporary(table, out):
    target = out / "out.csv"
    target.write_text("old content\n")
    export_table(table, target)
    assert target.read_text().startswith('"name","smiles","canonical_smiles","inchikey","mw",')
    assert _only_file(out) == ["out.csv"]


def test_exported_file_has_the_usual_permissions(table, out):
    reference = out / "plain.txt"
    reference.write_text("x")
    for suffix in (".csv", ".sdf", ".xlsx"):
        path = export_table(table, out / f"out{suffix}")
        assert (path.stat().st_mode & 0o777) == (reference.stat().st_mode & 0o777), suffix


@pytest.mark.parametrize("name", ["out.pdf", "out", "out.xls"])
def test_unsupported_suffix(table, out, name):
    shown = os.path.splitext(name)[1] or name
    with pytest.raises(
        ValueError, match=rf"^Cannot export to '{shown}': choose \.csv, \.tsv, \.sdf or \.xlsx\.$"
    ):
        export_table(table, out / name)
    assert _only_file(out) == []


def test_export_format():
    assert [export_format(f"a{s}") for s in (".csv", ".TSV", ".sdf", ".xlsx")] == [
        "csv",
        "tsv",
        "sdf",
        "xlsx",
    ]


def test_missing_folder(table, out):
    target = out / "no" / "such" / "folder" / "out.csv"
    with pytest.raises(ExportError) as info:
        export_table(table, target)
    assert str(info.value) == f"Cannot write {target}: the folder {target.parent} does not exist"
    assert isinstance(info.value, OSError)
    assert not (out / "no").exists()


def test_nan_and_empty_values(out):
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "canonical_smiles": ["CCO", ""],
            "x": [math.nan, 1.0],
            "n": pd.array([None, 3], dtype="Int64"),
        }
    )
    read = pd.read_csv(export_table(frame, out / "n.csv"), keep_default_na=False, dtype=str)
    assert read.to_dict("list") == {
        "name": ["a", "b"],
        "canonical_smiles": ["CCO", ""],
        "x": ["", "1.0"],
        "n": ["", "3"],
    }
    mols = list(Chem.SDMolSupplier(str(export_table(frame, out / "n.sdf"))))
    assert [(m.GetProp("x"), m.GetProp("n")) for m in mols] == [("", ""), ("1", "3")]


# ----------------------------------------------------------------------------------------------
# Formula injection through every table writer

CORPUS = Path(__file__).parents[2] / "corpus" / "bad_inputs" / "tables" / "formula_injection.csv"

# Cells a spreadsheet (or its import, which may drop leading whitespace and control characters)
# would run as formulas, and cells whose carriage returns, tabs or quotes could split a row.
NASTY = [
    "\r=1+1",
    "\t=2+2",
    ' =HYPERLINK("http://evil.example","x")',
    "\n-3+4",
    "\x00=1",
    "\x01=1+1",
    "\u200b@SUM(A1)",
    "\ufeff+1",
    "\uff1d1+1",
    "a\r=cmd|' /C calc'!A0",
    "x;=1+1",
    'say "hi", then\ttab',
    "ok",
]


def _is_formula(cell: str) -> bool:
    stripped = cell.lstrip("".join(chr(c) for c in range(33)) + "\u200b\ufeff\x7f")
    if not stripped.startswith(export_module.FORMULA_STARTS):
        return False
    try:
        float(cell)  # a negative number is a number, not a formula
    except ValueError:
        return True
    return False


def nasty_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": NASTY,
            "canonical_smiles": ["CCO"] * len(NASTY),
            "value": [-1.5 + i for i in range(len(NASTY))],
            "\r=header": NASTY[::-1],
        }
    )


def check_delimited(path, sep: str, n_rows: int) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    assert len(rows) == n_rows + 1
    assert len({len(row) for row in rows}) == 1
    for row in rows:
        assert not any(_is_formula(cell) for cell in row), row
    # A spreadsheet ends a row at a bare carriage return too: every CR must sit inside quotes.
    as_spreadsheet = text.replace("\r\n", "\n").replace("\r", "\n")
    assert len(list(csv.reader(io.StringIO(as_spreadsheet, newline=""), delimiter=sep))) == (
        n_rows + 1
    )
    return rows


def check_xlsx(path, n_rows: int) -> list[list[object]]:
    sheet = load_workbook(path).active
    rows = [[cell for cell in row] for row in sheet.iter_rows()]
    assert len(rows) == n_rows + 1
    for row in rows:
        for cell in row:
            assert cell.data_type != "f", cell.value
            assert not (isinstance(cell.value, str) and _is_formula(cell.value)), cell.value
    return [[cell.value for cell in row] for row in rows]


def _library_writer(table, path):
    return export_table(table, path)


def _hit_list_writer(table, path):
    from core.hitlist.presets import ORAL
    from core.hitlist.report import export_hit_list

    return export_hit_list(table, path, ORAL)


def _expression_writer(table, path):
    from core.expression.export import export_results

    return export_results(table, path)


def _trials_writer(table, path):
    from core.trials.data import export_table as export_trial_table

    return export_trial_table(table, path)


WRITERS = {
    "library": _library_writer,
    "hit list": _hit_list_writer,
    "expression": _expression_writer,
    "trials": _trials_writer,
}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_every_table_writer_neutralises_and_quotes(out, writer, suffix):
    table = nasty_table()
    path = WRITERS[writer](table, out / f"t{suffix}")
    if suffix == ".xlsx":
        rows = check_xlsx(path, len(table))
        if rows[0][0] == "Structure":  # the hit list's picture column
            rows = [row[1:] for row in rows]
        # XML reads a carriage return back as a line feed.
        text_rows = [["" if v is None else str(v).replace("\n", "\r") for v in r] for r in rows]
    else:
        text_rows = check_delimited(path, "," if suffix == ".csv" else "\t", len(table))
    header, body = text_rows[0], text_rows[1:]
    assert header == ["name", "canonical_smiles", "value", "'\r=header"]
    names = [row[0] for row in body]
    assert names[:2] == ["'\r=1+1", "'\t=2+2"]
    assert names[2] == '\' =HYPERLINK("http://evil.example","x")'
    if suffix == ".xlsx":  # a workbook cannot hold control characters: those are dropped
        assert names[3:6] == ["'\r-3+4", "'=1", "'=1+1"]
    else:
        assert names[3:6] == ["'\n-3+4", "'\x00=1", "'\x01=1+1"]
    assert names[6:9] == ["'\u200b@SUM(A1)", "'\ufeff+1", "'\uff1d1+1"]
    assert names[9:] == ["a\r=cmd|' /C calc'!A0", "x;=1+1", 'say "hi", then\ttab', "ok"]
    assert [float(row[2]) for row in body] == list(table["value"])  # numbers stay numbers


def test_a_control_character_cannot_hide_a_formula_from_the_workbook(out):
    # openpyxl drops \x01, and used to do it after the neutraliser: "\x01=1+1" became a formula.
    path = export_table(pd.DataFrame({"name": ["\x01=1+1", "\x02@x"]}), out / "ctl.xlsx")
    sheet = load_workbook(path).active
    assert [(c.value, c.data_type) for c in sheet["A"][1:]] == [("'=1+1", "s"), ("'@x", "s")]


def test_neutraliser_looks_past_leading_invisible_characters():
    for value in ("\r=1", "\n=1", " =1", "\u00a0=1", "\x0b+1", "\u200b-1", "\ufeff@A1", "\uff20A1"):
        assert neutralise_formula(value) == "'" + value
    for value in ("a =1", "CC(=O)O", "x-1", " plain", "\u200bplain", "\x01text"):
        assert neutralise_formula(value) == value


def test_corpus_file_loaded_then_exported_is_safe(out):
    """The committed corpus file goes through the reader and every library format."""
    table = load_library(CORPUS).table
    assert len(table) == 10
    for suffix, sep in ((".csv", ","), (".tsv", "\t")):
        rows = check_delimited(export_table(table, out / f"c{suffix}"), sep, len(table))
        assert rows[0][table.columns.get_loc("@evil")] == "'@evil"
    check_xlsx(export_table(table, out / "c.xlsx"), len(table))
    again = load_library(export_table(table, out / "again.csv")).table
    assert len(again) == len(table)
    assert list(again["canonical_smiles"]) == list(table["canonical_smiles"])


def test_csv_quotes_text_and_leaves_numbers_bare(out):
    frame = pd.DataFrame({"name": ["a", ""], "x": [1.5, math.nan], "ok": [True, False]})
    text = export_table(frame, out / "q.csv").read_text()
    assert text == '"name","x","ok"\n"a",1.5,True\n"","",False\n'


# ----------------------------------------------------------------------------------------------
# Full disks, devices and links through the exporters


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("suffix", [".csv", ".sdf", ".xlsx"])
def test_dev_full_gives_one_clear_line(table, tmp_path, suffix):
    # /dev/full has no suffix: link a name with one to it, as a user's "out.csv" could be.
    link = tmp_path / f"full{suffix}"
    link.symlink_to("/dev/full")
    with pytest.raises(ExportError) as info:
        export_table(table, link)
    assert str(info.value) == f"Cannot write {link}: no space left on device"
    assert link.is_symlink()


def test_export_through_a_symlink_keeps_the_link(table, out, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = out / "link.csv"
    link.symlink_to(real)
    export_table(table, link)
    assert link.is_symlink()
    assert real.read_text().startswith('"name",')
    assert _only_file(out) == ["link.csv"]


def test_full_disk_during_fsync_keeps_the_old_export(table, out, monkeypatch):
    target = out / "out.xlsx"
    target.write_bytes(b"old workbook")

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ExportError, match=r"out\.xlsx: no space left on device$"):
        export_table(table, target)
    assert target.read_bytes() == b"old workbook"
    assert _only_file(out) == ["out.xlsx"]
