"""The baseline-characteristics table ("Table 1") of a trial, by arm."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.trials import TrialDataError
from core.trials.data import _label, column_type

OVERALL = "Overall"


def baseline_table(
    frame: pd.DataFrame,
    group: str,
    variables: Sequence[str] | None = None,
    types: dict[str, str] | None = None,
    decimals: int = 1,
) -> pd.DataFrame:
    """One row per numeric variable (mean (SD)) and per level of each categorical variable (n (%)).

    Parameters
    ----------
    frame
        The trial table.
    group
        The arm column; rows with a missing arm are left out.
    variables
        Columns to summarise (default: every column but ``group``).
    types
        Column types (see :data:`core.trials.data.COLUMN_TYPES`); guessed when absent. Numbers and
        integers give mean (SD); categories, booleans and text give n (%) of non-missing values.

    Returns
    -------
    DataFrame
        Columns ``variable``, ``level``, ``statistic``, one per arm (in sorted order) and
        ``Overall``. The first row counts patients (``N``). Missing values are counted in a
        ``missing`` level when any.
    """
    if group not in frame.columns:
        raise TrialDataError(f"No group column {group!r} in the table")
    data = frame[frame[group].notna()]
    if data.empty:
        raise TrialDataError(f"Group column {group!r} is empty")
    arms_raw = data[group].map(_label)
    arms = sorted(arms_raw.unique(), key=_natural)
    variables = [
        str(c) for c in (variables if variables is not None else frame.columns) if c != group
    ]
    types = dict(types or {})
    subsets = [(arm, data[arms_raw == arm]) for arm in arms] + [(OVERALL, data)]
    rows: list[dict[str, object]] = [
        {"variable": "N", "level": "", "statistic": "n", **{a: str(len(s)) for a, s in subsets}}
    ]
    for variable in variables:
        if variable not in frame.columns:
            raise TrialDataError(f"No column {variable!r} in the table")
        kind = types.get(variable) or column_type(frame[variable])
        if kind in ("number", "integer"):
            numbers = {a: pd.to_numeric(s[variable], errors="coerce") for a, s in subsets}
            rows.append(
                {
                    "variable": variable,
                    "level": "",
                    "statistic": "mean (SD)",
                    **{a: _mean_sd(v, decimals) for a, v in numbers.items()},
                }
            )
            if any(v.isna().any() for v in numbers.values()):
                rows.append(
                    {
                        "variable": variable,
                        "level": "missing",
                        "statistic": "n",
                        **{a: str(int(v.isna().sum())) for a, v in numbers.items()},
                    }
                )
        else:
            levels = sorted(data[variable].dropna().map(_label).unique(), key=_natural)
            if len(levels) > 30:
                continue  # free text (ids, comments): no useful summary
            for level in levels:
                cells = {}
                for arm, subset in subsets:
                    values = subset[variable].dropna().map(_label)
                    count = int((values == level).sum())
                    cells[arm] = _n_percent(count, len(values), decimals)
                rows.append({"variable": variable, "level": level, "statistic": "n (%)", **cells})
            missing = {a: int(s[variable].isna().sum()) for a, s in subsets}
            if any(missing.values()):
                rows.append(
                    {
                        "variable": variable,
                        "level": "missing",
                        "statistic": "n",
                        **{a: str(n) for a, n in missing.items()},
                    }
                )
    return pd.DataFrame(rows, columns=["variable", "level", "statistic", *arms, OVERALL])


def _mean_sd(values: pd.Series, decimals: int) -> str:
    values = values.dropna()
    if values.empty:
        return ""
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    sd_text = "–" if np.isnan(sd) else f"{sd:.{decimals}f}"
    return f"{values.mean():.{decimals}f} ({sd_text})"


def _n_percent(count: int, total: int, decimals: int) -> str:
    if total == 0:
        return "0"
    return f"{count} ({100.0 * count / total:.{decimals}f}%)"


def _natural(text: str) -> tuple:
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def baseline_job(
    frame: pd.DataFrame,
    group: str,
    variables: Sequence[str] | None = None,
    types: dict[str, str] | None = None,
    *,
    progress=None,
    is_cancelled=None,
) -> pd.DataFrame:
    """:func:`baseline_table` as an engine job."""
    del progress, is_cancelled
    return baseline_table(frame, group, variables, types)
