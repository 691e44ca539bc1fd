"""The background project writer: saves in order on its own thread, reports each save (or its
error) through the callback, keeps going after a failure, and stops cleanly."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from core.chem.library import Library
from core.project.store import LibraryState, ProjectState, ProjectStore, read_project
from core.project.writer import ProjectWriter


def state(k: int, n: int = 50) -> ProjectState:
    table = pd.DataFrame({"k": np.full(n, k), "text": [f"row{i}-{k}" for i in range(n)]})
    return ProjectState([LibraryState("lib", f"title {k}", Library(table=table))], {"k": k})


class Calls:
    """Records ``on_done`` calls and the thread each came on."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, ticket: int, error: str) -> None:
        with self.lock:
            self.calls.append((ticket, error))
            self.threads.add(threading.current_thread().name)


@pytest.fixture
def store(tmp_path):
    store = ProjectStore(tmp_path / "p.drugdesk", create=True)
    yield store
    store.close()


def test_saves_run_in_order_on_the_writer_thread_and_the_last_one_wins(store):
    calls = Calls()
    writer = ProjectWriter(store, calls)
    for k in range(5):
        writer.submit(state(k), ticket=k)
    assert writer.wait_idle(30)
    assert writer.stop(30)
    assert not writer.is_running()
    assert calls.calls == [(k, "") for k in range(5)]
    assert calls.threads == {"project-writer"}
    contents = read_project(store.path)
    assert contents.settings == {"k": 4}
    assert contents.libraries[0].title == "title 4"
    assert contents.libraries[0].library.table["k"].tolist() == [4] * 50


def test_a_failed_save_is_reported_and_the_next_one_still_runs(store):
    calls = Calls()
    writer = ProjectWriter(store, calls)
    writer.submit(state(1), ticket=1)
    # A library new to the file without its table: the store refuses it (ProjectError).
    writer.submit(ProjectState([LibraryState("other", "no table", None)]), ticket=2)
    writer.submit(state(3), ticket=3)
    assert writer.wait_idle(30)
    writer.stop(30)
    tickets = [ticket for ticket, _ in calls.calls]
    assert tickets == [1, 2, 3]
    assert calls.calls[0][1] == "" and calls.calls[2][1] == ""
    assert "no table" in calls.calls[1][1] and str(store.path) in calls.calls[1][1]
    assert read_project(store.path).settings == {"k": 3}


def test_an_unexpected_error_is_reported_not_lost(store, monkeypatch):
    calls = Calls()

    def broken(_state, **_kwargs):
        raise RuntimeError("disk controller on fire")

    monkeypatch.setattr(store, "write", broken)
    writer = ProjectWriter(store, calls)
    writer.submit(state(1), ticket=7)
    assert writer.wait_idle(30)
    writer.stop(30)
    ((ticket, error),) = calls.calls
    assert ticket == 7
    assert error.startswith(f"Could not save {store.path}: RuntimeError: disk controller on fire")


def test_a_callback_that_raises_does_not_stop_the_writer(store):
    seen = []

    def on_done(ticket: int, error: str) -> None:
        seen.append(ticket)
        raise ValueError("the window is gone")

    writer = ProjectWriter(store, on_done)
    writer.submit(state(1), ticket=1)
    writer.submit(state(2), ticket=2)
    assert writer.wait_idle(30)
    assert writer.is_running()
    assert writer.stop(30)
    assert seen == [1, 2]
    assert read_project(store.path).settings == {"k": 2}


def test_stop_finishes_the_queued_saves_first_and_leaves_the_store_open(store):
    calls = Calls()
    writer = ProjectWriter(store, calls)
    for k in range(3):
        writer.submit(state(k, n=2000), ticket=k)
    assert writer.stop(60)
    assert [ticket for ticket, _ in calls.calls] == [0, 1, 2]
    assert not writer.is_running()
    # The store is the caller's again: it can still be used after the writer ended.
    store.write(state(9))
    assert store.read().settings == {"k": 9}


def test_wait_idle_times_out_while_a_save_is_blocked(store):
    release = threading.Event()
    calls = Calls()
    original = store.write

    def slow(state_, **kwargs):
        release.wait(30)
        original(state_, **kwargs)

    store.write = slow
    writer = ProjectWriter(store, calls)
    writer.submit(state(1), ticket=1)
    try:
        assert writer.wait_idle(0.05) is False
        assert calls.calls == []
    finally:
        release.set()
    assert writer.wait_idle(30)
    assert writer.stop(30)
    assert calls.calls == [(1, "")]
