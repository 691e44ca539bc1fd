"""core.trials.km_design (Kaplan–Meier -> Design inputs) and the design's given event rate."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.trials import TrialDataError
from core.trials.data import load_demo
from core.trials.design import design, events_needed
from core.trials.km_design import convert_time, design_inputs, entry_dates
from core.trials.survival import analyse_survival


def test_gbsg2_gives_the_control_median_and_event_rate():
    frame, roles = load_demo("GBSG2")
    result = analyse_survival(frame, roles.time, roles.event, roles.group)
    inputs = design_inputs(result, frame, "days")
    assert (inputs.control, inputs.median) == ("no", 1528.0)
    assert (inputs.events, inputs.patients) == (299, 686)
    assert inputs.event_rate == pytest.approx(0.4359, abs=1e-4)
    assert inputs.accrual is None and inputs.accrual_note == "the table has no entry dates"


def test_entry_dates_give_the_accrual_in_the_data_unit():
    frame, roles = load_demo("GBSG2")
    frame = frame.head(100).assign(
        enrolment_date=pd.date_range("2020-01-01", periods=100, freq="7D").strftime("%d %b %Y")
    )
    assert entry_dates(frame)[0] == "enrolment_date"
    result = analyse_survival(frame, roles.time, roles.event, roles.group)
    assert design_inputs(result, frame, "weeks").accrual == pytest.approx(99.0)
    assert design_inputs(result, frame, "days").accrual == pytest.approx(693.0)
    unknown = design_inputs(result, frame, "")
    assert unknown.accrual is None and "time unit is not given" in unknown.accrual_note


def test_a_numeric_or_unnamed_date_column_is_not_an_entry_date():
    frame = pd.DataFrame({"entry_date": [1, 2, 3], "visit": ["2020-01-01"] * 3})
    assert entry_dates(frame) is None


def test_convert_time():
    assert convert_time(24, "months", "days") == pytest.approx(730.5)
    assert convert_time(14, "days", "weeks") == 2


def test_a_given_event_rate_replaces_the_computed_chance():
    common = {"hr": 0.7, "median_control": 12, "accrual": 24, "follow_up": 12}
    computed = design("survival", **common)
    given = design("survival", **common, event_rate=0.5)
    assert given.events == computed.events
    assert given.details["p_event"] == 0.5 and given.details["event_rate"] == 0.5
    assert given.total == 2 * math.ceil(events_needed(0.7) / 0.5 / 2)
    assert "event_rate" not in computed.details
    with pytest.raises(TrialDataError, match="event rate"):
        design("survival", **common, event_rate=1.5)
    # Events only: no rate needed.
    assert design("survival", hr=0.7, event_rate=None).total is None
