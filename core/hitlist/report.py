"""Hit-list files: the ranked table as CSV/SDF/XLSX (with pictures) or a self-contained HTML report."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.chem.depict import molecule_svg
from core.chem.export import export_format, export_table
from core.fileio import write_text_atomic
from core.hitlist.desirability import DesirabilityProfile

REPORT_FORMATS = (".csv", ".tsv", ".sdf", ".xlsx", ".html")
DEFAULT_REPORT_ROWS = 100


def hit_list_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    try:
        return export_format(path)
    except ValueError:
        raise ValueError(
            f"Cannot write '{Path(path).name}': choose a file ending in "
            + ", ".join(REPORT_FORMATS)
        ) from None


def export_hit_list(
    table: pd.DataFrame,
    path: str | os.PathLike,
    profile: DesirabilityProfile,
    model_cards: Sequence[dict] = (),
    *,
    title: str = "Hit list",
    report_rows: int = DEFAULT_REPORT_ROWS,
) -> Path:
    """Write a ranked table (best first) in the format the suffix names; atomic.

    Tables go through :func:`core.chem.export.export_table` (formula-safe cells). A failed write
    raises :class:`core.fileio.OutputError` naming the file and the reason.
    """
    if hit_list_format(path) == "html":
        return write_html_report(table, path, profile, model_cards, title=title, top=report_rows)
    return export_table(table, path, pictures=True)


def _cell(value: object, decimals: int = 3) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{decimals}f}"
    return html.escape(str(value))


def _svg(smiles: object) -> str:
    if not isinstance(smiles, str) or not smiles:
        return ""
    svg = molecule_svg(smiles, 220, 160)
    if svg is None:
        return ""
    return svg[svg.find("<svg") :] if "<svg" in svg else ""


def write_html_report(
    table: pd.DataFrame,
    path: str | os.PathLike,
    profile: DesirabilityProfile,
    model_cards: Sequence[dict] = (),
    *,
    title: str = "Hit list",
    top: int = DEFAULT_REPORT_ROWS,
    n_ranked: int | None = None,
) -> Path:
    """A single HTML file: the top rows with structures, scores and the profile's columns, the
    profile itself (criteria, weights, notes), the models used with their cards, and the date.

    ``n_ranked``: the number of ranked molecules the text states, when ``table`` holds only the
    best of them (a hit list streamed from a cluster's parts); ``len(table)`` by default."""
    shown = table.head(top)
    n_ranked = len(table) if n_ranked is None else n_ranked
    columns = [c for c in ("rank", "score") if c in shown.columns]
    columns += [c for c in profile.columns if c in shown.columns and c not in columns]
    columns += [c for c in shown.columns if str(c).startswith("d_") and c not in columns]
    name_column = "name" if "name" in shown.columns else None
    smiles_column = "canonical_smiles" if "canonical_smiles" in shown.columns else "smiles"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:24px;color:#222}"
        "table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:4px 6px;text-align:right;vertical-align:middle}"
        "th{background:#f0f0f0}td.text{text-align:left;max-width:260px;word-break:break-all}"
        "caption{text-align:left;font-weight:bold;margin:8px 0}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Created {created} by DrugDesk. {n_ranked:,} ranked molecules; the best "
        f"{len(shown):,} are shown.</p>",
        f"<h2>Top {len(shown):,}</h2><table><tr><th>Structure</th>",
    ]
    if name_column:
        parts.append("<th>Name</th>")
    parts += [f"<th>{html.escape(str(c))}</th>" for c in columns]
    parts.append("<th>SMILES</th></tr>")
    for _, row in shown.iterrows():
        parts.append(f"<tr><td>{_svg(row.get(smiles_column))}</td>")
        if name_column:
            parts.append(f"<td class='text'>{_cell(row[name_column])}</td>")
        parts += [f"<td>{_cell(row[c])}</td>" for c in columns]
        parts.append(f"<td class='text'>{_cell(row.get(smiles_column))}</td></tr>")
    parts.append("</table>")
    parts.append(f"<h2>Profile: {html.escape(profile.name)}</h2>")
    if profile.description:
        parts.append(f"<p>{html.escape(profile.description)}</p>")
    parts.append(
        f"<p>Combined by a weighted {html.escape(profile.combine)} mean.</p>"
        "<table><tr><th>Criterion</th><th>Column</th><th>Shape</th><th>Thresholds</th>"
        "<th>Weight</th></tr>"
    )
    for criterion in profile.criteria:
        if criterion.shape == "logistic":
            thresholds = f"good {criterion.good:g}, bad {criterion.bad:g}"
        else:
            thresholds = ", ".join(f"({x:g}, {d:g})" for x, d in criterion.points)
        parts.append(
            f"<tr><td class='text'>{html.escape(criterion.title)}</td>"
            f"<td class='text'>{html.escape(criterion.column)}</td>"
            f"<td class='text'>{criterion.shape}</td><td class='text'>{thresholds}</td>"
            f"<td>{criterion.weight:g}</td></tr>"
        )
    parts.append("</table>")
    if profile.notes:
        parts.append(
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in profile.notes) + "</ul>"
        )
    if model_cards:
        parts.append("<h2>Models</h2>")
        for card in model_cards:
            parts.append("<table>")
            for key in ("name", "task", "target_names", "split", "metrics", "created", "data_hash"):
                if key in card:
                    parts.append(
                        f"<tr><th>{key}</th><td class='text'>{html.escape(str(card[key]))}</td></tr>"
                    )
            parts.append("</table><br>")
    parts.append("</body></html>\n")
    return write_text_atomic(path, "".join(parts))
