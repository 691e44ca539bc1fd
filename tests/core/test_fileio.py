"""The one write path: atomic replace, symlinks, pipes and devices, full disks, clear errors."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.fileio import (
    OutputError,
    atomic_output,
    atomic_path,
    describe_write_error,
    refuse_output_over_input,
    write_bytes_atomic,
    write_text_atomic,
)

needs_dev_full = pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)"
)


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.fixture(autouse=True)
def never_replace_devices(monkeypatch):
    """Tests run as root on some machines: a broken writer must not rename a file onto /dev."""
    real_replace = os.replace

    def guarded(source, target, *args, **kwargs):
        assert not os.fspath(target).startswith("/dev/"), f"os.replace onto {target}"
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", guarded)


def names(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ----------------------------------------------------------------------------------------------
# Atomic replace


def test_new_file_is_written_with_the_usual_permissions(folder):
    reference = folder / "reference.txt"
    reference.write_text("x")
    with atomic_output(folder / "new.txt") as handle:
        handle.write("héllo\n")
    assert (folder / "new.txt").read_text(encoding="utf-8") == "héllo\n"
    assert stat.S_IMODE((folder / "new.txt").stat().st_mode) == stat.S_IMODE(
        reference.stat().st_mode
    )
    assert names(folder) == ["new.txt", "reference.txt"]


def test_replacing_keeps_the_permission_bits_of_the_old_file(folder):
    target = folder / "shared.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_bytes_and_text_helpers_round_trip(folder):
    assert write_bytes_atomic(folder / "b.bin", b"\x00\xff") == folder / "b.bin"
    assert (folder / "b.bin").read_bytes() == b"\x00\xff"
    write_text_atomic(folder / "t.txt", "a\nb\n", newline="\r\n")
    assert (folder / "t.txt").read_bytes() == b"a\r\nb\r\n"


@pytest.mark.parametrize("where", ["fsync", "write"])
def test_full_disk_keeps_the_old_file_and_leaves_no_temporary(folder, monkeypatch, where):
    target = folder / "out.csv"
    target.write_text("old content\n")
    if where == "fsync":
        monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OutputError) as info, atomic_output(target) as handle:
        handle.write("new content\n")
        if where == "write":
            full_disk()  # what a file object raises when a write meets a full disk
    assert str(info.value) == f"Cannot write {target}: no space left on device"
    assert info.value.errno == errno.ENOSPC
    assert (info.value.path, info.value.reason) == (target, "no space left on device")
    assert isinstance(info.value, OSError)
    assert target.read_text() == "old content\n"
    assert names(folder) == ["out.csv"]


def test_full_disk_through_atomic_path_keeps_the_old_file(folder, monkeypatch):
    target = folder / "out.xlsx"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", full_disk)
    message = r"out\.xlsx: no space left on device$"
    with pytest.raises(OutputError, match=message), atomic_path(target) as temporary:
        temporary.write_bytes(b"new workbook")
    assert target.read_bytes() == b"old"
    assert names(folder) == ["out.xlsx"]


@pytest.mark.parametrize("exception", [KeyboardInterrupt, RuntimeError])
def test_interrupted_write_keeps_the_old_file(folder, exception):
    target = folder / "out.sdf"
    target.write_text("old\n")
    with pytest.raises(exception), atomic_output(target) as handle:
        handle.write("half a record")
        raise exception()
    assert target.read_text() == "old\n"
    assert names(folder) == ["out.sdf"]
    with pytest.raises(exception), atomic_path(folder / "new.sdf") as temporary:
        temporary.write_text("half")
        raise exception()
    assert names(folder) == ["out.sdf"]


def test_atomic_path_names_a_file_beside_the_target_with_its_suffix(folder):
    target = folder / ("n" * 240 + ".png")  # a long name: the temporary one must still fit
    with atomic_path(target) as temporary:
        assert temporary.parent == folder and temporary.suffix == ".png"
        assert temporary.name.startswith(".") and temporary.is_file()
        temporary.write_bytes(b"png")
    assert target.read_bytes() == b"png"
    assert names(folder) == [target.name]


# ----------------------------------------------------------------------------------------------
# Clear refusals


def test_missing_folder_is_named(folder):
    target = folder / "no" / "such" / "out.csv"
    with pytest.raises(OutputError) as info:
        write_text_atomic(target, "x")
    assert str(info.value) == f"Cannot write {target}: the folder {target.parent} does not exist"
    assert info.value.errno == errno.ENOENT
    assert names(folder) == []
    with pytest.raises(OutputError, match=r"does not exist$"), atomic_path(target):
        pass


def test_a_folder_is_not_overwritten(folder):
    (folder / "results").mkdir()
    with pytest.raises(OutputError, match=r"^Cannot write .*results: it is a folder$"):
        write_text_atomic(folder / "results", "x")
    assert (folder / "results").is_dir()


def test_a_read_only_file_stays_as_it_was(folder):
    target = folder / "keep.csv"
    target.write_text("precious\n")
    target.chmod(0o444)
    with pytest.raises(
        OutputError, match=r"keep\.csv: permission denied \(the file is read-only\)$"
    ):
        write_text_atomic(target, "new\n")
    assert target.read_text() == "precious\n"
    assert names(folder) == ["keep.csv"]


def test_an_unwritable_folder_gives_permission_denied(folder, monkeypatch):
    real_open = os.open

    def denied(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(OutputError) as info:
        write_text_atomic(folder / "out.csv", "x")
    assert str(info.value) == f"Cannot write {folder / 'out.csv'}: permission denied"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "no space left on device"),
        (errno.EDQUOT, "disk quota exceeded"),
        (errno.EROFS, "the file system is read-only"),
        (errno.EACCES, "permission denied"),
        (errno.EXDEV, os.strerror(errno.EXDEV)[:1].lower() + os.strerror(errno.EXDEV)[1:]),
    ],
)
def test_reasons_are_words(code, reason):
    assert describe_write_error(OSError(code, os.strerror(code))) == reason
    assert "Errno" not in describe_write_error(OSError(code, os.strerror(code)))


# ----------------------------------------------------------------------------------------------
# Symbolic links, pipes and devices


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    real_folder, link_folder = tmp_path / "data", tmp_path / "links"
    real_folder.mkdir()
    link_folder.mkdir()
    real = real_folder / "hits.csv"
    real.write_text("old\n")
    real.chmod(0o600)
    link = link_folder / "latest.csv"
    link.symlink_to(real)
    write_text_atomic(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    # The temporary file went beside the real file, and nothing is left in either folder.
    assert names(real_folder) == ["hits.csv"] and names(link_folder) == ["latest.csv"]


def test_a_dangling_symlink_creates_its_target(folder):
    link = folder / "link.csv"
    link.symlink_to(folder / "target.csv")
    with atomic_path(link) as temporary:
        temporary.write_text("made\n")
    assert link.is_symlink()
    assert (folder / "target.csv").read_text() == "made\n"


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as handle:
            into.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
@pytest.mark.parametrize("helper", ["atomic_output", "atomic_path"])
def test_a_named_pipe_is_written_directly(folder, helper):
    pipe = folder / "pipe.csv"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = _read_fifo(pipe, received)
    if helper == "atomic_output":
        with atomic_output(pipe) as handle:
            handle.write("a,b\n1,2\n")
    else:
        with atomic_path(pipe) as temporary:
            temporary.write_text("a,b\n1,2\n")
    reader.join(timeout=30)
    assert received == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)  # still a pipe: not replaced by a file
    assert names(folder) == ["pipe.csv"]


@needs_dev_full
@pytest.mark.parametrize("helper", ["atomic_output", "atomic_path"])
def test_dev_full_reports_no_space(helper):
    with pytest.raises(OutputError) as info:
        if helper == "atomic_output":
            with atomic_output("/dev/full") as handle:
                handle.write("x" * 100_000)
        else:
            with atomic_path("/dev/full") as temporary:
                temporary.write_text("x" * 100)
    assert str(info.value) == "Cannot write /dev/full: no space left on device"
    assert info.value.errno == errno.ENOSPC
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_is_written_not_replaced():
    write_text_atomic("/dev/null", "discarded\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# ----------------------------------------------------------------------------------------------
# Output over input


def test_refuse_output_over_input_same_file_by_any_name(folder):
    source = folder / "input.csv"
    source.write_text("smiles\nCCO\n")
    link = folder / "alias.csv"
    link.symlink_to(source)
    hard = folder / "hard.csv"
    os.link(source, hard)
    for output in (source, folder / "sub" / ".." / "input.csv", link, hard):
        with pytest.raises(OutputError, match=r"^Cannot write .*: it is the input file"):
            refuse_output_over_input(output, [folder / "other.csv", source])
    with pytest.raises(OutputError) as info:
        refuse_output_over_input(source, [source])
    assert str(info.value) == (
        f"Cannot write {source}: it is the input file; choose another output file"
    )
    assert source.read_text() == "smiles\nCCO\n"


def test_refuse_output_over_input_lets_other_files_pass(folder):
    source = folder / "input.csv"
    source.write_text("x")
    (folder / "existing.csv").write_text("y")
    assert refuse_output_over_input(folder / "new.csv", [source, None]) is None
    assert refuse_output_over_input(folder / "existing.csv", [source]) is None
    assert refuse_output_over_input(folder / "new.csv", []) is None


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc (Linux)")
@pytest.mark.parametrize("helper", ["atomic_output", "atomic_path"])
def test_dev_stdout_into_a_pipe(helper):
    # /dev/stdout leads through /proc to a pipe that has no name: resolving it and writing a
    # temporary file beside it failed ("the folder /proc/<pid>/fd does not exist").
    code = (
        "from core.fileio import atomic_output, atomic_path\n"
        f"if {helper == 'atomic_output'}:\n"
        "    with atomic_output('/dev/stdout') as handle:\n"
        "        handle.write('through the pipe\\n')\n"
        "else:\n"
        "    with atomic_path('/dev/stdout') as temporary:\n"
        "        temporary.write_text('through the pipe\\n')\n"
    )
    root = Path(__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "through the pipe\n"
