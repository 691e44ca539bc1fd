"""The drawn desirability curve: points dragged, added and removed with the mouse."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from ui.hitlist.curve_editor import DesirabilityCurve, nice_ticks


@pytest.fixture
def curve(qtbot):
    widget = DesirabilityCurve()
    qtbot.addWidget(widget)
    widget.resize(300, 160)
    widget.set_values(np.array([150.0, 250.0, 350.0, 450.0, 550.0]), "MW (Da)")
    widget.set_piecewise(((360.0, 1.0), (500.0, 0.0)))
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _screen(widget, x, d) -> QPoint:
    return widget._to_screen(x, d).toPoint()


def test_dragging_a_point_moves_it_and_reports_the_new_points(qtbot, curve):
    start = _screen(curve, 360.0, 1.0)
    target = _screen(curve, 300.0, 0.5)
    with qtbot.waitSignal(curve.points_changed) as signal:
        qtbot.mousePress(curve, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(curve, target)
        qtbot.mouseRelease(curve, Qt.MouseButton.LeftButton, pos=target)
    (points,) = signal.args
    (x, d), second = points
    assert x == pytest.approx(300.0, abs=5.0)
    assert d == pytest.approx(0.5, abs=0.05)
    assert second == (500.0, 0.0)
    assert curve.selected == 0


def test_a_point_cannot_pass_its_neighbour(qtbot, curve):
    start = _screen(curve, 360.0, 1.0)
    beyond = _screen(curve, 560.0, 1.0)
    qtbot.mousePress(curve, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(curve, beyond)
    qtbot.mouseRelease(curve, Qt.MouseButton.LeftButton, pos=beyond)
    xs = [x for x, _ in curve.points]
    assert xs[0] < xs[1] == 500.0


def test_double_click_adds_and_removes_points(qtbot, curve):
    empty = _screen(curve, 430.0, 0.9)
    qtbot.mouseDClick(curve, Qt.MouseButton.LeftButton, pos=empty)
    assert len(curve.points) == 3
    assert curve.points[1][0] == pytest.approx(430.0, abs=5.0)
    qtbot.mouseDClick(curve, Qt.MouseButton.LeftButton, pos=_screen(curve, *curve.points[1]))
    assert curve.points == [(360.0, 1.0), (500.0, 0.0)]
    # Two points is the least a curve has: a third double-click removes nothing.
    qtbot.mouseDClick(curve, Qt.MouseButton.LeftButton, pos=_screen(curve, 360.0, 1.0))
    assert len(curve.points) == 2


def test_logistic_handles_move_the_thresholds_sideways(qtbot, curve):
    curve.set_logistic(450.0, 550.0)
    start = _screen(curve, 450.0, 0.95)
    target = _screen(curve, 400.0, 0.2)
    with qtbot.waitSignal(curve.thresholds_changed) as signal:
        qtbot.mousePress(curve, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(curve, target)
        qtbot.mouseRelease(curve, Qt.MouseButton.LeftButton, pos=target)
    good, bad = signal.args
    assert good == pytest.approx(400.0, abs=5.0) and bad == 550.0
    assert curve.desirability(np.array([good]))[0] == pytest.approx(0.95)


def test_axis_ticks_are_round_numbers():
    assert nice_ticks(46.0, 600.0, 6) == [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    assert nice_ticks(46.0, 600.0, 3) == [200.0, 400.0, 600.0]
    assert nice_ticks(0.0, 1.0, 4) == [0.0, 0.25, 0.5, 0.75, 1.0]
