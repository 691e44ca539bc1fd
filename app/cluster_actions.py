"""The window's work on a Dask cluster (issue 18): File > On the cluster > Compute properties of
a file…, Score a file…, Search a file…, and Preferences → Compute → Test connection.

One submenu holds the three: they share their condition (a scheduler named in Preferences, which
the submenu's first line shows) and their shape (a file in, a file out), and the File menu keeps
its length. Each runs as an engine job in the cluster lane (``core.cluster_jobs``: the same core
functions as ``drugdesk props|score|search --cluster``), so the Jobs panel shows it with its
progress ("local:4 (4 workers): 12 of 40 parts done") and a Cancel button; the window only asks
for the files and what to do, and tells the user how it ended: a notification with *Open*
(the output as a library tab: a properties table or a hit list as written, without computing
its molecules again here) or the one-line error and that nothing was written.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from core.chem.described_table import is_described_table, read_described_table
from core.chem.readers import ReadOptions
from core.cluster_jobs import (
    check_cluster,
    props_file_on_cluster,
    score_file_on_cluster,
    search_file_on_cluster,
)
from core.jobs import CLUSTER_LANE, LONG_LANE
from ui.dialogs.cluster_files import (
    PropsOnClusterDialog,
    ScoreOnClusterDialog,
    SearchOnClusterDialog,
)

if TYPE_CHECKING:
    from app.main_window import MainWindow
    from core.chem.cluster_search import SearchRequest
    from ui.jobs.handle import JobHandle

NO_SCHEDULER = (
    "No Dask scheduler is set: name one in Edit > Preferences > Compute "
    "(tcp://HOST:PORT, local:N or slurm:N)."
)
OPENABLE = (".csv", ".tsv", ".xlsx", ".sdf")
"""Outputs that open as a library tab (an .html report does not)."""


class ClusterActions(QObject):
    """File > On the cluster (props, score, search), and the connection test of Preferences."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: PropsOnClusterDialog | ScoreOnClusterDialog | SearchOnClusterDialog | None = (
            None
        )
        """The dialog while it is open."""
        self.last_job: JobHandle | None = None
        """The handle of the job started last (for scripts and tests)."""
        self.props_action = QAction("Compute &properties of a file…", window)
        self.props_action.setToolTip(
            "Properties and alerts of every molecule of a file, computed by the Dask cluster "
            "named in Edit > Preferences > Compute, written to a table file"
        )
        self.props_action.triggered.connect(self.choose_props_files)
        self.score_action = QAction("&Score a file…", window)
        self.score_action.setToolTip(
            "Rank every molecule of a file by a desirability profile, with models and ADMET, "
            "on the Dask cluster; writes a hit list file"
        )
        self.score_action.triggered.connect(self.choose_score)
        self.search_action = QAction("S&earch a file…", window)
        self.search_action.setToolTip(
            "Find the molecules of a file similar to a query, or containing a substructure, on "
            "the Dask cluster; writes the hits to a file"
        )
        self.search_action.triggered.connect(self.choose_search)
        self.menu = QMenu("On the c&luster", window)  # &Close library has C
        self.menu.setToolTipsVisible(True)
        self.scheduler_line = QAction(self.menu)
        self.scheduler_line.setEnabled(False)
        self.menu.addAction(self.scheduler_line)
        self.menu.addSeparator()
        for action in (self.props_action, self.score_action, self.search_action):
            self.menu.addAction(action)
        self.menu.aboutToShow.connect(self._on_menu_shown)
        self._on_menu_shown()

    def _on_menu_shown(self) -> None:
        address = self.window.settings.dask_scheduler
        self.scheduler_line.setText(
            f"Dask scheduler: {address}" if address else "No Dask scheduler set (Preferences)"
        )

    def _address(self) -> str | None:
        """The scheduler named in Preferences, or None after saying that none is."""
        address = self.window.settings.dask_scheduler
        if not address:
            self.window.show_error(NO_SCHEDULER)
            return None
        return address

    def test_connection(self, address: str) -> JobHandle:
        """Start a connection test of ``address`` (Preferences' Test connection button)."""
        return self.window.engine.submit(check_cluster, address, title=f"Test cluster {address}")

    # ------------------------------------------------------------------------------------------
    # Properties

    def choose_props_files(self) -> PropsOnClusterDialog | None:
        """Open the properties dialog (window-modal); OK runs :meth:`compute_props`."""
        address = self._address()
        if address is None:
            return None
        dialog = PropsOnClusterDialog(address, self.window)
        dialog.accepted.connect(
            lambda: self.compute_props(
                dialog.source(), dialog.output(), ship_records=dialog.ship_records()
            )
        )
        return self._open(dialog)

    def compute_props(
        self, source: Path, output: Path, *, ship_records: bool = False
    ) -> JobHandle | None:
        """Run ``props`` of ``source`` on the cluster into ``output``; returns the job's handle."""
        address = self._address()
        if address is None or self._is_input(source, output):
            return None
        from core.chem.library import LoadOptions

        options = LoadOptions(standardize=self.window.settings.standardize_options())
        handle = self.window.engine.submit(
            props_file_on_cluster,
            address,
            source,
            output,
            options,
            ship_records=ship_records,
            title=f"Properties of {source.name} on {address}",
            lane=CLUSTER_LANE,
        )
        self._tell_outcome(handle, f"Properties of {source.name}", output, "smiles")
        return handle

    # ------------------------------------------------------------------------------------------
    # Score

    def choose_score(self) -> ScoreOnClusterDialog | None:
        """Open the score dialog (window-modal); OK runs :meth:`score_file`."""
        address = self._address()
        if address is None:
            return None
        from core.hitlist.admet import is_available
        from ui.hitlist.rank_tab import registered_models

        dialog = ScoreOnClusterDialog(address, registered_models, is_available(), self.window)
        dialog.accepted.connect(
            lambda: self.score_file(
                dialog.source(),
                dialog.output(),
                dialog.models(),
                dialog.admet(),
                dialog.profile_key(),
                ship_records=dialog.ship_records(),
            )
        )
        return self._open(dialog)

    def score_file(
        self,
        source: Path,
        output: Path,
        models: tuple[Path, ...] = (),
        admet: bool = False,
        profile: str = "oral",
        *,
        ship_records: bool = False,
    ) -> JobHandle | None:
        """Score ``source`` on the cluster into the hit list ``output``; returns the handle."""
        address = self._address()
        if address is None or self._is_input(source, output):
            return None
        handle = self.window.engine.submit(
            score_file_on_cluster,
            address,
            source,
            output,
            tuple(str(m) for m in models),
            admet,
            profile,
            standardize=self.window.settings.standardize_options(),
            # As the Rank tab scores: the precision chosen in Preferences → Compute.
            precision=self.window.settings.inference_precision,
            ship_records=ship_records,
            title=f"Score {source.name} on {address}",
            lane=CLUSTER_LANE,
        )
        self._tell_outcome(handle, f"Scoring {source.name}", output, "smiles")
        return handle

    # ------------------------------------------------------------------------------------------
    # Search

    def choose_search(self) -> SearchOnClusterDialog | None:
        """Open the search dialog (window-modal), its query the Molecule panel's molecule;
        OK runs :meth:`search_file`."""
        address = self._address()
        if address is None:
            return None
        workspace = self.window.molecule_workspace
        smiles = workspace.current_smiles() if workspace.current_molecule() is not None else ""
        dialog = SearchOnClusterDialog(address, smiles, workspace.name(), self.window)
        dialog.accepted.connect(
            lambda: self.search_file(
                dialog.source(),
                dialog.output(),
                dialog.request(),
                ship_records=dialog.ship_records(),
            )
        )
        return self._open(dialog)

    def search_file(
        self, source: Path, output: Path, request: SearchRequest, *, ship_records: bool = False
    ) -> JobHandle | None:
        """Search ``source`` on the cluster, the hits written to ``output``; returns the handle."""
        address = self._address()
        if address is None or self._is_input(source, output):
            return None
        handle = self.window.engine.submit(
            search_file_on_cluster,
            address,
            source,
            output,
            request,
            ship_records=ship_records,
            title=f"Search {source.name} on {address}",
            lane=CLUSTER_LANE,
        )
        self._tell_outcome(handle, f"Searching {source.name}", output, "smiles")
        return handle

    # ------------------------------------------------------------------------------------------
    # Shared

    def _open(self, dialog):
        self.dialog = dialog
        dialog.finished.connect(partial(self._on_dialog_closed, dialog))
        dialog.open()
        return dialog

    def _on_dialog_closed(self, dialog, _result: int) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _is_input(self, source: Path, output: Path) -> bool:
        """Whether ``output`` is ``source`` itself (said to the user)."""
        try:
            same = output.resolve() == source.resolve()
        except OSError:
            same = False
        if same:
            self.window.show_error(f"{output.name} is the input file: choose another output.")
        return same

    def _tell_outcome(
        self, handle: JobHandle, doing: str, output: Path, smiles_column: str | None
    ) -> None:
        self.last_job = handle
        handle.finished.connect(partial(self._on_done, output, smiles_column))
        handle.failed.connect(partial(self._on_failed, doing, output))
        handle.cancelled.connect(
            lambda: self.window.show_status(
                f"{doing} on the cluster cancelled; nothing was written to {output.name}."
            )
        )

    def _on_done(self, output: Path, smiles_column: str | None, summary: object) -> None:
        text = f"{summary} Full path: {output}"
        if output.suffix.lower() not in OPENABLE:
            self.window.notifications.show_message(text, "success")
            return
        self.window.notifications.show_message(
            text,
            "success",
            action=("Open", partial(self.open_output, output, smiles_column)),
        )

    def _on_failed(self, doing: str, output: Path, message: str) -> None:
        line = (message.strip().splitlines() or ["unknown error"])[0]
        line = line.removeprefix("ClusterError: ").rstrip(".")
        # The core's advice names the command line's option; here it is a box in the dialog.
        line = line.replace(
            "add --cluster-ship-records", "tick “The workers share no disk with this computer”"
        )
        self.window.show_error(
            f"{doing} on the cluster failed: {line}. Nothing was written to {output.name}."
        )

    def open_output(self, output: Path, smiles_column: str | None = None):
        """Open a file a cluster job wrote as a library tab. A table of ``props``' columns (a
        properties table, a hit list) is read as written, its molecules not described again on
        this computer (``core.chem.described_table``); others (a search's hits) are opened as
        any compound file, their SMILES column named so that no column picker asks. Returns
        the reading job's handle or the loading tab."""
        self.window.show_area("libraries")
        if is_described_table(output):
            handle = self.window.engine.submit(
                read_described_table, output, title=f"Open {output.name}", lane=LONG_LANE
            )
            handle.finished.connect(partial(self._on_output_read, output))
            handle.failed.connect(
                lambda message: self.window.show_error(f"Could not open {output.name}: {message}")
            )
            return handle
        read = None
        if smiles_column and output.suffix.lower() != ".sdf":
            read = ReadOptions(smiles_column=smiles_column, name_column="name")
        return self.window.open_library(output, read)

    def _on_output_read(self, output: Path, library) -> None:
        libraries = self.window.libraries
        panel = libraries.add_library_tab(output.name, library, tooltip=str(output))
        libraries.show_panel(panel)
        self.window.show_status(f"{output.name}: {library.summary()} (as written)")


__all__ = ["NO_SCHEDULER", "ClusterActions"]
