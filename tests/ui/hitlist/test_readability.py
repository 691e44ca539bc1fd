"""Hit-list tools read at a glance and fit the side panel (issue 13): search results beside the
name, named query molecules, integer clusters, formulas with subscripts, invalid rows that say
why, CNS MPO on its 0–6 scale, curves edited by dragging, a chart that follows the table's filter,
and the ADMET tab grouped with full names and percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from core.hitlist.presets import PUBLISHED_SCALES
from ui.hitlist.admet_view import SORT_ROLE, UNITS_ROLE
from ui.hitlist.tools import HitListTools
from ui.library.panel import formula_text
from ui.tables.dataframe_model import PROBLEM_ROLE
from ui.tables.structure_delegate import PROBLEM_COLOR

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
SIDE_PANEL_WIDTH = 300
"""The hit-list tools get at most this much width beside the table (issue 13)."""


@pytest.fixture
def setup(main_window, example_panel):
    tools = example_panel.side_panel
    assert isinstance(tools, HitListTools)
    return main_window, example_panel, tools


def finished(qtbot, handle):
    """Wait until the panel's job ``handle`` has finished (and the panel has shown its result)."""
    qtbot.waitUntil(handle.is_done, timeout=60_000)
    assert handle.state == "finished", handle.error


def wait_for_jobs(qtbot, tools):
    qtbot.waitUntil(lambda: not tools.is_busy(), timeout=60_000)


def titles(panel) -> list[str]:
    return [spec.title for spec in panel.model.columns()]


def cell(panel, key, position, role=Qt.ItemDataRole.DisplayRole):
    column = panel.model.column_index(key)
    return panel.model.data(panel.model.index(panel.model.view_row(position), column), role)


# ----------------------------------------------------------------------------------------------
# Fit


def test_the_tools_fit_a_300_pixel_side_panel_without_clipping(qtbot, setup):
    _window, panel, tools = setup
    hint = tools.minimumSizeHint()
    assert hint.width() <= SIDE_PANEL_WIDTH and hint.height() <= 540
    total = sum(panel.splitter.sizes())
    panel.splitter.setSizes([total - SIDE_PANEL_WIDTH, SIDE_PANEL_WIDTH])
    qtbot.waitUntil(lambda: tools.width() <= SIDE_PANEL_WIDTH + 2, timeout=3000)
    for index in (0, 1):  # Rank and Find scroll vertically, never horizontally
        tools.setCurrentIndex(index)
        area = tools.currentWidget()
        page = area.widget()
        qtbot.waitUntil(lambda a=area: a.viewport().width() > 0, timeout=3000)
        assert page.minimumSizeHint().width() <= area.viewport().width(), tools.tabText(index)
    # Every Rank tab button shows its whole text.
    tools.setCurrentIndex(0)
    for button in (tools.score_button, *tools.findChildren(type(tools.score_button))):
        if button.isVisibleTo(tools):
            assert button.width() >= button.minimumSizeHint().width(), button.text()


# ----------------------------------------------------------------------------------------------
# Searches


def test_similarity_sits_beside_the_name_and_the_chip_names_the_query(qtbot, setup):
    _window, panel, tools = setup
    panel.view.verticalScrollBar().setValue(panel.view.verticalScrollBar().maximum())
    tools.find_tab.query_edit.setText(ASPIRIN)
    tools.find_tab.top_k.setValue(5)
    tools.similarity_search()
    qtbot.waitUntil(lambda: "similarity" in panel.library.table.columns, timeout=60_000)
    wait_for_jobs(qtbot, tools)
    assert titles(panel)[:3] == ["Structure", "Name", "Similarity"]
    assert panel.filter_bar.search_label.text() == "Similar to aspirin: 5"
    assert "aspirin" in tools.find_tab.find_status.text()
    assert panel.view.verticalScrollBar().value() == 0  # a new result is read from its top
    # The newest search comes first beside the name.
    tools.cluster()
    qtbot.waitUntil(lambda: "cluster" in panel.library.table.columns, timeout=60_000)
    wait_for_jobs(qtbot, tools)
    assert titles(panel)[:5] == ["Structure", "Name", "Cluster", "Cluster size", "Similarity"]


def test_a_drawn_query_is_named_as_the_molecule_panel_names_it(qtbot, setup):
    _window, panel, tools = setup
    tools.query_smiles = lambda: "CC(=O)Nc1ccc(OC(C)=O)cc1"  # not in the library
    tools.query_name = lambda: "acetaminophen acetate"
    tools.find_tab.query_edit.clear()
    tools.similarity_search()
    qtbot.waitUntil(lambda: panel.filter_bar.search_label.isVisible(), timeout=60_000)
    assert panel.filter_bar.search_label.text().startswith("Similar to acetaminophen acetate")


def test_clusters_are_whole_numbers_from_one_and_sorted(qtbot, setup):
    _window, panel, tools = setup
    tools.cluster()
    qtbot.waitUntil(lambda: "cluster" in panel.library.table.columns, timeout=60_000)
    table = panel.library.table
    assert str(table["cluster"].dtype) == "Int64" and str(table["cluster_size"].dtype) == "Int64"
    valid = table["valid"].to_numpy(dtype=bool)
    assert table.loc[valid, "cluster"].min() == 1
    assert table.loc[~valid, "cluster"].isna().all()
    first = int(panel.model.visible_positions()[0])
    assert cell(panel, "cluster", first) == "1"  # not "1.00"
    largest = table["cluster_size"].max()
    assert cell(panel, "cluster_size", first) == str(largest)
    # Cluster sizes count the cluster's members.
    counts = table.loc[valid, "cluster"].value_counts()
    assert (
        table.loc[valid, "cluster_size"].to_numpy() == table.loc[valid, "cluster"].map(counts)
    ).all()


def test_scaffolds_are_drawn_grouped_and_counted(qtbot, setup):
    _window, panel, tools = setup
    tools.scaffolds()
    qtbot.waitUntil(lambda: "scaffold" in panel.library.table.columns, timeout=60_000)
    assert titles(panel)[:5] == ["Structure", "Name", "Scaffold", "Scaffold group", "Scaffold size"]
    assert panel.model.columns()[2].kind == "structure"  # drawn, not a SMILES
    shown = panel.visible_table()
    groups = shown["scaffold_group"].dropna().astype(int).tolist()
    assert groups[0] == 1 and groups == sorted(groups)  # contiguous groups, the largest first
    assert shown["scaffold_size"].iloc[0] == shown["scaffold_size"].max()
    assert "scaffolds among" in tools.find_tab.find_status.text()


# ----------------------------------------------------------------------------------------------
# Table cells


def test_formulas_show_subscripts(qtbot, setup):
    _window, panel, _tools = setup
    aspirin = int(np.flatnonzero(panel.library.table["name"].to_numpy() == "aspirin")[0])
    assert cell(panel, "formula", aspirin) == "C₉H₈O₄"
    assert panel.library.table["formula"].iat[aspirin] == "C9H8O4"  # stored and exported as is
    assert formula_text("C5H14NO+") == "C₅H₁₄NO⁺"
    assert formula_text("C2H8N2+2") == "C₂H₈N₂²⁺"
    assert formula_text("C2H3O2-") == "C₂H₃O₂⁻"


def test_an_invalid_row_says_why_in_its_structure_cell(qtbot, setup):
    _window, panel, _tools = setup
    table = panel.library.table
    invalid = int(np.flatnonzero(~table["valid"].to_numpy(dtype=bool))[0])
    valid = int(np.flatnonzero(table["valid"].to_numpy(dtype=bool))[0])
    problem = cell(panel, "__structure__", invalid, PROBLEM_ROLE)
    assert problem == table["error"].iat[invalid] and problem
    assert cell(panel, "__structure__", valid, PROBLEM_ROLE) is None

    def painted(position) -> QImage:
        index = panel.model.index(panel.model.view_row(position), 0)
        option = QStyleOptionViewItem()
        option.rect = QRect(0, 0, 164, 114)
        option.font = panel.view.font()
        image = QImage(164, 114, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        panel.delegate.paint(painter, option, QModelIndex(index))
        painter.end()
        return image

    def problem_pixels(image: QImage) -> int:
        return sum(
            1
            for x in range(0, image.width(), 2)
            for y in range(0, image.height(), 2)
            if QColor(image.pixel(x, y)).red() > 100
            and QColor(image.pixel(x, y)).green() < 90
            and QColor(image.pixel(x, y)).blue() < 90
        )

    assert PROBLEM_COLOR.red() > 100
    assert problem_pixels(painted(invalid)) > 20  # the problem, written in red
    assert problem_pixels(painted(valid)) < problem_pixels(painted(invalid)) / 2


# ----------------------------------------------------------------------------------------------
# Rank


def test_cns_mpo_shows_its_published_0_to_6_value_beside_the_score(qtbot, setup):
    _window, panel, tools = setup
    tools.preset_box.setCurrentIndex(tools.preset_box.findData("cns"))
    assert (
        tools.rank_tab.scale_label.isVisibleTo(tools) and "≥ 4" in tools.rank_tab.scale_label.text()
    )
    finished(qtbot, tools.score())
    table = panel.library.table
    scale = PUBLISHED_SCALES["cns"]
    np.testing.assert_allclose(table["cns_mpo"], 6 * table["score"], equal_nan=True)
    order = titles(panel)
    assert order[order.index("Score") + 1] == "CNS MPO (0–6)"
    ranked = table["rank"].notna().to_numpy()
    desirable = int((table.loc[ranked, "cns_mpo"] >= 4).sum())
    assert f"{desirable} of {int(ranked.sum())} ranked reach CNS MPO ≥ 4" in (
        tools.rank_status.text()
    )
    assert "≥ 4" in panel.model.headerData(
        order.index(scale.title), Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    # Another profile has no published value: the column goes.
    tools.preset_box.setCurrentIndex(tools.preset_box.findData("oral"))
    assert tools.rerank()
    assert "cns_mpo" not in panel.library.table.columns
    assert not tools.rank_tab.scale_label.isVisibleTo(tools)


def test_a_custom_curve_is_edited_by_dragging_its_points(qtbot, setup):
    _window, _panel, tools = setup
    tools.preset_box.setCurrentIndex(tools.preset_box.findData("cns"))
    mw_row = next(
        i for i, c in enumerate(tools.profile.criteria) if c.column == "mw"
    )  # MW: 1 at ≤ 360, 0 at ≥ 500
    tools.rank_tab.criteria_list.setCurrentRow(mw_row)
    editor = tools.rank_tab.editor
    assert editor.shape_box.currentData() == "piecewise"
    assert not editor.findChildren(
        type(tools.find_tab.query_edit), options=Qt.FindChildOption.FindDirectChildrenOnly
    )
    assert editor.curve.x_title == "MW (Da)"
    assert editor.curve.points == [(360.0, 1.0), (500.0, 0.0)]
    # The second point, typed exactly (the boxes follow the selected point).
    editor.curve.select(1)
    editor.point_x.setValue(450.0)
    criterion = tools.profile.criteria[mw_row]
    assert criterion.points == ((360.0, 1.0), (450.0, 0.0))
    assert tools.rank_tab.criteria_list.item(mw_row).text() == "MW (Da): 1 at 360, 0 at 450"
    assert tools.preset_box.currentData() == "custom"
    assert not tools.rank_tab.scale_label.isVisibleTo(
        tools
    )  # an edited CNS MPO is not the published one
    # A drag on the curve: the first point down to 0.5.
    curve = editor.curve
    start = curve._to_screen(360.0, 1.0).toPoint()
    target = curve._to_screen(360.0, 0.5).toPoint()
    qtbot.mousePress(curve, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(curve, target)
    qtbot.mouseRelease(curve, Qt.MouseButton.LeftButton, pos=target)
    first = tools.profile.criteria[mw_row].points[0]
    assert first[1] == pytest.approx(0.5, abs=0.05)
    assert editor.point_d.value() == pytest.approx(first[1])


# ----------------------------------------------------------------------------------------------
# Chart


def test_the_chart_follows_the_table_filter_with_units_and_a_colour_bar(qtbot, setup):
    _window, panel, tools = setup
    finished(qtbot, tools.score())
    chart = tools.chart
    tools.setCurrentWidget(chart)
    qtbot.waitUntil(lambda: len(chart._positions) == panel.library.n_valid, timeout=5000)
    panel.filter_bar.text_edit.setText("ol")  # paracetamol, salbutamol, …
    qtbot.waitUntil(lambda: panel.model.rowCount() < panel.model.total_rows(), timeout=5000)
    shown = set(panel.model.visible_positions().tolist())
    qtbot.waitUntil(lambda: set(chart._positions.tolist()) <= shown, timeout=5000)
    valid = panel.library.table["valid"].to_numpy(dtype=bool)
    assert set(chart._positions.tolist()) == {p for p in shown if valid[p]}
    assert f"the {len(shown)} molecules the table shows" in chart.note.text()
    plot = chart.scatter_widget.getPlotItem()
    assert plot.getAxis("bottom").labelText == "MW (Da)"
    assert plot.getAxis("left").labelText == "cLogP"
    assert chart.colour_box.currentData() == "score"
    assert chart.colour_bar.isVisible()
    assert chart.colour_bar.getAxis("bottom").labelText == "Score (0–1)"
    # Values between 0 and 1 are shown as they are (not rescaled to 0–1000).
    chart.histogram_box.setCurrentIndex(chart.histogram_box.findData("qed"))
    axis = chart.histogram_widget.getPlotItem().getAxis("bottom")
    assert axis.labelText == "QED (0–1)" and axis.autoSIPrefixScale == 1.0
    panel.filter_bar.clear()
    qtbot.waitUntil(lambda: len(chart._positions) == panel.library.n_valid, timeout=5000)


# ----------------------------------------------------------------------------------------------
# ADMET


def test_admet_tab_groups_physicochemical_values_with_drugbank_percentiles(qtbot, setup):
    pytest.importorskip("admet_ai")
    from scipy.stats import percentileofscore

    from core.hitlist.admet import package_dir

    _window, panel, tools = setup
    aspirin = int(np.flatnonzero(panel.library.table["name"].to_numpy() == "aspirin")[0])
    panel.select_positions([aspirin])
    tools.setCurrentWidget(tools.admet_view)
    view = tools.admet_view
    assert view.tree.topLevelItemCount() == 1
    group = view.tree.topLevelItem(0)
    assert group.text(0) == "Physicochemical"
    rows = {item.text(0): item for item in view.endpoint_items()}
    assert {"Molecular Weight", "Topological Polar Surface Area (TPSA)"} <= set(rows)
    weight = rows["Molecular Weight"]
    assert (weight.text(1), weight.data(1, UNITS_ROLE)) == ("180.16", "Da")
    reference = pd.read_csv(package_dir() / "resources" / "data" / "drugbank_approved.csv")
    expected = percentileofscore(
        reference["molecular_weight"], panel.library.table["mw"].iat[aspirin]
    )
    assert weight.data(2, SORT_ROLE) == pytest.approx(expected)
    assert rows["Topological Polar Surface Area (TPSA)"].data(1, UNITS_ROLE) == "Å²"
    assert "Score library" in view.title.text()
    # Sorting by value orders the rows inside their group.
    view.tree.sortItems(1, Qt.SortOrder.DescendingOrder)
    values = [item.data(1, SORT_ROLE) for item in view.endpoint_items()]
    assert values == sorted(values, reverse=True)
