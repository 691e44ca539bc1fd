"""Reading one assay cell, unit or column name: qualifiers, units, p-value names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.models.assay_values import (
    converted_name,
    merge_replicates,
    name_says_concentration,
    name_says_p_values,
    parse_measurement,
    read_values,
    relation_qualifier,
    unit_in_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7.2", ("=", 7.2, None)),
        ("-3.5", ("=", -3.5, None)),
        (">10 µM", (">", 10.0, "uM")),
        (">10 μM", (">", 10.0, "uM")),  # Greek mu, as some spreadsheets write it
        ("<1nM", ("<", 1.0, "nM")),
        ("> 10000", (">", 10000.0, None)),
        (">=5 uM", (">", 5.0, "uM")),
        ("≤ 0.3 mM", ("<", 0.3, "mM")),
        ("~ 40 nM", ("=", 40.0, "nM")),
        ("1e-7 M", ("=", 1e-7, "M")),
        ("2.5 umol/L", ("=", 2.5, "uM")),
        ("5 pM", ("=", 5.0, "pM")),
        ("3 ug/mL", ("=", 3.0, None)),  # a unit, but no concentration: raw_unit keeps it
    ],
)
def test_parse_measurement(text, expected):
    m = parse_measurement(text)
    assert (m.qualifier, m.number, m.unit) == expected
    assert m.raw_unit is None if expected[2] is None and "ug" not in text else m.raw_unit


@pytest.mark.parametrize("text", ["n.d.", "active", "10 20", ">", "inf", "nan nM"])
def test_not_measurements(text):
    assert parse_measurement(text) is None


def test_column_names():
    assert [unit_in_name(n) for n in ["IC50 (nM)", "Ki [µM]", "IC50_uM", "EC50 nM", "Kd (M)"]] == [
        "nM",
        "uM",
        "uM",
        "nM",
        "M",
    ]
    assert unit_in_name("IC50") is None and unit_in_name("Activity mm") is None
    assert all(name_says_p_values(n) for n in ["pIC50", "pKi", "pChEMBL Value", "PIC50 (mean)"])
    assert not any(name_says_p_values(n) for n in ["Potency", "IC50", "pH", "Act", "logS"])
    assert all(name_says_concentration(n) for n in ["IC50", "Ki", "Potency", "EC50 mean"])
    assert not any(name_says_concentration(n) for n in ["pIC50", "logS", "Act", "kinase"])
    assert converted_name("IC50 (nM)") == "pIC50" and converted_name("Ki_uM") == "pKi"
    assert converted_name("Standard Value") == "Standard Value (pXC50)"
    assert [relation_qualifier(t) for t in ["'>'", "'='", "<=", "", "about"]] == [
        ">",
        "=",
        "<",
        "=",
        None,
    ]


def test_read_values_turns_bounds_round_with_the_scale():
    read = read_values("IC50", ["5 nM", ">10 µM", "<1 nM", "", "2 µM"])
    assert read.values[[0, 1, 2, 4]] == pytest.approx([8.30103, 5.0, 9.0, 5.69897], abs=1e-5)
    assert math.isnan(read.values[3])
    assert read.qualifiers == ["=", "<", ">", "", "="]
    assert read.record.missing == 1 and read.record.exact == 2 and read.record.converted == 4
    assert (read.record.censored_above, read.record.censored_below) == (1, 1)


def test_read_values_warns_of_values_that_look_like_concentrations_used_as_given():
    read = read_values("value", ["0.5", "30", "2000", "45000"])
    assert read.record.units == "as given"
    assert read.values.tolist() == [0.5, 30.0, 2000.0, 45000.0]
    (warning,) = read.warnings
    assert "span 5 orders of magnitude" in warning and "say their unit" in warning


def test_merge_replicates_by_key():
    targets = np.array([[7.0, np.nan], [5.0, 1.0], [7.4, 2.0], [np.nan, 4.0]])
    merged = merge_replicates(["A", "B", "A", "A"], ["a", "b", "a2", "a3"], [0, 1, 2, 3],
                              targets, ["t1", "t2"], "regression")  # fmt: skip
    assert merged.groups == [[0, 2, 3], [1]]
    assert merged.targets[0] == pytest.approx([7.2, 3.0])
    t1, t2 = merged.replicates
    assert (t1.target, t1.rows, t1.values, t1.smiles) == ("t1", (0, 2), (7.0, 7.4), "a")
    assert t1.sd == pytest.approx(0.2828, abs=1e-4) and t1.n == 2 and not t1.disagree
    assert (t2.rows, t2.values, t2.disagree) == ((2, 3), (2.0, 4.0), True)
