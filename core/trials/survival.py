"""Survival analysis by arm: Kaplan–Meier (lifelines), log-rank, Cox PH with a PH check, and
effects for binary endpoints (statsmodels).

lifelines gives the Kaplan–Meier estimate with Greenwood exponential ("log-log") confidence
bands, medians with the confidence interval read off those bands (Brookmeyer–Crowley style), the
log-rank test and the Cox model; statsmodels gives the Wald/log/logit intervals of binary effects.

Confidence bands (:data:`CI_METHODS`), all from Greenwood's variance, ``V(t) = Σ d/(n (n - d))``
over event times up to ``t`` (so that ``Var Ŝ ≈ Ŝ² V``), ``z = z(1 - α/2)``:

- ``"log-log"`` (the default, lifelines' and SAS's): ``Ŝ^exp(±z √V / log Ŝ)``;
- ``"log"`` (R ``survfit``'s default, ``conf.type = "log"``): ``Ŝ exp(±z √V)``, capped at 1;
- ``"plain"`` (``conf.type = "plain"``): ``Ŝ ± z Ŝ √V``, clipped to [0, 1].

Where ``Ŝ = 0`` (the last patient had the event) every band is 0, as lifelines gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, check_cancelled
from core.trials import TrialDataError
from core.trials.baseline import _natural
from core.trials.data import _label, is_binary, survival_frame

CI_METHODS = ("log-log", "log", "plain")
"""Confidence bands of a Kaplan–Meier curve (see the module notes)."""
DEFAULT_CI = "log-log"


@dataclass(slots=True, frozen=True)
class KMCurve:
    """The Kaplan–Meier estimate of one arm (step function values right-continuous at ``times``)."""

    group: str
    times: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int
    events: int
    median: float
    """``nan`` when the curve never reaches 0.5."""
    median_lower: float
    median_upper: float
    """``nan`` when the band does not reach 0.5 (the interval is open above)."""
    censor_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ci_method: str = DEFAULT_CI
    """How ``lower``/``upper`` (and the median's interval) were made: one of :data:`CI_METHODS`."""


@dataclass(slots=True, frozen=True)
class SurvivalResult:
    """Everything the Survival tab shows."""

    curves: tuple[KMCurve, ...]
    logrank_statistic: float
    logrank_df: int
    logrank_p: float
    at_risk: pd.DataFrame
    """Rows: groups; columns: the time points; values: patients still at risk."""
    cox: pd.DataFrame | None
    """Hazard ratios: term, hr, ci_lower, ci_upper, p (``None`` when not fitted)."""
    ph_test: pd.DataFrame | None
    """Schoenfeld-residual test of proportional hazards per term: term, statistic, p."""
    alpha: float = 0.05
    time_column: str = "time"
    group_column: str = ""
    warnings: tuple[str, ...] = ()
    binary: pd.DataFrame | None = None
    """Risk difference, risk ratio and odds ratio (see :func:`binary_effects`), when asked."""
    ci_method: str = DEFAULT_CI
    """The Kaplan–Meier confidence bands: one of :data:`CI_METHODS`."""
    n_rows: int = 0
    """Rows of the table given."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Rows not analysed, by reason (``"no time"``, ``"no event"``, ``"no group"``; a row is
    counted once, under the first of these it lacks)."""

    @property
    def n_left_out(self) -> int:
        return sum(self.left_out.values())

    def left_out_message(self) -> str:
        """``"3 of 120 rows left out: 2 with no group, 1 with no time"``, or ``""``."""
        return _left_out_text(self.left_out, self.n_rows)

    def summary(self) -> pd.DataFrame:
        """One row per group: group, n, events, median, ci_lower, ci_upper, logrank_p."""
        return pd.DataFrame(
            [
                {
                    "group": c.group,
                    "n": c.n,
                    "events": c.events,
                    "median": c.median,
                    "ci_lower": c.median_lower,
                    "ci_upper": c.median_upper,
                    "logrank_p": self.logrank_p,
                }
                for c in self.curves
            ],
            columns=["group", "n", "events", "median", "ci_lower", "ci_upper", "logrank_p"],
        )


def _finite(value: float) -> float:
    value = float(value)
    return value if np.isfinite(value) else float("nan")


def greenwood_bands(
    survival: np.ndarray, variance: np.ndarray, alpha: float, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper confidence bands of a Kaplan–Meier curve ``survival`` whose Greenwood sum
    (``Σ d/(n (n - d))``, so ``Var Ŝ ≈ Ŝ² variance``) is ``variance``; see the module notes."""
    from scipy.stats import norm

    if method not in CI_METHODS:
        raise TrialDataError(f"Unknown confidence interval {method!r}: {', '.join(CI_METHODS)}")
    z = float(norm.ppf(1 - alpha / 2))
    s = np.asarray(survival, dtype=float)
    se = np.sqrt(np.asarray(variance, dtype=float))
    with np.errstate(all="ignore"):
        if method == "plain":
            lower, upper = s - z * s * se, s + z * s * se
        elif method == "log":
            lower, upper = s * np.exp(-z * se), s * np.exp(z * se)
        else:
            log_s = np.log(s)
            lower = np.exp(-np.exp(np.log(-log_s) + z * se / log_s))
            upper = np.exp(-np.exp(np.log(-log_s) - z * se / log_s))
    at_one = s >= 1.0  # before the first event: no uncertainty
    lower = np.where(at_one, 1.0, lower)
    upper = np.where(at_one, 1.0, upper)
    at_zero = s <= 0.0
    lower = np.where(at_zero, 0.0, np.clip(lower, 0.0, 1.0))
    upper = np.where(at_zero, 0.0, np.clip(upper, 0.0, 1.0))
    return lower, upper


def kaplan_meier(
    data: pd.DataFrame, label: str, alpha: float = 0.05, ci: str = DEFAULT_CI
) -> KMCurve:
    """The Kaplan–Meier curve of ``data`` (columns ``time``, ``event``) with its median and CI.

    ``ci``: the confidence bands, one of :data:`CI_METHODS` (``"log-log"``: lifelines' own)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    if ci not in CI_METHODS:
        raise TrialDataError(f"Unknown confidence interval {ci!r}: {', '.join(CI_METHODS)}")
    kmf = KaplanMeierFitter(alpha=alpha)
    kmf.fit(data["time"], data["event"], label=label)
    times = kmf.survival_function_.index.to_numpy(dtype=float)
    survival = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    band = kmf.confidence_interval_
    if ci != "log-log":
        lower, upper = greenwood_bands(survival, greenwood_variance(kmf, times), alpha, ci)
        band = pd.DataFrame({band.columns[0]: lower, band.columns[1]: upper}, index=band.index)
    median_ci = median_survival_times(band)
    censored = data.loc[data["event"] == 0, "time"].to_numpy(dtype=float)
    return KMCurve(
        group=label,
        times=times,
        survival=survival,
        lower=band.iloc[:, 0].to_numpy(dtype=float),
        upper=band.iloc[:, 1].to_numpy(dtype=float),
        n=len(data),
        events=int(data["event"].sum()),
        median=_finite(kmf.median_survival_time_),
        median_lower=_finite(median_ci.iloc[0, 0]),
        median_upper=_finite(median_ci.iloc[0, 1]),
        censor_times=np.unique(censored),
        ci_method=ci,
    )


def greenwood_variance(kmf, times: np.ndarray) -> np.ndarray:
    """Greenwood's sum ``Σ d/(n (n - d))`` of a fitted lifelines ``KaplanMeierFitter`` at
    ``times`` (infinite once every patient at risk had the event)."""
    table = kmf.event_table
    deaths = table["observed"].to_numpy(dtype=float)
    at_risk = table["at_risk"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(deaths > 0, deaths / (at_risk * (at_risk - deaths)), 0.0)
    total = pd.Series(np.cumsum(terms), index=table.index.to_numpy(dtype=float))
    return total.reindex(times, method="ffill").fillna(0.0).to_numpy(dtype=float)


def _left_out_text(left_out: dict[str, int], n_rows: int) -> str:
    total = sum(left_out.values())
    if not total:
        return ""
    reasons = ", ".join(f"{n} with {why}" for why, n in left_out.items() if n)
    return f"{total} of {n_rows} {'row' if total == 1 else 'rows'} left out: {reasons}"


def rows_left_out(frame: pd.DataFrame, time: str, event: str, group: str | None) -> dict[str, int]:
    """Rows that :func:`core.trials.data.survival_frame` leaves out, counted by reason (each row
    once, under the first of "no time", "no event", "no group" that applies)."""
    counts: dict[str, int] = {}
    taken = np.zeros(len(frame), dtype=bool)
    for why, column in (("no time", time), ("no event", event), ("no group", group)):
        if column is None or column not in frame.columns:
            continue
        missing = frame[column].isna().to_numpy() & ~taken
        if missing.any():
            counts[why] = int(missing.sum())
        taken |= missing
    return counts


def at_risk_table(data: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """Patients still at risk (time ≥ t) in each group at each of ``times``."""
    groups = sorted(data["group"].unique(), key=_natural)
    rows = {}
    for group in groups:
        t = np.sort(data.loc[data["group"] == group, "time"].to_numpy(dtype=float))
        rows[group] = [int(len(t) - np.searchsorted(t, x, side="left")) for x in times]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[float(x) for x in times])


def risk_times(max_time: float, count: int = 6) -> list[float]:
    """Round time points from 0 to about ``max_time`` for the numbers-at-risk table."""
    if not np.isfinite(max_time) or max_time <= 0:
        return [0.0]
    raw = max_time / max(count - 1, 1)
    magnitude = 10 ** np.floor(np.log10(raw))
    # The round step nearest to the wanted one (on a log scale): 500 rather than 1000 for 532.
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10)), key=lambda s: abs(np.log(s / raw)))
    return [float(x) for x in np.arange(0.0, max_time + 1e-9, step)]


def analyse_survival(
    frame: pd.DataFrame,
    time: str,
    event: str,
    group: str,
    covariates: Sequence[str] = (),
    alpha: float = 0.05,
    *,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    require_events_per_group: bool = False,
    binary_outcome: str | None = None,
    ci: str = DEFAULT_CI,
) -> SurvivalResult:
    """Kaplan–Meier per arm, log-rank test, Cox model (arm + ``covariates``) and PH check.

    ``binary_outcome``: a 0/1 column whose risk difference, risk ratio and odds ratio between arms
    are added (:func:`binary_effects`, first arm as control). ``ci``: the Kaplan–Meier confidence
    bands, one of :data:`CI_METHODS`. Rows with no time, event or group are left out and counted
    (``left_out``, and a warning).

    A job function: the panel runs it in the engine.

    Raises
    ------
    TrialDataError
        Bad columns (see :func:`core.trials.data.survival_frame`), fewer than two arms, or a Cox
        model that cannot be fitted.
    """
    from lifelines.statistics import multivariate_logrank_test

    report = progress or (lambda fraction, message="": None)
    if not 0 < alpha < 1:
        raise TrialDataError(f"alpha must be between 0 and 1, not {alpha}")
    if ci not in CI_METHODS:
        raise TrialDataError(f"Unknown confidence interval {ci!r}: {', '.join(CI_METHODS)}")
    data = survival_frame(
        frame, time, event, group, require_events_per_group=require_events_per_group
    )
    left_out = rows_left_out(frame, time, event, group)
    groups = sorted(data["group"].unique(), key=_natural)
    if len(groups) < 2:
        raise TrialDataError(
            f"Group column {group!r} has one arm ({groups[0]!r}): a comparison needs two"
        )
    if len(groups) > 20:
        raise TrialDataError(
            f"Group column {group!r} has {len(groups)} values: choose a column of arms"
        )
    report(0.05, "Kaplan–Meier")
    curves = []
    warnings = []
    for name in groups:
        check_cancelled(is_cancelled)
        subset = data[data["group"] == name]
        curves.append(kaplan_meier(subset, name, alpha, ci))
        if subset["event"].sum() == 0:
            warnings.append(f"Arm {name!r} has no events: its median is not estimable")
    report(0.4, "Log-rank test")
    test = multivariate_logrank_test(data["time"], data["group"], data["event"])
    check_cancelled(is_cancelled)
    at_risk = at_risk_table(data, risk_times(float(data["time"].max())))
    report(0.55, "Cox proportional hazards")
    if any(c.events == 0 for c in curves):
        # The arm's hazard ratio would run off to 0 or infinity: no model is better than that.
        cox, ph, cox_warning = None, None, "Cox model not fitted: an arm has no events"
    else:
        cox, ph, cox_warning = _cox(frame, data, time, event, group, groups, covariates, alpha)
    if cox_warning:
        warnings.append(cox_warning)
    binary = None
    if binary_outcome:
        report(0.9, "Binary effects")
        binary = binary_effects(frame, binary_outcome, group, alpha=alpha)
    report(1.0, "Done")
    if left_out:
        warnings.insert(0, _left_out_text(left_out, len(frame)))
    return SurvivalResult(
        curves=tuple(curves),
        logrank_statistic=float(test.test_statistic),
        logrank_df=len(groups) - 1,
        logrank_p=float(test.p_value),
        at_risk=at_risk,
        cox=cox,
        ph_test=ph,
        alpha=alpha,
        time_column=time,
        group_column=group,
        warnings=tuple(warnings),
        binary=binary,
        ci_method=ci,
        n_rows=len(frame),
        left_out=left_out,
    )


def cox_design_matrix(
    frame: pd.DataFrame,
    data: pd.DataFrame,
    time: str,
    event: str,
    group: str,
    groups: Sequence[str],
    covariates: Sequence[str],
) -> pd.DataFrame:
    """Columns for the Cox model: arm indicators (vs the first arm) and covariates (categorical
    covariates as indicators vs their first level); rows with a missing covariate dropped."""
    rows = frame[frame[group].notna()].copy()
    rows = rows[pd.to_numeric(rows[time], errors="coerce").notna()]
    rows = rows[pd.to_numeric(rows[event], errors="coerce").notna()]
    design = pd.DataFrame(
        {
            "_time": pd.to_numeric(rows[time], errors="coerce").astype(float),
            "_event": pd.to_numeric(rows[event], errors="coerce").astype(int),
        }
    )
    arm = rows[group].map(_label)
    for name in groups[1:]:
        design[f"{group}={name}"] = (arm == name).astype(float)
    for covariate in covariates:
        if covariate in (time, event, group):
            continue
        if covariate not in frame.columns:
            raise TrialDataError(f"No covariate column {covariate!r} in the table")
        values = rows[covariate]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            design[covariate] = values.astype(float)
        else:
            labels = values.map(lambda v: None if pd.isna(v) else _label(v))
            levels = sorted(labels.dropna().unique(), key=_natural)
            for level in levels[1:]:
                design[f"{covariate}={level}"] = np.where(
                    labels.isna(), np.nan, (labels == level).astype(float)
                )
    return design.dropna().reset_index(drop=True)


def _cox(frame, data, time, event, group, groups, covariates, alpha):
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import proportional_hazard_test

    design = cox_design_matrix(frame, data, time, event, group, groups, covariates)
    if design["_event"].sum() < 2:
        return None, None, "Too few events for a Cox model"
    try:
        cph = CoxPHFitter(alpha=alpha)
        cph.fit(design, duration_col="_time", event_col="_event")
    except (ConvergenceError, ValueError, np.linalg.LinAlgError) as exc:
        return None, None, f"Cox model not fitted: {str(exc).splitlines()[0]}"
    summary = cph.summary
    level = f"{round(100 * (1 - alpha))}%"
    cox = pd.DataFrame(
        {
            "term": summary.index.astype(str),
            "hr": summary["exp(coef)"].to_numpy(dtype=float),
            "ci_lower": summary[f"exp(coef) lower {level}"].to_numpy(dtype=float),
            "ci_upper": summary[f"exp(coef) upper {level}"].to_numpy(dtype=float),
            "p": summary["p"].to_numpy(dtype=float),
        }
    )
    try:
        test = proportional_hazard_test(cph, design, time_transform="rank")
        ph = pd.DataFrame(
            {
                "term": [str(i) for i in test.summary.index],
                "statistic": test.summary["test_statistic"].to_numpy(dtype=float),
                "p": test.summary["p"].to_numpy(dtype=float),
            }
        )
    except (ValueError, np.linalg.LinAlgError):
        ph = None
    return cox, ph, ""


# ----------------------------------------------------------------------------------------------
# Binary endpoints


def binary_effects(
    frame: pd.DataFrame,
    outcome: str,
    group: str,
    control: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Risk difference, risk ratio and odds ratio of each arm against ``control``, with CIs.

    Intervals: Wald for the risk difference, log (Katz) for the risk ratio, logit (Woolf) for the
    odds ratio, all from ``statsmodels.stats.proportion.confint_proportions_2indep``.

    Returns
    -------
    DataFrame
        Columns ``arm``, ``control``, ``measure``, ``estimate``, ``ci_lower``, ``ci_upper``,
        ``events``, ``n``, ``control_events``, ``control_n``.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    for role, name in (("outcome", outcome), ("group", group)):
        if name not in frame.columns:
            raise TrialDataError(f"No {role} column {name!r} in the table")
    data = frame[[outcome, group]].dropna()
    if not is_binary(data[outcome]):
        raise TrialDataError(
            f"Outcome column {outcome!r} must hold 0/1 values for a binary endpoint"
        )
    y = pd.to_numeric(
        data[outcome].astype("Float64")
        if pd.api.types.is_bool_dtype(data[outcome])
        else data[outcome]
    ).astype(int)
    arm = data[group].map(_label)
    arms = sorted(arm.unique(), key=_natural)
    if len(arms) < 2:
        raise TrialDataError(f"Group column {group!r} has fewer than two arms")
    control = arms[0] if control is None else str(control)
    if control not in arms:
        raise TrialDataError(f"No arm {control!r} in column {group!r}")
    c_events, c_n = int(y[arm == control].sum()), int((arm == control).sum())
    rows = []
    for name in arms:
        if name == control:
            continue
        events, n = int(y[arm == name].sum()), int((arm == name).sum())
        p1, p0 = events / n, c_events / c_n
        for measure, compare, method, estimate in (
            ("risk difference", "diff", "wald", p1 - p0),
            ("risk ratio", "ratio", "log", p1 / p0 if p0 > 0 else np.nan),
            (
                "odds ratio",
                "odds-ratio",
                "logit",
                (p1 / (1 - p1)) / (p0 / (1 - p0)) if 0 < p0 < 1 and p1 < 1 else np.nan,
            ),
        ):
            try:
                with np.errstate(all="ignore"):
                    low, high = confint_proportions_2indep(
                        events, n, c_events, c_n, method=method, compare=compare, alpha=alpha
                    )
            except (ValueError, ZeroDivisionError):
                low, high = np.nan, np.nan
            rows.append(
                {
                    "arm": name,
                    "control": control,
                    "measure": measure,
                    "estimate": float(estimate),
                    "ci_lower": float(low),
                    "ci_upper": float(high),
                    "events": events,
                    "n": n,
                    "control_events": c_events,
                    "control_n": c_n,
                }
            )
    return pd.DataFrame(rows)
