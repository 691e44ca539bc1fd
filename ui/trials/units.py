"""Time units of the trials panel: what the axis titles, legends and sentences say.

A trial table's follow-up time has a unit that the numbers do not carry. The panel guesses it from
the time column's name (``days``, ``os_months``) or the demo's description (GBSG2: "… in days"),
and the user can set it; designs and simulations take the unit their inputs are given in.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import QComboBox

TIME_UNITS = ("days", "weeks", "months", "years")
UNKNOWN_UNIT = ""
"""No unit known: axis titles say so instead of inventing one."""
_UNKNOWN_TEXT = "not given"
_UNIT_WORD = re.compile(r"(?<![a-z])(day|week|month|year)s?(?![a-z])", re.IGNORECASE)


def guess_time_unit(*texts: str) -> str:
    """The first time unit named in ``texts`` (a column name, a description), else ``""``.

    >>> guess_time_unit("os_months"), guess_time_unit("time", "survival in days")
    ('months', 'days')
    """
    for text in texts:
        match = _UNIT_WORD.search(text or "")
        if match:
            return match.group(1).lower() + "s"
    return UNKNOWN_UNIT


def singular(unit: str) -> str:
    """``"months"`` → ``"month"`` (for rates: patients per month)."""
    return unit[:-1] if unit.endswith("s") else unit


def with_unit(title: str, unit: str) -> str:
    """An axis title with its unit: ``"Follow-up time (days)"``; without one it says so."""
    return f"{title} ({unit or 'unit not given'})"


def amount(value: float, unit: str, digits: int = 3) -> str:
    """``"12 months"``; ``"12"`` when the unit is unknown."""
    number = f"{value:.{digits}g}"
    return f"{number} {unit}" if unit else number


def unit_combo(default: str = "months", allow_unknown: bool = False) -> QComboBox:
    """A combo box of :data:`TIME_UNITS` (and "not given" when ``allow_unknown``); the unit is
    its current data."""
    combo = QComboBox()
    for unit in TIME_UNITS:
        combo.addItem(unit, unit)
    if allow_unknown:
        combo.addItem(_UNKNOWN_TEXT, UNKNOWN_UNIT)
    set_unit(combo, default)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(7)
    return combo


def set_unit(combo: QComboBox, unit: str) -> None:
    """Choose ``unit`` in a :func:`unit_combo` (the unknown entry, when it has one, for ``""``)."""
    index = combo.findData(unit)
    if index >= 0:
        combo.setCurrentIndex(index)


__all__ = [
    "TIME_UNITS",
    "UNKNOWN_UNIT",
    "amount",
    "guess_time_unit",
    "set_unit",
    "singular",
    "unit_combo",
    "with_unit",
]
