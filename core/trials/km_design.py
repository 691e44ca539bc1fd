"""Design inputs from a trial's Kaplan–Meier result (issue 17, part 3): the control arm's median
survival, the event rate and, when the table has patients' entry dates, the accrual period.

The control arm is the first arm in the order the survival analysis sorts them (the reference of
the Cox model and of the binary effects). Times stay in the data's unit; the accrual period
(first to last entry date) is converted to it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.trials.survival import SurvivalResult

DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
"""Length of each time unit the app knows, in days."""

_ENTRY_NAME = re.compile(
    r"(entry|enrol|enroll|registr|random|accru|inclusion|start).*date|"
    r"date.*(entry|enrol|registr|random|inclusion|start)|^(entry|enrol\w*|randomi[sz]ed)$",
    re.IGNORECASE,
)


@dataclass(slots=True, frozen=True)
class DesignInputs:
    """What a Kaplan–Meier result tells a new trial's design."""

    control: str
    """The control arm's name."""
    median: float | None
    """The control arm's median survival in the data's time unit; ``None`` when not reached."""
    events: int
    patients: int
    accrual: float | None
    """First to last entry date in the data's time unit; ``None`` without entry dates."""
    entry_column: str | None
    accrual_note: str
    """Why there is no accrual period (no entry dates, unit not known); ``""`` when there is."""

    @property
    def event_rate(self) -> float:
        return self.events / self.patients if self.patients else math.nan


def convert_time(value: float, unit: str, to: str) -> float:
    """``value`` in ``unit`` expressed in ``to`` (both among :data:`DAYS_PER_UNIT`)."""
    return value * DAYS_PER_UNIT[unit] / DAYS_PER_UNIT[to]


def entry_dates(frame: pd.DataFrame) -> tuple[str, pd.Series] | None:
    """The column of patients' entry dates (a date column, or one named like an entry,
    enrolment or randomisation date whose values read as dates) and its dates; ``None``."""
    for column in frame.columns:
        if not _ENTRY_NAME.search(str(column)):
            continue
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return str(column), series
        if pd.api.types.is_numeric_dtype(series.dtype):
            continue  # numbers are days from somewhere, not dates
        dates = pd.to_datetime(series, errors="coerce", format="mixed")
        present = int(series.notna().sum())
        if present and dates.notna().sum() >= 0.8 * present:
            return str(column), dates
    return None


def design_inputs(result: SurvivalResult, frame: pd.DataFrame, unit: str) -> DesignInputs:
    """The control median, events / patients and accrual period of ``result`` (fitted on
    ``frame``, whose time column is in ``unit``: one of :data:`DAYS_PER_UNIT`, or ``""`` when
    not known)."""
    control = result.curves[0]
    median = control.median if np.isfinite(control.median) else None
    events = int(sum(curve.events for curve in result.curves))
    patients = int(sum(curve.n for curve in result.curves))
    found = entry_dates(frame)
    accrual, column, note = None, None, ""
    if found is None:
        note = "the table has no entry dates"
    else:
        column, dates = found
        dates = dates.dropna()
        if len(dates) < 2:
            note = f"the column {column!r} has fewer than two dates"
        elif unit not in DAYS_PER_UNIT:
            note = "the data's time unit is not given (set it on the Survival tab)"
        else:
            days = (dates.max() - dates.min()) / pd.Timedelta(days=1)
            accrual = float(days) / DAYS_PER_UNIT[unit]
    return DesignInputs(
        control=str(control.group),
        median=float(median) if median is not None else None,
        events=events,
        patients=patients,
        accrual=accrual,
        entry_column=column,
        accrual_note=note,
    )


__all__ = ["DAYS_PER_UNIT", "DesignInputs", "convert_time", "design_inputs", "entry_dates"]
