"""A one-line label that shortens its text to the room it has, with the whole text in its tooltip.

A plain ``QLabel`` asks for the width of its whole text: one long file path in a status line made
the main window wider than the screen (issue 13). This label asks for almost nothing and elides.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QFrame, QSizePolicy, QWidget

# How a shortened text keeps its most useful part: a path keeps its file name at the end.
ELIDE_MODES = {
    "middle": Qt.TextElideMode.ElideMiddle,
    "right": Qt.TextElideMode.ElideRight,
    "left": Qt.TextElideMode.ElideLeft,
}


class ElidedLabel(QFrame):
    """Shows ``text`` on one line, elided (``…``) where it does not fit; the tooltip holds it all.

    Parameters
    ----------
    text
        The text to show (plain text, not rich text).
    mode
        ``"middle"`` (paths: keep the start and the file name), ``"right"`` or ``"left"``.
    minimum_chars
        The label's minimum width, in average character widths.
    """

    def __init__(
        self,
        text: str = "",
        mode: str = "middle",
        minimum_chars: int = 12,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._text = ""
        self._mode = ELIDE_MODES[mode]
        self._minimum_chars = minimum_chars
        self._explicit_tooltip = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # Qt-style name: a drop-in for QLabel.setText
        self._text = text or ""
        self._update_tooltip()
        self.updateGeometry()
        self.update()

    def setToolTip(self, tip: str) -> None:
        """An explicit tooltip replaces the automatic one (the whole text when elided)."""
        self._explicit_tooltip = tip
        self._update_tooltip()

    def is_elided(self) -> bool:
        return self.displayed_text() != self._text

    def displayed_text(self) -> str:
        """The text as drawn in the current width."""
        width = self.contentsRect().width()
        return self.fontMetrics().elidedText(self._text, self._mode, max(0, width))

    def _update_tooltip(self) -> None:
        super().setToolTip(self._explicit_tooltip or self._text)

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        return QSize(
            metrics.horizontalAdvance(self._text) + margins.left() + margins.right() + 4,
            metrics.height() + margins.top() + margins.bottom(),
        )

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        return QSize(
            metrics.averageCharWidth() * self._minimum_chars + margins.left() + margins.right(),
            metrics.height() + margins.top() + margins.bottom(),
        )

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            self.contentsRect(),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.displayed_text(),
        )
        painter.end()
