"""core.table_view: a frame seen through columns, a sort and a filter, with no Qt (the table
model's engine; the model's own tests are in tests/ui/tables)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.table_columns import ColumnSpec, structure_column
from core.table_view import FrameView, RowFilter, sort_rows


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["beta", "Alpha", None, "gamma", "", "delta"],
            "notes": ["pains", "", "ok", None, "PAINS alert", "ok"],
            "mw": [180.0, np.nan, 194.0, 46.0, np.nan, 94.0],
            "hbd": pd.array([1, pd.NA, 0, 1, pd.NA, 1], dtype="Int64"),
            "flag": [True, False, True, False, True, False],
            "valid": [True, True, True, True, False, True],
            "error": ["", "", "", "", "bad SMILES", ""],
        }
    )


def viewed(frame: pd.DataFrame, specs=None) -> FrameView:
    view = FrameView()
    view.set_specs(specs)
    view.set_frame(frame)
    view.update_order()
    return view


def sort_by(view: FrameView, key, ascending: bool = True) -> list[int]:
    view.sort_key, view.ascending = key, ascending
    view.resort()
    view.update_order()
    return view.order.tolist()


def filter_by(view: FrameView, row_filter: RowFilter | None) -> list[int]:
    view.apply_filter(row_filter, view.filter_mask(row_filter))
    return view.order.tolist()


def test_the_module_imports_no_qt():
    code = "import sys, core.table_view; print(any(m.startswith('PySide6') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_columns_follow_the_frame_or_the_chosen_specs(frame):
    view = viewed(frame)
    assert [c.spec.key for c in view.columns] == list(frame.columns)
    assert [c.spec.kind for c in view.columns] == [
        "text",
        "text",
        "float",
        "int",
        "bool",
        "bool",
        "text",
    ]
    view.set_specs([ColumnSpec("mw", kind="float"), structure_column(), ColumnSpec("absent")])
    assert view.column_index("mw") == 0 and view.column_index("name") == -1
    assert view.column_for_key("structure") is None  # a structure column does not sort
    assert view.columns[2].raw(0) is None  # a column the frame lacks: empty cells


def test_invalid_rows_and_their_errors_come_from_the_valid_and_error_columns(frame):
    view = viewed(frame)
    assert view.invalid.tolist() == [False, False, False, False, True, False]
    assert view.errors[4] == "bad SMILES"
    assert viewed(frame.drop(columns=["valid"])).invalid.tolist() == [False] * 6


def test_sorts_are_stable_with_missing_values_last_both_ways(frame):
    view = viewed(frame)
    assert sort_by(view, "mw") == [3, 5, 0, 2, 1, 4]
    assert sort_by(view, "mw", ascending=False) == [2, 0, 5, 3, 1, 4]
    # Text: case-insensitive; missing and empty last.
    assert sort_by(view, "name") == [1, 0, 5, 3, 2, 4]
    assert sort_by(view, "hbd") == [2, 0, 3, 5, 1, 4]  # ties keep frame order
    assert sort_by(view, None) == list(range(6))


def test_a_sort_by_a_column_that_is_gone_falls_back_to_frame_order(frame):
    view = viewed(frame)
    sort_by(view, "mw")
    view.set_specs([ColumnSpec("name")])
    assert view.sort_key is None and view.order.tolist() == list(range(6))
    view.sort_key = "mw"  # e.g. prepared for a frame that does not bring it
    view.resort()
    assert view.sort_key is None and view.sorted is None


def test_filters_compose_and_keep_the_sort(frame):
    view = viewed(frame)
    sort_by(view, "mw", ascending=False)
    assert filter_by(view, RowFilter(ranges=(("mw", 90, None),))) == [2, 0, 5]
    assert filter_by(view, RowFilter(text="ALPHA")) == [1]
    assert filter_by(view, RowFilter(text="a e")) == [0, 5, 4]  # every word, in any column
    assert filter_by(view, RowFilter(valid="invalid")) == [4]
    assert filter_by(view, RowFilter(true_columns=("flag",))) == [2, 0, 4]
    assert filter_by(view, RowFilter(without_text=(("notes", "pains"),))) == [2, 5, 3, 1]
    assert filter_by(view, RowFilter(empty_columns=("notes",))) == [3, 1]
    assert filter_by(view, RowFilter(true_columns=("no such column",))) == []
    assert view.filter_mask(RowFilter()) is None  # an empty filter keeps every row
    assert filter_by(view, None) == [2, 0, 5, 3, 1, 4]


def test_a_row_mask_for_another_frame_shows_nothing(frame):
    view = viewed(frame)
    assert filter_by(view, RowFilter(rows=np.array([True, False]))) == []
    rows = np.array([True, False, True, False, False, False])
    assert filter_by(view, RowFilter(rows=rows)) == [0, 2]


def test_view_rows_map_back_to_frame_positions(frame):
    view = viewed(frame)
    sort_by(view, "mw")
    filter_by(view, RowFilter(ranges=(("mw", 50, None),)))
    assert view.order.tolist() == [5, 0, 2]
    assert [view.view_row(p) for p in range(6)] == [1, -1, 2, -1, -1, 0]
    assert view.view_row(99) == -1


def test_hidden_text_columns_are_searched_and_their_text_kept(frame):
    view = viewed(frame, [ColumnSpec("mw", kind="float")])
    assert filter_by(view, RowFilter(text="gamma", text_columns=("name",))) == [3]
    first = view.lower_text("name")
    assert view.lower_text("name") is first  # computed once per frame
    view.set_frame(frame.copy())
    assert view.lower_text("name") is not first


def test_written_cells_replace_the_column_and_refresh_what_shows_it(frame):
    view = viewed(frame, [ColumnSpec("name"), structure_column(source=("name",))])
    taken = frame["name"].to_numpy()
    assert view.write_cells("name", [0, 3], ["omega", "zeta"]) == ["beta", "gamma"]
    assert view.refresh_column("name") == [0, 1]  # the text and the structure drawn from it
    assert view.columns[0].raw(0) == "omega" and view.columns[1].smiles(3) == "zeta"
    assert taken[0] == "beta"  # arrays taken earlier are not changed under their holder
    with pytest.raises(KeyError, match="absent"):
        view.write_cells("absent", [0], ["x"])


def test_same_rows_with_columns_added_keep_their_text_caches(frame):
    view = viewed(frame)
    sort_by(view, "name")
    ranks = view.column_for_key("name").sort_keys
    frame["extra"] = 1.0  # a column added to the same frame (as a library's results are)
    view.set_frame(frame, keep_text_caches=True)
    assert view.column_for_key("name").sort_keys is ranks
    view.set_frame(frame)  # not asked: computed anew
    assert view.column_for_key("name").sort_keys is None


def test_a_result_for_a_frame_of_another_length_is_dropped(frame):
    view = viewed(frame)
    sort_by(view, "mw")
    filter_by(view, RowFilter(ranges=(("mw", 50, None),)))
    view.set_frame(frame.iloc[:3])
    view.fit_results_to_frame()
    assert view.sorted is None and view.mask is None and view.order.tolist() == [0, 1, 2]


def test_sort_rows_without_a_column_keeps_frame_order():
    assert sort_rows(None, 4, True) is None
