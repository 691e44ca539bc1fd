"""The Data tab on its own (no panel, no engine): the comparison it proposes for what was read,
and the requests it makes of the panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.expression.qc import prepare_expression
from core.expression.simulate import simulate_counts, write_simulated
from ui.expression.data_tab import ALL_VS_REST, DataTab


@pytest.fixture
def prepared(tmp_path):
    sim = simulate_counts(n_genes=40, n_de=5, fold_change=6.0, seed=3)
    counts, sheet = tmp_path / "counts.csv", tmp_path / "samples.csv"
    write_simulated(sim, counts, sheet)
    return prepare_expression(str(counts), str(sheet))


def test_two_levels_become_case_against_control(qtbot, prepared):
    tab = DataTab()
    qtbot.addWidget(tab)
    conditions = []
    tab.condition_changed.connect(conditions.append)
    tab.show_prepared(prepared)
    assert conditions == ["condition"]  # the QC tab colours its PCA by it
    options = tab.de_options()
    assert (options.condition, options.case, options.control) == ("condition", "case", "control")
    assert options.method == "deseq2" and options.covariates == ()
    tab.covariate_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert tab.de_options().covariates == ("batch",)
    tab.case_combo.setCurrentText(ALL_VS_REST)  # one-vs-rest has no control
    assert tab.de_options().control is None and not tab.control_combo.isEnabled()
    assert "one-vs-rest runs Welch" in tab.method_hint.text()


def test_the_offer_of_welch_asks_for_a_run_with_welch(qtbot, prepared):
    tab = DataTab()
    qtbot.addWidget(tab)
    tab.show_prepared(prepared)
    tab.offer_welch("DESeq2 needs raw integer counts: these are not.")
    assert tab.offer_bar.isVisibleTo(tab)
    with qtbot.waitSignal(tab.run_requested, timeout=1000):
        tab.offer_button.click()
    assert tab.method_combo.currentData() == "welch" and not tab.offer_bar.isVisibleTo(tab)
