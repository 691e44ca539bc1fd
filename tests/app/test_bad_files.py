"""The window facing bad files: each one gives one message naming the file and the problem, the
window stays up and usable, and the engine keeps running (a good file opens afterwards).

The files go through ``MainWindow.open_library``, where File > Open, drops and the command line
all arrive. ``main.py --screenshot`` on a broken workbook once aborted the process with SIGABRT
("QThread: Destroyed while thread 'DrugDeskEngine' is still running"): openpyxl's XML error
escaped ``run_gui`` before the engine was stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtWidgets import QDialog

from app.main_window import MainWindow
from resources import resource_path
from ui.library.panel import LibraryPanel

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "bad_inputs"
EXAMPLE = resource_path("demo/example_library.smi")
RANDOM_PARTS_XLSX = CORPUS / "xlsx" / "random_parts.xlsx"
BROKEN_SDF = CORPUS / "sdf" / "only_broken_records.sdf"


def _closed(window: MainWindow, panel: LibraryPanel) -> bool:
    return not shiboken6.isValid(panel) or window.libraries.tabs.indexOf(panel) < 0


def _open_and_wait(qtbot, window: MainWindow, path: Path) -> LibraryPanel | None:
    """Open ``path`` as File > Open does and wait until it loaded, failed or was refused."""
    panel = window.open_library(path)
    if panel is not None:
        qtbot.waitUntil(lambda: _closed(window, panel) or panel.library is not None, timeout=60_000)
    qtbot.waitUntil(window.notifications.isVisible, timeout=10_000)
    return None if panel is None or _closed(window, panel) else panel


def _random_zip_xlsx(path: Path) -> Path:
    """A zip archive of random bytes named .xlsx (no workbook parts at all)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.bin", np.random.default_rng(0).bytes(4096))
    return path


def _assert_window_usable(qtbot, window: MainWindow) -> None:
    """The engine still runs and a good file opens after the bad ones."""
    assert window.engine.is_running()
    good = window.open_library(EXAMPLE)
    assert good is not None
    qtbot.waitUntil(lambda: _closed(window, good) or good.library is not None, timeout=60_000)
    assert good.library is not None and good.library.n_records == 30
    assert window.libraries.tabs.currentWidget() is good


def test_broken_workbooks_and_a_binary_csv_each_give_one_error_naming_the_file(
    qtbot, main_window, tmp_path
):
    window = main_window
    binary_csv = tmp_path / "assay.csv"
    binary_csv.write_bytes(np.random.default_rng(1).bytes(8192))
    cases = [
        # The SIGABRT reproducer: zip parts that are random bytes; openpyxl raises an XML error.
        (RANDOM_PARTS_XLSX, "random_parts.xlsx"),
        (_random_zip_xlsx(tmp_path / "random.xlsx"), "random.xlsx"),
        (binary_csv, "assay.csv"),
    ]
    for path, name in cases:
        window.notifications.dismiss()
        assert _open_and_wait(qtbot, window, path) is None, name
        text = window.notifications.text()
        assert window.notifications.level == "error", text
        assert name in text
        assert "Traceback" not in text and "\n" not in text
        # The problem is said, not only the file: "not a readable Excel workbook", "binary"…
        assert len(text) > len(name) + 15, text
        assert window.libraries.tabs.count() == 0  # no half-open tab left behind
    _assert_window_usable(qtbot, window)


def test_files_without_any_readable_molecule_open_marked_invalid_with_a_warning(
    qtbot, main_window, tmp_path, monkeypatch
):
    window = main_window
    no_smiles = tmp_path / "weights.csv"
    no_smiles.write_text("name,weight\naspirin,180.2\ncaffeine,194.2\n")
    # No column looks like SMILES, so the window asks; the user takes the offered first column.
    monkeypatch.setattr(
        "ui.dialogs.column_picker.ColumnPickerDialog.exec",
        lambda dialog: QDialog.DialogCode.Accepted,
    )
    for path, n_records in ((no_smiles, 2), (BROKEN_SDF, 3)):
        window.notifications.dismiss()
        panel = _open_and_wait(qtbot, window, path)
        assert panel is not None and panel.library is not None
        # Every record is kept and marked invalid: nothing dropped, nothing passed as a molecule.
        assert panel.library.n_records == n_records
        assert panel.library.n_invalid == n_records
        text = window.notifications.text()
        assert window.notifications.level == "warning"
        assert path.name in text and "0 valid" in text
    _assert_window_usable(qtbot, window)


def test_cancelling_the_column_choice_for_a_table_without_smiles_opens_nothing(
    qtbot, main_window, tmp_path, monkeypatch
):
    no_smiles = tmp_path / "weights.csv"
    no_smiles.write_text("name,weight\naspirin,180.2\n")
    monkeypatch.setattr(
        "ui.dialogs.column_picker.ColumnPickerDialog.exec",
        lambda dialog: QDialog.DialogCode.Rejected,
    )
    assert main_window.open_library(no_smiles) is None
    assert main_window.libraries.tabs.count() == 0
    _assert_window_usable(qtbot, main_window)


class _OddError(Exception):
    """Not one of the errors the engine knows to be written for users."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_OddError("the reader tripped"), "_OddError: the reader tripped"),
        (SystemExit(3), "SystemExit: 3"),  # a library calling sys.exit() must not end a lane
    ],
    ids=["unexpected-exception", "system-exit"],
)
def test_any_exception_from_the_load_job_is_shown_and_the_lane_lives_on(
    qtbot, main_window, monkeypatch, error, expected
):
    import ui.library.loading as loading_module

    def failing_load(*args, **kwargs):
        raise error

    monkeypatch.setattr(loading_module, "load_library", failing_load)
    path = EXAMPLE
    assert _open_and_wait(qtbot, main_window, path) is None
    text = main_window.notifications.text()
    assert main_window.notifications.level == "error"
    assert path.name in text and expected in text
    monkeypatch.undo()
    _assert_window_usable(qtbot, main_window)


def test_any_exception_while_reading_a_table_head_is_shown(
    qtbot, main_window, tmp_path, monkeypatch
):
    """The table's first rows are read on the GUI thread (to choose the SMILES column): an error
    there that is not a ``LibraryReadError`` is shown too, not raised out of the slot."""
    import ui.library.loading as loading_module

    def failing_preview(path, *args, **kwargs):
        raise UnicodeError("odd bytes in the header")

    monkeypatch.setattr(loading_module, "preview_table", failing_preview)
    table = tmp_path / "table.csv"
    table.write_text("smiles\nCCO\n")
    assert _open_and_wait(qtbot, main_window, table) is None
    text = main_window.notifications.text()
    assert main_window.notifications.level == "error"
    assert "table.csv" in text and "odd bytes in the header" in text
    monkeypatch.undo()
    _assert_window_usable(qtbot, main_window)


def _run_python(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        DRUGDESK_CONFIG_DIR=str(tmp_path / "config"),
        DRUGDESK_DATA_DIR=str(tmp_path / "data"),
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=180, env=env
    )


def _assert_ended_normally(result: subprocess.CompletedProcess) -> None:
    # A negative code is a signal: -6 was SIGABRT from a QThread destroyed while running.
    assert result.returncode >= 0, (
        f"ended by {signal.Signals(-result.returncode).name}: {result.stderr}"
    )
    assert result.returncode == 0, result.stderr
    assert "QThread: Destroyed" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_screenshot_of_a_broken_workbook_exits_normally_and_says_why(tmp_path):
    out = tmp_path / "shot.png"
    result = _run_python(["main.py", "--screenshot", str(out), str(RANDOM_PARTS_XLSX)], tmp_path)
    _assert_ended_normally(result)
    lines = [line for line in result.stderr.splitlines() if "random_parts.xlsx" in line]
    assert lines, result.stderr  # the message reaches the terminal (the log's console handler)
    assert out.is_file() and out.stat().st_size > 0


@pytest.mark.slow
def test_any_error_opening_a_command_line_file_leaves_the_window_up(tmp_path):
    """Whatever ``open_library`` raises for a file named on the command line (here a bug
    planted in it), the window shows one line naming the file, opens the next file, and the
    process ends normally with its engine stopped."""
    out = tmp_path / "shot.png"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app import main_window\n"
        "opened = main_window.MainWindow.open_library\n"
        "def open_library(self, path, *args, **kwargs):\n"
        "    if Path(path).name == 'first.smi':\n"
        "        raise RuntimeError('planted failure\\nsecond line')\n"
        "    return opened(self, path, *args, **kwargs)\n"
        "main_window.MainWindow.open_library = open_library\n"
        "from app.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    first = tmp_path / "first.smi"
    first.write_text("CCO ethanol\n")
    result = _run_python(["-c", code, "--screenshot", str(out), str(first), str(EXAMPLE)], tmp_path)
    _assert_ended_normally(result)
    shown = [line for line in result.stderr.splitlines() if "first.smi" in line]
    assert len(shown) == 1 and "RuntimeError: planted failure" in shown[0], result.stderr
    assert "second line" not in result.stderr
    assert out.is_file() and out.stat().st_size > 0
