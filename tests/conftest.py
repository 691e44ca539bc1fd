"""Test set-up shared by every test: no display needed, nothing written to the user's folders,
no thread left running."""

from __future__ import annotations

import faulthandler
import gc
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
def _no_model_host_left():
    """A test that used the process's shared model host (the command line does) ends its worker:
    other tests count child processes, and an idle host would outlive the run."""
    yield
    import sys

    modelhost = sys.modules.get("core.modelhost")
    if modelhost is not None:
        modelhost.close_shared_host()


# A test that blocks with Python's lock (the GIL) held, as a deadlock inside Qt or a C++ library
# does, stops pytest-timeout too (its timer is Python code). faulthandler's watchdog is a C thread:
# it prints every thread's Python stack and ends the run, so such a hang fails in minutes with the
# evidence instead of holding CI until its limit. It fires after pytest-timeout would have.
WATCHDOG_S = float(os.environ.get("DRUGDESK_TEST_WATCHDOG_S", "420"))
_watchdog_fd: int | None = None


def pytest_configure(config):
    global _watchdog_fd
    # The real stderr, duplicated before tests capture file descriptor 2.
    _watchdog_fd = os.dup(2)


def pytest_unconfigure(config):
    # The end of the run (threads joined, interpreter shut down) is watched too; a normal exit
    # ends the watchdog with the process.
    if _watchdog_fd is not None:
        faulthandler.dump_traceback_later(120, exit=True, file=_watchdog_fd)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Around each test: the watchdog; for a Qt test, the cycle collector held back (below)."""
    qt_test = "qapp" in item.fixturenames or "qtbot" in item.fixturenames
    if _watchdog_fd is not None:
        faulthandler.dump_traceback_later(WATCHDOG_S, exit=True, file=_watchdog_fd)
    was_enabled = gc.isenabled()
    older_collections = _older_collections()
    if qt_test:
        gc.disable()
    try:
        return (yield)
    finally:
        if qt_test:
            # Still watched: destroying widgets is where Qt can block.
            _free_qt_objects_here(full=_older_collections() != older_collections)
            if was_enabled:
                gc.enable()
        faulthandler.cancel_dump_traceback_later()


def _older_collections() -> int:
    """How many collections of the two older generations have run (which move objects out of
    the youngest)."""
    stats = gc.get_stats()
    return stats[1]["collections"] + stats[2]["collections"]


def _free_qt_objects_here(full: bool) -> None:
    """Qt objects must be destroyed by the thread they live in. Python's cycle collector runs in
    whichever thread allocates when a threshold is crossed; during a Qt test that is often an
    engine thread, which would then destroy an earlier test's window, timers and models there.
    A test's main window is owned by Python and held in cycles (its slots), so collection waits
    during a Qt test, and when the test is over (its engines stopped, its fixtures released) its
    deleted widgets and cycles are freed here, on the GUI thread. In the app the main window
    lives until the end, and a closed tab leaves nothing Python owns (tests/app/
    test_qt_ownership.py).

    With collection off, everything the test made is still in the youngest generation, so
    collecting the young generations finds its cycles without walking the whole heap (a full
    collection takes 0.2 s once torch is imported); only a test that itself collected an older
    generation (which moves its objects to the oldest) needs a full one."""
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect(2 if full else 1)


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
def make_window(qtbot):
    """``make_window()``: a new main window with its engine running, shown (a test may open
    several, e.g. to reopen a project in a second window); each is closed afterwards, its engine
    stopped and its project file let go."""
    from app.engine import InferenceEngine
    from app.main_window import MainWindow
    from core.settings import Settings

    windows = []

    def make() -> MainWindow:
        engine = InferenceEngine()
        engine.start()
        window = MainWindow(Settings(), engine)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.engine.is_running()
        assert window.project.writer is None


@pytest.fixture
def main_window(make_window):
    """The main window with its engine running, shown; closed (engine stopped) afterwards."""
    return make_window()


@pytest.fixture
def example_panel(qtbot, main_window):
    """The example library (30 drugs, a salt, a duplicate, two broken records), loaded."""
    from resources import resource_path

    panel = main_window.open_library(resource_path("demo/example_library.smi"))
    qtbot.waitUntil(lambda: panel.library is not None, timeout=60_000)
    return panel


# A tiny SMILES RoBERTa (hidden 32, two layers) pretrained for two steps: what the model tests
# fine-tune. The numbers it gives mean nothing; the plumbing around it is what they check.

TINY_SMILES = (
    "CCO", "CCN", "CCC", "CCCl", "CCBr", "c1ccccc1", "c1ccncc1", "c1ccoc1", "CC(=O)O", "CC(=O)N",
    "CCOC", "CCCO", "CCCN", "CCCCl", "c1ccc(O)cc1", "c1ccc(N)cc1", "c1ccc(Cl)cc1", "OCCO", "NCCN",
    "CC(C)O", "CC(C)N", "CC(C)Cl", "C1CCCCC1", "C1CCNCC1", "C1CCOCC1", "CCSC", "CCS", "CC#N",
    "C=CC", "C=CCO", "OC(=O)c1ccccc1", "Nc1ccc(Br)cc1", "CN(C)C", "COC(=O)C", "CCOCC", "ClCCl",
    "BrCCBr", "OCC(O)CO", "CC(C)(C)O", "c1ccc2ccccc2c1",
)  # fmt: skip


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures(...)``): the
    tiny models train no slower, and the tests running beside them keep their cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_smiles() -> list[str]:
    """Forty small molecules: the tiny model's corpus, and a table for it to learn."""
    return list(TINY_SMILES)


@pytest.fixture(scope="session")
def pretrain_tiny(tmp_path_factory):
    """``pretrain_tiny(smiles)``: the folder ``tiny`` of a tiny model pretrained on ``smiles``
    (its vocabulary is theirs). Pretraining is seeded, so one model per corpus serves the whole
    session; it is built on one torch thread, as every test that uses it runs."""
    built: dict[tuple[str, ...], Path] = {}

    def pretrain(smiles) -> Path:
        key = tuple(smiles)
        if key not in built:
            import torch

            from core.models import transformer as tf

            out = tmp_path_factory.mktemp("pre") / "tiny"
            size = tf.ModelSize(
                hidden=32, layers=2, heads=2, intermediate=64, max_length=64, dropout=0.0
            )
            options = tf.PretrainOptions(
                size=size, steps=2, batch_size=8, n_valid=4, eval_every=2, device="cpu"
            )
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                tf.pretrain(list(smiles), out, options, device="cpu")
            finally:
                torch.set_num_threads(before)
            built[key] = out
        return built[key]

    return pretrain


@pytest.fixture(scope="session")
def tiny_pretrained(pretrain_tiny, tiny_smiles) -> Path:
    """The tiny model pretrained on ``tiny_smiles``."""
    return pretrain_tiny(tiny_smiles)


@pytest.fixture
def target_services(monkeypatch):
    """A loopback stand-in of UniProt, RCSB and AlphaFold DB (``tests/target_services.py``) with
    every ``DRUGDESK_*_URL`` pointed at it: target lookup tests never reach the real services."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "target_services", Path(__file__).with_name("target_services.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.TargetServices(monkeypatch) as services:
        yield services


@pytest.fixture(scope="session")
def make_tiny_regression_model():
    """``make(folder, smiles)``: a SMILES transformer of 2 layers, width 32, pretrained for two
    steps and fine-tuned one epoch on ``smiles`` (target ``logS`` = 0, 1, 2…; 12 train, 4 valid)
    in ``folder/model`` (seconds on a CPU); returns that folder, resolved."""
    import torch

    from core.models import transformer as tf

    size = tf.ModelSize(hidden=32, layers=2, heads=2, intermediate=64, max_length=64, dropout=0.0)

    def make(folder: Path, smiles: list[str]) -> Path:
        torch.set_num_threads(1)
        options = tf.PretrainOptions(
            size=size, steps=2, batch_size=8, n_valid=4, eval_every=2, device="cpu"
        )
        tf.pretrain(smiles, folder / "pre", options, device="cpu")
        tf.finetune(
            folder / "pre",
            smiles,
            np.arange(len(smiles), dtype=float),
            "regression",
            np.arange(12),
            np.arange(12, 16),
            tf.FinetuneOptions(epochs=1, device="cpu"),
            target_names=["logS"],
            output_dir=folder / "model",
            device="cpu",
        )
        return (folder / "model").resolve()

    return make


@pytest.fixture(scope="module")
def scheduler():
    """The ``tcp://`` address of a Dask cluster of two worker processes, one per test module
    that asks (the cluster jobs' and the window's cluster tests reach it as a scheduler the user
    runs would be reached)."""
    import logging
    import warnings

    from distributed import LocalCluster

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
