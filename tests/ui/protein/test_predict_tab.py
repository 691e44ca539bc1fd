"""The Predict tab on its own: the sequence and the weights are checked before anything runs."""

from __future__ import annotations

import pytest

from ui.protein.predict_tab import ERROR_STYLE, PredictTab


@pytest.fixture
def tab(qtbot):
    tab = PredictTab()
    qtbot.addWidget(tab)
    return tab


def test_missing_weights_and_a_bad_sequence_are_explained(tab, tmp_path, monkeypatch):
    from core.protein.prediction import save_tiny_model

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))  # no cached weights
    assert tab.folding_inputs("MKTAYIAK") is None
    assert "huggingface-cli" in tab.predict_label.text()
    assert tab.predict_label.styleSheet() == ERROR_STYLE
    tab.weights_edit.setText(str(tmp_path))
    assert tab.folding_inputs("MKTAYIAK") is None
    assert "no config.json" in tab.predict_label.text()
    tab.weights_edit.setText(str(save_tiny_model(tmp_path / "tiny")))
    assert tab.folding_inputs("MKT1AYI") is None
    assert "'1' at 4" in tab.predict_label.text()


def test_checked_inputs_come_from_the_tab(tab, tmp_path, qtbot):
    from core.protein.prediction import save_tiny_model

    weights = save_tiny_model(tmp_path / "tiny")
    tab.weights_edit.setText(str(weights))
    tab.sequence_edit.setPlainText(">query\nMKTA YIAK\n")
    tab.chunk_spin.setValue(0)  # "off"
    inputs = tab.folding_inputs()
    assert inputs is not None
    assert (inputs.sequence, inputs.chunk) == ("MKTAYIAK", None)
    assert inputs.weights == str(weights)
    assert tab.predict_label.text() == "Folding 8 residues…"
    assert tab.predict_label.styleSheet() == ""
    with qtbot.waitSignal(tab.predict_requested):
        tab.predict_button.click()
