"""Masked-language-model pretraining of a SMILES RoBERTa, and its masked-token accuracy."""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.fileio import atomic_output, write_text_atomic
from core.jobs import CancelCheck, JobCancelled, ProgressCallback, check_cancelled, no_progress
from core.models.augment import augment_smiles
from core.models.transformer.batching import encode, length_bucketed_batches, token_lengths
from core.models.transformer.devices import (
    autocast,
    grad_scaler,
    hardware_description,
    is_out_of_memory,
    resolve_device,
)
from core.models.transformer.folders import (
    card_markdown,
    load_model,
    package_versions,
    save_pretrained_model,
    smiles_hash,
    utc_now,
    write_json,
)
from core.models.transformer.model import (
    CARD_FILE,
    CARD_MARKDOWN,
    CURVE_FILE,
    PRETRAINED_KIND,
    REGISTRY_KIND,
    LoadedModel,
    ModelSize,
    roberta_config,
)
from core.models.transformer.schedule import adamw, lr_factor

log = logging.getLogger(__name__)


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


def _evaluate_mlm(model: Any, tokenizer: Any, batches: list, device: str, amp: bool) -> tuple:
    """Mean masked-token loss and accuracy over fixed, pre-masked validation batches."""
    import torch

    model.eval()
    loss_sum = correct = total = 0.0
    with torch.inference_mode(), autocast(device, amp):
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
        encoded = encode(tokenizer, [smiles[i] for i in index], loaded.max_length, "cpu")
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
    device = resolve_device(device, options.device)
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

    config = roberta_config(len(tokenizer), size, tokenizer)
    model = RobertaForMaskedLM(config).to(device)
    n_parameters = sum(p.numel() for p in model.parameters())
    optimizer = adamw(model, options.learning_rate, options.weight_decay)
    scaler = grad_scaler(device, options.mixed_precision)

    # Validation batches are masked once with a fixed seed, so every validation compares alike.
    valid_generator = torch.Generator().manual_seed(options.seed + 1)
    valid_batches = []
    for index in length_bucketed_batches(token_lengths(tokenizer, valid_smiles), 128):
        encoded = encode(tokenizer, [valid_smiles[i] for i in index], size.max_length, "cpu")
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
        "data_hash": smiles_hash(smiles),
        "versions": package_versions(),
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
            created=utc_now(),
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
            created=utc_now(),
        )
        write_json(output / CARD_FILE, card)
        write_text_atomic(output / CARD_MARKDOWN, card_markdown(card))
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
            lr = options.learning_rate * lr_factor(fraction, options.warmup_fraction)
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
                    if not is_out_of_memory(exc) or micro <= 1:
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
    encoded = encode(tokenizer, smiles, max_length, "cpu")
    inputs, labels = _mask_tokens(encoded["input_ids"], tokenizer, mask_probability, generator)
    encoded = {k: v.to(device) for k, v in encoded.items()}
    inputs, labels = inputs.to(device), labels.to(device)
    n_masked = float((labels != -100).sum())
    total = 0.0
    for start in range(0, len(smiles), micro):
        part = slice(start, start + micro)
        with autocast(device, amp):
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
