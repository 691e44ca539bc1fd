"""The window's work on a Dask cluster (issue 18): File > Compute properties on the cluster… and
Preferences → Compute → Test connection.

Both run as engine jobs (``core.cluster_jobs``), so the Jobs panel shows them with their progress
("local:4 (4 workers): 12 of 40 parts done") and a Cancel button; the window only asks for the
files and tells the user how it ended. The scheduler is the one named in Preferences.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from core.cluster_jobs import check_cluster, props_file_on_cluster

if TYPE_CHECKING:
    from app.main_window import MainWindow
    from ui.jobs.handle import JobHandle

INPUT_FILTER = "Compound files (*.smi *.smiles *.txt *.csv *.tsv *.sdf *.sd);;All files (*)"
OUTPUT_FILTER = "CSV (*.csv);;TSV (*.tsv);;Excel (*.xlsx);;SDF (*.sdf)"


class ClusterActions(QObject):
    """File > Compute properties on the cluster…, and the connection test of Preferences."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.props_action = QAction("Compute properties on the &cluster…", window)
        self.props_action.setToolTip(
            "Properties and alerts of every molecule of a file, computed by the Dask cluster "
            "named in Edit > Preferences > Compute, written to a table file"
        )
        self.props_action.triggered.connect(self.choose_props_files)

    def test_connection(self, address: str) -> JobHandle:
        """Start a connection test of ``address`` (Preferences' Test connection button)."""
        return self.window.engine.submit(check_cluster, address, title=f"Test cluster {address}")

    def choose_props_files(self) -> None:
        address = self.window.settings.dask_scheduler
        if not address:
            self.window.show_error(
                "No Dask scheduler is set: name one in Edit > Preferences > Compute "
                "(tcp://HOST:PORT, local:N or slurm:N)."
            )
            return
        source, _ = QFileDialog.getOpenFileName(
            self.window, "Compute properties on the cluster: compound file", "", INPUT_FILTER
        )
        if not source:
            return
        suggested = str(Path(source).with_name(Path(source).stem + "_props.csv"))
        output, _ = QFileDialog.getSaveFileName(
            self.window, "Write the properties table to", suggested, OUTPUT_FILTER
        )
        if output:
            self.compute_props(Path(source), Path(output))

    def compute_props(self, source: Path, output: Path) -> JobHandle | None:
        """Run ``props`` of ``source`` on the cluster into ``output``; returns the job's handle."""
        address = self.window.settings.dask_scheduler
        if not address:
            self.window.show_error("No Dask scheduler is set (Edit > Preferences > Compute).")
            return None
        if output.resolve() == source.resolve():
            self.window.show_error(f"{output.name} is the input file: choose another output.")
            return None
        settings = self.window.settings
        from core.chem.library import LoadOptions

        options = LoadOptions(standardize=settings.standardize_options())
        handle = self.window.engine.submit(
            props_file_on_cluster,
            address,
            source,
            output,
            options,
            title=f"Properties of {source.name} on {address}",
        )
        handle.finished.connect(partial(self._on_props_done, output))
        handle.failed.connect(
            lambda message: self.window.show_error(
                f"Properties of {source.name} on the cluster failed: {message}. "
                f"Nothing was written to {output.name}."
            )
        )
        return handle

    def _on_props_done(self, output: Path, summary: object) -> None:
        self.window.notifications.show_message(
            f"{summary} ({output}; File > Open library… opens it).", "success"
        )


__all__ = ["ClusterActions"]
