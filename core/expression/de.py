"""Differential expression: PyDESeq2 for raw counts, Welch's t-test or Mann–Whitney for
normalised or log data, one group against the rest for single cells.

Each entry point is a job (``progress``, ``is_cancelled``). PyDESeq2 cannot be interrupted inside a
call, so :func:`deseq2_table` runs the stages of ``DeseqDataSet.deseq2()`` one by one and checks
for cancel between them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.expression.data import ExpressionData, ExpressionInputError
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

METHODS = {
    "deseq2": "DESeq2 (PyDESeq2, Wald test)",
    "welch": "Welch's t-test",
    "mannwhitney": "Mann–Whitney U test",
}
RESULT_COLUMNS = ("gene", "base_mean", "log2fc", "pvalue", "padj")
MIN_PER_GROUP = 2
_CHUNK = 2000


class NonIntegerCountsError(ExpressionInputError):
    """DESeq2 was asked to model values that are not raw integer counts."""


@dataclass(slots=True, frozen=True)
class DEOptions:
    """What to compare and how.

    Parameters
    ----------
    condition
        Sample-sheet column holding the groups.
    case, control
        Levels compared (log2fc = case over control). ``control=None`` compares ``case`` with every
        other sample (one against the rest).
    method
        ``"deseq2"``, ``"welch"`` or ``"mannwhitney"``.
    covariates
        Further sheet columns in the DESeq2 design (``~ covariates + condition``).
    alpha
        Significance level PyDESeq2 uses for independent filtering.
    """

    condition: str
    case: str | None = None
    control: str | None = None
    method: str = "deseq2"
    covariates: tuple[str, ...] = ()
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ExpressionInputError(
                f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}"
            )
        if not 0 < self.alpha < 1:
            raise ExpressionInputError(f"alpha must lie between 0 and 1, not {self.alpha}")


@dataclass(slots=True, frozen=True)
class DEResult:
    """A table with one row per gene (per group for one-vs-rest) and how it was made.

    ``table`` columns: gene, base_mean, log2fc, pvalue, padj (+ stat; + group for one-vs-rest).
    ``base_mean_log`` is true when base_mean is on the data's log scale (log input).
    """

    table: pd.DataFrame
    method: str
    condition: str
    case: str | None
    control: str | None
    groups: tuple[str, ...] = ()
    base_mean_log: bool = False
    notes: tuple[str, ...] = field(default=())

    def for_group(self, group: str | None) -> pd.DataFrame:
        if "group" not in self.table.columns or group is None:
            return self.table
        return self.table[self.table["group"] == group].reset_index(drop=True)

    def title(self) -> str:
        versus = self.control if self.control is not None else "rest"
        what = f"{self.case} vs {versus}" if self.case is not None else "each group vs rest"
        return f"{METHODS[self.method]}: {self.condition} {what}"


# ----------------------------------------------------------------------------------------------
# Helpers


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values; NaN stays NaN and is not counted as a test."""
    from scipy.stats import false_discovery_control

    p = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        adjusted[ok] = false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return adjusted


def median_of_ratios(counts: np.ndarray) -> np.ndarray:
    """DESeq2's size factors (samples × genes input); library sizes when no gene is never zero."""
    with np.errstate(divide="ignore"):
        logs = np.log(counts)
    usable = np.all(np.isfinite(logs), axis=0)
    if usable.any():
        log_geo = logs[:, usable].mean(axis=0)
        factors = np.exp(np.median(logs[:, usable] - log_geo, axis=1))
    else:
        totals = counts.sum(axis=1)
        factors = totals / np.exp(np.mean(np.log(np.maximum(totals, 1.0))))
    factors[~np.isfinite(factors) | (factors <= 0)] = 1.0
    return factors


def log_expression(data: ExpressionData) -> pd.DataFrame:
    """Values on a log2 scale for tests, plots and classifiers.

    Counts: log2(count / size factor + 1), with DESeq2's median-of-ratios size factors (library
    sizes, as in CPM, would let a few strongly changed genes shift every other gene);
    normalised values: log2(x + 1); log data: as given.
    """
    values = data.values.to_numpy(dtype=np.float64)
    if data.kind == "counts":
        values = np.log2(values / median_of_ratios(values)[:, None] + 1.0)
    elif data.kind == "normalised":
        values = np.log2(np.maximum(values, 0.0) + 1.0)
    return pd.DataFrame(values, index=data.values.index, columns=data.values.columns)


def _group_masks(
    data: ExpressionData, condition: str, case: str, control: str | None
) -> tuple[np.ndarray, np.ndarray]:
    if condition not in data.samples.columns:
        columns = ", ".join(map(str, data.samples.columns)) or "none (load a sample sheet)"
        raise ExpressionInputError(
            f"No condition column '{condition}' in the sample sheet; columns: {columns}"
        )
    labels = data.samples[condition].astype(object)
    present = labels.notna().to_numpy()
    text = labels.astype(str).to_numpy()
    levels = sorted(set(text[present]))
    for level in (case, control):
        if level is not None and level not in levels:
            raise ExpressionInputError(
                f"Condition '{condition}' has no level '{level}'; levels: {', '.join(levels)}"
            )
    if control is not None and case == control:
        raise ExpressionInputError(f"Case and control are the same level ('{case}')")
    case_mask = present & (text == case)
    control_mask = present & ((text == control) if control is not None else (text != case))
    for level, mask in ((case, case_mask), (control or "rest", control_mask)):
        n = int(mask.sum())
        if n < MIN_PER_GROUP:
            names = ", ".join(map(str, data.values.index[mask][:3]))
            raise ExpressionInputError(
                f"Condition '{condition}' = '{level}' has {n} sample{'s' if n != 1 else ''}"
                f"{f' ({names})' if names else ''}: differential expression needs at least "
                f"{MIN_PER_GROUP} samples per group"
            )
    return case_mask, control_mask


def check_integer_counts(values: np.ndarray, name: str = "The matrix") -> None:
    """Raise :class:`NonIntegerCountsError` unless every value is a non-negative integer."""
    if (values < 0).any():
        raise NonIntegerCountsError(
            f"{name} holds negative values: DESeq2 needs raw integer counts. Choose Welch's "
            "t-test (or Mann–Whitney) for log or normalised data."
        )
    fractional = values != np.round(values)
    if fractional.any():
        example = values[fractional].flat[0]
        raise NonIntegerCountsError(
            f"{name} holds non-integer values (e.g. {example:g}; {int(fractional.sum())} in "
            "all): DESeq2 needs raw integer counts. Choose Welch's t-test (or Mann–Whitney) for "
            "normalised or log data."
        )


def _drop_zero_genes(values: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    zero = (values.to_numpy() == 0).all(axis=0)
    notes = []
    if zero.all():
        raise ExpressionInputError("Every gene has zero counts in the compared samples")
    if zero.any():
        notes.append(f"Dropped {int(zero.sum())} gene(s) with zero counts in every sample")
    return values.loc[:, ~zero], notes


# ----------------------------------------------------------------------------------------------
# DESeq2


def _safe_levels(series: pd.Series, prefix: str) -> tuple[pd.Series, dict[str, str]]:
    levels = sorted(series.astype(str).unique())
    mapping = {level: f"{prefix}{i}" for i, level in enumerate(levels)}
    return series.astype(str).map(mapping), mapping


def deseq2_table(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    condition: str,
    case: str,
    control: str,
    covariates: tuple[str, ...] = (),
    alpha: float = 0.05,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> pd.DataFrame:
    """PyDESeq2 Wald test of ``case`` vs ``control``; stages of ``deseq2()`` with cancel checks.

    ``counts``: samples × genes integers; ``metadata``: the same samples. Column and level names
    are replaced by safe ones for the design formula (names such as "CD4+/CD25 T Reg" or
    "age (years)" break formula parsing). Returns the result columns plus ``stat`` and ``lfcSE``.
    """
    import warnings

    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    meta = pd.DataFrame(index=counts.index)
    meta["condition"], mapping = _safe_levels(metadata[condition], "g")
    terms = []
    for i, column in enumerate(covariates):
        series = metadata[column]
        if series.isna().any():
            raise ExpressionInputError(f"Covariate '{column}' has missing values")
        name = f"cov{i}"
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            meta[name] = series.astype(np.float64).to_numpy()
        else:
            meta[name], _ = _safe_levels(series, "c")
        terms.append(name)
    design = "~" + " + ".join([*terms, "condition"])
    int_counts = counts.round().astype(np.int64)

    check_cancelled(is_cancelled)
    progress(0.02, "DESeq2: setting up")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=int_counts, metadata=meta, design=design, n_cpus=1, quiet=True)
        design_matrix = np.asarray(dds.obsm["design_matrix"], dtype=np.float64)
        if np.linalg.matrix_rank(design_matrix) < design_matrix.shape[1]:
            raise ExpressionInputError(
                "The design is not of full rank: a covariate ("
                + ", ".join(covariates)
                + f") is confounded with '{condition}' or constant"
            )
        stages: list[tuple[str, Callable[[], None]]] = [
            (
                "size factors",
                lambda: dds.fit_size_factors(
                    fit_type=dds.size_factors_fit_type, control_genes=dds.control_genes
                ),
            ),
            ("gene-wise dispersions", dds.fit_genewise_dispersions),
            ("dispersion trend", dds.fit_dispersion_trend),
            ("dispersion prior", dds.fit_dispersion_prior),
            ("MAP dispersions", dds.fit_MAP_dispersions),
            ("log fold changes", dds.fit_LFC),
            ("Cook's distances", dds.calculate_cooks),
        ]
        if dds.refit_cooks:
            stages.append(("refitting outliers", dds.refit))
        stages.append(("outlier mask", dds.cooks_outlier))
        n_stages = len(stages) + 1
        for i, (label, stage) in enumerate(stages):
            check_cancelled(is_cancelled)
            progress(0.05 + 0.9 * i / n_stages, f"DESeq2: {label}")
            stage()
        check_cancelled(is_cancelled)
        progress(0.05 + 0.9 * len(stages) / n_stages, "DESeq2: Wald test")
        stats = DeseqStats(
            dds,
            contrast=["condition", mapping[case], mapping[control]],
            alpha=alpha,
            quiet=True,
            n_cpus=1,
        )
        stats.summary()
    frame = stats.results_df
    table = pd.DataFrame(
        {
            "gene": frame.index.astype(str),
            "base_mean": frame["baseMean"].to_numpy(dtype=np.float64),
            "log2fc": frame["log2FoldChange"].to_numpy(dtype=np.float64),
            "lfc_se": frame["lfcSE"].to_numpy(dtype=np.float64),
            "stat": frame["stat"].to_numpy(dtype=np.float64),
            "pvalue": frame["pvalue"].to_numpy(dtype=np.float64),
            "padj": frame["padj"].to_numpy(dtype=np.float64),
        }
    )
    progress(1.0, "DESeq2: done")
    return table


# ----------------------------------------------------------------------------------------------
# Rank and t tests


def _test_table(
    log_values: np.ndarray,
    linear_means: np.ndarray,
    genes: pd.Index,
    case_mask: np.ndarray,
    control_mask: np.ndarray,
    method: str,
    *,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
    start: float = 0.0,
    span: float = 1.0,
    label: str = "",
) -> pd.DataFrame:
    from scipy import stats as st

    a_all = log_values[case_mask]
    b_all = log_values[control_mask]
    n_genes = log_values.shape[1]
    statistic = np.full(n_genes, np.nan)
    pvalue = np.full(n_genes, np.nan)
    for lo in range(0, n_genes, _CHUNK):
        check_cancelled(is_cancelled)
        hi = min(n_genes, lo + _CHUNK)
        a, b = a_all[:, lo:hi], b_all[:, lo:hi]
        with np.errstate(all="ignore"):
            if method == "welch":
                result = st.ttest_ind(a, b, axis=0, equal_var=False)
            else:
                result = st.mannwhitneyu(a, b, axis=0, alternative="two-sided", method="asymptotic")
        statistic[lo:hi] = result.statistic
        pvalue[lo:hi] = result.pvalue
        progress(start + span * hi / n_genes, f"{METHODS[method]}{label}: {hi} of {n_genes} genes")
    # A gene constant in both groups has no test (NaN); identical groups mean no difference.
    constant = np.isnan(pvalue) & (np.ptp(np.vstack([a_all, b_all]), axis=0) == 0)
    pvalue[constant] = 1.0
    log2fc = a_all.mean(axis=0) - b_all.mean(axis=0)
    return pd.DataFrame(
        {
            "gene": genes.astype(str),
            "base_mean": linear_means,
            "log2fc": log2fc,
            "stat": statistic,
            "pvalue": pvalue,
            "padj": bh_adjust(pvalue),
        }
    )


def _prepared(data: ExpressionData, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(log2 values, base means, base mean on a log scale?) for the samples in ``mask``."""
    raw = data.values.to_numpy(dtype=np.float64)[mask]
    log_values = log_expression(data).to_numpy()[mask]
    if data.kind == "counts":
        factors = median_of_ratios(raw)
        return log_values, (raw / factors[:, None]).mean(axis=0), False
    if data.kind == "normalised":
        return log_values, raw.mean(axis=0), False
    return log_values, raw.mean(axis=0), True


# ----------------------------------------------------------------------------------------------
# Entry points (jobs)


def run_de(
    data: ExpressionData,
    options: DEOptions,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> DEResult:
    """Compare ``options.case`` with ``options.control`` (or the rest) by ``options.method``.

    With ``case=None`` every group is compared with the rest (:func:`one_vs_rest`).
    """
    if options.case is None:
        return one_vs_rest(data, options, progress=progress, is_cancelled=is_cancelled)
    case_mask, control_mask = _group_masks(data, options.condition, options.case, options.control)
    keep = case_mask | control_mask
    for column in options.covariates:
        if column not in data.samples.columns:
            raise ExpressionInputError(f"No covariate column '{column}' in the sample sheet")
        if column == options.condition:
            raise ExpressionInputError(f"'{column}' is the condition; it cannot be a covariate too")
    notes: list[str] = []
    if options.method == "deseq2":
        if options.control is None:
            raise ExpressionInputError("DESeq2 needs a control level (one-vs-rest: use Welch)")
        check_integer_counts(data.values.to_numpy()[keep], _source_name(data))
        counts, dropped = _drop_zero_genes(data.values.loc[keep])
        notes += dropped
        table = deseq2_table(
            counts,
            data.samples.loc[keep],
            options.condition,
            options.case,
            options.control,
            tuple(options.covariates),
            options.alpha,
            progress=progress,
            is_cancelled=is_cancelled,
        )
        base_log = False
    else:
        if options.covariates:
            notes.append(f"{METHODS[options.method]} ignores covariates")
        values = data.values.loc[keep]
        nonzero = ~(values.to_numpy() == 0).all(axis=0)
        if not nonzero.all():
            notes.append(f"Dropped {int((~nonzero).sum())} gene(s) that are zero in every sample")
        log_values, means, base_log = _prepared(data, keep)
        table = _test_table(
            log_values[:, nonzero],
            means[nonzero],
            data.values.columns[nonzero],
            case_mask[keep],
            control_mask[keep],
            options.method,
            progress=progress,
            is_cancelled=is_cancelled,
        )
    progress(1.0, "Differential expression done")
    return DEResult(
        table=table,
        method=options.method,
        condition=options.condition,
        case=options.case,
        control=options.control,
        base_mean_log=base_log,
        notes=tuple(notes),
    )


def _source_name(data: ExpressionData) -> str:
    return Path(data.source).name if data.source else "The matrix"


def one_vs_rest(
    data: ExpressionData,
    options: DEOptions,
    groups: list[str] | None = None,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> DEResult:
    """Each group of ``options.condition`` against all other samples (Welch or Mann–Whitney)."""
    method = "welch" if options.method == "deseq2" else options.method
    if options.condition not in data.samples.columns:
        raise ExpressionInputError(f"No condition column '{options.condition}' in the sample sheet")
    labels = data.samples[options.condition]
    present = labels.notna().to_numpy()
    text = labels.astype(str).to_numpy()
    all_groups = sorted(set(text[present]))
    if groups is None:
        groups = all_groups
    if len(all_groups) < 2:
        raise ExpressionInputError(f"Condition '{options.condition}' has only one level")
    log_values, means, base_log = _prepared(data, present)
    text = text[present]
    notes = []
    if options.method == "deseq2":
        notes.append("One-vs-rest uses Welch's t-test")
    tables = []
    done_groups = []
    for i, group in enumerate(groups):
        case_mask = text == group
        if case_mask.sum() < MIN_PER_GROUP or (~case_mask).sum() < MIN_PER_GROUP:
            notes.append(f"Skipped '{group}': fewer than {MIN_PER_GROUP} samples")
            continue
        table = _test_table(
            log_values,
            means,
            data.values.columns,
            case_mask,
            ~case_mask,
            method,
            progress=progress,
            is_cancelled=is_cancelled,
            start=i / len(groups),
            span=1.0 / len(groups),
            label=f" ({group} vs rest)",
        )
        table.insert(0, "group", group)
        tables.append(table)
        done_groups.append(group)
    if not tables:
        raise ExpressionInputError("No group has enough samples for a one-vs-rest comparison")
    progress(1.0, "Differential expression done")
    return DEResult(
        table=pd.concat(tables, ignore_index=True),
        method=method,
        condition=options.condition,
        case=None,
        control=None,
        groups=tuple(done_groups),
        base_mean_log=base_log,
        notes=tuple(notes),
    )


def significant(table: pd.DataFrame, padj: float = 0.05, min_abs_log2fc: float = 0.0) -> np.ndarray:
    """Boolean mask: padj below the threshold and |log2fc| at least ``min_abs_log2fc``."""
    p = table["padj"].to_numpy(dtype=np.float64)
    fc = table["log2fc"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (p < padj) & (np.abs(fc) >= min_abs_log2fc) & ~np.isnan(p)


def safe_name(text: str) -> str:
    """A file-name-friendly version of a group name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "group"


__all__ = [
    "METHODS",
    "RESULT_COLUMNS",
    "DEOptions",
    "DEResult",
    "NonIntegerCountsError",
    "bh_adjust",
    "check_integer_counts",
    "deseq2_table",
    "log_expression",
    "median_of_ratios",
    "one_vs_rest",
    "run_de",
    "significant",
]
