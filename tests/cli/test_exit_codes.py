"""Exit codes and failure lines shared by every command: 0 success, 1 error, 2 usage, 130 Ctrl+C,
143 SIGTERM, 141 a closed pipe; one line ``drugdesk <verb>: error: …``, never a traceback."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rdkit import Chem

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHEMBL = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"


def _one_error_line(err: str, verb: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"drugdesk {verb}: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------------------------
# Ctrl+C and SIGTERM


@pytest.fixture(scope="module")
def big_smi(tmp_path_factory) -> Path:
    """About 6,000 drug-like SMILES: some 20 s of `props` with two workers, on two cores."""
    path = tmp_path_factory.mktemp("big") / "big.smi"
    path.write_text(CHEMBL.read_text() * 6)
    return path


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def _start_props(big_smi: Path, out: Path, workers: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "props",
            str(big_smi),
            "-o",
            str(out),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a terminal's Ctrl+C reaches them all
    )
    # Wait until the command runs (its first child process exists: multiprocessing's resource
    # tracker, then the workers), then let it work a while.
    deadline = time.monotonic() + 90
    while not _children(process.pid):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "props started no child process"
        time.sleep(0.1)
    time.sleep(2.0)
    assert process.poll() is None, "props ended before it could be interrupted"
    return process


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("how", "workers", "code"),
    [
        ("ctrl+c", 2, 130),
        ("sigterm", 2, 143),
        # In this process RDKit takes SIGINT's handler for itself at its first substructure
        # search (rdkit/rdkit#9381): Ctrl+C must stop the command all the same.
        ("ctrl+c", 1, 130),
    ],
)
def test_interrupted_props_says_one_line_and_writes_nothing(big_smi, tmp_path, how, workers, code):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "out.csv"
    process = _start_props(big_smi, out, workers)
    if how == "ctrl+c":  # as a terminal sends it: to the whole process group, workers included
        os.killpg(process.pid, signal.SIGINT)
    else:  # as `kill PID` sends it: to the main process only
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err == "drugdesk props: cancelled, nothing written\n"  # no worker tracebacks either
    assert not out.exists()
    assert list(folder.iterdir()) == []  # no temporary file left behind


# ----------------------------------------------------------------------------------------------
# Unexpected failures


def test_an_unexpected_exception_is_one_line_and_the_traceback_goes_to_the_log(monkeypatch, capsys):
    from app.commands import trials
    from app.logging_setup import setup_logging

    def broken(args):
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setattr(trials, "run_power", broken)
    assert main(["power", "--endpoint", "survival", "--hr", "0.7"]) == 1
    line = _one_error_line(capsys.readouterr().err, "power")
    log = setup_logging(logging.WARNING)
    assert line == (
        "drugdesk power: error: unexpected RuntimeError: something nobody expected "
        f"(see the log file {log})"
    )
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "something nobody expected" in text
    assert "in broken" in text  # the traceback, with the frame that raised


def test_argparse_errors_are_one_line_with_exit_2(capsys):
    assert main(["props"]) == 2
    line = _one_error_line(capsys.readouterr().err, "props")
    assert "the following arguments are required" in line and "--help" in line
    km = ["km", "t.csv", "--time", "t", "--event", "e", "--group", "g", "-o", "x.csv"]
    assert main([*km, "-z"]) == 2
    assert "unrecognized arguments: -z" in _one_error_line(capsys.readouterr().err, "km")


def test_help_names_the_exit_codes():
    done = subprocess.run(
        [sys.executable, "main.py", "props", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "0 success; 1 error" in text and "2 usage" in text
    assert "130 interrupted" in text and "143 terminated" in text and "141" in text


# ----------------------------------------------------------------------------------------------
# Output over input


@pytest.mark.parametrize(
    "verb",
    ["props", "conformers", "score", "predict", "km", "de", "project"],
)
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, capsys, verb):
    source = tmp_path / ("in.sdf" if verb == "conformers" else "in.csv")
    if verb == "conformers":  # conformers writes .sdf (or .pdb/.xyz)
        source.write_text(Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")) + "$$$$\n")
    else:
        source.write_text("smiles,id,extra\nCCO,a,keep me\n")
    before = source.read_bytes()
    alias = tmp_path / ("link" + source.suffix)
    alias.symlink_to(source)  # the same file under another name counts too
    for output in (source, alias):
        args = {
            "props": ["props", str(source), "-o", str(output)],
            "conformers": ["conformers", str(source), "-o", str(output)],
            "score": ["score", str(source), "-o", str(output)],
            "predict": ["predict", str(tmp_path), str(source), "-o", str(output)],
            "km": ["km", str(source), "--time", "t", "--event", "e", "--group", "g", "-o",
                   str(output)],
            "de": ["de", str(source), "--samples", str(tmp_path / "s.csv"), "--condition", "c",
                   "--case", "x", "-o", str(output)],
            "project": ["project", str(tmp_path / "p.drugdesk"), "--add", str(source),
                        "--export", str(output)],
        }[verb]  # fmt: skip
        assert main(args) == 2, args
        line = _one_error_line(capsys.readouterr().err, verb)
        assert "input file" in line and "choose another output" in line
    assert source.read_bytes() == before
    assert not (tmp_path / "p.drugdesk").exists()


def test_props_reports_unreadable_input_with_exit_1(tmp_path, capsys):
    assert main(["props", str(tmp_path / "missing.smi"), "-o", str(tmp_path / "o.csv")]) == 1
    assert "missing.smi" in _one_error_line(capsys.readouterr().err, "props")
    assert main(["props", str(tmp_path / "x.smi"), "-o", str(tmp_path / "o.doc")]) == 2
    assert ".csv" in _one_error_line(capsys.readouterr().err, "props")
