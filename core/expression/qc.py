"""Quality control of an expression matrix: library sizes, genes detected, sample correlation,
PCA, and samples flagged as outliers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.expression.data import ExpressionData
from core.expression.de import log_expression
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

OUTLIER_Z = 3.5
"""Robust z-score (median/MAD) beyond which a sample is flagged."""
PCA_GENES = 500
MAX_CORRELATION_SAMPLES = 1000


@dataclass(slots=True, frozen=True)
class QCResult:
    """Per-sample QC table and the matrices the QC plots draw.

    ``table``: sample, library_size, genes_detected, median_correlation, pc1, pc2, outlier,
    outlier_reason (index = sample names, in the data's order).
    """

    table: pd.DataFrame
    correlation: pd.DataFrame
    explained_variance: tuple[float, float]
    notes: tuple[str, ...] = field(default=())

    @property
    def outliers(self) -> list[str]:
        return [str(s) for s in self.table.index[self.table["outlier"].to_numpy()]]


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x − median) / (1.4826 · MAD); zeros when the MAD is zero (no spread to judge by)."""
    values = np.asarray(values, dtype=np.float64)
    median = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - median))
    if mad <= 1e-12:
        return np.zeros_like(values)
    return (values - median) / mad


def pca_scores(log_values: np.ndarray, n_genes: int = PCA_GENES) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of the most variable genes; (scores n×2, explained ratio)."""
    variance = log_values.var(axis=0)
    top = np.argsort(variance)[::-1][: min(n_genes, log_values.shape[1])]
    centred = log_values[:, top] - log_values[:, top].mean(axis=0)
    if centred.shape[0] < 2 or not np.any(centred):
        return np.zeros((log_values.shape[0], 2)), np.zeros(2)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    scores = u * s
    total = float((s**2).sum()) or 1.0
    explained = (s**2) / total
    out = np.zeros((log_values.shape[0], 2))
    k = min(2, scores.shape[1])
    out[:, :k] = scores[:, :k]
    ratio = np.zeros(2)
    ratio[:k] = explained[:k]
    return out, ratio


def compute_qc(
    data: ExpressionData,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> QCResult:
    """QC of every sample. Outliers: a robust z-score beyond ±3.5 (and a real difference) of the
    log library size (2-fold from the median), of genes detected (below 80 % of the median), or,
    for bulk samples, of the correlation with the most similar other sample (0.05 below the
    median)."""
    raw = data.values.to_numpy(dtype=np.float64)
    progress(0.1, "QC: library sizes")
    # Log data (scanpy's log1p): undo the log to get back the normalised library size.
    linear = np.expm1(np.clip(raw, 0, 50)) if data.kind == "log" else raw
    library = linear.sum(axis=1)
    detected = (raw > 0).sum(axis=1)
    check_cancelled(is_cancelled)
    progress(0.3, "QC: correlation")
    log_values = log_expression(data).to_numpy()
    notes = []
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.corrcoef(log_values)
    correlation = np.nan_to_num(np.atleast_2d(correlation), nan=0.0)
    n = correlation.shape[0]
    if n > 1:
        off = correlation + np.diag(np.full(n, np.nan))
        median_corr = np.nanmedian(off, axis=1)
        # A replicate resembles at least one other sample; with two groups the median correlation
        # is a between-group value and says little, the nearest neighbour says more.
        nearest_corr = np.nanmax(off, axis=1)
    else:
        median_corr = np.ones(n)
        nearest_corr = np.ones(n)
    check_cancelled(is_cancelled)
    progress(0.6, "QC: PCA")
    scores, explained = pca_scores(log_values)
    reasons: list[list[str]] = [[] for _ in range(n)]
    if n >= 4:
        # Not PCA distance: with a real treatment effect the groups separate along PC1, and every
        # sample then sits far from the overall median.
        log_library = np.log10(np.maximum(library, 1.0))
        z_lib = robust_z(log_library)
        z_detected = robust_z(detected.astype(np.float64))
        z_corr = robust_z(nearest_corr)
        # Robust z-scores explode when replicates are very alike: also ask for a real difference.
        far_library = np.abs(log_library - np.median(log_library)) > np.log10(2.0)
        few_detected = detected < 0.8 * np.median(detected)
        low_corr = nearest_corr < np.median(nearest_corr) - 0.05
        for i in range(n):
            if abs(z_lib[i]) > OUTLIER_Z and far_library[i]:
                reasons[i].append("library size")
            if z_detected[i] < -OUTLIER_Z and few_detected[i]:
                reasons[i].append("few genes detected")
            if not data.single_cell and z_corr[i] < -OUTLIER_Z and low_corr[i]:
                reasons[i].append("low correlation")
    else:
        notes.append("Too few samples to flag outliers")
    table = pd.DataFrame(
        {
            "sample": data.values.index.astype(str),
            "library_size": library,
            "genes_detected": detected.astype(np.int64),
            "median_correlation": median_corr,
            "pc1": scores[:, 0],
            "pc2": scores[:, 1],
            "outlier": np.array([bool(r) for r in reasons]),
            "outlier_reason": ["; ".join(r) for r in reasons],
        },
        index=data.values.index,
    )
    progress(1.0, "QC done")
    frame = pd.DataFrame(correlation, index=data.values.index, columns=data.values.index)
    return QCResult(
        table=table,
        correlation=frame,
        explained_variance=(float(explained[0]), float(explained[1])),
        notes=tuple(notes),
    )


@dataclass(slots=True, frozen=True)
class PreparedExpression:
    """What the panel needs after a load: the data, its QC and log2 values for heat maps."""

    data: ExpressionData
    qc: QCResult
    log_values: pd.DataFrame


def prepare_expression(
    counts_path: str | None,
    sheet_path: str | None = None,
    orientation: str = "auto",
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> PreparedExpression:
    """Load a matrix (``None``: the PBMC demo), then QC it (a job for the GUI)."""
    from core.expression.data import load_dataset, load_demo

    def part(lo: float, hi: float) -> ProgressCallback:
        return lambda fraction, message="": progress(lo + (hi - lo) * max(fraction, 0.0), message)

    if counts_path is None:
        data = load_demo(progress=part(0.0, 0.4), is_cancelled=is_cancelled)
    else:
        data = load_dataset(
            counts_path,
            sheet_path,
            orientation,  # type: ignore[arg-type]
            progress=part(0.0, 0.4),
            is_cancelled=is_cancelled,
        )
    check_cancelled(is_cancelled)
    qc = compute_qc(data, progress=part(0.4, 0.95), is_cancelled=is_cancelled)
    log_values = log_expression(data)
    progress(1.0, f"Loaded {data.summary()}")
    return PreparedExpression(data=data, qc=qc, log_values=log_values)
