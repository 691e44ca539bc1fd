"""Adding, replacing and removing library rows, each undoable."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.chem.library import LIBRARY_COLUMNS, load_library
from core.chem.library_edit import append_row, describe_molecule, get_row, remove_last_row, set_row


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "lib.csv"
    path.write_text(
        "name,smiles,pIC50\nethanol,CCO,5.0\nphenol,Oc1ccccc1,6.5\nbad,C(C)(C)(C)(C)C,7\n"
    )
    return load_library(path)


def test_describe_molecule_matches_loading():
    row = describe_molecule("CC(=O)[O-].[Na+]", "acetate")
    assert list(row) == list(LIBRARY_COLUMNS)
    assert (
        row["canonical_smiles"] == "CC(=O)O" and row["valid"] is True and row["name"] == "acetate"
    )
    bad = describe_molecule("C1CC", "broken")
    assert bad["valid"] is False and bad["error"] and math.isnan(bad["mw"])


def test_set_row_replaces_and_returns_the_previous_values(library):
    before = get_row(library, 0)
    previous = set_row(library, 0, describe_molecule("CCN", "ethylamine"))
    assert library.table.at[0, "canonical_smiles"] == "CCN"
    assert library.table.at[0, "name"] == "ethylamine"
    assert library.table.at[0, "pIC50"] == 5.0  # the file's own columns are kept
    set_row(library, 0, previous)
    assert get_row(library, 0) == before


def test_append_and_undo(library):
    dtypes = library.table.dtypes.to_dict()
    position = append_row(library, describe_molecule("OCC", "ethanol again"))
    assert position == 3 and len(library.table) == 4
    assert library.table.dtypes.to_dict() == dtypes
    assert library.table.at[3, "duplicate_of"] == "ethanol"
    assert pd.isna(library.table.at[3, "pIC50"])
    removed = remove_last_row(library)
    assert removed["name"] == "ethanol again"
    assert len(library.table) == 3 and library.table.dtypes.to_dict() == dtypes


def test_fixing_an_invalid_row_makes_it_valid(library):
    assert not library.table.at[2, "valid"]
    set_row(library, 2, describe_molecule("CC(C)(C)C", "bad"))
    assert library.table.at[2, "valid"] and library.table.at[2, "error"] == ""
    assert library.n_invalid == 0


def test_set_row_out_of_range(library):
    with pytest.raises(IndexError):
        set_row(library, 10, describe_molecule("C", "x"))


def test_computed_columns_never_overwrite_file_columns(tmp_path):
    import pandas as pd

    from core.chem.library import load_library
    from core.chem.library_edit import add_columns

    source = tmp_path / "assay.csv"
    source.write_text("smiles,pIC50\nCCO,5.0\nc1ccccc1,6.5\n")
    library = load_library(source)
    names = add_columns(library, pd.DataFrame({"pIC50": [4.0, 4.1], "score": [0.2, 0.9]}))
    assert names == ["pIC50 (computed)", "score"]
    assert list(library.table["pIC50"]) == [5.0, 6.5]  # the measured values stay
    assert list(library.table["pIC50 (computed)"]) == [4.0, 4.1]
    # Computed columns are replaced by later computations.
    assert add_columns(library, pd.DataFrame({"score": [0.5, 0.6]})) == ["score"]
    assert list(library.table["score"]) == [0.5, 0.6]
    with pytest.raises(ValueError, match="mw"):
        add_columns(library, pd.DataFrame({"mw": [1.0, 2.0]}))


def test_added_columns_share_data_keep_places_and_drop_stale_ones(library):
    import numpy as np

    from core.chem.library_edit import add_columns

    first = pd.DataFrame({"d_mw": [0.1, 0.2, 0.3], "score": [0.5, 0.6, 0.7]})
    add_columns(library, first)
    library.column_notes["d_mw"] = "desirability of mw"
    order = list(library.table.columns)
    second = pd.DataFrame({"score": [0.9, 0.8, np.nan], "d_tpsa": [1.0, 0.0, np.nan]})
    names = add_columns(library, second, drop=["d_mw"])
    assert names == ["score", "d_tpsa"]
    # No copy: a million-row score must not copy a dozen columns on the GUI thread.
    assert np.shares_memory(library.table["score"].to_numpy(), second["score"].to_numpy())
    # The replaced column keeps its place; the dropped one is gone with its note; new ones last.
    expected = [c for c in order if c != "d_mw"] + ["d_tpsa"]
    assert list(library.table.columns) == expected
    assert "d_mw" not in library.extra_columns and "d_mw" not in library.computed_columns
    assert "d_mw" not in library.column_notes
    assert library.table["pIC50"].tolist() == [5.0, 6.5, 7.0]  # file columns untouched
    # Later edits of a cell land in the library's table.
    library.table.at[0, "score"] = 0.25
    assert library.table.at[0, "score"] == 0.25
    with pytest.raises(ValueError, match="valid"):
        add_columns(library, second, drop=["valid"])
