"""Assay tables for training: SMILES and measured targets, with messages a chemist can act on.

:func:`load_assay_table` reads CSV, TSV, XLSX or SDF through the library readers
(``core.chem.readers.iter_record_chunks``), checks the target columns, drops molecules RDKit cannot
parse (each one listed with its reason, never silently), reads measurements as chemists write them
(qualifiers, units, replicates: :mod:`core.models.assay_values`) and returns an
:class:`AssayDataset` with a content hash for model cards and an :class:`AssayRecord` of every
choice made. :func:`preview_assay` gives that record alone, for a form to show before training.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase

from core.chem.readers import ReadOptions, iter_record_chunks, preview_table
from core.jobs import CancelCheck, ProgressCallback, check_cancelled
from core.models.assay_values import (
    MISSING_TEXT,
    UNITS,
    AssayRecord,
    CensoredValue,
    TargetRecord,
    merge_replicates,
    parse_measurement,
    read_values,
    replicate_warnings,
)

TASKS = ("classification", "regression")
MIN_MOLECULES = 20
"""Default smallest number of usable molecules; fewer cannot be split into train/valid/test."""

# Text labels a spreadsheet often holds for a binary assay, mapped to 0/1.
TEXT_CLASSES = {
    "0": 0.0, "1": 1.0, "false": 0.0, "true": 1.0, "no": 0.0, "yes": 1.0, "n": 0.0, "y": 1.0,
    "inactive": 0.0, "active": 1.0, "negative": 0.0, "positive": 1.0,
}  # fmt: skip


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

    ``targets`` is n × T float with NaN for a missing (or censored) value, one row per molecule
    (replicates merged); ``target_names`` are the trained names (``pIC50`` for a column ``IC50
    (nM)`` converted); ``rows`` gives each molecule's (first) position among the file's records;
    ``notes`` says what was changed (e.g. labels mapped to 0/1); ``data_hash`` is the SHA-256 of
    the canonical content (see :func:`content_hash`); ``record`` every choice made in reading.
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
    record: AssayRecord | None = None

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


_UNIT_WORDS = ("units", "unit", "uom")
_RELATION_WORDS = ("relation", "qualifier", "operator")
_GENERIC_UNITS = ("units", "unit", "standard units", "standard_units")
_GENERIC_RELATIONS = ("relation", "standard relation", "standard_relation", "qualifier")


def _side_column(
    columns: Sequence[str], target: str, words: Sequence[str], generic: Sequence[str]
) -> str | None:
    """The column beside ``target`` holding its units (or relations): ``IC50 units``,
    ``IC50_unit``, ChEMBL's ``Standard Units`` beside ``Standard Value``, else one generic
    ``units`` column. Names compare without case."""
    by_lower = {c.lower(): c for c in columns if c != target}
    low = target.lower()
    names = [f"{low}{sep}{word}" for word in words for sep in (" ", "_", "")]
    if "value" in low:
        names += [low.replace("value", word) for word in words]
    for name in names:
        if name in by_lower:
            return by_lower[name]
    found = [by_lower[g] for g in generic if g in by_lower]
    return found[0] if len(found) == 1 else None


def _molecule_key(mol: Chem.Mol, canonical: str) -> str:
    # InChIKey joins tautomers and spellings canonical SMILES keep apart; an InChI failure
    # (rare: some organometallics) falls back to the canonical SMILES.
    with rdBase.BlockLogs():
        key = Chem.MolToInchiKey(mol)
    return key or f"smiles:{canonical}"


def load_assay_table(
    path: str | os.PathLike,
    smiles_col: str | None,
    target_cols: Sequence[str],
    task: str,
    *,
    units: str = "auto",
    merge_replicates: bool = True,
    min_molecules: int = MIN_MOLECULES,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> AssayDataset:
    """Read and validate an assay table; ``dataset.record`` says every choice made.

    Parameters
    ----------
    path
        ``.csv``, ``.tsv``, ``.xlsx`` or ``.sdf``.
    smiles_col
        The SMILES column; ``None`` detects it in a table, and in an SDF uses the structure itself
        (written as SMILES).
    target_cols
        One or more measured columns (SDF: data tags). Empty cells are missing values (NaN).
    task
        ``"classification"``: each target has two classes; 0/1 stay, any other two values
        (numbers: lower → 0; text such as inactive/active) are mapped and the mapping is listed in
        ``notes``. ``"regression"``: measurements, read by
        :func:`core.models.assay_values.read_values`: a qualifier (``>10``, ``<= 1 nM``) and a
        unit (in the cell, a unit column such as ``IC50 units`` or ChEMBL's ``Standard Units``,
        ``units``, the column name); concentrations become ``pXC50 = -log10(molar)`` and the
        target is renamed (``IC50 (nM)`` → ``pIC50``). Censored values are left out of training
        and metrics, and listed in ``record.censored``.
    units
        ``auto`` (detect), ``p`` or ``pM``/``nM``/``uM``/``mM``/``M``: what bare numbers of a
        regression target are.
    merge_replicates
        Merge rows of one molecule (same InChIKey): mean (regression) or majority class; the
        spread is in ``record.replicates``. ``False`` keeps every row (for data hashed before
        merging existed).
    min_molecules
        Fewest usable molecules accepted.

    Rows are dropped, and listed in ``dropped`` with the reason, when the reader could not read
    them, RDKit cannot parse the SMILES, no target has an exact value (empty, censored, a unit
    that is no concentration), or, classification, a molecule's replicates tie.

    Raises
    ------
    ValueError
        (``core.chem.readers.LibraryReadError`` for an unreadable file) missing SMILES or target
        column (listing the columns), non-numeric targets (count and examples), a concentration
        without unit, mixed units without a fallback, a classification target with one class or
        more than two values, fewer than ``min_molecules`` molecules.
    """
    dataset = _assemble(
        path, smiles_col, target_cols, task, units, merge_replicates, progress, is_cancelled
    )
    if len(dataset) < min_molecules:
        raise ValueError(_too_few(dataset, min_molecules))
    return dataset


def preview_assay(
    path: str | os.PathLike,
    smiles_col: str | None,
    target_cols: Sequence[str],
    task: str,
    units: str = "auto",
    *,
    min_molecules: int = MIN_MOLECULES,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> AssayRecord:
    """What :func:`load_assay_table` would do with these choices, for a form to show before
    training: the record, with ``problem`` set (and counts as far as they go) when training
    would refuse the table. A job function; never raises for bad data."""
    try:
        dataset = _assemble(
            path, smiles_col, target_cols, task, units, True, progress, is_cancelled
        )
    except ValueError as exc:  # LibraryReadError is one
        return AssayRecord(
            source=str(path), task=task, units_asked=units, rows_read=0, molecules=0,
            dropped=(), targets=(), censored=(), replicates=(), replicate_rows_merged=0,
            warnings=(), problem=str(exc),
        )  # fmt: skip
    record = dataset.record
    if record is not None and len(dataset) < min_molecules:
        record = replace(record, problem=_too_few(dataset, min_molecules))
    return record


def _too_few(dataset: AssayDataset, min_molecules: int) -> str:
    record = dataset.record
    read = record.rows_read if record else len(dataset) + len(dataset.dropped)
    merged = record.replicate_rows_merged if record else 0
    merged_text = f", {merged} merged as replicates" if merged else ""
    return (
        f"{Path(dataset.source).name}: {len(dataset)} usable molecules, at least {min_molecules} "
        f"needed ({read} rows read, {len(dataset.dropped)} dropped{merged_text})"
    )


def _read_records(path: Path, smiles_col: str | None, is_cancelled: CancelCheck | None) -> list:
    records = []
    for chunk in iter_record_chunks(path, ReadOptions(smiles_column=smiles_col, name_column="")):
        check_cancelled(is_cancelled)
        records.extend(chunk)
    return records


@dataclass(slots=True)
class _Structures:
    """The records whose structures RDKit read: records, the file's rows, SMILES as written,
    canonical SMILES and the molecule keys (InChIKey), plus the rows dropped and why."""

    records: list
    rows: list[int]
    smiles: list[str]
    canonical: list[str]
    keys: list[str]
    dropped: list[DroppedRow]


def _parse_structures(
    records: list,
    smiles_col: str | None,
    is_sdf: bool,
    merge: bool,
    progress: ProgressCallback | None,
    is_cancelled: CancelCheck | None,
) -> _Structures:
    out = _Structures([], [], [], [], [], [])
    for i, record in enumerate(records):
        if i % 500 == 0:
            check_cancelled(is_cancelled)
            if progress is not None:
                progress(i / len(records), f"checking {i:,} of {len(records):,} rows")
        if is_sdf and smiles_col is not None:
            smiles = record.extra.get(smiles_col, "").strip()
        else:
            smiles = record.text
        if record.error:
            out.dropped.append(DroppedRow(record.index, record.name, smiles, record.error))
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
            out.dropped.append(DroppedRow(record.index, record.name, shown, reason))
            continue
        if is_sdf and smiles_col is None:
            smiles = Chem.MolToSmiles(mol)
        out.records.append(record)
        out.rows.append(record.index)
        out.smiles.append(smiles)
        out.canonical.append(Chem.MolToSmiles(mol))
        # Without merging every row is its own molecule.
        out.keys.append(_molecule_key(mol, out.canonical[-1]) if merge else str(i))
    return out


@dataclass(slots=True)
class _Targets:
    """The target cells of the parsed rows: values in trained units, qualifiers (``=``, ``>``,
    ``<``, ``""`` for none), the cells as written, per target each row's problem, warnings and
    one :class:`TargetRecord` per target."""

    values: np.ndarray
    qualifiers: np.ndarray
    cells: np.ndarray
    problems: list[list[str | None]]
    warnings: list[str]
    records: list[TargetRecord]


def _read_targets(
    kept: list,
    columns: Sequence[str],
    columns_asked: Sequence[str],
    task: str,
    units: str,
    notes: list[str],
) -> _Targets:
    n, width = len(kept), len(columns_asked)
    out = _Targets(
        np.full((n, width), np.nan),
        np.full((n, width), "", dtype=object),
        np.full((n, width), "", dtype=object),
        [],
        [],
        [],
    )
    for t, name in enumerate(columns_asked):
        column = [r.extra.get(name, "") for r in kept]
        out.cells[:, t] = column
        if task == "classification":
            out.values[:, t] = _class_targets(name, column, notes)
            present = ~np.isnan(out.values[:, t])
            out.qualifiers[present, t] = "="
            out.problems.append([None] * n)
            out.records.append(
                TargetRecord(
                    column=name, name=name, units="labels", unit_source="class labels",
                    unit_counts=(), converted=0, exact=int(present.sum()), censored_above=0,
                    censored_below=0, missing=int((~present).sum()), unusable=0,
                )
            )  # fmt: skip
            continue
        unit_column = _side_column(columns, name, _UNIT_WORDS, _GENERIC_UNITS)
        relation_column = _side_column(columns, name, _RELATION_WORDS, _GENERIC_RELATIONS)
        read = read_values(
            name,
            column,
            units,
            unit_texts=[r.extra.get(unit_column, "") for r in kept] if unit_column else None,
            relation_texts=(
                [r.extra.get(relation_column, "") for r in kept] if relation_column else None
            ),
            unit_column=unit_column,
        )
        out.values[:, t] = read.values
        out.qualifiers[:, t] = read.qualifiers
        out.problems.append(read.problems)
        out.warnings.extend(read.warnings)
        out.records.append(read.record)
        if relation_column:
            notes.append(f"'{name}': qualifiers also read from column '{relation_column}'")
        if read.record.converted:
            notes.append(
                f"'{name}': {read.record.converted} concentrations converted to pXC50 "
                f"(target named '{read.record.name}')"
            )
    return out


def _assemble(
    path: str | os.PathLike,
    smiles_col: str | None,
    target_cols: Sequence[str],
    task: str,
    units: str,
    merge: bool,
    progress: ProgressCallback | None,
    is_cancelled: CancelCheck | None,
) -> AssayDataset:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
    columns_asked = tuple(target_cols)
    if not columns_asked:
        raise ValueError("name at least one target column")
    path = Path(path)
    records = _read_records(path, smiles_col, is_cancelled)
    columns = list(dict.fromkeys(k for r in records for k in r.extra))
    missing = [c for c in columns_asked if c not in columns]
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

    structures = _parse_structures(records, smiles_col, is_sdf, merge, progress, is_cancelled)
    dropped = structures.dropped
    kept, kept_rows, kept_smiles = structures.records, structures.rows, structures.smiles
    canonical, keys = structures.canonical, structures.keys
    n = len(kept)
    notes: list[str] = []
    if task == "classification" and units != "auto":
        notes.append(f"units {units!r} ignored: classification reads class labels")
    read = _read_targets(kept, columns, columns_asked, task, units, notes)
    values, qualifiers, cells, problems = read.values, read.qualifiers, read.cells, read.problems
    warnings, target_records = read.warnings, read.records
    target_names = _unique_names([r.name for r in target_records])
    target_records = [
        replace(r, name=nm) for r, nm in zip(target_records, target_names, strict=True)
    ]

    # Censored values leave the training targets and wait in the record.
    exact = np.where(qualifiers == "=", values, np.nan)
    censored: list[CensoredValue] = []
    for i, t in zip(*np.nonzero((qualifiers == ">") | (qualifiers == "<")), strict=True):
        censored.append(
            CensoredValue(
                kept_rows[i], kept_smiles[i], target_names[t], str(qualifiers[i, t]),
                float(values[i, t]), str(cells[i, t]),
            )
        )  # fmt: skip
    empty = np.isnan(exact).all(axis=1) if n else np.zeros(0, dtype=bool)
    for i in np.flatnonzero(empty):
        row_problems = [p[i] for p in problems if p[i]]
        if row_problems:
            reason = row_problems[0]
        elif any(q in (">", "<") for q in qualifiers[i]):
            reason = "censored value only (left out)"
        else:
            reason = "no target value"
        dropped.append(DroppedRow(kept_rows[i], kept[i].name, kept_smiles[i], reason))
    keep = np.flatnonzero(~empty)

    merging = merge_replicates(
        [keys[i] for i in keep],
        [kept_smiles[i] for i in keep],
        [kept_rows[i] for i in keep],
        exact[keep],
        target_names,
        task,
    )
    groups, merged, replicates = merging.groups, merging.targets, merging.replicates
    first = [keep[g[0]] for g in groups]
    tied = np.isnan(merged).all(axis=1) if len(groups) else np.zeros(0, dtype=bool)
    for g in np.flatnonzero(tied):
        for r in groups[g]:
            i = keep[r]
            dropped.append(
                DroppedRow(kept_rows[i], kept[i].name, kept_smiles[i], "replicate classes tie")
            )
    molecules = [g for g in range(len(groups)) if not tied[g]]
    targets = merged[molecules]
    first = [first[g] for g in molecules]
    smiles_out = [kept_smiles[i] for i in first]
    canonical_out = [canonical[i] for i in first]
    rows_out = [kept_rows[i] for i in first]
    merged_rows = sum(len(groups[g]) - 1 for g in molecules)
    warnings.extend(replicate_warnings(replicates, task))

    if task == "classification":
        for t, name in enumerate(target_names):
            classes = np.unique(targets[~np.isnan(targets[:, t]), t])
            if len(classes) < 2:
                only = ", ".join(f"{c:g}" for c in classes) or "none"
                raise ValueError(
                    f"target column '{name}': only one class ({only}) among {len(smiles_out)} "
                    "molecules; a classifier needs both"
                )
    if censored:
        notes.append(f"{len(censored)} censored values (>, <) left out of training and metrics")
    if merged_rows:
        notes.append(
            f"{merged_rows} replicate rows merged into {sum(len(groups[g]) > 1 for g in molecules)}"
            " molecules (same InChIKey)"
        )
    if dropped:
        notes.insert(0, f"{len(dropped)} of {len(records)} rows dropped (see dropped)")
    dropped.sort(key=lambda d: d.row)
    record = AssayRecord(
        source=str(path),
        task=task,
        units_asked=units,
        rows_read=len(records),
        molecules=len(smiles_out),
        dropped=tuple(Counter(d.reason for d in dropped).most_common()),
        targets=tuple(target_records),
        censored=tuple(censored),
        replicates=tuple(replicates),
        replicate_rows_merged=merged_rows,
        warnings=tuple(warnings),
    )
    return AssayDataset(
        smiles=tuple(smiles_out),
        targets=targets,
        target_names=tuple(target_names),
        task=task,
        smiles_column=smiles_col or ("(structure)" if is_sdf else _detected_smiles_column(path)),
        rows=tuple(rows_out),
        dropped=tuple(dropped),
        notes=tuple(notes),
        data_hash=content_hash(canonical_out, targets, target_names, task),
        source=str(path),
        record=record,
    )


def _unique_names(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


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
        # Measurements as chemists write them (">10", "5 nM") count as numbers too.
        if (
            present
            and column != smiles_column
            and all(
                v is not None or parse_measurement(t) is not None
                for v, t in zip(values, texts, strict=True)
            )
        ):
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
