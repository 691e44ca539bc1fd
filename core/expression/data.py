"""Read expression matrices (CSV, TSV, XLSX, AnnData ``.h5ad``) and sample sheets.

Everything is held samples × genes (:class:`ExpressionData`), whichever way the file was written:
files holding genes × samples (the usual for bulk RNA-seq) are transposed on reading. The
orientation is detected (sample-sheet names, else "more rows than columns means genes in rows")
and can be forced.
"""

from __future__ import annotations

import importlib.util
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

Orientation = Literal["auto", "genes_x_samples", "samples_x_genes"]
DataKind = Literal["counts", "normalised", "log"]
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".xlsx", ".xls")
DEMO_NAME = "10x_pbmc68k_reduced.h5ad"
DEMO_CONDITION = "bulk_labels"


class ExpressionInputError(ValueError):
    """A file or a choice cannot be used; the message names the file, column or value."""


@dataclass(slots=True, frozen=True)
class ExpressionData:
    """An expression matrix with its sample annotations.

    Attributes
    ----------
    values
        Samples × genes, float64; index = sample names, columns = gene ids (unique strings).
    samples
        Sample annotations (condition, covariates), index equal to ``values.index``.
    kind
        ``"counts"`` (non-negative integers), ``"normalised"`` (non-negative, not integers) or
        ``"log"`` (has negative values or looks log-scaled).
    orientation
        How the file held the matrix (``"genes_x_samples"`` or ``"samples_x_genes"``).
    single_cell
        Cells rather than bulk samples (AnnData input): DE runs one group against the rest.
    """

    values: pd.DataFrame
    samples: pd.DataFrame
    kind: DataKind
    source: str = ""
    orientation: str = "genes_x_samples"
    single_cell: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def n_samples(self) -> int:
        return self.values.shape[0]

    @property
    def n_genes(self) -> int:
        return self.values.shape[1]

    @property
    def is_integer_counts(self) -> bool:
        return self.kind == "counts"

    def default_method(self) -> str:
        """``"deseq2"`` for raw integer counts, ``"welch"`` for anything else."""
        return "deseq2" if self.kind == "counts" and not self.single_cell else "welch"

    def condition_columns(self) -> list[str]:
        """Sample-sheet columns with 2–50 distinct values (candidate conditions)."""
        found = []
        for column in self.samples.columns:
            n = self.samples[column].nunique(dropna=True)
            if 2 <= n <= 50:
                found.append(str(column))
        return found

    def with_samples(self, samples: pd.DataFrame) -> ExpressionData:
        return replace(self, samples=samples)

    def summary(self) -> str:
        what = "cells" if self.single_cell else "samples"
        return f"{self.n_samples} {what} × {self.n_genes} genes ({self.kind})"


# ----------------------------------------------------------------------------------------------
# Reading tables


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV/TSV/XLSX file as text-free-of-guesses: first row is the header, no index."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ExpressionInputError(f"{path}: no such file")
    try:
        if suffix in (".xlsx", ".xls"):
            # A workbook is a zip archive: refused before openpyxl opens it when it would expand
            # beyond what a spreadsheet can hold (a zip bomb), or is damaged.
            from core.chem.readers import check_xlsx_archive

            check_xlsx_archive(path)
            table = pd.read_excel(path, sheet_name=0)
        elif suffix in (".csv", ".tsv", ".tab", ".txt"):
            # sep=None sniffs commas, tabs or semicolons (European CSV).
            table = pd.read_csv(path, sep=None, engine="python")
        else:
            raise ExpressionInputError(
                f"{path.name}: unknown file type '{suffix}'; use .csv, .tsv, .xlsx or .h5ad"
            )
    except ExpressionInputError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, ImportError) as exc:
        raise ExpressionInputError(f"{path.name}: cannot read the table ({exc})") from exc
    except (SyntaxError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        # openpyxl on a damaged workbook: XML ParseError (a SyntaxError), missing parts.
        raise ExpressionInputError(
            f"{path.name}: not a readable workbook ({type(exc).__name__}: {exc})"
        ) from exc
    if table.shape[0] == 0 or table.shape[1] < 2:
        raise ExpressionInputError(
            f"{path.name}: needs a header row, an id column and at least one data column"
        )
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _numeric_block(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The table's data columns as float64, ids (first column) as the index; text is an error."""
    ids = table.iloc[:, 0].astype(str).str.strip()
    block = table.iloc[:, 1:].copy()
    block.index = pd.Index(ids, name=None)
    converted = block.apply(pd.to_numeric, errors="coerce")
    bad = converted.isna() & block.notna()
    if bad.to_numpy().any():
        rows, cols = np.nonzero(bad.to_numpy())
        row, col = rows[0], cols[0]
        raise ExpressionInputError(
            f"{name}: the matrix holds text: {block.iat[row, col]!r} at row "
            f"'{block.index[row]}', column '{block.columns[col]}' "
            f"({int(bad.to_numpy().sum())} non-numeric cells in all)"
        )
    missing = converted.isna().to_numpy()
    if missing.any():
        rows, cols = np.nonzero(missing)
        raise ExpressionInputError(
            f"{name}: missing value at row '{converted.index[rows[0]]}', column "
            f"'{converted.columns[cols[0]]}' ({int(missing.sum())} empty cells in all)"
        )
    if not np.isfinite(converted.to_numpy(dtype=np.float64)).all():
        raise ExpressionInputError(f"{name}: the matrix holds infinite values")
    return converted.astype(np.float64)


def _dedupe(index: pd.Index, what: str, name: str) -> None:
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise ExpressionInputError(
            f"{name}: {what} '{duplicated[0]}' appears more than once "
            f"({len(duplicated)} duplicates); ids must be unique"
        )


def detect_orientation(
    block: pd.DataFrame, sample_names: set[str] | None = None
) -> Literal["genes_x_samples", "samples_x_genes"]:
    """Guess how a matrix (ids in the index) is laid out.

    With sample names (from a sample sheet): the side that matches more of them holds samples.
    Without: genes outnumber samples in expression data, so more rows than columns means genes
    in rows.
    """
    if sample_names:
        in_columns = len(sample_names & {str(c) for c in block.columns})
        in_rows = len(sample_names & {str(i) for i in block.index})
        if in_columns != in_rows:
            return "genes_x_samples" if in_columns > in_rows else "samples_x_genes"
    return "genes_x_samples" if block.shape[0] >= block.shape[1] else "samples_x_genes"


def classify_values(values: np.ndarray) -> DataKind:
    """``"counts"`` for non-negative integers, ``"log"`` for data with negatives or a small
    range (max ≤ 30 with fractions), ``"normalised"`` otherwise."""
    if values.size == 0:
        return "counts"
    if (values < 0).any():
        return "log"
    if np.all(values == np.round(values)):
        return "counts"
    if values.max() <= 30:
        return "log"
    return "normalised"


def read_sample_sheet(path: str | os.PathLike, sample_column: str | None = None) -> pd.DataFrame:
    """Read a sample sheet; its ``sample`` column (any case; else the first column) is the index."""
    path = Path(path)
    table = read_table(path)
    if sample_column is None:
        lowered = {c.lower(): c for c in table.columns}
        sample_column = lowered.get("sample") or lowered.get("samples") or table.columns[0]
    elif sample_column not in table.columns:
        raise ExpressionInputError(
            f"{path.name}: no column '{sample_column}'; columns are {', '.join(table.columns)}"
        )
    names = table[sample_column].astype(str).str.strip()
    sheet = table.drop(columns=[sample_column])
    sheet.index = pd.Index(names, name="sample")
    _dedupe(sheet.index, "sample", path.name)
    for column in sheet.columns:
        if sheet[column].dtype == object or pd.api.types.is_string_dtype(sheet[column]):
            sheet[column] = sheet[column].astype(str).str.strip().where(sheet[column].notna())
    return sheet


def read_matrix(
    path: str | os.PathLike,
    orientation: Orientation = "auto",
    sample_names: set[str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Read a counts/expression table; returns (samples × genes values, orientation as read)."""
    path = Path(path)
    table = read_table(path)
    block = _numeric_block(table, path.name)
    if orientation == "auto":
        orientation = detect_orientation(block, sample_names)
    elif orientation not in ("genes_x_samples", "samples_x_genes"):
        raise ExpressionInputError(f"unknown orientation {orientation!r}")
    values = block.T if orientation == "genes_x_samples" else block
    values.index = pd.Index([str(i) for i in values.index])
    values.columns = pd.Index([str(c) for c in values.columns])
    _dedupe(values.index, "sample", path.name)
    _dedupe(values.columns, "gene", path.name)
    return values, orientation


def match_samples(
    values: pd.DataFrame, sheet: pd.DataFrame, name: str = "sample sheet"
) -> pd.DataFrame:
    """The sheet's rows in the matrix's sample order; every matrix sample must be in the sheet."""
    missing = [s for s in values.index if s not in sheet.index]
    if missing:
        shown = ", ".join(f"'{s}'" for s in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        example = ", ".join(f"'{s}'" for s in list(sheet.index[:3]))
        raise ExpressionInputError(
            f"Sample names do not match: {len(missing)} of {len(values.index)} samples of the "
            f"matrix are not in the {name} ({shown}{more}); the sheet names e.g. {example}"
        )
    return sheet.loc[list(values.index)]


def load_dataset(
    counts_path: str | os.PathLike,
    sheet_path: str | os.PathLike | None = None,
    orientation: Orientation = "auto",
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ExpressionData:
    """Read a matrix file (CSV/TSV/XLSX or ``.h5ad``) and, for tables, its sample sheet (a job)."""
    counts_path = Path(counts_path)
    if counts_path.suffix.lower() == ".h5ad":
        return load_h5ad(counts_path, progress=progress, is_cancelled=is_cancelled)
    progress(0.1, f"Reading {counts_path.name}")
    sheet = None
    if sheet_path is not None:
        sheet = read_sample_sheet(sheet_path)
    check_cancelled(is_cancelled)
    values, used = read_matrix(
        counts_path, orientation, set(sheet.index) if sheet is not None else None
    )
    check_cancelled(is_cancelled)
    notes: list[str] = []
    if sheet is None:
        samples = pd.DataFrame(index=values.index.copy())
        samples.index.name = "sample"
    else:
        samples = match_samples(values, sheet, Path(sheet_path).name)
        extra = len(sheet.index) - len(samples.index)
        if extra:
            notes.append(f"{extra} sample(s) of the sheet are not in the matrix and were ignored")
    kind = classify_values(values.to_numpy())
    progress(1.0, f"Read {counts_path.name}")
    return ExpressionData(
        values=values,
        samples=samples,
        kind=kind,
        source=str(counts_path),
        orientation=used,
        notes=tuple(notes),
    )


def reorient(data: ExpressionData) -> ExpressionData:
    """The same file read the other way round (samples become genes); sample sheet dropped."""
    values = data.values.T.copy()
    samples = pd.DataFrame(index=values.index.copy())
    samples.index.name = "sample"
    other = "samples_x_genes" if data.orientation == "genes_x_samples" else "genes_x_samples"
    return replace(
        data,
        values=values,
        samples=samples,
        orientation=other,
        notes=(*data.notes, "Orientation switched: load the sample sheet again"),
    )


# ----------------------------------------------------------------------------------------------
# AnnData


def demo_path() -> Path:
    """scanpy's ``pbmc68k_reduced`` file, found without importing scanpy (slow)."""
    spec = importlib.util.find_spec("scanpy")
    if spec is None or not spec.submodule_search_locations:
        raise ExpressionInputError("The demo needs the scanpy package, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / DEMO_NAME
    if not path.is_file():
        raise ExpressionInputError(f"scanpy's demo file is missing: {path}")
    return path


def load_h5ad(
    path: str | os.PathLike,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> ExpressionData:
    """Read an AnnData file: ``.raw`` when present (unscaled values), else ``.X``; obs as sheet."""
    import warnings

    import anndata
    import scipy.sparse as sp

    path = Path(path)
    progress(0.1, f"Reading {path.name}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adata = anndata.read_h5ad(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ExpressionInputError(f"{path.name}: cannot read the AnnData file ({exc})") from exc
    check_cancelled(is_cancelled)
    if adata.raw is not None:
        matrix, genes = adata.raw.X, adata.raw.var_names
    else:
        matrix, genes = adata.X, adata.var_names
    matrix = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    values = pd.DataFrame(
        matrix.astype(np.float64),
        index=pd.Index([str(o) for o in adata.obs_names]),
        columns=pd.Index([str(g) for g in genes]),
    )
    values = values.loc[:, ~values.columns.duplicated()]
    samples = adata.obs.copy()
    samples.index = values.index
    for column in samples.columns:
        if isinstance(samples[column].dtype, pd.CategoricalDtype):
            samples[column] = samples[column].astype(str)
    progress(1.0, f"Read {path.name}")
    return ExpressionData(
        values=values,
        samples=samples,
        kind=classify_values(matrix),
        source=str(path),
        orientation="samples_x_genes",
        single_cell=True,
    )


def load_demo(
    *, progress: ProgressCallback = no_progress, is_cancelled: CancelCheck | None = None
) -> ExpressionData:
    """PBMC 68k reduced (700 cells × 765 genes, log-normalised; cell types in ``bulk_labels``)."""
    return load_h5ad(demo_path(), progress=progress, is_cancelled=is_cancelled)
