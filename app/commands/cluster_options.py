"""``--cluster ADDRESS``: what the verbs that run on a Dask cluster (``props``, ``search``,
``score``) share: the options, the address check, connecting and always disconnecting, and
Dask's log records kept off the terminal (issue 18)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from app.commands.common import end_progress_line, fail, os_error_text, usage_error

T = TypeVar("T")

DEFAULT_PARTITION_SIZE = 5000

TRUST_NOTE = "A scheduler runs the code it is sent: connect only to a cluster you trust."


def add_cluster_arguments(
    parser: argparse.ArgumentParser, *, same: str = "the table is the same", paths_note: str = ""
) -> None:
    """Add ``--cluster``, ``--partition-size`` and ``--cluster-ship-records`` to ``parser``.

    ``same``: how the answer compares with one machine's; ``paths_note``: what else (beyond the
    input and output) the workers must reach by the same path, said in the group's description.
    """
    cluster = parser.add_argument_group("on a Dask cluster", f"{TRUST_NOTE} {paths_note}".strip())
    cluster.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on a Dask cluster: tcp://HOST:PORT or tls://HOST:PORT (a running scheduler), "
        "local:N (N worker processes here) or slurm:N (N Slurm jobs, settings in "
        f"~/.config/drugdesk/slurm.yaml or $DRUGDESK_SLURM_CONFIG); {same}",
    )
    cluster.add_argument(
        "--partition-size",
        type=int,
        default=DEFAULT_PARTITION_SIZE,
        metavar="K",
        help=f"records per task on the cluster (default {DEFAULT_PARTITION_SIZE})",
    )
    cluster.add_argument(
        "--cluster-ship-records",
        action="store_true",
        help="the workers share no file system with this machine: send them the records and "
        "take their results back (default: they read the input and write parts beside the "
        "output by the same paths)",
    )


def cluster_spec(command: str, args: argparse.Namespace) -> Any:
    """The parsed ``--cluster`` address, or the exit code (2) of a usage error already said."""
    from core.cluster import ClusterAddressError, parse_cluster_address

    try:
        spec = parse_cluster_address(args.cluster)
    except ClusterAddressError as exc:
        return usage_error(command, str(exc))
    if args.partition_size < 1:
        return usage_error(command, "--partition-size must be at least 1")
    return spec


def print_note(_fraction: float, message: str) -> None:
    """A ``note: …`` line on stderr (the file is read here instead of by the workers…)."""
    end_progress_line()
    print(f"note: {message}", file=sys.stderr)


def run_on_cluster(
    command: str,
    spec: Any,
    job: Callable[[Any], T],
    errors: tuple[type[BaseException], ...] = (),
) -> T | int:
    """Connect to ``spec``, run ``job(client)`` and disconnect, whatever happens.

    Returns the job's result, or the exit code (1) after saying in one line why it failed: the
    cluster cannot be reached or went away (:class:`~core.cluster.ClusterError`), an ``OSError``,
    or one of ``errors``. Ctrl+C goes up to the command line's handler (130, nothing written).
    """
    from core.cluster import ClusterError, connect, disconnect

    with dask_logs_to_file_only():
        try:
            client = connect(spec)
        except ClusterError as exc:
            return fail(command, str(exc))
        try:
            return job(client)
        except (ClusterError, *errors) as exc:
            return fail(command, str(exc))
        except OSError as exc:
            return fail(command, os_error_text(exc))
        finally:
            disconnect(client)


@contextlib.contextmanager
def dask_logs_to_file_only() -> Iterator[None]:
    """Keep Dask's and tornado's log records (a lost scheduler logs tracebacks while the
    client reconnects) off the terminal, where the command's one line says what happened; the
    log file still gets them."""

    def not_dask(record: logging.LogRecord) -> bool:
        return not record.name.startswith(("distributed", "tornado"))

    consoles = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler
    ]
    for handler in consoles:
        handler.addFilter(not_dask)
    try:
        yield
    finally:
        for handler in consoles:
            handler.removeFilter(not_dask)
