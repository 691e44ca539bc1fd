"""Reading a list of ticked items whose data are file paths (model folders)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget


def checked_paths(widget: QListWidget) -> tuple[Path, ...]:
    """The ``UserRole`` paths of the ticked items, in the list's order."""
    paths = []
    for i in range(widget.count()):
        item = widget.item(i)
        if item.checkState() == Qt.CheckState.Checked:
            paths.append(Path(item.data(Qt.ItemDataRole.UserRole)))
    return tuple(paths)


__all__ = ["checked_paths"]
