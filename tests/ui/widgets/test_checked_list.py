"""ui.widgets.checked_list: the ticked paths of a list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ui.widgets.checked_list import checked_paths


def test_ticked_items_in_list_order(qtbot):
    widget = QListWidget()
    qtbot.addWidget(widget)
    for name, ticked in (("b", True), ("a", False), ("c", True)):
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
        item.setData(Qt.ItemDataRole.UserRole, f"/models/{name}")
        widget.addItem(item)
    assert checked_paths(widget) == (Path("/models/b"), Path("/models/c"))
    assert checked_paths(QListWidget()) == ()
