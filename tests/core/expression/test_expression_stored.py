"""core.expression.stored: an expression analysis as tables a project keeps, and back, with
anything a damaged file could hold refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.expression.data import ExpressionData, ExpressionInputError
from core.expression.de import DEOptions, run_de
from core.expression.stored import (
    data_from_tables,
    data_meta,
    group_table,
    matrix_table,
    result_from_tables,
    result_meta,
    results_table,
    samples_table,
)


@pytest.fixture
def data() -> ExpressionData:
    rng = np.random.default_rng(3)
    values = pd.DataFrame(
        rng.poisson(20, size=(6, 5)).astype(float),
        index=[f"s{i}" for i in range(6)],
        columns=["TP53", "FTL", "LYZ", "CD4", "MYC"],
    )
    samples = pd.DataFrame(
        {"condition": pd.Categorical(["a", "a", "a", "b", "b", "b"]), "batch": [1, 2, 1, 2, 1, 2]},
        index=values.index,
    )
    return ExpressionData(values, samples, "counts", "/data/counts.csv", notes=("read",))


def test_data_round_trip(data):
    matrix = matrix_table(data)
    assert matrix.shape == (5, 6) and matrix.index.name == "gene"
    sheet = samples_table(data)
    assert sheet["condition"].dtype == object  # categories are kept as their values
    again = data_from_tables(matrix, sheet.iloc[::-1], data_meta(data))
    pd.testing.assert_frame_equal(again.values, data.values, check_names=False)
    assert list(again.samples["condition"]) == ["a", "a", "a", "b", "b", "b"]
    assert (again.kind, again.source, again.notes) == ("counts", "/data/counts.csv", ("read",))


def test_a_large_matrix_is_not_kept(data, monkeypatch):
    from core.expression import stored

    monkeypatch.setattr(stored, "MAX_STORED_MATRIX_BYTES", 6 * 5 * 8 - 1)
    assert matrix_table(data) is None


def test_result_round_trip(data):
    result = run_de(data, DEOptions("condition", "b", "a", method="welch"))
    table = results_table(result)
    assert table.index.name == "gene" and "gene" not in table.columns
    again = result_from_tables(table, result_meta(result))
    pd.testing.assert_frame_equal(again.table, result.table[again.table.columns])
    assert (again.case, again.control, again.method) == ("b", "a", "welch")
    shown = group_table(result.table.assign(significant=False))
    assert list(shown.index) == list(result.table["gene"]) and "significant" in shown


@pytest.mark.parametrize(
    ("matrix", "samples", "meta", "message"),
    [
        (None, None, {}, "missing or empty"),
        (pd.DataFrame({"s1": ["x"]}, index=["G"]), None, {}, "not numbers"),
        (pd.DataFrame([[1.0, 2.0]], index=["G"], columns=["s", "s"]), None, {}, "two genes"),
    ],
)
def test_damaged_data_is_refused(matrix, samples, meta, message):
    with pytest.raises(ExpressionInputError, match=message):
        data_from_tables(matrix, samples, meta)


def test_odd_meta_and_sheet_fall_back(data):
    again = data_from_tables(matrix_table(data), "not a sheet", {"kind": 5, "single_cell": "yes"})
    assert again.kind == "counts"  # from the values, the stated kind being junk
    assert again.samples.shape == (6, 0) and again.single_cell is False


@pytest.mark.parametrize(
    ("table", "meta", "message"),
    [
        (None, {}, "missing"),
        (pd.DataFrame(), ["x"], "not described"),
        (pd.DataFrame(), {"method": "t"}, "no known method"),
        (pd.DataFrame(), {"method": "welch"}, "no condition"),
        (pd.DataFrame({"log2fc": [1.0]}), {"method": "welch", "condition": "c"}, "lack"),
        (
            pd.DataFrame({"base_mean": [1], "log2fc": [1], "pvalue": [1], "padj": [1]}),
            {"method": "welch", "condition": "c", "groups": ["a"]},
            "no group column",
        ),
    ],
)
def test_damaged_results_are_refused(table, meta, message):
    with pytest.raises(ExpressionInputError, match=message):
        result_from_tables(table, meta)
