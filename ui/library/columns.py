"""The columns of a library table: which ones, in which order, with their titles, kinds and
tooltips (the structure first, then what a chemist reads first, then the file's own columns)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.chem.library import DUPLICATE_COLUMN, Library
from core.chem.properties import (
    INTEGER_PROFILE,
    INTEGER_PROPERTIES,
    PROFILE_COLUMNS,
    PROFILE_DESCRIPTIONS,
    PROFILE_LABELS,
    PROPERTY_COLUMNS,
    PROPERTY_DESCRIPTIONS,
    PROPERTY_LABELS,
    TEXT_PROFILE,
)
from core.hitlist.presets import PUBLISHED_SCALES
from core.hitlist.scoring import RANK_COLUMN, SCORE_COLUMN
from core.project.annotations import ANNOTATION_COLUMNS, FLAG_COLUMN, NOTES_COLUMN, TAGS_COLUMN
from ui.tables.dataframe_model import ColumnSpec, infer_kind

STRUCTURE_KEY = "__structure__"
SCAFFOLD_KEY = "__scaffold__"
RESULT_COLUMNS: dict[str, tuple[str, str]] = {
    "similarity": ("Similarity", "float"),
    "pick_order": ("Pick order", "int"),
    "cluster": ("Cluster", "int"),
    "cluster_size": ("Cluster size", "int"),
    "scaffold": ("Scaffold", "structure"),
    "scaffold_group": ("Scaffold group", "int"),
    "scaffold_size": ("Scaffold size", "int"),
}
"""Columns the hit-list searches add, with their titles and kinds: shown beside the name, the
newest search first (see :func:`library_columns`)."""
_RESULT_GROUPS = {
    "cluster_size": "cluster",
    "scaffold_group": "scaffold",
    "scaffold_size": "scaffold",
}
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPTS = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")


def formula_text(formula: str) -> str:
    """A molecular formula as chemists write it: ``C9H8O4`` → ``C₉H₈O₄``, a charge raised
    (``C5H14NO+`` → ``C₅H₁₄NO⁺``, ``C2H8N2+2`` → ``C₂H₈N₂²⁺``)."""
    body, sign, count = re.fullmatch(r"(.*?)(?:([+-])(\d*))?", formula).groups()
    charge = f"{count}{sign}".translate(_SUPERSCRIPTS) if sign else ""
    return body.translate(_SUBSCRIPTS) + charge


def _result_specs(library: Library, newest_first: Sequence[str]) -> list[ColumnSpec]:
    """Search results present in the table: the newest search's columns first."""
    table = library.table
    present = [key for key in RESULT_COLUMNS if key in table.columns]
    groups: list[str] = []
    for key in [*newest_first, *present]:
        group = _RESULT_GROUPS.get(key, key)
        if key in table.columns and group not in groups:
            groups.append(group)
    ordered = [key for group in groups for key in present if _RESULT_GROUPS.get(key, key) == group]
    specs = []
    for key in ordered:
        title, kind = RESULT_COLUMNS[key]
        tooltip = library.column_notes.get(key, title)
        if kind == "structure":
            specs.append(
                ColumnSpec(SCAFFOLD_KEY, title, "structure", tooltip=tooltip, source=(key,))
            )
        else:
            specs.append(ColumnSpec(key, title, kind, decimals=2, tooltip=tooltip))
    return specs


def library_columns(library: Library, newest_results: Sequence[str] = ()) -> list[ColumnSpec]:
    """The columns a chemist reads first, then identifiers, status and the file's own columns.

    Search results (:data:`RESULT_COLUMNS`) come right after the name, those of the searches
    named in ``newest_results`` first; then the flag, rank, score and the profile's published
    value (CNS MPO 0–6)."""
    specs = [
        ColumnSpec(
            STRUCTURE_KEY,
            "Structure",
            "structure",
            source=("canonical_smiles", "smiles"),
            tooltip="2D structure of the standardised molecule",
        ),
        ColumnSpec("name", "Name", "text"),
        *_result_specs(library, newest_results),
        ColumnSpec(
            FLAG_COLUMN,
            "★",
            "bool",
            editable=True,
            tooltip="Flag: click the star, or press Ctrl+D to flag the selected rows",
        ),
    ]
    table = library.table
    # The hit list reads rank and score first; the chemist's tags and notes beside them.
    if RANK_COLUMN in table.columns:
        specs.append(
            ColumnSpec(
                RANK_COLUMN,
                "Rank",
                infer_kind(table[RANK_COLUMN].dtype),
                tooltip=library.column_notes.get(RANK_COLUMN, "Rank by score"),
            )
        )
    if SCORE_COLUMN in table.columns:
        specs.append(
            ColumnSpec(
                SCORE_COLUMN,
                "Score",
                "float",
                decimals=3,
                tooltip=library.column_notes.get(SCORE_COLUMN, "Desirability"),
            )
        )
    for scale in PUBLISHED_SCALES.values():
        if scale.column in table.columns:
            specs.append(
                ColumnSpec(
                    scale.column,
                    scale.title,
                    "float",
                    decimals=2,
                    tooltip=library.column_notes.get(scale.column, scale.guide_text),
                )
            )
    specs += [
        ColumnSpec(
            TAGS_COLUMN,
            "Tags",
            "text",
            editable=True,
            tooltip="Your tags, comma-separated (double-click or F2 to edit)",
        ),
        ColumnSpec(
            NOTES_COLUMN, "Notes", "text", editable=True, tooltip="Your notes (double-click or F2)"
        ),
    ]
    for key in PROPERTY_COLUMNS:
        kind = "int" if key in INTEGER_PROPERTIES else "float"
        decimals = 3 if key == "qed" else 2
        specs.append(
            ColumnSpec(
                key,
                PROPERTY_LABELS[key],
                kind,
                decimals=decimals,
                tooltip=PROPERTY_DESCRIPTIONS[key],
            )
        )
    for key in PROFILE_COLUMNS:  # formula, sa_score, fsp3, lipinski_violations, alerts
        kind = "text" if key in TEXT_PROFILE else "int" if key in INTEGER_PROFILE else "float"
        specs.append(
            ColumnSpec(
                key,
                PROFILE_LABELS[key],
                kind,
                decimals=2,
                tooltip=PROFILE_DESCRIPTIONS[key],
                formatter=formula_text if key == "formula" else None,
            )
        )
    specs += [
        ColumnSpec(
            "canonical_smiles",
            "Canonical SMILES",
            "text",
            tooltip="RDKit canonical SMILES after standardisation",
        ),
        ColumnSpec("inchikey", "InChIKey", "text"),
        ColumnSpec("valid", "Valid", "bool", tooltip="False when RDKit could not read the record"),
        ColumnSpec("error", "Problem", "text", tooltip="Why the record is invalid"),
        ColumnSpec(
            DUPLICATE_COLUMN,
            "Duplicate of",
            "text",
            tooltip="The first record with the same InChIKey",
        ),
        ColumnSpec("smiles", "Input SMILES", "text", tooltip="The SMILES as written in the file"),
    ]
    shown = {RANK_COLUMN, SCORE_COLUMN, *ANNOTATION_COLUMNS, *RESULT_COLUMNS}
    shown |= {scale.column for scale in PUBLISHED_SCALES.values()}
    for column in library.extra_columns:
        if column in shown or column not in table.columns:
            continue
        kind = infer_kind(table[column].dtype)
        tooltip = library.column_notes.get(column, f"Column '{column}' of the input file")
        specs.append(ColumnSpec(column, column, kind, decimals=3, tooltip=tooltip))
    return specs
