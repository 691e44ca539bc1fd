"""scripts/system_libraries.sh: the set-up finds missing Qt/VTK system libraries and installs them
when it can, or stops with the exact command (issue 13, part 10). Run against fake commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "system_libraries.sh"

pytestmark = pytest.mark.skipif(os.uname().sysname != "Linux", reason="the check runs on Linux")


def _fake_bin(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run(
    tmp_path: Path, *, uid: int, sudo_ok: bool, present: str = ""
) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    # ldconfig's cache lists only the libraries named in `present`.
    listing = "".join(
        f"\t{soname} (libc6,x86-64) => /usr/lib/{soname}\\n" for soname in present.split()
    )
    _fake_bin(bin_dir, "ldconfig", f'printf "{listing}"')
    _fake_bin(bin_dir, "uname", "echo Linux")
    _fake_bin(bin_dir, "id", f"echo {uid}")
    _fake_bin(
        bin_dir,
        "sudo",
        f'[ "$1" = "-n" ] && shift; {"" if sudo_ok else "exit 1;"} echo "sudo $*" >> {log}; "$@"',
    )
    _fake_bin(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "DRUGDESK_LIBRARY_DIRS": str(tmp_path / "nolibs"),
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60
    )
    result.calls = log.read_text() if log.exists() else ""  # type: ignore[attr-defined]
    return result


def test_without_a_password_it_stops_and_prints_the_command(tmp_path):
    result = _run(tmp_path, uid=1000, sudo_ok=False, present="libX11.so.6")
    assert result.returncode == 1
    assert "libxcb-cursor.so.0" in result.stderr
    assert (
        "sudo apt-get update -qq && sudo apt-get install -y --no-install-recommends"
        in result.stderr
    )
    assert "libxcb-cursor0" in result.stderr
    assert "libx11-6" not in result.stderr  # present libraries are not asked for
    assert result.calls == ""  # nothing was installed


def test_as_root_it_installs_the_missing_packages(tmp_path):
    result = _run(tmp_path, uid=0, sudo_ok=False)
    assert result.returncode == 0, result.stderr
    assert "apt-get update -qq" in result.calls
    assert "libxcb-cursor0" in result.calls and "libegl1" in result.calls


def test_with_sudo_that_needs_no_password_it_installs(tmp_path):
    result = _run(tmp_path, uid=1000, sudo_ok=True)
    assert result.returncode == 0, result.stderr
    assert "sudo apt-get install" in result.calls


def test_nothing_missing_means_nothing_done(tmp_path):
    import re

    sonames = re.findall(r'"(lib[^|"]+\.so\.\d+)\|', SCRIPT.read_text())
    assert len(sonames) > 10
    result = _run(tmp_path, uid=1000, sudo_ok=False, present=" ".join(sonames))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.calls == ""
