"""A non-modal message strip: errors and notices stay visible without blocking the window."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

_STYLES = {
    "info": ("#e8f1fb", "#1c4f82", "#9cc0e6"),
    "success": ("#e9f6ec", "#1e5b2c", "#a3d4ae"),
    "warning": ("#fff6e0", "#6b4a00", "#f0d28a"),
    "error": ("#fdecea", "#8a1c12", "#f0a8a0"),
}


class NotificationBar(QFrame):
    """Shows one message at a time; errors stay until closed, other messages fade after a while.
    A message may carry one action (a button such as "Open"); it then stays until closed."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notificationBar")
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.action_button.clicked.connect(self._on_action_clicked)
        self._action: Callable[[], object] | None = None
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.level = ""
        self.hide()

    def text(self) -> str:
        return self._label.text()

    def show_message(
        self,
        text: str,
        level: str = "info",
        timeout_ms: int | None = None,
        action: tuple[str, Callable[[], object]] | None = None,
    ) -> None:
        """Show ``text``; ``action``: ``(button text, callback)``, a button that runs the
        callback and closes the message (such a message does not fade)."""
        background, foreground, border = _STYLES.get(level, _STYLES["info"])
        self.setStyleSheet(
            f"#notificationBar {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 4px; }} #notificationBar QLabel {{ color: {foreground}; }}"
        )
        self.level = level
        self._label.setText(text)
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.show()
        if timeout_ms is None:
            timeout_ms = 0 if level == "error" or action else 8000
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def _on_action_clicked(self) -> None:
        action = self._action
        self.dismiss()
        if action is not None:
            action()

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
        self.closed.emit()
