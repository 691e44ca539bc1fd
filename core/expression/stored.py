"""What a project keeps of an expression analysis (issue 17, part 1), as plain tables.

The Gene expression area stores its matrix (genes × samples, when it is small enough), its
sample sheet and its differential-expression result as tables, and reads them back through
:func:`data_from_tables` and :func:`result_from_tables`, which treat everything as untrusted:
whatever a project file holds, they return a valid object or raise
:class:`~core.expression.data.ExpressionInputError` with one line saying what is wrong.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.expression.data import ExpressionData, ExpressionInputError, classify_values
from core.expression.de import METHODS, DEResult
from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

MAX_STORED_MATRIX_BYTES = 50 * 1024**2
"""Largest matrix (float64 values) a project keeps itself; a larger one is kept as its file's
path and SHA-256 only."""

MAX_STORED_SAMPLES = 99_000
"""A stored matrix has a column per sample: the project store takes at most 100,000 columns."""

INDEX_COLUMN = "__index__"  # the project store's name for a stored index (core.project.areas)
KINDS = ("counts", "normalised", "log")
RESULT_NUMBERS = ("base_mean", "log2fc", "stat", "pvalue", "padj")


def _names_ok(names: pd.Index) -> bool:
    texts = [str(name) for name in names]
    return len(set(texts)) == len(texts) and INDEX_COLUMN not in texts


def matrix_table(data: ExpressionData) -> pd.DataFrame | None:
    """The matrix as a project stores it: genes in rows (index ``gene``), a column per sample;
    ``None`` when it is larger than :data:`MAX_STORED_MATRIX_BYTES` or its names cannot be
    stored as they are."""
    n_samples, n_genes = data.values.shape
    if n_samples * n_genes * 8 > MAX_STORED_MATRIX_BYTES or n_samples > MAX_STORED_SAMPLES:
        return None
    if not (_names_ok(data.values.index) and _names_ok(data.values.columns)):
        return None
    table = pd.DataFrame(
        data.values.to_numpy(dtype=np.float64).T.copy(),
        index=pd.Index([str(g) for g in data.values.columns], name="gene"),
        columns=[str(s) for s in data.values.index],
    )
    return table


def samples_table(data: ExpressionData) -> pd.DataFrame:
    """The sample sheet as a project stores it (index: the sample names; columns: text names)."""
    samples = data.samples.copy()
    samples.columns = [str(c) for c in samples.columns]
    samples = samples.loc[:, ~samples.columns.duplicated()]
    if INDEX_COLUMN in samples.columns:
        samples = samples.drop(columns=INDEX_COLUMN)
    samples.index = pd.Index([str(s) for s in samples.index], name="sample")
    for column in samples.columns:
        if isinstance(samples[column].dtype, pd.CategoricalDtype):
            samples[column] = samples[column].astype(object)
    return samples


def data_meta(data: ExpressionData) -> dict[str, Any]:
    """What :func:`data_from_tables` needs besides the tables (JSON)."""
    return {
        "kind": data.kind,
        "orientation": data.orientation,
        "single_cell": bool(data.single_cell),
        "source": str(data.source),
        "notes": [str(n) for n in data.notes],
    }


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(str(v) for v in value if isinstance(v, (str, int, float)))


def data_from_tables(
    matrix: object, samples: object, meta: Mapping[str, Any] | object
) -> ExpressionData:
    """The :class:`ExpressionData` of a stored matrix (:func:`matrix_table`), sample sheet and
    :func:`data_meta`; :class:`ExpressionInputError` when they are not what was stored."""
    if not isinstance(matrix, pd.DataFrame) or matrix.empty:
        raise ExpressionInputError("the stored matrix is missing or empty")
    meta = meta if isinstance(meta, Mapping) else {}
    try:
        values = matrix.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64).T
    except (TypeError, ValueError) as error:
        raise ExpressionInputError(
            f"the stored matrix holds values that are not numbers ({error})"
        ) from None
    genes = pd.Index([str(g) for g in matrix.index])
    names = pd.Index([str(s) for s in matrix.columns])
    if genes.has_duplicates or names.has_duplicates:
        raise ExpressionInputError("the stored matrix has two genes or two samples of one name")
    frame = pd.DataFrame(values, index=names, columns=genes)
    sheet = pd.DataFrame(index=names.copy())
    if isinstance(samples, pd.DataFrame) and len(samples) == len(names):
        stored = samples.copy()
        stored.index = pd.Index([str(s) for s in stored.index])
        if set(stored.index) == set(names) and not stored.index.has_duplicates:
            sheet = stored.loc[names]
    sheet.index.name = "sample"
    kind = meta.get("kind")
    if kind not in KINDS:
        kind = classify_values(values)
    orientation = meta.get("orientation")
    if orientation not in ("genes_x_samples", "samples_x_genes"):
        orientation = "genes_x_samples"
    source = meta.get("source")
    return ExpressionData(
        values=frame,
        samples=sheet,
        kind=kind,
        source=source if isinstance(source, str) else "",
        orientation=orientation,
        single_cell=meta.get("single_cell") is True,
        notes=_texts(meta.get("notes")),
    )


def results_table(result: DEResult) -> pd.DataFrame:
    """A DE result as a project stores it: index ``gene``, then the result's columns
    (``group`` for one-vs-rest, ``base_mean``, ``log2fc``, ``stat``, ``pvalue``, ``padj``)."""
    table = result.table.copy()
    table.index = pd.Index(table.pop("gene").astype(str).to_numpy(), name="gene")
    table.columns = [str(c) for c in table.columns]
    return table


def group_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table of the group shown (one row per gene, its ``significant`` column included) as
    a project stores it under ``results``: index ``gene``, the other columns as shown."""
    shown = table.copy()
    shown.index = pd.Index(shown.pop("gene").astype(str).to_numpy(), name="gene")
    shown.columns = [str(c) for c in shown.columns]
    return shown


def result_meta(result: DEResult) -> dict[str, Any]:
    """What :func:`result_from_tables` needs besides the table (JSON)."""
    return {
        "method": result.method,
        "condition": result.condition,
        "case": result.case,
        "control": result.control,
        "groups": list(result.groups),
        "base_mean_log": bool(result.base_mean_log),
        "notes": [str(n) for n in result.notes],
    }


def _level(value: object) -> str | None:
    return value if isinstance(value, str) else None


def result_from_tables(table: object, meta: Mapping[str, Any] | object) -> DEResult:
    """The :class:`DEResult` of a stored table (:func:`results_table`) and :func:`result_meta`;
    :class:`ExpressionInputError` when they are not what was stored."""
    if not isinstance(table, pd.DataFrame):
        raise ExpressionInputError("the stored results table is missing")
    if not isinstance(meta, Mapping):
        raise ExpressionInputError("the stored comparison is not described")
    method = meta.get("method")
    if method not in METHODS:
        raise ExpressionInputError(f"the stored comparison names no known method ({method!r})")
    condition = meta.get("condition")
    if not isinstance(condition, str):
        raise ExpressionInputError("the stored comparison names no condition column")
    frame = pd.DataFrame({"gene": [str(g) for g in table.index]})
    missing = [c for c in ("base_mean", "log2fc", "pvalue", "padj") if c not in table.columns]
    if missing:
        raise ExpressionInputError(f"the stored results lack {', '.join(missing)}")
    for column in RESULT_NUMBERS:
        if column in table.columns:
            try:
                frame[column] = pd.to_numeric(table[column], errors="raise").to_numpy(
                    dtype=np.float64
                )
            except (TypeError, ValueError):
                raise ExpressionInputError(
                    f"the stored results' {column} holds values that are not numbers"
                ) from None
    groups = _texts(meta.get("groups"))
    if groups:
        if "group" not in table.columns:
            raise ExpressionInputError("the stored one-vs-rest results have no group column")
        frame.insert(0, "group", table["group"].astype(str).to_numpy())
        groups = tuple(g for g in groups if (frame["group"] == g).any())
        if not groups:
            raise ExpressionInputError("the stored results hold none of their groups")
    case = _level(meta.get("case"))
    return DEResult(
        table=frame,
        method=method,
        condition=condition,
        case=case,
        control=_level(meta.get("control")) if case is not None else None,
        groups=groups,
        base_mean_log=meta.get("base_mean_log") is True,
        notes=_texts(meta.get("notes")),
    )


def prepare_data(
    data: ExpressionData,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
):
    """QC and log values of data a project kept (a job: what a load does after reading)."""
    from core.expression.de import log_expression
    from core.expression.qc import PreparedExpression, compute_qc

    qc = compute_qc(data, progress=progress, is_cancelled=is_cancelled)
    check_cancelled(is_cancelled)
    log_values = log_expression(data)
    progress(1.0, f"Loaded {data.summary()}")
    return PreparedExpression(data=data, qc=qc, log_values=log_values)


@dataclass(slots=True, frozen=True)
class LoadedExpression:
    """What a load gives the panel: the data with their QC, the files' references (path, size,
    SHA-256; ``None`` when not read) and the data's tables as a project keeps them."""

    prepared: Any  # core.expression.qc.PreparedExpression
    references: dict[str, Any]
    tables: dict[str, pd.DataFrame]


def data_tables(data: ExpressionData) -> dict[str, pd.DataFrame]:
    """The sample sheet (``samples``) and, when small enough, the matrix (``values``) of
    ``data`` as a project keeps them."""
    tables = {"samples": samples_table(data)}
    matrix = matrix_table(data)
    if matrix is not None:
        tables["values"] = matrix
    return tables


def load_with_references(
    counts_path: str | None,
    sheet_path: str | None = None,
    orientation: str = "auto",
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> LoadedExpression:
    """Load and QC a matrix (``None``: the demo) as
    :func:`core.expression.qc.prepare_expression` does, with the files' references
    (``{"counts": ref, "sheet": ref or None}``) and the tables a project keeps (a job: the
    hashing and copying stay off the GUI thread)."""
    from core.expression import qc
    from core.expression.data import demo_path
    from core.project.areas import file_reference

    prepared = qc.prepare_expression(
        counts_path, sheet_path, orientation, progress=progress, is_cancelled=is_cancelled
    )
    references: dict[str, Any] = {"counts": None, "sheet": None}
    try:
        counts = demo_path() if counts_path is None else counts_path
        references["counts"] = file_reference(counts)
        if sheet_path:
            references["sheet"] = file_reference(sheet_path)
    except OSError:  # read a moment ago: a reference is a convenience, not the data
        pass
    check_cancelled(is_cancelled)
    return LoadedExpression(prepared, references, data_tables(prepared.data))


def finite_or(value: object, default: float) -> float:
    """``value`` as a finite float, else ``default`` (for numbers read from a project)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    value = float(value)
    return value if math.isfinite(value) else default


def display_name(path: str | os.PathLike | None) -> str:
    """How the campaign names a data set: the demo's name, or the file's name."""
    if not path:
        return "PBMC 68k reduced (scanpy demo)"
    return os.path.basename(os.fspath(path))


__all__ = [
    "MAX_STORED_MATRIX_BYTES",
    "LoadedExpression",
    "data_from_tables",
    "data_meta",
    "data_tables",
    "display_name",
    "finite_or",
    "group_table",
    "load_with_references",
    "matrix_table",
    "prepare_data",
    "result_from_tables",
    "result_meta",
    "results_table",
    "samples_table",
]
