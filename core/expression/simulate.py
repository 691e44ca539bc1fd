"""Negative-binomial count matrices with planted differentially expressed genes (tests, demos,
benchmarks). Nothing here is downloaded: the data are generated from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.expression.data import ExpressionData


@dataclass(slots=True, frozen=True)
class SimulatedCounts:
    data: ExpressionData
    planted: frozenset[str]
    """Genes whose mean differs between ``case`` and ``control``."""
    case: str = "case"
    control: str = "control"


def simulate_counts(
    n_genes: int = 500,
    n_per_group: int = 4,
    n_de: int = 50,
    fold_change: float = 4.0,
    base_mean: float = 100.0,
    asymptotic_dispersion: float = 0.05,
    seed: int = 0,
) -> SimulatedCounts:
    """Counts ~ NB(mean = s_j · μ_g · fc, dispersion = α₀ + 1/μ_g), samples × genes.

    μ_g is log-normal around ``base_mean`` (σ = 1 on the natural-log scale), size factors s_j
    uniform in [0.7, 1.3]; ``n_de`` genes get ``fold_change`` up or down (half each) in the
    case group. The dispersion trend is DESeq2's parametric form.
    """
    rng = np.random.default_rng(seed)
    mu = rng.lognormal(np.log(base_mean), 1.0, n_genes)
    dispersion = asymptotic_dispersion + 1.0 / mu
    planted = rng.choice(n_genes, n_de, replace=False)
    fold = np.ones(n_genes)
    fold[planted] = np.where(rng.random(n_de) < 0.5, fold_change, 1.0 / fold_change)
    conditions = np.array(["control"] * n_per_group + ["case"] * n_per_group)
    size_factors = rng.uniform(0.7, 1.3, conditions.size)
    counts = np.empty((conditions.size, n_genes))
    shape = 1.0 / dispersion
    for j, condition in enumerate(conditions):
        mean = size_factors[j] * mu * (fold if condition == "case" else 1.0)
        counts[j] = rng.negative_binomial(shape, shape / (shape + mean))
    samples = [f"S{j + 1:02d}" for j in range(conditions.size)]
    genes = [f"GENE{g + 1:05d}" for g in range(n_genes)]
    values = pd.DataFrame(counts, index=samples, columns=genes)
    sheet = pd.DataFrame(
        {
            "condition": conditions,
            "batch": np.tile(["b1", "b2"], conditions.size // 2 + 1)[: conditions.size],
        },
        index=pd.Index(samples, name="sample"),
    )
    data = ExpressionData(values=values, samples=sheet, kind="counts", source="simulated")
    return SimulatedCounts(data=data, planted=frozenset(genes[g] for g in planted))


def write_simulated(sim: SimulatedCounts, counts_path, sheet_path) -> None:
    """Write the matrix as genes × samples (first column ``gene``) and the sheet (``sample``)."""
    matrix = sim.data.values.T.astype(np.int64)
    matrix.index.name = "gene"
    matrix.to_csv(counts_path)
    sim.data.samples.to_csv(sheet_path)
