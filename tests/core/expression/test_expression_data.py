"""Reading matrices and sample sheets: orientation, file types, bad input with clear messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.expression.data import (
    ExpressionInputError,
    detect_orientation,
    load_dataset,
    load_demo,
    reorient,
)
from core.expression.simulate import simulate_counts, write_simulated


@pytest.fixture
def files(tmp_path):
    sim = simulate_counts(n_genes=40, n_de=5, seed=3)
    counts, sheet = tmp_path / "counts.csv", tmp_path / "samples.csv"
    write_simulated(sim, counts, sheet)
    return sim, counts, sheet


def test_genes_by_samples_csv_with_sheet(files):
    sim, counts, sheet = files
    data = load_dataset(counts, sheet)
    assert data.orientation == "genes_x_samples"
    assert data.values.shape == (8, 40)
    assert data.kind == "counts" and data.default_method() == "deseq2"
    assert list(data.samples["condition"]) == list(sim.data.samples["condition"])
    np.testing.assert_array_equal(data.values.to_numpy(), sim.data.values.to_numpy())


def test_samples_by_genes_tsv_and_xlsx_detected(files, tmp_path):
    sim, _, sheet = files
    table = sim.data.values.astype(int)
    table.index.name = "sample"
    tsv = tmp_path / "t.tsv"
    table.to_csv(tsv, sep="\t")
    data = load_dataset(tsv, sheet)
    assert data.orientation == "samples_x_genes"
    assert data.values.shape == (8, 40)
    xlsx = tmp_path / "t.xlsx"
    table.T.rename_axis("gene").to_excel(xlsx)
    sheet_xlsx = tmp_path / "s.xlsx"
    sim.data.samples.to_excel(sheet_xlsx)
    data = load_dataset(xlsx, sheet_xlsx)
    assert data.orientation == "genes_x_samples" and data.values.shape == (8, 40)


def test_orientation_can_be_forced_and_switched(files):
    _, counts, _ = files
    data = load_dataset(counts, None, orientation="samples_x_genes")
    assert data.values.shape == (40, 8)
    back = reorient(data)
    assert back.values.shape == (8, 40) and back.orientation == "genes_x_samples"
    # Without a sheet: more rows than columns means genes in rows.
    block = pd.DataFrame(np.zeros((30, 4)), columns=list("abcd"))
    assert detect_orientation(block) == "genes_x_samples"
    assert detect_orientation(block.T) == "samples_x_genes"


def test_text_in_matrix_names_cell(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("gene,A,B\ng1,1,2\ng2,three,4\n")
    with pytest.raises(ExpressionInputError, match=r"'three'.*row 'g2', column 'A'"):
        load_dataset(path)


def test_sample_names_that_do_not_match(files, tmp_path):
    _, counts, _ = files
    sheet = tmp_path / "other.csv"
    pd.DataFrame({"sample": ["X1", "X2"], "condition": ["a", "b"]}).to_csv(sheet, index=False)
    with pytest.raises(ExpressionInputError, match="Sample names do not match"):
        load_dataset(counts, sheet)


def test_normalised_and_log_values_are_not_counts(tmp_path):
    path = tmp_path / "norm.csv"
    path.write_text("gene,A,B,C\ng1,10.5,200.25,3\ng2,50.1,4,1000\n")
    assert load_dataset(path).kind == "normalised"
    path.write_text("gene,A,B,C\ng1,-0.5,2.2,3\ng2,1.1,0.4,2\n")
    data = load_dataset(path)
    assert data.kind == "log" and data.default_method() == "welch"


def test_demo_is_pbmc_single_cell():
    data = load_demo()
    assert data.single_cell and data.values.shape == (700, 765)
    assert data.kind == "log" and data.samples["bulk_labels"].nunique() == 10
