"""core.table_columns: a frame's columns as a table shows them (arrays taken once, sort keys)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.table_columns import (
    ColumnSpec,
    FrameArrays,
    TableColumn,
    _string_ranks_unicode,
    stable_order,
    string_ranks,
)


def column(frame: pd.DataFrame, key, kind: str) -> TableColumn:
    return TableColumn(ColumnSpec(key, kind=kind), FrameArrays(frame))


def test_plain_numpy_columns_are_read_without_a_copy():
    plain = pd.DataFrame({"n": np.array([3, 1, 2]), "x": np.array([0.5, 1.5, 2.5])})
    assert np.shares_memory(column(plain, "n", "int").values, plain["n"].to_numpy())
    assert np.shares_memory(column(plain, "x", "float").values, plain["x"].to_numpy())


def test_cells_display_by_kind_and_missing_values_are_none():
    frame = pd.DataFrame(
        {
            "x": [1.23456, np.nan],
            "n": pd.array([3, pd.NA], dtype="Int64"),
            "t": ["C9H8O4", None],
        }
    )
    x = TableColumn(ColumnSpec("x", kind="float", decimals=1), FrameArrays(frame))
    assert [x.display(0), x.display(1)] == ["1.2", ""] and x.raw(1) is None
    n = column(frame, "n", "int")
    assert [n.display(0), n.raw(0), n.raw(1)] == ["3", 3, None]
    t = TableColumn(ColumnSpec("t", formatter=str.lower), FrameArrays(frame))
    assert [t.display(0), t.display(1), t.raw(1)] == ["c9h8o4", "", None]


def test_text_sorts_case_insensitively_with_missing_and_empty_last():
    frame = pd.DataFrame({"t": ["b", "A", None, "", "a"]})
    keys, missing = column(frame, "t", "text").sort_key(5)
    assert missing.tolist() == [False, False, True, True, False]
    assert stable_order(keys, missing, True).tolist() == [1, 4, 0, 2, 3]


def test_unicode_string_ranks_equal_the_factorize_ranks():
    rng = np.random.default_rng(1)
    words = np.array(["", "a", "b", "mol1", "mol10", "mol2", "zeta", "émile", "ab"], dtype=object)
    values = words[rng.integers(0, len(words), 5000)]
    expected = string_ranks(values)  # small: the factorize path
    assert np.array_equal(_string_ranks_unicode(values), expected)


def test_stable_order_keeps_ties_in_frame_order_both_ways():
    keys = np.array([2.0, 1.0, 2.0, 0.0])
    missing = np.array([False, False, False, True])
    assert stable_order(keys, missing, True).tolist() == [1, 0, 2, 3]
    assert stable_order(keys, missing, False).tolist() == [0, 2, 1, 3]
