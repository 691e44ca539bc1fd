"""Exporting a library tab's shown rows, in the shown order: .csv/.tsv/.sdf, .xlsx with
structure pictures, or an .html hit-list report with the profile and the models used."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QWidget

from ui.library.panel import LibraryPanel

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle

EXPORT_FILTER = (
    "CSV (*.csv);;SDF with tags (*.sdf);;Excel workbook with structures (*.xlsx);;"
    "HTML report (*.html);;TSV (*.tsv)"
)


def ask_export_path(parent: QWidget, panel: LibraryPanel, folder: str) -> str | None:
    """Ask where to export ``panel``'s shown rows (a file in ``folder`` suggested); the suffix
    of the chosen format is added to a name given without one. None: the user cancelled."""
    shown = panel.model.rowCount()
    suggested = str(Path(panel.title).with_suffix("")) + "_export.csv"
    start = str(Path(folder) / suggested) if folder else suggested
    path, chosen_filter = QFileDialog.getSaveFileName(
        parent, f"Export {shown:,} shown rows", start, EXPORT_FILTER
    )
    if not path:
        return None
    if not Path(path).suffix:
        path += "." + chosen_filter.split("*.")[-1].rstrip(")")
    return path


def start_export(engine: Engine, panel: LibraryPanel, path: Path) -> tuple[JobHandle, int]:
    """Write ``panel``'s shown rows to ``path`` in the engine, with the profile and the model
    cards of its hit-list tools; returns the job's handle and the number of rows. Raises
    ``ValueError`` (a message for the user) for a file type that cannot be written."""
    from core.hitlist.presets import ORAL
    from core.hitlist.report import export_hit_list, hit_list_format

    hit_list_format(path)
    table = panel.visible_table()
    tools = panel.side_panel
    profile = getattr(tools, "profile", ORAL)
    cards = list(getattr(tools, "model_cards", []))
    handle = engine.submit(
        _export_job, export_hit_list, table, path, profile, cards, title=f"Export {path.name}"
    )
    return handle, len(table)


def _export_job(export, table, path, profile, cards, *, progress, is_cancelled):
    """Engine job around ``core.hitlist.report.export_hit_list`` (which takes no callbacks)."""
    progress(-1.0, f"Writing {Path(path).name}")
    return export(table, path, profile, cards, title=f"Hit list: {Path(path).stem}")
