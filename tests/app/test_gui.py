"""app.gui: what the window's start-up does beside the event loop."""

from __future__ import annotations

import subprocess
import sys

from app import gui
from core.chem import numba_warmup


def test_the_numba_kernels_are_compiled_aside_once(monkeypatch):
    started = []

    class Recorder:
        def __init__(self, args, **kwargs):
            started.append((args, kwargs))

    monkeypatch.setattr(subprocess, "Popen", Recorder)
    assert gui._compile_kernels_aside() is not None
    ((args, kwargs),) = started
    assert args[0] == sys.executable and "compile_all()" in args[-1]
    assert kwargs["stdout"] is subprocess.DEVNULL  # never writes into the terminal

    # Compiled already (this version): nothing started.
    marker = numba_warmup.ready_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("compiled\n")
    assert gui._compile_kernels_aside() is None and len(started) == 1


def test_no_compiling_aside_in_a_frozen_build(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert gui._compile_kernels_aside() is None
