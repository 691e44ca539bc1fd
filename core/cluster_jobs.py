"""Cluster work the window runs as engine jobs (issue 18, part 1: Preferences → Compute).

Plain job functions (``progress``/``is_cancelled`` keywords, as every engine job): connect to the
cluster the user named in Preferences, say how many workers it has, run the same core function
as the command line (``drugdesk props --cluster``) and always disconnect — a ``local:N``
cluster started here ends with the job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.cluster import connect, disconnect, parse_cluster_address
from core.jobs import CancelCheck, ProgressCallback, no_progress


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What a connection test found."""

    address: str
    workers: int
    threads: int
    memory_bytes: int

    def describe(self) -> str:
        memory = f", {self.memory_bytes / 1024**3:.1f} GiB memory" if self.memory_bytes else ""
        return (
            f"{self.address}: {self.workers} worker{'s' if self.workers != 1 else ''}, "
            f"{self.threads} thread{'s' if self.threads != 1 else ''}{memory}; "
            "versions match this computer"
        )


def _workers(client: Any) -> tuple[int, int, int]:
    """Workers, threads and memory (bytes) the scheduler knows of now."""
    workers = client.scheduler_info().get("workers", {})
    threads = sum(int(w.get("nthreads", 0) or 0) for w in workers.values())
    memory = sum(int(w.get("memory_limit", 0) or 0) for w in workers.values())
    return len(workers), threads, memory


def check_cluster(
    address: str,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ClusterInfo:
    """Connect to ``address``, check the workers' versions, count them and disconnect.

    Raises :class:`core.cluster.ClusterAddressError` for an address that names no cluster and
    :class:`core.cluster.ClusterError` when it cannot be reached or its versions differ.
    """
    spec = parse_cluster_address(address)
    progress(-1.0, f"Connecting to {spec}")
    client = connect(spec)
    try:
        workers, threads, memory = _workers(client)
    finally:
        disconnect(client)
    return ClusterInfo(str(spec), workers, threads, memory)


def props_file_on_cluster(
    address: str,
    path: str | os.PathLike,
    output: str | os.PathLike,
    options=None,
    *,
    partition_size: int | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> str:
    """``drugdesk props FILE --output OUT --cluster ADDRESS`` as an engine job: the table of
    properties and alerts of every record of ``path`` computed by the cluster's workers and
    written to ``output`` (atomically, only when every part is done). Progress says how many
    workers run the parts. Returns the summary line.
    """
    from core.chem.cluster_parts import DEFAULT_PARTITION_SIZE
    from core.chem.cluster_props import props_on_cluster

    spec = parse_cluster_address(address)
    progress(-1.0, f"Connecting to {spec}")
    client = connect(spec)
    try:
        workers, _threads, _memory = _workers(client)
        prefix = f"{spec} ({workers} worker{'s' if workers != 1 else ''}): "

        def tell(fraction: float, message: str) -> None:
            progress(fraction, prefix + message)

        result = props_on_cluster(
            client,
            path,
            output,
            options,
            partition_size=partition_size or DEFAULT_PARTITION_SIZE,
            progress=tell,
            is_cancelled=is_cancelled,
            note=tell,
        )
    finally:
        disconnect(client)
    return f"{result.summary} Written to {Path(output).name} by {workers} workers."


__all__ = ["ClusterInfo", "check_cluster", "props_file_on_cluster"]
