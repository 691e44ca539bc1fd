"""Where a model runs: the device, mixed precision on CUDA, running out of GPU memory, and the
hardware as a model card names it."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from core.compute import PRECISION_CHOICES as PRECISIONS


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


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX-512 BF16); without it, bf16
    on the CPU is emulated and slower than float32."""
    import torch

    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                return True
        except (RuntimeError, AttributeError):  # private probes: absent or failing on some builds
            continue
    return False


def inference_autocast(device: str, precision: str) -> Any:
    """The autocast a prediction runs under: bf16 (or fp16) on CUDA unless float32 is asked for;
    never on the CPU, where ``bfloat16`` casts the weights instead (:func:`cast_members`)."""
    return autocast(device, device.startswith("cuda") and precision != "float32")


def cast_members(members: list, device: str, precision: str, cache: dict) -> list:
    """The modules to run: bf16 copies on the CPU for ``bfloat16`` (made once per model and kept
    in ``cache``), else ``members`` themselves."""
    if precision != "bfloat16" or device.startswith("cuda"):
        return members
    key = ("bfloat16", id(members[0]) if members else 0)
    if key not in cache:
        import copy

        import torch

        cache.clear()  # one cast set per model: a model whose members changed recasts
        cache[key] = [copy.deepcopy(m).to(torch.bfloat16).eval() for m in members]
    return cache[key]


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
