"""Remember where the user put each panel's splitters, between sessions.

Each area builds its splitters in the same order every time, so a splitter is known by the area's
name and its object name (or its position among the area's splitters when it has none).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QSplitter, QWidget

_GROUP = "splitters"


def _keyed_splitters(root: QWidget, prefix: str) -> list[tuple[str, QSplitter]]:
    keyed = []
    for position, splitter in enumerate(root.findChildren(QSplitter)):
        name = splitter.objectName() or str(position)
        keyed.append((f"{_GROUP}/{prefix}/{name}", splitter))
    return keyed


def save_splitters(root: QWidget, prefix: str, settings: QSettings) -> None:
    """Store the state of every splitter under ``root``."""
    for key, splitter in _keyed_splitters(root, prefix):
        settings.setValue(key, splitter.saveState())


def restore_splitters(root: QWidget, prefix: str, settings: QSettings) -> int:
    """Put back the splitters stored for ``prefix``; returns how many were restored.

    A state that no longer matches (a panel that gained a pane) is refused by Qt and the
    splitter keeps its built-in sizes.
    """
    restored = 0
    for key, splitter in _keyed_splitters(root, prefix):
        state = settings.value(key)
        if isinstance(state, QByteArray) and splitter.restoreState(state):
            restored += 1
    return restored
