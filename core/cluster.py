"""Dask clusters: where a long job runs when one machine is not enough (issue 18).

An address names the cluster: ``tcp://host:port`` or ``tls://host:port`` (a scheduler already
running), ``local:N`` (N worker processes on this machine) or ``slurm:N`` (N batch jobs through
dask-jobqueue, configured in :func:`slurm_config_path`). :func:`connect` returns a
``distributed.Client`` whose workers were checked to run the same versions of the packages that
decide the answers (:data:`CHECKED_PACKAGES`); :func:`run_tasks` runs a list of tasks there,
reports progress, polls for cancel and turns a scheduler that goes away into one
:class:`ClusterError`. The work itself (``core.chem.cluster_props``) stays plain functions.

A scheduler runs the code it is sent, and so does every worker: connect only to a cluster you
trust, and use ``tls://`` outside one private network (certificates come from dask's own
configuration, ``distributed.comm.tls.*``).

``distributed`` and ``dask_jobqueue`` are imported only when a cluster is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.jobs import CancelCheck, JobCancelled, ProgressCallback, no_progress

SLURM_CONFIG_ENV = "DRUGDESK_SLURM_CONFIG"
"""Environment variable naming the Slurm configuration file (YAML) instead of the default."""

CHECKED_PACKAGES: tuple[str, ...] = ("drugdesk", "rdkit", "pandas", "numpy", "pyarrow")
"""Packages that must have one version on this machine and every worker, besides dask's own
(dask, distributed, msgpack, cloudpickle, tornado, toolz): a worker with another RDKit computes
other numbers, one without DrugDesk cannot run the tasks at all."""

CONNECT_TIMEOUT_S = 10.0
"""Seconds to reach a scheduler, and to reach it again after losing it before giving up."""
WORKERS_TIMEOUT_S = 60.0
"""Seconds to wait for a first worker on a scheduler that has none (Slurm: see the config)."""

_MAX_WORKERS = 10_000


class ClusterError(RuntimeError):
    """The cluster cannot be reached or used; the message is one line saying why."""


class ClusterAddressError(ValueError):
    """An address that names no cluster (a usage error)."""


@dataclass(slots=True, frozen=True)
class ClusterSpec:
    """A parsed cluster address.

    ``kind`` is ``"tcp"``, ``"tls"``, ``"local"`` or ``"slurm"``; ``address`` is the scheduler's
    address for tcp/tls; ``n_workers`` the worker processes (local) or batch jobs (slurm).
    """

    kind: str
    address: str | None = None
    n_workers: int | None = None

    def __str__(self) -> str:
        return self.address if self.address else f"{self.kind}:{self.n_workers}"


_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$")


def parse_cluster_address(text: str) -> ClusterSpec:
    """Parse ``tcp://host:port``, ``tls://host:port``, ``local:N`` or ``slurm:N``.

    Raises
    ------
    ClusterAddressError
        With one line saying what an address looks like.
    """
    text = text.strip()
    expected = (
        "expected tcp://HOST:PORT or tls://HOST:PORT (a running Dask scheduler), local:N "
        "(N worker processes here) or slurm:N (N Slurm jobs)"
    )
    lowered = text.lower()
    for scheme in ("tcp", "tls"):
        prefix = f"{scheme}://"
        if lowered.startswith(prefix):
            rest = text[len(prefix) :]
            match = _HOST_PORT.match(rest)
            if not match or not 0 < int(match.group(1)) < 65536:
                raise ClusterAddressError(f"cluster address '{text}': {expected}")
            return ClusterSpec(kind=scheme, address=f"{scheme}://{rest}")
    for kind in ("local", "slurm"):
        if lowered.startswith(f"{kind}:"):
            count = text[len(kind) + 1 :]
            if not count.isdigit() or not 0 < int(count) <= _MAX_WORKERS:
                raise ClusterAddressError(
                    f"cluster address '{text}': {kind}:N takes a number of "
                    f"{'workers' if kind == 'local' else 'jobs'} from 1 to {_MAX_WORKERS:,}"
                )
            return ClusterSpec(kind=kind, n_workers=int(count))
    raise ClusterAddressError(f"cluster address '{text}': {expected}")


def slurm_config_path() -> Path:
    """The Slurm configuration file: ``$DRUGDESK_SLURM_CONFIG``, else
    ``~/.config/drugdesk/slurm.yaml``.

    The file is a YAML mapping of ``dask_jobqueue.SLURMCluster`` arguments, for example::

        queue: normal          # the partition
        account: chem-lab
        cores: 8               # per job; one Dask worker process per core is started
        processes: 8
        memory: 32GB
        walltime: "02:00:00"
        job_script_prologue: ["source /shared/drugdesk/.venv/bin/activate"]
    """
    named = os.environ.get(SLURM_CONFIG_ENV)
    if named:
        return Path(named).expanduser()
    return Path.home() / ".config" / "drugdesk" / "slurm.yaml"


def read_slurm_config(path: Path | None = None) -> dict[str, Any]:
    """The ``SLURMCluster`` arguments of :func:`slurm_config_path` (or ``path``).

    Raises
    ------
    ClusterError
        When the file is missing, not YAML, or lacks ``cores`` or ``memory``.
    """
    import yaml

    path = path or slurm_config_path()
    how = (
        f"write a YAML file of dask-jobqueue SLURMCluster settings there (at least cores and "
        f"memory), or name one with {SLURM_CONFIG_ENV}"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClusterError(f"slurm: no Slurm configuration at {path}: {how}") from None
    except OSError as exc:
        raise ClusterError(f"slurm: cannot read {path} ({exc.strerror or exc})") from exc
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(f"slurm: {path} is not valid YAML ({first})") from exc
    if not isinstance(config, dict):
        raise ClusterError(f"slurm: {path} must hold a mapping of settings; {how}")
    missing = [key for key in ("cores", "memory") if key not in config]
    if missing:
        raise ClusterError(f"slurm: {path} lacks {' and '.join(missing)}; {how}")
    return config


def connect(spec: ClusterSpec, *, check_versions: bool = True) -> Any:
    """A ``distributed.Client`` for ``spec``, its workers' versions checked.

    ``local:N`` starts a ``LocalCluster`` of N single-threaded worker processes; ``slurm:N``
    submits N jobs with the settings of :func:`read_slurm_config`. Close with
    :func:`disconnect`, which also ends a cluster started here.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached, no worker joins in time, or versions differ.
    """
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if spec.kind == "local":
            with warnings.catch_warnings():
                # Without a dashboard the scheduler still serves its health checks over HTTP,
                # on port 8787 or another when that is taken: no reason to warn the user.
                warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
                cluster = LocalCluster(
                    n_workers=spec.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # The workers write to this terminal: a task's error ("Compute Failed" and
                    # its traceback) is said here in one line instead.
                    silence_logs=logging.CRITICAL,
                )
            client = Client(cluster, set_as_default=False)
        elif spec.kind == "slurm":
            config = read_slurm_config()
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError as exc:
                raise ClusterError(
                    "slurm: dask-jobqueue is not installed (pip install dask-jobqueue)"
                ) from exc
            try:
                cluster = SLURMCluster(**config)
            except (TypeError, ValueError) as exc:
                raise ClusterError(
                    f"slurm: the settings in {slurm_config_path()} are refused ({_first_line(exc)})"
                ) from exc
            cluster.scale(jobs=spec.n_workers)
            client = Client(cluster, set_as_default=False)
        else:
            if spec.kind == "tls":
                check_tls_configured()
            client = Client(spec.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except ClusterError:
        _close_quietly(cluster)
        raise
    except (OSError, TimeoutError) as exc:
        _close_quietly(cluster)
        raise ClusterError(
            f"cannot reach the Dask scheduler at {spec} ({_first_line(exc)})"
        ) from exc
    try:
        timeout = (
            float(read_slurm_config().get("drugdesk_wait_s", 600))
            if spec.kind == "slurm"
            else WORKERS_TIMEOUT_S
        )
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError) as exc:
            raise ClusterError(
                f"no Dask worker joined the scheduler at {spec} within {timeout:.0f} s"
            ) from exc
        if check_versions:
            check_cluster_versions(client, spec)
    except BaseException:
        disconnect(client)
        raise
    return client


def check_tls_configured() -> None:
    """Refuse ``tls://`` before connecting when dask's configuration names no certificates.

    Raises
    ------
    ClusterError
        Saying which settings to write.
    """
    from distributed.security import Security

    try:
        context = Security().get_connection_args("client").get("ssl_context")
    except (OSError, ValueError) as exc:  # a named certificate file that cannot be read
        raise ClusterError(f"tls: the TLS settings cannot be used ({_first_line(exc)})") from exc
    if context is None:
        raise ClusterError(
            "tls: no TLS certificates configured: set distributed.comm.tls.ca-file, "
            "distributed.comm.tls.client.cert and distributed.comm.tls.client.key in Dask's "
            "configuration (~/.config/dask/distributed.yaml, or DASK_DISTRIBUTED__COMM__TLS__* "
            "environment variables)"
        )


def check_cluster_versions(client: Any, spec: ClusterSpec | str = "the cluster") -> None:
    """Refuse a cluster whose workers (or scheduler) run other versions than this machine.

    Uses ``client.get_versions(check=True)`` (which only warns) and compares
    :data:`CHECKED_PACKAGES`, dask's required packages and the Python version itself.

    Raises
    ------
    ClusterError
        One line naming the first mismatched package and the versions found.
    """
    from distributed.versions import required_packages, scheduler_relevant_packages

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        versions = client.get_versions(check=True, packages=list(CHECKED_PACKAGES))
    here = _package_versions(versions["client"])
    others: list[tuple[str, dict[str, str]]] = [
        (f"worker {name}", _package_versions(info)) for name, info in versions["workers"].items()
    ]
    scheduler = _package_versions(versions["scheduler"])
    checked = ("python", *required_packages, *CHECKED_PACKAGES)
    for package in checked:
        mine = here.get(package, "MISSING")
        where = list(others)
        if package in scheduler_relevant_packages:
            where.insert(0, ("the scheduler", scheduler))
        for name, found in where:
            theirs = found.get(package, "MISSING")
            if theirs != mine:
                has = "lacks " + package if theirs == "MISSING" else f"has {package} {theirs}"
                raise ClusterError(
                    f"{spec}: {name} {has}, this machine {package} {mine}: install the same "
                    f"{package} version on every worker and the scheduler"
                )


def _package_versions(info: dict | None) -> dict[str, str]:
    if not isinstance(info, dict):
        return {}
    packages = {
        k: str(v) if v is not None else "MISSING" for k, v in info.get("packages", {}).items()
    }
    python = info.get("host", {}).get("python", "")
    # Major.minor decides pickles and wheels; the patch level does not.
    packages["python"] = ".".join(str(python).split(".")[:2]) or "MISSING"
    return packages


def disconnect(client: Any) -> None:
    """Close ``client`` and end the cluster it started (local, slurm); a scheduler that was
    already running (tcp, tls) is left running."""
    cluster = getattr(client, "cluster", None)
    with contextlib.suppress(Exception):  # closing must not hide the failure
        client.close(timeout=CONNECT_TIMEOUT_S)
    _close_quietly(cluster)


def _close_quietly(cluster: Any) -> None:
    if cluster is not None:
        with contextlib.suppress(Exception):  # closing must not hide the failure
            cluster.close(timeout=CONNECT_TIMEOUT_S)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------------------------
# Running tasks


@dataclass(slots=True, frozen=True)
class Task:
    """One call to run on a worker: ``function(*args)``; ``label`` names it in messages."""

    function: Callable[..., Any]
    args: tuple
    label: str


def run_tasks(
    client: Any,
    tasks: Iterable[Task],
    *,
    total: int | None = None,
    what: str = "parts",
    max_in_flight: int | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> Iterator[tuple[int, Any]]:
    """Run ``tasks`` on the cluster and yield ``(position, result)`` as each finishes.

    Tasks are submitted lazily, at most ``max_in_flight`` at once (default: unlimited), so that
    tasks carrying their records do not all sit in this process's memory. A worker that dies
    has its tasks run again elsewhere by the scheduler (up to its ``allowed-failures``); a task
    must therefore be safe to run twice. The exception a task raises is raised here as itself.

    Raises
    ------
    ClusterError
        The scheduler went away (after reconnecting failed for :data:`CONNECT_TIMEOUT_S`), or a
        task killed its worker too many times.
    JobCancelled
        ``is_cancelled`` turned true (checked every 0.1 s); the tasks out are cancelled.
    """
    pending = iter(enumerate(tasks))
    running: dict[Any, tuple[int, str]] = {}
    done = 0
    exhausted = False
    limit = max_in_flight or 1 << 30
    token = os.urandom(6).hex()
    try:
        while True:
            while not exhausted and len(running) < limit:
                try:
                    position, task = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                future = client.submit(
                    task.function,
                    *task.args,
                    key=f"drugdesk-{token}-{position}",
                    pure=False,
                    retries=0,
                )
                running[future] = (position, task.label)
            if not running:
                return
            finished = [future for future in running if future.done()]
            if not finished:
                time.sleep(0.1)
            if is_cancelled is not None and is_cancelled():
                raise JobCancelled()
            if not finished and client.status in ("closed", "closing"):
                raise _scheduler_lost(client, done, total, what)
            for future in sorted(finished, key=lambda f: running[f][0]):
                position, label = running.pop(future)
                result = _result(client, future, label, done, total, what)
                done += 1
                shown = f"{total:,}" if total else "?"
                # Below 1: the caller says when the whole job is done (an estimated total may
                # also be passed).
                fraction = min(0.99, done / total) if total else -1.0
                progress(fraction, f"{done:,} of {shown} {what} done")
                yield position, result
    finally:
        if running:
            with contextlib.suppress(Exception):  # closing must not hide the failure
                client.cancel(list(running), force=True)


def _result(client: Any, future: Any, label: str, done: int, total: int | None, what: str) -> Any:
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        raise ClusterError(
            f"{label} ended the worker running it on every try ({_first_line(exc)}): out of "
            "memory on the workers?"
        ) from exc
    except (FutureCancelledError, OSError, TimeoutError) as exc:
        if future.status == "error" and not isinstance(exc, FutureCancelledError):
            raise  # the task's own error (a part that cannot be written), as it was raised
        # Fetching the result failed: the connection to the scheduler is gone.
        raise _scheduler_lost(client, done, total, what) from exc


def _scheduler_lost(client: Any, done: int, total: int | None, what: str) -> ClusterError:
    address = getattr(client, "scheduler", None)
    address = getattr(address, "address", None) or "the scheduler"
    shown = f" of {total:,}" if total else ""
    return ClusterError(
        f"lost the Dask scheduler at {address} after {done:,}{shown} {what}; nothing written"
    )
