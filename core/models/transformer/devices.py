"""Where a model runs: the device, mixed precision on CUDA, running out of GPU memory, and the
hardware as a model card names it."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def resolve_device(device: str | None, preference: str) -> str:
    from core.compute import choose_device

    if device:
        return str(device)
    return choose_device(preference).device


def autocast(device: str, enabled: bool) -> Any:
    """bf16 autocast on CUDA when the GPU has it (else fp16); nothing on the CPU.

    CPU bf16 autocast is slower than float32 on most desktop CPUs, so it is never used there.
    """
    import contextlib

    import torch

    if not enabled or not device.startswith("cuda"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def grad_scaler(device: str, enabled: bool) -> Any:
    import torch

    # Loss scaling is needed only for fp16; bf16 has float32's exponent range.
    use = enabled and device.startswith("cuda") and not torch.cuda.is_bf16_supported()
    return torch.amp.GradScaler("cuda", enabled=use)


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or "out of memory" in str(exc).lower()


def hardware_description(device: str) -> str:
    """The device for a model card: GPU name, or CPU model and core count."""
    if device.startswith("cuda"):
        import torch

        return f"CUDA {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"CPU {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
