"""The work areas of the main window: one entry per panel in the left-hand sidebar.

Each area is built the first time the user opens it (``factory(window)``), so panels that import
heavy libraries (lifelines, PyDESeq2, gemmi) cost nothing at start-up. A panel added by a new
feature registers itself here with one line; the window only places it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.main_window import MainWindow


@dataclass(frozen=True, slots=True)
class Area:
    key: str
    title: str
    tooltip: str
    factory: Callable[[MainWindow], QWidget] | None
    """Builds the panel; ``None`` for the libraries area, which the window itself owns."""


def _campaign_area(window: MainWindow) -> QWidget:
    from ui.campaign.overview import CampaignOverview

    overview = CampaignOverview(
        window.area_context,
        window.project.campaign_inputs,
        window.show_area,
        lambda: window.project.path,
    )
    # Counted again when the project changes, and, while shown, soon after what it holds changes
    # (a library finished loading, an area's work), saved or not; many changes, one count.
    window.project.project_changed.connect(lambda _path: overview.refresh())
    window.project.content_changed.connect(overview.refresh_soon)
    return overview


def _models_area(window: MainWindow) -> QWidget:
    from ui.models_area.panel import ModelsPanel

    return ModelsPanel(window.area_context)


def _proteins_area(window: MainWindow) -> QWidget:
    from ui.protein.panel import ProteinPanel

    return ProteinPanel(window.area_context)


def _expression_area(window: MainWindow) -> QWidget:
    from ui.expression.panel import ExpressionPanel

    return ExpressionPanel(window.area_context)


def _trials_area(window: MainWindow) -> QWidget:
    from ui.trials.panel import TrialsPanel

    return TrialsPanel(window.area_context)


AREAS: list[Area] = [
    Area(
        "campaign",
        "Campaign",
        "The project at a glance: disease data → genes → targets → molecules → hit list → trial",
        _campaign_area,
    ),
    Area("libraries", "Libraries", "Compound libraries and hit lists", None),
    Area("models", "Models", "Train and apply property models", _models_area),
    Area("proteins", "Proteins", "Protein structures and structure prediction", _proteins_area),
    Area("expression", "Expression", "Differential gene expression", _expression_area),
    Area("trials", "Trials", "Clinical trial data, survival and design", _trials_area),
]
