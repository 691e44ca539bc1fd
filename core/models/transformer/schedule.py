"""The optimiser and learning-rate schedule shared by pretraining and fine-tuning."""

from __future__ import annotations

from typing import Any


def lr_factor(progress_fraction: float, warmup_fraction: float) -> float:
    """Linear warm-up to 1 over ``warmup_fraction`` of training, then linear decay to 0."""
    p = min(max(progress_fraction, 0.0), 1.0)
    if warmup_fraction > 0 and p < warmup_fraction:
        return max(p / warmup_fraction, 1e-3)
    return max(0.0, (1.0 - p) / max(1e-9, 1.0 - warmup_fraction))


def adamw(model: Any, learning_rate: float, weight_decay: float) -> Any:
    import torch

    # No weight decay on biases and LayerNorm weights (as in BERT/RoBERTa).
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "LayerNorm" in name else decay).append(parameter)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=learning_rate,
    )
