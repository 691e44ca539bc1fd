"""Cluster work the window runs as engine jobs (issue 18, part 1: Preferences → Compute).

Plain job functions (``progress``/``is_cancelled`` keywords, as every engine job): connect to the
cluster the user named in Preferences, say how many workers it has, run the same core function
as the command line (``drugdesk props|score|search --cluster``) and always disconnect — a
``local:N`` cluster started here ends with the job. Each output is written once, atomically,
after every part is done: a job that fails or is cancelled leaves the output as it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cluster import ClusterSpec, connect, disconnect, parse_cluster_address
from core.jobs import CancelCheck, ProgressCallback, no_progress

if TYPE_CHECKING:
    from core.chem.cluster_search import SearchRequest
    from core.hitlist.desirability import DesirabilityProfile


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


@dataclass(frozen=True, slots=True)
class ClusterFileSummary:
    """What a cluster job over a file did: ``rows`` written to ``output``, ``hits`` among them
    (ranked molecules of a hit list, or search hits) out of ``records`` read, how long it took
    and on which cluster."""

    verb: str
    output: Path
    rows: int
    hits: int
    records: int
    seconds: float
    cluster: str
    workers: int
    detail: str = ""
    ranked: bool = False
    """A hit list (``hits`` are ranked molecules) rather than a search's hits."""

    def describe(self) -> str:
        """One line, e.g. ``Scored lib.smi on local:2 (2 workers) in 14 s: 9 of 12 records
        ranked; 12 rows written to hits.csv.``"""
        workers = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        detail = f" {self.detail}" if self.detail else ""
        return (
            f"{self.verb} on {self.cluster} ({workers}) in {_duration(self.seconds)}: "
            f"{self._counts()}; {self.rows:,} "
            f"row{'s' if self.rows != 1 else ''} written to {self.output.name}.{detail}"
        )

    def _counts(self) -> str:
        if self.ranked:
            return f"{self.hits:,} of {self.records:,} records ranked"
        return f"{self.hits:,} hit{'s' if self.hits != 1 else ''} among {self.records:,} records"

    def __str__(self) -> str:
        return self.describe()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@contextmanager
def _connected(
    spec: ClusterSpec, progress: ProgressCallback
) -> Iterator[tuple[Any, int, Callable[[float, str], None]]]:
    """The client, its worker count and a progress callback that names the cluster; the
    client is closed (a ``local:N`` cluster ended) however the block ends."""
    progress(-1.0, f"Connecting to {spec}")
    client = connect(spec)
    try:
        workers, _threads, _memory = _workers(client)
        prefix = f"{spec} ({workers} worker{'s' if workers != 1 else ''}): "

        def tell(fraction: float, message: str) -> None:
            progress(fraction, prefix + message)

        yield client, workers, tell
    finally:
        disconnect(client)


def _refuse_output_over_input(source: Path, output: Path) -> None:
    try:
        same = output.resolve() == source.resolve()
    except OSError:
        same = False
    if same:
        raise ValueError(f"{output.name} is the input file: choose another output")


def props_file_on_cluster(
    address: str,
    path: str | os.PathLike,
    output: str | os.PathLike,
    options=None,
    *,
    partition_size: int | None = None,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> str:
    """``drugdesk props FILE --output OUT --cluster ADDRESS`` as an engine job: the table of
    properties and alerts of every record of ``path`` computed by the cluster's workers and
    written to ``output`` (atomically, only when every part is done). Progress says how many
    workers run the parts. ``ship_records``: the workers share no disk with this computer
    (``--cluster-ship-records``). Returns the summary line.
    """
    from core.chem.cluster_parts import DEFAULT_PARTITION_SIZE
    from core.chem.cluster_props import props_on_cluster

    spec = parse_cluster_address(address)
    with _connected(spec, progress) as (client, workers, tell):
        result = props_on_cluster(
            client,
            path,
            output,
            options,
            partition_size=partition_size or DEFAULT_PARTITION_SIZE,
            ship_records=ship_records,
            progress=tell,
            is_cancelled=is_cancelled,
            note=tell,
        )
    return f"{result.summary} Written to {Path(output).name} by {workers} workers."


def score_file_on_cluster(
    address: str,
    source: str | os.PathLike,
    output: str | os.PathLike,
    models: Sequence[str | os.PathLike] = (),
    admet: bool = False,
    profile: str | DesirabilityProfile = "oral",
    *,
    precision: str = "auto",
    read=None,
    standardize=None,
    partition_size: int | None = None,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ClusterFileSummary:
    """``drugdesk score SOURCE --model M… [--admet] --profile P -o OUTPUT --cluster ADDRESS``
    as an engine job, through the same function
    (:func:`core.hitlist.cluster_score.score_to_file_on_cluster`): the workers describe and
    predict their parts (loading the model folders themselves), this process scores the parts
    and merges them into the hit list file, never holding the whole table; written atomically.

    ``profile``: a preset name (``"oral"``, ``"cns"``) or a profile; ``precision``: how the
    workers' transformer models predict (``--precision``); ``ship_records``: the workers share
    no disk with this computer (``--cluster-ship-records``).

    Raises
    ------
    ClusterAddressError, ValueError
        A bad address, output format or profile, or the input as output (before connecting).
    ClusterError, LibraryReadError, ProfileError, OSError, JobCancelled
        As :func:`~core.hitlist.cluster_score.score_to_file_on_cluster`; nothing is written
        then.
    """
    from core.chem.cluster_parts import DEFAULT_PARTITION_SIZE
    from core.chem.readers import ReadOptions
    from core.hitlist.cluster_score import score_to_file_on_cluster
    from core.hitlist.presets import preset
    from core.hitlist.report import hit_list_format
    from core.hitlist.scoring import ScoringRequest

    spec = parse_cluster_address(address)
    source, output = Path(source), Path(output)
    _refuse_output_over_input(source, output)
    hit_list_format(output)  # raises ValueError naming the formats
    profile = preset(profile) if isinstance(profile, str) else profile
    request = ScoringRequest(
        profile, tuple(Path(m) for m in models), admet=admet, precision=precision
    )
    started = time.monotonic()
    with _connected(spec, progress) as (client, workers, tell):
        written = score_to_file_on_cluster(
            client,
            source,
            output,
            request,
            read or ReadOptions(),
            standardize,
            title=f"Hit list: {source.name}",
            partition_size=partition_size or DEFAULT_PARTITION_SIZE,
            ship_records=ship_records,
            progress=tell,
            is_cancelled=is_cancelled,
            note=tell,
        )
    return ClusterFileSummary(
        verb=f"Scored {source.name}",
        output=output,
        rows=written.n_written,
        hits=written.n_ranked,
        records=written.n_records,
        seconds=time.monotonic() - started,
        cluster=str(spec),
        workers=workers,
        detail=f"Profile '{profile.name}'; {written.n_invalid:,} invalid.",
        ranked=True,
    )


def check_search_request(request: SearchRequest) -> None:
    """Refuse a search that cannot run, with the message the user needs (before connecting).

    Raises :class:`core.chem.search.SearchError` (a ``ValueError``).
    """
    from rdkit import rdBase

    from core.chem.search import SearchError, parse_query, parse_smarts

    if request.substructure is not None:
        if request.top_k is not None or request.threshold is not None:
            raise SearchError("a substructure search takes no threshold or top k")
        with rdBase.BlockLogs():
            parse_smarts(request.substructure)
        return
    if request.top_k is not None and request.top_k < 1:
        raise SearchError(f"top k must be at least 1, not {request.top_k}")
    if request.threshold is not None and not 0.0 <= request.threshold <= 1.0:
        raise SearchError(f"the threshold must lie between 0 and 1, not {request.threshold}")
    if request.top_k is None and request.threshold is None:
        raise SearchError("a similarity search takes a threshold or a top k")
    parse_query(request.similar or "")


def search_file_on_cluster(
    address: str,
    source: str | os.PathLike,
    output: str | os.PathLike,
    request: SearchRequest,
    *,
    read=None,
    partition_size: int | None = None,
    ship_records: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ClusterFileSummary:
    """``drugdesk search SOURCE --similar Q (--threshold T|--top-k K) | --substructure S -o
    OUTPUT --cluster ADDRESS`` as an engine job: each part is searched on a worker
    (:func:`core.chem.cluster_search.search_on_cluster`), the hits merged into the
    single-machine answer and streamed into the output (``row, name, smiles, similarity``)
    through a temporary file renamed at the end.
    ``ship_records``: the workers share no disk with this computer (``--cluster-ship-records``).

    Raises
    ------
    ClusterAddressError, ValueError, SearchError
        A bad address, output format or query, or the input as output (before connecting).
    ClusterError, LibraryReadError, OSError, JobCancelled
        As :func:`~core.chem.cluster_search.search_on_cluster`; nothing is written then.
    """
    from core.chem.cluster_parts import DEFAULT_PARTITION_SIZE
    from core.chem.cluster_search import search_on_cluster
    from core.chem.export import export_format
    from core.chem.readers import ReadOptions

    spec = parse_cluster_address(address)
    source, output = Path(source), Path(output)
    _refuse_output_over_input(source, output)
    export_format(output)  # raises ValueError naming the formats
    check_search_request(request)
    started = time.monotonic()
    with _connected(spec, progress) as (client, workers, tell):
        result = search_on_cluster(
            client,
            source,
            output,
            request,
            read or ReadOptions(),
            partition_size=partition_size or DEFAULT_PARTITION_SIZE,
            ship_records=ship_records,
            progress=tell,
            is_cancelled=is_cancelled,
            note=tell,
            write=True,  # streamed into the output, as drugdesk search writes it
        )
    if request.substructure is not None:
        detail = f"Substructure {request.substructure}."
    else:
        best = f", best {result.best:.3f}" if result.n_hits else ""
        limits = [f"≥ {request.threshold:g}"] if request.threshold is not None else []
        limits += [f"top {request.top_k:,}"] if request.top_k is not None else []
        detail = f"Similar to {request.similar} ({', '.join(limits)}{best})."
    unreadable = result.n_records - result.n_searched
    if unreadable:
        detail += f" {unreadable:,} records without a readable structure."
    return ClusterFileSummary(
        verb=f"Searched {source.name}",
        output=output,
        rows=result.n_hits,
        hits=result.n_hits,
        records=result.n_records,
        seconds=time.monotonic() - started,
        cluster=str(spec),
        workers=workers,
        detail=detail,
    )


__all__ = [
    "ClusterFileSummary",
    "ClusterInfo",
    "check_cluster",
    "check_search_request",
    "props_file_on_cluster",
    "score_file_on_cluster",
    "search_file_on_cluster",
]
