"""core.chem.numba_warmup: the kernels compiled ahead of their first use, marked when done."""

from __future__ import annotations

import importlib.util

import pytest

from core.chem import numba_warmup


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
def test_compile_all_marks_this_version_ready():
    marker = numba_warmup.ready_marker()
    assert not marker.exists()  # each test has its own data folder
    assert numba_warmup.compile_all()
    assert marker.exists() and marker.name.startswith("kernels-")


def test_a_failure_leaves_no_marker(monkeypatch):
    from core.chem import search

    def broken():
        raise RuntimeError("cannot compile here")

    monkeypatch.setattr(search, "compile_kernels", broken)
    assert not numba_warmup.compile_all()
    assert not numba_warmup.ready_marker().exists()


def test_the_marker_names_numba_and_the_sources():
    first = numba_warmup.ready_marker()
    assert first.parent.name == "numba" and first.suffix == ".ready"
    assert numba_warmup.ready_marker() == first  # the same files, the same name
