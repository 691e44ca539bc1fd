"""One checked way to write a file the user will see: atomic, and every failure said in one line.

Every writer of user-visible output (exports, reports, profiles, settings, model folders) goes
through :func:`atomic_output` (a file handle) or :func:`atomic_path` (a file name, for libraries
that open the file themselves). Both

* write into a temporary file in the target's folder, flush and ``fsync`` it, and only then
  ``os.replace`` it onto the target: a full disk, a crash or Ctrl+C half-way leaves the old file as
  it was and no temporary file behind;
* keep an existing file's permission bits (a new file gets the usual ``0o666`` less the umask);
* write through a symbolic link: the file it points to is replaced and the link stays a link;
* write straight into a target that exists and is not a regular file (a named pipe, ``/dev/null``,
  ``/dev/full``, a terminal), where a rename would replace the device instead of feeding it;
* refuse to replace a regular file that the user cannot write (a read-only file stays read-only);
* raise :class:`OutputError`, whose message names the file and the reason
  (``Cannot write out.csv: no space left on device``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "OutputError",
    "atomic_output",
    "atomic_path",
    "describe_write_error",
    "refuse_output_over_input",
    "write_bytes_atomic",
    "write_text_atomic",
]


class OutputError(OSError):
    """A file could not be written; ``str(error)`` names the file and the reason, in one line.

    An :class:`OSError`, so code that catches ``OSError`` keeps working; ``errno`` is the cause's
    error number when there is one, ``path`` the file and ``reason`` the words after the colon
    (for callers that phrase the message their own way).
    """

    path: Path | None = None
    reason: str = ""

    @classmethod
    def about(cls, path: str | os.PathLike, reason: str, code: int | None = None) -> OutputError:
        """``Cannot write <path>: <reason>``, with ``errno`` set to ``code``."""
        error = cls(f"Cannot write {path}: {reason}")
        error.path, error.reason, error.errno = Path(path), reason, code
        return error


# Reasons a user can act on, for the errors a write meets in practice.
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EFBIG: "the file is too large for this file system",
    errno.EIO: "input/output error (the disk or network drive failed)",
    errno.EBUSY: "the file is busy (in use by another program)",
    errno.ETXTBSY: "the file is busy (in use by another program)",
    errno.EPIPE: "the reader of the pipe went away",
}


def describe_write_error(error: BaseException, folder: str | os.PathLike | None = None) -> str:
    """The reason ``error`` gives for a failed write, in words (no error number, no traceback).

    ``folder``: the folder the file was to go into, named when it does not exist.
    """
    code = getattr(error, "errno", None)
    if code == errno.ENOENT:
        return f"the folder {folder} does not exist" if folder else "no such file or folder"
    if code == errno.ENOTDIR:
        return (
            f"a part of {folder} is not a folder"
            if folder
            else "a part of the path is not a folder"
        )
    if code in _REASONS:
        return _REASONS[code]
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def _output_error(path: Path, error: BaseException, folder: Path | None) -> OutputError:
    return OutputError.about(
        path, describe_write_error(error, folder), getattr(error, "errno", None)
    )


def _resolve(path: Path) -> Path:
    # os.replace onto a symlink would replace the link by a plain file: write where it points.
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _existing(path: Path) -> os.stat_result | None:
    """The status of what ``path`` leads to (``None`` when nothing is there yet); refuses what
    cannot be replaced.

    Taken through ``path`` itself, not its resolved name: the kernel follows ``/proc``'s links
    (``/dev/stdout`` leads to ``/proc/self/fd/1``, then to a pipe that has no name to resolve).
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _output_error(path, error, path.parent) from error
    if stat.S_ISDIR(status.st_mode):
        raise OutputError.about(path, "it is a folder", errno.EISDIR)
    read_only = not status.st_mode & 0o222 or not os.access(path, os.W_OK)
    if stat.S_ISREG(status.st_mode) and read_only:
        # The folder may allow a rename over it, but the user made this file read-only (the
        # mode bits count for root too, whom os.access lets write anything).
        raise OutputError.about(path, "permission denied (the file is read-only)", errno.EACCES)
    return status


def _temporary_beside(target: Path) -> tuple[Path, int]:
    """Create an empty temporary file in ``target``'s folder; return its path and permission bits.

    It keeps the target's suffix: some writers (Qt's image writer) choose the format by it.
    Not tempfile.mkstemp: its files are private (0600); an output gets the usual permissions.
    """
    name = f".{target.stem[:100]}.{secrets.token_hex(6)}.tmp{target.suffix[:20]}"
    temporary = target.parent / name
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666
    )
    try:
        mode = stat.S_IMODE(os.fstat(descriptor).st_mode)  # 0o666 less the umask
    finally:
        os.close(descriptor)
    return temporary, mode


def _sync_folder(folder: Path) -> None:
    # Makes the rename itself durable; some file systems refuse to open a folder: not an error.
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _commit(temporary: Path, target: Path, mode: int) -> None:
    os.chmod(temporary, mode)
    os.replace(temporary, target)
    _sync_folder(target.parent)


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def atomic_output(
    path: str | os.PathLike,
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    errors: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it changes only if the whole ``with`` block succeeds.

    Parameters
    ----------
    path
        The file to write (a symbolic link is followed; a named pipe or a device is written
        directly).
    mode
        ``"w"`` (text) or ``"wb"`` (bytes).
    encoding, errors, newline
        As for :func:`open`, text mode only.

    Yields
    ------
    file object
        Write into it; it is flushed, synced to disk and renamed onto ``path`` at the end.

    Raises
    ------
    OutputError
        When the file cannot be written, naming the file and the reason. An existing file is
        then left as it was and no temporary file remains; any other exception from the block
        is raised as it is, with the same guarantee.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_output writes with mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    options: dict[str, Any] = {}
    if mode == "w":
        options = {"encoding": encoding, "errors": errors, "newline": newline}
    status = _existing(path)
    if status is not None and not stat.S_ISREG(status.st_mode):
        yield from _direct_output(path, mode, options)
        return
    target = _resolve(path)
    try:
        temporary, new_mode = _temporary_beside(target)
    except OSError as error:
        raise _output_error(path, error, target.parent) from error
    keep_mode = stat.S_IMODE(status.st_mode) & 0o777 if status is not None else new_mode
    handle = None
    try:
        handle = open(temporary, mode, **options)  # noqa: SIM115 (closed below, before the rename)
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        _commit(temporary, target, keep_mode)
    except BaseException as error:
        if handle is not None:
            with contextlib.suppress(OSError, ValueError):
                handle.close()
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise _output_error(path, error, target.parent) from error
        raise


def _direct_output(path: Path, mode: str, options: dict) -> Iterator[IO[Any]]:
    # A pipe or a device: there is nothing to keep, and a rename would replace the device node.
    try:
        with open(path, mode, **options) as handle:
            yield handle
            handle.flush()
    except OSError as error:
        if isinstance(error, OutputError):
            raise
        raise _output_error(path, error, path.parent) from error


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file name to write ``path`` through, for libraries that open files
    themselves (openpyxl, Qt, safetensors, skops).

    The file named is created empty beside ``path`` and has ``path``'s suffix; when the block
    ends it is synced and renamed onto ``path``, with the guarantees of :func:`atomic_output`.
    A named pipe or a device as ``path`` receives the written bytes by a plain copy.

    Raises
    ------
    OutputError
        As :func:`atomic_output`.
    """
    path = Path(path)
    status = _existing(path)
    special = status is not None and not stat.S_ISREG(status.st_mode)
    target = path if special else _resolve(path)
    try:
        if special:
            descriptor, name = tempfile.mkstemp(suffix=target.suffix[:20])
            os.close(descriptor)
            temporary, new_mode = Path(name), 0
        else:
            temporary, new_mode = _temporary_beside(target)
    except OSError as error:
        raise _output_error(path, error, target.parent) from error
    keep_mode = stat.S_IMODE(status.st_mode) & 0o777 if status is not None else new_mode
    try:
        yield temporary
        if special:
            with open(temporary, "rb") as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            temporary.unlink()
        else:
            _fsync_file(temporary)
            _commit(temporary, target, keep_mode)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise _output_error(path, error, target.parent) from error
        raise


def write_text_atomic(
    path: str | os.PathLike, text: str, encoding: str = "utf-8", newline: str | None = None
) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_output`; return ``path``."""
    with atomic_output(path, "w", encoding=encoding, newline=newline) as handle:
        handle.write(text)
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_output`; return ``path``."""
    with atomic_output(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def refuse_output_over_input(
    output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]
) -> None:
    """Raise :class:`OutputError` when ``output`` is one of ``inputs`` (a command would replace
    the file it reads, and lose it if anything goes wrong).

    The same file under another name counts: paths are compared after resolving symbolic links
    and ``..``, and with :func:`os.path.samefile` (hard links, bind mounts, a case-insensitive
    disk). ``None`` entries are skipped (optional inputs).
    """
    output = Path(output)
    resolved = Path(os.path.realpath(output))
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        same = resolved == Path(os.path.realpath(source))
        if not same:
            with contextlib.suppress(OSError):
                same = os.path.samefile(output, source)
        if same:
            named = "" if os.fspath(source) == os.fspath(output) else f" {source}"
            raise OutputError.about(
                output, f"it is the input file{named}; choose another output file", errno.EEXIST
            )
