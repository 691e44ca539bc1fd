"""The model host: one worker process runs the jobs, relays progress, partial results and
cancel, reports its own death, restarts on the next job, and keeps torch out of the caller.

The jobs are this module's functions: the worker imports them by name, or, when that name leads
elsewhere (pytest's importlib mode, a ``tests`` package in site-packages), from this file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from core.compute import DeviceInfo
from core.jobs import JobCancelled, check_cancelled
from core.modelhost import ModelHost, ModelHostCrashed, ModelHostError

REPO_ROOT = Path(__file__).resolve().parents[2]

# ----------------------------------------------------------------------------------------------
# Jobs (module level: the worker imports them)


def add(a, b, *, progress, is_cancelled):
    progress(1.0, "added")
    return a + b


def worker_pid(*, progress, is_cancelled):
    return os.getpid()


def doubled(frame, *, progress, is_cancelled):
    return frame.assign(double=frame["x"] * 2)


def counted(n, *, progress, is_cancelled, report_partial):
    for i in range(n):
        report_partial(i)
        progress((i + 1) / n, f"step {i + 1}")
    return "counted"


def until_cancelled(*, progress, is_cancelled, report_partial):
    i = 0
    while True:
        check_cancelled(is_cancelled)
        report_partial(i)
        i += 1
        time.sleep(0.01)


class BadColumn(ValueError):
    pass


def fails(*, progress, is_cancelled):
    raise BadColumn("column 'smiles' not found in lib.csv")


class TwoArgumentError(Exception):
    """Pickles but does not unpickle (its __init__ wants two arguments, args holds one)."""

    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")


def fails_oddly(*, progress, is_cancelled):
    raise TwoArgumentError(7, "odd")


def exits(code, *, progress, is_cancelled, report_partial):
    report_partial("about to exit")
    os._exit(code)


_gate = threading.Event()


def wait_for_gate(*, progress, is_cancelled, report_partial):
    report_partial("waiting")
    while not _gate.wait(0.01):
        check_cancelled(is_cancelled)
    return "opened"


def open_gate(*, progress, is_cancelled):
    _gate.set()
    return True


def cached_object(*, progress, is_cancelled, model_cache):
    loaded = model_cache.get("the model", object)
    return id(loaded), id(model_cache), os.getpid()


def device_given(*, progress, is_cancelled, device="none"):
    return device


def calls_back(n, on_step, *, progress, is_cancelled):
    for i in range(n):
        on_step(i, i * i)
    return n


def torch_version(*, progress, is_cancelled):
    import torch

    return str(torch.__version__)


def torch_threads(*, progress, is_cancelled, device="none"):
    import torch

    return torch.get_num_threads()


def torch_tensor(*, progress, is_cancelled):
    import torch

    return torch.zeros(2)


# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host():
    host = ModelHost("cpu")
    yield host
    host.close()


def _alive_children() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.is_alive()]


def test_a_result_comes_back_from_another_process(host):
    assert host.run(add, (2, 3)) == 5
    pid = host.run(worker_pid)
    assert pid != os.getpid() and pid == host.pid
    frame = pd.DataFrame({"x": [1.5, 2.0]}, index=[10, 20])
    result = host.run(doubled, (frame,))
    assert result["double"].tolist() == [3.0, 4.0] and result.index.tolist() == [10, 20]
    assert host.run(add, (), {"a": "a", "b": "b"}) == "ab"
    assert host.run(worker_pid) == pid  # the same worker serves every job


def test_progress_and_partial_results_arrive_in_order(host):
    events = []
    result = host.run(
        counted,
        (50,),
        progress=lambda fraction, message: events.append(("progress", fraction, message)),
        report_partial=lambda value: events.append(("partial", value)),
    )
    assert result == "counted"
    partials = [e[1] for e in events if e[0] == "partial"]
    assert partials == list(range(50))  # every one: partial results are never throttled
    reports = [e for e in events if e[0] == "progress"]
    assert reports[-1] == ("progress", 1.0, "step 50")  # the last report always comes
    for position, event in enumerate(events):
        if event[0] == "progress":  # "step k" follows partial k - 1
            step = int(event[2].split()[1])
            assert ("partial", step - 1) in events[:position]


def test_cancel_stops_a_looping_job_and_the_host_runs_the_next(host):
    pid = host.run(worker_pid)
    seen: list[int] = []
    with pytest.raises(JobCancelled):
        host.run(until_cancelled, is_cancelled=lambda: len(seen) >= 3, report_partial=seen.append)
    assert 3 <= len(seen) < 1000  # it stopped at a check after the cancel, not at its end
    assert host.run(add, (1, 1)) == 2
    assert host.run(worker_pid) == pid  # cancel does not cost the worker


def test_a_job_error_comes_back_with_its_type_and_message(host):
    with pytest.raises(BadColumn, match=r"column 'smiles' not found in lib\.csv") as caught:
        host.run(fails)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "Traceback in the model host process" in notes and "in fails" in notes
    # An exception that cannot be rebuilt here keeps its type name and message.
    with pytest.raises(RuntimeError) as caught:
        host.run(fails_oddly)
    assert str(caught.value) == "TwoArgumentError: 7: odd"
    assert host.run(add, (2, 2)) == 4


def test_callbacks_among_the_inputs_are_called_here(host):
    seen = []
    assert host.run(calls_back, (3, lambda i, square: seen.append((i, square)))) == 3
    assert seen == [(0, 0), (1, 1), (2, 4)]


def test_what_cannot_travel_is_refused_before_the_worker_sees_it():
    host = ModelHost("cpu")
    try:
        with pytest.raises(ModelHostError, match="module-level function"):
            host.run(lambda *, progress, is_cancelled: 1)

        def nested(*, progress, is_cancelled):
            return 1

        with pytest.raises(ModelHostError, match="module-level function"):
            host.run(nested)
        with pytest.raises(ModelHostError, match="inputs of add cannot be sent"):
            host.run(add, (threading.Lock(), 1))
        assert host.pid is None  # no worker was started for any of them
    finally:
        host.close()


@pytest.mark.timeout(120)  # waiting forever is the failure
def test_a_worker_that_exits_mid_job_is_reported_and_replaced():
    host = ModelHost("cpu")
    try:
        first = host.run(worker_pid)
        with pytest.raises(ModelHostCrashed, match="exit code 3"):
            host.run(exits, (3,))
        second = host.run(worker_pid)
        assert second != first
        assert first not in _alive_children()
    finally:
        host.close()


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_job_is_reported_as_killed_and_replaced():
    host = ModelHost("cpu")
    try:
        first = host.run(worker_pid)
        with pytest.raises(
            ModelHostCrashed, match=r"killed \(signal 9: out of memory\?\)"
        ) as crash:
            # As the kernel's out-of-memory killer would, while the job runs.
            host.run(until_cancelled, report_partial=lambda _: os.kill(first, signal.SIGKILL))
        assert isinstance(crash.value, OSError)  # the engine shows its message to users
        assert host.run(add, (1, 2)) == 3
        assert host.run(worker_pid) != first
    finally:
        host.close()


@pytest.mark.timeout(120)
def test_two_jobs_run_at_once():
    host = ModelHost("cpu")
    try:
        waiting = threading.Event()
        outcome: list = []

        def run_gate():
            outcome.append(host.run(wait_for_gate, report_partial=lambda _: waiting.set()))

        thread = threading.Thread(target=run_gate)
        thread.start()
        assert waiting.wait(60)
        assert host.run(add, (20, 22)) == 42  # finishes while the first job still waits
        assert outcome == [] and thread.is_alive()
        assert host.run(open_gate) is True  # a third job, in the same process, opens the gate
        thread.join(60)
        assert outcome == ["opened"]
    finally:
        host.close()


def test_the_model_cache_lives_in_the_worker_between_jobs(host):
    first = host.run(cached_object)
    second = host.run(cached_object)
    assert first == second  # the same cache and the same loaded object, in the same process
    assert first[2] == host.pid


def test_jobs_get_the_device_and_the_host_reports_it(host):
    assert host.run(device_given) == "cpu"
    info = host.device_info()
    assert isinstance(info, DeviceInfo) and info.device == "cpu"
    assert host.device == info


@pytest.mark.timeout(180)
def test_a_new_device_preference_replaces_the_worker_and_close_ends_it():
    reported: list[DeviceInfo] = []
    host = ModelHost("cpu", on_device=reported.append)
    try:
        first = host.run(worker_pid)
        assert host.run(device_given) == "cpu"
        host.set_device_preference("auto")
        second = host.run(worker_pid)
        assert second != first and first not in _alive_children()
        assert host.run(device_given) in ("cpu", "cuda", "mps")
        assert len(reported) == 2  # each worker chose its device once
    finally:
        host.close()
    assert not host.is_running() and host.pid is None
    assert second not in _alive_children()


def test_the_worker_ignores_ctrl_c(host):
    pid = host.run(worker_pid)
    os.kill(pid, signal.SIGINT)  # a terminal sends it to every process of its job
    time.sleep(0.2)
    assert host.run(worker_pid) == pid


CALLER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("tests.core.test_modelhost", sys.argv[1])
jobs = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = jobs
spec.loader.exec_module(jobs)
from core.modelhost import ModelHost, ModelHostError
host = ModelHost("cpu")
print("version", host.run(jobs.torch_version))
try:
    host.run(jobs.torch_tensor)
except ModelHostError as exc:
    print("refused", exc)
print("info", host.device_info().device)
host.close()
print("torch imported", "torch" in sys.modules)
"""


@pytest.mark.timeout(180)
def test_the_caller_never_imports_torch():
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-c", CALLER, __file__],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("version 2.")  # torch ran, in the worker
    assert lines[1].startswith("refused ") and "torch" in lines[1]  # a tensor stays there
    assert lines[2] == "info cpu"
    assert lines[3] == "torch imported False"


def test_the_window_host_leaves_a_core_free_and_the_command_line_host_does_not(host):
    cores = os.cpu_count() or 1
    assert host.run(torch_threads) == max(1, cores - 1)
    command_line = ModelHost("cpu", reserve_cores=0)
    try:
        assert command_line.run(torch_threads) == cores
    finally:
        command_line.close()
