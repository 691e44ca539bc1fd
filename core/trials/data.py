"""Trial tables: reading, demo data shipped by lifelines, column types, role detection, validation."""

from __future__ import annotations

import importlib.util
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.trials import TrialDataError

COLUMN_TYPES: tuple[str, ...] = ("number", "integer", "category", "text", "boolean")
"""Types a user can give a column: numbers are summarised as mean (SD), categories as n (%)."""

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
EXPORT_SUFFIXES = (".csv", ".tsv", ".xlsx")


@dataclass(slots=True, frozen=True)
class Demo:
    """A trial data set that an installed package ships."""

    name: str
    filename: str
    description: str
    time: str
    event: str
    group: str


DEMOS: dict[str, Demo] = {
    "GBSG2": Demo(
        "GBSG2",
        "gbsg2.csv",
        "German Breast Cancer Study Group 2: 686 patients, hormone therapy (horTh) yes/no, "
        "recurrence-free survival in days (time, cens = 1 for an event)",
        time="time",
        event="cens",
        group="horTh",
    ),
    "ACTG175": Demo(
        "ACTG175",
        "ACTG175.csv",
        "AIDS Clinical Trials Group 175: 2139 HIV patients in 4 arms (0 ZDV, 1 ZDV+ddI, "
        "2 ZDV+ddC, 3 ddI), time to an AIDS-defining event or death in days (days, cens)",
        time="days",
        event="cens",
        group="arms",
    ),
}


@dataclass(slots=True, frozen=True)
class ColumnRoles:
    """Which columns hold the follow-up time, the event indicator and the arm (``None``: unknown)."""

    time: str | None = None
    event: str | None = None
    group: str | None = None


def lifelines_datasets_dir() -> Path:
    """The folder of data files inside the installed lifelines package."""
    spec = importlib.util.find_spec("lifelines")
    if spec is None or not spec.submodule_search_locations:
        raise TrialDataError("lifelines is not installed: its demo data sets are not available")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def demo_path(name: str) -> Path:
    """The path of a demo data set (``"GBSG2"`` or ``"ACTG175"``)."""
    try:
        demo = DEMOS[name]
    except KeyError:
        raise TrialDataError(f"Unknown demo {name!r}: choose one of {', '.join(DEMOS)}") from None
    path = lifelines_datasets_dir() / demo.filename
    if not path.is_file():
        raise TrialDataError(f"The lifelines package has no {demo.filename} at {path}")
    return path


def load_demo(name: str) -> tuple[pd.DataFrame, ColumnRoles]:
    """A demo trial table and its time/event/group columns."""
    frame = read_trial_table(demo_path(name))
    demo = DEMOS[name]
    return frame, ColumnRoles(demo.time, demo.event, demo.group)


def read_trial_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV, TSV or XLSX trial table (first sheet); a leading unnamed index column is dropped.

    Raises
    ------
    TrialDataError
        The file is missing, has an unknown suffix, cannot be parsed or holds no rows.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise TrialDataError(
            f"Cannot read {path.name}: choose a .csv, .tsv or .xlsx file (not '{suffix}')"
        )
    if not path.is_file():
        raise TrialDataError(f"No such file: {path}")
    try:
        if suffix in (".xlsx", ".xls"):
            # Refused before openpyxl opens it when it would expand beyond what a spreadsheet can
            # hold (a zip bomb), or is damaged.
            from core.chem.readers import check_xlsx_archive

            check_xlsx_archive(path)
            frame = pd.read_excel(path)
        else:
            frame = pd.read_csv(
                path,
                sep=None if suffix == ".txt" else ("\t" if suffix == ".tsv" else ","),
                engine="python" if suffix == ".txt" else "c",
            )
    except (ValueError, OSError, ImportError) as exc:
        raise TrialDataError(f"Cannot read {path.name}: {exc}") from exc
    except (SyntaxError, KeyError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        # openpyxl on a damaged workbook: XML ParseError (a SyntaxError), missing parts.
        raise TrialDataError(f"Cannot read {path.name}: {type(exc).__name__}: {exc}") from exc
    if frame.empty:
        raise TrialDataError(f"{path.name} holds no rows")
    first = str(frame.columns[0])
    if first.startswith("Unnamed") or first == "":
        column = frame.iloc[:, 0]
        if pd.api.types.is_integer_dtype(column) and column.is_monotonic_increasing:
            frame = frame.iloc[:, 1:]
    frame.columns = [str(c) for c in frame.columns]
    return frame.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Column types


_ID_NAME = re.compile(r"(^|_)(id|pid|pidnum|patid|patient|subject|usubjid|subjid)$|id$", re.I)


def column_type(series: pd.Series) -> str:
    """The type of a column as the app shows it (one of :data:`COLUMN_TYPES`).

    Integers with at most 6 distinct values (arms, 0/1 flags, grades) count as categories, since a
    mean of arm numbers means nothing.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(series.dtype):
        if _ID_NAME.search(str(series.name or "")) and series.is_unique:
            return "text"  # patient numbers: neither a quantity nor a category
        return "category" if series.nunique(dropna=True) <= 6 else "integer"
    if pd.api.types.is_float_dtype(series.dtype):
        return "number"
    unique = series.nunique(dropna=True)
    return "category" if unique <= max(10, int(0.05 * len(series))) else "text"


def column_types(frame: pd.DataFrame) -> dict[str, str]:
    return {str(name): column_type(frame[name]) for name in frame.columns}


def convert_column(frame: pd.DataFrame, column: str, kind: str) -> pd.DataFrame:
    """A copy of ``frame`` with ``column`` converted to ``kind`` (see :data:`COLUMN_TYPES`).

    Raises
    ------
    TrialDataError
        The column is missing, the type unknown, or a value cannot be converted (named).
    """
    if column not in frame.columns:
        raise TrialDataError(f"No column {column!r} in the table")
    if kind not in COLUMN_TYPES:
        raise TrialDataError(
            f"Unknown column type {kind!r}: choose one of {', '.join(COLUMN_TYPES)}"
        )
    series = frame[column]
    out = frame.copy()
    if kind in ("number", "integer"):
        numbers = pd.to_numeric(series, errors="coerce")
        bad = numbers.isna() & series.notna()
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise TrialDataError(
                f"Column {column!r} cannot be a number: row {position + 1} holds "
                f"{_show(series.iloc[position])}"
            )
        if kind == "integer":
            rounded = numbers.round()
            if ((rounded - numbers).abs() > 1e-9).any():
                raise TrialDataError(f"Column {column!r} holds fractions: it cannot be integer")
            out[column] = rounded.astype("Int64")
        else:
            out[column] = numbers.astype(float)
    elif kind == "boolean":
        out[column] = _to_boolean(series, column)
    elif kind == "category":
        out[column] = series.astype("category")
    else:
        out[column] = (
            series.astype(object)
            .where(series.notna(), None)
            .map(lambda v: v if v is None else str(v))
        )
    return out


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def _to_boolean(series: pd.Series, column: str) -> pd.Series:
    values = []
    for position, value in enumerate(series.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            values.append(pd.NA)
            continue
        text = str(value).strip().lower()
        if text.endswith(".0"):
            text = text[:-2]
        if text in _TRUE:
            values.append(True)
        elif text in _FALSE:
            values.append(False)
        else:
            raise TrialDataError(
                f"Column {column!r} cannot be yes/no: row {position + 1} holds {value!r}"
            )
    return pd.Series(values, index=series.index, dtype="boolean")


def set_cell(frame: pd.DataFrame, position: int, column: str, text: str) -> pd.DataFrame:
    """A copy of ``frame`` with one cell replaced by ``text`` parsed to the column's type.

    An empty text makes the cell missing.
    """
    if column not in frame.columns:
        raise TrialDataError(f"No column {column!r} in the table")
    if not 0 <= position < len(frame):
        raise TrialDataError(f"No row {position + 1} in the table")
    series = frame[column]
    text = str(text).strip()
    value: object
    if text == "":
        value = np.nan if pd.api.types.is_float_dtype(series.dtype) else pd.NA
        if series.dtype == object:
            value = None
    elif pd.api.types.is_bool_dtype(series.dtype):
        value = bool(_to_boolean(pd.Series([text]), column).iloc[0])
    elif pd.api.types.is_integer_dtype(series.dtype):
        try:
            number = float(text)
        except ValueError:
            raise TrialDataError(f"Column {column!r} holds integers, not {text!r}") from None
        if number != round(number):
            raise TrialDataError(f"Column {column!r} holds integers, not {text!r}")
        value = round(number)
    elif pd.api.types.is_float_dtype(series.dtype):
        try:
            value = float(text)
        except ValueError:
            raise TrialDataError(f"Column {column!r} holds numbers, not {text!r}") from None
    else:
        value = text
    out = frame.copy()
    if (
        isinstance(series.dtype, pd.CategoricalDtype)
        and value is not pd.NA
        and value not in series.cat.categories
    ):
        out[column] = series.cat.add_categories([value])
    if (
        pd.api.types.is_integer_dtype(series.dtype)
        and value is pd.NA
        and not isinstance(series.dtype, pd.Int64Dtype)
    ):
        out[column] = series.astype("Int64")
    out.iloc[position, out.columns.get_loc(column)] = value
    return out


# ----------------------------------------------------------------------------------------------
# Roles


_TIME_NAMES = (
    "time",
    "days",
    "futime",
    "months",
    "years",
    "weeks",
    "duration",
    "survival",
    "os",
    "pfs",
    "t",
)
_EVENT_NAMES = ("event", "cens", "status", "death", "dead", "died", "fail", "failure", "e", "d")
_GROUP_NAMES = (
    "arm",
    "arms",
    "group",
    "treatment",
    "treat",
    "trt",
    "rx",
    "horth",
    "therapy",
    "allocation",
)


def _match(names: list[str], patterns: tuple[str, ...]) -> list[str]:
    lower = {name: name.lower() for name in names}
    exact = [n for p in patterns for n in names if lower[n] == p]
    partial = [
        n
        for p in patterns
        if len(p) > 2
        for n in names
        if re.search(p, lower[n]) and n not in exact
    ]
    return list(dict.fromkeys(exact + partial))


def is_binary(series: pd.Series) -> bool:
    """Whether a column holds only 0/1 (or true/false) values, with at least one of each absent."""
    values = series.dropna()
    if values.empty:
        return False
    if pd.api.types.is_bool_dtype(values.dtype):
        return True
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numbers.notna().all() and numbers.isin([0, 1]).all())


def detect_roles(frame: pd.DataFrame) -> ColumnRoles:
    """Guess the time, event and group columns from names and values.

    Time: a numeric, non-negative column named like a duration. Event: a 0/1 column named like a
    status. Group: a column named like an arm, else the first other column with 2–6 levels.
    """
    names = [str(c) for c in frame.columns]
    numeric = [
        n
        for n in names
        if pd.api.types.is_numeric_dtype(frame[n]) and not pd.api.types.is_bool_dtype(frame[n])
    ]
    candidates = [n for n in _match(numeric, _TIME_NAMES) if not is_binary(frame[n])]
    # Prefer a column of valid times; a time-named column with negative values is still picked,
    # so that the analysis says what is wrong with it instead of finding no time column.
    time = next((n for n in candidates if (frame[n].dropna() >= 0).all()), None)
    if time is None and candidates:
        time = candidates[0]
    event = next(
        (n for n in _match(names, _EVENT_NAMES) if n != time and is_binary(frame[n])), None
    )
    used = {time, event}
    group = next(
        (
            n
            for n in _match(names, _GROUP_NAMES)
            if n not in used and 2 <= frame[n].nunique(dropna=True) <= 12
        ),
        None,
    )
    if group is None:
        group = next(
            (n for n in names if n not in used and 2 <= frame[n].nunique(dropna=True) <= 6),
            None,
        )
    return ColumnRoles(time, event, group)


# ----------------------------------------------------------------------------------------------
# Validation


def survival_frame(
    frame: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    *,
    require_events_per_group: bool = False,
) -> pd.DataFrame:
    """Columns ``time`` (float), ``event`` (0/1 int) and ``group`` (text) checked for analysis.

    Rows with a missing time, event or group are left out.

    Raises
    ------
    TrialDataError
        A column is missing, a time is negative or not a number, an event is not 0/1, fewer than
        two rows remain, or (``require_events_per_group``) a group has no events.
    """
    for role, name in (("time", time), ("event", event), ("group", group)):
        if name is not None and name not in frame.columns:
            raise TrialDataError(f"No {role} column {name!r} in the table")
    times = pd.to_numeric(frame[time], errors="coerce")
    bad = times.isna() & frame[time].notna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrialDataError(
            f"Time column {time!r} must hold numbers: row {position + 1} holds "
            f"{_show(frame[time].iloc[position])}"
        )
    negative = times < 0
    if negative.any():
        position = int(np.flatnonzero(negative.to_numpy())[0])
        raise TrialDataError(
            f"Time column {time!r} holds negative times ({times.iloc[position]:g} at row "
            f"{position + 1}): follow-up times must be ≥ 0"
        )
    raw_event = frame[event]
    if pd.api.types.is_bool_dtype(raw_event.dtype):
        events = raw_event.astype("Float64").astype(float)
    else:
        events = pd.to_numeric(raw_event, errors="coerce")
    bad = (events.notna() & ~events.isin([0, 1])) | (events.isna() & raw_event.notna())
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrialDataError(
            f"Event column {event!r} must hold 0 (censored) or 1 (event): row {position + 1} "
            f"holds {_show(raw_event.iloc[position])}"
        )
    data = pd.DataFrame({"time": times.astype(float), "event": events})
    if group is not None:
        data["group"] = frame[group].astype(object).where(frame[group].notna(), None)
    data = data.dropna().reset_index(drop=True)
    data["event"] = data["event"].astype(int)
    if group is not None:
        data["group"] = data["group"].map(_label)
    if len(data) < 2:
        raise TrialDataError("Fewer than two rows have a time, an event and a group")
    if data["event"].sum() == 0:
        raise TrialDataError(f"Event column {event!r} holds no events (all 0): nothing to analyse")
    if require_events_per_group and group is not None:
        counts = data.groupby("group")["event"].sum()
        empty = [str(g) for g, n in counts.items() if n == 0]
        if empty:
            raise TrialDataError(
                f"Group {', '.join(repr(g) for g in empty)} of column {group!r} has no events: "
                "its survival curve and median cannot be estimated"
            )
    return data


def _show(value: object) -> str:
    """A cell value for a message: text quoted, numbers plain (not ``np.int64(70)``)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _label(value: object) -> str:
    """A group value as text; 2.0 reads as '2'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def export_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a result table to .csv, .tsv or .xlsx atomically, formula-safe for spreadsheets."""
    from core.chem.export import export_table as _export

    path = Path(path)
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise TrialDataError(
            f"Cannot export to '{path.suffix or path.name}': choose .csv, .tsv or .xlsx"
        )
    return _export(table, path)


@dataclass(slots=True, frozen=True)
class LoadedTable:
    """A trial table as the panel receives it from :func:`load_trial_job`."""

    name: str
    frame: pd.DataFrame
    roles: ColumnRoles
    types: dict[str, str]
    reference: dict | None = None
    """The file's path, size and SHA-256 (``core.project.areas.file_reference``); ``None`` for a
    demo."""


def load_trial_job(source: str | os.PathLike, *, progress=None, is_cancelled=None) -> LoadedTable:
    """Read a table (a path, or a demo name from :data:`DEMOS`) and guess its roles; a job."""
    from core.project.areas import file_reference

    del is_cancelled
    if progress is not None:
        progress(-1.0, f"Reading {source}")
    reference = None
    if isinstance(source, str) and source in DEMOS:
        frame, roles = load_demo(source)
        name = source
    else:
        frame = read_trial_table(source)
        roles = detect_roles(frame)
        name = Path(source).name
        try:
            reference = file_reference(source)
        except OSError:  # read a moment ago: the reference is a convenience, not the data
            reference = None
    return LoadedTable(name, frame, roles, column_types(frame), reference)
