"""Using a model: predictions of a fine-tuned ensemble (mean and spread) and embeddings."""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
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
from core.models.transformer.devices import (
    cast_members,
    check_precision,
    inference_autocast,
    is_out_of_memory,
    resolve_device,
)
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
    tokenizer: Any,
    smiles: Sequence[str],
    max_length: int,
    progress: ProgressCallback,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the SMILES read truncated, said once through ``progress`` and the log;
    ``lengths``: their token counts when already known (tokenising is a tenth of a prediction)."""
    if lengths is None:
        truncated = count_truncated(tokenizer, smiles, max_length)
    else:
        truncated = np.flatnonzero(np.asarray(lengths) > max_length)
    if len(truncated):
        message = (
            f"{len(truncated)} of {len(smiles)} SMILES are longer than {max_length} tokens and "
            "were read truncated"
        )
        log.warning(message)
        progress(-1.0, message)
    return truncated


def default_batch_size(device: str) -> int:
    """SMILES per batch: 128 on the CPU (larger batches were no faster here, and pad more), 512
    on a GPU, which needs wide batches to be busy (a batch too large for its memory is split,
    :func:`run_batches`)."""
    return 512 if device.startswith("cuda") else 128


def inference_threads(device: str) -> int:
    """Batches run at once: on the CPU one per torch thread, each batch on one thread.

    A small encoder's operations are too small to split well between cores (one forward of 128
    SMILES on two threads runs 1.3× one thread), so whole batches go to separate Python threads
    (torch releases the GIL inside its operations): 1.2–1.5× on two cores, benchmarks/RESULTS.md.
    """
    if not device.startswith("cpu"):
        return 1
    import torch

    return max(1, torch.get_num_threads())


@contextlib.contextmanager
def _one_thread_per_operation(threads: int) -> Iterator[None]:
    if threads <= 1:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_batches(
    tokenizer: Any,
    smiles: Sequence[str],
    lengths: np.ndarray,
    batch_size: int,
    max_length: int,
    device: str,
    forward: Callable[[dict], Any],
    *,
    precision: str = "auto",
    threads: int = 1,
    is_cancelled: CancelCheck | None = None,
) -> Iterator[tuple[np.ndarray, Any]]:
    """``(indices, forward(encoded batch))`` for length-bucketed batches, in the caller's thread.

    With ``threads`` > 1 the batches are encoded and run by that many threads, one torch thread
    each (:func:`inference_threads`), at most two batches ahead per thread; results still come
    back in batch order, so progress and the output are the same as with one thread (each batch
    is computed whole by one thread: the values do not depend on ``threads``). No gradients.
    """
    import torch

    batches = length_bucketed_batches(lengths, batch_size)

    def computed(index: np.ndarray) -> Any:
        try:
            return forward(encode(tokenizer, [smiles[i] for i in index], max_length, device))
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc) or len(index) < 2:
                raise
        # Out of GPU memory (a large model, long SMILES, another program on the GPU): the batch
        # again in two halves, as often as needed, instead of failing a million-molecule score.
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        half = len(index) // 2
        log.warning(
            "Out of memory on a batch of %d; running it as %d and %d",
            len(index),
            half,
            len(index) - half,
        )
        return _joined(computed(index[:half]), computed(index[half:]))

    def run(index: np.ndarray) -> tuple[np.ndarray, Any]:
        check_cancelled(is_cancelled)
        # inference_mode and autocast are per thread: entered in the thread that runs the batch.
        with torch.inference_mode(), inference_autocast(device, precision):
            return index, computed(index)

    if threads <= 1 or len(batches) < 2:
        for index in batches:
            yield run(index)
        return
    with _one_thread_per_operation(threads):
        pool = ThreadPoolExecutor(threads, thread_name_prefix="inference")
        try:
            waiting = iter(batches)
            running = deque(pool.submit(run, index) for index in islice(waiting, 2 * threads))
            while running:
                result = running.popleft().result()
                following = next(waiting, None)
                if following is not None:
                    running.append(pool.submit(run, following))
                yield result
        finally:
            # A cancel (or the consumer stopping) drops the batches not started yet.
            pool.shutdown(wait=True, cancel_futures=True)


def _joined(first: Any, second: Any) -> Any:
    """Two halves of a batch's result: arrays, or lists of arrays (one per ensemble member)."""
    if isinstance(first, list):
        return [np.concatenate([a, b]) for a, b in zip(first, second, strict=True)]
    return np.concatenate([first, second])


def member_outputs(
    member: Any,
    loaded_like: tuple,
    smiles: Sequence[str],
    batch_size: int,
    device: str,
    is_cancelled: CancelCheck | None = None,
    on_batch: Any = None,
) -> np.ndarray:
    """Raw head outputs (n, tasks) in input order of one module (fine-tuning's validation)."""
    tokenizer, max_length, amp = loaded_like
    member.eval()
    outputs = _ensemble_outputs(
        [member],
        tokenizer,
        max_length,
        smiles,
        token_lengths(tokenizer, smiles),
        batch_size,
        device,
        "auto" if amp else "float32",
        is_cancelled,
        on_batch,
    )
    return outputs[0] if len(outputs) else np.zeros((0, 0))


def _ensemble_outputs(
    members: list,
    tokenizer: Any,
    max_length: int,
    smiles: Sequence[str],
    lengths: np.ndarray,
    batch_size: int,
    device: str,
    precision: str,
    is_cancelled: CancelCheck | None,
    on_batch: Any,
) -> np.ndarray:
    """Every member's raw outputs, (members, n, tasks): each batch encoded once for all members."""

    def forward(encoded: dict) -> list[np.ndarray]:
        return [member(**encoded).float().cpu().numpy() for member in members]

    out: np.ndarray | None = None
    for index, values in run_batches(
        tokenizer,
        smiles,
        lengths,
        batch_size,
        max_length,
        device,
        forward,
        precision=precision,
        threads=inference_threads(device),
        is_cancelled=is_cancelled,
    ):
        if out is None:
            out = np.empty((len(members), len(smiles), values[0].shape[1]), dtype=np.float64)
        for k, value in enumerate(values):
            out[k, index] = value
        if on_batch is not None:
            on_batch(len(index))
    return out if out is not None else np.zeros((len(members), 0, 0))


def to_outputs(raw: np.ndarray, task: str, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Head outputs to probabilities (classification) or target units (regression)."""
    if task == "classification":
        return 1.0 / (1.0 + np.exp(-raw))
    return raw * scale + mean


def predict(
    model: LoadedModel | str | Path,
    smiles: Sequence[str],
    *,
    batch_size: int | None = None,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    precision: str = "auto",
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
    check_precision(precision)
    loaded = as_loaded(model, device, model_cache)
    if loaded.kind != FINETUNED_KIND:
        raise ValueError("predict needs a fine-tuned model (this folder holds a pretrained one)")
    smiles = list(smiles)
    task = loaded.card["task"]
    mean = np.asarray(loaded.card["target_mean"], dtype=np.float64)
    scale = np.asarray(loaded.card["target_scale"], dtype=np.float64)
    batch_size = batch_size or default_batch_size(loaded.device)
    lengths = token_lengths(loaded.tokenizer, smiles)
    truncated = report_truncated(loaded.tokenizer, smiles, loaded.max_length, progress, lengths)
    n_tasks = int(loaded.card["n_tasks"])
    if not smiles:
        empty = np.zeros((0, n_tasks))
        return Prediction(empty, empty.copy(), 0, ())
    done = [0]
    total = len(smiles)

    def on_batch(n: int) -> None:
        done[0] += n
        progress(done[0] / total, f"Predicted {done[0]} of {total}")

    for member in loaded.members:
        member.eval()
    members = cast_members(loaded.members, loaded.device, precision, loaded.cast)
    raw = _ensemble_outputs(
        members,
        loaded.tokenizer,
        loaded.max_length,
        smiles,
        lengths,
        batch_size,
        loaded.device,
        precision,
        is_cancelled,
        on_batch,
    )
    outputs = np.stack([to_outputs(r, task, mean, scale) for r in raw])
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
    batch_size: int | None = None,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    precision: str = "auto",
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
    progress = progress or no_progress
    check_precision(precision)
    loaded = as_loaded(model, device, model_cache)
    smiles = list(smiles)
    loaded.encoder.eval()
    members = cast_members(loaded.members, loaded.device, precision, loaded.cast)
    first = members[0]
    encoder = first.roberta if hasattr(first, "roberta") else first.encoder
    batch_size = batch_size or default_batch_size(loaded.device)
    lengths = token_lengths(loaded.tokenizer, smiles)
    report_truncated(loaded.tokenizer, smiles, loaded.max_length, progress, lengths)
    out = np.zeros((len(smiles), loaded.config.hidden_size), dtype=np.float32)

    def forward(encoded: dict) -> np.ndarray:
        hidden = encoder(**encoded).last_hidden_state
        return mean_pool(hidden.float(), encoded["attention_mask"]).cpu().numpy()

    done = 0
    for index, values in run_batches(
        loaded.tokenizer,
        smiles,
        lengths,
        batch_size,
        loaded.max_length,
        loaded.device,
        forward,
        precision=precision,
        threads=inference_threads(loaded.device),
        is_cancelled=is_cancelled,
    ):
        out[index] = values
        done += len(index)
        progress(done / len(smiles), f"Embedded {done} of {len(smiles)}")
    return out
