"""The notification strip: a message may carry one action button ("Open"), which runs once,
closes the message and keeps it from fading; the next message without one hides it."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ui.widgets.notification_bar import NotificationBar


def test_a_message_with_an_action(qtbot):
    bar = NotificationBar()
    qtbot.addWidget(bar)
    bar.show_message("Saved.", "success")
    assert bar.isVisible() and bar.action_button.isHidden()
    assert bar._timer.isActive()  # a plain notice fades

    opened = []
    bar.show_message("Scored x.smi.", "success", action=("Open", lambda: opened.append(1)))
    assert bar.action_button.isVisible() and bar.action_button.text() == "Open"
    assert not bar._timer.isActive()  # it waits for the user
    qtbot.mouseClick(bar.action_button, Qt.MouseButton.LeftButton)
    assert opened == [1] and bar.isHidden()

    bar.show_message("Another thing.", "info")
    assert bar.action_button.isHidden()
