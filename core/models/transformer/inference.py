"""Using a model: predictions of a fine-tuned ensemble (mean and spread) and embeddings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress
from core.models.transformer.batching import (
    count_truncated,
    encode,
    length_bucketed_batches,
    token_lengths,
)
from core.models.transformer.devices import autocast, resolve_device
from core.models.transformer.folders import load_model
from core.models.transformer.model import FINETUNED_KIND, LoadedModel, mean_pool

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Prediction:
    """Predictions of an ensemble; unpacks as ``mean, std = predict(...)``."""

    mean: np.ndarray
    """(n, tasks): probabilities (classification) or values in target units (regression)."""
    std: np.ndarray
    """(n, tasks): standard deviation over ensemble members (0 for one model)."""
    n_truncated: int
    truncated: tuple[int, ...]
    """Indices of SMILES longer than the model maximum (read truncated)."""

    def __iter__(self):
        return iter((self.mean, self.std))


def as_loaded(
    model: LoadedModel | str | Path, device: str | None, model_cache: Any = None
) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    return load_model(model, resolve_device(device, "auto"), model_cache)


def report_truncated(
    tokenizer: Any, smiles: Sequence[str], max_length: int, progress: ProgressCallback
) -> np.ndarray:
    truncated = count_truncated(tokenizer, smiles, max_length)
    if len(truncated):
        message = (
            f"{len(truncated)} of {len(smiles)} SMILES are longer than {max_length} tokens and "
            "were read truncated"
        )
        log.warning(message)
        progress(-1.0, message)
    return truncated


def member_outputs(
    member: Any,
    loaded_like: tuple,
    smiles: Sequence[str],
    batch_size: int,
    device: str,
    is_cancelled: CancelCheck | None = None,
    on_batch: Any = None,
) -> np.ndarray:
    """Raw head outputs (n, tasks) in input order; batches sorted by length, no gradients."""
    import torch

    tokenizer, max_length, amp = loaded_like
    lengths = token_lengths(tokenizer, smiles)
    out: np.ndarray | None = None
    member.eval()
    with torch.inference_mode(), autocast(device, amp):
        for index in length_bucketed_batches(lengths, batch_size):
            check_cancelled(is_cancelled)
            encoded = encode(tokenizer, [smiles[i] for i in index], max_length, device)
            values = member(**encoded).float().cpu().numpy()
            if out is None:
                out = np.empty((len(smiles), values.shape[1]), dtype=np.float64)
            out[index] = values
            if on_batch is not None:
                on_batch(len(index))
    return out if out is not None else np.zeros((0, 0))


def to_outputs(raw: np.ndarray, task: str, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Head outputs to probabilities (classification) or target units (regression)."""
    if task == "classification":
        return 1.0 / (1.0 + np.exp(-raw))
    return raw * scale + mean


def predict(
    model: LoadedModel | str | Path,
    smiles: Sequence[str],
    *,
    batch_size: int = 128,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> Prediction:
    """Predict with a fine-tuned ensemble: mean and standard deviation over its members.

    Parameters
    ----------
    model
        A fine-tuned model folder or :class:`LoadedModel`.
    smiles
        SMILES to predict; longer than the model maximum: read truncated, counted in the result.

    Returns
    -------
    Prediction
        ``mean``/``std`` of shape (n, tasks): probabilities for classification, target units for
        regression. Unpacks as ``mean, std``.
    """
    progress = progress or no_progress
    loaded = as_loaded(model, device, model_cache)
    if loaded.kind != FINETUNED_KIND:
        raise ValueError("predict needs a fine-tuned model (this folder holds a pretrained one)")
    smiles = list(smiles)
    task = loaded.card["task"]
    mean = np.asarray(loaded.card["target_mean"], dtype=np.float64)
    scale = np.asarray(loaded.card["target_scale"], dtype=np.float64)
    truncated = report_truncated(loaded.tokenizer, smiles, loaded.max_length, progress)
    n_tasks = int(loaded.card["n_tasks"])
    if not smiles:
        empty = np.zeros((0, n_tasks))
        return Prediction(empty, empty.copy(), 0, ())
    done = [0]
    total = len(smiles) * len(loaded.members)

    def on_batch(n: int) -> None:
        done[0] += n
        progress(done[0] / total, f"Predicted {done[0]} of {total}")

    outputs = np.stack(
        [
            to_outputs(
                member_outputs(
                    member,
                    (loaded.tokenizer, loaded.max_length, loaded.device.startswith("cuda")),
                    smiles,
                    batch_size,
                    loaded.device,
                    is_cancelled,
                    on_batch,
                ),
                task,
                mean,
                scale,
            )
            for member in loaded.members
        ]
    )
    return Prediction(
        mean=outputs.mean(axis=0),
        std=outputs.std(axis=0),
        n_truncated=len(truncated),
        truncated=tuple(int(i) for i in truncated),
    )


def embed(
    model: LoadedModel | str | Path,
    smiles: Sequence[str],
    *,
    batch_size: int = 128,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Molecule embeddings: the encoder's last hidden states, mean-pooled over real tokens.

    Parameters
    ----------
    model
        A pretrained or fine-tuned folder or :class:`LoadedModel` (the first member's encoder).
    smiles
        SMILES to embed; those longer than the model maximum are read truncated, and their count
        is logged and reported through ``progress`` (see also :func:`count_truncated`).

    Returns
    -------
    numpy.ndarray
        (n, hidden) float32, in input order.
    """
    import torch

    progress = progress or no_progress
    loaded = as_loaded(model, device, model_cache)
    smiles = list(smiles)
    encoder = loaded.encoder
    encoder.eval()
    report_truncated(loaded.tokenizer, smiles, loaded.max_length, progress)
    out = np.zeros((len(smiles), loaded.config.hidden_size), dtype=np.float32)
    lengths = token_lengths(loaded.tokenizer, smiles)
    done = 0
    with torch.inference_mode(), autocast(loaded.device, loaded.device.startswith("cuda")):
        for index in length_bucketed_batches(lengths, batch_size):
            check_cancelled(is_cancelled)
            encoded = encode(
                loaded.tokenizer, [smiles[i] for i in index], loaded.max_length, loaded.device
            )
            hidden = encoder(**encoded).last_hidden_state
            out[index] = mean_pool(hidden.float(), encoded["attention_mask"]).cpu().numpy()
            done += len(index)
            progress(done / len(smiles), f"Embedded {done} of {len(smiles)}")
    return out
