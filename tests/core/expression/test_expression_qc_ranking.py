"""QC flags an outlier sample; ranking, classifier and gene-set enrichment find planted genes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.expression.data import ExpressionData, ExpressionInputError
from core.expression.de import DEOptions, run_de
from core.expression.export import export_results
from core.expression.qc import compute_qc
from core.expression.ranking import classify, enrichment, rank_genes, read_gmt
from core.expression.simulate import simulate_counts


def test_qc_flags_a_broken_sample():
    sim = simulate_counts(n_genes=300, n_per_group=5, n_de=20, seed=8)
    values = sim.data.values.copy()
    rng = np.random.default_rng(0)
    values.iloc[3] = rng.permutation(values.iloc[3].to_numpy()) * 0.05  # scrambled, tiny library
    data = ExpressionData(values=values.round(), samples=sim.data.samples, kind="counts")
    qc = compute_qc(data)
    assert qc.outliers == ["S04"]
    assert "library size" in qc.table.loc["S04", "outlier_reason"]
    assert qc.correlation.shape == (10, 10)
    assert qc.table["genes_detected"].max() <= 300
    clean = compute_qc(sim.data)
    assert clean.outliers == []


def test_ranking_classifier_and_gmt(tmp_path):
    sim = simulate_counts(n_genes=300, n_per_group=6, n_de=30, seed=9)
    result = run_de(sim.data, DEOptions("condition", "case", "control", method="welch"))
    ranked = rank_genes(result.table)
    assert list(ranked["rank"][:3]) == [1, 2, 3]
    assert ranked["score"].is_monotonic_decreasing
    assert len(set(ranked["gene"].head(20)) & sim.planted) >= 18

    clf = classify(sim.data, "condition", "case", "control")
    assert clf.auroc >= 0.9 and clf.n_folds == 5
    assert set(clf.top_genes["gene"]) & sim.planted

    planted = sorted(sim.planted)
    others = [g for g in sim.data.values.columns if g not in sim.planted]
    gmt = tmp_path / "sets.gmt"
    gmt.write_text(
        f"PLANTED\tmostly planted\t{chr(9).join(planted[:15] + others[:3])}\n"
        f"RANDOM\tnot planted\t{chr(9).join(others[10:40])}\n"
        "TINY\tout of universe\tNOPE1\tNOPE2\tNOPE3\n"
    )
    sets = read_gmt(gmt)
    selected = set(result.table.loc[result.table["padj"] < 0.05, "gene"])
    table = enrichment(selected, result.table["gene"], sets)
    assert list(table["gene_set"]) == ["PLANTED", "RANDOM"]
    assert table.loc[0, "padj"] < 1e-6 and table.loc[1, "padj"] > 0.05
    bad = tmp_path / "bad.gmt"
    bad.write_text("only a name\n")
    with pytest.raises(ExpressionInputError, match="line 1"):
        read_gmt(bad)


def test_export_csv_and_xlsx(tmp_path):
    table = pd.DataFrame({"gene": ["=HYPERLINK()", "B"], "log2fc": [-1.5, 2.0]})
    export_results(table, tmp_path / "r.csv")
    back = pd.read_csv(tmp_path / "r.csv")
    assert back.loc[0, "gene"] == "'=HYPERLINK()" and back.loc[0, "log2fc"] == -1.5
    export_results(table, tmp_path / "r.xlsx")
    assert pd.read_excel(tmp_path / "r.xlsx").shape == (2, 2)
    with pytest.raises(ValueError, match="choose"):
        export_results(table, tmp_path / "r.pdf")
