"""A real Dask scheduler and two workers as separate processes on loopback, for the tests of
the ``--cluster`` verbs (issue 18); loaded by file path (tests are not a package)::

    spec = importlib.util.spec_from_file_location("dask_services", TESTS / "dask_services.py")

Always close it (the fixtures do, in ``finally``): other tests count child processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process ended first ({process.returncode})")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class DaskCluster:
    """A scheduler and two workers (no nanny: killing a worker's process kills the worker)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        scheduler_file = folder / "scheduler.json"
        self.scheduler = self._start(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            folder / "scheduler.log",
            env,
        )
        wait_for(scheduler_file.exists, 60, "the scheduler file", self.scheduler)
        wait_for(lambda: read_json(scheduler_file), 10, "the scheduler address")
        self.address = read_json(scheduler_file)["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        for number in range(2):
            log = folder / f"worker{number}.log"
            worker = self._start(
                [
                    str(DASK),
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                log,
                env,
            )
            self.workers.append(worker)
            wait_for(
                lambda log=log: "Registered to" in log.read_text(errors="replace"),
                90,
                f"worker {number} to join",
                worker,
            )

    def _start(self, command: list[str], log: Path, env: dict) -> subprocess.Popen:
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                command, cwd=self.folder, stdout=handle, stderr=subprocess.STDOUT, env=env
            )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
