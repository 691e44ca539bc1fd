"""Learn from new measurements: update a trained model with new rows without letting a held-out
molecule into training (issue 15, part 6).

:func:`update_model` (an engine job; ``drugdesk update``) reads the table the model was trained
on (refused unless its content hash is the card's), rebuilds the old split, and places each new
molecule:

- a molecule already in the old data (same InChIKey) changes nothing: it is counted and named,
  never merged silently into the old value;
- a new molecule whose Murcko scaffold is already in an old part joins that part, so no scaffold
  crosses parts and old held-out chemotypes stay held out;
- new molecules with new scaffolds are split 80/10/10 by the old split's splitter on the new
  rows alone (too few for that: all to train, with a note).

The fine-tuned model is then warm-started (``finetune(..., warm_start=True)``: each member starts
from its old weights, head included) on the new train part and stops early on the new valid
part; a D-MPNN beside it (``dmpnn/``) is warm-started the same way (``train_dmpnn(...,
warm_start=...)``: old weights, architecture and scalings, half the learning rates); the random
forest is refitted on the new train part; all are evaluated on the new valid and test parts, the
predictor is chosen again among them on the new valid part only (as ``train`` chooses: one family
or a weighted mix), and the folder gets what ``train`` writes (card, ``metrics.csv``,
``heldout_predictions.csv``, ``finetune_curve.csv``, the applicability domain, the calibration)
plus ``training_data.csv``: the molecules trained and evaluated on, with their part, which is the
"old table" for the next update.

Calibration (:mod:`core.models.calibration_store`) needs predictions of training molecules by
models that did not train on them. A warm-started member saw every old training molecule, so no
fold of the training part is out of fold for it: the out-of-fold predictions come from refits on
K-1 folds of the new training part (the forest refitted; for a classifier, also the transformer
fine-tuned from its pretrained model and the D-MPNN trained from scratch, for the chosen families
only), combined with the chosen weights. A regression whose chosen predictor is not the forest
alone is calibrated on the forest's out-of-fold residuals as a stated proxy, as ``train`` does
for a single model. With ``compare``, the transformer is also fine-tuned from
scratch (the old card's pretrained model and options) on the same split, and the report puts
both side by side: seconds and test metric.

:func:`plan_update` does the reading and placing alone (no torch), so that a command can show
what was read before training starts.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress
from core.models.datasets import AssayDataset, assay_columns, load_assay_table
from core.models.splits import SPLITTERS, Split, murcko_scaffold, stratified_split
from core.models.training import (
    DEFAULT_PRETRAINED,
    SPLIT_FRACTIONS,
    TrainReport,
    make_split,
)

TRAINING_DATA_FILE = "training_data.csv"
"""The molecules an updated model was trained and evaluated on, with their part (``part``)."""
PART_COLUMN = "part"
ORIGIN_COLUMN = "origin"
UPDATED_SPLIT = "updated"
"""The card's split kind of an updated model: parts come from its ``training_data.csv``."""
PARTS = ("train", "valid", "test")
WARM_MODEL = "transformer"
SCRATCH_MODEL = "transformer_scratch"
DMPNN_MODEL = "dmpnn"
DMPNN_SCRATCH_MODEL = "dmpnn_scratch"
MIN_WARM_EPOCHS = 3
CALIBRATION_FOLDS = 3
"""Refits (each on K-1 folds of the training part) that calibrate an updated classifier."""


@dataclass(slots=True, frozen=True)
class UpdateReading:
    """What was read and where the new molecules went (counts for a person to check)."""

    model: str
    old_molecules: int
    old_split: dict[str, int]
    new_rows: int
    """Records in the new table."""
    new_dropped: int
    """New rows the reader left out (unparsable SMILES, no exact value; see the notes)."""
    already_known: int
    """New molecules already in the old data: not used (the old value stays)."""
    known_examples: tuple[str, ...]
    """A few of them, ``SMILES (new value vs old value)``."""
    joined: dict[str, int]
    """New molecules that joined an old part because their scaffold is in it."""
    new_scaffold: dict[str, int]
    """New molecules with scaffolds the old data lacks, by the part the split gave them."""
    notes: tuple[str, ...] = ()

    @property
    def added(self) -> int:
        return sum(self.joined.values()) + sum(self.new_scaffold.values())

    def text(self) -> str:
        """A few lines for a terminal or a dialog."""

        def parts(counts: dict[str, int]) -> str:
            return ", ".join(f"{p} {counts.get(p, 0)}" for p in PARTS)

        old_parts = parts(self.old_split)
        lines = [
            f"Old data: {self.old_molecules} molecules, as {self.model} was trained on them "
            f"({old_parts})",
            f"New table: {self.new_rows} rows read, {self.new_dropped} left out; "
            f"{self.added} new molecules added",
        ]
        if self.already_known:
            shown = ", ".join(self.known_examples)
            more = "…" if self.already_known > len(self.known_examples) else ""
            lines.append(
                f"  {self.already_known} already in the old data (same InChIKey): not used, the "
                f"old value stays: {shown}{more}"
            )
        lines.append(f"  joined the part of their scaffold: {parts(self.joined)}")
        lines.append(f"  new scaffolds, split 80/10/10: {parts(self.new_scaffold)}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "old_molecules": self.old_molecules,
            "old_split": dict(self.old_split),
            "new_rows": self.new_rows,
            "new_dropped": self.new_dropped,
            "already_known": self.already_known,
            "added": self.added,
            "joined": dict(self.joined),
            "new_scaffold": dict(self.new_scaffold),
        }


@dataclass(slots=True, frozen=True)
class UpdatePlan:
    """The old data with its split, the new molecules with their parts, and the old card.

    ``new`` holds only the molecules that are added (already known ones removed);
    ``new_parts[i]`` is the part of ``new.smiles[i]``.
    """

    model_dir: Path
    card: dict
    old: AssayDataset
    old_split: Split
    old_merged: bool
    """Whether the old table was read with replicates merged (the card's hash says which)."""
    new: AssayDataset
    new_parts: tuple[str, ...]
    reading: UpdateReading

    @property
    def split(self) -> Split:
        """The updated split over old rows then new rows (indices into the combined data)."""
        n_old = len(self.old)
        parts = {p: [np.asarray(getattr(self.old_split, p), dtype=np.int64)] for p in PARTS}
        for i, part in enumerate(self.new_parts):
            parts[part].append(np.array([n_old + i], dtype=np.int64))
        return Split(*(np.sort(np.concatenate(parts[p])) for p in PARTS))


@dataclass(slots=True)
class UpdateReport:
    """What :func:`update_model` did: the updated model's own report (``transformer`` is the
    warm-started model, ``rf_ecfp4`` the refitted forest), what was read, and the seconds (and,
    with ``compare``, the test metrics) of warm start and of training from scratch."""

    output_dir: Path
    report: TrainReport
    reading: UpdateReading
    seconds: dict[str, float]
    scratch_metrics: pd.DataFrame | None = None
    """Tidy metrics (as ``report.metrics``) of the transformer trained from scratch."""
    notes: list[str] = field(default_factory=list)

    def test_metrics(self) -> dict[str, dict[str, float | None]]:
        """``{model: {metric: value}}`` on the test part: warm start, forest, scratch."""
        frames = [self.report.metrics]
        if self.scratch_metrics is not None:
            frames.append(self.scratch_metrics)
        return _part_summary(pd.concat(frames, ignore_index=True), "test")

    def as_json(self) -> dict[str, Any]:
        """One object for a command's standard output."""
        test = self.test_metrics()
        return {
            "output": str(self.output_dir),
            "task": self.report.task,
            "metric": _main_metric(self.report.task),
            "warm_start": {"seconds": self.seconds.get("warm_start"), "test": test.get(WARM_MODEL)},
            "scratch": (
                {"seconds": self.seconds.get("scratch"), "test": test.get(SCRATCH_MODEL)}
                if self.scratch_metrics is not None
                else None
            ),
            "rf_ecfp4": {"test": test.get("rf_ecfp4")},
            "dmpnn": (
                {
                    "seconds": self.seconds.get("dmpnn_warm_start"),
                    "test": test.get(DMPNN_MODEL),
                    "scratch": (
                        {
                            "seconds": self.seconds.get("dmpnn_scratch"),
                            "test": test.get(DMPNN_SCRATCH_MODEL),
                        }
                        if DMPNN_SCRATCH_MODEL in test
                        else None
                    ),
                }
                if DMPNN_MODEL in test
                else None
            ),
            "chosen": {
                "predictor": self.report.choice.describe() if self.report.choice else None,
                "test": test.get("chosen"),
            },
            "split": self.report.split,
            "reading": self.reading.as_dict(),
            "notes": self.notes,
        }

    def summary_line(self) -> str:
        """``Updated NAME: test RMSE warm start 0.61 (41 s), from scratch 0.63 (95 s), RF 0.66``."""
        metric = _main_metric(self.report.task)
        title = "ROC-AUC" if metric == "roc_auc" else "RMSE"
        test = self.test_metrics()

        def value(model: str) -> str:
            number = (test.get(model) or {}).get(metric)
            return "–" if number is None else f"{number:.3f}"

        text = (
            f"Updated {self.output_dir.name} (+{self.reading.added} molecules): test {title} "
            f"warm start {value(WARM_MODEL)} ({self.seconds.get('warm_start', 0):.0f} s)"
        )
        if self.scratch_metrics is not None:
            text += (
                f", from scratch {value(SCRATCH_MODEL)} ({self.seconds.get('scratch', 0):.0f} s)"
            )
        if DMPNN_MODEL in test:
            text += (
                f", D-MPNN warm start {value(DMPNN_MODEL)} "
                f"({self.seconds.get('dmpnn_warm_start', 0):.0f} s)"
            )
            if DMPNN_SCRATCH_MODEL in test:
                text += (
                    f", from scratch {value(DMPNN_SCRATCH_MODEL)} "
                    f"({self.seconds.get('dmpnn_scratch', 0):.0f} s)"
                )
        if "rf_ecfp4" in test:
            text += f", random forest {value('rf_ecfp4')}"
        if self.report.choice is not None:
            text += f"; predicts with {self.report.choice.describe()}"
            if "chosen" in test:
                text += f" ({value('chosen')})"
        return text


def _main_metric(task: str) -> str:
    return "roc_auc" if task == "classification" else "rmse"


def _part_summary(metrics: pd.DataFrame, part: str) -> dict[str, dict[str, float | None]]:
    rows = metrics[(metrics["part"] == part) & (metrics["target"] == "mean")]
    if rows.empty:
        rows = metrics[metrics["part"] == part]
    return {
        model: {
            r.metric: None if r.value is None or not math.isfinite(r.value) else float(r.value)
            for r in group.itertuples()
        }
        for model, group in rows.groupby("model", sort=False)
    }


# ----------------------------------------------------------------------------------------------
# Reading and placing


def _read_card(model_dir: Path) -> dict:
    from core.models.registry import read_model_json

    card = read_model_json(model_dir, "card.json")
    if not isinstance(card, dict):
        raise ValueError(f"{model_dir}: card.json is not a model card")
    if card.get("model_type") != "smiles-roberta-finetuned" or not card.get("target_names"):
        raise ValueError(
            f"{model_dir.name} is not a fine-tuned transformer model: only those can be updated"
        )
    return card


def _molecule_keys(smiles: tuple[str, ...] | list[str]) -> list[str]:
    # As the assay reader keys replicates: InChIKey, the canonical SMILES when InChI fails.
    keys = []
    for text in smiles:
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(text)
            key = Chem.MolToInchiKey(mol) if mol is not None else ""
        keys.append(key or f"smiles:{Chem.MolToSmiles(mol) if mol is not None else text}")
    return keys


def _split_sizes(split_info: Any) -> list[int] | None:
    sizes = split_info.get("sizes") if isinstance(split_info, dict) else None
    if isinstance(sizes, dict):
        sizes = [sizes.get(p) for p in PARTS]
    if isinstance(sizes, list) and len(sizes) == 3 and all(isinstance(s, int) for s in sizes):
        return sizes
    return None


def _origin_split(split_info: dict) -> tuple[str, int]:
    """The splitter kind and seed a split was made with (an updated model's: its origin's)."""
    kind = split_info.get("kind")
    seed = split_info.get("seed", 0)
    if kind == UPDATED_SPLIT:
        origin = split_info.get("from") or {}
        kind, seed = origin.get("kind"), origin.get("seed", seed)
    if not isinstance(seed, int):
        seed = 0
    return str(kind), seed


def _old_split(model_dir: Path, card: dict, old: AssayDataset) -> Split:
    """The split the model was trained with, rebuilt and checked against the card's sizes."""
    split_info = card.get("split") if isinstance(card.get("split"), dict) else {}
    kind = split_info.get("kind")
    if kind == UPDATED_SPLIT:
        # An updated model's parts are not a splitter's: they are stored beside it.
        path = model_dir / TRAINING_DATA_FILE
        try:
            parts = pd.read_csv(path, usecols=[PART_COLUMN], dtype=str)[PART_COLUMN].tolist()
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"{model_dir.name}: cannot read its parts from {path.name} ({exc})"
            ) from None
        if len(parts) != len(old) or not set(parts) <= set(PARTS):
            raise ValueError(
                f"{model_dir.name}: {path.name} does not list a part for each of its "
                f"{len(old)} molecules"
            )
        split = Split(*(np.flatnonzero(np.asarray(parts) == p).astype(np.int64) for p in PARTS))
    else:
        if kind not in SPLITTERS:
            raise ValueError(
                f"{model_dir.name}: its card does not say how it was split ({kind!r}), so the "
                "old held-out molecules cannot be kept held out"
            )
        seed = split_info.get("seed", 0)
        split = make_split(old, kind, seed if isinstance(seed, int) else 0)
    sizes = _split_sizes(split_info)
    rebuilt = [len(split.train), len(split.valid), len(split.test)]
    if sizes is not None and sizes != rebuilt:
        raise ValueError(
            f"the {kind} split of these data gives train/valid/test {rebuilt}, but "
            f"{model_dir.name} was trained with {sizes}"
        )
    return split


def _read_old(
    path: Path,
    smiles_column: str | None,
    target_columns: list[str],
    task: str,
    units: str,
    card: dict,
    model_name: str,
    is_cancelled: CancelCheck | None,
) -> tuple[AssayDataset, bool]:
    """The old table as the model saw it: replicates merged (today's reading) or not (tables
    hashed before merging existed), whichever gives the card's data hash."""
    expected = card.get("data_hash")
    for merged in (True, False):
        dataset = load_assay_table(
            path,
            smiles_column,
            target_columns,
            task,
            units=units,
            merge_replicates=merged,
            min_molecules=1,  # the hash decides whether these are the data
            is_cancelled=is_cancelled,
        )
        if dataset.data_hash == expected:
            return dataset, merged
    raise ValueError(
        f"these are not the data {model_name} was trained on: {path.name} read as "
        f"{len(dataset)} molecules gives another content hash than the model card's "
        "(the same molecules, values, target names and task are needed)"
    )


def _smiles_column_for(path: Path, wanted: str | None) -> str | None:
    """``wanted`` when the table has it, else ``None`` (the reader detects the column)."""
    if wanted is None:
        return None
    try:
        columns = assay_columns(path).columns
    except ValueError:
        return wanted  # the reader says what is wrong with the file
    return wanted if wanted in columns else None


def _place_new(
    old: AssayDataset,
    old_split: Split,
    new: AssayDataset,
    kind: str,
    seed: int,
) -> tuple[list[int], list[str], list[int], list[str], list[str]]:
    """Which new molecules are added and to which part.

    Returns ``(known, known_text, added, parts, notes)``: indices of new molecules already in
    the old data, each as ``SMILES (new value vs old)``, indices of those added and each one's
    part, and notes.
    """
    old_index = {key: i for i, key in enumerate(_molecule_keys(old.smiles))}
    old_keys = set(old_index)
    new_keys = _molecule_keys(new.smiles)
    known = [i for i, key in enumerate(new_keys) if key in old_keys]
    fresh = [i for i, key in enumerate(new_keys) if key not in old_keys]
    old_part = np.empty(len(old), dtype=object)
    for part in PARTS:
        old_part[getattr(old_split, part)] = part
    by_scaffold: dict[str, Counter] = {}
    for i, smiles in enumerate(old.smiles):
        by_scaffold.setdefault(murcko_scaffold(smiles) or "", Counter())[old_part[i]] += 1
    parts: dict[int, str] = {}
    unplaced: list[int] = []
    for i in fresh:
        counts = by_scaffold.get(murcko_scaffold(new.smiles[i]) or "")
        if counts is None:
            unplaced.append(i)
        else:
            # A scaffold split keeps a scaffold in one part; after a random split the part
            # holding most of that scaffold's molecules (ties: train, then valid).
            parts[i] = max(PARTS, key=lambda p: (counts[p], -PARTS.index(p)))
    notes = []
    if unplaced:
        smiles = [new.smiles[i] for i in unplaced]
        try:
            if kind == "stratified":
                split = stratified_split(new.targets[unplaced, 0], SPLIT_FRACTIONS, seed)
            else:
                split = SPLITTERS[kind](smiles, SPLIT_FRACTIONS, seed)
        except (KeyError, ValueError) as exc:
            split = None
            notes.append(
                f"the {len(unplaced)} molecules with new scaffolds all go to train: a {kind} "
                f"split of them alone is not possible ({exc})"
            )
        for part in PARTS:
            rows = (
                getattr(split, part)
                if split is not None
                else (np.arange(len(unplaced)) if part == "train" else [])
            )
            for r in rows:
                parts[unplaced[int(r)]] = part
    added = sorted(parts)
    # A replicate of an old molecule is shown with both values, for the chemist to judge.
    known_text = [
        f"{new.smiles[i]} ({_values_text(new.targets[i])} vs "
        f"{_values_text(old.targets[old_index[new_keys[i]]])})"
        for i in known
    ]
    return known, known_text, added, [parts[i] for i in added], notes


def _values_text(values: np.ndarray) -> str:
    return "/".join("–" if np.isnan(v) else f"{v:.3g}" for v in values)


def plan_update(
    model_dir: str | os.PathLike,
    old_table: str | os.PathLike,
    new_table: str | os.PathLike,
    *,
    smiles_column: str | None = None,
    target_columns: list[str] | tuple[str, ...] | None = None,
    units: str = "auto",
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> UpdatePlan:
    """Read both tables and place every new molecule (see the module docstring); no training.

    Parameters
    ----------
    model_dir
        A fine-tuned transformer model folder (``train``'s output, a shipped model, or an
        updated one).
    old_table
        The table the model was trained on (an updated model's ``training_data.csv``).
    new_table
        New measurements, in the same columns and units.
    smiles_column
        The SMILES column of both tables; ``None``: the card's (where a table has it), else
        detected.
    target_columns
        The measured columns; ``None``: the card's target names.
    units
        What bare numbers of a regression target are (``load_assay_table``'s ``units``), for
        both tables.

    Raises
    ------
    ValueError
        The folder is no fine-tuned model; the old table is not the data it was trained on
        (content hash) or its split no longer gives the card's sizes; the new table's targets
        differ; no new molecule is left to add.
    """
    model_dir = Path(model_dir)
    old_path, new_path = Path(old_table), Path(new_table)
    card = _read_card(model_dir)
    name = str(card.get("name") or model_dir.name)
    task = str(card.get("task"))
    targets = list(target_columns or card.get("target_columns") or card["target_names"])
    card_smiles = card.get("smiles_column")
    default_smiles = card_smiles if card_smiles and card_smiles != "(structure)" else None
    progress(-1.0, f"Reading {old_path.name}")
    old, merged = _read_old(
        old_path,
        smiles_column or _smiles_column_for(old_path, default_smiles),
        targets,
        task,
        units,
        card,
        name,
        is_cancelled,
    )
    old_split = _old_split(model_dir, card, old)
    check_cancelled(is_cancelled)
    progress(-1.0, f"Reading {new_path.name}")
    # New rows are read as any table is today: replicates of a new molecule merged.
    new = load_assay_table(
        new_path,
        smiles_column or _smiles_column_for(new_path, default_smiles),
        targets,
        task,
        units=units,
        min_molecules=1,
        is_cancelled=is_cancelled,
    )
    if tuple(new.target_names) != tuple(old.target_names):
        raise ValueError(
            f"{new_path.name} reads as targets {list(new.target_names)}, the model predicts "
            f"{list(old.target_names)}: give the values in the same columns and units"
        )
    kind, seed = _origin_split(card.get("split") or {})
    known, known_text, added, parts, notes = _place_new(old, old_split, new, kind, seed)
    if not added:
        raise ValueError(
            f"{new_path.name} adds nothing: all its {len(new)} molecules are already in the old "
            "data (their old values stay)"
        )
    new_added = _subset(new, added)
    joined = Counter()
    fresh = Counter()
    # A new molecule "joined" when its scaffold was already in the old data.
    old_scaffolds = {murcko_scaffold(s) or "" for s in old.smiles}
    for smiles, part in zip(new_added.smiles, parts, strict=True):
        (joined if (murcko_scaffold(smiles) or "") in old_scaffolds else fresh)[part] += 1
    record = new.record
    reading = UpdateReading(
        model=name,
        old_molecules=len(old),
        old_split={p: len(getattr(old_split, p)) for p in PARTS},
        new_rows=record.rows_read if record is not None else len(new) + len(new.dropped),
        new_dropped=len(new.dropped),
        already_known=len(known),
        known_examples=tuple(known_text[:5]),
        joined={p: joined[p] for p in PARTS},
        new_scaffold={p: fresh[p] for p in PARTS},
        notes=tuple([*notes, *new.notes]),
    )
    return UpdatePlan(model_dir, card, old, old_split, merged, new_added, tuple(parts), reading)


def _subset(dataset: AssayDataset, rows: list[int]) -> AssayDataset:
    return replace(
        dataset,
        smiles=tuple(dataset.smiles[i] for i in rows),
        targets=dataset.targets[rows],
        rows=tuple(dataset.rows[i] for i in rows),
    )


# ----------------------------------------------------------------------------------------------
# Training


def _combined_dataset(
    plan: UpdatePlan, output_dir: Path, is_cancelled: CancelCheck | None
) -> AssayDataset:
    """Write the old and the added molecules, with their parts, to ``training_data.csv`` and
    read it back with the assay reader: what the updated model is trained on is exactly what a
    later update reads as its old table (same content hash)."""
    old, new = plan.old, plan.new
    smiles_header = "smiles" if "smiles" not in old.target_names else "structure_smiles"
    split = plan.split
    parts = np.empty(len(old) + len(new), dtype=object)
    for part in PARTS:
        parts[getattr(split, part)] = part
    frame = pd.DataFrame({smiles_header: [*old.smiles, *new.smiles]})
    values = np.vstack([old.targets, new.targets])
    for t, target in enumerate(old.target_names):
        frame[target] = values[:, t]
    frame[PART_COLUMN] = parts
    frame[ORIGIN_COLUMN] = ["old"] * len(old) + ["new"] * len(new)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / TRAINING_DATA_FILE
    from core.fileio import atomic_output

    with atomic_output(path, "w", encoding="utf-8", newline="") as handle:
        # 17 significant digits: the values read back are the values trained on, bit for bit.
        frame.to_csv(handle, index=False, float_format="%.17g")
    combined = load_assay_table(
        path,
        smiles_header,
        list(old.target_names),
        old.task,
        merge_replicates=plan.old_merged,
        is_cancelled=is_cancelled,
    )
    same = len(combined) == len(frame) and np.allclose(
        combined.targets, values, equal_nan=True, rtol=0, atol=0
    )
    if not same or tuple(combined.target_names) != tuple(old.target_names):
        raise ValueError(
            f"{path}: the combined data do not read back as written "
            f"({len(combined)} of {len(frame)} molecules)"
        )
    return combined


def _options_from_card(card: dict, **changes: Any) -> Any:
    from dataclasses import fields

    from core.models.transformer import FinetuneOptions

    saved = card.get("options") if isinstance(card.get("options"), dict) else {}
    known = {f.name for f in fields(FinetuneOptions)}
    values = {k: v for k, v in saved.items() if k in known}
    values.update(changes)
    return FinetuneOptions(**values)


def pretrained_dir_of(card: dict) -> Path:
    """The pretrained model a fine-tuned card names (``pretrained``): the shipped one, or a
    model of that name in the registry."""
    from core.models.registry import model_dir
    from resources import resource_path

    name = str(card.get("pretrained") or "")
    shipped = resource_path(DEFAULT_PRETRAINED)
    if not name or name == shipped.name:
        return shipped
    try:
        folder = model_dir(name)
    except ValueError:
        folder = None
    if folder is None or not (folder / "card.json").is_file():
        raise ValueError(
            f"the pretrained model {name!r} that {card.get('name')!r} was fine-tuned from is "
            "not installed: it is needed to train from scratch (to compare, or to calibrate)"
        )
    return folder


def update_model(
    model_dir: str | os.PathLike,
    old_table: str | os.PathLike,
    new_table: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    smiles_column: str | None = None,
    target_columns: list[str] | tuple[str, ...] | None = None,
    units: str = "auto",
    epochs: int | None = None,
    learning_rate: float | None = None,
    compare: bool = False,
    n_trees: int = 500,
    pretrained_dir: str | os.PathLike | None = None,
    calibration_folds: int = CALIBRATION_FOLDS,
    plan: UpdatePlan | None = None,
    device: str | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> UpdateReport:
    """Update a fine-tuned model with new measurements (engine job; ``drugdesk update``).

    Parameters
    ----------
    model_dir, old_table, new_table, smiles_column, target_columns, units
        As :func:`plan_update` (skipped when ``plan`` is given: a command that showed the
        plan first passes it).
    output_dir
        The updated model's folder (not ``model_dir``: the old model stays as it was).
    epochs
        Most epochs of the warm start (transformer and D-MPNN); default: the old members'
        latest best epoch (at least 3). Early stopping on the new valid part keeps the best.
    learning_rate
        Peak learning rate of the transformer's warm start; default: half the old one (the
        D-MPNN's learning rates are always half its old ones).
    compare
        Also fine-tune from scratch (the old card's pretrained model and options) on the same
        split, for the report only (not saved).
    n_trees
        Trees of the refitted random forest.
    pretrained_dir
        The pretrained model for ``compare`` and the calibration refits (default: the one the
        old card names).
    calibration_folds
        K of a classifier's calibration refits (module docstring); 0: no refits of the
        transformer or D-MPNN (a classifier is then calibrated only when the forest alone
        predicts). At least 2 otherwise.
    device, progress, is_cancelled
        torch device and job callbacks. A cancel raises ``JobCancelled``; a folder this call
        created is removed then (and on any failure).

    Returns
    -------
    UpdateReport
    """
    output_dir = Path(output_dir)
    model_dir = Path(model_dir)
    if output_dir.resolve() == model_dir.resolve():
        raise ValueError(f"{output_dir}: write the updated model to a new folder, not over the old")
    if calibration_folds == 1 or calibration_folds < 0:
        raise ValueError(f"calibration_folds must be 0 or at least 2, not {calibration_folds}")
    existed = output_dir.exists()
    try:
        return _update(
            model_dir, old_table, new_table, output_dir, smiles_column, target_columns, units,
            epochs, learning_rate, compare, n_trees, pretrained_dir, calibration_folds, plan,
            device, progress, is_cancelled,
        )  # fmt: skip
    except BaseException:
        if not existed and output_dir.exists():
            shutil.rmtree(output_dir, ignore_errors=True)
        raise


def _update(
    model_dir: Path,
    old_table: str | os.PathLike,
    new_table: str | os.PathLike,
    output_dir: Path,
    smiles_column: str | None,
    target_columns: list[str] | tuple[str, ...] | None,
    units: str,
    epochs: int | None,
    learning_rate: float | None,
    compare: bool,
    n_trees: int,
    pretrained_dir: str | os.PathLike | None,
    calibration_folds: int,
    plan: UpdatePlan | None,
    device: str | None,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> UpdateReport:
    from core.models.transformer import finetune, load_model

    if plan is None:
        plan = plan_update(
            model_dir,
            old_table,
            new_table,
            smiles_column=smiles_column,
            target_columns=target_columns,
            units=units,
            progress=progress,
            is_cancelled=is_cancelled,
        )
    card = plan.card
    dataset = _combined_dataset(plan, output_dir, is_cancelled)
    split = plan.split
    smiles = list(dataset.smiles)
    old_options = card.get("options") if isinstance(card.get("options"), dict) else {}
    old_epochs = [e for e in card.get("best_epochs") or [] if isinstance(e, int)]
    warm_epochs = epochs or max([MIN_WARM_EPOCHS, *old_epochs])
    warm_lr = learning_rate or float(old_options.get("learning_rate", 2e-4)) / 2
    if warm_epochs < 1 or not warm_lr > 0:
        raise ValueError("epochs must be at least 1 and the learning rate more than 0")
    options = _options_from_card(card, epochs=warm_epochs, learning_rate=warm_lr)
    seed = options.seed
    kind, origin_seed = _origin_split(card.get("split") or {})
    split_info = {
        "kind": UPDATED_SPLIT,
        "seed": origin_seed,
        "from": {"kind": kind, "seed": origin_seed, "model": plan.reading.model},
        "parts_file": TRAINING_DATA_FILE,
        "sizes": [len(split.train), len(split.valid), len(split.test)],
    }
    curve: list[tuple[int, int, float, float]] = []

    def stage(start: float, end: float) -> ProgressCallback:
        return lambda f, m="": progress(start + (end - start) * max(0.0, f), m)

    old_dmpnn = _old_dmpnn(model_dir)
    warm_end = (0.45 if compare else 0.75) - (0.15 if old_dmpnn is not None else 0.0)
    progress(0.0, f"Warm start from {plan.reading.model}: {len(smiles)} molecules")
    started = time.monotonic()
    old_model = load_model(model_dir, "cpu")
    result = finetune(
        old_model,
        smiles,
        dataset.targets,
        dataset.task,
        split.train,
        split.valid,
        options,
        target_names=list(dataset.target_names),
        output_dir=output_dir,
        split=split_info,
        smiles_column=dataset.smiles_column,
        data_hash=dataset.data_hash,
        name=output_dir.name,
        device=device,
        on_epoch=lambda m, e, loss, metric: curve.append((m, e, loss, metric)),
        warm_start=True,
        progress=stage(0.0, warm_end),
        is_cancelled=is_cancelled,
    )
    seconds = {"warm_start": round(time.monotonic() - started, 1)}
    del old_model
    frames, predicted, warm_parts = _evaluate_transformer(
        dataset, split, result.model, WARM_MODEL, device
    )
    notes: list[str] = []
    family_predictions = {part: {"transformer": warm_parts[part]} for part in PARTS[1:]}
    members = {"transformer": len(result.model.members)}
    dmpnn_end = warm_end + (0.15 if old_dmpnn is not None else 0.0)
    if old_dmpnn is not None:
        check_cancelled(is_cancelled)
        started = time.monotonic()
        try:
            dmpnn = _warm_start_dmpnn(
                old_dmpnn, output_dir, dataset, split, split_info, epochs, seed, device,
                stage(warm_end, dmpnn_end), is_cancelled,
            )  # fmt: skip
        except ValueError as exc:
            # The old D-MPNN cannot be continued (unreadable, or refused these data): the other
            # families still stand, and the report says why this one is missing.
            notes.append(f"No D-MPNN: {exc}.")
        else:
            seconds["dmpnn_warm_start"] = round(time.monotonic() - started, 1)
            dmpnn_frames, dmpnn_predicted, dmpnn_parts, members["dmpnn"] = dmpnn
            frames += dmpnn_frames
            predicted += dmpnn_predicted
            for part in PARTS[1:]:
                family_predictions[part]["dmpnn"] = dmpnn_parts[part]
    scratch_metrics = None
    if compare:
        check_cancelled(is_cancelled)
        started = time.monotonic()
        scratch = finetune(
            pretrained_dir or pretrained_dir_of(card),
            smiles,
            dataset.targets,
            dataset.task,
            split.train,
            split.valid,
            _options_from_card(card),
            target_names=list(dataset.target_names),
            device=device,
            progress=stage(dmpnn_end, 0.8),
            is_cancelled=is_cancelled,
        )
        seconds["scratch"] = round(time.monotonic() - started, 1)
        scratch_frames, _, _ = _evaluate_transformer(
            dataset, split, scratch.model, SCRATCH_MODEL, device
        )
        if "dmpnn" in members:
            # The D-MPNN too: trained from scratch as the old one was, on the same split.
            check_cancelled(is_cancelled)
            started = time.monotonic()
            scratch_frames += _scratch_dmpnn(old_dmpnn, dataset, split, seed, device, is_cancelled)
            seconds["dmpnn_scratch"] = round(time.monotonic() - started, 1)
        scratch_metrics = _with_means(pd.concat(scratch_frames, ignore_index=True))
    check_cancelled(is_cancelled)
    forest_frames, forest_predicted, forest_parts = _refit_forest(
        output_dir, dataset, split, n_trees, seed, stage(0.8, 0.93), is_cancelled
    )
    frames += forest_frames
    predicted += forest_predicted
    # The predictor is chosen again on the new valid part, as train chooses: the warm-started
    # transformer and D-MPNN, the refitted forest, or a weighted mix.
    for part in PARTS[1:]:
        family_predictions[part]["rf"] = forest_parts[part]
    choice = _choose_again(dataset, split, family_predictions, frames, predicted)
    refits = _Refits(
        calibration_folds,
        pretrained_dir,
        card,
        old_dmpnn,
        members,
        device,
    )
    return _finish(
        plan,
        output_dir,
        dataset,
        split,
        split_info,
        frames,
        predicted,
        curve,
        seconds,
        scratch_metrics,
        choice,
        n_trees,
        seed,
        refits,
        notes,
        stage(0.93, 0.99),
        is_cancelled,
        progress,
    )


def _old_dmpnn(model_dir: Path) -> Path | None:
    """The old model's D-MPNN folder, when it has one."""
    from core.models.families import FAMILY_FOLDERS

    folder = model_dir / FAMILY_FOLDERS["dmpnn"]
    return folder if (folder / "card.json").is_file() else None


def _dmpnn_options(old_card: dict, **changes: Any) -> Any:
    from dataclasses import fields

    from core.models.dmpnn import DmpnnOptions

    saved = old_card.get("options") if isinstance(old_card.get("options"), dict) else {}
    known = {f.name: f.type for f in fields(DmpnnOptions)}
    values = {
        k: v for k, v in saved.items() if k in known and isinstance(v, int | float | str | bool)
    }
    try:
        options = DmpnnOptions(**values)
    except TypeError:
        options = DmpnnOptions()
    return replace(options, **changes)


def _like_old_dmpnn(old_folder: Path) -> tuple[dict, Any, bool, int]:
    """The old D-MPNN's card, options, descriptor choice and most epochs: how to train one
    from scratch as it was trained."""
    from core.models.registry import read_model_json

    old_card = read_model_json(old_folder, "card.json")
    if not isinstance(old_card, dict):
        raise ValueError(f"{old_folder}: card.json is not a model card")
    epochs = old_card.get("epochs")
    epochs = (
        epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else 50
    )
    return old_card, _dmpnn_options(old_card), bool(old_card.get("descriptors")), epochs


def _scratch_dmpnn(
    old_folder: Path,
    dataset: AssayDataset,
    split: Split,
    seed: int,
    device: str | None,
    is_cancelled: CancelCheck | None,
) -> list[pd.DataFrame]:
    """Metric frames (valid, test) of a D-MPNN trained from scratch as the old one was, on the
    updated split (for the report only: not saved)."""
    import tempfile

    from core.models.dmpnn import predict_dmpnn, train_dmpnn
    from core.models.metrics import evaluate

    old_card, options, descriptors, epochs = _like_old_dmpnn(old_folder)
    smiles = np.asarray(dataset.smiles, dtype=object)
    frames = []
    with tempfile.TemporaryDirectory(prefix="drugdesk-dmpnn-scratch-") as scratch:
        folder = Path(scratch) / "dmpnn"
        train_dmpnn(
            list(smiles[split.train]),
            dataset.targets[split.train],
            list(smiles[split.valid]),
            dataset.targets[split.valid],
            dataset.task,
            output_dir=folder,
            descriptors=descriptors,
            epochs=epochs,
            seed=seed,
            options=replace(options, n_models=len(old_card.get("weights") or []) or 1),
            target_names=list(dataset.target_names),
            device=device,
            is_cancelled=is_cancelled,
        )
        for part in ("valid", "test"):
            rows = getattr(split, part)
            mean = predict_dmpnn(
                folder, list(smiles[rows]), device=device or "cpu", is_cancelled=is_cancelled
            ).mean
            frame = evaluate(
                dataset.targets[rows], mean, dataset.task, dataset.target_names,
                DMPNN_SCRATCH_MODEL,
            )  # fmt: skip
            frames.append(frame.assign(part=part))
    return frames


def _warm_start_dmpnn(
    old_folder: Path,
    output_dir: Path,
    dataset: AssayDataset,
    split: Split,
    split_info: dict,
    epochs: int | None,
    seed: int,
    device: str | None,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict[str, tuple], int]:
    """Continue the old D-MPNN from its saved weights on the new train part (early stopping on
    the new valid part) into ``<output_dir>/dmpnn/``, with half its learning rates and as many
    members; evaluate it on the new valid and test parts. Returns metric frames, tidy
    predictions, ``{part: (mean, std or None)}`` and the member count."""
    from core.models.dmpnn import predict_dmpnn, train_dmpnn
    from core.models.families import FAMILY_FOLDERS
    from core.models.metrics import evaluate
    from core.models.registry import read_model_json
    from core.models.training import _tidy_predictions

    old_card = read_model_json(old_folder, "card.json")
    if not isinstance(old_card, dict):
        raise ValueError(f"{old_folder}: card.json is not a model card")
    old_options = _dmpnn_options(old_card)
    n_members = len(old_card.get("weights") or []) or 1
    old_epochs = [e for e in old_card.get("best_epochs") or [] if isinstance(e, int)]
    options = _dmpnn_options(
        old_card,
        n_models=n_members,
        init_lr=old_options.init_lr / 2,
        max_lr=old_options.max_lr / 2,
        final_lr=old_options.final_lr / 2,
    )
    smiles = np.asarray(dataset.smiles, dtype=object)
    folder = output_dir / FAMILY_FOLDERS["dmpnn"]
    train_dmpnn(
        list(smiles[split.train]),
        dataset.targets[split.train],
        list(smiles[split.valid]),
        dataset.targets[split.valid],
        dataset.task,
        output_dir=folder,
        epochs=epochs or max([MIN_WARM_EPOCHS, *old_epochs]),
        seed=seed,
        options=options,
        target_names=list(dataset.target_names),
        smiles_column=dataset.smiles_column,
        split=split_info,
        name=f"{output_dir.name}-dmpnn",
        data_hash=dataset.data_hash,
        device=device,
        warm_start=old_folder,
        progress=lambda f, m="": progress(0.9 * f if f >= 0 else f, m),
        is_cancelled=is_cancelled,
    )
    frames, predicted, by_part = [], [], {}
    for part in ("valid", "test"):
        rows = getattr(split, part)
        prediction = predict_dmpnn(
            folder, list(smiles[rows]), device=device or "cpu", is_cancelled=is_cancelled
        )
        by_part[part] = (prediction.mean, prediction.std if n_members > 1 else None)
        predicted.append(
            _tidy_predictions(dataset, part, rows, DMPNN_MODEL, prediction.mean, prediction.std)
        )
        frame = evaluate(
            dataset.targets[rows], prediction.mean, dataset.task, dataset.target_names, DMPNN_MODEL
        )
        frames.append(frame.assign(part=part))
    progress(1.0, "D-MPNN warm-started")
    return frames, predicted, by_part, n_members


def _evaluate_transformer(
    dataset: AssayDataset, split: Split, model: Any, name: str, device: str | None
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict[str, tuple]]:
    from core.models.metrics import evaluate
    from core.models.training import _tidy_predictions
    from core.models.transformer import predict

    frames, predicted, by_part = [], [], {}
    smiles = np.asarray(dataset.smiles, dtype=object)
    for part in ("valid", "test"):
        rows = getattr(split, part)
        prediction = predict(model, list(smiles[rows]), device=device)
        spread = prediction.std if len(model.members) > 1 else None
        by_part[part] = (prediction.mean, spread)
        predicted.append(
            _tidy_predictions(dataset, part, rows, name, prediction.mean, prediction.std)
        )
        frame = evaluate(
            dataset.targets[rows], prediction.mean, dataset.task, dataset.target_names, name
        )
        frames.append(frame.assign(part=part))
    return frames, predicted, by_part


def _refit_forest(
    output_dir: Path,
    dataset: AssayDataset,
    split: Split,
    n_trees: int,
    seed: int,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict[str, tuple]]:
    from core.models.baselines import fit_baseline, predict_baseline, save_baseline
    from core.models.metrics import evaluate
    from core.models.training import _tidy_predictions

    smiles = np.asarray(dataset.smiles, dtype=object)
    forest = fit_baseline(
        list(smiles[split.train]),
        dataset.targets[split.train],
        dataset.task,
        target_names=list(dataset.target_names),
        n_trees=n_trees,
        class_weight="balanced" if dataset.task == "classification" else None,
        seed=seed,
        progress=progress,
        is_cancelled=is_cancelled,
    )
    save_baseline(forest, output_dir / "baseline")
    frames, predicted, by_part = [], [], {}
    for part in ("valid", "test"):
        rows = getattr(split, part)
        prediction = predict_baseline(forest, list(smiles[rows]))
        by_part[part] = (prediction.mean, prediction.std)
        predicted.append(
            _tidy_predictions(dataset, part, rows, "rf_ecfp4", prediction.mean, prediction.std)
        )
        frame = evaluate(
            dataset.targets[rows], prediction.mean, dataset.task, dataset.target_names, "rf_ecfp4"
        )
        frames.append(frame.assign(part=part))
    return frames, predicted, by_part


def _choose_again(
    dataset: AssayDataset,
    split: Split,
    family_predictions: dict[str, dict[str, tuple]],
    frames: list[pd.DataFrame],
    predicted: list[pd.DataFrame],
) -> Any:
    """``train``'s choice among the families on the valid part only; the chosen predictor's
    metrics and predictions are added to ``frames`` and ``predicted``."""
    from core.models.metrics import evaluate
    from core.models.training import _choose

    choice, chosen_frames = _choose(dataset, split, family_predictions, evaluate)
    for part, (prediction_rows, metric_rows) in chosen_frames.items():
        predicted.append(prediction_rows)
        frames.append(metric_rows.assign(part=part))
    return choice


def _with_means(metrics: pd.DataFrame) -> pd.DataFrame:
    from core.models.training import _with_target_means

    return _with_target_means(metrics)


@dataclass(slots=True, frozen=True)
class _Refits:
    """What the calibration refits of an update need."""

    folds: int
    """K (0: no refits of the transformer or D-MPNN)."""
    pretrained_dir: str | os.PathLike | None
    card: dict
    """The old model's card (its pretrained model and fine-tuning options)."""
    old_dmpnn: Path | None
    members: dict[str, int]
    """Members of each updated network family (whether its spread is out of fold)."""
    device: str | None


_REFIT_METHOD = (
    "out-of-fold predictions of the chosen predictor ({predictor}) on the training part: "
    "{how}, each on {k}-1 of {k} folds, predicting the fold left out (the warm-started members "
    "saw every old training molecule, so none of them is out of fold)"
)
_REFIT_HOW = {
    "transformer": "the transformer fine-tuned from its pretrained model",
    "dmpnn": "the D-MPNN trained from scratch",
    "rf": "the forest refitted",
}


def _calibrate(
    output_dir: Path,
    dataset: AssayDataset,
    split: Split,
    split_info: dict,
    predictions: pd.DataFrame,
    n_trees: int,
    seed: int,
    choice: Any,
    refits: _Refits,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> tuple[dict | None, str]:
    """Calibrate the updated model's chosen predictor on out-of-fold predictions of the new
    training part (module docstring): ``(summary or None, note when None)``.

    A forest alone: its refits on K-1 folds (intervals scaled by its trees' spread). Another
    regression: the forest's out-of-fold residuals as a proxy, as ``train`` does for a single
    model. A classifier: refits of each chosen family (the transformer from its pretrained
    model, the D-MPNN from scratch), combined with the chosen weights."""
    from core.models.calibration_store import DEFAULT_FOLDS, assign_folds
    from core.models.training import TrainSettings, _store_calibration

    kind = str(split_info.get("from", {}).get("kind") or "scaffold")
    by_scaffold = kind.startswith("scaffold")
    smiles = np.asarray(dataset.smiles, dtype=object)
    settings = TrainSettings(split=kind, seed=seed, n_trees=n_trees)
    forest_only = set(choice.families) <= {"rf"}
    deep = dataset.task == "classification" and not forest_only
    if deep and refits.folds < 2:
        return None, (
            f"No calibration: the chosen predictor ({choice.describe()}) has no out-of-fold "
            "probabilities (its members saw every old training molecule) and calibration "
            "refits were turned off."
        )
    try:
        folds = assign_folds(
            smiles[split.train],
            refits.folds if deep else DEFAULT_FOLDS,
            by_scaffold=by_scaffold,
            seed=seed,
        )
    except ValueError as exc:
        return None, f"No calibration: {exc}."
    common = (output_dir, dataset, split, folds)
    if not deep:
        source = "chosen_oof" if forest_only else "rf_proxy"
        summary = _store_calibration(
            *common, source, None, settings, predictions, refits.device, is_cancelled,
            choice=choice, members=refits.members,
        )  # fmt: skip
        return summary, ""
    given: dict[str, tuple[np.ndarray, None]] = {}
    k = int(folds.max()) + 1
    try:
        for family in choice.families:
            check_cancelled(is_cancelled)
            if family == "transformer":
                given[family] = (
                    _transformer_refits(dataset, split, folds, refits, progress, is_cancelled),
                    None,
                )
            elif family == "dmpnn":
                given[family] = (
                    _dmpnn_refits(dataset, split, folds, refits, seed, is_cancelled),
                    None,
                )
    except ValueError as exc:
        # E.g. the pretrained model is not installed here: the updated model stands without.
        return None, f"No calibration: {exc}."
    method = _REFIT_METHOD.format(
        predictor=choice.describe(),
        how=", ".join(_REFIT_HOW[f] for f in choice.families),
        k=k,
    )
    summary = _store_calibration(
        *common, "chosen_oof", None, settings, predictions, refits.device, is_cancelled,
        choice=choice, members=refits.members, given=given, method=method,
    )  # fmt: skip
    return summary, ""


def _transformer_refits(
    dataset: AssayDataset,
    split: Split,
    folds: np.ndarray,
    refits: _Refits,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> np.ndarray:
    """Out-of-fold probabilities of the training part from K transformers fine-tuned from the
    old card's pretrained model (its options), member k on every fold but k."""
    from core.models.transformer import LoadedModel, finetune, predict

    train = np.asarray(split.train, dtype=np.int64)
    k = int(folds.max()) + 1
    smiles = list(dataset.smiles)
    model = finetune(
        refits.pretrained_dir or pretrained_dir_of(refits.card),
        smiles,
        dataset.targets,
        dataset.task,
        train,
        split.valid,
        replace(_options_from_card(refits.card), n_models=k),
        target_names=list(dataset.target_names),
        device=refits.device,
        member_train_idx=[train[folds != f] for f in range(k)],
        progress=progress,
        is_cancelled=is_cancelled,
    ).model
    oof = np.full((len(train), len(dataset.target_names)), np.nan)
    for f, member in enumerate(model.members):
        single = LoadedModel(model.kind, model.tokenizer, model.config, model.card, [member],
                             model.device)  # fmt: skip
        rows = train[folds == f]
        if len(rows):
            oof[folds == f] = predict(
                single, [smiles[i] for i in rows], device=refits.device, is_cancelled=is_cancelled
            ).mean
    return oof


def _dmpnn_refits(
    dataset: AssayDataset,
    split: Split,
    folds: np.ndarray,
    refits: _Refits,
    seed: int,
    is_cancelled: CancelCheck | None,
) -> np.ndarray:
    """Out-of-fold predictions of the training part from K single D-MPNNs trained from scratch
    as the old one was (its options, descriptors and epochs), each on every fold but one."""
    import tempfile

    from core.models.dmpnn import predict_dmpnn, train_dmpnn

    if refits.old_dmpnn is None:
        raise ValueError("no D-MPNN to refit")
    _, options, descriptors, epochs = _like_old_dmpnn(refits.old_dmpnn)
    train = np.asarray(split.train, dtype=np.int64)
    smiles = np.asarray(dataset.smiles, dtype=object)
    oof = np.full((len(train), len(dataset.target_names)), np.nan)
    with tempfile.TemporaryDirectory(prefix="drugdesk-dmpnn-refit-") as scratch:
        for f in range(int(folds.max()) + 1):
            rows = train[folds != f]
            folder = Path(scratch) / f"fold{f}"
            train_dmpnn(
                list(smiles[rows]),
                dataset.targets[rows],
                list(smiles[split.valid]),
                dataset.targets[split.valid],
                dataset.task,
                output_dir=folder,
                descriptors=descriptors,
                epochs=epochs,
                seed=seed + f,
                options=replace(options, n_models=1),
                target_names=list(dataset.target_names),
                device=refits.device,
                is_cancelled=is_cancelled,
            )
            oof[folds == f] = predict_dmpnn(
                folder,
                list(smiles[train[folds == f]]),
                device=refits.device or "cpu",
                is_cancelled=is_cancelled,
            ).mean
    return oof


def _finish(
    plan: UpdatePlan,
    output_dir: Path,
    dataset: AssayDataset,
    split: Split,
    split_info: dict,
    frames: list[pd.DataFrame],
    predicted: list[pd.DataFrame],
    curve: list[tuple[int, int, float, float]],
    seconds: dict[str, float],
    scratch_metrics: pd.DataFrame | None,
    choice: Any,
    n_trees: int,
    seed: int,
    refits: _Refits,
    earlier_notes: list[str],
    domain_progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
    progress: ProgressCallback,
) -> UpdateReport:
    """Domain, metrics and tables into the folder, as ``train`` writes them, and the card's
    ``update`` record."""
    from core.fileio import write_text_atomic
    from core.models.training import (
        CURVE_COLUMNS,
        _store_domain,
        _write_metrics_to_card,
        _write_report_tables,
    )

    metrics = _with_means(pd.concat(frames, ignore_index=True))
    predictions = pd.concat(predicted, ignore_index=True)
    reading = plan.reading
    notes = [
        f"Updated from {reading.model} with {reading.added} new molecules"
        + (f" ({reading.already_known} already known, not used)" if reading.already_known else ""),
        *earlier_notes,
    ]
    domain_note = _store_domain(
        output_dir, dataset, split, predictions, domain_progress, is_cancelled
    )
    if domain_note:
        notes.append(domain_note)
    notes.append(
        f"Chosen predictor: {choice.describe()}, chosen on the validation part ({choice.why})"
    )
    calibration, missing = _calibrate(
        output_dir, dataset, split, split_info, predictions, n_trees, seed, choice, refits,
        domain_progress, is_cancelled,
    )  # fmt: skip
    if calibration is not None:
        from core.models.calibration_store import describe_calibration

        notes.append(describe_calibration(calibration))
    else:
        notes.append(missing)
    report = TrainReport(
        output_dir,
        split_info,
        metrics,
        notes,
        predictions=predictions,
        curve=pd.DataFrame(curve, columns=CURVE_COLUMNS),
        task=dataset.task,
        target_names=tuple(dataset.target_names),
        calibration=calibration,
        choice=choice,
    )
    _write_metrics_to_card(output_dir, report)
    _write_report_tables(output_dir, report)
    update = UpdateReport(
        output_dir, report, plan.reading, seconds, scratch_metrics, notes=list(notes)
    )
    card_path = output_dir / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    summary = update.as_json()
    card["description"] = (
        f"{plan.card.get('description') or plan.reading.model}; updated with "
        f"{plan.reading.added} new molecules"
    )
    card["update"] = {
        "from": plan.reading.model,
        "from_data_hash": plan.card.get("data_hash"),
        "training_data": TRAINING_DATA_FILE,
        "reading": plan.reading.as_dict(),
        "seconds": seconds,
        "scratch": summary["scratch"],
    }
    write_text_atomic(card_path, json.dumps(card, indent=2))
    progress(1.0, update.summary_line())
    return update
