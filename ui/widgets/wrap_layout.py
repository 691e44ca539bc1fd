"""A row of widgets that wraps onto more lines when it is too narrow (like words in a paragraph).

Shaped like Qt's Flow Layout example, plus stretch: on each line, the items whose horizontal size
policy expands share the room left over, so a search box fills a wide bar and the bar's other
controls move to a second line on a 1366-pixel laptop instead of pushing the window wider.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QWidget

_EXPANDING = (
    QSizePolicy.Policy.Expanding,
    QSizePolicy.Policy.MinimumExpanding,
    QSizePolicy.Policy.Ignored,
)


class WrapLayout(QLayout):
    """Lays items out left to right, starting a new line when the next one does not fit."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    # QLayout's interface (Qt-style names).
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def spacing(self) -> int:
        return self._spacing

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        # One line holding everything at its preferred width.
        visible = self._visible()
        width = sum(item.sizeHint().width() for item in visible)
        width += self._spacing * max(0, len(visible) - 1)
        height = max((item.sizeHint().height() for item in visible), default=0)
        margins = self.contentsMargins()
        return QSize(
            width + margins.left() + margins.right(), height + margins.top() + margins.bottom()
        )

    def minimumSize(self) -> QSize:
        # As narrow as the widest single item: everything else wraps.
        visible = self._visible()
        width = max((item.minimumSize().width() for item in visible), default=0)
        height = max((item.minimumSize().height() for item in visible), default=0)
        margins = self.contentsMargins()
        return QSize(
            width + margins.left() + margins.right(), height + margins.top() + margins.bottom()
        )

    # Layout

    def _visible(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    @staticmethod
    def _expands(item: QLayoutItem) -> bool:
        widget = item.widget()
        if widget is None:
            return False
        # (Comparing policies, not masking with PolicyFlag: that crashed PySide6 6.11.)
        return widget.sizePolicy().horizontalPolicy() in _EXPANDING

    def _lines(self, width: int) -> list[list[QLayoutItem]]:
        lines: list[list[QLayoutItem]] = []
        line: list[QLayoutItem] = []
        used = 0
        for item in self._visible():
            wanted = item.sizeHint().width()
            needed = wanted if not line else used + self._spacing + wanted
            if line and needed > width:
                lines.append(line)
                line, used = [item], wanted
            else:
                line.append(item)
                used = needed
        if line:
            lines.append(line)
        return lines

    def _arrange(self, rect: QRect, apply: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        y = area.y()
        for line in self._lines(area.width()):
            widths = [min(item.sizeHint().width(), area.width()) for item in line]
            free = area.width() - sum(widths) - self._spacing * (len(line) - 1)
            expanding = [i for i, item in enumerate(line) if self._expands(item)]
            if free > 0 and expanding:
                share, extra = divmod(free, len(expanding))
                for rank, i in enumerate(expanding):
                    widths[i] += share + (1 if rank < extra else 0)
            elif free < 0:
                # A line of one item wider than the bar: shrink it to its minimum at most.
                for i, item in enumerate(line):
                    widths[i] = max(item.minimumSize().width(), widths[i] + free)
            height = max(item.sizeHint().height() for item in line)
            if apply:
                x = area.x()
                for item, item_width in zip(line, widths, strict=True):
                    item_height = min(height, item.maximumSize().height())
                    offset = (height - item_height) // 2
                    item.setGeometry(QRect(QPoint(x, y + offset), QSize(item_width, item_height)))
                    x += item_width + self._spacing
            y += height + self._spacing
        return y - self._spacing - rect.y() + margins.bottom() if self._items else 0
