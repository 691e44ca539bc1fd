"""A gene of the Expression results (right click in the volcano plot or the table) looked up in
Proteins: the Results tab's menu, the plot's right click on a point, and the panel following
the link through ``AreaContext.links`` (a recorder here)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QPointF, Qt

from core.expression.simulate import simulate_counts, write_simulated
from ui.expression.panel import ExpressionPanel


class LinksRecorder:
    """A stand-in of ``ui.workbench.AreaLinks``: keeps ``(link, *arguments)`` of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, link: str):
        if link.startswith("_"):
            raise AttributeError(link)
        return lambda *args: self.calls.append((link, *args))


class RightClick:
    """What pyqtgraph hands a scatter item on a right click at ``pos`` (its coordinates)."""

    def __init__(self, pos: QPointF) -> None:
        self._pos = pos
        self.accepted = False

    def button(self):
        return Qt.MouseButton.RightButton

    def pos(self) -> QPointF:
        return self._pos

    def screenPos(self) -> QPointF:
        return QPointF(20, 20)

    def accept(self) -> None:
        self.accepted = True

    def ignore(self) -> None:
        pass


@pytest.fixture
def links():
    return LinksRecorder()


@pytest.fixture
def panel(qtbot, engine, make_area_context, links, tmp_path):
    sim = simulate_counts(n_genes=60, n_de=8, fold_change=6.0, seed=12)
    counts, sheet = tmp_path / "counts.csv", tmp_path / "samples.csv"
    write_simulated(sim, counts, sheet)
    panel = ExpressionPanel(dataclasses.replace(make_area_context(engine), links=links))
    qtbot.addWidget(panel)
    panel.resize(1300, 850)
    panel.show()
    qtbot.waitExposed(panel)
    panel.open_counts(counts, sheet)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)
    panel.run_de()
    qtbot.waitUntil(lambda: not panel.busy() and panel.current_table is not None, timeout=60_000)
    return panel


def test_a_genes_menu_looks_it_up_in_proteins(panel, links):
    results = panel.results_tab
    gene = results.gene_at(5)
    menu = results.gene_menu(5)
    (action,) = menu.actions()
    assert action.text() == f"Look up target in Proteins ({gene})"
    assert results.selected_gene() == gene  # the gene right-clicked is the one selected
    action.trigger()
    assert links.calls == [("look_up_target", gene)]
    assert gene in panel.status_label.text()


def test_a_right_click_on_a_volcano_point_offers_the_lookup(panel, qtbot, links):
    results = panel.results_tab
    # The most significant gene: its point stands alone at the top of the volcano.
    layer, i = max(
        ((layer, i) for layer in results.volcano.layers.values() for i in range(len(layer.data))),
        key=lambda pair: pair[0].data["y"][pair[1]],
    )
    position = int(layer.data["data"][i])
    click = RightClick(QPointF(float(layer.data["x"][i]), float(layer.data["y"][i])))
    layer.mouseClickEvent(click)
    assert click.accepted
    menu = results.shown_gene_menu
    assert menu is not None and menu.isVisible()
    menu.actions()[0].trigger()
    menu.close()
    assert links.calls == [("look_up_target", results.gene_at(position))]


def test_without_links_the_panel_says_where_to_look(qtbot, engine, make_area_context):
    panel = ExpressionPanel(make_area_context(engine))
    qtbot.addWidget(panel)
    panel.look_up_target("FTL")
    assert "Fetch" in panel.status_label.text()
