"""The campaign a project holds, step by step (issue 17, part 5): disease data → disease genes →
targets → molecules → hit list → trial design.

:func:`campaign_steps` says what the project holds at each step (counts, names, last change) for
the window's Campaign overview; :func:`write_campaign_report` writes one self-contained HTML file
from it: the hit list's best molecules with their structures, the targets with a picture of each
structure, the chosen genes with their statistics and the trial design.

The inputs are plain data, so the overview (live areas) and ``drugdesk project FILE --report``
(a saved project) build the same thing: :class:`LibrarySummary` per library and, per work area,
the ``state`` dict it keeps in the project, whose ``"campaign"`` entry each area fills with the
keys documented in ``docs/ARCHITECTURE.md`` ("Projects keep every area").
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.fileio import write_text_atomic

DEFAULT_REPORT_MOLECULES = 20
"""Best molecules of the hit list shown in the campaign report."""

MAX_REPORT_GENES = 50
"""Chosen genes listed with their statistics (the rest are counted)."""


@dataclass(slots=True)
class LibrarySummary:
    """One library of the project, as the campaign sees it."""

    title: str
    table: pd.DataFrame
    profile: Mapping[str, Any] | None = None
    """The library's desirability profile (``DesirabilityProfile.to_dict()``), if ranked."""
    modified: str | None = None


@dataclass(slots=True)
class AreaRecord:
    """What a work area keeps in the project: its state (with ``"campaign"``), tables, when."""

    state: Mapping[str, Any] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame | None] = field(default_factory=dict)
    modified: str | None = None

    @property
    def campaign(self) -> dict[str, Any]:
        value = self.state.get("campaign") if isinstance(self.state, Mapping) else None
        return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class CampaignStep:
    """One step of the flow: the area it lives in, what the project holds there."""

    key: str
    title: str
    area: str
    """The work area a click leads to (``expression``, ``proteins``, ``libraries``…)."""
    lines: list[str]
    started: bool
    modified: str | None = None
    next_action: str = ""
    """What to do there when the step is empty (shown instead of counts)."""


def _texts(value: object, limit: int = 1000) -> list[str]:
    """``value`` as a list of texts (a project is not trusted: anything else gives [])."""
    if not isinstance(value, list):
        return []
    return [str(item) for item in value[:limit] if isinstance(item, (str, int, float))]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(float(value)) else float(value)


def _names(items: Sequence[str], shown: int = 4) -> str:
    items = list(items)
    if len(items) <= shown:
        return ", ".join(items)
    return ", ".join(items[:shown]) + f" and {len(items) - shown} more"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _structures(record: AreaRecord) -> list[dict[str, str]]:
    found = record.campaign.get("structures")
    if not isinstance(found, list):
        return []
    result = []
    for item in found[:200]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            result.append({key: str(value) for key, value in item.items() if value is not None})
    return result


def _design(record: AreaRecord) -> dict[str, Any] | None:
    design = record.campaign.get("design")
    return design if isinstance(design, dict) and design else None


def hit_list_library(libraries: Sequence[LibrarySummary]) -> LibrarySummary | None:
    """The library that is the hit list: the last one scored and ranked (it has the ``score``
    and ``rank`` columns that Score/Rank write), else None. A profile alone is not a hit list:
    every library opens with one."""
    ranked = [
        library
        for library in libraries
        if "score" in library.table.columns and "rank" in library.table.columns
    ]
    return ranked[-1] if ranked else None


def _valid_count(table: pd.DataFrame) -> int:
    if "valid" in table.columns and pd.api.types.is_bool_dtype(table["valid"].dtype):
        return int(table["valid"].sum())
    return len(table)


def _flagged(table: pd.DataFrame) -> int:
    if "flag" in table.columns:
        return int(pd.to_numeric(table["flag"], errors="coerce").fillna(0).astype(bool).sum())
    return 0


def campaign_steps(
    libraries: Sequence[LibrarySummary], areas: Mapping[str, AreaRecord]
) -> list[CampaignStep]:
    """The six steps of the flow with what the project holds at each."""
    expression = areas.get("expression", AreaRecord())
    proteins = areas.get("proteins", AreaRecord())
    models = areas.get("models", AreaRecord())
    trials = areas.get("trials", AreaRecord())
    steps: list[CampaignStep] = []

    datasets = _texts(expression.campaign.get("datasets"))
    contrast = expression.campaign.get("contrast")
    lines = []
    if datasets:
        lines.append(f"{_plural(len(datasets), 'data set')}: {_names(datasets, 2)}")
    if isinstance(contrast, str) and contrast:
        lines.append(f"Contrast: {contrast}")
    steps.append(
        CampaignStep(
            "disease",
            "Disease data",
            "expression",
            lines,
            bool(datasets),
            expression.modified,
            "Open an expression data set (counts and a sample sheet) in Expression.",
        )
    )

    tested = _number(expression.campaign.get("n_genes_tested"))
    significant = _number(expression.campaign.get("n_significant"))
    chosen = _texts(expression.campaign.get("chosen_genes"))
    lines = []
    if tested is not None:
        alpha = _number(expression.campaign.get("alpha"))
        cut = f" (adjusted p < {alpha:g})" if alpha is not None else ""
        lines.append(f"{int(significant or 0):,} of {int(tested):,} genes significant{cut}")
    if chosen:
        lines.append(f"Chosen: {_names(chosen)}")
    steps.append(
        CampaignStep(
            "genes",
            "Disease genes",
            "expression",
            lines,
            tested is not None or bool(chosen),
            expression.modified,
            "Run differential expression and choose the genes to follow.",
        )
    )

    structures = _structures(proteins)
    sites = _number(proteins.campaign.get("binding_sites"))
    placed = _texts(proteins.campaign.get("placed"))
    lines = []
    if structures:
        names = [
            s["name"] + (f" ({s['gene']})" if s.get("gene") else "")
            for s in structures
            if s.get("name")
        ]
        lines.append(f"{_plural(len(structures), 'structure')}: {_names(names, 3)}")
    if sites:
        lines.append(f"{_plural(int(sites), 'binding site')}")
    if placed:
        lines.append(f"Placed: {_names(placed, 3)}")
    steps.append(
        CampaignStep(
            "targets",
            "Targets",
            "proteins",
            lines,
            bool(structures),
            proteins.modified,
            "Look up a gene's protein in Proteins (Fetch) or open a structure.",
        )
    )

    model_entries = models.campaign.get("models")
    model_names = (
        [str(m.get("name")) for m in model_entries if isinstance(m, dict) and m.get("name")]
        if isinstance(model_entries, list)
        else []
    )
    molecules = sum(len(library.table) for library in libraries)
    valid = sum(_valid_count(library.table) for library in libraries)
    lines = []
    if libraries:
        lines.append(
            f"{_plural(len(libraries), 'library', 'libraries')}, "
            f"{_plural(molecules, 'molecule')} ({valid:,} valid)"
        )
    if model_names:
        lines.append(f"Models: {_names(model_names, 3)}")
    steps.append(
        CampaignStep(
            "molecules",
            "Molecules",
            "libraries",
            lines,
            bool(libraries),
            models.modified,
            "Open a compound library (SMILES, SDF, CSV or XLSX) and score it.",
        )
    )

    hits = hit_list_library(libraries)
    lines = []
    if hits is not None:
        profile_name = hits.profile.get("name") if hits.profile else None
        n_ranked = int((pd.to_numeric(hits.table["rank"], errors="coerce") > 0).sum())
        lines.append(f"{hits.title}: {n_ranked:,} ranked by {profile_name or 'a profile'}")
        flagged = _flagged(hits.table)
        if flagged:
            lines.append(f"{_plural(flagged, 'molecule')} flagged")
    steps.append(
        CampaignStep(
            "hitlist",
            "Hit list",
            "libraries",
            lines,
            hits is not None,
            hits.modified if hits is not None else None,
            "Score and rank a library with a desirability profile (Hit list tools).",
        )
    )

    design = _design(trials)
    trial_sets = _texts(trials.campaign.get("datasets"))
    lines = []
    if design is not None:
        n_total = _number(design.get("n_total"))
        power = _number(design.get("power"))
        summary = []
        if n_total is not None:
            summary.append(f"{int(n_total):,} patients")
        if power is not None:
            summary.append(f"power {power:.0%}")
        endpoint = design.get("endpoint")
        lines.append(
            (f"{endpoint}: " if isinstance(endpoint, str) and endpoint else "Design: ")
            + (", ".join(summary) or "inputs set")
        )
    if trial_sets:
        lines.append(f"{_plural(len(trial_sets), 'trial data set')}: {_names(trial_sets, 2)}")
    steps.append(
        CampaignStep(
            "trial",
            "Trial design",
            "trials",
            lines,
            design is not None or bool(trial_sets),
            trials.modified,
            "Analyse trial data and size the trial that would test the winner (Trials).",
        )
    )
    return steps


# ----------------------------------------------------------------------------------------------
# The HTML report


def structure_picture_svg(structure, width: int = 360, height: int = 260) -> str:
    """A picture of a protein structure as SVG: each chain's CA trace, projected on the plane of
    its two widest spreads (principal axes), coloured by chain; ligands as red dots.

    Cheap and deterministic (no 3D renderer), so a report can be written from the command line.
    ``structure`` is a :class:`core.protein.structure.ProteinStructure`.
    """
    ca = np.flatnonzero(structure.atom_names == "CA")
    polymer = structure.res_kinds[structure.atom_residue[ca]] == "polymer"
    ca = ca[polymer] if polymer.any() else ca
    ligand_atoms = np.flatnonzero(structure.res_kinds[structure.atom_residue] == "ligand")
    points = structure.coords[np.concatenate([ca, ligand_atoms])]
    if len(points) < 2:
        return ""
    centre = points.mean(axis=0)
    _, _, axes = np.linalg.svd(points - centre, full_matrices=False)
    projected = (structure.coords - centre) @ axes[:2].T
    shown = projected[np.concatenate([ca, ligand_atoms])]
    low, high = shown.min(axis=0), shown.max(axis=0)
    scale = min(
        (width - 20) / max(high[0] - low[0], 1e-6), (height - 20) / max(high[1] - low[1], 1e-6)
    )

    def xy(index: int) -> str:
        x = 10 + (projected[index, 0] - low[0]) * scale
        y = height - 10 - (projected[index, 1] - low[1]) * scale
        return f"{x:.1f},{y:.1f}"

    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'><rect width='100%' height='100%' fill='white'/>"
    ]
    chains = structure.res_chains[structure.atom_residue[ca]]
    numbers = structure.res_numbers[structure.atom_residue[ca]]
    for number, chain in enumerate(dict.fromkeys(chains.tolist())):
        members = ca[chains == chain]
        residue_numbers = numbers[chains == chain]
        # A gap in the residue numbering (missing loop) breaks the line.
        breaks = np.flatnonzero(np.diff(residue_numbers) > 1) + 1
        for piece in np.split(members, breaks):
            if len(piece) > 1:
                parts.append(
                    f"<polyline fill='none' stroke='{palette[number % len(palette)]}' "
                    f"stroke-width='1.6' stroke-linejoin='round' "
                    f"points='{' '.join(xy(i) for i in piece)}'/>"
                )
    for index in ligand_atoms[:2000]:
        x, y = xy(index).split(",")
        parts.append(f"<circle cx='{x}' cy='{y}' r='2.2' fill='#d62728'/>")
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: object, decimals: int = 3) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.2e}"
        return f"{value:.{decimals}f}"
    return html.escape(str(value))


def _ranked_hits(hits: LibrarySummary, top: int) -> tuple[pd.DataFrame, list[str], str]:
    """The hit list's best ``top`` rows (by its ``rank`` column, as the window ranked them: a
    repeated molecule once), the columns to show, and a note on how it was ranked."""
    from core.hitlist.desirability import DesirabilityProfile, ProfileError

    table = hits.table
    rank = pd.to_numeric(table["rank"], errors="coerce")
    # Ranks run 1, 2, 3…: the best ``top`` are found without sorting a million rows.
    best = (rank > 0) & (rank <= top)
    shown = table[best].assign(_rank=rank[best]).sort_values("_rank", kind="stable")
    shown = shown.drop(columns="_rank").head(top)
    columns = ["score"]
    note = "ranked by their desirability score"
    try:
        profile = DesirabilityProfile.from_dict(dict(hits.profile or {}))
    except ProfileError:
        return shown, columns, note
    columns += [c for c in profile.columns if c in shown.columns and c != "score"]
    note = f"ranked by the profile '{profile.name}' ({profile.combine} mean of desirabilities)"
    return shown, columns, note


def _genes_table(expression: AreaRecord) -> tuple[pd.DataFrame | None, list[str]]:
    chosen = _texts(expression.campaign.get("chosen_genes"))
    results = expression.tables.get("results") if expression.tables else None
    if not isinstance(results, pd.DataFrame) or results.empty:
        return None, chosen
    if chosen:
        present = [gene for gene in chosen if gene in results.index]
        if present:
            return results.loc[present], chosen
    sort = next(
        (c for c in results.columns if str(c).lower() in ("padj", "adjusted p", "p_adj", "fdr")),
        None,
    )
    top = results.sort_values(sort).head(10) if sort else results.head(10)
    return top, chosen


def write_campaign_report(
    path: str | os.PathLike,
    project_name: str,
    libraries: Sequence[LibrarySummary],
    areas: Mapping[str, AreaRecord],
    *,
    structure_pictures: Mapping[str, str] | None = None,
    molecules: int = DEFAULT_REPORT_MOLECULES,
) -> Path:
    """Write the campaign report (one HTML file, pictures inline; atomic).

    ``structure_pictures`` maps a structure's name to an SVG (or an ``<img>`` tag) drawn by the
    caller; a structure without one gets :func:`structure_picture_svg` of its file when the
    proteins area names a readable file for it, else its name only.
    Raises :class:`core.fileio.OutputError` when the file cannot be written.
    """
    text = campaign_report_html(
        project_name,
        libraries,
        areas,
        structure_pictures=structure_pictures,
        molecules=molecules,
    )
    return write_text_atomic(path, text)


def campaign_report_html(
    project_name: str,
    libraries: Sequence[LibrarySummary],
    areas: Mapping[str, AreaRecord],
    *,
    structure_pictures: Mapping[str, str] | None = None,
    molecules: int = DEFAULT_REPORT_MOLECULES,
    pictures: bool = True,
    flow: bool = True,
) -> str:
    """The campaign report as HTML text. ``pictures=False`` leaves out the molecule and structure
    pictures and ``flow=False`` the six steps (the window's preview shows both its own way)."""
    from core.chem.depict import molecule_svg

    steps = campaign_steps(libraries, areas)
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Campaign report: {project_name}"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}"
        "table{border-collapse:collapse;font-size:13px;margin-bottom:12px}"
        "td,th{border:1px solid #ccc;padding:4px 6px;text-align:right;vertical-align:middle}"
        "th{background:#f0f0f0}td.text{text-align:left;max-width:280px;word-break:break-word}"
        ".flow{display:flex;gap:6px;flex-wrap:wrap;align-items:stretch;margin:12px 0}"
        ".step{border:1px solid #bbb;border-radius:6px;padding:8px;width:150px;font-size:12px}"
        ".step.empty{color:#888;border-style:dashed}.arrow{align-self:center;color:#888}"
        ".figure{display:inline-block;margin:6px;text-align:center;font-size:12px}"
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Created {created} by DrugDesk from the project {html.escape(project_name)}.</p>",
    ]
    if flow:
        parts.append("<div class='flow'>")
    for number, step in enumerate(steps if flow else []):
        if number:
            parts.append("<div class='arrow'>&#8594;</div>")
        body = (
            "".join(f"<div>{html.escape(line)}</div>" for line in step.lines)
            if step.started
            else f"<div>Not started. {html.escape(step.next_action)}</div>"
        )
        parts.append(
            f"<div class='step{'' if step.started else ' empty'}'><b>{html.escape(step.title)}"
            f"</b>{body}</div>"
        )
    if flow:
        parts.append("</div>")

    # Hit list
    hits = hit_list_library(libraries)
    parts.append("<h2>Hit list</h2>")
    if hits is None:
        parts.append("<p>No library of this project is scored and ranked yet.</p>")
    else:
        shown, columns, note = _ranked_hits(hits, molecules)
        parts.append(
            f"<p>The best {len(shown):,} of {len(hits.table):,} molecules of "
            f"<b>{html.escape(hits.title)}</b>, {html.escape(note)}.</p>"
        )
        name_column = "name" if "name" in shown.columns else None
        smiles_column = next(
            (c for c in ("canonical_smiles", "smiles") if c in shown.columns), None
        )
        parts.append("<table><tr><th>Rank</th>" + ("<th>Structure</th>" if pictures else ""))
        if name_column:
            parts.append("<th>Name</th>")
        parts += [f"<th>{html.escape(str(c))}</th>" for c in columns]
        parts.append("</tr>")
        for rank, (_, row) in enumerate(shown.iterrows(), start=1):
            parts.append(f"<tr><td>{rank}</td>")
            if pictures:
                smiles = row.get(smiles_column) if smiles_column else None
                svg = molecule_svg(smiles, 200, 140) if isinstance(smiles, str) and smiles else None
                picture = svg[svg.find("<svg") :] if svg and "<svg" in svg else ""
                parts.append(f"<td>{picture}</td>")
            if name_column:
                parts.append(f"<td class='text'>{_cell(row[name_column])}</td>")
            parts += [f"<td>{_cell(row[c])}</td>" for c in columns]
            parts.append("</tr>")
        parts.append("</table>")

    # Targets
    proteins = areas.get("proteins", AreaRecord())
    structures = _structures(proteins)
    parts.append("<h2>Targets</h2>")
    if not structures:
        parts.append("<p>No protein structure in this project yet.</p>")
    drawn = dict(structure_pictures or {})
    for item in structures:
        name = item.get("name", "")
        caption = " · ".join(
            html.escape(text)
            for text in (name, item.get("gene", ""), item.get("source", ""), item.get("title", ""))
            if text
        )
        if not pictures:
            parts.append(f"<div>{caption}</div>")
            continue
        picture = drawn.get(name) or _picture_from_file(item.get("path", ""))
        parts.append(
            f"<div class='figure'>{picture or '<i>(no picture: file not available)</i>'}"
            f"<div>{caption}</div></div>"
        )

    # Genes
    expression = areas.get("expression", AreaRecord())
    genes, chosen = _genes_table(expression)
    parts.append("<h2>Disease genes</h2>")
    if genes is None:
        if chosen:
            parts.append(f"<p>Chosen genes: {html.escape(', '.join(chosen))}.</p>")
        else:
            parts.append("<p>No differential expression results in this project yet.</p>")
    else:
        heading = "Chosen genes" if chosen else "Most significant genes (none chosen)"
        shown_genes = genes.head(MAX_REPORT_GENES)
        numeric = [c for c in shown_genes.columns if pd.api.types.is_numeric_dtype(shown_genes[c])]
        parts.append(f"<p>{heading}: {len(genes):,}.</p><table><tr><th>Gene</th>")
        parts += [f"<th>{html.escape(str(c))}</th>" for c in numeric]
        parts.append("</tr>")
        for gene, row in shown_genes.iterrows():
            parts.append(f"<tr><td class='text'>{html.escape(str(gene))}</td>")
            parts += [f"<td>{_cell(row[c])}</td>" for c in numeric]
            parts.append("</tr>")
        parts.append("</table>")

    # Trial design
    trials = areas.get("trials", AreaRecord())
    design = _design(trials)
    parts.append("<h2>Trial design</h2>")
    if design is None:
        parts.append("<p>No trial design in this project yet.</p>")
    else:
        parts.append("<table>")
        for key, value in design.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                label = str(key).replace("_", " ")
                parts.append(
                    f"<tr><th>{html.escape(label)}</th><td class='text'>{_cell(value)}</td></tr>"
                )
        parts.append("</table>")
    analyses = _texts(trials.campaign.get("analyses"))
    if analyses:
        parts.append(f"<p>Analyses: {html.escape('; '.join(analyses))}.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def campaign_inputs(contents) -> tuple[list[LibrarySummary], dict[str, AreaRecord]]:
    """The campaign's inputs from a saved project (a
    :class:`core.project.store.ProjectContents`)."""
    libraries = [
        LibrarySummary(stored.title, stored.library.table, stored.profile, stored.modified)
        for stored in contents.libraries
    ]
    areas = {
        name: AreaRecord(stored.state, stored.tables, stored.modified)
        for name, stored in contents.areas.items()
    }
    return libraries, areas


def _picture_from_file(path: str) -> str:
    if not path or not Path(path).is_file():
        return ""
    from core.protein.structure import StructureError, read_structure

    try:
        structure = read_structure(path)
    except (StructureError, OSError, ValueError):
        return ""
    return structure_picture_svg(structure)


__all__ = [
    "DEFAULT_REPORT_MOLECULES",
    "AreaRecord",
    "CampaignStep",
    "LibrarySummary",
    "campaign_inputs",
    "campaign_report_html",
    "campaign_steps",
    "hit_list_library",
    "structure_picture_svg",
    "write_campaign_report",
]
