"""The Gene expression panel: demo and counts loading, DE runs on the engine, linked plots and
table, live thresholds, ranking, export, and bad input shown to the user."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from core.expression.simulate import simulate_counts, write_simulated
from core.jobs import LONG_LANE, RUNNING, check_cancelled
from ui.expression.panel import ALL_VS_REST, ExpressionPanel
from ui.expression.plots import DOWN_CODE, UP_CODE


@pytest.fixture
def panel(qtbot, engine, make_area_context):
    panel = ExpressionPanel(make_area_context(engine))
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
    assert panel.data_tab.condition_combo.currentText() == "bulk_labels"
    assert panel.data_tab.case_combo.currentText() == ALL_VS_REST
    assert panel.data_tab.method_combo.currentData() == "welch"
    assert panel.qc_tab.qc_model.rowCount() == 700

    panel.run_de()
    _wait_idle(qtbot, panel)
    assert (
        panel.results_tab.group_combo.count() == 10
        and panel.results_tab.group_combo.isVisibleTo(panel)
    )
    assert panel.tabs.currentIndex() == 2
    panel.results_tab.group_combo.setCurrentText("CD14+ Monocyte")
    first = panel.results_tab.results_model.index(
        0, panel.results_tab.results_model.column_index("gene")
    ).data()
    assert first in {"FTL", "LYZ", "S100A9", "AIF1", "TYROBP", "FCER1G", "CST3", "LST1"}
    _check_results_read_at_a_glance(qtbot, panel)

    # Live thresholds: a stricter fold change leaves fewer significant genes.
    before = int(panel.current_table["significant"].sum())
    panel.results_tab.fc_spin.setValue(2.5)
    qtbot.waitUntil(lambda: int(panel.current_table["significant"].sum()) < before, timeout=3000)
    after = int(panel.current_table["significant"].sum())
    assert f"{after} significant" in panel.results_tab.count_label.text()
    coloured = len(panel.results_tab.volcano.layers[UP_CODE].data) + len(
        panel.results_tab.volcano.layers[DOWN_CODE].data
    )
    assert coloured == after
    panel.results_tab.only_significant.setChecked(True)
    assert panel.results_tab.results_model.rowCount() == after

    # A click on a volcano point selects the row; a row selects the point in both plots.
    panel.results_tab.only_significant.setChecked(False)
    position = int(panel.current_table.index[panel.current_table["gene"] == "FTL"][0])
    panel.results_tab.volcano.gene_clicked.emit(position)
    assert panel.selected_gene() == "FTL"
    row = panel.results_tab.results_view.currentIndex().row()
    assert panel.results_tab.results_model.source_row(row) == position
    assert panel.results_tab.ma_plot.label.textItem.toPlainText() == "FTL"
    panel.results_tab.results_view.selectRow(1)
    assert panel.selected_gene() == panel.results_tab.results_model.index(1, 0).data()

    out = tmp_path / "monocytes.csv"
    panel.export_results(out)
    _wait_idle(qtbot, panel)
    assert panel.notifier.statuses[-1] == f"Wrote {out}"  # the window's status bar
    written = pd.read_csv(out)
    assert len(written) == panel.results_tab.results_model.rowCount()
    assert set(written["group"]) == {"CD14+ Monocyte"}
    assert written.loc[0, "gene"] == first


def _check_results_read_at_a_glance(qtbot, panel):
    """The Results tab as a 1366×768 screen gives it (1185×688): named points, a tall table,
    every heat-map group named, axis titles that say what they measure."""
    panel.resize(1185, 688)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(50)  # labels are placed once the plot has its pixel size
    panel.results_tab.volcano.layout_top_labels()
    table = panel.current_table
    passing = table[table["significant"]].sort_values("padj", kind="stable")
    top = set(passing["gene"].head(10))
    shown = panel.results_tab.volcano.shown_top_labels()
    assert len(shown) >= 6 and set(shown) <= top
    rects = panel.results_tab.volcano.top_label_rects()
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])
    axis = panel.results_tab.volcano.getPlotItem()
    assert axis.getAxis("left").labelText == "−log10 adjusted p"
    assert axis.getAxis("bottom").labelText == "log2 fold change (CD14+ Monocyte / rest)"

    view = panel.results_tab.results_view
    assert view.viewport().height() >= 10 * view.verticalHeader().defaultSectionSize()

    legend = panel.results_tab.heatmap_legend.text()
    for code, text in (("&nbsp;", " "), ("&#8725;", "/"), ("&#8209;", "-")):
        legend = legend.replace(code, text)
    groups = set(panel.prepared.data.samples["bulk_labels"].astype(str))
    assert len(groups) == 10 and all(group in legend for group in groups)
    assert panel.results_tab.top_heatmap.strip.isVisible()
    assert (
        "grouped by bulk_labels" in panel.results_tab.top_heatmap.plot.getAxis("bottom").labelText
    )

    assert "Genes ranked: CD14+ Monocyte vs rest" in panel.ranking_tab.rank_title.text()
    panel.results_tab.group_combo.setCurrentText("CD19+ B")
    assert "Genes ranked: CD19+ B vs rest" in panel.ranking_tab.rank_title.text()
    panel.results_tab.group_combo.setCurrentText("CD14+ Monocyte")


def test_panel_fits_the_screen_budget(qtbot, panel, count_files):
    """1280×720 logical pixels (1920×1080 at 150 %) less the sidebar: 800 × 540 at most, before
    and after a comparison is shown."""
    assert panel.minimumSizeHint().width() <= 800
    assert panel.minimumSizeHint().height() <= 540
    _, counts, sheet = count_files
    panel.open_counts(counts, sheet)
    _wait_idle(qtbot, panel)
    panel.data_tab.method_combo.setCurrentIndex(panel.data_tab.method_combo.findData("welch"))
    panel.run_de()
    _wait_idle(qtbot, panel)
    for index in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(index)
        hint = panel.minimumSizeHint()
        assert hint.width() <= 800 and hint.height() <= 540, (panel.tabs.tabText(index), hint)


def test_counts_deseq2_classifier_and_gene_sets(qtbot, panel, count_files, tmp_path):
    sim, counts, sheet = count_files
    panel.open_counts(counts)
    _wait_idle(qtbot, panel)
    assert panel.prepared.data.orientation == "genes_x_samples"
    assert "No sample sheet" in panel.data_tab.summary_label.text()
    panel.transpose()  # the other way round: 60 "samples" × 8 "genes"
    _wait_idle(qtbot, panel)
    assert panel.prepared.data.orientation == "samples_x_genes"
    assert panel.prepared.data.n_samples == 60
    panel.transpose()
    _wait_idle(qtbot, panel)
    assert panel.prepared.data.n_samples == 8
    panel.open_sheet(sheet)
    _wait_idle(qtbot, panel)
    assert panel.data_tab.method_combo.currentData() == "deseq2"
    assert panel.data_tab.case_combo.currentData() == "case"
    assert panel.data_tab.control_combo.currentData() == "control"
    assert panel.data_tab.covariate_list.count() == 1  # batch

    panel.run_de()
    _wait_idle(qtbot, panel)
    table = panel.current_table
    found = set(table.loc[table["padj"] < 0.05, "gene"])
    assert len(found & sim.planted) >= 7
    assert panel.ranking_tab.rank_model.rowCount() == 60
    assert "Genes ranked: case vs control" in panel.ranking_tab.rank_title.text()
    # Eight samples: their names under the heat map, and both groups named in its key.
    assert (
        "case" in panel.results_tab.heatmap_legend.text()
        and "control" in panel.results_tab.heatmap_legend.text()
    )

    panel.run_classifier()
    _wait_idle(qtbot, panel)
    assert (
        "AUROC" in panel.ranking_tab.auroc_label.text() and panel.ranking_tab.classifier.auroc > 0.8
    )

    gmt = tmp_path / "sets.gmt"
    gmt.write_text("PLANTED\tplanted\t" + "\t".join(sorted(sim.planted)) + "\n")
    panel.run_enrichment(gmt)
    _wait_idle(qtbot, panel)
    assert panel.ranking_tab.enrichment_model.rowCount() == 1
    assert "1 with adjusted p < 0.05" in panel.ranking_tab.enrichment_label.text()


def test_non_integer_counts_offer_welch(qtbot, panel, count_files, tmp_path):
    sim, _, sheet = count_files
    normalised = tmp_path / "normalised.csv"
    (sim.data.values.T / 2.5).rename_axis("gene").to_csv(normalised)
    panel.open_counts(normalised, sheet)
    _wait_idle(qtbot, panel)
    assert panel.data_tab.method_combo.currentData() == "welch"
    panel.data_tab.method_combo.setCurrentIndex(panel.data_tab.method_combo.findData("deseq2"))
    assert panel.data_tab.method_hint.isVisibleTo(panel)
    panel.run_de()
    _wait_idle(qtbot, panel)
    assert panel.data_tab.offer_bar.isVisibleTo(panel)
    assert "integer counts" in panel.notifier.errors[-1]
    panel.data_tab.offer_button.click()
    _wait_idle(qtbot, panel)
    assert panel.result is not None and panel.result.method == "welch"
    assert not panel.data_tab.offer_bar.isVisibleTo(panel)


def test_bad_sheet_and_text_matrix_are_reported(qtbot, panel, count_files, tmp_path):
    _, counts, _ = count_files
    sheet = tmp_path / "wrong.csv"
    sheet.write_text("sample,condition\nA1,x\nA2,y\n")
    panel.open_counts(counts, sheet)
    _wait_idle(qtbot, panel)
    assert panel.prepared is None
    assert "Sample names do not match" in panel.notifier.errors[-1]
    text = tmp_path / "text.csv"
    text.write_text("gene,S1,S2\ng1,1,oops\n")
    panel.open_counts(text)
    _wait_idle(qtbot, panel)
    assert "holds text" in panel.notifier.errors[-1]


def test_cancel_deseq2(qtbot, panel, count_files):
    _, counts, sheet = count_files
    panel.open_counts(counts, sheet)
    _wait_idle(qtbot, panel)
    job = panel.run_de()
    with qtbot.waitSignal(job.cancelled, timeout=30_000):
        panel.cancel_button.click()
    _wait_idle(qtbot, panel)
    assert panel.result is None and panel.status_label.text() == "Cancelled"


# ----------------------------------------------------------------------------------------------
# Issue 16: the panel listens to its own job handles only


def _another_areas_result(*, progress, is_cancelled):
    return "a table for another area"


def _another_areas_failure(*, progress, is_cancelled):
    raise ValueError("another area's file is broken")


@pytest.fixture
def gated_load(monkeypatch):
    """Loading waits for the returned event, so other jobs can end while it runs."""
    from core.expression import qc

    real = qc.prepare_expression
    release = threading.Event()

    def gated(*args, progress, is_cancelled):
        while not release.wait(0.01):
            check_cancelled(is_cancelled)
        return real(*args, progress=progress, is_cancelled=is_cancelled)

    monkeypatch.setattr(qc, "prepare_expression", gated)
    yield release
    release.set()


def test_jobs_of_other_areas_leave_the_panel_alone(qtbot, panel, engine, count_files, gated_load):
    _, counts, sheet = count_files
    own = panel.open_counts(counts, sheet)
    other = engine.submit(_another_areas_result, title="Other area", lane=LONG_LANE)
    with qtbot.waitSignal(other.finished, timeout=10_000):
        pass
    broken = engine.submit(_another_areas_failure, title="Other area", lane=LONG_LANE)
    with qtbot.waitSignal(broken.failed, timeout=10_000):
        pass
    assert panel.busy() and panel.prepared is None
    assert panel.status_label.text() == "Working…" and panel.notifier.errors == []
    gated_load.set()
    with qtbot.waitSignal(own.finished, timeout=60_000):
        pass
    assert not panel.busy() and panel.prepared is not None
    assert panel.status_label.text().startswith("Loaded")


def test_a_superseded_load_is_dropped_quietly(qtbot, panel, count_files, gated_load):
    _, counts, sheet = count_files
    first = panel.open_counts(counts)
    qtbot.waitUntil(lambda: first.state == RUNNING, timeout=10_000)
    second = panel.open_counts(counts, sheet)  # the engine cancels the first (same key)
    with qtbot.waitSignal(first.cancelled, timeout=10_000):
        pass
    assert panel.busy() and panel.status_label.text() == "Working…"
    gated_load.set()
    with qtbot.waitSignal(second.finished, timeout=60_000):
        pass
    # The second load's data (with the sheet's condition column), not the first's.
    assert not panel.busy() and "condition" in panel.prepared.data.samples.columns
