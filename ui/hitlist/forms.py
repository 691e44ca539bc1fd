"""Small pieces the hit-list tool tabs share: a status line, combo boxes that fit the side panel,
pages that scroll."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QScrollArea, QWidget

ERROR_STYLE = "color: #b00020;"


def set_status(label: QLabel, text: str, error: bool = False) -> None:
    """Show ``text`` in a tab's status line, in red when it reports an error."""
    label.setText(text)
    label.setStyleSheet(ERROR_STYLE if error else "")


def compact(*boxes: QComboBox) -> None:
    """Let combo boxes shrink to the panel instead of widening it to their longest item."""
    for box in boxes:
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(8)


def scrolling(page: QWidget) -> QScrollArea:
    """A tab page that scrolls instead of squeezing its form rows when the panel is short."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
