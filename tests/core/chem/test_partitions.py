"""Byte-range partitions of compound files (issue 18): the ranges' records, read on their own and
numbered from the counts, equal the records of reading the whole file; what cannot be cut by
bytes is said; a part written twice (a retried task) leaves one part."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from core.chem.cluster_parts import PartWork, read_parts, run_part_records
from core.chem.cluster_props import describe_records
from core.chem.library import LoadOptions, load_library, props_table
from core.chem.partitions import (
    NotSplittable,
    PartitionMismatch,
    count_part,
    part_records,
    part_starts,
    plan_partitions,
)
from core.chem.readers import LibraryReadError, ReadOptions, iter_record_chunks
from core.chem.standardize import StandardizeOptions

CHEMBL = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
LINES = CHEMBL.read_text().splitlines()[:400]


def _records_by_parts(path: Path, per_part: int, options: ReadOptions | None = None) -> list:
    plan, parts = plan_partitions(path, options, per_part)
    counts = [count_part(plan, part) for part in parts]
    records = []
    for part, start in zip(parts, part_starts(counts), strict=True):
        got = part_records(plan, part, start.start_index, start.header_possible)
        assert len(got) == start.n_records
        records += got
    return records


def _whole(path: Path, options: ReadOptions | None = None) -> list:
    return [record for chunk in iter_record_chunks(path, options) for record in chunk]


def _same(records: list, expected: list) -> None:
    def fields(r):
        return (r.index, r.name, r.text, r.kind, r.extra, r.error)

    assert [fields(r) for r in records] == [fields(r) for r in expected]


@pytest.mark.parametrize("per_part", [1, 10, 120, 100_000])
def test_smiles_parts_equal_the_whole_file(tmp_path, per_part):
    # A header, comments, blank lines, CRLF line ends, unnamed records (mol<N> names count
    # records of earlier ranges), an invalid character and no newline at the end.
    body = "\r\n".join(line if i % 7 else line.split()[0] for i, line in enumerate(LINES))
    path = tmp_path / "library.smi"
    path.write_text(
        "# made by hand\n\nSMILES Name\n" + body + "\nCC☃O snowman\n\n# end\nCCO", encoding="utf-8"
    )
    expected = _whole(path)
    assert expected[0].name == "CHEMBL2321810" or expected[0].name.startswith("mol")
    assert len(expected) == 402
    _same(_records_by_parts(path, per_part), expected)


def test_a_smiles_file_without_header_keeps_its_first_record(tmp_path):
    path = tmp_path / "plain.smi"
    path.write_text("\n".join(LINES) + "\n")
    records = _records_by_parts(path, 10)
    assert len(records) == len(LINES)
    _same(records, _whole(path))


@pytest.mark.parametrize("per_part", [1, 25, 100_000])
def test_table_parts_equal_the_whole_file(tmp_path, per_part):
    path = tmp_path / "library.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")  # ChEMBL's delimiter, detected
        writer.writerow(["Molecule ChEMBL ID", "Smiles", "pIC50", ""])
        for i, line in enumerate(LINES):
            smiles, name = line.split()[:2]
            writer.writerow([name if i % 5 else "", smiles, f"{i / 10}", "x;y" if i % 9 else ""])
            if i % 97 == 0:
                handle.write("\n")  # a blank line is a record (empty SMILES) in a table
    expected = _whole(path)
    assert expected[0].extra  # the other columns travel with each record
    _same(_records_by_parts(path, per_part), expected)


def test_table_columns_named_by_the_user_apply_to_every_part(tmp_path):
    path = tmp_path / "two.tsv"
    rows = ["a\tb\tc"] + [
        f"{line.split()[0]}\tn{i}\t{line.split()[1]}" for i, line in enumerate(LINES)
    ]
    path.write_text("\n".join(rows) + "\n")
    options = ReadOptions(smiles_column="a", name_column="c")
    records = _records_by_parts(path, 30, options)
    assert records[0].name == LINES[0].split()[1]
    _same(records, _whole(path, options))


@pytest.mark.parametrize("per_part", [1, 7, 100_000])
def test_sdf_parts_equal_the_whole_file(tmp_path, per_part):
    path = tmp_path / "library.sdf"
    writer = Chem.SDWriter(str(path))
    for i, line in enumerate(LINES[:150]):
        smiles, name = line.split()[:2]
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", "" if i % 4 == 0 else name)  # untitled: record<N>
        mol.SetProp("value", str(i))
        writer.write(mol)
    writer.close()
    with open(path, "a") as handle:  # a last record without "$$$$"
        handle.write(Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")))
    expected = _whole(path)
    assert len(expected) == 151
    _same(_records_by_parts(path, per_part), expected)


def test_a_quoted_cell_holding_a_line_break_is_found(tmp_path):
    path = tmp_path / "notes.csv"
    rows = ["smiles,name,note"] + [f'{line.split()[0]},m{i},"ok"' for i, line in enumerate(LINES)]
    rows[200] = rows[200][: -len('"ok"')] + '"two\nlines"'
    path.write_text("\n".join(rows) + "\n")
    plan, parts = plan_partitions(path, None, 20)
    with pytest.raises(PartitionMismatch, match="line break"):
        for part in parts:
            count_part(plan, part)


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("old_mac.smi", b"CCO a\rCCC b\rCCCC c\r", "carriage return"),
        ("utf16.smi", "CCO a\nCCC b\n".encode("utf-16"), "utf-16"),
    ],
)
def test_files_that_cannot_be_cut_by_bytes_say_why(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NotSplittable, match=why):
        plan_partitions(path, None, 10)


def test_a_workbook_cannot_be_cut_by_bytes(tmp_path):
    path = tmp_path / "book.xlsx"
    pd.DataFrame({"smiles": ["CCO", "CCN"]}).to_excel(path, index=False)
    with pytest.raises(NotSplittable, match="xlsx"):
        plan_partitions(path, None, 10)


def test_an_unreadable_file_is_refused_before_any_part(tmp_path):
    path = tmp_path / "nothing.smi"
    path.write_text("# only a comment\n\n")
    with pytest.raises(LibraryReadError, match="contains no SMILES"):
        plan_partitions(path, None, 10)


def test_a_part_written_twice_is_one_part_and_parts_join_to_the_single_machine_table(tmp_path):
    path = tmp_path / "small.smi"
    path.write_text("\n".join(LINES[:30]) + "\nC1CC broken\n")
    records = _whole(path)
    folder = tmp_path / "out.csv.parts"
    folder.mkdir()
    work = PartWork(describe_records, (StandardizeOptions(),))
    assert run_part_records(records[:12], work, str(folder), 0) == (12, 12, None)
    assert run_part_records(records[12:], work, str(folder), 1) == (19, 19, None)
    assert run_part_records(records[12:], work, str(folder), 1) == (19, 19, None)  # a retry
    assert sorted(p.name for p in folder.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    merged = pd.concat(read_parts(folder, 2), ignore_index=True)
    expected = props_table(load_library(path, LoadOptions(workers=1)))
    pd.testing.assert_frame_equal(merged, expected)
    n_read, rows, tally, data = run_part_records(records[:12], work, None, 0)  # shipped: bytes
    assert (n_read, rows, tally) == (12, 12, None) and data.startswith(b"PAR1")
