"""Keep a top-level window inside the screen it is on.

Chemists run DrugDesk on 1366×768 laptops as often as on 2560×1440 monitors, and a window size
saved on one is restored on the other. A window taller or wider than its screen hides its own
buttons and status bar off the edge, so the window's size is clamped to the screen's available
geometry at start-up, when a saved geometry is restored, and whenever the window moves to
another screen; its maximum size keeps layouts from growing it past the screen later.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, QSize, QTimer
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QLayout, QSizePolicy, QStackedWidget, QWidget

# The size a new window asks for on a large screen; smaller screens get their available area.
PREFERRED_SIZE = QSize(1440, 900)
# Room left around a new window on a screen smaller than PREFERRED_SIZE (window decorations).
_NEW_WINDOW_MARGIN = 0.96


def screen_of(widget: QWidget) -> QScreen | None:
    """The screen the widget is on (or will be shown on), else the primary screen."""
    handle = widget.windowHandle()
    screen = handle.screen() if handle is not None else None
    return screen or widget.screen() or QGuiApplication.primaryScreen()


def _frame_extra(widget: QWidget) -> QSize:
    """Width and height the window decorations add (zero before the window is shown)."""
    frame, inner = widget.frameGeometry(), widget.geometry()
    return QSize(max(0, frame.width() - inner.width()), max(0, frame.height() - inner.height()))


def available_client_size(widget: QWidget) -> QSize:
    """The largest client size (inside the frame) that keeps the window on its screen."""
    screen = screen_of(widget)
    if screen is None:
        return QSize(16_777_215, 16_777_215)
    available = screen.availableGeometry().size()
    extra = _frame_extra(widget)
    return QSize(
        max(200, available.width() - extra.width()), max(200, available.height() - extra.height())
    )


def initial_size(widget: QWidget, preferred: QSize = PREFERRED_SIZE) -> QSize:
    """A first size for a new window: ``preferred``, or a little less than a smaller screen."""
    room = available_client_size(widget)
    return QSize(
        min(preferred.width(), int(room.width() * _NEW_WINDOW_MARGIN)),
        min(preferred.height(), int(room.height() * _NEW_WINDOW_MARGIN)),
    )


def clamp_to_screen(widget: QWidget) -> None:
    """Limit the window to its screen: maximum size, then size and position inside it."""
    screen = screen_of(widget)
    if screen is None:
        return
    room = available_client_size(widget)
    # A layout asking for more than the screen would raise the maximum with it (Qt lets a minimum
    # size win over a maximum), so the minimum is the layout's wish bounded by the screen: a panel
    # that still does not fit is squeezed inside the window rather than pushing it off screen.
    layout = widget.layout()
    wanted = layout.minimumSize() if layout is not None else widget.minimumSizeHint()
    widget.setMinimumSize(wanted.boundedTo(room))
    widget.setMaximumSize(room)
    if widget.isMaximized() or widget.isFullScreen():
        return
    size = widget.size().boundedTo(room)
    if size != widget.size():
        widget.resize(size)
    frame = widget.frameGeometry()
    area: QRect = screen.availableGeometry()
    x = min(max(frame.x(), area.x()), area.right() - frame.width() + 1)
    y = min(max(frame.y(), area.y()), area.bottom() - frame.height() + 1)
    if (x, y) != (frame.x(), frame.y()):
        widget.move(max(area.x(), x), max(area.y(), y))


class ScreenFit(QObject):
    """Keeps ``window`` clamped to its screen when it moves between screens or they change."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._screen: QScreen | None = None
        self._handle_connected = False
        self._pending = False
        layout = window.layout()
        if layout is not None:
            # The window's minimum size is set here (bounded by the screen), not by its layout.
            layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        window.installEventFilter(self)
        clamp_to_screen(window)
        app = QGuiApplication.instance()
        app.screenAdded.connect(self._on_screens_changed)
        app.screenRemoved.connect(self._on_screens_changed)
        self._follow(screen_of(window))

    def on_shown(self) -> None:
        """Call once the window is shown: its screen (and frame size) are known then."""
        handle = self._window.windowHandle()
        if handle is not None and not self._handle_connected:
            handle.screenChanged.connect(self._on_screen_changed)
            self._handle_connected = True
        self._follow(screen_of(self._window))
        clamp_to_screen(self._window)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A panel shown, an area opened, a long text set: re-check once the layout has settled.
        layout_changed = event.type() == QEvent.Type.LayoutRequest
        if watched is self._window and layout_changed and not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._clamp_later)
        return False

    def _clamp_later(self) -> None:
        self._pending = False
        clamp_to_screen(self._window)

    def _follow(self, screen: QScreen | None) -> None:
        if screen is self._screen:
            return
        if self._screen is not None:
            try:
                self._screen.availableGeometryChanged.disconnect(self._on_geometry_changed)
            except (RuntimeError, TypeError):
                pass
        self._screen = screen
        if screen is not None:
            screen.availableGeometryChanged.connect(self._on_geometry_changed)

    def _on_screen_changed(self, screen: QScreen) -> None:
        self._follow(screen)
        clamp_to_screen(self._window)

    def _on_geometry_changed(self, _geometry: QRect) -> None:
        clamp_to_screen(self._window)

    def _on_screens_changed(self, _screen: QScreen) -> None:
        self._follow(screen_of(self._window))
        clamp_to_screen(self._window)


def size_by_current_page(stack: QStackedWidget) -> None:
    """Make ``stack`` ask for the room of the page it shows, not of its largest page.

    A ``QStackedWidget`` needs the largest minimum of all its pages, so opening one wide area once
    kept every other area (and the window) that wide. Hidden pages get an ignored size policy.
    """

    def update(_index: int = -1) -> None:
        current = stack.currentWidget()
        for index in range(stack.count()):
            page = stack.widget(index)
            policy = page.sizePolicy()
            if page is current:
                saved = page.property("_drugdesk_policy")
                if saved is not None:
                    page.setSizePolicy(saved)
                    page.setProperty("_drugdesk_policy", None)
            elif page.property("_drugdesk_policy") is None:
                page.setProperty("_drugdesk_policy", policy)
                page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        stack.updateGeometry()

    stack.currentChanged.connect(update)
    stack.widgetAdded.connect(lambda _index: update())
    update()
