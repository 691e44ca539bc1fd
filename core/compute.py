"""Compute device choice and loaded-model caching for torch work.

torch is imported only inside these functions, so importing this module (and opening the window)
stays fast; they run in the model host's worker process (:mod:`core.modelhost`), where the first
torch job pays for the import.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PRECISION_CHOICES = ("auto", "float32", "bfloat16")
"""How models predict: ``auto`` (bf16 autocast on CUDA, float32 elsewhere), ``float32`` (exact
everywhere) or ``bfloat16`` (about 2× faster on CPUs with AMX or AVX-512 BF16; predictions
within about 1 % of the target's spread of float32's, benchmarks/RESULTS.md)."""


@dataclass(slots=True, frozen=True)
class DeviceInfo:
    device: str
    """A torch device string: ``cuda``, ``mps`` or ``cpu``."""
    description: str
    """For people: the GPU name and memory, or the CPU thread count."""
    torch_version: str
    fallback_reason: str = ""
    """Why the preferred device was not used (empty when it was)."""


def choose_device(preference: str = "auto") -> DeviceInfo:
    """Pick CUDA, then Apple MPS, then the CPU; or the preferred device when it is usable."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    fallback = ""
    if preference == "cuda" and not cuda:
        fallback = "CUDA was asked for but no CUDA GPU is available"
    elif preference == "mps" and not mps:
        fallback = "Apple MPS was asked for but is not available"
    if preference == "cpu":
        device = "cpu"
    elif preference == "cuda" and cuda:
        device = "cuda"
    elif preference == "mps" and mps:
        device = "mps"
    else:
        device = "cuda" if cuda else "mps" if mps else "cpu"
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        description = f"CUDA: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    elif device == "mps":
        description = "Apple MPS (Metal GPU)"
    else:
        description = f"CPU, {torch.get_num_threads()} torch threads of {os.cpu_count()} cores"
    if fallback:
        log.warning("%s; using %s", fallback, device)
    # str(): torch's version is a str subclass of torch's own, which would need torch to unpickle
    # in the window's process (DeviceInfo travels from the model host).
    return DeviceInfo(device, description, str(torch.__version__), fallback)


def configure_torch_threads(reserve_for_gui: int = 1) -> int:
    """Let torch use all cores but ``reserve_for_gui``; returns the thread count set.

    With 2 cores, two torch threads next to a busy GUI thread are slower than one (STACK.md).
    """
    import torch

    threads = max(1, (os.cpu_count() or 1) - reserve_for_gui)
    torch.set_num_threads(threads)
    return threads


class ModelCache:
    """Loaded models kept between jobs, least recently used evicted first.

    One lives in the model host's worker process (:mod:`core.modelhost`): the torch jobs that run
    there share it, so a model is loaded once and reused for every prediction instead of being
    read from disk for each job. Thread-safe: the host runs several jobs at once.
    """

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, loader: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = loader()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                evicted, _ = self._items.popitem(last=False)
                log.info("Model cache: unloaded %s", evicted)
        return value

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
