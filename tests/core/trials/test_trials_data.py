"""Trial tables: demo data from lifelines, role detection, types, edits, baseline table, export."""

from __future__ import annotations

import pandas as pd
import pytest

from core.trials import TrialDataError
from core.trials.baseline import baseline_table
from core.trials.data import (
    ColumnRoles,
    column_types,
    convert_column,
    detect_roles,
    export_table,
    load_demo,
    read_trial_table,
    set_cell,
)


def test_demos_load_with_their_roles_and_detection_agrees():
    gbsg2, roles = load_demo("GBSG2")
    assert gbsg2.shape == (686, 10)
    assert roles == ColumnRoles("time", "cens", "horTh") == detect_roles(gbsg2)
    actg, roles = load_demo("ACTG175")
    assert len(actg) == 2139 and "Unnamed: 0" not in actg.columns  # the index column is dropped
    assert detect_roles(actg) == roles == ColumnRoles("days", "cens", "arms")


def test_detection_on_other_names():
    frame = pd.DataFrame(
        {
            "id": range(6),
            "os_months": [1.0, 2, 3, 4, 5, 6],
            "status": [1, 0, 1, 1, 0, 1],
            "trt": list("ABABAB"),
        }
    )
    assert detect_roles(frame) == ColumnRoles("os_months", "status", "trt")


def test_types_conversion_and_cell_edits():
    frame = pd.DataFrame({"dose": ["1", "2.5", "x"], "flag": ["yes", "no", "yes"], "n": [1, 2, 3]})
    with pytest.raises(TrialDataError, match="row 3 holds 'x'"):
        convert_column(frame, "dose", "number")
    fixed = set_cell(frame, 2, "dose", "4")
    numbers = convert_column(fixed, "dose", "number")
    assert numbers["dose"].tolist() == [1.0, 2.5, 4.0]
    assert frame["dose"].tolist() == ["1", "2.5", "x"]  # the input is not modified
    flags = convert_column(frame, "flag", "boolean")
    assert flags["flag"].tolist() == [True, False, True]
    edited = set_cell(numbers, 0, "dose", "7.5")
    assert edited["dose"].iloc[0] == 7.5
    with pytest.raises(TrialDataError, match="holds numbers"):
        set_cell(numbers, 0, "dose", "seven")
    with pytest.raises(TrialDataError, match="integers"):
        set_cell(frame, 0, "n", "1.5")
    assert column_types(numbers) == {"dose": "number", "flag": "category", "n": "category"}


def test_baseline_table_by_arm_matches_pandas():
    gbsg2, _ = load_demo("GBSG2")
    table = baseline_table(gbsg2, "horTh", variables=["age", "tgrade"])
    assert list(table.columns) == ["variable", "level", "statistic", "no", "yes", "Overall"]
    assert table.iloc[0][["no", "yes", "Overall"]].tolist() == ["440", "246", "686"]
    age = table[table["variable"] == "age"].iloc[0]
    yes = gbsg2.loc[gbsg2["horTh"] == "yes", "age"]
    assert age["yes"] == f"{yes.mean():.1f} ({yes.std():.1f})"
    grade = table[(table["variable"] == "tgrade") & (table["level"] == "III")].iloc[0]
    count = int(((gbsg2["horTh"] == "no") & (gbsg2["tgrade"] == "III")).sum())
    assert grade["no"] == f"{count} ({100 * count / 440:.1f}%)"


def test_read_and_export_round_trip_csv_and_xlsx(tmp_path):
    gbsg2, _ = load_demo("GBSG2")
    table = baseline_table(gbsg2, "horTh")
    for suffix in (".csv", ".xlsx"):
        path = export_table(table, tmp_path / f"baseline{suffix}")
        back = read_trial_table(path)
        assert back.shape == table.shape
        assert back["Overall"].astype(str).iloc[0] == "686"
    with pytest.raises(TrialDataError, match=r"choose \.csv"):
        export_table(table, tmp_path / "baseline.pdf")
    with pytest.raises(TrialDataError, match="No such file"):
        read_trial_table(tmp_path / "missing.csv")
