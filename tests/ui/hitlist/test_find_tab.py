"""The Find tab on its own, beside a stand-in library panel."""

from __future__ import annotations

import numpy as np
import pytest

from ui.hitlist.find_tab import FindTab
from ui.hitlist.forms import ERROR_STYLE


@pytest.fixture
def tab(qtbot, panel, engine):
    tab = FindTab(panel, engine, query_smiles=lambda: "", query_name=lambda: "")
    qtbot.addWidget(tab)
    yield tab
    tab.jobs.cancel_all()


def test_a_typo_is_reported_at_once_without_a_job(tab):
    tab.smarts_edit.setText("c1ccc(")
    tab.substructure_search()
    assert "not a valid SMARTS" in tab.find_status.text()
    tab.query_edit.setText("C1CC")
    tab.similarity_search()
    assert tab.find_status.styleSheet() == ERROR_STYLE and not tab.jobs.is_busy()


def test_a_similarity_search_needs_a_query(tab):
    tab.similarity_search()
    assert tab.find_status.text().startswith("Type a query SMILES or draw a molecule")


def test_the_molecule_panels_structure_is_the_query_and_the_table_names_it(qtbot, tab, panel):
    tab.query_smiles = lambda: "CC(=O)Oc1ccccc1C(=O)O"
    tab.top_k.setValue(2)
    tab.similarity_search()
    assert tab.find_status.text() == "Computing fingerprints (once per library)…"
    qtbot.waitUntil(lambda: bool(panel.masks), timeout=60_000)
    mask, description = panel.masks[-1]
    assert description == "Similar to aspirin: 2"
    assert mask.tolist() == [True, False, False, False, True, False]  # aspirin, salicylic acid
    similarity = panel.added[-1]["frame"]["similarity"].to_numpy()
    assert similarity[0] == 1.0 and np.isnan(similarity[1])
    assert panel.sorts[-1] == ("similarity", True)
    assert tab.fingerprints is not None and tab.fingerprints.n_rows == 6
    tab.forget_indexes()  # a new library: fingerprints are built anew
    assert tab.fingerprints is None and tab.substructures is None
