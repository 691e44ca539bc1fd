"""A closed library tab leaves no Qt object for Python's cycle collector to destroy.

The collector runs in whichever thread allocates when a threshold is crossed, often an engine
thread. A Qt object owned by Python (made without a parent) and caught in a reference cycle is
destroyed by that collection, on that thread; Qt objects must die on the thread they live in.
Widgets with a parent are deleted by Qt, on the GUI thread, when the tab is deleted.
"""

from __future__ import annotations

import gc
from collections import Counter

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject

from resources import resource_path


def python_owned_qt_objects_in_garbage() -> Counter:
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(0)
    found: Counter = Counter()
    for obj in gc.garbage:
        if isinstance(obj, QObject) and shiboken6.isValid(obj) and shiboken6.ownedByPython(obj):
            found[f"{type(obj).__module__}.{type(obj).__qualname__}"] += 1
    gc.garbage.clear()
    return found


@pytest.mark.parametrize("chart_shown", [False, True])
def test_a_closed_tab_leaves_no_python_owned_qt_object(qtbot, main_window, chart_shown):
    panel = main_window.open_library(resource_path("demo/example_library.smi"))
    qtbot.waitUntil(lambda: panel.library is not None, timeout=60_000)
    tools = None
    if chart_shown:  # the chart builds its plots when first shown
        tools = panel.side_panel
        tools.setCurrentWidget(tools.chart)
        qtbot.waitUntil(lambda: tools.chart.scatter_widget is not None)
    panel.filter_bar.add_range("mw", 150, 400)
    panel.view.selectRow(2)
    gc.collect()  # what is garbage already is not the tab's
    main_window.libraries.close_tab(main_window.libraries.tabs.indexOf(panel))
    panel = tools = None  # the test keeps no reference to the tab
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert python_owned_qt_objects_in_garbage() == Counter()
