"""The 3D view of a molecule: its conformers by energy, drawn with VTK, and their export.

``ConformerViewer`` shows a :class:`core.chem.conformers.ConformerEnsemble`; it never computes one.
Its "Predict 3D" button only emits :attr:`ConformerViewer.predict_requested`: the owner
submits :func:`core.chem.conformers.generate_conformers` to the engine, reports progress with
:meth:`ConformerViewer.set_busy` / :meth:`ConformerViewer.set_progress`, and hands the result to
:meth:`ConformerViewer.show_ensemble`.

Call :meth:`ConformerViewer.close_view` before the widget is destroyed (it finalises the VTK render
window; see ``ui/vtk_support.py`` for rendering without a display).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from vtkmodules.vtkRenderingCore import vtkRenderWindow

from core.chem.conformers import ConformerEnsemble, write_conformers
from ui.molecules.scene import STYLES, MoleculeScene
from ui.vtk_support import create_interactor

EXPORT_FILTERS = {
    "SDF, all conformers (*.sdf)": ("all", ".sdf"),
    "SDF, selected conformer (*.sdf)": ("selected", ".sdf"),
    "PDB, selected conformer (*.pdb)": ("selected", ".pdb"),
    "XYZ, selected conformer (*.xyz)": ("selected", ".xyz"),
}

_ERROR_STYLE = "color: #8a1c12;"
_NOTICE_STYLE = "color: #6b4a00;"


def conformer_label(rank: int, delta_kcal_mol: float) -> str:
    """``"#1   0.00 kcal/mol"``: rank from 1 and the energy above the lowest conformer."""
    if math.isnan(delta_kcal_mol):
        return f"#{rank}   no energy"
    return f"#{rank}   {delta_kcal_mol:.2f} kcal/mol"


class ConformerViewer(QWidget):
    """A VTK view of the selected conformer, the conformers by energy, style, reset and export."""

    predict_requested = Signal()
    cancel_requested = Signal()
    conformer_selected = Signal(int)  # position in energy order
    exported = Signal(str)  # path written
    export_failed = Signal(str)  # message for the user

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ensemble: ConformerEnsemble | None = None
        self._finalized = False

        self.predict_button = QPushButton("Predict 3D")
        self.predict_button.setToolTip(
            "Predict 3D structures: embed conformers (ETKDGv3), optimise them (MMFF94) and list them by energy"
        )
        self.predict_button.clicked.connect(self.predict_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.hide()
        self.style_combo = QComboBox()
        for key, label in STYLES.items():
            self.style_combo.addItem(label, key)
        self.style_combo.setToolTip("How atoms and bonds are drawn")
        self.style_combo.currentIndexChanged.connect(self._on_style_changed)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.setToolTip("Fit the molecule in the view (drag rotates, wheel zooms)")
        self.reset_button.clicked.connect(self.reset_view)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save the conformers as SDF, or the selected one as PDB or XYZ"
        )
        self.export_button.clicked.connect(self._on_export_clicked)

        self.scene = MoleculeScene()
        self._interactor = create_interactor(self)
        self._interactor.setMinimumSize(240, 200)
        self._interactor.GetRenderWindow().AddRenderer(self.scene.renderer)

        self.conformer_list = QListWidget()
        self.conformer_list.setToolTip("Conformers, lowest energy first; ΔE above the lowest")
        self.conformer_list.currentRowChanged.connect(self._on_conformer_changed)
        self.list_title = QLabel("Conformers")
        self.list_title.setWordWrap(True)
        list_box = QWidget()
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.list_title)
        list_layout.addWidget(self.conformer_list)
        list_box.setMinimumHeight(90)

        # The view above the conformer list: the Molecule panel is a narrow dock, and a list
        # beside the view needed 170 px more than a 1366-pixel screen has to spare.
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._interactor)
        splitter.addWidget(list_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()

        self.style_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.style_combo.setMinimumContentsLength(6)
        buttons = QHBoxLayout()
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        view_row = QHBoxLayout()
        view_row.addWidget(QLabel("Style:"))
        view_row.addWidget(self.style_combo, 1)
        view_row.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(view_row)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.message_label)

        self._interactor.Initialize()
        self.clear()

    # ------------------------------------------------------------------------------------------
    # Showing an ensemble

    def ensemble(self) -> ConformerEnsemble | None:
        return self._ensemble

    def show_ensemble(self, ensemble: ConformerEnsemble | None) -> None:
        """List the ensemble's conformers by energy and draw the lowest one."""
        if ensemble is None:
            self.clear()
            return
        self._ensemble = ensemble
        self.conformer_list.blockSignals(True)
        self.conformer_list.clear()
        field = ensemble.force_field or "no force field"
        self.list_title.setText(f"Conformers (ΔE, {field})")
        for rank, (energy, delta) in enumerate(
            zip(ensemble.energies_kcal_mol, ensemble.relative_energies(), strict=True), start=1
        ):
            item = QListWidgetItem(conformer_label(rank, delta))
            if not math.isnan(energy):
                item.setToolTip(f"E = {energy:.2f} kcal/mol ({ensemble.force_field})")
            self.conformer_list.addItem(item)
        self.conformer_list.blockSignals(False)
        self._set_message(ensemble.message, _NOTICE_STYLE if ensemble.timed_out else "")
        has_conformers = ensemble.n_conformers > 0
        self.export_button.setEnabled(has_conformers)
        self.reset_button.setEnabled(has_conformers)
        if has_conformers:
            self.conformer_list.setCurrentRow(0)  # draws it
            self.scene.reset_camera()
        else:
            self.scene.clear()
        self._render()

    def clear(self) -> None:
        """Show nothing (no molecule, or its structure is out of date)."""
        self._ensemble = None
        self.conformer_list.clear()
        self.list_title.setText("Conformers")
        self.scene.clear()
        self.export_button.setEnabled(False)
        self.reset_button.setEnabled(False)
        self._set_message("No 3D structure yet: Predict 3D computes conformers.")
        self._render()

    def selected_index(self) -> int | None:
        """Position of the conformer shown (0 = lowest energy), or ``None``."""
        row = self.conformer_list.currentRow()
        return row if row >= 0 else None

    def select(self, index: int) -> None:
        """Show conformer ``index`` (0 = lowest energy)."""
        if self._ensemble is None or not 0 <= index < self._ensemble.n_conformers:
            count = self._ensemble.n_conformers if self._ensemble else 0
            raise IndexError(f"No conformer #{index + 1}: {count} shown.")
        self.conformer_list.setCurrentRow(index)

    def set_style(self, style: str) -> None:
        """``"ball_and_stick"``, ``"sticks"`` or ``"spheres"``."""
        position = self.style_combo.findData(style)
        if position < 0:
            raise ValueError(f"Unknown style {style!r}: choose one of {', '.join(STYLES)}.")
        self.style_combo.setCurrentIndex(position)

    def reset_view(self) -> None:
        self.scene.reset_camera()
        self._render()

    # ------------------------------------------------------------------------------------------
    # Busy state (the owner runs the job)

    def set_busy(self, busy: bool, message: str = "") -> None:
        """Show that a prediction runs (indeterminate bar, Cancel) or that it ended."""
        self.predict_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.progress_bar.setVisible(busy)
        if busy:
            self.progress_bar.setRange(0, 0)
        if message or busy:
            self._set_message(message)

    def set_progress(self, fraction: float, message: str = "") -> None:
        """Progress of the running prediction (``fraction`` < 0: unknown)."""
        if not self.progress_bar.isVisible():
            self.set_busy(True)
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(1000 * min(fraction, 1.0)))
        if message:
            self._set_message(message)

    # ------------------------------------------------------------------------------------------
    # Export

    def export(self, path: str | os.PathLike, which: str = "selected") -> bool:
        """Write the selected conformer (``which="selected"``) or all of them to ``path``.

        The format follows the suffix (.sdf, .pdb, .xyz). Problems are shown under the view and
        emitted as :attr:`export_failed`, not raised; returns whether the file was written.
        """
        if which not in ("selected", "all"):
            raise ValueError(f"which must be 'selected' or 'all', not {which!r}")
        ensemble = self._ensemble
        index = self.selected_index()
        try:
            if ensemble is None or ensemble.n_conformers == 0:
                raise ValueError("No conformers to export: predict the 3D structure first.")
            indices = None if which == "all" else [index if index is not None else 0]
            # A few conformers of one molecule: milliseconds, so written on the GUI thread.
            count = write_conformers(ensemble, path, indices)
        except (ValueError, OSError) as exc:
            self._set_message(f"Export failed: {exc}", _ERROR_STYLE)
            self.export_failed.emit(str(exc))
            return False
        noun = "conformer" if count == 1 else "conformers"
        self._set_message(f"Wrote {count} {noun} to {path}")
        self.exported.emit(str(path))
        return True

    def _on_export_clicked(self) -> None:
        ensemble = self._ensemble
        stem = re.sub(r"[^\w.-]+", "_", (ensemble.name if ensemble else "") or "conformers")
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export conformers", f"{stem}.sdf", ";;".join(EXPORT_FILTERS)
        )
        if not path:
            return
        which, suffix = EXPORT_FILTERS.get(chosen, ("selected", ""))
        if not Path(path).suffix and suffix:
            path += suffix
        self.export(path, which)

    # ------------------------------------------------------------------------------------------
    # VTK

    def render_window(self) -> vtkRenderWindow:
        """The VTK render window (read it with ``ui.vtk_support.render_window_image``)."""
        return self._interactor.GetRenderWindow()

    def close_view(self) -> None:
        """Release the VTK render window; call before the widget is destroyed. Idempotent."""
        if self._finalized:
            return
        self._finalized = True
        self._interactor.hide()  # no paint event may render into a finalised window
        self._interactor.Finalize()

    # ------------------------------------------------------------------------------------------

    def _render(self) -> None:
        if not self._finalized and self._interactor.isVisible():
            self._interactor.GetRenderWindow().Render()

    def _set_message(self, text: str, style: str = "") -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(style)

    def _on_conformer_changed(self, row: int) -> None:
        ensemble = self._ensemble
        if ensemble is None or not 0 <= row < ensemble.n_conformers:
            return
        self.scene.set_molecule(ensemble.mol, ensemble.conformer_ids[row])
        self._render()
        self.conformer_selected.emit(row)

    def _on_style_changed(self, position: int) -> None:
        self.scene.set_style(self.style_combo.itemData(position))
        self._render()
