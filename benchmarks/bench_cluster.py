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

``--merge-only`` times no cluster: it measures the client's merge alone, the peak resident
memory (``VmHWM``) of a fresh process that writes ``--rows`` synthetic rows (real ``props``
rows of MOSES molecules, repeated with new names and InChIKeys, 1 in 10 a repeat) from parts of
5,000 rows: ``props`` (CSV) and ``score --profile oral`` (CSV), each as before issue 18 part 1
(every part read, joined, then written) and streamed (one part, or one batch per part, at a
time); the files must be byte-identical.

Run from the repository root::

    nice python benchmarks/bench_cluster.py              # 20,000 molecules, several minutes
    python benchmarks/bench_cluster.py --n 2000          # a quick look
    nice python benchmarks/bench_cluster.py --merge-only --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
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


MERGE_PART_ROWS = 5000


def _synthetic_parts(folder: Path, rows: int) -> tuple[int, list]:
    """Parts of ``props`` rows (the columns score's parts hold without models): 500 MOSES
    molecules described once, repeated with new names and InChIKeys (every tenth row repeats
    an earlier molecule). Returns (parts, score tallies)."""
    import numpy as np

    from core.hitlist.cluster_score import PartTally

    source = _common.write_smi(_common.moses_smiles(500), folder / "seed.smi")
    seed = props_table(load_library(source, LoadOptions(workers=1)))
    n_parts = -(-rows // MERGE_PART_ROWS)
    for number in range(n_parts):
        start = number * MERGE_PART_ROWS
        size = min(MERGE_PART_ROWS, rows - start)
        position = np.arange(start, start + size)
        part = seed.iloc[position % len(seed)].reset_index(drop=True)
        part["name"] = [f"mol{i}" for i in position]
        molecule = np.where(position % 10 == 9, position // 7, position)  # an earlier one
        keys = part["inchikey"].to_numpy(dtype=object)
        part["inchikey"] = [
            f"{m:014d}-{k[15:]}" if k else "" for m, k in zip(molecule, keys, strict=True)
        ]
        part.to_parquet(folder / f"part-{number:05d}.parquet", index=False)
    return n_parts, [PartTally((), ())] * n_parts


def _merge_child(mode: str, folder: Path, n_parts: int, rows: int, out: Path) -> None:
    """Run one merge in this (fresh) process and print its seconds, the resident memory
    before it (this script's imports) and its peak, as JSON."""
    from core.chem.cluster_parts import concat_parts, read_parts
    from core.chem.cluster_props import write_props_parts
    from core.chem.library import LIBRARY_COLUMNS, assemble_library
    from core.hitlist.cluster_score import PartTally, _join, write_scored_parts
    from core.hitlist.hit_list_file import write_hit_list
    from core.hitlist.presets import preset
    from core.hitlist.scoring import ScoringRequest, score_library

    tallies = [PartTally((), ())] * n_parts
    request = ScoringRequest(preset("oral"))
    before_kib = _peak_rss_kib()
    started = time.perf_counter()
    if mode == "props-joined":
        table = concat_parts(read_parts(folder, n_parts), props_table(assemble_library([])))
        export_table(table.loc[:, list(LIBRARY_COLUMNS)], out)
    elif mode == "props-streamed":
        write_props_parts(folder, n_parts, rows, out)
    elif mode == "score-joined":
        library, cache, described = _join(
            read_parts(folder, n_parts), tallies, folder / "x.smi", request
        )
        result = score_library(library.table, request, cache, described=described)
        write_hit_list(library.table, result, request.profile, out)
    else:
        write_scored_parts(folder, n_parts, rows, tallies, request, out)
    elapsed = time.perf_counter() - started
    peak_kib = _peak_rss_kib()
    print(json.dumps({"seconds": elapsed, "before_mib": before_kib / 1024,
                      "peak_mib": peak_kib / 1024}))  # fmt: skip


def _peak_rss_kib() -> int:
    """This process's peak resident memory: ``VmHWM`` (Linux), else ``ru_maxrss``, which Linux
    carries over from the parent across ``exec`` (a child would report the parent's peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _merge_only(rows: int) -> int:
    print(_common.machine_markdown(_common.machine_info()))
    print(f"- Command: `{_common.command_line()}`; {rows:,} synthetic rows in parts of "
          f"{MERGE_PART_ROWS:,}")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        parts = folder / "out.parts"
        parts.mkdir()
        n_parts, _ = _synthetic_parts(parts, rows)
        files = {}
        for mode in ("props-joined", "props-streamed", "score-joined", "score-streamed"):
            out = folder / f"{mode}.csv"
            done = subprocess.run(
                [sys.executable, __file__, "--merge-child", mode, str(parts), str(n_parts),
                 str(rows), str(out)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            results.append((mode, json.loads(done.stdout.splitlines()[-1])))
            files[mode] = hashlib.sha256(out.read_bytes()).hexdigest()
            out.unlink()
    print()
    print("| merge | seconds | RSS before MiB (imports) | peak RSS MiB | peak − before MiB |")
    print("|---|---:|---:|---:|---:|")
    for mode, result in results:
        before, peak = result["before_mib"], result["peak_mib"]
        print(f"| {mode} | {result['seconds']:.1f} | {before:.0f} | {peak:.0f} | "
              f"{peak - before:.0f} |")  # fmt: skip
    same = (files["props-joined"] == files["props-streamed"],
            files["score-joined"] == files["score-streamed"])  # fmt: skip
    print()
    print(f"props files byte-identical: {'yes' if same[0] else 'NO'}; "
          f"score files byte-identical: {'yes' if same[1] else 'NO'}")  # fmt: skip
    return 0 if all(same) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="molecules (default 20,000)")
    parser.add_argument("--partition-size", type=int, default=1000, help="records per part")
    parser.add_argument(
        "--merge-only",
        action="store_true",
        help="no cluster: the client's peak memory merging --rows synthetic rows, joined "
        "against streamed",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for --merge-only")
    parser.add_argument("--merge-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.merge_child:
        mode, folder, n_parts, rows, out = args.merge_child
        _merge_child(mode, Path(folder), int(n_parts), int(rows), Path(out))
        return 0
    if args.merge_only:
        return _merge_only(args.rows)

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
