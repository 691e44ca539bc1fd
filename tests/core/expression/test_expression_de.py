"""Differential expression against planted truth, against PyDESeq2 itself, and on bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.expression.data import ExpressionData, ExpressionInputError, load_demo
from core.expression.de import (
    DEOptions,
    NonIntegerCountsError,
    bh_adjust,
    run_de,
)
from core.expression.simulate import simulate_counts
from core.jobs import JobCancelled


@pytest.fixture(scope="module")
def planted():
    sim = simulate_counts(n_genes=500, n_per_group=4, n_de=50, seed=0)
    stages: list[str] = []
    result = run_de(
        sim.data,
        DEOptions("condition", "case", "control", method="deseq2"),
        progress=lambda f, m: stages.append(m),
    )
    return sim, result, stages


def test_deseq2_finds_planted_genes(planted):
    sim, result, stages = planted
    assert list(result.table.columns[:2]) == ["gene", "base_mean"]
    found = set(result.table.loc[result.table["padj"] < 0.05, "gene"])
    sensitivity = len(found & sim.planted) / len(sim.planted)
    fdp = len(found - sim.planted) / max(1, len(found))
    assert sensitivity >= 0.9, sensitivity
    assert fdp <= 0.10, fdp
    # Progress was reported per PyDESeq2 stage.
    assert any("dispersion" in s for s in stages) and any("Wald" in s for s in stages)


def test_deseq2_agrees_with_pydeseq2_called_directly():
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    sim = simulate_counts(n_genes=120, n_de=12, seed=5)
    ours = run_de(sim.data, DEOptions("condition", "case", "control", method="deseq2")).table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=sim.data.values.astype(int),
            metadata=sim.data.samples[["condition"]],
            design="~condition",
            n_cpus=1,
            quiet=True,
        )
        dds.deseq2()
        stats = DeseqStats(dds, contrast=["condition", "case", "control"], n_cpus=1, quiet=True)
        stats.summary()
    direct = stats.results_df.loc[ours["gene"]]
    np.testing.assert_allclose(ours["base_mean"], direct["baseMean"], rtol=1e-6)
    np.testing.assert_allclose(ours["log2fc"], direct["log2FoldChange"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours["pvalue"], direct["pvalue"], rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(ours["padj"], direct["padj"], rtol=1e-4, atol=1e-10)


def test_welch_on_log_data_and_bh():
    sim = simulate_counts(n_genes=200, n_per_group=6, n_de=20, fold_change=8.0, seed=2)
    result = run_de(sim.data, DEOptions("condition", "case", "control", method="welch"))
    found = set(result.table.loc[result.table["padj"] < 0.05, "gene"])
    assert len(found & sim.planted) >= 16
    assert len(found - sim.planted) <= 2
    up = result.table.set_index("gene").loc[sorted(sim.planted), "log2fc"]
    assert (up.abs() > 1.5).mean() > 0.9
    np.testing.assert_allclose(
        bh_adjust(np.array([0.01, 0.04, 0.03, np.nan])), [0.03, 0.04, 0.04, np.nan]
    )


def test_one_vs_rest_on_pbmc_marker_genes():
    data = load_demo()
    result = run_de(data, DEOptions("bulk_labels", method="welch"))
    assert len(result.groups) == 10 and "group" in result.table.columns
    monocytes = result.for_group("CD14+ Monocyte").sort_values("padj")
    top = set(monocytes["gene"].head(15))
    assert {"FTL", "LYZ", "S100A9", "AIF1", "TYROBP", "FCER1G"} & top
    assert (monocytes.set_index("gene").loc["FTL", "log2fc"]) > 0


def test_non_integer_counts_offer_welch():
    sim = simulate_counts(n_genes=30, n_de=3, seed=1)
    values = sim.data.values.copy()
    values.iloc[0, 0] += 0.5
    data = ExpressionData(values=values, samples=sim.data.samples, kind="normalised")
    with pytest.raises(NonIntegerCountsError, match="Welch"):
        run_de(data, DEOptions("condition", "case", "control", method="deseq2"))


def test_condition_with_one_sample():
    sim = simulate_counts(n_genes=30, n_de=3, seed=1)
    samples = sim.data.samples.copy()
    samples.iloc[0, samples.columns.get_loc("condition")] = "lonely"
    data = ExpressionData(values=sim.data.values, samples=samples, kind="counts")
    with pytest.raises(ExpressionInputError, match=r"'lonely' has 1 sample .*at least 2"):
        run_de(data, DEOptions("condition", "lonely", "control", method="welch"))


def test_all_zero_genes_dropped_with_note():
    sim = simulate_counts(n_genes=60, n_de=6, seed=4)
    values = sim.data.values.copy()
    values.iloc[:, :3] = 0
    data = ExpressionData(values=values, samples=sim.data.samples, kind="counts")
    result = run_de(data, DEOptions("condition", "case", "control", method="welch"))
    assert len(result.table) == 57
    assert any("3 gene(s)" in note for note in result.notes)
    zero = ExpressionData(values=values * 0, samples=sim.data.samples, kind="counts")
    with pytest.raises(ExpressionInputError, match="zero counts"):
        run_de(zero, DEOptions("condition", "case", "control", method="deseq2"))


def test_unknown_condition_and_level():
    sim = simulate_counts(n_genes=20, n_de=2, seed=1)
    with pytest.raises(ExpressionInputError, match="No condition column 'group'"):
        run_de(sim.data, DEOptions("group", "case", "control", method="welch"))
    with pytest.raises(ExpressionInputError, match="levels: case, control"):
        run_de(sim.data, DEOptions("condition", "treated", "control", method="welch"))


def test_cancel_between_deseq2_stages():
    sim = simulate_counts(n_genes=40, n_de=4, seed=1)
    seen: list[str] = []

    def progress(fraction, message):
        seen.append(message)

    with pytest.raises(JobCancelled):
        run_de(
            sim.data,
            DEOptions("condition", "case", "control", method="deseq2"),
            progress=progress,
            is_cancelled=lambda: any("dispersion" in m for m in seen),
        )
    assert not any("Wald" in m for m in seen)


def test_covariate_in_design_and_confounded_covariate():
    sim = simulate_counts(n_genes=60, n_de=6, seed=6)
    result = run_de(
        sim.data, DEOptions("condition", "case", "control", method="deseq2", covariates=("batch",))
    )
    assert result.table["padj"].notna().sum() > 20
    samples = sim.data.samples.copy()
    samples["copy"] = samples["condition"].map({"case": "x", "control": "y"})
    data = ExpressionData(values=sim.data.values, samples=samples, kind="counts")
    with pytest.raises(ExpressionInputError, match="confounded"):
        run_de(
            data, DEOptions("condition", "case", "control", method="deseq2", covariates=("copy",))
        )
