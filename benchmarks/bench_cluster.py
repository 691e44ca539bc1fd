"""``props --cluster`` scaling: molecules/s on 1 and 2 local Dask workers, on a two-worker "remote"
cluster (a scheduler and two workers started as separate processes on loopback, as on another
machine), and ``props`` without a cluster for reference; parallel efficiency against 1 worker.

Every row runs ``core.chem.cluster_props.props_on_cluster`` (or ``load_library`` for the
reference) on the same ``.smi`` file of the first ``--n`` MOSES SMILES and writes the same CSV;
the script checks that every CSV is byte-identical to the reference's and exits 1 otherwise.
Times run from the call to the written file (counting pass, describing, merging, writing);
starting the cluster is timed apart. A 16-worker row is printed as "not measured" unless this
machine has 16 cores. A last table times one top-50 similarity search (``search --cluster``:
``core.chem.cluster_search``) on ``local:2`` against the same search on one machine, whose
answer it must equal.

Run from the repository root::

    nice python benchmarks/bench_cluster.py              # 20,000 molecules, several minutes
    python benchmarks/bench_cluster.py --n 2000          # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

from core.chem.cluster_props import props_on_cluster
from core.chem.cluster_search import (
    SearchRequest,
    hits_table,
    record_search_smiles,
    search_on_cluster,
)
from core.chem.export import export_table
from core.chem.library import LoadOptions, load_library, props_table
from core.chem.readers import iter_record_chunks
from core.chem.search import build_fingerprint_index, similarity_search
from core.cluster import ClusterSpec, connect, disconnect, parse_cluster_address


def _time_cluster(spec: ClusterSpec, source: Path, out: Path, partition_size: int):
    started = time.perf_counter()
    client = connect(spec)
    connected = time.perf_counter() - started
    try:
        # The load average, not _common.OtherLoad: the workers are not this process's
        # waited-for children, so their own work would count as other processes' load.
        load = os.getloadavg()[0]
        started = time.perf_counter()
        result = props_on_cluster(client, source, out, partition_size=partition_size)
        elapsed = time.perf_counter() - started
    finally:
        disconnect(client)
    return connected, elapsed, result.n_parts, load


def _time_search(source: Path, out: Path, partition_size: int) -> list[tuple]:
    """A top-50 search for the file's first molecule: on one machine (reading, fingerprinting
    on all cores, searching) and on ``local:2``; rows of (label, workers, start s, run s, equal)."""
    records = [r for chunk in iter_record_chunks(source) for r in chunk]
    request = SearchRequest(similar=records[0].text, top_k=50)
    started = time.perf_counter()
    records = [r for chunk in iter_record_chunks(source) for r in chunk]
    smiles = [record_search_smiles(r) for r in records]
    hits = similarity_search(build_fingerprint_index(smiles, workers=0), request.similar, top_k=50)
    expected = hits_table(records, smiles, hits.rows, hits.scores)
    single = time.perf_counter() - started
    started = time.perf_counter()
    client = connect(parse_cluster_address("local:2"))
    connected = time.perf_counter() - started
    try:
        started = time.perf_counter()
        result = search_on_cluster(client, source, out, request, partition_size=partition_size)
        elapsed = time.perf_counter() - started
    finally:
        disconnect(client)
    cores = os.cpu_count() or 1
    return [
        ("search top-50, no cluster", cores, None, single, True),
        ("search top-50, --cluster local:2", 2, connected, elapsed, result.table.equals(expected)),
    ]


class _RemoteCluster:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        dask = Path(sys.executable).with_name("dask")
        env = {**os.environ, "PYTHONPATH": str(_common.ROOT)}
        scheduler_file = folder / "scheduler.json"
        self.processes = [
            subprocess.Popen(
                [str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(scheduler_file)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        ]  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                self.address = json.loads(scheduler_file.read_text())["address"]
                break
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the scheduler did not start") from None
                time.sleep(0.1)
        for _ in range(2):
            self.processes.append(
                subprocess.Popen(
                    [str(dask), "worker", self.address, "--nthreads", "1", "--no-nanny",
                     "--no-dashboard", "--host", "127.0.0.1"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="molecules (default 20,000)")
    parser.add_argument("--partition-size", type=int, default=1000, help="records per part")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    print(_common.machine_markdown(_common.machine_info()))
    print(f"- Command: `{_common.command_line()}`; n = {args.n:,} MOSES molecules, "
          f"partition size {args.partition_size:,}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = _common.write_smi(_common.moses_smiles(args.n), folder / "moses.smi")

        load = os.getloadavg()[0]
        started = time.perf_counter()
        reference = folder / "reference.csv"
        export_table(props_table(load_library(source, LoadOptions(workers=0))), reference)
        single = time.perf_counter() - started
        expected = reference.read_bytes()
        rows = [("props, no cluster (process pool, all cores)", cores, None, single, None, load)]

        mismatches = []
        for label, text in (("local:1", "local:1"), ("local:2", "local:2")):
            out = folder / f"{text.replace(':', '_')}.csv"
            timing = _time_cluster(parse_cluster_address(text), source, out, args.partition_size)
            rows.append((f"--cluster {label}", int(text.split(":")[1]), *timing))
            if out.read_bytes() != expected:
                mismatches.append(label)

        remote = _RemoteCluster(folder)
        try:
            out = folder / "remote.csv"
            timing = _time_cluster(
                parse_cluster_address(remote.address), source, out, args.partition_size
            )
        finally:
            remote.close()
        rows.append(("--cluster tcp:// (scheduler + 2 worker processes)", 2, *timing))
        if out.read_bytes() != expected:
            mismatches.append("remote")
        searches = _time_search(source, folder / "search.csv", args.partition_size)
        mismatches += [label for label, *_, equal in searches if not equal]

    one_worker = args.n / rows[1][3]
    print()
    print(
        "| run | workers | start s | run s | parts | molecules/s | parallel efficiency | "
        "load average at start (1 min) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, workers, connected, elapsed, n_parts, other in rows:
        rate = args.n / elapsed
        efficiency = f"{rate / (workers * one_worker):.2f}" if connected is not None else "–"
        start = f"{connected:.1f}" if connected is not None else "–"
        parts = f"{n_parts}" if n_parts is not None else "–"
        print(
            f"| {label} | {workers} | {start} | {elapsed:.1f} | {parts} | {rate:,.0f} | "
            f"{efficiency} | {other:.1f} |"
        )
    if cores < 16:
        print(
            f"| --cluster local:16 | 16 | – | – | – | not measured ({cores} cores here) | – | – |"
        )
    print()
    print("| search | workers | start s | run s | molecules/s | equal to one machine |")
    print("|---|---:|---:|---:|---:|---|")
    for label, workers, connected, elapsed, equal in searches:
        start = f"{connected:.1f}" if connected is not None else "–"
        print(
            f"| {label} | {workers} | {start} | {elapsed:.2f} | {args.n / elapsed:,.0f} | "
            f"{'yes' if equal else 'NO'} |"
        )
    print()
    if mismatches:
        print(f"MISMATCH: {', '.join(mismatches)} differ from the single-machine table")
        return 1
    print(
        "every cluster table is byte-identical to the single-machine table, every search "
        "answer equal"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
