"""Batches of SMILES: length buckets, token counts, encoding.

Batches are padded to their own longest SMILES, and SMILES of similar length are batched together
(length buckets): MOSES SMILES average ~40 tokens, so padding everything to 128 would spend most of
the compute on padding (STACK.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def length_bucketed_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
    bucket_batches: int = 50,
) -> list[np.ndarray]:
    """Split indices into batches of similar length.

    Parameters
    ----------
    lengths
        Token count per item.
    batch_size
        Items per batch.
    rng
        When given, items are shuffled, sorted by length within windows of ``bucket_batches``
        batches and the batches shuffled (training); when None, items are sorted by length and
        batches come in order (inference: least padding).
    bucket_batches
        Window size in batches: large enough to group similar lengths, small enough to keep the
        batches' composition random between epochs.
    """
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    window = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def token_lengths(tokenizer: Any, smiles: Sequence[str]) -> np.ndarray:
    """Tokens per SMILES, ``<s>`` and ``</s>`` included, before truncation."""
    if not len(smiles):
        return np.zeros(0, dtype=np.int64)
    encoded = tokenizer(list(smiles), add_special_tokens=True)["input_ids"]
    return np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))


def count_truncated(tokenizer: Any, smiles: Sequence[str], max_length: int) -> np.ndarray:
    """Indices of the SMILES longer than ``max_length`` tokens (``<s>``/``</s>`` included)."""
    return np.flatnonzero(token_lengths(tokenizer, smiles) > max_length)


def encode(tokenizer: Any, smiles: Sequence[str], max_length: int, device: Any) -> dict:
    batch = tokenizer(
        list(smiles),
        padding="longest",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    return {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
