"""A window layout saved by an earlier DrugDesk is restored as the user left it."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "compat"


def test_a_layout_saved_before_the_rework_is_restored(qtbot):
    from app.engine import InferenceEngine
    from app.main_window import MainWindow
    from core.paths import config_dir
    from core.settings import Settings

    config_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(CORPUS / "window_saved_before_the_rework.ini", config_dir() / "window.ini")
    engine = InferenceEngine()
    engine.start()
    window = MainWindow(Settings(), engine)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        assert not window.jobs_dock.isVisible()  # closed by the user (and hidden on short screens)
        assert window.dockWidgetArea(window.molecule_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
        assert window.molecule_dock.isVisible()
    finally:
        window.close()
