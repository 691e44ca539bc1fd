"""Cycles holding Qt objects are collected on the GUI thread, never in a worker thread."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QObject

from app.gc_policy import GuiThreadCollector


class _Node:
    """A reference cycle that holds a Qt object, as a closed panel's widgets and lambdas do."""

    def __init__(self) -> None:
        self.qt_object = QObject()
        self.self_reference = self


def _drop_a_cycle() -> tuple[list[int], threading.Event]:
    """Make a cycle with a Qt object and drop it; returns where and when it was freed."""
    freed_on: list[int] = []
    freed = threading.Event()
    node = _Node()
    weakref.finalize(node, lambda: (freed_on.append(threading.get_ident()), freed.set()))
    del node
    return freed_on, freed


_survivors: list = []


def _allocate_in_a_worker() -> None:
    """Allocations enough to cross every collection threshold, made by another thread."""

    def churn() -> None:
        kept = []
        for i in range(200_000):
            kept.append([i])  # containers: tracked, counted by the collector
            if len(kept) > 1_000:
                kept.clear()
        _survivors.extend([i] for i in range(5_000))  # allocations that outlive the worker

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()


@pytest.fixture
def automatic_collection():
    """Python's default (Qt tests run with it off, see tests/conftest.py)."""
    gc.enable()
    yield
    gc.disable()


@pytest.fixture
def collector(qapp, automatic_collection):
    collector = GuiThreadCollector()
    collector.start()
    yield collector
    collector.stop()


def test_without_the_policy_a_worker_collects_qt_objects(qapp, automatic_collection):
    freed_on, freed = _drop_a_cycle()
    _allocate_in_a_worker()
    assert freed.is_set() and freed_on != [threading.get_ident()]


def test_a_worker_that_allocates_does_not_collect_qt_objects(qtbot, collector):
    freed_on, freed = _drop_a_cycle()
    _allocate_in_a_worker()
    assert not freed.is_set()  # without the policy, the worker's allocations collect it there
    qtbot.waitUntil(freed.is_set, timeout=5_000)  # the GUI thread's timer collects it
    assert freed_on == [threading.get_ident()]


def test_start_turns_automatic_collection_off_and_stop_back_on(qapp, automatic_collection):
    assert gc.isenabled()
    collector = GuiThreadCollector()
    collector.start()
    assert not gc.isenabled() and collector.is_active()
    freed_on, freed = _drop_a_cycle()
    collector.stop()
    assert gc.isenabled() and not collector.is_active()
    assert freed.is_set() and freed_on == [threading.get_ident()]  # stop collects what is left


def test_a_full_collection_waits_for_a_quarter_more_long_lived_objects(qapp, monkeypatch):
    """Python's own rule: a full collection walks the whole heap (240 ms with torch imported)."""
    collector = GuiThreadCollector()
    collector._long_lived_total = 1_000
    monkeypatch.setattr(gc, "get_count", lambda: (10_000, 100, 100))
    young = {0: 120, 1: 30}  # 150 objects in the young generations at each check
    monkeypatch.setattr(gc, "get_objects", lambda generation=None: [None] * young[generation])
    generations: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: generations.append(generation) or 0)
    for _ in range(4):
        collector.collect_due()
    # 150 and 150 survivors promoted: 300 > 1,000 / 4, so the third check collects everything,
    # and the next full one waits for a quarter of 1,300.
    assert generations == [1, 1, 2, 1]
    assert collector._long_lived_total == 1_300


def test_only_the_youngest_generation_while_its_count_is_what_grew(qapp, monkeypatch):
    collector = GuiThreadCollector()
    monkeypatch.setattr(gc, "get_count", lambda: (10_000, 0, 0))
    generations: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: generations.append(generation) or 0)
    collector.collect_due()
    assert generations == [0]


def test_nothing_is_collected_below_the_first_threshold(qapp, monkeypatch):
    collector = GuiThreadCollector()
    monkeypatch.setattr(gc, "get_count", lambda: (0, 0, 0))
    monkeypatch.setattr(gc, "collect", lambda generation=2: pytest.fail("collected"))
    assert collector.collect_due() == 0
