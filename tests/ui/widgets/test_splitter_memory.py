"""Splitter positions survive a restart: saved per area, put back when the area is built again."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from ui.widgets.splitter_memory import restore_splitters, save_splitters


def _panel(qtbot) -> tuple[QWidget, QSplitter]:
    root = QWidget()
    qtbot.addWidget(root)
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(QLabel("left"))
    splitter.addWidget(QLabel("right"))
    QVBoxLayout(root).addWidget(splitter)
    root.resize(600, 200)
    root.show()
    return root, splitter


def test_sizes_come_back_in_a_new_panel(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    root, splitter = _panel(qtbot)
    splitter.setSizes([450, 150])
    chosen = splitter.sizes()
    save_splitters(root, "trials", settings)

    root2, splitter2 = _panel(qtbot)
    assert splitter2.sizes() != chosen
    assert restore_splitters(root2, "trials", settings) == 1
    assert splitter2.sizes() == chosen


def test_nothing_saved_or_another_area_changes_nothing(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    root, splitter = _panel(qtbot)
    before = splitter.sizes()
    assert restore_splitters(root, "models", settings) == 0
    splitter.setSizes([100, 500])
    save_splitters(root, "models", settings)
    root2, splitter2 = _panel(qtbot)
    assert restore_splitters(root2, "expression", settings) == 0
    assert splitter2.sizes() == before
