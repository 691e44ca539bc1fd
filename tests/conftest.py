"""Test set-up shared by every test: no display needed, nothing written to the user's folders,
no thread left running."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports Qt: without a display, use Qt's offscreen platform.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep settings, logs and data of the test run away from the user's own.
_HOME = Path(tempfile.mkdtemp(prefix="drugdesk-tests-"))
os.environ["DRUGDESK_CONFIG_DIR"] = str(_HOME / "config")
os.environ["DRUGDESK_DATA_DIR"] = str(_HOME / "data")
# No test may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets empty config and data folders."""
    monkeypatch.setenv("DRUGDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DRUGDESK_DATA_DIR", str(tmp_path / "data"))
    yield


@pytest.fixture(autouse=True)
def _no_thread_left_running(request):
    """Fail a test that leaves a QThread running (as napari's conftest does)."""
    if "qapp" not in request.fixturenames and "qtbot" not in request.fixturenames:
        yield
        return
    from PySide6.QtCore import QThread

    started: list[QThread] = []
    original_start = QThread.start

    def recording_start(self, *args, **kwargs):
        started.append(self)
        return original_start(self, *args, **kwargs)

    QThread.start = recording_start
    try:
        yield
    finally:
        QThread.start = original_start
    running = [t for t in started if t.isRunning()]
    for thread in running:
        thread.quit()
        thread.wait(2000)
    assert not running, (
        f"test left {len(running)} thread(s) running: {[t.objectName() for t in running]}"
    )


# Widgets that embed VTK: without a display the interactors render off screen through EGL
# (ui/vtk_support.py). Every VTK widget must be finalised before Qt destroys it.


@pytest.fixture
def finalize_later():
    """``finalize_later(widget)``: call its ``close_view()`` (or ``Finalize()``) after the test."""
    widgets = []
    yield widgets.append
    for widget in reversed(widgets):
        close = getattr(widget, "close_view", None) or widget.Finalize
        close()


@pytest.fixture
def vtk_image():
    """``vtk_image(render_window)``: what VTK drew, as a ``(height, width, 3)`` uint8 array."""
    from ui.vtk_support import render_window_image

    def grab(render_window) -> np.ndarray:
        return render_window_image(render_window)

    return grab


@pytest.fixture
def main_window(qtbot):
    """The main window with its engine running, shown; closed (engine stopped) afterwards."""
    from app.engine import InferenceEngine
    from app.main_window import MainWindow
    from core.settings import Settings

    engine = InferenceEngine()
    engine.start()
    window = MainWindow(Settings(), engine)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()
    assert not engine.is_running()


@pytest.fixture
def example_panel(qtbot, main_window):
    """The example library (30 drugs, a salt, a duplicate, two broken records), loaded."""
    from resources import resource_path

    panel = main_window.open_library(resource_path("demo/example_library.smi"))
    qtbot.waitUntil(lambda: panel.library is not None, timeout=60_000)
    return panel
