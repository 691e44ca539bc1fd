"""A small drawn desirability curve with points to drag: x is the property (with its units), y the
desirability 0–1.

Piecewise-linear criteria show one handle per point: drag it, double-click empty space to add a
point, double-click a point (or press Delete) to remove it. Logistic criteria show two handles,
at the "good" (d = 0.95) and "bad" (d = 0.05) thresholds, that move sideways. The library's
values of the column are drawn behind the curve as a grey histogram, so the curve is placed
where the molecules are.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

GOOD_D, BAD_D = 0.95, 0.05
HANDLE_RADIUS = 5
PICK_DISTANCE = 9
CURVE_COLOUR = QColor(31, 91, 170)
HANDLE_COLOUR = QColor(31, 91, 170)
SELECTED_COLOUR = QColor(230, 120, 20)
HISTOGRAM_COLOUR = QColor(222, 222, 222)
AXIS_COLOUR = QColor(90, 90, 90)


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round numbers between ``low`` and ``high`` (1, 2 or 5 × 10^k apart)."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return [low]
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{min(decimals, 4)}f}"


def resolution(low: float, high: float) -> float:
    """The step x values snap to while dragging: about 1/200 of the range, a round number."""
    span = max(high - low, 1e-9)
    return 10 ** math.floor(math.log10(span / 200))


class DesirabilityCurve(QWidget):
    """Draws a criterion's curve and lets its points be dragged (see the module docstring).

    Signals
    -------
    points_changed(tuple)
        Piecewise: the new ``((x, d), …)`` after a drag, an added or a removed point.
    thresholds_changed(float, float)
        Logistic: the new ``good`` and ``bad`` after a drag.
    selection_changed(int)
        The selected handle (-1: none).
    """

    points_changed = Signal(object)
    thresholds_changed = Signal(float, float)
    selection_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(200, 130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMouseTracking(True)
        self.shape = "piecewise"
        self.points: list[tuple[float, float]] = [(0.0, 1.0), (1.0, 0.0)]
        self.good, self.bad = 1.0, 0.0
        self.x_title = ""
        self._data_range: tuple[float, float] | None = None
        self._histogram: tuple[np.ndarray, np.ndarray] | None = None
        self._range = (0.0, 1.0)
        self.selected = -1
        self._dragging = False
        self.setToolTip(
            "Drag a point to change the curve. Double-click empty space to add a point, "
            "double-click a point (or press Delete) to remove it."
        )

    def sizeHint(self) -> QSize:
        return QSize(260, 150)

    # ------------------------------------------------------------------------------------------
    # State

    def set_values(self, values: np.ndarray | None, x_title: str) -> None:
        """The column's values (for the histogram and the x range) and the axis title."""
        self.x_title = x_title
        self._histogram = None
        self._data_range = None
        if values is not None:
            finite = np.asarray(values, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            if finite.size:
                low, high = float(finite.min()), float(finite.max())
                self._data_range = (low, high)
                if high > low:
                    counts, edges = np.histogram(finite, bins=min(30, max(5, finite.size // 3)))
                    self._histogram = (counts, edges)
        self._update_range()
        self.update()

    def set_piecewise(self, points) -> None:
        self.shape = "piecewise"
        self.points = [(float(x), float(d)) for x, d in points]
        self.selected = min(self.selected, len(self.points) - 1)
        self._update_range()
        self.update()

    def set_logistic(self, good: float, bad: float) -> None:
        self.shape = "logistic"
        self.good, self.bad = float(good), float(bad)
        self.selected = min(self.selected, 1)
        self._update_range()
        self.update()

    def handles(self) -> list[tuple[float, float]]:
        """The draggable points, in data coordinates."""
        if self.shape == "logistic":
            return [(self.good, GOOD_D), (self.bad, BAD_D)]
        return list(self.points)

    def desirability(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.shape == "logistic":
            span = self.good - self.bad
            if span == 0:
                return np.full_like(x, 0.5)
            k = 2.0 * math.log(GOOD_D / BAD_D) / span
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-k * (x - (self.good + self.bad) / 2.0)))
        xs = np.array([p[0] for p in self.points])
        ds = np.array([p[1] for p in self.points])
        return np.interp(x, xs, ds)

    def _update_range(self) -> None:
        xs = [x for x, _ in self.handles()]
        if self._data_range is not None:
            xs += list(self._data_range)
        low, high = min(xs), max(xs)
        if high <= low:
            low, high = low - 1.0, high + 1.0
        pad = 0.08 * (high - low)
        self._range = (low - pad, high + pad)

    # ------------------------------------------------------------------------------------------
    # Geometry

    def _plot_rect(self) -> QRectF:
        metrics = self.fontMetrics()
        # Room for the rotated "desirability" title and the 0 / 0.5 / 1 tick labels.
        left = metrics.height() + metrics.horizontalAdvance("0.5") + 10
        bottom = 2 * metrics.height() + 8
        return QRectF(
            left, 6, max(10, self.width() - left - 10), max(10, self.height() - bottom - 6)
        )

    def _to_screen(self, x: float, d: float) -> QPointF:
        rect = self._plot_rect()
        low, high = self._range
        px = rect.left() + (x - low) / (high - low) * rect.width()
        py = rect.bottom() - d * rect.height()
        return QPointF(px, py)

    def _to_data(self, point: QPointF) -> tuple[float, float]:
        rect = self._plot_rect()
        low, high = self._range
        x = low + (point.x() - rect.left()) / rect.width() * (high - low)
        d = (rect.bottom() - point.y()) / rect.height()
        return x, min(max(d, 0.0), 1.0)

    def _handle_at(self, point: QPointF) -> int:
        best, best_distance = -1, float(PICK_DISTANCE)
        for number, (x, d) in enumerate(self.handles()):
            screen = self._to_screen(x, d)
            distance = math.hypot(screen.x() - point.x(), screen.y() - point.y())
            if distance <= best_distance:
                best, best_distance = number, distance
        return best

    # ------------------------------------------------------------------------------------------
    # Painting

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self._plot_rect()
        painter.fillRect(rect, QColor(255, 255, 255))
        low, high = self._range
        if self._histogram is not None:
            counts, edges = self._histogram
            tallest = max(int(counts.max()), 1)
            for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
                if count == 0:
                    continue
                top_left = self._to_screen(float(left), 0.85 * count / tallest)
                bottom_right = self._to_screen(float(right), 0.0)
                painter.fillRect(QRectF(top_left, bottom_right), HISTOGRAM_COLOUR)
        # Axes, ticks and titles.
        painter.setPen(QPen(AXIS_COLOUR, 1))
        painter.drawRect(rect)
        metrics = self.fontMetrics()
        for d in (0.0, 0.5, 1.0):
            y = self._to_screen(low, d).y()
            painter.drawLine(QPointF(rect.left() - 3, y), QPointF(rect.left(), y))
            text = f"{d:g}"
            painter.drawText(
                QRectF(0, y - metrics.height() / 2, rect.left() - 5, metrics.height()),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                text,
            )
        # As many round ticks as fit without their labels touching.
        for count in (6, 5, 4, 3, 2):
            ticks = nice_ticks(low, high, count)
            step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
            widest = max(metrics.horizontalAdvance(_tick_text(v, step)) for v in ticks)
            if len(ticks) * (widest + 12) <= rect.width():
                break
        for value in ticks:
            x = self._to_screen(value, 0.0).x()
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + 3))
            text = _tick_text(value, step)
            width = metrics.horizontalAdvance(text)
            painter.drawText(QPointF(x - width / 2, rect.bottom() + 4 + metrics.ascent()), text)
        title_top = rect.bottom() + metrics.height() + 4
        painter.drawText(
            QRectF(rect.left(), title_top, rect.width(), metrics.height()),
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
            metrics.elidedText(self.x_title, Qt.TextElideMode.ElideMiddle, int(rect.width())),
        )
        painter.save()
        painter.translate(2, rect.center().y())
        painter.rotate(-90)
        painter.drawText(
            QRectF(-rect.height() / 2, 0, rect.height(), metrics.height()),
            int(Qt.AlignmentFlag.AlignCenter),
            metrics.elidedText("desirability", Qt.TextElideMode.ElideRight, int(rect.height())),
        )
        painter.restore()
        # The curve, flat beyond the end points.
        xs = np.linspace(low, high, 120)
        if self.shape == "piecewise":
            xs = np.unique(np.concatenate([xs, [p[0] for p in self.points]]))
        ds = self.desirability(xs)
        path = QPainterPath(self._to_screen(float(xs[0]), float(ds[0])))
        for x, d in zip(xs[1:], ds[1:], strict=True):
            path.lineTo(self._to_screen(float(x), float(d)))
        painter.setPen(QPen(CURVE_COLOUR, 2))
        painter.drawPath(path)
        for number, (x, d) in enumerate(self.handles()):
            colour = SELECTED_COLOUR if number == self.selected else HANDLE_COLOUR
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.setBrush(colour)
            painter.drawEllipse(self._to_screen(x, d), HANDLE_RADIUS, HANDLE_RADIUS)
        painter.end()

    # ------------------------------------------------------------------------------------------
    # Mouse and keys

    def select(self, number: int) -> None:
        number = number if 0 <= number < len(self.handles()) else -1
        if number != self.selected:
            self.selected = number
            self.selection_changed.emit(number)
            self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        number = self._handle_at(event.position())
        self.select(number)
        self._dragging = number >= 0
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if not self._dragging or self.selected < 0:
            number = self._handle_at(event.position())
            self.setCursor(
                Qt.CursorShape.OpenHandCursor if number >= 0 else Qt.CursorShape.ArrowCursor
            )
            return
        x, d = self._to_data(event.position())
        self.move_handle(self.selected, x, d, emit=False)

    def mouseReleaseEvent(self, event) -> None:
        if self._dragging:
            self._dragging = False
            self._emit()
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        if self.shape != "piecewise":
            return
        number = self._handle_at(event.position())
        if number >= 0:
            self.remove_point(number)
        else:
            x, d = self._to_data(event.position())
            self.add_point(x, d)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected >= 0:
            self.remove_point(self.selected)
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------------------------------
    # Edits

    def move_handle(self, number: int, x: float, d: float, emit: bool = True) -> None:
        """Move handle ``number`` to ``(x, d)``: x snaps to a round step and stays between its
        neighbours; d stays in [0, 1] (a logistic handle keeps its d)."""
        low, high = self._range
        step = resolution(low, high)
        x = round(round(min(max(x, low), high) / step) * step, 10)
        if self.shape == "logistic":
            other = self.bad if number == 0 else self.good
            if abs(x - other) < step:
                return  # good and bad must differ
            if number == 0:
                self.good = x
            else:
                self.bad = x
        else:
            d = round(min(max(d, 0.0), 1.0), 2)
            points = list(self.points)
            left = points[number - 1][0] + step if number > 0 else -math.inf
            right = points[number + 1][0] - step if number + 1 < len(points) else math.inf
            if left > right:
                return
            points[number] = (min(max(x, left), right), d)
            self.points = points
        self.update()
        if emit:
            self._emit()

    def add_point(self, x: float, d: float) -> None:
        low, high = self._range
        step = resolution(low, high)
        x = round(round(x / step) * step, 10)
        if any(abs(x - px) < step for px, _ in self.points):
            return
        self.points = sorted([*self.points, (x, round(min(max(d, 0.0), 1.0), 2))])
        self.select(self.points.index(next(p for p in self.points if p[0] == x)))
        self.update()
        self._emit()

    def remove_point(self, number: int) -> None:
        if self.shape != "piecewise" or len(self.points) <= 2:
            return
        del self.points[number]
        self.select(min(number, len(self.points) - 1))
        self.update()
        self._emit()

    def _emit(self) -> None:
        if self.shape == "logistic":
            self.thresholds_changed.emit(self.good, self.bad)
        else:
            self.points_changed.emit(tuple(self.points))
