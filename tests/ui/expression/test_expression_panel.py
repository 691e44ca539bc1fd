"""The Gene expression panel: demo and counts loading, DE runs on the engine, linked plots and
table, live thresholds, ranking, export, and bad input shown to the user."""

from __future__ import annotations

import pandas as pd
import pytest

from app.engine import InferenceEngine
from core.expression.simulate import simulate_counts, write_simulated
from ui.expression.panel import ALL_VS_REST, ExpressionPanel
from ui.expression.plots import DOWN_CODE, UP_CODE


class FakeWindow:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def show_error(self, message: str) -> None:
        self.errors.append(message)

    def statusBar(self):
        class _Bar:
            def showMessage(self, *args):
                pass

        return _Bar()


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def panel(qtbot, engine):
    window = FakeWindow()
    panel = ExpressionPanel(engine, window)
    qtbot.addWidget(panel)
    panel.resize(1300, 850)
    return panel


@pytest.fixture
def count_files(tmp_path):
    sim = simulate_counts(n_genes=60, n_de=8, fold_change=6.0, seed=12)
    counts, sheet = tmp_path / "counts.csv", tmp_path / "samples.csv"
    write_simulated(sim, counts, sheet)
    return sim, counts, sheet


def _wait_idle(qtbot, panel, timeout=60_000):
    qtbot.waitUntil(lambda: not panel.busy(), timeout=timeout)


def test_demo_one_vs_rest_linked_views_and_export(qtbot, panel, tmp_path):
    panel.open_demo()
    _wait_idle(qtbot, panel)
    assert panel.prepared is not None and panel.prepared.data.n_samples == 700
    assert panel.condition_combo.currentText() == "bulk_labels"
    assert panel.case_combo.currentText() == ALL_VS_REST
    assert panel.method_combo.currentData() == "welch"
    assert panel.qc_model.rowCount() == 700

    panel.run_de()
    _wait_idle(qtbot, panel)
    assert panel.group_combo.count() == 10 and panel.group_combo.isVisibleTo(panel)
    assert panel.tabs.currentIndex() == 2
    panel.group_combo.setCurrentText("CD14+ Monocyte")
    first = panel.results_model.index(0, panel.results_model.column_index("gene")).data()
    assert first in {"FTL", "LYZ", "S100A9", "AIF1", "TYROBP", "FCER1G", "CST3", "LST1"}

    # Live thresholds: a stricter fold change leaves fewer significant genes.
    before = int(panel.current_table["significant"].sum())
    panel.fc_spin.setValue(2.5)
    qtbot.waitUntil(lambda: int(panel.current_table["significant"].sum()) < before, timeout=3000)
    after = int(panel.current_table["significant"].sum())
    assert f"{after} significant" in panel.count_label.text()
    coloured = len(panel.volcano.layers[UP_CODE].data) + len(panel.volcano.layers[DOWN_CODE].data)
    assert coloured == after
    panel.only_significant.setChecked(True)
    assert panel.results_model.rowCount() == after

    # A click on a volcano point selects the row; a row selects the point in both plots.
    panel.only_significant.setChecked(False)
    position = int(panel.current_table.index[panel.current_table["gene"] == "FTL"][0])
    panel.volcano.gene_clicked.emit(position)
    assert panel.selected_gene() == "FTL"
    row = panel.results_view.currentIndex().row()
    assert panel.results_model.source_row(row) == position
    assert panel.ma_plot.label.textItem.toPlainText() == "FTL"
    panel.results_view.selectRow(1)
    assert panel.selected_gene() == panel.results_model.index(1, 0).data()

    out = tmp_path / "monocytes.csv"
    panel.export_results(out)
    _wait_idle(qtbot, panel)
    written = pd.read_csv(out)
    assert len(written) == panel.results_model.rowCount()
    assert set(written["group"]) == {"CD14+ Monocyte"}
    assert written.loc[0, "gene"] == first


def test_counts_deseq2_classifier_and_gene_sets(qtbot, panel, count_files, tmp_path):
    sim, counts, sheet = count_files
    panel.open_counts(counts)
    _wait_idle(qtbot, panel)
    assert panel.prepared.data.orientation == "genes_x_samples"
    assert "No sample sheet" in panel.summary_label.text()
    panel.transpose()  # the other way round: 60 "samples" × 8 "genes"
    _wait_idle(qtbot, panel)
    assert panel.prepared.data.orientation == "samples_x_genes"
    assert panel.prepared.data.n_samples == 60
    panel.transpose()
    _wait_idle(qtbot, panel)
    assert panel.prepared.data.n_samples == 8
    panel.open_sheet(sheet)
    _wait_idle(qtbot, panel)
    assert panel.method_combo.currentData() == "deseq2"
    assert panel.case_combo.currentData() == "case"
    assert panel.control_combo.currentData() == "control"
    assert panel.covariate_list.count() == 1  # batch

    panel.run_de()
    _wait_idle(qtbot, panel)
    table = panel.current_table
    found = set(table.loc[table["padj"] < 0.05, "gene"])
    assert len(found & sim.planted) >= 7
    assert panel.rank_model.rowCount() == 60

    panel.run_classifier()
    _wait_idle(qtbot, panel)
    assert "AUROC" in panel.auroc_label.text() and panel.classifier.auroc > 0.8

    gmt = tmp_path / "sets.gmt"
    gmt.write_text("PLANTED\tplanted\t" + "\t".join(sorted(sim.planted)) + "\n")
    panel.run_enrichment(gmt)
    _wait_idle(qtbot, panel)
    assert panel.enrichment_model.rowCount() == 1
    assert "1 with adjusted p < 0.05" in panel.enrichment_label.text()


def test_non_integer_counts_offer_welch(qtbot, panel, count_files, tmp_path):
    sim, _, sheet = count_files
    normalised = tmp_path / "normalised.csv"
    (sim.data.values.T / 2.5).rename_axis("gene").to_csv(normalised)
    panel.open_counts(normalised, sheet)
    _wait_idle(qtbot, panel)
    assert panel.method_combo.currentData() == "welch"
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("deseq2"))
    assert panel.method_hint.isVisibleTo(panel)
    panel.run_de()
    _wait_idle(qtbot, panel)
    assert panel.offer_bar.isVisibleTo(panel)
    assert "integer counts" in panel.main_window.errors[-1]
    panel.offer_button.click()
    _wait_idle(qtbot, panel)
    assert panel.result is not None and panel.result.method == "welch"
    assert not panel.offer_bar.isVisibleTo(panel)


def test_bad_sheet_and_text_matrix_are_reported(qtbot, panel, count_files, tmp_path):
    _, counts, _ = count_files
    sheet = tmp_path / "wrong.csv"
    sheet.write_text("sample,condition\nA1,x\nA2,y\n")
    panel.open_counts(counts, sheet)
    _wait_idle(qtbot, panel)
    assert panel.prepared is None
    assert "Sample names do not match" in panel.main_window.errors[-1]
    text = tmp_path / "text.csv"
    text.write_text("gene,S1,S2\ng1,1,oops\n")
    panel.open_counts(text)
    _wait_idle(qtbot, panel)
    assert "holds text" in panel.main_window.errors[-1]


def test_cancel_deseq2(qtbot, panel, count_files):
    _, counts, sheet = count_files
    panel.open_counts(counts, sheet)
    _wait_idle(qtbot, panel)
    with qtbot.waitSignal(panel.engine.cancelled, timeout=30_000):
        panel.run_de()
        panel.cancel_button.click()
    _wait_idle(qtbot, panel)
    assert panel.result is None and panel.status_label.text() == "Cancelled"
