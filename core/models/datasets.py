"""Assay tables for training: SMILES plus numeric targets, validated with messages a chemist can act on.

:func:`load_assay_table` reads CSV, TSV, XLSX or SDF through the library readers
(``core.chem.readers.iter_record_chunks``), checks the target columns, drops molecules RDKit cannot
parse (each one listed with its reason, never silently) and returns an :class:`AssayDataset` with a
content hash for model cards.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase

from core.chem.readers import ReadOptions, iter_record_chunks, preview_table
from core.jobs import CancelCheck, ProgressCallback, check_cancelled

TASKS = ("classification", "regression")
MIN_MOLECULES = 20
"""Default smallest number of usable molecules; fewer cannot be split into train/valid/test."""

# Text labels a spreadsheet often holds for a binary assay, mapped to 0/1.
TEXT_CLASSES = {
    "0": 0.0, "1": 1.0, "false": 0.0, "true": 1.0, "no": 0.0, "yes": 1.0, "n": 0.0, "y": 1.0,
    "inactive": 0.0, "active": 1.0, "negative": 0.0, "positive": 1.0,
}  # fmt: skip
MISSING_TEXT = {"", "nan", "na", "n/a", "none", "null", "-"}


@dataclass(slots=True, frozen=True)
class DroppedRow:
    """A record left out: its 0-based position among the file's records, name, SMILES, reason."""

    row: int
    name: str
    smiles: str
    reason: str


@dataclass(slots=True, frozen=True)
class AssayDataset:
    """Molecules and targets ready for splitting and training.

    ``targets`` is n × T float with NaN for a missing value; ``rows`` gives each molecule's position
    among the file's records; ``notes`` says what was changed (e.g. labels mapped to 0/1);
    ``data_hash`` is the SHA-256 of the canonical content (see :func:`content_hash`).
    """

    smiles: tuple[str, ...]
    targets: np.ndarray
    target_names: tuple[str, ...]
    task: str
    smiles_column: str
    rows: tuple[int, ...]
    dropped: tuple[DroppedRow, ...]
    notes: tuple[str, ...]
    data_hash: str
    source: str

    def __len__(self) -> int:
        return len(self.smiles)

    def summary(self) -> str:
        """One line for a log or a dialog: counts, dropped rows and notes."""
        text = f"{len(self)} molecules, {len(self.target_names)} target(s) ({self.task})"
        if self.dropped:
            text += f"; {len(self.dropped)} rows dropped"
        return "; ".join([text, *self.notes])


def content_hash(
    canonical_smiles: Sequence[str], targets: np.ndarray, target_names: Sequence[str], task: str
) -> str:
    """SHA-256 of task, target names and one ``canonical SMILES, targets`` line per row, in order.

    Canonical SMILES make the hash independent of how the file wrote each structure; values use
    ``repr`` of the float so 1 and 1.0 agree, and NaN is written ``nan``.
    """
    digest = hashlib.sha256()
    digest.update(f"{task}\t{chr(31).join(target_names)}\n".encode())
    for smiles, values in zip(canonical_smiles, np.asarray(targets, dtype=float), strict=True):
        digest.update(f"{smiles}\t{','.join(repr(float(v)) for v in values)}\n".encode())
    return digest.hexdigest()


def _parse_number(text: str) -> float | None:
    """A float, NaN for an empty/missing cell, ``None`` when not a number."""
    stripped = text.strip()
    if stripped.lower() in MISSING_TEXT:
        return math.nan
    try:
        value = float(stripped)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _class_targets(name: str, texts: list[str], notes: list[str]) -> np.ndarray:
    numbers = [_parse_number(t) for t in texts]
    if all(v is not None for v in numbers):
        values = np.array(numbers, dtype=float)
        distinct = np.unique(values[~np.isnan(values)])
        if len(distinct) == 2 and not np.array_equal(distinct, [0.0, 1.0]):
            low, high = distinct
            notes.append(f"'{name}': values {low:g} and {high:g} mapped to 0 and 1")
            values = np.where(np.isnan(values), np.nan, (values == high).astype(float))
    else:
        # Text labels such as "active"/"inactive".
        lowered = [t.strip().lower() for t in texts]
        unknown = sorted({t for t in lowered if t not in TEXT_CLASSES and t not in MISSING_TEXT})
        if unknown:
            bad = [t for t in texts if t.strip().lower() in unknown]
            raise ValueError(
                f"target column '{name}': {len(bad)} values are not numbers or known class labels, "
                f"e.g. {', '.join(repr(b) for b in bad[:5])}"
            )
        values = np.array([TEXT_CLASSES.get(t, math.nan) for t in lowered], dtype=float)
        used = sorted({t for t in lowered if t in TEXT_CLASSES})
        notes.append(
            f"'{name}': text labels mapped to 0/1 ("
            + ", ".join(f"{t}={int(TEXT_CLASSES[t])}" for t in used)
            + ")"
        )
        distinct = np.unique(values[~np.isnan(values)])
    if len(distinct) > 2:
        shown = ", ".join(f"{v:g}" for v in distinct[:6])
        raise ValueError(
            f"target column '{name}': classification needs two classes, found {len(distinct)} "
            f"distinct values ({shown}{'…' if len(distinct) > 6 else ''}); "
            "use regression or binarise the column first"
        )
    return values


def _detected_smiles_column(path: Path) -> str:
    # The reader detected the column itself; ask the same detector so the card can name it.
    return preview_table(path).smiles_column or ""


def load_assay_table(
    path: str | os.PathLike,
    smiles_col: str | None,
    target_cols: Sequence[str],
    task: str,
    *,
    min_molecules: int = MIN_MOLECULES,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> AssayDataset:
    """Read and validate an assay table.

    Parameters
    ----------
    path
        ``.csv``, ``.tsv``, ``.xlsx`` or ``.sdf``.
    smiles_col
        The SMILES column; ``None`` detects it in a table, and in an SDF uses the structure itself
        (written as SMILES).
    target_cols
        One or more numeric columns (SDF: data tags). Empty cells are missing values (NaN).
    task
        ``"classification"``: each target has two classes; 0/1 stay, any other two values (numbers:
        lower → 0; text such as inactive/active) are mapped and the mapping is listed in ``notes``.
        ``"regression"``: any numbers.
    min_molecules
        Fewest usable molecules accepted.

    Rows are dropped, and listed in ``dropped`` with the reason, when the reader could not read
    them, RDKit cannot parse the SMILES, or every target is empty.

    Raises
    ------
    ValueError
        (``core.chem.readers.LibraryReadError`` for an unreadable file) missing SMILES or target
        column (listing the columns), non-numeric targets (count and examples), a classification
        target with one class or more than two values, fewer than ``min_molecules`` molecules.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    target_names = tuple(target_cols)
    if not target_names:
        raise ValueError("name at least one target column")
    path = Path(path)
    options = ReadOptions(smiles_column=smiles_col, name_column="")
    records = []
    for chunk in iter_record_chunks(path, options):
        check_cancelled(is_cancelled)
        records.extend(chunk)
    columns = list(dict.fromkeys(k for r in records for k in r.extra))
    missing = [c for c in target_names if c not in columns]
    if missing:
        raise ValueError(
            f"{path.name}: no column {', '.join(repr(c) for c in missing)}. "
            f"Columns: {', '.join(columns) or '(none)'}."
        )
    is_sdf = bool(records) and records[0].kind == "molblock"
    if is_sdf and smiles_col is not None and smiles_col not in columns:
        raise ValueError(
            f"{path.name}: no data tag {smiles_col!r}. Tags: {', '.join(columns) or '(none)'}."
        )

    dropped: list[DroppedRow] = []
    kept_rows, kept_smiles, canonical, texts = [], [], [], []
    for i, record in enumerate(records):
        if i % 500 == 0:
            check_cancelled(is_cancelled)
        if progress is not None and i % 500 == 0:
            progress(i / len(records), f"checking {i:,} of {len(records):,} rows")
        if is_sdf and smiles_col is not None:
            smiles = record.extra.get(smiles_col, "").strip()
        else:
            smiles = record.text
        if record.error:
            dropped.append(DroppedRow(record.index, record.name, smiles, record.error))
            continue
        with rdBase.BlockLogs():
            mol = (
                Chem.MolFromMolBlock(smiles)
                if is_sdf and smiles_col is None
                else Chem.MolFromSmiles(smiles)
            )
        if mol is None:
            reason = (
                "RDKit cannot read the structure"
                if is_sdf and smiles_col is None
                else "RDKit cannot parse the SMILES"
            )
            shown = "" if is_sdf and smiles_col is None else smiles[:200]  # not a whole molblock
            dropped.append(DroppedRow(record.index, record.name, shown, reason))
            continue
        if is_sdf and smiles_col is None:
            smiles = Chem.MolToSmiles(mol)
        kept_rows.append(record.index)
        kept_smiles.append(smiles)
        canonical.append(Chem.MolToSmiles(mol))
        texts.append([record.extra.get(c, "") for c in target_names])

    notes: list[str] = []
    n = len(kept_smiles)
    targets = np.full((n, len(target_names)), np.nan)
    for t, name in enumerate(target_names):
        column = [row[t] for row in texts]
        if task == "classification":
            targets[:, t] = _class_targets(name, column, notes)
        else:
            numbers = [_parse_number(text) for text in column]
            bad = [text for text, v in zip(column, numbers, strict=True) if v is None]
            if bad:
                raise ValueError(
                    f"target column '{name}': {len(bad)} values are not numbers, "
                    f"e.g. {', '.join(repr(b) for b in bad[:5])}"
                )
            targets[:, t] = np.array(numbers, dtype=float)

    empty = np.isnan(targets).all(axis=1) if n else np.zeros(0, dtype=bool)
    for i in np.flatnonzero(empty):
        dropped.append(
            DroppedRow(kept_rows[i], records[kept_rows[i]].name, kept_smiles[i], "no target value")
        )
    keep = ~empty
    targets = targets[keep]
    kept_smiles = [s for s, k in zip(kept_smiles, keep, strict=True) if k]
    canonical = [s for s, k in zip(canonical, keep, strict=True) if k]
    kept_rows = [r for r, k in zip(kept_rows, keep, strict=True) if k]

    if task == "classification":
        for t, name in enumerate(target_names):
            classes = np.unique(targets[~np.isnan(targets[:, t]), t])
            if len(classes) < 2:
                only = ", ".join(f"{c:g}" for c in classes) or "none"
                raise ValueError(
                    f"target column '{name}': only one class ({only}) among {len(kept_smiles)} "
                    "molecules; a classifier needs both"
                )
    if len(kept_smiles) < min_molecules:
        raise ValueError(
            f"{path.name}: {len(kept_smiles)} usable molecules, at least {min_molecules} needed "
            f"({len(records)} rows read, {len(dropped)} dropped)"
        )
    if dropped:
        notes.insert(0, f"{len(dropped)} of {len(records)} rows dropped (see dropped)")
    dropped.sort(key=lambda d: d.row)
    return AssayDataset(
        smiles=tuple(kept_smiles),
        targets=targets,
        target_names=target_names,
        task=task,
        smiles_column=smiles_col or ("(structure)" if is_sdf else _detected_smiles_column(path)),
        rows=tuple(kept_rows),
        dropped=tuple(dropped),
        notes=tuple(notes),
        data_hash=content_hash(canonical, targets, target_names, task),
        source=str(path),
    )


@dataclass(slots=True, frozen=True)
class AssayColumns:
    """What a training form offers for a file: its columns (SDF: data tags), the detected SMILES
    column (``None`` for an SDF, whose structures are used), columns that look numeric, and, per
    column, how many distinct non-empty values the first rows hold (2 suggests classification)."""

    path: str
    columns: tuple[str, ...]
    smiles_column: str | None
    numeric_columns: tuple[str, ...]
    distinct_values: dict[str, int]
    is_sdf: bool
    n_preview_rows: int


def assay_columns(path: str | os.PathLike, n_rows: int = 200) -> AssayColumns:
    """Read the head of an assay table (CSV, TSV, XLSX or SDF) for a form: columns and hints.

    Raises
    ------
    ValueError
        (``core.chem.readers.LibraryReadError``) when the file cannot be read.
    """
    from core.chem.readers import detect_format

    path = Path(path)
    is_sdf = detect_format(path) == "sdf"
    if is_sdf:
        rows: list[dict[str, str]] = []
        for chunk in iter_record_chunks(path, ReadOptions(name_column="")):
            rows.extend(r.extra for r in chunk)
            if len(rows) >= n_rows:
                break
        rows = rows[:n_rows]
        columns = list(dict.fromkeys(k for r in rows for k in r))
        smiles_column = None
    else:
        preview = preview_table(path, n_rows=n_rows)
        columns = list(preview.columns)
        rows = [dict(zip(columns, r, strict=False)) for r in preview.rows]
        smiles_column = preview.smiles_column
    numeric, distinct = [], {}
    for column in columns:
        texts = [str(r.get(column, "")) for r in rows]
        values = [_parse_number(t) for t in texts]
        present = [t.strip().lower() for t in texts if t.strip().lower() not in MISSING_TEXT]
        distinct[column] = len(set(present))
        if present and column != smiles_column and all(v is not None for v in values):
            numeric.append(column)
    return AssayColumns(
        path=str(path),
        columns=tuple(columns),
        smiles_column=smiles_column,
        numeric_columns=tuple(numeric),
        distinct_values=distinct,
        is_sdf=is_sdf,
        n_preview_rows=len(rows),
    )
