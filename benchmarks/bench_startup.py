"""Start-up time: from launching Python to DrugDesk's main window shown.

Each repetition launches a fresh ``python -c`` process (``QT_QPA_PLATFORM=offscreen``, settings
and data folders in a temporary directory) that imports ``app.gui``, calls
``create_application()`` and ``create_main_window()``, shows the window, processes pending events
and prints timestamps. Three figures per run:

* **launch → shown**: wall-clock time from just before the parent starts the process to the
  moment the window has been shown and its events processed (interpreter start-up included,
  process exit excluded);
* **in-process**: from the child's first statement to the same moment (imports and window only);
* **whole process**: the parent's wall time for the complete subprocess, exit included.

Baseline in the same run, alternating with DrugDesk: the same script showing an empty
``QMainWindow`` with nothing but PySide6 imported, so the ratio shows DrugDesk's own overhead.
One unmeasured warm-up run of each comes first (disk cache, bytecode). Goal: median
launch → shown < 1.5 s.

Bytecode: the main rows give the children a private ``PYTHONPYCACHEPREFIX`` (filled by the warm-up
run), as an installed app has its ``.pyc`` files. A third row runs DrugDesk with the caller's own
environment unchanged: where ``PYTHONDONTWRITEBYTECODE=1`` is set and the checkout has no
``__pycache__`` (as in this project's development machines), every start compiles the project's
modules from source.

Run from the repository root::

    python benchmarks/bench_startup.py --reps 7
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import _common

GOAL_S = 1.5

# Both children print one JSON line: the wall-clock time when shown and in-process durations.
_PRELUDE = """\
import time
t0 = time.perf_counter()
import json
"""

DRUGDESK_CHILD = (
    _PRELUDE
    + """\
from app.gui import create_application, create_main_window
t_import = time.perf_counter()
app = create_application()
t_app = time.perf_counter()
window = create_main_window()
t_window = time.perf_counter()
window.show()
app.processEvents()
t_shown = time.perf_counter()
shown_wall = time.time()
print(json.dumps({
    "shown_wall": shown_wall,
    "in_process": t_shown - t0,
    "steps": {
        "import app.gui": t_import - t0,
        "create_application()": t_app - t_import,
        "create_main_window()": t_window - t_app,
        "show() + processEvents()": t_shown - t_window,
    },
}), flush=True)
window.close()  # stops the engine thread
app.processEvents()
"""
)

BASELINE_CHILD = (
    _PRELUDE
    + """\
from PySide6.QtWidgets import QApplication, QMainWindow
t_import = time.perf_counter()
app = QApplication([])
t_app = time.perf_counter()
window = QMainWindow()
t_window = time.perf_counter()
window.show()
app.processEvents()
t_shown = time.perf_counter()
shown_wall = time.time()
print(json.dumps({
    "shown_wall": shown_wall,
    "in_process": t_shown - t0,
    "steps": {
        "import PySide6.QtWidgets": t_import - t0,
        "QApplication()": t_app - t_import,
        "QMainWindow()": t_window - t_app,
        "show() + processEvents()": t_shown - t_window,
    },
}), flush=True)
window.close()
app.processEvents()
"""
)


@dataclass(slots=True)
class Runs:
    label: str
    code: str
    env: dict[str, str] = field(default_factory=dict)
    launch_to_shown: list[float] = field(default_factory=list)
    in_process: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)
    warmup: float = float("nan")


class ChildFailed(RuntimeError):
    pass


def run_child(code: str, env: dict[str, str], timeout: float) -> tuple[float, float, float, dict]:
    launched = time.time()
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=_common.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    whole = time.perf_counter() - start
    report = None
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
    if completed.returncode != 0 or report is None:
        raise ChildFailed(
            f"exit status {completed.returncode}\n--- stderr (last 3000 characters) ---\n"
            f"{completed.stderr[-3000:]}"
        )
    return report["shown_wall"] - launched, report["in_process"], whole, report["steps"]


def import_profile(env: dict[str, str], timeout: float, top: int) -> list[tuple[str, float]]:
    """Import time of one DrugDesk start by top-level package (``python -X importtime``).

    Sums each module's own ("self") time under the first part of its name, so ``pandas`` holds
    every ``pandas.*`` module however it was reached; the largest ``top`` packages come back.
    """
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", DRUGDESK_CHILD],
        cwd=_common.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    totals: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line[len("import time:") :].split("|", 2)
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(own) / 1e6
    return sorted(totals.items(), key=lambda entry: entry[1], reverse=True)[:top]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7, help="measured runs of each (at least 5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per child process")
    parser.add_argument(
        "--import-profile",
        type=int,
        default=0,
        metavar="TOP",
        help="also run DrugDesk once under -X importtime and list the TOP slowest packages",
    )
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = _common.machine_info()
    caller_setting = os.environ.get("PYTHONDONTWRITEBYTECODE", "unset")
    with tempfile.TemporaryDirectory(prefix="drugdesk-bench-") as tmp:
        caller_env = dict(os.environ)
        caller_env.setdefault("QT_QPA_PLATFORM", "offscreen")
        # Keep the user's settings, window state and logs out of it (and theirs out of ours).
        caller_env["DRUGDESK_CONFIG_DIR"] = os.path.join(tmp, "config")
        caller_env["DRUGDESK_DATA_DIR"] = os.path.join(tmp, "data")
        caller_env["XDG_CONFIG_HOME"] = os.path.join(tmp, "xdg-config")
        caller_env["XDG_CACHE_HOME"] = os.path.join(tmp, "xdg-cache")
        # Bytecode written to and read from a private folder, not into the checkout.
        cached_env = dict(caller_env)
        cached_env.pop("PYTHONDONTWRITEBYTECODE", None)
        cached_env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        baseline = Runs("baseline: empty QMainWindow", BASELINE_CHILD, cached_env)
        drugdesk = Runs("DrugDesk main window", DRUGDESK_CHILD, cached_env)
        as_caller = Runs(
            f"DrugDesk, caller's bytecode setting (PYTHONDONTWRITEBYTECODE={caller_setting})",
            DRUGDESK_CHILD,
            caller_env,
        )
        other = _common.OtherLoad()
        try:
            for runs in (baseline, drugdesk, as_caller):
                runs.warmup = run_child(runs.code, runs.env, args.timeout)[0]
            for rep in range(args.reps):
                # Rotate the order so that slow spells of a shared machine hit all of them.
                order = [baseline, drugdesk, as_caller]
                order = order[rep % 3 :] + order[: rep % 3]
                for runs in order:
                    shown, in_process, whole, steps = run_child(runs.code, runs.env, args.timeout)
                    runs.launch_to_shown.append(shown)
                    runs.in_process.append(in_process)
                    runs.whole.append(whole)
                    runs.steps.append(steps)
                print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
        except ChildFailed as exc:
            print(f"bench_startup: a child process failed: {exc}", file=sys.stderr)
            return 1
        except subprocess.TimeoutExpired:
            print(f"bench_startup: a child took more than {args.timeout:.0f} s", file=sys.stderr)
            return 1
        args.other_cores = other.cores()
        imports = (
            import_profile(cached_env, args.timeout, args.import_profile)
            if args.import_profile
            else []
        )
    print(markdown(args, info, baseline, drugdesk, as_caller))
    if imports:
        print(
            "- Import time by package in the DrugDesk child (one `-X importtime` run, each "
            "module's own time summed per top-level package, bytecode cached; the profiler "
            "adds overhead): " + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in imports)
        )
    return 0


def markdown(args, info, baseline: Runs, drugdesk: Runs, as_caller: Runs) -> str:
    median, minimum = _common.median, min
    lines = [
        "### Start-up to main window shown",
        "",
        f"- Command: `{_common.command_line()}`",
        _common.machine_markdown(info),
        f"- {args.reps} measured runs of each, in rotating order, after one warm-up run of each; "
        f"`QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM', 'offscreen')}`, "
        "settings in a temporary folder; first two rows with bytecode cached in a private "
        "`PYTHONPYCACHEPREFIX`",
        "",
        "| run | launch → shown median s | min s | in-process median s | whole process median s "
        "| warm-up launch → shown s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for runs in (baseline, drugdesk, as_caller):
        lines.append(
            f"| {runs.label} | {median(runs.launch_to_shown):.3f} | "
            f"{minimum(runs.launch_to_shown):.3f} | {median(runs.in_process):.3f} | "
            f"{median(runs.whole):.3f} | {runs.warmup:.3f} |"
        )
    ratio = median(drugdesk.launch_to_shown) / median(baseline.launch_to_shown)
    overhead = median(drugdesk.launch_to_shown) - median(baseline.launch_to_shown)
    verdict = "meets" if median(drugdesk.launch_to_shown) < GOAL_S else "misses"
    lines += [
        "",
        f"- DrugDesk / baseline (median launch → shown): **{ratio:.2f}×**, DrugDesk's own "
        f"overhead {overhead:.3f} s; {verdict} the {GOAL_S} s goal",
        "- Median of each step inside the DrugDesk process (bytecode cached): "
        + ", ".join(
            f"{name} {median([steps[name] for steps in drugdesk.steps]):.3f} s"
            for name in drugdesk.steps[0]
        ),
        f"- {as_caller.label}: median {median(as_caller.launch_to_shown):.3f} s, "
        f"{median(as_caller.launch_to_shown) / median(baseline.launch_to_shown):.2f}× baseline; "
        "steps: "
        + ", ".join(
            f"{name} {median([steps[name] for steps in as_caller.steps]):.3f} s"
            for name in as_caller.steps[0]
        ),
        "- Median of each step inside the baseline process: "
        + ", ".join(
            f"{name} {median([steps[name] for steps in baseline.steps]):.3f} s"
            for name in baseline.steps[0]
        ),
        f"- Other processes used {args.other_cores:.2f} cores during the runs; load average "
        f"(1 min) at the end: {os.getloadavg()[0]:.2f}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
