"""Cancel latency: seconds from a cancel request to the job raising or ending, per kind of job.

The tests only check that a cancel stops a job before it finishes (and allow a busy 2-core CI
runner ten times the usual latency); the latency itself is measured here. For each kind of job the
baseline is the cost of one unit of its work measured in the same run (one step, one embedding,
one chunk of records): a job that checks its cancel flag between units stops within about one
unit, so the ratio latency / unit is what says whether it checks often enough.

Jobs, each cancelled ``--repeats`` times:

1. ``engine``: ``app.engine.InferenceEngine`` running a job of 10 ms steps; latency from
   ``engine.cancel`` to the ``cancelled`` signal (no window: a bare ``QCoreApplication``).
2. ``conformers-in-process``: ``generate_conformers`` of a flexible molecule (1,000 conformers).
3. ``conformers-child``: ``generate_conformers`` of cyclo-(Ala)40 (embedded in a child process).
4. ``load-serial`` and ``load-workers``: ``load_library`` of 2,500 ChEMBL records with 1 and 2
   workers, cancelled 0.1 s after the first progress.

Progress to stderr, a Markdown block to stdout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common
import rdkit

from core.jobs import JobCancelled, check_cancelled

CHEMBL_SMI = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
FLEXIBLE_SMILES = "CCCCCCOc1ccccc1"
MACROCYCLE_SMILES = "N1[C@@H](C)C(=O)" + "N[C@@H](C)C(=O)" * 38 + "N[C@@H](C)C1=O"
STEP_S = 0.01


def _steps(n, delay, *, progress, is_cancelled):
    for i in range(n):
        check_cancelled(is_cancelled)
        time.sleep(delay)
        progress((i + 1) / n, "")
    return n


def engine_latency() -> tuple[float, float]:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from app.engine import InferenceEngine

    app = QCoreApplication.instance() or QCoreApplication([])
    engine = InferenceEngine()
    engine.start()
    try:
        job_id = engine.submit(_steps, 100_000, STEP_S)
        while engine.job(job_id).state != "running":
            app.processEvents()
            time.sleep(0.01)
        time.sleep(0.2)
        loop = QEventLoop()
        ended: list[float] = []
        engine.cancelled.connect(lambda _id: (ended.append(time.perf_counter()), loop.quit()))
        QTimer.singleShot(30_000, loop.quit)
        asked = time.perf_counter()
        engine.cancel(job_id)
        loop.exec()
        if not ended:
            raise RuntimeError("the engine job did not report cancelled within 30 s")
        return ended[0] - asked, STEP_S
    finally:
        engine.stop()


def conformer_latency(smiles: str, n_conformers: int) -> tuple[float, float]:
    from core.chem.conformers import ConformerOptions, generate_conformers

    started = time.perf_counter()
    one = generate_conformers(smiles, ConformerOptions(n_conformers=1, time_limit_s=120))
    unit = time.perf_counter() - started
    cancel_at = time.perf_counter() + max(1.0, 2 * unit)
    try:
        generate_conformers(
            smiles,
            ConformerOptions(n_conformers=n_conformers, time_limit_s=600),
            is_cancelled=lambda: time.perf_counter() >= cancel_at,
        )
    except JobCancelled:
        return time.perf_counter() - cancel_at, unit / max(1, one.n_attempted)
    raise RuntimeError(f"{smiles[:20]}…: finished before the cancel")


def load_latency(path: Path, workers: int) -> tuple[float, float]:
    from core.chem.library import LoadOptions, load_library

    started = time.perf_counter()
    load_library(path, LoadOptions(workers=workers))
    n = sum(1 for _ in path.open())
    per_record = (time.perf_counter() - started) / n
    turned: list[float] = []

    def progress(fraction: float, message: str = "") -> None:
        if not turned and fraction > 0:
            turned.append(time.perf_counter() + 0.1)

    try:
        load_library(
            path,
            LoadOptions(workers=workers),
            progress=progress,
            is_cancelled=lambda: bool(turned) and time.perf_counter() >= turned[0],
        )
    except JobCancelled:
        return time.perf_counter() - turned[0], per_record
    raise RuntimeError("the load finished before the cancel")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    info = _common.machine_info()
    lines = [line for line in CHEMBL_SMI.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.smi"
        big.write_text("".join(f"{lines[i % len(lines)]}_{i}\n" for i in range(2_500)))
        jobs = {
            "engine (10 ms steps)": engine_latency,
            "conformers, in process": lambda: conformer_latency(FLEXIBLE_SMILES, 1000),
            "conformers, child process": lambda: conformer_latency(MACROCYCLE_SMILES, 10),
            "load_library, 1 worker": lambda: load_latency(big, 1),
            "load_library, 2 workers": lambda: load_latency(big, 2),
        }
        rows = []
        for name, run in jobs.items():
            latencies, units = [], []
            for repeat in range(args.repeats):
                latency, unit = run()
                latencies.append(latency)
                units.append(unit)
                print(f"{name} #{repeat + 1}: {latency:.3f} s (unit {unit:.4f} s)", file=sys.stderr)
            unit = _common.median(units)
            rows.append(
                f"| {name} | {_common.median(latencies):.3f} | {max(latencies):.3f} | "
                f"{unit:.4f} | {_common.median(latencies) / unit:.1f} |"
            )
    print("### Cancel latency\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown({**info, "code": _common.code_state()}))
    print()
    print("| job | median latency (s) | max (s) | one unit of work (s) | median / unit |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
