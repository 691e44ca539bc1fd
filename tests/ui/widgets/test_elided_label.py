"""ElidedLabel: a long path shortens to the room it has, keeps its file name, and never asks the
window for the room of its whole text (issue 13: a folder path made the window 2,605 px wide)."""

from __future__ import annotations

from ui.widgets.elided_label import ElidedLabel

PATH = (
    "/home/chemist/projects/medicinal_chemistry_campaigns/2026/kinase_inhibitors_series_B/"
    "compound_libraries/vendor_catalogues/enamine_selected_subset/library_with_a_long_name.smi"
)


def test_a_long_path_elides_in_the_middle_with_the_whole_path_in_the_tooltip(qtbot):
    label = ElidedLabel(PATH, mode="middle", minimum_chars=6)
    qtbot.addWidget(label)
    label.resize(300, 20)
    label.show()
    shown = label.displayed_text()
    assert label.is_elided() and "…" in shown
    assert shown.startswith("/home") and shown.endswith(".smi")
    assert label.fontMetrics().horizontalAdvance(shown) <= 300
    assert label.toolTip() == PATH
    assert label.text() == PATH


def test_it_asks_for_little_room_and_shows_everything_when_there_is_room(qtbot):
    label = ElidedLabel(PATH, mode="middle", minimum_chars=6)
    qtbot.addWidget(label)
    full = label.fontMetrics().horizontalAdvance(PATH)
    assert label.minimumSizeHint().width() < 100 < full
    label.resize(full + 20, 20)
    label.show()
    assert not label.is_elided() and label.displayed_text() == PATH


def test_an_explicit_tooltip_wins(qtbot):
    label = ElidedLabel("short")
    qtbot.addWidget(label)
    label.setToolTip("what this is")
    label.setText("another text")
    assert label.toolTip() == "what this is"
