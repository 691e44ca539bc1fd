"""What the model host costs and what the caller's thread feels: ``core.modelhost.ModelHost``.

Phases, in one run (the in-process baseline first, then the same work through the host):

1. **start**: the first job of a new host (spawning the worker and importing the job's module),
   then its first torch job (importing torch and choosing the device there);
2. **round trip**: the median and 95th percentile of a job that returns at once, against the
   same function called in this process;
3. **big input**: a ``pandas.Series`` of ``--rows`` distinct MOSES SMILES (an Apply on a large
   library) sent to a job that returns its length: the time in all, and the longest pause of a
   5 ms heartbeat thread in this process meanwhile (pickling holds the GIL: the window would
   stall as long);
4. **cancel**: from ``is_cancelled`` turning true to :class:`JobCancelled` raised here, for a job
   that checks every 10 ms;
5. **crash**: from SIGKILL of the worker in the middle of a job to ``ModelHostCrashed`` raised;
6. **predict**: ``core.models.apply.predict_library`` with the shipped potency model on
   ``--molecules`` SMILES, warm (model loaded), in this process against through the host (same
   torch thread count), with the heartbeat's longest pause in each case.

Progress to stderr, a Markdown block to stdout. Run from the repository root::

    nice python benchmarks/bench_modelhost.py
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

import _common

from core.jobs import JobCancelled, check_cancelled


def noop(*, progress, is_cancelled):
    return None


def length(series, *, progress, is_cancelled):
    return len(series)


def checks_every_10ms(*, progress, is_cancelled, report_partial):
    report_partial("started")
    while True:
        check_cancelled(is_cancelled)
        time.sleep(0.01)


def device_of(*, progress, is_cancelled, device="none"):
    return device


class Heartbeat:
    """A thread that sleeps 5 ms at a time and keeps the longest gap between its wake-ups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.005)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="MOSES SMILES in the big input (≤ 1,584,663)"
    )
    parser.add_argument("--molecules", type=int, default=1_000, help="SMILES to predict")
    parser.add_argument("--repeats", type=int, default=200, help="round trips timed")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from core.modelhost import ModelHost, ModelHostCrashed

    info = _common.machine_info()
    rows: list[tuple[str, str, str]] = []
    host = ModelHost("cpu")
    try:
        print("start …", file=sys.stderr)
        first = _timed(lambda: host.run(noop))
        torch_first = _timed(lambda: host.run(device_of))
        rows.append(("first job of a new host (spawn)", "—", f"{first:.2f} s"))
        rows.append(("first torch job (import, device)", "—", f"{torch_first:.2f} s"))

        print("round trip …", file=sys.stderr)
        local = [_timed(lambda: noop(progress=None, is_cancelled=None)) for _ in range(1000)]
        remote = [_timed(lambda: host.run(noop)) for _ in range(args.repeats)]
        rows.append(
            (
                "round trip of an empty job (median / p95)",
                f"{_common.median(local) * 1e6:.1f} µs / {_common.percentile(local, 95) * 1e6:.1f} µs",
                f"{_common.median(remote) * 1e3:.2f} ms / "
                f"{_common.percentile(remote, 95) * 1e3:.2f} ms",
            )
        )

        print("big input …", file=sys.stderr)
        smiles = _common.moses_smiles(args.rows)  # distinct strings: pickle shares repeats
        series = pd.Series(smiles, dtype=object)
        with Heartbeat() as idle:
            time.sleep(1.0)
        with Heartbeat() as beat:
            sent = _timed(lambda: host.run(length, (series,)))
        rows.append(
            (
                f"{args.rows:,} SMILES in, a number out: time / longest heartbeat gap",
                f"— / {idle.longest * 1e3:.0f} ms idle",
                f"{sent:.2f} s / {beat.longest * 1e3:.0f} ms",
            )
        )

        print("cancel …", file=sys.stderr)
        latencies = []
        for _ in range(10):
            started = threading.Event()
            asked: list[float] = []

            def is_cancelled(asked=asked, started=started) -> bool:
                if started.is_set() and not asked:
                    asked.append(time.perf_counter())
                return bool(asked)

            try:
                host.run(
                    checks_every_10ms,
                    is_cancelled=is_cancelled,
                    report_partial=lambda _, started=started: started.set(),
                )
            except JobCancelled:
                latencies.append(time.perf_counter() - asked[0])
        rows.append(
            (
                "cancel to JobCancelled (median of 10; the job checks every 10 ms)",
                "—",
                f"{_common.median(latencies) * 1e3:.0f} ms",
            )
        )

        print("crash …", file=sys.stderr)
        killed: list[float] = []

        def kill(_value) -> None:
            if not killed:
                killed.append(time.perf_counter())
                os.kill(host.pid, signal.SIGKILL)

        try:
            host.run(checks_every_10ms, report_partial=kill)
        except ModelHostCrashed:
            crash = time.perf_counter() - killed[0]
        rows.append(("SIGKILL mid-job to ModelHostCrashed", "—", f"{crash * 1e3:.0f} ms"))

        print("predict …", file=sys.stderr)
        from core.compute import ModelCache, configure_torch_threads
        from core.models.apply import predict_library

        configure_torch_threads(reserve_for_gui=1)  # as the worker does: the same thread count

        model = _common.ROOT / "resources" / "models" / "potency-chembl2321810"
        molecules = pd.Series(smiles[: args.molecules], dtype=object)
        cache = ModelCache()
        predict_library(model, molecules, device="cpu", model_cache=cache)  # warm
        with Heartbeat() as beat_here:
            here = _timed(
                lambda: predict_library(model, molecules, device="cpu", model_cache=cache)
            )
        host.run(predict_library, (model, molecules))  # warm: the model stays in the worker
        with Heartbeat() as beat:
            there_result: list = []
            there = _timed(
                lambda: there_result.append(host.run(predict_library, (model, molecules)))
            )
        expected = predict_library(model, molecules, device="cpu", model_cache=cache)
        np.testing.assert_allclose(there_result[0].to_numpy(), expected.to_numpy(), rtol=1e-5)
        rows.append(
            (
                f"predict_library, {args.molecules:,} molecules, warm: time / longest "
                "heartbeat gap",
                f"{here:.2f} s / {beat_here.longest * 1e3:.0f} ms",
                f"{there:.2f} s / {beat.longest * 1e3:.0f} ms",
            )
        )
    finally:
        host.close()

    print(f"### Model host (`{_common.command_line()}`)\n")
    print(_common.machine_markdown(info))
    print("| measure | in this process | through the host |\n|---|---|---|")
    for name, local_text, host_text in rows:
        print(f"| {name} | {local_text} | {host_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
