"""Disease-gene ranking: a score from effect size and significance, a cross-validated L1
logistic-regression classifier of case vs control, and gene-set over-representation (GMT)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.expression.data import ExpressionData, ExpressionInputError
from core.expression.de import bh_adjust, log_expression
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

CLASSIFIER_GENES = 2000
"""The classifier sees the most variable genes only (unsupervised choice: no leak across folds)."""


def rank_genes(table: pd.DataFrame) -> pd.DataFrame:
    """Genes ordered by ``score = |log2fc| · −log10(p)`` (the π-score of Xiao et al. 2014).

    Adjusted p-values are used when present (raw p otherwise); p = 0 is capped at 1e-300.
    Returns gene, log2fc, padj, score, direction, rank (1 = strongest).
    """
    p = table["padj"].to_numpy(dtype=np.float64)
    if np.isnan(p).all():
        p = table["pvalue"].to_numpy(dtype=np.float64)
    fc = table["log2fc"].to_numpy(dtype=np.float64)
    score = np.abs(fc) * -np.log10(np.clip(p, 1e-300, 1.0))
    ranked = pd.DataFrame(
        {
            "gene": table["gene"].astype(str).to_numpy(),
            "log2fc": fc,
            "padj": table["padj"].to_numpy(dtype=np.float64),
            "score": score,
            "direction": np.where(fc >= 0, "up", "down"),
        }
    )
    if "group" in table.columns:
        ranked.insert(0, "group", table["group"].to_numpy())
    ranked = ranked[~np.isnan(score)].sort_values("score", ascending=False, kind="stable")
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked.reset_index(drop=True)


@dataclass(slots=True, frozen=True)
class ClassifierResult:
    """Cross-validated AUROC of an L1 logistic regression and its genes (fitted on all samples)."""

    auroc: float
    fold_aurocs: tuple[float, ...]
    n_folds: int
    top_genes: pd.DataFrame
    """gene, coefficient (standardised log expression; > 0 means higher in case)."""
    notes: tuple[str, ...] = field(default=())


def classify(
    data: ExpressionData,
    condition: str,
    case: str,
    control: str | None = None,
    c: float = 1.0,
    n_top: int = 20,
    seed: int = 0,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ClassifierResult:
    """Case vs control (or vs the rest) from log expression; stratified k-fold AUROC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from core.expression.de import _group_masks

    case_mask, control_mask = _group_masks(data, condition, case, control)
    keep = case_mask | control_mask
    x_all = log_expression(data).to_numpy()[keep]
    y = case_mask[keep].astype(int)
    variance = x_all.var(axis=0)
    order = np.argsort(variance)[::-1]
    order = order[variance[order] > 0][:CLASSIFIER_GENES]
    if order.size == 0:
        raise ExpressionInputError("No gene varies across the compared samples")
    x = x_all[:, order]
    genes = data.values.columns[order]
    n_folds = int(min(5, y.sum(), (1 - y).sum()))
    if n_folds < 2:
        raise ExpressionInputError("The classifier needs at least 2 samples per group")

    def model():
        return make_pipeline(
            StandardScaler(),
            LogisticRegression(
                l1_ratio=1.0, solver="liblinear", C=c, max_iter=1000, random_state=seed
            ),
        )

    scores = np.zeros(len(y))
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_aurocs = []
    for i, (train, test) in enumerate(folds.split(x, y)):
        check_cancelled(is_cancelled)
        progress(i / (n_folds + 1), f"Classifier: fold {i + 1} of {n_folds}")
        fitted = model().fit(x[train], y[train])
        scores[test] = fitted.decision_function(x[test])
        if len(set(y[test])) == 2:
            fold_aurocs.append(float(roc_auc_score(y[test], scores[test])))
    auroc = float(roc_auc_score(y, scores))
    check_cancelled(is_cancelled)
    progress(n_folds / (n_folds + 1), "Classifier: fitting on all samples")
    final = model().fit(x, y)
    coefficients = final[-1].coef_.ravel()
    chosen = np.argsort(-np.abs(coefficients))[:n_top]
    chosen = chosen[coefficients[chosen] != 0]
    top = pd.DataFrame(
        {"gene": genes[chosen].astype(str), "coefficient": coefficients[chosen]}
    ).reset_index(drop=True)
    notes = []
    if len(y) < 20:
        notes.append(f"Only {len(y)} samples: the AUROC is a rough estimate")
    progress(1.0, "Classifier done")
    return ClassifierResult(
        auroc=auroc,
        fold_aurocs=tuple(fold_aurocs),
        n_folds=n_folds,
        top_genes=top,
        notes=tuple(notes),
    )


def read_gmt(path: str | os.PathLike) -> dict[str, tuple[str, frozenset[str]]]:
    """Gene sets from a GMT file: ``name <tab> description <tab> gene <tab> gene …`` per line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ExpressionInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    sets: dict[str, tuple[str, frozenset[str]]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 3:
            raise ExpressionInputError(
                f"{path.name}, line {number}: a GMT line needs a name, a description and genes, "
                "separated by tabs"
            )
        genes = frozenset(g.strip() for g in fields[2:] if g.strip())
        sets[fields[0].strip()] = (fields[1].strip(), genes)
    if not sets:
        raise ExpressionInputError(f"{path.name}: no gene sets found")
    return sets


def enrichment(
    selected: set[str] | list[str],
    universe: set[str] | list[str],
    gene_sets: dict[str, tuple[str, frozenset[str]]],
    min_size: int = 3,
) -> pd.DataFrame:
    """Over-representation of ``selected`` genes in each set: hypergeometric test + BH.

    Sets are cut to the ``universe`` (the genes tested); sets with fewer than ``min_size`` genes
    there are skipped. Returns gene_set, description, size, overlap, expected, fold_enrichment,
    pvalue, padj, genes, most significant first.
    """
    from scipy.stats import hypergeom

    universe = {str(g) for g in universe}
    chosen = {str(g) for g in selected} & universe
    m, n_chosen = len(universe), len(chosen)
    rows = []
    for name, (description, genes) in gene_sets.items():
        members = genes & universe
        if len(members) < min_size:
            continue
        hits = members & chosen
        k = len(hits)
        expected = len(members) * n_chosen / m if m else 0.0
        pvalue = float(hypergeom.sf(k - 1, m, len(members), n_chosen)) if k else 1.0
        rows.append(
            {
                "gene_set": name,
                "description": description,
                "size": len(members),
                "overlap": k,
                "expected": expected,
                "fold_enrichment": k / expected if expected else np.nan,
                "pvalue": pvalue,
                "genes": ",".join(sorted(hits)),
            }
        )
    columns = [
        "gene_set", "description", "size", "overlap", "expected", "fold_enrichment", "pvalue",
        "padj", "genes",
    ]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    table["padj"] = bh_adjust(table["pvalue"].to_numpy())
    return table[columns].sort_values(["pvalue", "gene_set"], kind="stable").reset_index(drop=True)


def enrichment_from_gmt(
    gmt_path: str | os.PathLike,
    selected: list[str],
    universe: list[str],
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> pd.DataFrame:
    """Read a GMT file and test its sets for over-representation of ``selected`` (a job)."""
    progress(0.1, f"Reading {Path(gmt_path).name}")
    sets = read_gmt(gmt_path)
    check_cancelled(is_cancelled)
    if not selected:
        raise ExpressionInputError(
            "No significant genes at the current thresholds: loosen them to test gene sets"
        )
    table = enrichment(selected, universe, sets)
    progress(1.0, f"Tested {len(table)} gene sets")
    return table
