"""Compiling the numba kernels ahead of their first use, in a process of its own.

numba compiles a kernel on its first call (seconds) and keeps it in the data folder's cache.
Compiled in the window's process, by the first small library loaded or the first similarity
search, the compiler holds the interpreter lock beside the event loop (gaps of 0.2 s on the GUI
thread, measured); ``app.gui`` therefore runs :func:`compile_all` in a separate process at the
first start of each version, marked by :func:`ready_marker` once done.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

_log = logging.getLogger(__name__)

_KERNEL_SOURCES = ("_screen_kernels.py", "atom_screen.py", "search.py")
"""The files whose kernels are compiled; a change to any of them compiles again."""


def ready_marker() -> Path:
    """A file saying that this version's kernels are in the numba cache (its name carries
    numba's version and a digest of the kernels' source files)."""
    from core.chem.search import _numba_cache_dir

    digest = hashlib.sha256()
    folder = Path(__file__).parent
    for name in _KERNEL_SOURCES:
        digest.update((folder / name).read_bytes())
    try:
        from importlib.metadata import version

        numba_version = version("numba")
    except Exception:  # numba missing: nothing to compile
        numba_version = "none"
    return Path(_numba_cache_dir()) / f"kernels-{numba_version}-{digest.hexdigest()[:16]}.ready"


def compile_all() -> bool:
    """Compile the alert screen's and the similarity search's kernels; write the marker when
    both compiled. Returns whether they did."""
    from core.chem.screen import compile_kernels as compile_screen
    from core.chem.search import compile_kernels as compile_search

    try:
        done = compile_screen() and compile_search()
    except Exception:  # where they are first needed they compile again, or numpy runs
        _log.exception("Compiling the numba kernels failed")
        return False
    if done:
        marker = ready_marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("compiled\n", encoding="utf-8")
    return done


__all__ = ["compile_all", "ready_marker"]
