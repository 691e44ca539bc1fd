"""Start the window: application object, settings, engine, main window, screenshot mode."""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def create_application(argv: Sequence[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationName("DrugDesk")
    app.setOrganizationName("DrugDesk")
    app.setStyle("Fusion")
    from PySide6.QtGui import QIcon

    from resources import resource_path

    app.setWindowIcon(QIcon(str(resource_path("icons/drugdesk.svg"))))
    return app


def create_main_window():
    """Settings, engine and window, wired together; the engine is started."""
    from app.engine import InferenceEngine
    from app.main_window import MainWindow
    from core.settings import Settings

    settings = Settings.load()
    engine = InferenceEngine(device_preference=settings.compute_device)
    engine.inference_precision = settings.inference_precision
    engine.start()
    try:
        return MainWindow(settings, engine)
    except BaseException:
        # Qt aborts the process when a running QThread is destroyed: stop the engine first.
        engine.stop()
        raise


def _install_excepthook(window) -> None:
    """Show unexpected errors in the window instead of letting Qt abort the process."""

    def hook(exc_type, exc, tb):
        log.error(
            "Unhandled exception:\n%s", "".join(traceback.format_exception(exc_type, exc, tb))
        )
        try:
            window.show_error(
                f"Unexpected error: {exc_type.__name__}: {exc} (details in the log file)"
            )
        except Exception:  # the window itself may be what failed
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def run_gui(
    files: Sequence[Path] = (), screenshot: Path | None = None, area: str | None = None
) -> int:
    """Show the window, open ``files`` in it, then run the event loop (or save a picture of the
    window to ``screenshot`` and return). A file that cannot be opened is reported in the window
    and the others still open. The engine's threads are stopped on every way out: Qt aborts the
    process (SIGABRT) when a running ``QThread`` is destroyed at exit."""
    app = create_application()
    window = create_main_window()
    previous_hook = sys.excepthook
    try:
        # Objects made at start-up live as long as the window: keep the garbage collector from
        # walking them again and again (each full collection pauses every thread, the GUI's too).
        gc.freeze()
        _install_excepthook(window)
        window.show()
        _warm_up_in_background()
        if screenshot is None:  # a picture and exit: nothing to load later
            _compile_kernels_aside()
        for file in files:
            _open_from_command_line(window, Path(file))
        if area is not None:
            window.show_area(area)
        if screenshot is not None:
            return _take_screenshot(app, window, screenshot)
        return app.exec()
    finally:
        sys.excepthook = previous_hook
        _stop_engine(window.engine)


def _open_from_command_line(window, path: Path) -> None:
    """``window.open_library(path)``, with any error shown in the window as one line naming the
    file (the traceback goes to the log file only): one bad file must not end the program."""
    try:
        window.open_library(path)
    except Exception as exc:
        log.info("Opening %s failed", path, exc_info=True)  # the log file, not the terminal
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        window.show_error(
            f"Could not open {path.name}: {type(exc).__name__}" + (f": {text}" if text else "")
        )


def _stop_engine(engine) -> None:
    """Stop the engine's threads (a no-op when the window's close already did). If one does not
    end (a job stuck in native code), leave without running Python's and Qt's clean-up, which
    would destroy the running thread and abort the process with a core dump."""
    if not engine.is_running():
        return
    if engine.stop():
        return
    log.error("An engine job did not stop; leaving without waiting for it")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _warm_up_in_background() -> None:
    """Chemistry tables read on first use (see ``core.chem.descriptors.warm_up``), read beside
    the shown window instead of on the GUI thread when the first molecule is drawn."""
    import threading

    from core.chem.descriptors import warm_up

    def run() -> None:
        try:
            warm_up()
        except Exception:  # read again, and reported, where it is first needed
            logging.getLogger(__name__).exception("Warming up the chemistry tables failed")

    threading.Thread(target=run, name="DrugDesk warm-up", daemon=True).start()


def _compile_kernels_aside() -> subprocess.Popen | None:
    """Compile the numba kernels (alert screen, similarity search) in a process of its own,
    once per version (a few seconds; :mod:`core.chem.numba_warmup`): compiled in this process,
    by the first library loaded or search run, they would hold the interpreter lock beside the
    event loop (gaps of 0.2 s measured). Nothing when they are compiled already, numba is
    missing or this is not a plain Python interpreter."""
    from core.chem.numba_warmup import ready_marker

    if getattr(sys, "frozen", False) or importlib.util.find_spec("numba") is None:
        return None
    try:
        if ready_marker().exists():
            return None
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                # At low priority: on two cores it must not slow the window it serves.
                "import os\nif hasattr(os, 'nice'): os.nice(10)\n"
                "from core.chem.numba_warmup import compile_all\ncompile_all()",
            ],
            cwd=str(Path(__file__).resolve().parent.parent),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:  # compiled where first needed instead
        log.info("Could not start compiling the screen's kernels aside", exc_info=True)
        return None


def _take_screenshot(app, window, path: Path) -> int:
    from PySide6.QtCore import QThread

    ok = window.wait_for_loads()
    # Let layouts settle and lazy structure pictures paint before grabbing.
    for _ in range(20):
        app.processEvents()
        QThread.msleep(20)
    if "vtkmodules" in sys.modules:  # a 3D view is open: grab() alone leaves it black
        from ui.vtk_support import grab_widget

        picture = grab_widget(window)
    else:
        picture = window.grab()
    from core.fileio import OutputError, atomic_path

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic, and a full disk is reported: QPixmap.save says only True or False. The
        # temporary name keeps the suffix, by which Qt picks the format.
        with atomic_path(path) as temporary:
            if not picture.save(str(temporary)):
                raise OutputError.about(
                    path, "Qt could not write the picture (check the suffix and the free space)"
                )
    except OSError as exc:
        window.close()
        print(f"drugdesk: error: screenshot not saved. {exc}", file=sys.stderr)
        return 1
    window.close()
    if not ok:
        print(
            "drugdesk: warning: a library was still loading when the picture was taken",
            file=sys.stderr,
        )
    print(f"Saved {path}", file=sys.stderr)
    return 0
