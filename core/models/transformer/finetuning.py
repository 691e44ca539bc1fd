"""Fine-tuning a pretrained SMILES RoBERTa into a predictor (an ensemble of seeds)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.jobs import CancelCheck, JobCancelled, ProgressCallback, check_cancelled, no_progress
from core.models.augment import augment_smiles
from core.models.transformer.batching import encode, length_bucketed_batches, token_lengths
from core.models.transformer.devices import (
    autocast,
    grad_scaler,
    hardware_description,
    resolve_device,
)
from core.models.transformer.folders import (
    load_model,
    package_versions,
    save_finetuned_model,
    smiles_hash,
    utc_now,
)
from core.models.transformer.inference import member_outputs, report_truncated, to_outputs
from core.models.transformer.model import (
    FINETUNED_KIND,
    REGISTRY_KIND,
    WEIGHTS_FILE,
    LoadedModel,
    make_predictor,
)
from core.models.transformer.schedule import adamw, lr_factor

log = logging.getLogger(__name__)


EpochCallback = Callable[[int, int, float, float], None]
"""``on_epoch(model_index, epoch, train_loss, valid_metric)`` (see :func:`finetune`)."""


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


def _warm_start_states(base: LoadedModel, task: str, names: list[str]) -> list[dict]:
    """The old members' weights (CPU copies) to start a warm-started fine-tuning from, after
    checking that ``base`` is a fine-tuned model of the same task and targets."""
    card = base.card
    if base.kind != FINETUNED_KIND or not base.members:
        raise ValueError(
            f"warm start needs a fine-tuned model; {card.get('name', 'the model')!r} is {base.kind}"
        )
    differences = []
    if card.get("task") != task:
        differences.append(f"task {card.get('task')!r}, not {task!r}")
    old_names = list(card.get("target_names") or [])
    if old_names != list(names):
        differences.append(f"targets {old_names}, not {list(names)}")
    sizes = [len(card.get(k) or []) for k in ("target_mean", "target_scale")]
    if sizes != [len(old_names)] * 2:
        differences.append("no target_mean/target_scale for every target on its card")
    if differences:
        raise ValueError(
            f"cannot warm-start from {card.get('name', 'the model')!r}: it has "
            + "; ".join(differences)
        )
    return [{k: v.detach().cpu().clone() for k, v in m.state_dict().items()} for m in base.members]


def _warm_start_card(old: dict) -> dict:
    # The encoder's origin stays the old model's pretrained one; the old model is named beside it.
    return {
        "warm_started_from": old.get("name", ""),
        "pretrained": old.get("pretrained", ""),
        "pretrained_card": old.get("pretrained_card") or {},
    }


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
    warm_start: bool = False,
    member_train_idx: Sequence[Sequence[int] | np.ndarray] | None = None,
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
        A pretrained model folder (or a :class:`LoadedModel` of one); with ``warm_start``, a
        fine-tuned one.
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
    warm_start
        Continue a fine-tuned model (``pretrained``) on new data instead of starting a new head:
        member ``m`` starts from the old member ``m % n_old`` (encoder and head), and the old
        card's ``target_mean``/``target_scale`` are kept, so the head's outputs stay in the
        units it learned. The old model must have the same task and target names (else
        ``ValueError`` naming what differs). With validation rows, the starting weights are
        scored first and kept (best epoch 0) unless an epoch beats them. The card records
        ``warm_started_from`` (the old model's name) and keeps the old card's ``pretrained``.
    member_train_idx
        Cross-fitting (``core.models.calibration_store``): one array of rows per member, each a
        subset of ``train_idx``, that member ``m`` trains on instead of all of ``train_idx`` (so
        that the rows it leaves out get a prediction it never trained on). The targets'
        standardisation and the class weights still come from all of ``train_idx``. Must have
        ``options.n_models`` entries.

    Returns
    -------
    FinetuneResult
        The loaded ensemble and its validation metric (ROC-AUC or RMSE).
    """
    import torch

    from core.models.metrics import positive_rates
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
    if member_train_idx is not None:
        member_rows = [np.asarray(rows, dtype=np.int64) for rows in member_train_idx]
        if len(member_rows) != options.n_models:
            raise ValueError(
                f"{len(member_rows)} training-row sets for {options.n_models} ensemble members"
            )
        if any(not len(rows) or not np.isin(rows, train_idx).all() for rows in member_rows):
            raise ValueError("Each member's training rows must be a non-empty part of train_idx")
    else:
        member_rows = [train_idx] * options.n_models
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

    device = resolve_device(device, options.device)
    amp = options.mixed_precision and device.startswith("cuda")
    base = pretrained if isinstance(pretrained, LoadedModel) else load_model(pretrained, "cpu")
    old_states = _warm_start_states(base, task, names) if warm_start else None
    tokenizer, config, max_length = base.tokenizer, base.config, base.max_length
    encoder_state = {k: v.detach().cpu().clone() for k, v in base.encoder.state_dict().items()}
    smiles = list(smiles)
    truncated = report_truncated(tokenizer, smiles, max_length, progress)
    unknown = count_unknown_tokens(tokenizer, smiles)
    if unknown.n_unknown:
        log.warning("Fine-tuning data: %s", unknown.message())
        progress(-1.0, unknown.message())

    y_train = y[train_idx]
    if old_states is not None:
        # The old head predicts in the old standardised units: new ones would shift every output.
        mean = np.asarray(base.card["target_mean"], dtype=np.float64)
        scale = np.asarray(base.card["target_scale"], dtype=np.float64)
    elif task == "regression":
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

    valid_smiles = [smiles[i] for i in valid_idx]
    started = time.monotonic()
    members, member_metrics, best_epochs, seeds = [], [], [], []
    valid_outputs = []

    cancelled = False
    for m in range(options.n_models):
        seed = options.seed + m
        own_idx = member_rows[m]
        train_smiles = [smiles[i] for i in own_idx]
        train_lengths = token_lengths(tokenizer, train_smiles)
        batches_per_epoch = math.ceil(len(own_idx) / options.batch_size)
        total_steps = max(1, batches_per_epoch * options.epochs)
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        model = make_predictor(config, n_tasks, options.dropout)
        if old_states is not None:
            model.load_state_dict(old_states[m % len(old_states)])
        else:
            model.encoder.load_state_dict(encoder_state)
        model.to(device).train()
        optimizer = adamw(model, options.learning_rate, options.weight_decay)
        scaler = grad_scaler(device, options.mixed_precision)
        best = {"metric": math.nan, "state": None, "epoch": 0}
        stale = step = 0
        try:
            if old_states is not None and len(valid_idx):
                # Early stopping may keep the starting point (best epoch 0): no warm-started
                # member ends worse on the validation part than the one it started from.
                raw = member_outputs(
                    model, (tokenizer, max_length, amp), valid_smiles, 128, device, is_cancelled
                )
                best["metric"] = _task_metric(
                    task, y[valid_idx], to_outputs(raw, task, mean, scale)
                )
                best["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                model.train()
            for epoch in range(1, options.epochs + 1):
                loss_sum, loss_batches = 0.0, 0
                for index in length_bucketed_batches(train_lengths, options.batch_size, rng):
                    check_cancelled(is_cancelled)
                    batch_smiles = [train_smiles[i] for i in index]
                    if options.augment_probability > 0:
                        batch_smiles = augment_smiles(
                            batch_smiles, rng, options.augment_probability, max_length - 2
                        )
                    rows = own_idx[index]
                    encoded = encode(tokenizer, batch_smiles, max_length, device)
                    target = torch.tensor(y_fit[rows], dtype=torch.float32, device=device)
                    mask = torch.tensor(label_mask[rows], dtype=torch.float32, device=device)
                    for group in optimizer.param_groups:
                        group["lr"] = options.learning_rate * lr_factor(
                            step / total_steps, options.warmup_fraction
                        )
                    optimizer.zero_grad(set_to_none=True)
                    with autocast(device, amp):
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
                    raw = member_outputs(
                        model, (tokenizer, max_length, amp), valid_smiles, 128, device, is_cancelled
                    )
                    metric = _task_metric(task, y[valid_idx], to_outputs(raw, task, mean, scale))
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
                raw = member_outputs(
                    model,
                    (tokenizer, max_length, amp),
                    valid_smiles,
                    128,
                    device,
                    None if keep_on_cancel else is_cancelled,
                )
                valid_outputs.append(to_outputs(raw, task, mean, scale))
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
        "data_hash": data_hash or smiles_hash(smiles, y),
        "created": utc_now(),
        "versions": package_versions(),
        "description": f"SMILES RoBERTa fine-tuned for {task} of {', '.join(names)}",
        "n_tasks": n_tasks,
        "target_names": names,
        "target_mean": mean.tolist(),
        "target_scale": scale.tolist(),
        # The training part's base rate: what an explanation of a classifier is relative to.
        **({"train_positive_rate": positive_rates(y_train)} if task == "classification" else {}),
        "member_metrics": {metric_name: member_metrics},
        "member_train_sizes": [len(rows) for rows in member_rows[: len(members)]],
        "seeds": seeds,
        "best_epochs": best_epochs,
        "options": {k: v for k, v in asdict(options).items()},
        "pretrained": base.card.get("name", ""),
        "pretrained_card": {k: base.card.get(k) for k in ("name", "data", "metrics", "created")},
        **(_warm_start_card(base.card) if old_states is not None else {}),
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
