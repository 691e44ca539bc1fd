"""Downloading the ESMFold weights (core.protein.esm_weights) from a loopback stand-in of the
Hugging Face hub (tests/esm_services.py): never the internet."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
from pathlib import Path

import pytest

from core.jobs import JobCancelled
from core.protein.esm_weights import (
    WeightsError,
    cached_snapshot,
    download_weights,
    format_bytes,
    hub_cache_dir,
    repo_folder,
    weights_status,
)


def _esm_services():
    spec = importlib.util.spec_from_file_location(
        "esm_services", Path(__file__).parents[2] / "esm_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services_module = _esm_services()
COMMIT, WEIGHTS = services_module.COMMIT, services_module.WEIGHTS


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Any connection to a host other than 127.0.0.1 fails the test: no network, ever."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        assert host == "127.0.0.1", f"a test tried to reach {address}"
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with services_module.EsmServices(monkeypatch, tmp_path / "hf-cache") as services:
        yield services


def _blob(name_hash: str) -> Path:
    return repo_folder() / "blobs" / name_hash


def test_download_lays_out_the_cache_as_huggingface_hub_does_with_progress_in_bytes(hub):
    assert cached_snapshot() is None
    steps = []
    snapshot = download_weights(progress=lambda f, m="": steps.append((f, m)))

    assert snapshot == hub.cache / "models--facebook--esmfold_v1" / "snapshots" / COMMIT
    assert cached_snapshot() == snapshot  # found again without the network
    assert (repo_folder() / "refs" / "main").read_text() == COMMIT
    weights = snapshot / "pytorch_model.bin"
    assert weights.is_symlink()
    assert weights.resolve() == _blob(hashlib.sha256(WEIGHTS).hexdigest()).resolve()
    assert weights.read_bytes() == WEIGHTS
    assert (snapshot / "vocab.txt").read_bytes() == hub.files["vocab.txt"]
    assert not (snapshot / "README.md").exists()  # the model card stays on the hub
    assert not list((repo_folder() / "blobs").glob("*.incomplete"))

    fractions = [f for f, _ in steps if f >= 0]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    total = sum(len(hub.files[n]) for n in ("config.json", "vocab.txt", "pytorch_model.bin"))
    assert any(m.endswith(f"of {format_bytes(total)}") for _, m in steps)  # the hub's sizes

    # prediction.find_weights takes it from the cache named by the environment
    from core.protein.prediction import check_weights, find_weights

    assert find_weights() == snapshot
    check_weights(snapshot)  # config.json says ESMFold, a weight file is there

    # a second call fetches no file again
    before = len(hub.paths())
    download_weights()
    assert [p for p in hub.paths()[before:] if "/resolve/" in p] == []


def test_hf_endpoint_and_hf_home_are_honoured(hub, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / "hub"
    snapshot = download_weights()
    assert snapshot.is_relative_to(tmp_path / "home" / "hub")
    paths = hub.paths("GET")
    assert paths[0] == "/api/models/facebook/esmfold_v1/revision/main?blobs=true"
    assert f"/facebook/esmfold_v1/resolve/{COMMIT}/pytorch_model.bin" in paths


def test_a_cut_connection_keeps_the_part_and_the_next_call_resumes_with_range(hub):
    hub.cut_after["pytorch_model.bin"] = 120_000
    with pytest.raises(WeightsError, match=r"cut after 120 kB.*part is kept.*resume"):
        download_weights()
    partial = _blob(hashlib.sha256(WEIGHTS).hexdigest() + ".incomplete")
    assert partial.stat().st_size == 120_000
    assert cached_snapshot() is None  # nothing counts as downloaded yet
    assert weights_status().partial_bytes == 120_000

    snapshot = download_weights()
    ranges = [h.get("Range") for _, p, h, _ in hub.requests if p.endswith("pytorch_model.bin")]
    assert ranges == [None, "bytes=120000-"]
    assert (snapshot / "pytorch_model.bin").read_bytes() == WEIGHTS
    assert not partial.exists()


def test_a_server_that_ignores_range_restarts_the_file_from_zero(hub):
    hub.cut_after["pytorch_model.bin"] = 50_000
    with pytest.raises(WeightsError):
        download_weights()
    hub.ignore_range = True  # answers 200 with the whole file
    snapshot = download_weights()
    assert (snapshot / "pytorch_model.bin").read_bytes() == WEIGHTS


def test_a_cancel_keeps_the_part_for_the_next_download(hub):
    def cancel_after_first_bytes():
        return any(
            p.endswith(".incomplete") and os.path.getsize(p) > 0
            for p in map(str, (repo_folder() / "blobs").glob("*"))
        )

    hub.files["pytorch_model.bin"] = WEIGHTS * 8  # 2.4 MB: several chunks
    with pytest.raises(JobCancelled):
        download_weights(is_cancelled=cancel_after_first_bytes)
    assert weights_status().partial_bytes > 0
    assert cached_snapshot() is None
    snapshot = download_weights()
    assert (snapshot / "pytorch_model.bin").read_bytes() == WEIGHTS * 8


def test_a_checksum_mismatch_is_refused_and_nothing_is_moved_into_place(hub):
    hub.corrupt.add("pytorch_model.bin")
    with pytest.raises(WeightsError, match=r"does not match the sha256.*nothing was put in place"):
        download_weights()
    blobs = repo_folder() / "blobs"
    sha = hashlib.sha256(WEIGHTS).hexdigest()
    assert not _blob(sha).exists() and not _blob(sha + ".incomplete").exists()
    assert not (repo_folder() / "snapshots" / COMMIT / "pytorch_model.bin").exists()
    assert not (repo_folder() / "refs" / "main").exists()
    assert cached_snapshot() is None
    assert all(not p.name.startswith(sha) for p in blobs.iterdir())


def test_a_small_file_is_checked_against_its_git_blob_id(hub):
    hub.corrupt.add("vocab.txt")
    with pytest.raises(WeightsError, match=r"vocab.txt .* does not match the git blob id"):
        download_weights()
    assert cached_snapshot() is None


def test_offline_mode_refuses_without_a_request(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE is set"):
        download_weights()
    assert hub.requests == []
    assert weights_status().offline


def test_an_unreachable_hub_and_an_http_error_are_one_line(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed port
    with pytest.raises(WeightsError, match=r"Could not reach 127.0.0.1:9 .*HF_ENDPOINT"):
        download_weights()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    with pytest.raises(WeightsError, match="HTTP 404"):
        download_weights("someone/missing-model")


def test_a_file_list_naming_a_path_outside_the_snapshot_is_refused(hub):
    hub.files["../../escape.json"] = b"{}"
    with pytest.raises(WeightsError, match="refused"):
        download_weights()
    assert not (hub.cache / "escape.json").exists()
