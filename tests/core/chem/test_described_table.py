"""A table DrugDesk wrote, read back as a library without describing its molecules again: the
``props`` columns equal the library that was written (values, dtypes, duplicates, invalid rows,
names a spreadsheet would run as formulas) in CSV, TSV and XLSX; a hit list keeps its own
columns (rank, score…) as input columns; a table of other columns is not taken for one."""

from __future__ import annotations

import pandas as pd
import pytest

from core.chem.described_table import NotDescribed, is_described_table, read_described_table
from core.chem.export import export_table
from core.chem.library import (
    DUPLICATE_COLUMN,
    LIBRARY_COLUMNS,
    LoadOptions,
    load_library,
    props_table,
)

SMILES = (
    "CCO ethanol\n"
    "c1ccccc1O =HYPERLINK(x)\n"
    "bad_smiles broken\n"
    "CC(=O)Nc1ccc(O)cc1 paracetamol\n"
    "OCC ethanol_again\n"
    "CCCCCCCCCCCCCCCC(=O)O -palmitic\n"
    "c1ccc2ccccc2c1 naphthalene\n"
)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = tmp_path_factory.mktemp("described") / "lib.smi"
    path.write_text(SMILES)
    return load_library(path, LoadOptions(workers=1))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_a_props_table_reads_back_as_the_library_written(tmp_path, library, suffix):
    out = tmp_path / f"props{suffix}"
    export_table(props_table(library), out)
    assert is_described_table(out)
    back = read_described_table(out)
    want = library.table[[*LIBRARY_COLUMNS, DUPLICATE_COLUMN]]
    if suffix == ".xlsx":  # openpyxl writes 16 significant digits: the file holds no more
        pd.testing.assert_frame_equal(back.table, want, check_exact=False, rtol=1e-15)
    else:
        pd.testing.assert_frame_equal(back.table, want, check_exact=True)
    assert back.table["name"].tolist()[1] == "=HYPERLINK(x)"  # quoted in the file, not here
    assert back.table[DUPLICATE_COLUMN].tolist()[4] == "ethanol"
    assert back.extra_columns == [] and back.source == out


def test_a_hit_list_keeps_its_own_columns(tmp_path, library):
    table = props_table(library).assign(rank=[2, 1, None, 3, None, 4, 5], score=0.5)
    table[DUPLICATE_COLUMN] = library.table[DUPLICATE_COLUMN]
    out = tmp_path / "hits.csv"
    export_table(table[["rank", "score", *LIBRARY_COLUMNS, DUPLICATE_COLUMN]], out)
    back = read_described_table(out)
    assert back.extra_columns == ["rank", "score"]
    assert back.table["rank"].tolist()[:2] == [2.0, 1.0] and back.table["score"].eq(0.5).all()
    assert "duplicate_of (input)" not in back.table.columns  # found again, not kept twice


def test_other_tables_are_not_described(tmp_path):
    hits = tmp_path / "search.csv"
    hits.write_text("row,name,smiles,similarity\n0,ethanol,CCO,1.0\n")
    assert not is_described_table(hits)
    with pytest.raises(NotDescribed, match="lacks the columns canonical_smiles"):
        read_described_table(hits)
    sdf = tmp_path / "x.sdf"
    sdf.write_text("")
    assert not is_described_table(sdf)
    assert not is_described_table(tmp_path / "missing.csv")
