"""The hit list file that ``drugdesk score`` writes, from a library and its scores.

One place for the rows, their order and their columns, so that the command line (one machine or
``--cluster``) and the window's *Score a file on the cluster…* write the same file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.chem.library import DUPLICATE_COLUMN
from core.hitlist.desirability import DesirabilityProfile
from core.hitlist.scoring import RANK_COLUMN, ScoringResult, ranked

PROBLEM_COLUMN = "problem"
"""Why a row of the file is not ranked ("" for a ranked row)."""

LEAD_COLUMNS = ("rank", "score", "name", "canonical_smiles")


@dataclass(slots=True, frozen=True)
class HitListFile:
    """A hit list written: ``table`` (every row of the library with the scoring columns, in file
    order), ``written`` (the rows the file got, in its order) and the counts that say it."""

    table: pd.DataFrame
    written: pd.DataFrame
    path: Path
    profile_name: str
    n_ranked: int
    n_invalid: int
    n_unscored: int
    n_duplicates: int
    n_written_ranked: int

    def describe(self) -> str:
        """One line: ``Ranked 9 of 12 molecules (1 invalid) by 'Oral'; wrote 12 rows (9
        ranked) to OUT``."""
        return (
            f"Ranked {self.n_ranked:,} of {len(self.table):,} molecules "
            f"({self.n_invalid:,} invalid) by '{self.profile_name}'; wrote {len(self.written):,} "
            f"rows ({self.n_written_ranked:,} ranked) to {self.path}"
        )


def output_rows(
    table: pd.DataFrame,
    profile_columns: Sequence[str],
    computed_columns: Sequence[str] = (),
    top: int | None = None,
    ranked_only: bool = False,
) -> pd.DataFrame:
    """The rows ``score`` writes, in order: ranked (best first), repeats of an earlier molecule,
    valid rows lacking a value the profile needs, invalid rows; with a ``problem`` column saying
    why a row is not ranked and an empty (``<NA>``) rank for them. A repeat takes its first
    copy's ``computed_columns`` (those computed from the structure, and the score), so that the
    two rows agree to the last digit. ``top`` or ``ranked_only``: the ranked rows only (at most
    ``top``)."""
    hits = ranked(table, top)
    if top is not None or ranked_only:
        return hits.assign(**{PROBLEM_COLUMN: ""})
    rank = table[RANK_COLUMN].to_numpy()
    valid = table["valid"].to_numpy(dtype=bool, na_value=False)
    repeat = np.zeros(len(table), dtype=bool)
    if DUPLICATE_COLUMN in table.columns:
        first = table[DUPLICATE_COLUMN].astype(object)
        repeat = (first.notna() & (first != "")).to_numpy() & valid & ~(rank > 0)
    unscored = valid & ~repeat & ~(rank > 0)
    problem = pd.Series("", index=table.index, dtype=object)
    if DUPLICATE_COLUMN in table.columns:
        problem[repeat] = "repeats " + table.loc[repeat, DUPLICATE_COLUMN].astype(str)
    lacking = [c for c in profile_columns if c in table.columns]
    for index in table.index[unscored]:
        missing = [c for c in lacking if pd.isna(table.at[index, c])]
        problem[index] = "no value for " + ", ".join(missing) if missing else "no score"
    errors = table["error"] if "error" in table.columns else pd.Series("", index=table.index)
    problem[~valid] = [str(e) or "invalid" for e in errors[~valid]]
    table = table.assign(**{PROBLEM_COLUMN: problem})
    if repeat.any() and "inchikey" in table.columns:
        keys = table["inchikey"].where(valid)
        first = keys.dropna().drop_duplicates(keep="first")
        source = pd.Series(first.index, index=first.to_numpy())
        rows_from = source.loc[keys[repeat].to_numpy()].to_numpy()
        for column in computed_columns:
            if column in table.columns and column != RANK_COLUMN:  # column by column: dtypes
                table.loc[repeat, column] = table.loc[rows_from, column].to_numpy()
    parts = [
        table.loc[hits.index],
        table[repeat],
        table[unscored],
        table[~valid],
    ]
    rows = pd.concat(parts)
    rows[RANK_COLUMN] = rows[RANK_COLUMN].where(rows[RANK_COLUMN] > 0).astype("Int64")
    return rows


def hit_list_columns(
    library_table: pd.DataFrame, scored: pd.DataFrame, profile_columns
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The library joined with its score columns ``scored``, the hit list's leading column
    order (rank, score, name, canonical_smiles, duplicate_of, problem, the columns the profile
    used with their ``_std`` and ``d_<column>``, the predictions; the rest follow), and the
    computed columns a repeat takes from its first copy. One layout for ``drugdesk score`` and
    the hit list a cluster streams (:mod:`core.hitlist.cluster_score`)."""
    from core.chem.properties import PROFILE_COLUMNS, PROPERTY_COLUMNS

    table = library_table.drop(columns=list(scored.columns), errors="ignore").join(scored)
    lead = list(LEAD_COLUMNS)
    flags = [DUPLICATE_COLUMN, PROBLEM_COLUMN]
    used = [c for c in profile_columns if c in table.columns and c not in lead]
    used_std = [f"{c}_std" for c in used if f"{c}_std" in table.columns]
    desirability = [c for c in scored.columns if str(c).startswith("d_")]
    predicted = [c for c in scored.columns if c not in (*lead, *used, *used_std, *desirability)]
    computed = ["canonical_smiles", *PROPERTY_COLUMNS, *PROFILE_COLUMNS]
    computed += [c for c in scored.columns if c not in computed]
    return table, lead + flags + used + used_std + desirability + predicted, computed


def write_hit_list(
    library_table: pd.DataFrame,
    result: ScoringResult,
    profile: DesirabilityProfile,
    output: str | os.PathLike,
    *,
    top: int | None = None,
    ranked_only: bool = False,
    title: str = "Hit list",
) -> HitListFile:
    """Write the hit list of ``library_table`` scored as ``result`` to ``output`` (atomically):
    the columns rank, score, name, canonical_smiles, duplicate_of, problem, the columns the
    profile used (with their ``_std`` and desirabilities ``d_<column>``), the predictions, then
    the rest; rows as :func:`output_rows` orders them. An .html report gets the ranked rows.

    Raises :class:`core.chem.export.ExportError` or ``OSError`` when the file cannot be written.
    """
    from core.hitlist.report import export_hit_list, hit_list_format

    output = Path(output)
    table, order, computed = hit_list_columns(library_table, result.columns, profile.columns)
    rows = output_rows(table, profile.columns, computed, top, ranked_only)
    rest = [c for c in rows.columns if c not in order]
    rows = rows[[c for c in order if c in rows.columns] + rest]
    hits = rows[rows[RANK_COLUMN].notna()] if RANK_COLUMN in rows.columns else rows
    # A report shows a hit list: its ranked rows (the best 100); a table keeps every row.
    written = hits if hit_list_format(output) == "html" else rows
    export_hit_list(written, output, profile, result.model_cards, title=title)
    valid = table["valid"]
    return HitListFile(
        table=table,
        written=written,
        path=output,
        profile_name=profile.name,
        n_ranked=int((table[RANK_COLUMN] > 0).sum()),
        n_invalid=int((~valid).sum()),
        n_unscored=int((valid & table["score"].isna()).sum()),
        n_duplicates=result.n_duplicates,
        n_written_ranked=len(hits),
    )


__all__ = ["PROBLEM_COLUMN", "HitListFile", "hit_list_columns", "output_rows", "write_hit_list"]
