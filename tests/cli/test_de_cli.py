"""``drugdesk de`` on generated negative-binomial counts; bad input returns 2 with a message."""

from __future__ import annotations

import pandas as pd
import pytest

from app.cli import main
from core.expression.simulate import simulate_counts, write_simulated


@pytest.fixture
def counts_files(tmp_path):
    sim = simulate_counts(n_genes=80, n_de=10, fold_change=6.0, seed=11)
    counts, sheet = tmp_path / "counts.csv", tmp_path / "samples.csv"
    write_simulated(sim, counts, sheet)
    return sim, counts, sheet


def _args(counts, sheet, out, *extra):
    return [
        "de", str(counts), "--samples", str(sheet), "--condition", "condition",
        "--case", "case", "--control", "control", "--output", str(out), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("method", ["deseq2", "welch"])
def test_de_writes_gene_table(counts_files, tmp_path, method, capsys):
    sim, counts, sheet = counts_files
    out = tmp_path / f"{method}.csv"
    assert main(_args(counts, sheet, out, "--method", method)) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["gene", "base_mean", "log2fc", "pvalue", "padj"]
    assert len(table) == 80
    found = set(table.loc[table["padj"] < 0.05, "gene"])
    assert len(found & sim.planted) >= 8
    assert "wrote" in capsys.readouterr().err


def test_de_default_method_and_xlsx(counts_files, tmp_path, capsys):
    _, counts, sheet = counts_files
    out = tmp_path / "res.xlsx"
    assert main(_args(counts, sheet, out)) == 0  # integer counts: DESeq2 by default
    assert "DESeq2" in capsys.readouterr().err
    assert pd.read_excel(out).shape == (80, 5)


def test_de_bad_input(counts_files, tmp_path, capsys):
    sim, counts, sheet = counts_files
    out = tmp_path / "out.csv"
    normalised = tmp_path / "norm.csv"
    (sim.data.values.T / 3.0).rename_axis("gene").to_csv(normalised)
    assert main(_args(normalised, sheet, out, "--method", "deseq2")) == 1
    assert "--method welch" in capsys.readouterr().err
    assert main(_args(counts, sheet, out, "--case", "treated")) == 1
    assert "no level 'treated'" in capsys.readouterr().err
    text = tmp_path / "text.csv"
    text.write_text("gene,S01,S02\nA,1,x\n")
    assert main(_args(text, sheet, out)) == 1
    assert "holds text" in capsys.readouterr().err
    assert not out.exists()
    # Usage errors: 2.
    assert main(_args(counts, sheet, tmp_path / "out.pdf")) == 2
    assert main(_args(counts, sheet, counts)) == 2  # the output is the input
    assert "input file" in capsys.readouterr().err
    assert main(_args(counts, sheet, out, "--method", "bayes")) == 2
    assert not out.exists()
