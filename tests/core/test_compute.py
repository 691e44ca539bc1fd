"""Device choice (this machine has no GPU) and the loaded-model cache."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.compute import DeviceInfo, ModelCache, choose_device, configure_torch_threads

REPO_ROOT = Path(__file__).resolve().parents[2]

torch = pytest.importorskip("torch")
requires_no_gpu = pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(),
    reason="checks the CPU fallback; this machine has a GPU",
)


def test_importing_core_compute_does_not_import_torch():
    result = subprocess.run(
        [sys.executable, "-c", "import core.compute, sys; print('torch' in sys.modules)"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@requires_no_gpu
def test_auto_picks_the_cpu():
    info = choose_device("auto")
    assert isinstance(info, DeviceInfo)
    assert info.device == "cpu"
    assert info.fallback_reason == ""
    assert info.torch_version == torch.__version__
    assert info.description.startswith("CPU, ")
    assert "torch threads" in info.description


@requires_no_gpu
@pytest.mark.parametrize(
    ("preference", "reason"),
    [
        ("cuda", "CUDA was asked for but no CUDA GPU is available"),
        ("mps", "Apple MPS was asked for but is not available"),
    ],
)
def test_unavailable_preference_falls_back_to_cpu(preference, reason, caplog):
    with caplog.at_level("WARNING", logger="core.compute"):
        info = choose_device(preference)
    assert info.device == "cpu"
    assert info.fallback_reason == reason
    assert reason in caplog.text


def test_cpu_preference_is_always_honoured():
    info = choose_device("cpu")
    assert (info.device, info.fallback_reason) == ("cpu", "")


def test_configure_torch_threads_keeps_a_core_for_the_gui():
    before = torch.get_num_threads()
    try:
        import os

        expected = max(1, (os.cpu_count() or 1) - 1)
        assert configure_torch_threads() == expected
        assert torch.get_num_threads() == expected
        assert configure_torch_threads(reserve_for_gui=1000) == 1
    finally:
        torch.set_num_threads(before)


def test_model_cache_loads_once():
    cache = ModelCache(capacity=2)
    calls = []

    def loader():
        calls.append("a")
        return object()

    first = cache.get("a", loader)
    assert cache.get("a", loader) is first
    assert calls == ["a"]
    assert "a" in cache and len(cache) == 1


def test_model_cache_evicts_the_least_recently_used():
    cache = ModelCache(capacity=2)
    loads = []

    def loader(key):
        def load():
            loads.append(key)
            return f"model {key}"

        return load

    cache.get("a", loader("a"))
    cache.get("b", loader("b"))
    cache.get("a", loader("a"))  # a is now the most recent
    cache.get("c", loader("c"))  # evicts b
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)
    assert len(cache) == 2
    assert cache.get("b", loader("b")) == "model b"  # loaded again, evicts a
    assert loads == ["a", "b", "c", "b"]
    assert ("a" in cache, "b" in cache, "c" in cache) == (False, True, True)
    cache.clear()
    assert len(cache) == 0


def test_model_cache_loader_error_caches_nothing():
    cache = ModelCache()

    def broken():
        raise RuntimeError("bad checkpoint")

    with pytest.raises(RuntimeError, match="bad checkpoint"):
        cache.get("m", broken)
    assert "m" not in cache
    assert cache.get("m", lambda: 1) == 1


def test_model_cache_from_several_threads():
    cache = ModelCache(capacity=8)
    results = []

    def worker(i):
        results.append(cache.get(i % 4, lambda i=i: i % 4))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted(i % 4 for i in range(40))
    assert len(cache) == 4
