"""``drugdesk esmfold-weights [--check]`` and ``drugdesk fold SEQUENCE --web -o out.pdb`` against a
loopback stand-in of the Hugging Face hub and ESM Atlas (tests/esm_services.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.cli import main


def _esm_services():
    spec = importlib.util.spec_from_file_location(
        "esm_services", Path(__file__).parents[1] / "esm_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services_module = _esm_services()


@pytest.fixture
def services(monkeypatch, tmp_path):
    with services_module.EsmServices(monkeypatch, tmp_path / "hf-cache") as running:
        yield running


def test_check_reports_missing_then_download_then_check_reports_present(services, capsys):
    assert main(["esmfold-weights", "--check"]) == 1
    out = capsys.readouterr().out
    assert "facebook/esmfold_v1: not downloaded" in out
    assert services.requests == []  # --check never asks the hub

    assert main(["esmfold-weights"]) == 0
    snapshot = Path(capsys.readouterr().out.strip())
    assert snapshot.name == services_module.COMMIT
    assert (snapshot / "pytorch_model.bin").read_bytes() == services_module.WEIGHTS

    assert main(["esmfold-weights", "--check"]) == 0
    out = capsys.readouterr().out
    assert f"present in {snapshot}" in out and "pytorch_model.bin  300 kB" in out


def test_download_refused_offline_is_one_line_with_exit_1(services, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["esmfold-weights"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drugdesk esmfold-weights: error: HF_HUB_OFFLINE")
    assert services.requests == []


def test_fold_web_writes_the_pdb_with_plddt(services, tmp_path, capsys):
    out = tmp_path / "out.pdb"
    assert main(["fold", "MKTA", "--web", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.splitlines()[1][60:66] == " 81.00"
    assert "mean pLDDT 77.1 (ESM Atlas)" in capsys.readouterr().err
    assert [r[3] for r in services.requests] == [b"MKTA"]


def test_fold_web_server_error_and_long_sequence_are_one_line(services, tmp_path, capsys):
    out = tmp_path / "out.pdb"
    assert main(["fold", "A" * 401, "--web", "-o", str(out)]) == 1
    assert "at most 400" in capsys.readouterr().err
    assert services.requests == []
    services.fold_status = 500
    assert main(["fold", "MKTA", "--web", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "drugdesk fold: error: ESM Atlas" in err[0] and "HTTP 500" in err[0]
    assert not out.exists()


def test_fold_here_without_weights_says_how_to_get_them(services, tmp_path, capsys):
    assert main(["fold", "MKTA", "-o", str(tmp_path / "out.pdb")]) == 1
    assert "drugdesk esmfold-weights" in capsys.readouterr().err
