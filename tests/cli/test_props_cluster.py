"""``props --cluster`` (issue 18): a real Dask scheduler and two workers as separate processes on
loopback; the table equals the single-machine one after a worker is killed mid-run, ``local:2``
gives it too, a bad address is a usage error and a scheduler killed mid-run leaves no output."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHEMBL = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """2,036 records: RDKit's ChEMBL set twice (so duplicates), a header line, an invalid SMILES
    and a comment, in the middle of the file."""
    path = tmp_path_factory.mktemp("lib") / "library.smi"
    text = CHEMBL.read_text()
    path.write_text("SMILES Name\n" + text + "C1CC broken_ring\n# a comment\nxyz? bad\n" + text)
    return path


@pytest.fixture(scope="module")
def single_machine(library, tmp_path_factory) -> Path:
    """The table of ``props`` on this machine (no cluster)."""
    out = tmp_path_factory.mktemp("single") / "single.csv"
    assert main(["props", str(library), "-o", str(out)]) == 0
    return out


def _load_services():
    spec = importlib.util.spec_from_file_location(
        "dask_services", Path(__file__).resolve().parents[1] / "dask_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_services = _load_services()
DaskCluster = _services.DaskCluster
_wait_for = _services.wait_for
_stop = _services.stop


@pytest.fixture
def dask_cluster(tmp_path):
    folder = tmp_path / "cluster"
    folder.mkdir()
    cluster = None
    try:
        cluster = DaskCluster(folder)
        yield cluster
    finally:
        if cluster is not None:
            cluster.close()


def _start_props(library: Path, out: Path, address: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "props",
            str(library),
            "-o",
            str(out),
            "--cluster",
            address,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _parts(out: Path) -> list[Path]:
    folder = out.with_name(out.name + ".parts")
    try:
        return sorted(folder.glob("part-*.parquet"))
    except OSError:
        return []


def _assert_same_table(out: Path, reference: Path) -> None:
    got = pd.read_csv(out, keep_default_na=False)
    want = pd.read_csv(reference, keep_default_na=False)
    assert len(want) == 2036
    pd.testing.assert_frame_equal(got, want)
    # Written by the same writer from equal tables: the files are equal byte for byte.
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.slow  # about 45 s, and 45 s more for the single-machine table it compares with
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    dask_cluster, library, single_machine, tmp_path
):
    out = tmp_path / "cluster.csv"
    process = _start_props(library, out, dask_cluster.address, "--partition-size", "100")
    try:
        _wait_for(lambda: _parts(out), 240, "the first part", process)
        assert not out.exists()
        victim = dask_cluster.workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=15)
        assert process.poll() is None, "props ended before a worker could be killed"
        _, err = process.communicate(timeout=400)
    finally:
        _stop(process)
    assert process.returncode == 0, err
    assert err.splitlines()[-1].startswith(
        "2,036 records: 2,034 valid, 2 invalid, 1,017 duplicates; wrote "
    )
    assert not out.with_name(out.name + ".parts").exists()
    _assert_same_table(out, single_machine)


@pytest.mark.slow
def test_local_cluster_gives_the_same_table(library, single_machine, tmp_path):
    out = tmp_path / "local.csv"
    process = _start_props(library, out, "local:2", "--partition-size", "500")
    try:
        _, err = process.communicate(timeout=400)
    finally:
        _stop(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    _assert_same_table(out, single_machine)


def test_a_scheduler_killed_mid_run_gives_one_line_and_no_output(dask_cluster, library, tmp_path):
    out = tmp_path / "lost.csv"
    process = _start_props(library, out, dask_cluster.address, "--partition-size", "100")
    try:
        _wait_for(lambda: _parts(out), 240, "the first part", process)
        dask_cluster.scheduler.send_signal(signal.SIGKILL)
        dask_cluster.scheduler.wait(timeout=15)
        _, err = process.communicate(timeout=120)
    finally:
        _stop(process)
    assert process.returncode == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("drugdesk props: error: lost the Dask scheduler at tcp://127.0.0.1:")
    assert lines[0].endswith("nothing written")
    assert not out.exists()
    assert not out.with_name(out.name + ".parts").exists()


@pytest.mark.parametrize(
    "address",
    [
        "tcp://",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:99999",
        "http://127.0.0.1:8786",
        "local:0",
        "slurm:x",
        "nowhere",
    ],
)
def test_a_bad_address_is_a_usage_error(address, library, tmp_path, capsys):
    out = tmp_path / "never.csv"
    code = main(["props", str(library), "-o", str(out), "--cluster", address])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"drugdesk props: error: cluster address '{address}'")
    assert not out.exists()


@pytest.mark.slow  # two local clusters: 69 s with the machine's 2 cores shared 4 ways
def test_shipped_records_and_a_workbook_give_the_same_table(tmp_path):
    """Workers that share no file system get the records and send the parts back; a workbook,
    which cannot be cut into byte ranges, is read here and shipped, with a note saying so."""
    lines = CHEMBL.read_text().splitlines()[:120]
    smi = tmp_path / "small.smi"
    smi.write_text("\n".join(lines) + "\n")
    book = tmp_path / "small.xlsx"
    pd.DataFrame(
        {"smiles": [line.split()[0] for line in lines], "name": [line.split()[1] for line in lines]}
    ).to_excel(book, index=False)
    for source, extra in ((smi, ["--cluster-ship-records"]), (book, [])):
        reference = tmp_path / f"{source.suffix[1:]}-single.csv"
        assert main(["props", str(source), "-o", str(reference), "--workers", "1"]) == 0
        out = tmp_path / f"{source.suffix[1:]}-cluster.csv"
        process = _start_props(source, out, "local:1", "--partition-size", "50", *extra)
        try:
            _, err = process.communicate(timeout=300)
        finally:
            _stop(process)
        assert process.returncode == 0, err
        if source == book:
            assert "note: small.xlsx: an .xlsx workbook cannot be cut into byte ranges" in err
        assert not out.with_name(out.name + ".parts").exists()
        assert out.read_bytes() == reference.read_bytes()
        assert len(pd.read_csv(out)) == 120
