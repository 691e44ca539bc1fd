"""The model registry: trained models in the user's data folder, each described by a model card.

Layout::

    <data_dir>/models/<name>/card.json     what the model is, how it was trained and evaluated
    <data_dir>/models/<name>/<weights>     e.g. model.safetensors (transformer), forests.skops (forest)

Shipped models live the same way under ``resources/models/<name>/`` (read through
``resources.resource_path``). The weight files each kind needs are registered with
:func:`register_model_kind`, so a folder missing its weights is reported as broken instead of
failing later inside a job.

A model folder may come from anyone: every file it names must be a plain name that resolves
inside the folder (:func:`model_file`: no ``../other/model.safetensors``, no absolute path, no
symbolic link leading out), and its JSON files are read with a size and depth limit
(:func:`read_model_json`), so a folder can neither load another model's weights nor fill the memory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from core import paths

CARD_FILE = "card.json"
MAX_JSON_BYTES = 4 * 1024**2
"""Largest JSON file of a model folder that is read (cards and configs are a few KB)."""
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

MODEL_KINDS: dict[str, tuple[str, ...]] = {}
"""Weight files every folder of a model kind must hold, by kind."""


def register_model_kind(kind: str, weight_files: Sequence[str]) -> None:
    """Declare a model kind and the weight files its folder must contain (checked by
    :func:`load_card`). Registering the same kind again replaces its list."""
    MODEL_KINDS[kind] = tuple(weight_files)


register_model_kind("transformer", ("model.safetensors",))
register_model_kind("rf_ecfp4", ("forests.skops", "baseline.json"))
register_model_kind("rf_maccs", ("forests.skops", "baseline.json"))
register_model_kind("dmpnn", ("model.safetensors", "dmpnn_config.json"))  # core.models.dmpnn

VERSION_PACKAGES = ("drugdesk", "rdkit", "numpy", "scikit-learn", "skops", "torch", "transformers")


@dataclass(slots=True, frozen=True)
class ModelCard:
    """What a trained model is, how it was trained and how well it did (``card.json``).

    ``split``: ``{"kind": "scaffold", "seed": 0, "sizes": {"train": n, "valid": n, "test": n}}``;
    ``metrics``: ``{"valid": {...}, "test": {...}}`` (e.g. ``{"test": {"roc_auc": 0.81}}``);
    ``created``: ISO 8601 time in UTC; ``versions``: package versions at training time.
    """

    name: str
    kind: str
    task: str
    smiles_column: str
    target_columns: tuple[str, ...]
    split: dict[str, Any]
    metrics: dict[str, Any]
    data_hash: str
    created: str
    versions: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_columns"] = list(self.target_columns)
        return data

    def to_json(self) -> str:
        # allow_nan=False would reject NaN metrics; write them as null instead so any JSON reader works.
        return json.dumps(_nan_to_none(self.to_dict()), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Build a card; unknown keys are ignored (newer versions may add some), missing required
        keys raise ``ValueError`` listing them."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a model card must be a JSON object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        required = [name for name, f in known.items() if _is_required(f)]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"the model card lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        for key in ("name", "kind", "task", "smiles_column", "data_hash", "created", "description"):
            if key in values and not isinstance(values[key], str):
                raise ValueError(f"the model card's {key!r} must be text")
        targets = values["target_columns"]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError("the model card's 'target_columns' must be a list of column names")
        values["target_columns"] = tuple(targets)
        for key in ("split", "metrics", "versions"):
            if key in values and not isinstance(values[key], dict):
                raise ValueError(f"the model card's {key!r} must be an object")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls.from_dict(json.loads(text))


def _is_required(f: Field) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


@dataclass(slots=True, frozen=True)
class ModelEntry:
    """A folder in the registry: its card, or the reason it cannot be used (``card`` is None)."""

    path: Path
    card: ModelCard | None
    error: str | None = None


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a model (read from metadata: imports nothing)."""
    versions = {}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC, as cards record ``created``."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def registry_dir() -> Path:
    """``core.paths.data_dir() / "models"`` (not created until a model is saved)."""
    return paths.data_dir() / "models"


def safe_model_name(text: str) -> str:
    """A folder-safe name from free text: letters, digits, ``.``, ``_`` and ``-`` only.

    >>> safe_model_name("hERG / scaffold split #2")
    'hERG_scaffold_split_2'
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._-")[:100]
    if not name:
        raise ValueError(f"cannot make a model name from {text!r}")
    return name


def model_dir(name: str) -> Path:
    """The folder of model ``name`` in the registry.

    Raises ``ValueError`` for a name that is not a plain folder name (letters, digits, ``.``, ``_``,
    ``-``; starting with a letter or digit; at most 100 characters): this keeps ``../x`` or
    ``/etc`` from pointing outside the registry. See :func:`safe_model_name`.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name in {".", ".."}:
        raise ValueError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 100 characters)"
        )
    root = registry_dir().resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise ValueError(f"model name {name!r} points outside the registry {root}")
    return folder


def save_card(directory: str | os.PathLike, card: ModelCard) -> Path:
    """Write ``card.json`` into ``directory`` (created if needed), atomically; return its path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    from core.fileio import write_text_atomic

    return write_text_atomic(folder / CARD_FILE, card.to_json())


def model_file(directory: str | os.PathLike, name: object, what: str = "weights") -> Path:
    """``directory / name``, once ``name`` is shown to be a file name inside the folder.

    A card or config may name any path; a plain name that resolves (symbolic links followed)
    inside the folder is the only one accepted, so a model folder cannot load another model's
    weights or any other file.

    Raises
    ------
    ValueError
        When ``name`` is not text, holds a folder separator, is absolute, or leads out of the
        folder; the message names the folder and the field.
    """
    folder = Path(directory)
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or Path(name).is_absolute()
    ):
        raise ValueError(
            f"model folder {folder}: the {what} file {name!r} is not a file name inside the "
            "folder; refusing to load it"
        )
    root = folder.resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise ValueError(
            f"model folder {folder}: the {what} file {name!r} leads out of the folder (to "
            f"{target}); refusing to load it"
        )
    return folder / name


def read_model_json(directory: str | os.PathLike, name: str) -> Any:
    """The JSON in ``directory / name`` (a card, config or metadata file), read with limits.

    Raises
    ------
    ValueError
        When the file is missing, leads out of the folder, is larger than
        :data:`MAX_JSON_BYTES`, is not UTF-8 JSON or is nested too deeply; the message names the
        folder and the file.
    """
    folder = Path(directory)
    path = model_file(folder, name, "JSON")
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ValueError(
                f"model folder {folder}: {name} is {size:,} bytes, more than the "
                f"{MAX_JSON_BYTES:,} a model's JSON file may be"
            )
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError(f"model folder {folder}: {name} is JSON nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model folder {folder}: {name} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise ValueError(f"model folder {folder}: cannot read {name} ({exc.strerror})") from None


def load_card(directory: str | os.PathLike, check_weights: bool = True) -> ModelCard:
    """Read ``card.json`` from a model folder and check that the kind's weight files are there.

    Raises
    ------
    ValueError
        No card, bad JSON, missing keys, or missing weight files; the message names the folder.
    """
    folder = Path(directory)
    path = folder / CARD_FILE
    if not path.is_file():
        raise ValueError(f"model folder {folder}: no {CARD_FILE}")
    data = read_model_json(folder, CARD_FILE)
    try:
        card = ModelCard.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"model folder {folder}: {exc}") from None
    if check_weights:
        # The kind's files and those the card lists (an ensemble's members) must all lie inside.
        listed = data.get("weights", [])
        if not isinstance(listed, list):
            raise ValueError(f"model folder {folder}: the card's 'weights' must be a list of files")
        paths = {f: model_file(folder, f) for f in [*MODEL_KINDS.get(card.kind, ()), *listed]}
        missing = [f for f, file in paths.items() if not file.is_file()]
        if missing:
            raise ValueError(
                f"model folder {folder}: weights missing for a {card.kind} model: {', '.join(missing)}"
            )
    return card


def _entries(root: Path) -> list[ModelEntry]:
    if not root.is_dir():
        return []
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            entries.append(ModelEntry(folder, load_card(folder)))
        except ValueError as exc:
            entries.append(ModelEntry(folder, None, str(exc)))
    return entries


def list_models() -> list[ModelEntry]:
    """Every folder in the user's registry, sorted by name; broken ones carry ``error``."""
    return _entries(registry_dir())


def shipped_models() -> list[ModelEntry]:
    """The models shipped with DrugDesk (``resources/models/*``); empty when none are shipped."""
    from resources import resource_path

    return _entries(resource_path("models"))


def delete_model(name: str) -> Path:
    """Delete model ``name``'s folder from the user's registry and return the path it had.

    Refuses names outside the registry (see :func:`model_dir`), symbolic links, and folders that
    hold no ``card.json`` (so a stray folder is never mistaken for a model).
    """
    folder = model_dir(name)
    link = registry_dir() / name
    if link.is_symlink():
        raise ValueError(f"refusing to delete {link}: it is a symbolic link")
    if not folder.is_dir():
        raise ValueError(f"no model named {name!r} in {registry_dir()}")
    if not (folder / CARD_FILE).is_file():
        raise ValueError(f"refusing to delete {folder}: it holds no {CARD_FILE}")
    shutil.rmtree(folder)
    return folder
