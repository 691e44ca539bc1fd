"""Python's cycle collector runs on the GUI thread only, on a timer.

Left alone, the collector runs in whichever thread happens to allocate when a threshold is
crossed: often an engine thread in the middle of a job. Collecting a reference cycle that holds a
Qt object (a closed tab's widgets, a timer, a model) then destroys that object on the wrong
thread; Qt objects must be destroyed by the thread they live in, and doing it elsewhere can crash
the process or deadlock it against the GUI thread. pyqtgraph's ``GarbageCollector`` exists for
the same reason; this one also keeps Python's own rule for the oldest generation (a full
collection only once the objects that reached it since the last one are a quarter of those it
held then), because a full collection walks the whole heap: 240 ms once torch, transformers and
VTK are imported.

Reference counting still frees everything that is not in a cycle at once, in any thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

# How often the GUI thread looks at the collector's counts (ms): short enough that garbage made
# by a busy engine thread is collected in small, quick steps.
CHECK_INTERVAL_MS = 100
# Python's rule (Modules/gcmodule.c): a full collection waits until the objects promoted to the
# oldest generation since the last one exceed this share of those that survived it.
FULL_COLLECTION_RATIO = 0.25


class GuiThreadCollector(QObject):
    """While started, automatic collection is off and :meth:`collect_due` runs on a timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled = gc.isenabled()
        self._long_lived_total = 0  # objects in the oldest generation after the last full one
        self._long_lived_pending = 0  # objects promoted there since

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._long_lived_total = len(gc.get_objects(generation=2))
        self._long_lived_pending = 0
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
        """Collect what Python's automatic collection would collect now; returns the number of
        unreachable objects found."""
        count0, count1, count2 = gc.get_count()
        threshold0, threshold1, threshold2 = self._thresholds
        if count0 <= threshold0:
            return 0
        if count1 <= threshold1:
            return gc.collect(0)
        full_due = self._long_lived_pending > self._long_lived_total * FULL_COLLECTION_RATIO
        if count2 > threshold2 and full_due:
            found = gc.collect(2)
            self._long_lived_total = max(
                0, self._long_lived_total + self._long_lived_pending - found
            )
            self._long_lived_pending = 0
            return found
        young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
        found = gc.collect(1)
        self._long_lived_pending += max(0, young - found)  # the survivors moved to the oldest
        return found
