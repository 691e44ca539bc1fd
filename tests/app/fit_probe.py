"""Run by tests/app/test_screen_fit.py in a process of its own (the screen size is fixed when Qt
starts): build the window on the screen given on the command line, open a library from a long
folder path, the 3D tab and every area, and print the window's size and minimum size after each
step as JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    library_path = Path(sys.argv[1])
    from app.gui import create_application, create_main_window

    app = create_application(sys.argv[:1])
    window = create_main_window()
    window.show()

    def settle() -> None:
        for _ in range(40):
            app.processEvents()

    def report(step: str) -> None:
        settle()
        screen = window.screen().availableGeometry()
        frame = window.frameGeometry()
        needed = window.layout().minimumSize()
        print(
            json.dumps(
                {
                    "step": step,
                    "screen": [screen.width(), screen.height()],
                    "window": [frame.width(), frame.height()],
                    "needed": [needed.width(), needed.height()],
                    "inside": screen.contains(frame),
                }
            ),
            flush=True,
        )

    report("start")
    window.open_library(library_path)
    window.wait_for_loads()
    report("library")
    workspace = window.molecule_workspace
    workspace.tabs.setCurrentIndex(workspace.tabs.indexOf(workspace._viewer_placeholder))
    report("3D tab")
    from app.areas import AREAS

    for area in AREAS:
        window.show_area(area.key)
        report(area.key)
    # Jobs the areas started (reading demo data, detecting the device) finish before closing, so
    # a busy machine cannot make the engine's stop time out.
    from PySide6.QtCore import QThread

    for _ in range(3000):
        if not window.engine.active_jobs():
            break
        app.processEvents()
        QThread.msleep(20)
    print(json.dumps({"jobs": [job.title for job in window.engine.active_jobs()]}), flush=True)
    window.close()
    settle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
