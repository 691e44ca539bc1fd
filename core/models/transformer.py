"""A small SMILES RoBERTa: masked-language-model pretraining, fine-tuning, embeddings, prediction.

Everything that touches torch imports it inside the function, so importing this module is cheap
and the window opens without torch. Models are stored as ``model.safetensors`` (float16, to halve
the shipped size; loaded back as float32), ``config.json`` (a ``RobertaConfig``), the tokenizer
files and ``card.json`` (+ ``MODEL_CARD.md`` for pretrained models). Nothing is ever read with
``torch.load``: a model folder cannot run code.

Batches are padded to their own longest SMILES, and SMILES of similar length are batched together
(length buckets): MOSES SMILES average ~40 tokens, so padding everything to 128 would spend most of
the compute on padding (STACK.md).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.fileio import atomic_output, atomic_path, write_text_atomic
from core.jobs import CancelCheck, JobCancelled, ProgressCallback, check_cancelled, no_progress
from core.models.augment import augment_smiles

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "card.json"
CARD_MARKDOWN = "MODEL_CARD.md"
CURVE_FILE = "training_curve.csv"

EpochCallback = Callable[[int, int, float, float], None]
"""``on_epoch(model_index, epoch, train_loss, valid_metric)`` (see :func:`finetune`)."""

REGISTRY_KIND = "transformer"
"""``card.json``'s ``kind``, as ``core.models.registry`` knows it (it checks ``model.safetensors``)."""
PRETRAINED_KIND = "smiles-roberta-mlm"
FINETUNED_KIND = "smiles-roberta-finetuned"
"""``card.json``'s ``model_type``: which of the two this folder holds."""


# ----------------------------------------------------------------------------------------------
# Options and results


@dataclass(slots=True, frozen=True)
class ModelSize:
    """Shape of the RoBERTa encoder.

    The default (hidden 192, 4 layers, 4 heads, feed-forward 384, 128 positions, 1.27 M
    parameters) is the shipped model's: the size 2 CPU cores pretrain best in about half an hour.
    Measured here (torch 2.13, 2 threads, 64 MOSES SMILES per AdamW step, own-length padding):
    hidden 128 (0.8 M) 0.20 s per step, hidden 192 (1.3 M) 0.27 s, hidden 256 (2.2 M) 0.48 s. In
    32 minutes hidden 192 took 4,904 steps (314 k SMILES, ~12 M tokens, ~9 tokens per
    parameter) and reached 0.90 masked-token accuracy on held-out SMILES; hidden 256 would have
    seen 45% fewer SMILES, further from compute-optimal (~20 tokens per parameter). On a GPU the
    same code scales up (e.g. hidden 512, 8 layers, 8 heads, feed-forward 2048, batch 256).
    """

    hidden: int = 192
    layers: int = 4
    heads: int = 4
    intermediate: int = 384
    max_length: int = 128
    """Most tokens per SMILES, ``<s>`` and ``</s>`` included; longer SMILES are truncated."""
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if min(self.hidden, self.layers, self.heads, self.intermediate) < 1:
            raise ValueError("Model sizes must be positive")
        if self.max_length < 8:
            raise ValueError("max_length must be at least 8 tokens")


@dataclass(slots=True, frozen=True)
class PretrainOptions:
    """How to pretrain (see :func:`pretrain`)."""

    size: ModelSize = field(default_factory=ModelSize)
    steps: int = 10_000
    """Most optimiser steps."""
    minutes: float | None = None
    """Wall-time budget; training stops at whichever of ``steps``/``minutes`` comes first. The
    learning-rate schedule follows the larger of the two progress fractions, so it decays to zero
    by the end either way."""
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    max_grad_norm: float = 1.0
    mask_probability: float = 0.15
    augment_probability: float = 0.5
    """Chance that a training SMILES is replaced by a random spelling (RDKit doRandom)."""
    n_valid: int = 2000
    """Held-out SMILES (never trained on) for validation loss and masked-token accuracy."""
    eval_every: int = 200
    """Steps between validations; each validation that improves writes a checkpoint."""
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    """bf16 (or fp16 with loss scaling) autocast on CUDA; ignored on the CPU."""
    threads: int | None = None
    """torch CPU threads (None: leave torch's default)."""


@dataclass(slots=True, frozen=True)
class PretrainResult:
    output_dir: Path
    steps: int
    seconds: float
    best_step: int
    valid_loss: float
    valid_accuracy: float
    """Masked-token accuracy on the held-out SMILES, at the best checkpoint."""
    n_parameters: int
    cancelled: bool = False


@dataclass(slots=True, frozen=True)
class FinetuneOptions:
    """How to fine-tune (see :func:`finetune`)."""

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    max_grad_norm: float = 1.0
    patience: int = 5
    """Epochs without a better validation metric before stopping."""
    n_models: int = 1
    """Ensemble size: seeds ``seed, seed+1, …``; predictions give the mean and standard deviation."""
    seed: int = 0
    class_weighting: bool = True
    """Weight positives by negatives/positives per task (``pos_weight`` of the BCE loss)."""
    augment_probability: float = 0.0
    """Chance that a training SMILES is replaced by a random spelling each epoch."""
    dropout: float = 0.1
    """Of the head; the encoder keeps the pretrained config's dropout."""
    device: str = "auto"
    mixed_precision: bool = True
    """bf16 (or fp16 with loss scaling) autocast on CUDA; ignored on the CPU."""


@dataclass(slots=True, frozen=True)
class FinetuneResult:
    model: Any
    """The :class:`LoadedModel` (ensemble) ready for :func:`predict`."""
    valid_metric: float
    """Of the ensemble on ``valid_idx``: mean ROC-AUC (classification) or RMSE (regression)."""
    metric_name: str
    member_metrics: tuple[float, ...]
    epochs: tuple[int, ...]
    """Best epoch of each member."""
    n_truncated: int
    output_dir: Path | None = None
    cancelled: bool = False
    """Stopped by cancel with ``keep_on_cancel``: the members hold the best epochs reached."""


@dataclass(slots=True)
class LoadedModel:
    """A model read from a folder (or just trained): tokenizer, config, card and torch modules.

    ``members`` holds one module per ensemble member: ``RobertaForMaskedLM`` for a pretrained
    model, a predictor (encoder + head) for a fine-tuned one.
    """

    kind: str
    tokenizer: Any
    config: Any
    card: dict
    members: list
    device: str = "cpu"

    @property
    def max_length(self) -> int:
        return int(self.card.get("max_length", self.config.max_position_embeddings - 2))

    @property
    def encoder(self) -> Any:
        """The RoBERTa encoder of the first member (for embeddings)."""
        member = self.members[0]
        return member.roberta if hasattr(member, "roberta") else member.encoder


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


# ----------------------------------------------------------------------------------------------
# Corpus


def moses_corpus_path() -> Path:
    """The MOSES training SMILES shipped by the ``molsets`` package (1.58 M SMILES).

    Raises
    ------
    ValueError
        When molsets is not installed (``pip install --no-deps molsets``).
    """
    import importlib.util

    # A plain "import moses" fails (its dependencies do not install on 3.11); find_spec does not
    # execute the package.
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "The MOSES corpus needs the molsets package: pip install --no-deps molsets"
        )
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "data" / "train.csv.gz"
    if not path.is_file():
        raise ValueError(f"molsets is installed but {path} is missing")
    return path


def read_corpus(source: str | Path, max_molecules: int | None = None, seed: int = 0) -> list[str]:
    """Read SMILES for pretraining.

    Parameters
    ----------
    source
        ``"moses"`` for the MOSES training set, a ``.csv``/``.csv.gz`` with a ``SMILES`` (or
        ``smiles``) column, or a text file with a SMILES first on each line.
    max_molecules
        Keep a random subset of this size (seeded), when given.
    seed
        Seed for the subset.
    """
    import pandas as pd

    path = moses_corpus_path() if str(source).lower() == "moses" else Path(source)
    if not path.is_file():
        raise ValueError(f"Corpus file not found: {path}")
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        frame = pd.read_csv(path)
        column = next((c for c in frame.columns if c.lower() == "smiles"), None)
        if column is None:
            raise ValueError(f"{path} has no SMILES column (columns: {list(frame.columns)})")
        smiles = [str(s) for s in frame[column].dropna()]
    else:
        smiles = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if parts and not parts[0].startswith("#"):
                smiles.append(parts[0])
    if not smiles:
        raise ValueError(f"{path} holds no SMILES")
    if max_molecules is not None and max_molecules < len(smiles):
        keep = np.random.default_rng(seed).choice(len(smiles), max_molecules, replace=False)
        smiles = [smiles[i] for i in np.sort(keep)]
    return smiles


# ----------------------------------------------------------------------------------------------
# Batching


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


def _encode(tokenizer: Any, smiles: Sequence[str], max_length: int, device: Any) -> dict:
    batch = tokenizer(
        list(smiles),
        padding="longest",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    return {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}


def _mask_tokens(input_ids: Any, tokenizer: Any, probability: float, generator: Any) -> tuple:
    """BERT masking: pick ``probability`` of the real tokens; 80% <mask>, 10% random, 10% kept."""
    import torch

    labels = input_ids.clone()
    special = (
        (input_ids == tokenizer.pad_token_id)
        | (input_ids == tokenizer.bos_token_id)
        | (input_ids == tokenizer.eos_token_id)
    )
    draw = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    chosen = (draw < probability) & ~special
    # Every SMILES gets at least one masked token, so short molecules still train.
    if not chosen.any(dim=1).all():
        noise = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
        noise = noise.masked_fill(special, -1.0)
        first = noise.argmax(dim=1)
        chosen[torch.arange(len(first), device=input_ids.device), first] |= ~special[
            torch.arange(len(first), device=input_ids.device), first
        ]
    labels[~chosen] = -100
    inputs = input_ids.clone()
    action = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    inputs[chosen & (action < 0.8)] = tokenizer.mask_token_id
    n_special = len(tokenizer.all_special_ids)
    random_ids = torch.randint(
        n_special, len(tokenizer), input_ids.shape, generator=generator, device=input_ids.device
    )
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = random_ids[swap]
    return inputs, labels


# ----------------------------------------------------------------------------------------------
# Devices, precision, schedule


def _resolve_device(device: str | None, preference: str) -> str:
    from core.compute import choose_device

    if device:
        return str(device)
    return choose_device(preference).device


def _autocast(device: str, enabled: bool) -> Any:
    """bf16 autocast on CUDA when the GPU has it (else fp16); nothing on the CPU.

    CPU bf16 autocast is slower than float32 on most desktop CPUs, so it is never used there.
    """
    import contextlib

    import torch

    if not enabled or not device.startswith("cuda"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def _grad_scaler(device: str, enabled: bool) -> Any:
    import torch

    # Loss scaling is needed only for fp16; bf16 has float32's exponent range.
    use = enabled and device.startswith("cuda") and not torch.cuda.is_bf16_supported()
    return torch.amp.GradScaler("cuda", enabled=use)


def _lr_factor(progress_fraction: float, warmup_fraction: float) -> float:
    """Linear warm-up to 1 over ``warmup_fraction`` of training, then linear decay to 0."""
    p = min(max(progress_fraction, 0.0), 1.0)
    if warmup_fraction > 0 and p < warmup_fraction:
        return max(p / warmup_fraction, 1e-3)
    return max(0.0, (1.0 - p) / max(1e-9, 1.0 - warmup_fraction))


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or "out of memory" in str(exc).lower()


def _optimizer(model: Any, learning_rate: float, weight_decay: float) -> Any:
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


# ----------------------------------------------------------------------------------------------
# Saving and loading


def _roberta_config(vocab_size: int, size: ModelSize, tokenizer: Any) -> Any:
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.intermediate,
        hidden_dropout_prob=size.dropout,
        attention_probs_dropout_prob=size.dropout,
        # RoBERTa numbers positions from pad_token_id + 1, so it needs two spare positions.
        max_position_embeddings=size.max_length + 2,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _save_weights(state_dict: dict, path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    # float16 halves the file; clone() also separates tied tensors, which safetensors refuses to
    # store twice.
    tensors = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach())
        .cpu()
        .contiguous()
        .clone()
        for k, v in state_dict.items()
    }
    # safetensors creates the file readable by its owner only; atomic_path gives it the usual
    # permissions (model folders are shared files) before renaming it.
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata={"format": "pt"})


def _load_weights(path: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    if not path.is_file():
        raise ValueError(f"{path.parent} holds no {path.name}: not a SMILES model folder")
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise ValueError(f"Cannot read the weights {path}: {exc}") from exc
    return {k: (v.to(torch.float32) if v.is_floating_point() else v) for k, v in tensors.items()}


def _write_json(path: Path, data: dict) -> None:
    # NaN metrics are written as null, so any JSON reader (and the registry) accepts the card.
    write_text_atomic(path, json.dumps(_nan_to_none(data), indent=2, default=str) + "\n")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("drugdesk", "torch", "transformers", "tokenizers", "rdkit", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _smiles_hash(smiles: Sequence[str], targets: np.ndarray | None = None) -> str:
    """SHA-256 of the SMILES (and target rows), one line per row, in order."""
    import hashlib

    digest = hashlib.sha256()
    for i, s in enumerate(smiles):
        row = "" if targets is None else ",".join(repr(float(v)) for v in targets[i])
        digest.update(f"{s}\t{row}\n".encode())
    return digest.hexdigest()


CONFIG_LIMITS: dict[str, int] = {
    "vocab_size": 100_000,
    "hidden_size": 4096,
    "num_hidden_layers": 48,
    "num_attention_heads": 64,
    "intermediate_size": 16_384,
    "max_position_embeddings": 4098,  # 4,096 tokens plus RoBERTa's two spare positions
    "type_vocab_size": 16,
}
"""The largest value of each size in a model folder's ``config.json`` that DrugDesk builds.

Checked before any torch module exists, so a folder declaring hidden 10^9 or 10^6 layers is one
clear error instead of a traceback or a machine out of memory. The shipped models use vocabulary
80, hidden 192, 4 layers, 4 heads, feed-forward 384, 130 positions."""
MAX_TASKS = 10_000
"""Most outputs (``n_tasks``) a fine-tuned model's card may declare."""
MAX_MEMBERS = 32
"""Most ensemble members (weight files) a fine-tuned model's card may list."""
MAX_PARAMETERS = 500_000_000
"""Most parameters (about, from the config) one model may have: 2 GB in float32."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_card(directory: Path) -> dict:
    from core.models.registry import read_model_json

    card_path = directory / CARD_FILE
    if not card_path.is_file():
        raise ValueError(f"{directory} holds no {CARD_FILE}: not a SMILES model folder")
    card = read_model_json(directory, CARD_FILE)  # size, depth and where the file leads checked
    if not isinstance(card, dict) or card.get("model_type") not in (
        PRETRAINED_KIND,
        FINETUNED_KIND,
    ):
        raise ValueError(f"{card_path} does not describe a SMILES transformer")
    if card["model_type"] == FINETUNED_KIND:
        _check_finetuned_card(directory, card)
    return card


def _check_finetuned_card(directory: Path, card: dict) -> None:
    """The card's numbers and weight files, checked before anything is built from them."""
    from core.models.registry import model_file

    where = f"model folder {directory}: {CARD_FILE}"
    n_tasks = card.get("n_tasks")
    if not _is_int(n_tasks) or not 1 <= n_tasks <= MAX_TASKS:
        raise ValueError(f"{where}: 'n_tasks' is {n_tasks!r}; DrugDesk accepts 1 to {MAX_TASKS:,}")
    if card.get("task") not in ("classification", "regression"):
        raise ValueError(f"{where}: 'task' is {card.get('task')!r}, not classification/regression")
    weights = card.get("weights") or [WEIGHTS_FILE]
    if not isinstance(weights, list) or len(weights) > MAX_MEMBERS:
        raise ValueError(f"{where}: 'weights' must list 1 to {MAX_MEMBERS} weight files")
    for name in weights:
        model_file(directory, name)  # a plain name inside the folder, or ValueError
    for key in ("target_mean", "target_scale"):
        values = card.get(key)
        if (
            not isinstance(values, list)
            or len(values) != n_tasks
            or not all(v is None or _is_number(v) for v in values)
        ):
            raise ValueError(f"{where}: {key!r} must be {n_tasks} number(s), one per task")
    dropout = card.get("dropout", 0.1)
    if not _is_number(dropout) or not 0 <= dropout < 1:
        raise ValueError(f"{where}: 'dropout' is {dropout!r}; expected a number from 0 to 1")


def _read_config(directory: Path) -> Any:
    from transformers import RobertaConfig

    from core.models.registry import read_model_json

    path = directory / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{directory} holds no {CONFIG_FILE}: not a SMILES model folder")
    data = read_model_json(directory, CONFIG_FILE)
    if not isinstance(data, dict):
        raise ValueError(f"Cannot read {path}: it is a JSON {type(data).__name__}, not an object")
    for key, limit in CONFIG_LIMITS.items():
        if key in data:  # before transformers sees them: one message for every wrong size
            _check_size(directory, key, data[key], limit)
    try:
        config = RobertaConfig.from_dict(data)
    except Exception as exc:
        raise ValueError(f"Cannot read {path}: {exc}") from exc
    _check_config(directory, config)
    return config


def _check_size(directory: Path, key: str, value: object, limit: int) -> int:
    if not _is_int(value) or not 1 <= value <= limit:
        raise ValueError(
            f"model folder {directory}: {CONFIG_FILE}: {key} is {value!r}; DrugDesk builds "
            f"1 to {limit:,}"
        )
    return value


def _check_config(directory: Path, config: Any) -> int:
    """Check the config's sizes against :data:`CONFIG_LIMITS`; return its approximate number of
    parameters (embeddings and encoder layers), also checked against :data:`MAX_PARAMETERS`."""
    where = f"model folder {directory}: {CONFIG_FILE}"
    sizes = {}
    for key, limit in CONFIG_LIMITS.items():
        sizes[key] = _check_size(directory, key, getattr(config, key, None), limit)
    hidden, heads = sizes["hidden_size"], sizes["num_attention_heads"]
    if hidden % heads:
        raise ValueError(f"{where}: hidden_size {hidden} is not a multiple of {heads} heads")
    pad = getattr(config, "pad_token_id", None)
    if pad is not None and (not _is_int(pad) or not 0 <= pad < sizes["vocab_size"]):
        raise ValueError(f"{where}: pad_token_id {pad!r} is not a token of the vocabulary")
    parameters = (sizes["vocab_size"] + sizes["max_position_embeddings"]) * hidden + sizes[
        "num_hidden_layers"
    ] * (4 * hidden * hidden + 2 * hidden * sizes["intermediate_size"])
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"{where}: describes about {parameters:,} parameters, more than the "
            f"{MAX_PARAMETERS:,} DrugDesk loads"
        )
    return parameters


def save_pretrained_model(model: Any, tokenizer: Any, directory: str | Path, card: dict) -> None:
    """Write a masked-language model: float16 safetensors, config, tokenizer, card (JSON + Markdown)."""
    from core.models.tokenizer import save_tokenizer

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    _save_weights(model.state_dict(), path / WEIGHTS_FILE)
    with atomic_path(path / CONFIG_FILE) as temporary:
        model.config.to_json_file(str(temporary))
    save_tokenizer(tokenizer, path)
    _write_json(path / CARD_FILE, card)
    write_text_atomic(path / CARD_MARKDOWN, _card_markdown(card))


def _build(directory: Path, make: Callable[[], Any]) -> Any:
    """``make()``: a torch module from a checked config; any error it raises names the folder."""
    try:
        return make()
    except (ValueError, TypeError, KeyError, AssertionError, RuntimeError, IndexError) as exc:
        # e.g. an activation transformers does not know ('hidden_act'): KeyError from deep inside
        raise ValueError(
            f"model folder {directory}: cannot build the model its {CONFIG_FILE} describes "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _load_strict(module: Any, state: dict, directory: Path) -> None:
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch: the weights do not belong to this config
        raise ValueError(f"The weights in {directory} do not match its config: {exc}") from exc
    # Tied decoder weights may be absent from files written by other tools.
    missing = [k for k in missing if not k.startswith("lm_head.decoder")]
    if missing or unexpected:
        raise ValueError(
            f"The weights in {directory} do not match its config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )


def load_model(
    directory: str | Path, device: str | None = None, model_cache: Any = None
) -> LoadedModel:
    """Read a pretrained or fine-tuned model folder (safetensors only; never pickles).

    Parameters
    ----------
    directory
        Folder written by :func:`pretrain` or :func:`finetune`.
    device
        torch device string (default: the CPU).
    model_cache
        A ``core.compute.ModelCache``; the model is loaded once per (folder, device).

    Raises
    ------
    ValueError
        When the folder is missing files or they are unreadable or inconsistent.
    """
    path = Path(directory)
    device = device or "cpu"
    if model_cache is not None:
        key = ("smiles-transformer", str(path.resolve()), device)
        return model_cache.get(key, lambda: load_model(path, device))
    if not path.is_dir():
        raise ValueError(f"Model folder not found: {path}")
    from transformers import RobertaForMaskedLM

    from core.models.registry import model_file
    from core.models.tokenizer import load_tokenizer

    card = _read_card(path)
    config = _read_config(path)
    model_file(path, "tokenizer.json", "tokenizer")
    tokenizer = load_tokenizer(path)
    if len(tokenizer) != config.vocab_size:
        raise ValueError(
            f"{path}: the tokenizer has {len(tokenizer)} tokens but the model {config.vocab_size}"
        )
    max_length = card.get("max_length", config.max_position_embeddings - 2)
    if not _is_int(max_length) or not 1 <= max_length <= config.max_position_embeddings - 2:
        raise ValueError(
            f"model folder {path}: {CARD_FILE}: 'max_length' is {max_length!r}; the model has "
            f"positions for 1 to {config.max_position_embeddings - 2} tokens"
        )
    # Every weight file must lie inside the folder (no '../other/model.safetensors', no link out)
    # and be large enough for the parameters the config declares, before a module is built.
    if card["model_type"] == PRETRAINED_KIND:
        files = [WEIGHTS_FILE]
    else:
        files = card.get("weights") or [WEIGHTS_FILE]
    weight_paths = [model_file(path, name) for name in files]
    parameters = _check_config(path, config)
    for weights in weight_paths:
        # A file holds at least a byte per parameter (two in the float16 we write); a config
        # describing far more than that would have torch allocate it all before the mismatch
        # shows, so the allowance is generous and the check comes first.
        if weights.is_file() and parameters > 4 * weights.stat().st_size:
            raise ValueError(
                f"Cannot read the weights {weights}: its {weights.stat().st_size:,} bytes cannot "
                f"hold the {parameters:,} parameters {CONFIG_FILE} describes (the weights do not "
                "match the config)"
            )
    members = []
    if card["model_type"] == PRETRAINED_KIND:
        model = _build(path, lambda: RobertaForMaskedLM(config))
        _load_strict(model, _load_weights(weight_paths[0]), path)
        model.tie_weights()
        members.append(model)
    else:
        for weights in weight_paths:
            model = _build(
                path,
                lambda: _make_predictor(
                    config, int(card["n_tasks"]), float(card.get("dropout", 0.1))
                ),
            )
            _load_strict(model, _load_weights(weights), path)
            members.append(model)
    for model in members:
        model.to(device).eval()
    return LoadedModel(card["model_type"], tokenizer, config, card, members, device)


def _card_markdown(card: dict) -> str:
    metrics = card.get("metrics", {}).get("valid", {})
    lines = [
        f"# {card.get('name', 'SMILES RoBERTa')}",
        "",
        "A RoBERTa encoder pretrained with masked-language modelling on SMILES, tokenised at the "
        "atom level (Schwaller et al. regex). Use it through `core.models.transformer` "
        "(`embed`, `finetune`, `predict`).",
        "",
        "| | |",
        "|---|---|",
        f"| Status | {card.get('status', '')} |",
        f"| Data | {card.get('data', {}).get('description', '')} |",
        f"| Training SMILES | {card.get('data', {}).get('n_train', '')} |",
        f"| Held-out SMILES | {card.get('data', {}).get('n_valid', '')} |",
        f"| Augmentation | {card.get('augmentation', '')} |",
        f"| Size | {card.get('n_parameters', '')} parameters: {card.get('size', {})} |",
        f"| Vocabulary | {card.get('vocab_size', '')} tokens |",
        f"| Steps | {card.get('steps', '')} (best checkpoint at step {card.get('best_step', '')}) |",
        f"| Batch size | {card.get('batch_size', '')} |",
        f"| Training time | {card.get('seconds', 0) / 60:.1f} min |",
        f"| Hardware | {card.get('hardware', '')} |",
        f"| Validation loss | {metrics.get('loss', float('nan')):.4f} |",
        f"| Masked-token accuracy (held-out) | {metrics.get('masked_token_accuracy', math.nan):.4f} |",
        "| Weights | float16 safetensors (loaded as float32) |",
        f"| Date | {card.get('created', '')} |",
        "",
        "Reproduce:",
        "",
        "```bash",
        card.get("command", ""),
        "```",
        "",
        f"Training curve: `{CURVE_FILE}` (step, seconds, learning rate, train loss, validation "
        "loss, masked-token accuracy).",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Pretraining


def _evaluate_mlm(model: Any, tokenizer: Any, batches: list, device: str, amp: bool) -> tuple:
    """Mean masked-token loss and accuracy over fixed, pre-masked validation batches."""
    import torch

    model.eval()
    loss_sum = correct = total = 0.0
    with torch.inference_mode(), _autocast(device, amp):
        for inputs, attention, labels in batches:
            logits = model(
                input_ids=inputs.to(device), attention_mask=attention.to(device)
            ).logits.float()
            labels = labels.to(device)
            selected = labels != -100
            loss_sum += float(
                torch.nn.functional.cross_entropy(
                    logits[selected], labels[selected], reduction="sum"
                )
            )
            correct += float((logits[selected].argmax(-1) == labels[selected]).sum())
            total += float(selected.sum())
    model.train()
    return loss_sum / max(total, 1.0), correct / max(total, 1.0)


def masked_token_accuracy(
    model: LoadedModel | str | Path,
    smiles: Sequence[str],
    mask_probability: float = 0.15,
    seed: int = 0,
    batch_size: int = 64,
) -> tuple[float, float]:
    """Masked-language-model loss and accuracy of a pretrained model on ``smiles``.

    Returns
    -------
    (loss, accuracy)
        Mean cross-entropy and fraction of masked tokens predicted exactly.
    """
    import torch

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    if loaded.kind != PRETRAINED_KIND:
        raise ValueError("masked_token_accuracy needs a pretrained (masked-language) model")
    tokenizer, mlm = loaded.tokenizer, loaded.members[0]
    generator = torch.Generator().manual_seed(seed)
    batches = []
    lengths = token_lengths(tokenizer, smiles)
    for index in length_bucketed_batches(lengths, batch_size):
        encoded = _encode(tokenizer, [smiles[i] for i in index], loaded.max_length, "cpu")
        inputs, labels = _mask_tokens(encoded["input_ids"], tokenizer, mask_probability, generator)
        batches.append((inputs, encoded["attention_mask"], labels))
    return _evaluate_mlm(mlm, tokenizer, batches, loaded.device, amp=False)


def pretrain(
    smiles: Sequence[str],
    output_dir: str | Path,
    options: PretrainOptions | None = None,
    *,
    data_description: str = "",
    command: str = "",
    device: str | None = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> PretrainResult:
    """Pretrain a RoBERTa masked-language model on SMILES and save it to ``output_dir``.

    The tokenizer's vocabulary is built from ``smiles``. ``options.n_valid`` SMILES are held out
    (never trained on) for the validation loss and masked-token accuracy; each validation that
    improves the loss writes the checkpoint (weights, config, tokenizer, card, curve), so the
    folder always holds the best model so far.

    Parameters
    ----------
    smiles
        Training corpus (canonical or not).
    output_dir
        Folder to write.
    options
        Sizes, steps or minutes, batch size, learning rate….
    data_description, command
        Recorded in the model card (what the data was; how to reproduce the run).
    device
        torch device; default: ``options.device`` through ``core.compute.choose_device``.
    progress, is_cancelled
        Job callbacks.

    Raises
    ------
    JobCancelled
        When cancelled; the best checkpoint so far stays in ``output_dir`` (card status
        "cancelled").
    """
    import torch
    from transformers import RobertaForMaskedLM

    from core.models.tokenizer import count_unknown_tokens, train_tokenizer

    options = options or PretrainOptions()
    progress = progress or no_progress
    size = options.size
    output = Path(output_dir)
    started = time.monotonic()
    if options.threads:
        torch.set_num_threads(options.threads)
    device = _resolve_device(device, options.device)
    amp = options.mixed_precision and device.startswith("cuda")
    rng = np.random.default_rng(options.seed)
    torch.manual_seed(options.seed)

    smiles = [s for s in smiles if s]
    if len(smiles) < 10:
        raise ValueError(f"Pretraining needs at least 10 SMILES; got {len(smiles)}")
    n_valid = min(options.n_valid, max(1, len(smiles) // 10))
    order = rng.permutation(len(smiles))
    valid_smiles = [smiles[i] for i in order[:n_valid]]
    train_smiles = [smiles[i] for i in order[n_valid:]]

    progress(0.0, "Building the vocabulary")
    tokenizer = train_tokenizer(train_smiles, model_max_length=size.max_length)
    unknown = count_unknown_tokens(tokenizer, valid_smiles)
    train_lengths = token_lengths(tokenizer, train_smiles)
    n_truncated = int((train_lengths > size.max_length).sum())
    if n_truncated:
        log.warning(
            "%d training SMILES exceed %d tokens and are truncated", n_truncated, size.max_length
        )
    check_cancelled(is_cancelled)

    config = _roberta_config(len(tokenizer), size, tokenizer)
    model = RobertaForMaskedLM(config).to(device)
    n_parameters = sum(p.numel() for p in model.parameters())
    optimizer = _optimizer(model, options.learning_rate, options.weight_decay)
    scaler = _grad_scaler(device, options.mixed_precision)

    # Validation batches are masked once with a fixed seed, so every validation compares alike.
    valid_generator = torch.Generator().manual_seed(options.seed + 1)
    valid_batches = []
    for index in length_bucketed_batches(token_lengths(tokenizer, valid_smiles), 128):
        encoded = _encode(tokenizer, [valid_smiles[i] for i in index], size.max_length, "cpu")
        inputs, labels = _mask_tokens(
            encoded["input_ids"], tokenizer, options.mask_probability, valid_generator
        )
        valid_batches.append((inputs, encoded["attention_mask"], labels))

    mask_generator = torch.Generator().manual_seed(options.seed + 2)
    budget_s = options.minutes * 60.0 if options.minutes else None
    # Augmented SMILES may be a few characters longer; this bound keeps them under max_length.
    max_chars = size.max_length - 2

    best = {"loss": math.inf, "accuracy": 0.0, "step": 0}
    curve: list[dict] = []
    # A superset of core.models.registry's ModelCard, so the registry lists the folder.
    base_card = {
        "name": output.name,
        "kind": REGISTRY_KIND,
        "model_type": PRETRAINED_KIND,
        "task": "masked_lm",
        "smiles_column": "SMILES",
        "target_columns": [],
        "split": {
            "kind": "random",
            "seed": options.seed,
            "sizes": {"train": len(train_smiles), "valid": len(valid_smiles)},
        },
        "data_hash": _smiles_hash(smiles),
        "versions": _package_versions(),
        "description": "SMILES RoBERTa pretrained by masked-language modelling",
        "data": {
            "description": data_description or f"{len(smiles)} SMILES",
            "n_train": len(train_smiles),
            "n_valid": len(valid_smiles),
            "valid_unknown_token_fraction": unknown.fraction,
            "train_truncated": n_truncated,
        },
        "augmentation": f"random SMILES (RDKit doRandom) with probability {options.augment_probability}",
        "size": asdict(size),
        "max_length": size.max_length,
        "vocab_size": len(tokenizer),
        "n_parameters": n_parameters,
        "batch_size": options.batch_size,
        "options": {k: v for k, v in asdict(options).items() if k != "size"},
        "hardware": hardware_description(device),
        "torch": torch.__version__,
        "command": command,
    }

    def save_checkpoint(step: int, status: str) -> None:
        card = dict(base_card)
        card.update(
            status=status,
            steps=step,
            best_step=best["step"],
            seconds=round(time.monotonic() - started, 1),
            created=_utc_now(),
            metrics={"valid": {"loss": best["loss"], "masked_token_accuracy": best["accuracy"]}},
        )
        save_pretrained_model(model, tokenizer, output, card)
        _write_curve(output / CURVE_FILE, curve)

    def update_card(step: int, status: str) -> None:
        # The weights on disk stay the best checkpoint; only the card and curve change.
        card = json.loads((output / CARD_FILE).read_text())
        card.update(
            status=status,
            steps=step,
            seconds=round(time.monotonic() - started, 1),
            created=_utc_now(),
        )
        _write_json(output / CARD_FILE, card)
        write_text_atomic(output / CARD_MARKDOWN, _card_markdown(card))
        _write_curve(output / CURVE_FILE, curve)

    def validate(step: int, train_loss: float, lr: float) -> None:
        loss, accuracy = _evaluate_mlm(model, tokenizer, valid_batches, device, amp)
        curve.append(
            {
                "step": step,
                "seconds": round(time.monotonic() - started, 1),
                "learning_rate": lr,
                "train_loss": train_loss,
                "valid_loss": loss,
                "valid_accuracy": accuracy,
            }
        )
        if loss < best["loss"]:
            best.update(loss=loss, accuracy=accuracy, step=step)
            save_checkpoint(step, "training")
        log.info("step %d: valid loss %.4f, masked-token accuracy %.4f", step, loss, accuracy)

    model.train()
    step = 0
    micro = options.batch_size
    train_loss_sum = train_batches = 0.0
    batches: list[np.ndarray] = []
    lr = 0.0
    try:
        while True:
            elapsed = time.monotonic() - started
            fraction = step / options.steps
            if budget_s:
                fraction = max(fraction, elapsed / budget_s)
            if fraction >= 1.0:
                break
            check_cancelled(is_cancelled)
            if not batches:
                batches = length_bucketed_batches(train_lengths, options.batch_size, rng)
            index = batches.pop()
            batch_smiles = augment_smiles(
                [train_smiles[i] for i in index], rng, options.augment_probability, max_chars
            )
            lr = options.learning_rate * _lr_factor(fraction, options.warmup_fraction)
            for group in optimizer.param_groups:
                group["lr"] = lr
            while True:
                try:
                    loss_value = _mlm_step(
                        model,
                        tokenizer,
                        batch_smiles,
                        micro,
                        size.max_length,
                        device,
                        amp,
                        options.mask_probability,
                        mask_generator,
                        scaler,
                        optimizer,
                        options.max_grad_norm,
                    )
                    break
                except RuntimeError as exc:
                    # On a GPU that runs out of memory, retry the same batch in halves (gradient
                    # accumulation keeps the effective batch size).
                    if not _is_oom(exc) or micro <= 1:
                        raise
                    optimizer.zero_grad(set_to_none=True)
                    torch.cuda.empty_cache()
                    micro = max(1, micro // 2)
                    log.warning("Out of memory; micro-batch halved to %d", micro)
            step += 1
            train_loss_sum += loss_value
            train_batches += 1
            if step % options.eval_every == 0:
                validate(step, train_loss_sum / train_batches, lr)
                train_loss_sum = train_batches = 0.0
            progress(
                min(fraction, 0.999),
                f"Step {step}: loss {loss_value:.3f}"
                + (f", best valid acc {best['accuracy']:.3f}" if best["step"] else ""),
            )
        if train_batches or not curve:
            validate(step, train_loss_sum / max(train_batches, 1), lr)
    except JobCancelled:
        if best["step"]:
            update_card(step, "cancelled")
        raise
    update_card(step, "finished")
    seconds = time.monotonic() - started
    progress(1.0, f"Pretrained {step} steps: valid masked-token accuracy {best['accuracy']:.3f}")
    return PretrainResult(
        output_dir=output,
        steps=step,
        seconds=seconds,
        best_step=best["step"],
        valid_loss=best["loss"],
        valid_accuracy=best["accuracy"],
        n_parameters=n_parameters,
    )


def _mlm_step(
    model,
    tokenizer,
    smiles,
    micro,
    max_length,
    device,
    amp,
    mask_probability,
    generator,
    scaler,
    optimizer,
    max_grad_norm,
) -> float:
    """One optimiser step over ``smiles`` in micro-batches of ``micro``; returns the mean loss."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    # Masked on the CPU with a CPU generator: the same draws on every device (and MPS has no
    # generator of its own); the copy to the device is small.
    encoded = _encode(tokenizer, smiles, max_length, "cpu")
    inputs, labels = _mask_tokens(encoded["input_ids"], tokenizer, mask_probability, generator)
    encoded = {k: v.to(device) for k, v in encoded.items()}
    inputs, labels = inputs.to(device), labels.to(device)
    n_masked = float((labels != -100).sum())
    total = 0.0
    for start in range(0, len(smiles), micro):
        part = slice(start, start + micro)
        with _autocast(device, amp):
            logits = model(
                input_ids=inputs[part], attention_mask=encoded["attention_mask"][part]
            ).logits
        part_labels = labels[part]
        # Summed, then divided by all masked tokens of the batch: micro-batching gives the same
        # gradient as one batch.
        loss = torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]),
            part_labels.reshape(-1),
            ignore_index=-100,
            reduction="sum",
        ) / max(n_masked, 1.0)
        scaler.scale(loss).backward()
        total += loss.item()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    return total


def _write_curve(path: Path, curve: list[dict]) -> None:
    if not curve:
        return
    with atomic_output(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(curve[0]))
        writer.writeheader()
        for row in curve:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )


# ----------------------------------------------------------------------------------------------
# Fine-tuning, prediction, embeddings


@cache
def _predictor_class() -> type:
    """The encoder + head module, defined on first use so that importing this module skips torch."""
    from torch import nn
    from transformers import RobertaModel

    class SmilesPredictor(nn.Module):
        """RoBERTa encoder, mean-pooled over real tokens, then a two-layer head (one output/task)."""

        def __init__(self, config: Any, n_tasks: int, dropout: float) -> None:
            super().__init__()
            self.config = config
            self.encoder = RobertaModel(config, add_pooling_layer=False)
            hidden = config.hidden_size
            self.head = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(hidden, hidden),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, n_tasks),
            )

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
            return self.head(_mean_pool(states.last_hidden_state, attention_mask))

    return SmilesPredictor


def _make_predictor(config: Any, n_tasks: int, dropout: float) -> Any:
    return _predictor_class()(config, n_tasks, dropout)


def _mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the hidden states over real tokens (padding excluded)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def _as_loaded(
    model: LoadedModel | str | Path, device: str | None, model_cache: Any = None
) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    return load_model(model, _resolve_device(device, "auto"), model_cache)


def _report_truncated(
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


def _task_metric(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean over tasks of ROC-AUC (classification) or RMSE (regression), NaN labels skipped.

    Tasks whose validation labels hold one class only have no ROC-AUC and are left out; NaN when
    no task can be scored.
    """
    from sklearn.metrics import mean_squared_error, roc_auc_score

    scores = []
    for t in range(y_true.shape[1]):
        known = ~np.isnan(y_true[:, t])
        if not known.any():
            continue
        truth, pred = y_true[known, t], y_pred[known, t]
        if task == "classification":
            if len(np.unique(truth)) < 2:
                continue
            scores.append(roc_auc_score(truth, pred))
        else:
            scores.append(math.sqrt(mean_squared_error(truth, pred)))
    return float(np.mean(scores)) if scores else math.nan


def _is_better(task: str, new: float, old: float) -> bool:
    if math.isnan(new):
        return False
    if math.isnan(old):
        return True
    return new > old if task == "classification" else new < old


def _member_outputs(
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
    with torch.inference_mode(), _autocast(device, amp):
        for index in length_bucketed_batches(lengths, batch_size):
            check_cancelled(is_cancelled)
            encoded = _encode(tokenizer, [smiles[i] for i in index], max_length, device)
            values = member(**encoded).float().cpu().numpy()
            if out is None:
                out = np.empty((len(smiles), values.shape[1]), dtype=np.float64)
            out[index] = values
            if on_batch is not None:
                on_batch(len(index))
    return out if out is not None else np.zeros((0, 0))


def _to_outputs(raw: np.ndarray, task: str, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Head outputs to probabilities (classification) or target units (regression)."""
    if task == "classification":
        return 1.0 / (1.0 + np.exp(-raw))
    return raw * scale + mean


def finetune(
    pretrained: LoadedModel | str | Path,
    smiles: Sequence[str],
    targets: np.ndarray,
    task: str,
    train_idx: Sequence[int] | np.ndarray,
    valid_idx: Sequence[int] | np.ndarray,
    options: FinetuneOptions | None = None,
    *,
    target_names: Sequence[str] | None = None,
    output_dir: str | Path | None = None,
    split: dict | None = None,
    smiles_column: str = "smiles",
    data_hash: str = "",
    name: str = "",
    device: str | None = None,
    on_epoch: EpochCallback | None = None,
    keep_on_cancel: bool = False,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> FinetuneResult:
    """Fine-tune a pretrained SMILES RoBERTa (an ensemble of ``options.n_models`` seeds).

    Each member is the pretrained encoder plus a new head on the mean-pooled hidden states,
    trained with AdamW (linear warm-up and decay), gradient clipping and early stopping on the
    validation metric; the best epoch's weights are kept.

    Parameters
    ----------
    pretrained
        A pretrained model folder (or a :class:`LoadedModel` of one).
    smiles
        All SMILES; ``train_idx``/``valid_idx`` index into it.
    targets
        (n,) or (n, tasks) floats; NaN marks a missing label (masked out of loss and metric).
        Classification labels are 0/1.
    task
        ``"classification"`` (binary per task, masked BCE with ``pos_weight``) or
        ``"regression"`` (targets standardised on the training rows, MSE).
    train_idx, valid_idx
        Rows to train on and to early-stop on (valid may be empty: then all epochs run).
    options
        Epochs, batch size, learning rate, patience, ensemble size….
    target_names
        Names of the target columns, for the card.
    output_dir
        When given, the ensemble is saved there (safetensors + config + tokenizer + card.json).
    split
        How the split was made, for the card (e.g. ``{"kind": "scaffold", "seed": 0}``); the
        sizes are added.
    smiles_column, data_hash, name
        For the card (``core.models.registry.ModelCard`` fields); ``data_hash`` defaults to a
        SHA-256 of the SMILES and targets.
    device, progress, is_cancelled
        torch device (default ``options.device``) and job callbacks.
    on_epoch
        Called after every epoch as ``on_epoch(model_index, epoch, train_loss, valid_metric)``
        (0-based member, 1-based epoch, mean training loss, validation ROC-AUC or RMSE; NaN when
        there are no validation rows), on the thread that trains: a GUI must hand the values to
        its own thread (a queue it polls), never touch widgets here.
    keep_on_cancel
        When cancelled, keep the members trained so far (the running member at its best epoch
        so far, if it finished one), save them with ``card["status"] = "cancelled"`` and return
        normally with ``FinetuneResult.cancelled`` set; ``JobCancelled`` is raised only when no
        epoch finished. When False (default), cancel raises ``JobCancelled`` and saves nothing.

    Returns
    -------
    FinetuneResult
        The loaded ensemble and its validation metric (ROC-AUC or RMSE).
    """
    import torch

    from core.models.tokenizer import count_unknown_tokens

    options = options or FinetuneOptions()
    progress = progress or no_progress
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', not {task!r}")
    y = np.asarray(targets, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or len(y) != len(smiles):
        raise ValueError(f"targets must have one row per SMILES ({len(smiles)}); got {y.shape}")
    train_idx = np.asarray(train_idx, dtype=np.int64)
    valid_idx = np.asarray(valid_idx, dtype=np.int64)
    if not len(train_idx):
        raise ValueError("No training rows")
    n_tasks = y.shape[1]
    if task == "classification":
        known = y[~np.isnan(y)]
        if not np.isin(known, (0.0, 1.0)).all():
            raise ValueError("Classification targets must be 0, 1 or NaN")
    names = (
        list(target_names) if target_names is not None else [f"task_{i}" for i in range(n_tasks)]
    )
    if len(names) != n_tasks:
        raise ValueError(f"{len(names)} target names for {n_tasks} target columns")

    device = _resolve_device(device, options.device)
    amp = options.mixed_precision and device.startswith("cuda")
    base = pretrained if isinstance(pretrained, LoadedModel) else load_model(pretrained, "cpu")
    tokenizer, config, max_length = base.tokenizer, base.config, base.max_length
    encoder_state = {k: v.detach().cpu().clone() for k, v in base.encoder.state_dict().items()}
    smiles = list(smiles)
    truncated = _report_truncated(tokenizer, smiles, max_length, progress)
    unknown = count_unknown_tokens(tokenizer, smiles)
    if unknown.n_unknown:
        log.warning("Fine-tuning data: %s", unknown.message())
        progress(-1.0, unknown.message())

    y_train = y[train_idx]
    if task == "regression":
        mean = np.nan_to_num(np.nanmean(y_train, axis=0))
        scale = np.nan_to_num(np.nanstd(y_train, axis=0), nan=1.0)
        scale[scale < 1e-12] = 1.0
    else:
        mean, scale = np.zeros(n_tasks), np.ones(n_tasks)
    y_fit = (y - mean) / scale
    label_mask = ~np.isnan(y_fit)
    y_fit = np.nan_to_num(y_fit)
    pos_weight = None
    if task == "classification" and options.class_weighting:
        positives = np.nansum(y_train, axis=0)
        negatives = (~np.isnan(y_train)).sum(axis=0) - positives
        pos_weight = (
            torch.tensor(
                np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0),
                dtype=torch.float32,
            )
            .clamp(min=0.05, max=100.0)
            .to(device)
        )

    train_smiles = [smiles[i] for i in train_idx]
    valid_smiles = [smiles[i] for i in valid_idx]
    train_lengths = token_lengths(tokenizer, train_smiles)
    batches_per_epoch = math.ceil(len(train_idx) / options.batch_size)
    total_steps = max(1, batches_per_epoch * options.epochs)
    started = time.monotonic()
    members, member_metrics, best_epochs, seeds = [], [], [], []
    valid_outputs = []

    cancelled = False
    for m in range(options.n_models):
        seed = options.seed + m
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        model = _make_predictor(config, n_tasks, options.dropout)
        model.encoder.load_state_dict(encoder_state)
        model.to(device).train()
        optimizer = _optimizer(model, options.learning_rate, options.weight_decay)
        scaler = _grad_scaler(device, options.mixed_precision)
        best = {"metric": math.nan, "state": None, "epoch": 0}
        stale = step = 0
        try:
            for epoch in range(1, options.epochs + 1):
                loss_sum, loss_batches = 0.0, 0
                for index in length_bucketed_batches(train_lengths, options.batch_size, rng):
                    check_cancelled(is_cancelled)
                    batch_smiles = [train_smiles[i] for i in index]
                    if options.augment_probability > 0:
                        batch_smiles = augment_smiles(
                            batch_smiles, rng, options.augment_probability, max_length - 2
                        )
                    rows = train_idx[index]
                    encoded = _encode(tokenizer, batch_smiles, max_length, device)
                    target = torch.tensor(y_fit[rows], dtype=torch.float32, device=device)
                    mask = torch.tensor(label_mask[rows], dtype=torch.float32, device=device)
                    for group in optimizer.param_groups:
                        group["lr"] = options.learning_rate * _lr_factor(
                            step / total_steps, options.warmup_fraction
                        )
                    optimizer.zero_grad(set_to_none=True)
                    with _autocast(device, amp):
                        output = model(**encoded)
                    output = output.float()
                    if task == "classification":
                        losses = torch.nn.functional.binary_cross_entropy_with_logits(
                            output, target, pos_weight=pos_weight, reduction="none"
                        )
                    else:
                        losses = (output - target) ** 2
                    # Missing labels contribute nothing; a batch without any label gives 0, not NaN.
                    loss = (losses * mask).sum() / mask.sum().clamp(min=1.0)
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), options.max_grad_norm)
                    scaler.step(optimizer)
                    scaler.update()
                    step += 1
                    loss_sum += float(loss.detach())
                    loss_batches += 1
                metric = math.nan
                if len(valid_idx):
                    raw = _member_outputs(
                        model, (tokenizer, max_length, amp), valid_smiles, 128, device, is_cancelled
                    )
                    metric = _task_metric(task, y[valid_idx], _to_outputs(raw, task, mean, scale))
                    model.train()
                if best["state"] is None or _is_better(task, metric, best["metric"]):
                    best.update(metric=metric, epoch=epoch)
                    best["state"] = {
                        k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                    }
                    stale = 0
                else:
                    stale += 1
                if on_epoch is not None:
                    on_epoch(m, epoch, loss_sum / max(loss_batches, 1), metric)
                progress(
                    (m + epoch / options.epochs) / options.n_models,
                    f"Model {m + 1}/{options.n_models}, epoch {epoch}: validation "
                    f"{'ROC-AUC' if task == 'classification' else 'RMSE'} {metric:.3f}",
                )
                if len(valid_idx) and stale >= options.patience:
                    break
        except JobCancelled:
            # Keep what was learnt: earlier members, and this one at its best epoch so far.
            if not keep_on_cancel or (best["state"] is None and not members):
                raise
            cancelled = True
        if best["state"] is not None:
            model.load_state_dict(best["state"])
            model.eval()
            members.append(model)
            seeds.append(seed)
            member_metrics.append(best["metric"])
            best_epochs.append(best["epoch"])
            if len(valid_idx):
                raw = _member_outputs(
                    model,
                    (tokenizer, max_length, amp),
                    valid_smiles,
                    128,
                    device,
                    None if keep_on_cancel else is_cancelled,
                )
                valid_outputs.append(_to_outputs(raw, task, mean, scale))
        if cancelled:
            log.info("Fine-tuning cancelled: keeping %d model(s)", len(members))
            break

    ensemble_metric = (
        _task_metric(task, y[valid_idx], np.mean(valid_outputs, axis=0))
        if valid_outputs
        else math.nan
    )
    metric_name = "roc_auc" if task == "classification" else "rmse"
    # The first member is model.safetensors, the file the registry checks for.
    weights = [WEIGHTS_FILE] + [f"model_{i}.safetensors" for i in range(1, len(members))]
    card = {
        "name": name or (Path(output_dir).name if output_dir is not None else "finetuned"),
        "kind": REGISTRY_KIND,
        "model_type": FINETUNED_KIND,
        "task": task,
        "smiles_column": smiles_column,
        "target_columns": names,
        "split": {
            **(split or {"kind": "given"}),
            "sizes": {"train": len(train_idx), "valid": len(valid_idx)},
        },
        "metrics": {"valid": {metric_name: ensemble_metric}},
        "data_hash": data_hash or _smiles_hash(smiles, y),
        "created": _utc_now(),
        "versions": _package_versions(),
        "description": f"SMILES RoBERTa fine-tuned for {task} of {', '.join(names)}",
        "n_tasks": n_tasks,
        "target_names": names,
        "target_mean": mean.tolist(),
        "target_scale": scale.tolist(),
        "member_metrics": {metric_name: member_metrics},
        "seeds": seeds,
        "best_epochs": best_epochs,
        "options": {k: v for k, v in asdict(options).items()},
        "pretrained": base.card.get("name", ""),
        "pretrained_card": {k: base.card.get(k) for k in ("name", "data", "metrics", "created")},
        "max_length": max_length,
        "dropout": options.dropout,
        "n_truncated": len(truncated),
        "unknown_tokens": {
            "n_unknown": unknown.n_unknown,
            "fraction": unknown.fraction,
            "examples": list(unknown.unknown_examples),
        },
        "weights": weights,
        "status": "cancelled" if cancelled else "finished",
        "seconds": round(time.monotonic() - started, 1),
        "hardware": hardware_description(device),
    }
    loaded = LoadedModel(FINETUNED_KIND, tokenizer, config, card, members, device)
    output = None
    if output_dir is not None:
        output = save_finetuned_model(loaded, output_dir)
    progress(
        1.0, f"Fine-tuned {len(members)} model(s): validation {metric_name} {ensemble_metric:.3f}"
    )
    return FinetuneResult(
        model=loaded,
        valid_metric=ensemble_metric,
        metric_name=metric_name,
        member_metrics=tuple(member_metrics),
        epochs=tuple(best_epochs),
        n_truncated=len(truncated),
        output_dir=output,
        cancelled=cancelled,
    )


def save_finetuned_model(model: LoadedModel, directory: str | Path) -> Path:
    """Write a fine-tuned ensemble: one float16 safetensors per member, config, tokenizer, card."""
    from core.models.tokenizer import save_tokenizer

    if model.kind != FINETUNED_KIND:
        raise ValueError("save_finetuned_model needs a fine-tuned model")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for name, member in zip(model.card["weights"], model.members, strict=True):
        _save_weights(member.state_dict(), path / name)
    with atomic_path(path / CONFIG_FILE) as temporary:
        model.config.to_json_file(str(temporary))
    save_tokenizer(model.tokenizer, path)
    _write_json(path / CARD_FILE, model.card)
    return path


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
    loaded = _as_loaded(model, device, model_cache)
    if loaded.kind != FINETUNED_KIND:
        raise ValueError("predict needs a fine-tuned model (this folder holds a pretrained one)")
    smiles = list(smiles)
    task = loaded.card["task"]
    mean = np.asarray(loaded.card["target_mean"], dtype=np.float64)
    scale = np.asarray(loaded.card["target_scale"], dtype=np.float64)
    truncated = _report_truncated(loaded.tokenizer, smiles, loaded.max_length, progress)
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
            _to_outputs(
                _member_outputs(
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
    loaded = _as_loaded(model, device, model_cache)
    smiles = list(smiles)
    encoder = loaded.encoder
    encoder.eval()
    _report_truncated(loaded.tokenizer, smiles, loaded.max_length, progress)
    out = np.zeros((len(smiles), loaded.config.hidden_size), dtype=np.float32)
    lengths = token_lengths(loaded.tokenizer, smiles)
    done = 0
    with torch.inference_mode(), _autocast(loaded.device, loaded.device.startswith("cuda")):
        for index in length_bucketed_batches(lengths, batch_size):
            check_cancelled(is_cancelled)
            encoded = _encode(
                loaded.tokenizer, [smiles[i] for i in index], loaded.max_length, loaded.device
            )
            hidden = encoder(**encoded).last_hidden_state
            out[index] = _mean_pool(hidden.float(), encoded["attention_mask"]).cpu().numpy()
            done += len(index)
            progress(done / len(smiles), f"Embedded {done} of {len(smiles)}")
    return out
