"""Model folders: writing them, and reading them back after checking every file.

Nothing is ever read with ``torch.load``: weights are safetensors, so a model folder cannot run
code. Every size a folder declares is checked (:data:`CONFIG_LIMITS`, :data:`MAX_PARAMETERS`)
before a torch module is built from it, so a hostile folder is one clear error.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.fileio import atomic_path, write_text_atomic
from core.models.transformer.model import (
    CARD_FILE,
    CARD_MARKDOWN,
    CONFIG_FILE,
    CURVE_FILE,
    FINETUNED_KIND,
    PRETRAINED_KIND,
    WEIGHTS_FILE,
    LoadedModel,
    make_predictor,
)


def save_weights(state_dict: dict, path: Path) -> None:
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


def write_json(path: Path, data: dict) -> None:
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


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("drugdesk", "torch", "transformers", "tokenizers", "rdkit", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def smiles_hash(smiles: Sequence[str], targets: np.ndarray | None = None) -> str:
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
    save_weights(model.state_dict(), path / WEIGHTS_FILE)
    with atomic_path(path / CONFIG_FILE) as temporary:
        model.config.to_json_file(str(temporary))
    save_tokenizer(tokenizer, path)
    write_json(path / CARD_FILE, card)
    write_text_atomic(path / CARD_MARKDOWN, card_markdown(card))


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


def _folder_stamp(path: Path) -> int:
    """The newest modification time (ns) of the folder's files; 0 when it cannot be read."""
    try:
        return max((f.stat().st_mtime_ns for f in path.iterdir() if f.is_file()), default=0)
    except OSError:
        return 0


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
        # The model host outlives a training: a model retrained into the same folder must not be
        # served from memory, so the folder's file times are part of the key.
        key = ("smiles-transformer", str(path.resolve()), device, _folder_stamp(path))
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
                lambda: make_predictor(
                    config, int(card["n_tasks"]), float(card.get("dropout", 0.1))
                ),
            )
            _load_strict(model, _load_weights(weights), path)
            members.append(model)
    for model in members:
        model.to(device).eval()
    return LoadedModel(card["model_type"], tokenizer, config, card, members, device)


def card_markdown(card: dict) -> str:
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


def save_finetuned_model(model: LoadedModel, directory: str | Path) -> Path:
    """Write a fine-tuned ensemble: one float16 safetensors per member, config, tokenizer, card."""
    from core.models.tokenizer import save_tokenizer

    if model.kind != FINETUNED_KIND:
        raise ValueError("save_finetuned_model needs a fine-tuned model")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for name, member in zip(model.card["weights"], model.members, strict=True):
        save_weights(member.state_dict(), path / name)
    with atomic_path(path / CONFIG_FILE) as temporary:
        model.config.to_json_file(str(temporary))
    save_tokenizer(model.tokenizer, path)
    write_json(path / CARD_FILE, model.card)
    return path
