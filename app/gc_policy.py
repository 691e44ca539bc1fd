"""Python's cycle collector runs on the GUI thread only, on a timer.

Left alone, the collector runs in whichever thread happens to allocate when a threshold is
crossed: often an engine thread in the middle of a job. Collecting a reference cycle that holds a
Qt object (a closed tab's widgets, a timer, a model) then destroys that object on the wrong
thread; Qt objects must be destroyed by the thread they live in, and doing it elsewhere can crash
the process or deadlock it against the GUI thread. pyqtgraph's ``GarbageCollector`` exists for
the same reason; this one also collects the oldest generation less eagerly, as Python itself
does, so a large heap is not walked every few seconds.

Reference counting still frees everything that is not in a cycle at once, in any thread.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

# How often the GUI thread looks at the collector's counts (ms): short enough that garbage made
# by a busy engine thread is collected in small, quick steps.
CHECK_INTERVAL_MS = 100
# A full collection walks every object; Python waits until a quarter of the heap is new, this
# waits at least this long between two (seconds).
FULL_COLLECTION_INTERVAL_S = 10.0


class GuiThreadCollector(QObject):
    """While started, automatic collection is off and :meth:`collect_due` runs on a timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        self._last_full = time.monotonic()
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect what is left, here, and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def is_active(self) -> bool:
        return self._timer.isActive()

    def collect_due(self) -> int:
        """Collect the generations whose counts passed Python's own thresholds; returns the
        number of unreachable objects found."""
        count0, count1, count2 = gc.get_count()
        threshold0, threshold1, threshold2 = self._thresholds
        if count0 <= threshold0:
            return 0
        generation = 0
        if count1 > threshold1:
            generation = 1
            now = time.monotonic()
            if count2 > threshold2 and now - self._last_full >= FULL_COLLECTION_INTERVAL_S:
                generation = 2
                self._last_full = now
        return gc.collect(generation)
