"""Draws 2D structures in table cells, only for the cells Qt paints (the visible ones).

:class:`StructureDelegate` asks a *picture provider* ``(smiles, width, height) -> QPixmap | None``
for each cell it paints. The default, :func:`cached_structure_pixmap`, draws with RDKit
(:func:`core.chem.depict.molecule_png`) and keeps the most recent pictures in an LRU cache, so
scrolling back costs nothing.

Drawing a new picture takes 3–5 ms, so a tall window that jumps to new rows could freeze for a
tenth of a second. Each paint pass therefore draws new pictures for at most
:data:`DRAW_BUDGET_S` (cached ones are always shown), paints the rest as "drawing…" and asks for
another pass on the next event-loop turn: the window fills in over a few frames instead of
stalling.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetrics, QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from core.chem.depict import molecule_png
from ui.tables.dataframe_model import PROBLEM_ROLE, STRUCTURE_SMILES_ROLE

PictureProvider = Callable[[str, int, int], QPixmap | None]
PictureReady = Callable[[str, int, int], bool]
DEFAULT_PICTURE_SIZE = QSize(160, 110)
CELL_MARGIN = 2
"""Pixels between a picture and its cell's edge (the selection shows around the picture)."""
NO_STRUCTURE_TEXT = "no structure"
NO_STRUCTURE_COLOR = QColor(170, 170, 170)
PROBLEM_COLOR = QColor(150, 20, 20)
"""Colour of an invalid record's problem, drawn where its picture would be."""
DRAWING_TEXT = "drawing…"
PIXMAP_CACHE_SIZE = 2000
DRAW_BUDGET_S = 0.02
"""Seconds of new pictures one paint pass may draw; the rest come on the next turns."""
_NEW_PASS_S = 0.015
"""A paint call this long after the previous one ended starts a new pass (cells of one pass are
painted back to back)."""


@dataclass(slots=True)
class PixmapCacheInfo:
    hits: int
    misses: int
    size: int
    max_size: int


class _PixmapCache:
    """A least-recently-used dict of pictures keyed by (smiles, width, height, pixel ratio)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._items: OrderedDict[tuple[str, int, int, float], QPixmap | None] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def contains(self, smiles: str, width: int, height: int) -> bool:
        return (smiles, width, height, _device_pixel_ratio()) in self._items

    def get(self, smiles: str, width: int, height: int) -> QPixmap | None:
        ratio = _device_pixel_ratio()
        key = (smiles, width, height, ratio)
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        pixmap = _draw_pixmap(smiles, width, height, ratio)
        self._items[key] = pixmap  # None too: a SMILES that does not parse is not retried
        if len(self._items) > self.max_size:
            self._items.popitem(last=False)
        return pixmap

    def clear(self) -> None:
        self._items.clear()
        self.hits = self.misses = 0

    def info(self) -> PixmapCacheInfo:
        return PixmapCacheInfo(self.hits, self.misses, len(self._items), self.max_size)


def _device_pixel_ratio() -> float:
    app = QGuiApplication.instance()
    return float(app.devicePixelRatio()) if isinstance(app, QGuiApplication) else 1.0


def _draw_pixmap(smiles: str, width: int, height: int, ratio: float) -> QPixmap | None:
    # Draw at device resolution so pictures stay sharp on high-DPI screens.
    png = molecule_png(smiles, max(1, round(width * ratio)), max(1, round(height * ratio)))
    if png is None:
        return None
    pixmap = QPixmap()
    if not pixmap.loadFromData(png, "PNG"):
        return None
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


_CACHE = _PixmapCache(PIXMAP_CACHE_SIZE)


def cached_structure_pixmap(smiles: str, width: int, height: int) -> QPixmap | None:
    """The picture of ``smiles`` at ``width`` × ``height`` logical pixels, or ``None``.

    Drawn by RDKit the first time, then served from an LRU cache of
    :data:`PIXMAP_CACHE_SIZE` pictures. Call on the GUI thread only (it makes a ``QPixmap``).
    """
    if not smiles:
        return None
    return _CACHE.get(smiles, width, height)


def structure_pixmap_cached(smiles: str, width: int, height: int) -> bool:
    """Whether :func:`cached_structure_pixmap` has this picture already (no drawing needed)."""
    return not smiles or _CACHE.contains(smiles, width, height)


def structure_pixmap_cache_info() -> PixmapCacheInfo:
    """Hits, misses (pictures drawn) and size of the :func:`cached_structure_pixmap` cache."""
    return _CACHE.info()


def clear_structure_pixmap_cache() -> None:
    _CACHE.clear()


def _wrap(text: str, metrics: QFontMetrics, width: int) -> list[str]:
    """Words of ``text`` in lines at most ``width`` pixels wide (a word too long is elided)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if metrics.horizontalAdvance(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return [metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines]


def _as_size(size: QSize | tuple[int, int]) -> QSize:
    return QSize(size) if isinstance(size, QSize) else QSize(int(size[0]), int(size[1]))


class StructureDelegate(QStyledItemDelegate):
    """Paints the structure named by a cell's :data:`STRUCTURE_SMILES_ROLE`.

    Parameters
    ----------
    parent
        The view (or any QObject owner).
    picture_provider
        ``(smiles, width, height) -> QPixmap | None``; :func:`cached_structure_pixmap` by default.
        Called only from :meth:`paint`, so only for cells Qt draws.
    picture_size
        Logical size of the pictures requested, a ``QSize`` or ``(width, height)``; also the
        delegate's size hint (plus margins).
    picture_ready
        ``(smiles, width, height) -> bool``: whether the provider has the picture without
        drawing. With it, new pictures are drawn within :data:`DRAW_BUDGET_S` per paint pass.
        Given by default with the default provider; a custom provider without it is always
        called.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        picture_provider: PictureProvider | None = None,
        picture_size: QSize | tuple[int, int] = DEFAULT_PICTURE_SIZE,
        picture_ready: PictureReady | None = None,
    ) -> None:
        super().__init__(parent)
        self._provider: PictureProvider = picture_provider or cached_structure_pixmap
        if picture_ready is None and picture_provider is None:
            picture_ready = structure_pixmap_cached
        self._ready = picture_ready
        self._picture_size = _as_size(picture_size)
        self._pass_spent = 0.0
        self._last_paint_end = 0.0
        self._deferred: list[weakref.ref] = []
        self._deferral_scheduled = False

    @property
    def picture_size(self) -> tuple[int, int]:
        """``(width, height)`` of the pictures, in logical pixels."""
        return self._picture_size.width(), self._picture_size.height()

    def set_picture_size(self, size: QSize | tuple[int, int]) -> None:
        """Change the picture size; the view's row height is the caller's to change."""
        self._picture_size = _as_size(size)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return self._picture_size + QSize(2 * CELL_MARGIN, 2 * CELL_MARGIN)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        # Background, selection and focus as for any cell (the model gives no text here).
        super().paint(painter, option, index)
        smiles = index.data(STRUCTURE_SMILES_ROLE)
        area = option.rect.adjusted(CELL_MARGIN, CELL_MARGIN, -CELL_MARGIN, -CELL_MARGIN)
        if area.width() <= 0 or area.height() <= 0:
            return
        pixmap = None
        deferred = False
        if isinstance(smiles, str) and smiles:
            # Always the configured size (one cached picture per molecule); a narrower column
            # shrinks it when drawing.
            size = self._picture_size
            start = time.perf_counter()
            if start - self._last_paint_end > _NEW_PASS_S:
                self._pass_spent = 0.0
            if (
                self._ready is not None
                and self._pass_spent >= DRAW_BUDGET_S
                and not self._ready(smiles, size.width(), size.height())
            ):
                deferred = True
                self._defer(option.widget)
            else:
                pixmap = self._provider(smiles, size.width(), size.height())
                self._pass_spent += time.perf_counter() - start
            self._last_paint_end = time.perf_counter()
        if deferred:
            painter.save()
            painter.setPen(NO_STRUCTURE_COLOR)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, DRAWING_TEXT)
            painter.restore()
            return
        painter.save()
        try:
            problem = index.data(PROBLEM_ROLE)
            if (pixmap is None or pixmap.isNull()) and isinstance(problem, str) and problem:
                # An invalid record says why where its picture would be (full text: tooltip).
                self._draw_problem(painter, area, problem)
            elif pixmap is None or pixmap.isNull():
                painter.setPen(NO_STRUCTURE_COLOR)
                painter.drawText(area, Qt.AlignmentFlag.AlignCenter, NO_STRUCTURE_TEXT)
            else:
                logical = pixmap.deviceIndependentSize().toSize()
                if logical.width() > area.width() or logical.height() > area.height():
                    logical = logical.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
                    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                target = QRect(0, 0, logical.width(), logical.height())
                target.moveCenter(area.center())
                painter.drawPixmap(target, pixmap)
        finally:
            painter.restore()

    @staticmethod
    def _draw_problem(painter: QPainter, area: QRect, problem: str) -> None:
        if problem.lower().startswith("invalid"):  # "invalid chemistry: …" says it already
            text = problem[:1].upper() + problem[1:]
        else:
            text = f"Invalid: {problem}"
        inner = area.adjusted(4, 4, -4, -4)
        font = painter.font()
        # A long message gets a slightly smaller font; what still does not fit is cut with "…".
        for _ in range(3):
            metrics = QFontMetrics(font)
            lines = _wrap(text, metrics, inner.width())
            fits = len(lines) * metrics.lineSpacing() <= inner.height()
            if fits or font.pointSizeF() <= 7:
                break
            font.setPointSizeF(font.pointSizeF() - 1)
        max_lines = max(1, inner.height() // max(1, metrics.lineSpacing()))
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            room = inner.width() - metrics.horizontalAdvance(" …")
            last = metrics.elidedText(lines[-1], Qt.TextElideMode.ElideRight, room)
            lines[-1] = last if last.endswith("…") else last + " …"
        painter.setFont(font)
        painter.setPen(PROBLEM_COLOR)
        painter.drawText(inner, int(Qt.AlignmentFlag.AlignCenter), "\n".join(lines))

    def _defer(self, widget: QWidget | None) -> None:
        """Repaint ``widget`` (the view) on the next event-loop turn with a fresh budget."""
        if widget is not None and not any(ref() is widget for ref in self._deferred):
            self._deferred.append(weakref.ref(widget))
        if not self._deferral_scheduled:
            self._deferral_scheduled = True
            QTimer.singleShot(0, self._paint_deferred)

    def _paint_deferred(self) -> None:
        self._deferral_scheduled = False
        self._pass_spent = 0.0
        widgets, self._deferred = self._deferred, []
        for ref in widgets:
            widget = ref()
            if widget is None:
                continue
            try:
                viewport = getattr(widget, "viewport", None)
                (viewport() if callable(viewport) else widget).update()
            except RuntimeError:  # the view was deleted meanwhile
                continue

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.text = ""
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDisplay


__all__ = [
    "DEFAULT_PICTURE_SIZE",
    "DRAWING_TEXT",
    "DRAW_BUDGET_S",
    "NO_STRUCTURE_TEXT",
    "PictureProvider",
    "StructureDelegate",
    "cached_structure_pixmap",
    "clear_structure_pixmap_cache",
    "structure_pixmap_cache_info",
    "structure_pixmap_cached",
]
