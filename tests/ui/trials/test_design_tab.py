"""The Design tab tells the user through the notifier it is given, not through the window."""

from __future__ import annotations

import pytest

import ui.trials.design_tab as design_tab
from ui.trials.design_tab import DesignTab


@pytest.fixture
def save_into_a_missing_folder(monkeypatch, tmp_path):
    """The save dialog answers a file in a folder that does not exist."""
    path = tmp_path / "gone" / "power_curve.csv"
    monkeypatch.setattr(
        design_tab.QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), "")
    )
    return path


def test_a_failed_export_goes_to_the_notifier(
    qtbot, save_into_a_missing_folder, recording_notifier
):
    notifier = recording_notifier
    tab = DesignTab(notifier)
    qtbot.addWidget(tab)
    answer = tab.answer.text()
    tab._export_table()
    assert len(notifier.errors) == 1
    assert "power_curve.csv" in notifier.errors[0] and "does not exist" in notifier.errors[0]
    assert tab.answer.text() == answer  # the design's answer stays


def test_without_a_notifier_the_failure_shows_under_the_answer(qtbot, save_into_a_missing_folder):
    tab = DesignTab()
    qtbot.addWidget(tab)
    tab._export_table()
    assert "does not exist" in tab.answer.text()
    assert not save_into_a_missing_folder.exists()
