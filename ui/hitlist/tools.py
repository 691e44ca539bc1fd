"""Hit-list tools beside one library table: Rank (desirability profile), Find (substructure,
similarity, clusters, scaffolds, diverse picks), Chart (scatter and histogram linked with the
table's selection) and ADMET (the current molecule's predicted endpoints).

The tools belong to one :class:`~ui.library.panel.LibraryPanel`; heavy work (fingerprints,
substructure index, model predictions, clustering) runs in the engine, and everything cheap (a
profile change re-ranks a million rows in well under a second) runs at once. Each tab is a widget
of its own (:mod:`ui.hitlist.rank_tab`, :mod:`ui.hitlist.find_tab`, :mod:`ui.hitlist.chart`,
:mod:`ui.hitlist.admet_view`) with its own jobs; this module keeps the shell that places them and
tells them when the panel's table changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from core.hitlist.desirability import DesirabilityProfile
from ui.hitlist.admet_view import AdmetView
from ui.hitlist.chart import ChartView
from ui.hitlist.find_tab import FindTab
from ui.hitlist.forms import scrolling
from ui.hitlist.rank_tab import RankTab, registered_models
from ui.jobs.handle import JobHandle


class HitListTools(QTabWidget):
    """Rank / Find / Chart / ADMET for one library panel.

    Parameters
    ----------
    panel
        The library panel the tools work on.
    engine
        Runs the tools' jobs (``submit`` returns a job handle).
    query_smiles, query_name
        The Molecule panel's structure and its name (a similarity search's query when none is
        typed). Read through these attributes at each search, so they may be replaced.
    model_entries
        The registered models that may predict; default: the user's and the shipped ones.
    """

    status_message = Signal(str)

    def __init__(
        self,
        panel,
        engine,
        query_smiles: Callable[[], str] = lambda: "",
        model_entries: Callable[[], list] | None = None,
        parent: QWidget | None = None,
        query_name: Callable[[], str] = lambda: "",
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.engine = engine
        self.query_smiles = query_smiles
        self.query_name = query_name
        """The Molecule panel's name for its structure (names a search's query molecule)."""
        self.model_entries = model_entries or registered_models
        self.rank_tab = RankTab(panel, engine, lambda: self.model_entries())
        self.find_tab = FindTab(
            panel, engine, lambda: self.query_smiles(), lambda: self.query_name()
        )
        self.chart = ChartView()
        self.admet_view = AdmetView()
        self.addTab(scrolling(self.rank_tab), "Rank")
        self.addTab(scrolling(self.find_tab), "Find")
        self.addTab(self.chart, "Chart")
        self.addTab(self.admet_view, "ADMET")
        # The Rank tab's widgets that scripts/docs_screenshots.py and benchmarks/bench_gui_scale.py
        # drive, under the names they had before the tabs were widgets of their own.
        self.preset_box = self.rank_tab.preset_box
        self.model_list = self.rank_tab.model_list
        self.score_button = self.rank_tab.score_button
        self.rank_status = self.rank_tab.rank_status
        self.rank_tab.status_message.connect(self.status_message)
        self.chart.points_clicked.connect(self._on_chart_clicked)
        self.currentChanged.connect(self._on_tab_changed)
        panel.current_row_changed.connect(self._on_current_row_changed)
        panel.selection_changed.connect(self.chart.set_selected)
        # The chart shows the rows the table shows (its filters and search results).
        panel.model.filter_changed.connect(self._on_table_filtered)
        panel.columns_changed.connect(self._on_columns_changed)
        panel.rows_changed.connect(self._on_columns_changed)  # a row added or edited
        panel.library_changed.connect(self.library_loaded)

    # ------------------------------------------------------------------------------------------
    # The panel's table, and the tabs that show it

    def table(self) -> pd.DataFrame | None:
        library = self.panel.library
        return None if library is None else library.table

    def library_loaded(self) -> None:
        """Call when the panel's library arrives (or changes wholesale)."""
        self.find_tab.forget_indexes()
        self._on_columns_changed()
        self.rank_tab.set_profile(self.rank_tab.profile)

    def _on_columns_changed(self) -> None:
        table = self.table()
        if table is not None:
            self.rank_tab.update_columns()
            self.chart.set_table(table, self._shown_rows())
            if self.currentWidget() is self.admet_view:  # new values for the row shown
                self.admet_view.show_row(self.panel.current_row())

    def _shown_rows(self) -> np.ndarray | None:
        if self.panel.library is None:
            return None
        return np.array(self.panel.model.visible_positions(), dtype=np.int64)

    def _on_table_filtered(self, *_args) -> None:
        if self.chart.table is not None and self.chart.table is self.table():
            self.chart.set_rows(self._shown_rows())

    def _on_current_row_changed(self, row) -> None:
        # Filled only while the ADMET tab is shown: the tab reads the current row when opened.
        if self.currentWidget() is self.admet_view or row is None:
            self.admet_view.show_row(row)

    def _on_tab_changed(self, _index: int) -> None:
        if self.currentWidget() is self.admet_view:
            # The row as it is now: a score since it became current added its ADMET values.
            self.admet_view.show_row(self.panel.current_row())

    def _on_chart_clicked(self, positions) -> None:
        self.panel.select_positions(positions)

    # ------------------------------------------------------------------------------------------
    # Jobs

    def is_busy(self) -> bool:
        """True while a job of these tools (a score, a search…) is still running."""
        return self.rank_tab.jobs.is_busy() or self.find_tab.jobs.is_busy()

    def shutdown(self) -> None:
        """Cancel these tools' jobs (their library tab is closing); their outcome is ignored."""
        self.rank_tab.jobs.cancel_all(forget=True)
        self.find_tab.jobs.cancel_all(forget=True)

    # ------------------------------------------------------------------------------------------
    # Rank, as the window, projects, scripts and tests ask for it

    @property
    def profile(self) -> DesirabilityProfile:
        """The desirability profile molecules are ranked by (saved with projects)."""
        return self.rank_tab.profile

    @property
    def model_cards(self) -> list[dict]:
        """Cards of the models whose predictions the last score used (for reports)."""
        return self.rank_tab.model_cards

    def set_profile(self, profile: DesirabilityProfile) -> None:
        self.rank_tab.set_profile(profile)

    def numeric_columns(self) -> list[str]:
        return self.rank_tab.numeric_columns()

    def add_criterion(self) -> None:
        self.rank_tab.add_criterion()

    def remove_criterion(self) -> None:
        self.rank_tab.remove_criterion()

    def choose_profile_file(self) -> None:
        self.rank_tab.choose_profile_file()

    def load_profile_file(self, path: str | Path) -> bool:
        return self.rank_tab.load_profile_file(path)

    def choose_save_file(self) -> None:
        self.rank_tab.choose_save_file()

    def save_profile_file(self, path: str | Path) -> bool:
        return self.rank_tab.save_profile_file(path)

    def refresh_models(self) -> None:
        self.rank_tab.refresh_models()

    def checked_models(self) -> tuple[Path, ...]:
        return self.rank_tab.checked_models()

    def rerank(self) -> bool:
        return self.rank_tab.rerank()

    def score(self) -> JobHandle | None:
        return self.rank_tab.score()

    # ------------------------------------------------------------------------------------------
    # Find, likewise

    def find_similar_to(self, smiles: str, name: str = "") -> None:
        """Show the Find tab and search with ``smiles`` (a molecule sent from another area, e.g.
        a protein's ligand) named ``name``."""
        for index in range(self.count()):
            if self.widget(index).isAncestorOf(self.find_tab):
                self.setCurrentIndex(index)
        self.find_tab.find_similar_to(smiles, name)

    def similarity_search(self) -> None:
        self.find_tab.similarity_search()

    def substructure_search(self) -> None:
        self.find_tab.substructure_search()

    def cluster(self) -> None:
        self.find_tab.cluster()

    def scaffolds(self) -> None:
        self.find_tab.scaffolds()

    def diverse_pick(self) -> None:
        self.find_tab.diverse_pick()
