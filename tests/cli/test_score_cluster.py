"""``score --cluster`` (issue 18): on ``local:2`` with a tiny transformer model the hit list
equals the single-machine one (every column exact but the model's, equal to within 1e-6: the
workers predict in batches of their part's molecules, padded otherwise); a scheduler killed
mid-run is one line, exit 1 and no output; Ctrl+C is exit 130 and nothing written; a bad
address is a usage error."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data"
TRAIN = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "OCCO", "CCBr"] * 2


def _load_services():
    spec = importlib.util.spec_from_file_location(
        "dask_services", ROOT / "tests" / "dask_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_services = _load_services()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, make_tiny_regression_model) -> Path:
    """A fine-tuned SMILES transformer of 2 layers, width 32 (seconds to train)."""
    return make_tiny_regression_model(tmp_path_factory.mktemp("score_cluster"), TRAIN)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """451 rows: 400 ChEMBL molecules with their potency and a text column, an invalid SMILES,
    then 50 of them again (repeats in other parts)."""
    smiles = pd.read_csv(
        DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    table = smiles.merge(pd.read_csv(DATA / "CHEMBL2321810_act.csv"), on="Name").head(400)
    table["note"] = ["x" if i % 7 else "3" for i in range(len(table))]
    broken = pd.DataFrame({"smiles": ["C1CC"], "Name": ["broken"], "Act": [1.0], "note": ["y"]})
    table = pd.concat([table, broken, table.head(50)])
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    table.to_csv(path, index=False)
    return path


@pytest.mark.slow  # about 50 s with the 2 cores shared: the single-machine score, then the cluster's
def test_local_cluster_gives_the_single_machine_hit_list(capsys, library, model_dir, tmp_path):
    options = ["--model", str(model_dir), "--workers", "1"]
    single = tmp_path / "single.csv"
    assert main(["score", str(library), *options, "-o", str(single)]) == 0
    single_err = capsys.readouterr().err
    out = tmp_path / "cluster.csv"
    cluster = ["--cluster", "local:2", "--partition-size", "100"]
    code = main(["score", str(library), *options, *cluster, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    want = pd.read_csv(single, keep_default_na=False)
    got = pd.read_csv(out, keep_default_na=False)
    assert len(got) == 451 and "logS" in got.columns and "note" in got.columns
    # Rows, order, ranks, scores, properties, input columns: exact. The model's predictions:
    # within float rounding (its batches hold other molecules, so other padding).
    pd.testing.assert_frame_equal(got.drop(columns="logS"), want.drop(columns="logS"))
    valid = want["logS"] != ""
    assert (got["logS"][~valid] == "").all()
    np.testing.assert_allclose(
        got["logS"][valid].astype(float), want["logS"][valid].astype(float), rtol=1e-6
    )
    assert err.splitlines()[-1] == single_err.splitlines()[-1].replace(str(single), str(out))
    assert "Traceback" not in err
    assert not out.with_name(out.name + ".parts").exists()


@pytest.mark.slow  # about 40 s: admet-ai loads its 10 models on each side
def test_admet_on_a_cluster_equals_the_single_machine_columns(capsys, library, tmp_path):
    from core.hitlist.admet import is_available

    if not is_available():
        pytest.skip("admet-ai is not installed")
    small = tmp_path / "small.csv"
    small.write_text("\n".join(library.read_text().splitlines()[:31]) + "\n")
    single = tmp_path / "single.csv"
    assert main(["score", str(small), "--admet", "-o", str(single)]) == 0
    out = tmp_path / "cluster.csv"
    cluster = ["--cluster", "local:1", "--partition-size", "10"]
    code = main(["score", str(small), "--admet", *cluster, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    got = pd.read_csv(out, keep_default_na=False)
    assert len([c for c in got.columns if c.startswith("admet_")]) == 82
    # admet-ai predicts each molecule on its own: the columns are equal to the last digit.
    pd.testing.assert_frame_equal(got, pd.read_csv(single, keep_default_na=False))


def _start_score(library: Path, model: Path, out: Path, address: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "score",
            str(library),
            "--model",
            str(model),
            "-o",
            str(out),
            "--cluster",
            address,
            "--partition-size",
            "20",
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


@pytest.fixture
def dask_cluster(tmp_path):
    folder = tmp_path / "cluster"
    folder.mkdir()
    cluster = None
    try:
        cluster = _services.DaskCluster(folder)
        yield cluster
    finally:
        if cluster is not None:
            cluster.close()


@pytest.mark.slow  # 10-15 s: a scheduler and two workers start
def test_a_scheduler_killed_mid_run_gives_one_line_and_no_output(
    dask_cluster, library, model_dir, tmp_path
):
    out = tmp_path / "lost.csv"
    process = _start_score(library, model_dir, out, dask_cluster.address)
    try:
        _services.wait_for(lambda: _parts(out), 240, "the first part", process)
        dask_cluster.scheduler.send_signal(signal.SIGKILL)
        dask_cluster.scheduler.wait(timeout=15)
        _, err = process.communicate(timeout=120)
    finally:
        _services.stop(process)
    assert process.returncode == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("drugdesk score: error: lost the Dask scheduler at tcp://127.0.0.1:")
    assert lines[0].endswith("nothing written")
    assert not out.exists()
    assert not out.with_name(out.name + ".parts").exists()


@pytest.mark.slow  # 10-15 s: a scheduler and two workers start
def test_ctrl_c_mid_run_writes_nothing(dask_cluster, library, model_dir, tmp_path):
    out = tmp_path / "cancelled.csv"
    process = _start_score(library, model_dir, out, dask_cluster.address)
    try:
        _services.wait_for(lambda: _parts(out), 240, "the first part", process)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        _services.stop(process)
    assert process.returncode == 130, err
    assert err == "drugdesk score: cancelled, nothing written\n"
    assert not out.exists()
    assert not out.with_name(out.name + ".parts").exists()
    assert dask_cluster.scheduler.poll() is None  # a scheduler we did not start stays up


@pytest.mark.slow  # about 8 s: a local cluster starts
def test_a_model_the_workers_refuse_is_one_line(capsys, library, model_dir, tmp_path):
    out = tmp_path / "never.csv"
    pretrained = model_dir.parent / "pre"  # predicts no targets
    args = ["score", str(library), "--model", str(pretrained), "-o", str(out)]
    code = main([*args, "--cluster", "local:1", "--partition-size", "200"])
    err = capsys.readouterr().err
    assert code == 1, err
    # The worker's own log ("Compute Failed" and a traceback) stays off the terminal.
    assert (
        err
        == f"drugdesk score: error: {pretrained} is not a fine-tuned model (it predicts no targets)\n"
    )
    assert not out.exists()
    assert not out.with_name(out.name + ".parts").exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:99999", "slurm:x", "http://host:8786"])
def test_a_bad_address_is_a_usage_error(capsys, library, tmp_path, address):
    out = tmp_path / "never.csv"
    code = main(["score", str(library), "-o", str(out), "--cluster", address])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1
    assert err.startswith(f"drugdesk score: error: cluster address '{address}'")
    assert not out.exists()


def test_the_help_says_where_the_workers_find_the_models(capsys):
    assert main(["score", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--cluster ADDRESS" in text
    assert "The workers load the --model folders themselves" in text
    assert "a path every worker shares" in text
