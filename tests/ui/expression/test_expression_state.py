"""The Gene expression area kept in a project (issue 17, part 1): real work on the shipped demo
and on a counts file, saved with the project store, read back and restored into a fresh panel,
which shows the same result, choices and data; files that moved or changed are named; junk is
refused line by line; ``None`` empties the area; and a round trip through the window."""

from __future__ import annotations

import pandas as pd
import pytest

from core.expression import stored as stored_module
from core.expression.simulate import simulate_counts, write_simulated
from core.project.areas import StoredArea
from core.project.store import ProjectState, read_project, save_project_as
from ui.expression.panel import NO_DATA, ExpressionPanel


@pytest.fixture
def make_panel(qtbot, engine, make_area_context):
    def make() -> ExpressionPanel:
        panel = ExpressionPanel(make_area_context(engine))
        qtbot.addWidget(panel)
        panel.resize(1300, 850)
        return panel

    return make


def _wait_idle(qtbot, panel, timeout=60_000):
    qtbot.waitUntil(lambda: not panel.busy(), timeout=timeout)


def _through_project(tmp_path, snapshot, name="p.drugdesk") -> StoredArea:
    path = tmp_path / name
    save_project_as(path, ProjectState(areas={"expression": snapshot}))
    return read_project(path).areas["expression"]


def _shown(panel) -> pd.DataFrame:
    return panel.results_tab.rows_shown()


def test_demo_analysis_reopens_as_it_was_without_recomputing(qtbot, make_panel, tmp_path):
    panel = make_panel()
    panel.open_demo()
    _wait_idle(qtbot, panel)
    panel.run_de()
    _wait_idle(qtbot, panel)
    tab = panel.results_tab
    tab.group_combo.setCurrentText("CD14+ Monocyte")
    tab.padj_spin.setValue(0.01)
    tab.fc_spin.setValue(1.5)
    qtbot.waitUntil(lambda: "significant" in tab.count_label.text())
    tab._on_thresholds_changed()
    tab.only_significant.setChecked(True)
    # Two genes chosen among those shown (significant ones), the second picked in the plots.
    top, third = (tab.gene_at(tab.results_model.source_row(row)) for row in (0, 2))
    assert tab.choose_genes([third, top, "NOTAGENE"], current=third) == ["NOTAGENE"]
    with qtbot.waitSignal(panel.state_changed, timeout=2000):
        panel.tabs.setCurrentIndex(3)

    snapshot = panel.area_state()
    campaign = snapshot.state["campaign"]
    assert campaign["datasets"] == ["PBMC 68k reduced (scanpy demo)"]
    assert campaign["contrast"] == "CD14+ Monocyte vs rest"
    assert campaign["n_genes_tested"] == 765
    assert campaign["n_significant"] == int(tab.current_table["significant"].sum()) > 0
    assert campaign["chosen_genes"] == sorted([top, third], key=_position_in(tab))
    assert (campaign["alpha"], campaign["lfc_threshold"]) == (0.01, 1.5)
    # "results": the group shown, a row per gene; every group of the comparison besides.
    results = snapshot.tables["results"]
    assert results.index.name == "gene" and results.index.is_unique and len(results) == 765
    assert {"log2fc", "padj", "significant"} <= set(results.columns)
    assert set(results["group"]) == {"CD14+ Monocyte"}
    assert results["significant"].sum() == campaign["n_significant"]
    assert snapshot.tables["all_results"].shape[0] == 7650
    assert snapshot.tables["values"].shape == (765, 700)  # genes × cells: 4.3 MB, kept

    stored = _through_project(tmp_path, snapshot)
    assert stored.tables["results"].index.name == "gene"
    again = make_panel()
    changes = []
    again.state_changed.connect(lambda: changes.append(1))
    assert again.restore_area_state(stored) == []
    # The result is there at once, as saved: no comparison is run.
    assert again.result is not None and again.jobs.running("de") is None
    other = again.results_tab
    assert other.group_combo.currentText() == "CD14+ Monocyte"
    assert (other.padj_spin.value(), other.fc_spin.value()) == (0.01, 1.5)
    assert other.only_significant.isChecked()
    pd.testing.assert_frame_equal(_shown(again), _shown(panel))
    assert other.chosen_genes() == campaign["chosen_genes"]
    assert other.selected_gene() == third
    assert other.count_label.text() == tab.count_label.text()
    assert again.tabs.currentIndex() == 3
    assert again.ranking_tab.rank_model.rowCount() == panel.ranking_tab.rank_model.rowCount()
    # Then the data are read back from the project's copy (the heat map needs them).
    _wait_idle(qtbot, again)
    assert again.prepared is not None and again.prepared.data.n_samples == 700
    assert again.data_tab.condition_combo.currentText() == "bulk_labels"
    assert again.qc_tab.qc_model.rowCount() == 700
    assert other.top_heatmap.plot.titleLabel.text.startswith("Top ")
    assert again.source_label.text().startswith("PBMC 68k reduced (scanpy demo)")
    assert changes == []  # restoring is not a change to save
    assert again.area_state().state["campaign"] == campaign


def _position_in(tab):
    genes = tab.current_table["gene"].astype(str).tolist()
    return genes.index


@pytest.fixture
def counts_files(tmp_path):
    sim = simulate_counts(n_genes=60, n_de=8, fold_change=6.0, seed=12)
    counts, sheet = tmp_path / "counts.csv", tmp_path / "samples.csv"
    write_simulated(sim, counts, sheet)
    return counts, sheet


def _counts_analysis(qtbot, make_panel, counts, sheet) -> ExpressionPanel:
    panel = make_panel()
    panel.open_counts(counts, sheet)
    _wait_idle(qtbot, panel)
    panel.data_tab.method_combo.setCurrentIndex(panel.data_tab.method_combo.findData("welch"))
    panel.run_de()
    _wait_idle(qtbot, panel)
    return panel


def test_a_counts_file_that_moved_is_named_and_the_projects_copy_is_shown(
    qtbot, make_panel, counts_files, tmp_path
):
    counts, sheet = counts_files
    panel = _counts_analysis(qtbot, make_panel, counts, sheet)
    snapshot = panel.area_state()
    source = snapshot.state["source"]
    assert (
        source["counts"]["path"] == str(counts.resolve()) and len(source["counts"]["sha256"]) == 64
    )
    assert snapshot.state["settings"]["method"] == "welch"
    assert snapshot.state["campaign"]["datasets"] == ["counts.csv"]
    assert "condition" in snapshot.tables["samples"].columns
    stored = _through_project(tmp_path, snapshot)

    counts.unlink()
    again = make_panel()
    problems = again.restore_area_state(stored)
    assert len(problems) == 1 and str(counts.resolve()) in problems[0]
    assert "no longer there" in problems[0] and "as the project saved them" in problems[0]
    pd.testing.assert_frame_equal(_shown(again), _shown(panel))
    _wait_idle(qtbot, again)
    assert again.prepared is not None and again.prepared.data.n_genes == 60
    assert again.data_tab.method_combo.currentData() == "welch"
    assert again.data_tab.case_combo.currentText() == panel.data_tab.case_combo.currentText()


def test_a_large_matrix_is_kept_as_its_file_only(
    qtbot, make_panel, counts_files, tmp_path, monkeypatch
):
    monkeypatch.setattr(stored_module, "MAX_STORED_MATRIX_BYTES", 100)
    counts, sheet = counts_files
    panel = _counts_analysis(qtbot, make_panel, counts, sheet)
    snapshot = panel.area_state()
    assert "values" not in snapshot.tables
    stored = _through_project(tmp_path, snapshot)

    # Unchanged: the file is read again, the result shown as saved.
    again = make_panel()
    assert again.restore_area_state(stored) == []
    _wait_idle(qtbot, again)
    assert again.prepared is not None and again.prepared.data.n_genes == 60
    pd.testing.assert_frame_equal(_shown(again), _shown(panel))

    # Changed: the result is shown as saved, the data are not read.
    counts.write_text(counts.read_text().replace(",", ",1", 1))
    third = make_panel()
    problems = third.restore_area_state(stored)
    assert problems == [
        f"{counts.resolve()} has changed since the project was saved: results shown as saved; "
        "open the file again to recompute"
    ]
    assert not third.busy() and third.prepared is None
    pd.testing.assert_frame_equal(_shown(third), _shown(panel))
    # What the project holds survives a save of the area that could not read its file.
    kept = third.area_state()
    assert kept.state["source"] == snapshot.state["source"]
    assert kept.state["settings"] == snapshot.state["settings"]
    assert kept.state["campaign"]["datasets"] == ["counts.csv"]


def test_junk_gives_lines_and_none_empties_the_area(qtbot, make_panel, counts_files, tmp_path):
    counts, sheet = counts_files
    panel = _counts_analysis(qtbot, make_panel, counts, sheet)
    junk = [
        StoredArea("expression", 1, "", {"source": 5, "view": [1], "result": {"method": "x"}}, {}),
        StoredArea(
            "expression",
            1,
            "",
            {
                "source": {"demo": "yes", "counts_path": 7},
                "data": "junk",
                "result": {"method": "welch", "condition": "c", "groups": "g"},
                "view": {"padj": "high", "lfc": float("nan"), "chosen_genes": [1, None], "tab": 99},
            },
            {
                "results": pd.DataFrame(
                    {"log2fc": ["a"], "padj": [1], "pvalue": [1], "base_mean": [1]}
                )
            },
        ),
        StoredArea(
            "expression",
            1,
            "",
            {
                "source": {"counts_path": str(counts), "counts": {"path": 3}},
                "settings": 4,
                "result": None,
            },
            {"values": pd.DataFrame({"s1": ["x"]}), "samples": "no"},
        ),
        StoredArea("expression", 1, "", ["not", "a", "dict"], None),  # type: ignore[arg-type]
    ]
    for stored in junk:
        problems = panel.restore_area_state(stored)
        assert all(isinstance(line, str) and line for line in problems)
        _wait_idle(qtbot, panel)
    assert panel.restore_area_state(junk[0]) == [
        "the differential expression results could not be restored (the stored results table "
        "is missing)"
    ]
    assert "not numbers" in panel.restore_area_state(junk[1])[0]
    problems = panel.restore_area_state(junk[2])
    assert problems == [
        "the project's copy of the expression data is damaged (the stored matrix holds values "
        'that are not numbers (Unable to parse string "x" at position 0))',
        "the project names no file: results shown as saved; open the file again to recompute",
    ]
    _wait_idle(qtbot, panel)

    assert panel.restore_area_state(None) == []
    assert panel.prepared is None and panel.result is None
    assert panel.results_tab.results_model.rowCount() == 0
    assert panel.data_tab.condition_combo.count() == 0
    assert panel.qc_tab.qc_model.rowCount() == 0
    assert panel.source_label.text() == NO_DATA
    empty = panel.area_state()
    assert empty.tables == {}
    assert empty.state["campaign"] == {
        "datasets": [], "contrast": "", "n_genes_tested": 0, "n_significant": 0,
        "chosen_genes": [], "alpha": 0.05, "lfc_threshold": 1.0,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Through the window


def test_the_window_saves_and_reopens_the_area(qtbot, make_window, counts_files, tmp_path):
    counts, sheet = counts_files
    window = make_window()
    path = tmp_path / "campaign.drugdesk"
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        assert window.project.save_as(path) is not None
    area = window.show_area("expression")
    area.open_counts(counts, sheet)
    _wait_idle(qtbot, area)
    area.data_tab.method_combo.setCurrentIndex(area.data_tab.method_combo.findData("welch"))
    area.run_de()
    _wait_idle(qtbot, area)
    first = area.results_tab.gene_at(0)
    area.results_tab.choose_genes([first])
    assert window.project.is_dirty()
    assert window.project.flush()
    assert read_project(path).areas["expression"].state["campaign"]["chosen_genes"] == [first]

    other = make_window()
    with qtbot.waitSignal(other.project.project_changed, timeout=30_000):
        other.project.open_project(path)
    qtbot.waitUntil(lambda: other.project.path == path, timeout=30_000)
    again = other.show_area("expression")
    assert again is not area and again.results_tab.chosen_genes() == [first]
    pd.testing.assert_frame_equal(_shown(again), _shown(area))
    _wait_idle(qtbot, again)
    assert again.prepared is not None and again.data_tab.method_combo.currentData() == "welch"
    assert not other.project.is_dirty()
