"""The Molecule panel: edit a structure, read its property card, predict and view its 3D shapes.

It knows which library row the molecule came from (if any) but not how libraries are stored: the
main window answers ``save_requested`` by updating or appending the row.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from rdkit import Chem, rdBase

from core.chem import editing
from core.chem.conformers import ConformerEnsemble, ConformerOptions, generate_conformers
from ui.molecules.editor import StructureEditor
from ui.molecules.property_card import PropertyCard
from ui.widgets.elided_label import ElidedLabel

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle
    from ui.molecules.viewer3d import ConformerViewer

# The card follows the drawing after this pause, so fast clicking stays smooth.
CARD_DELAY_MS = 120


class MoleculeWorkspace(QWidget):
    """Editor and property card (tab "Structure") and the conformer viewer (tab "3D")."""

    save_requested = Signal(bool)  # True: add as a new row; False: update the source row
    status_message = Signal(str)

    def __init__(self, engine: Engine | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.source: tuple[object, int] | None = None  # (library panel, frame position)
        self.viewer: ConformerViewer | None = None
        self._conformer_job: JobHandle | None = None
        """The running 3D prediction; a newer one supersedes it (its result is not shown)."""
        self._conformer_smiles = ""
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name")
        self.name_edit.setToolTip("Name used when the molecule is saved to a library")
        # "Record 12 of <file name>": a long file name elides instead of widening the dock.
        self.source_label = ElidedLabel("New molecule", mode="middle")
        self.source_label.setStyleSheet("ElidedLabel { color: palette(placeholder-text); }")
        self.save_button = QToolButton()
        self.save_button.setText("Save to library")
        self.save_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.save_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self.source is None))
        menu = QMenu(self.save_button)
        self.update_action = menu.addAction(
            "Update the row it came from", lambda: self.save_requested.emit(False)
        )
        menu.addAction("Add as a new row", lambda: self.save_requested.emit(True))
        self.save_button.setMenu(menu)

        self.editor = StructureEditor()
        self.editor.molecule_changed.connect(self._on_molecule_changed)
        self.editor.status_message.connect(self.status_message)
        self.editor.undo_stack.cleanChanged.connect(self._update_title)
        self.card = PropertyCard()
        card_scroll = QScrollArea()
        card_scroll.setWidgetResizable(True)
        card_scroll.setWidget(self.card)
        card_scroll.setMinimumHeight(160)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.editor)
        splitter.addWidget(card_scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        # The card (alerts picture, values, rules) needs about as much room as the canvas.
        splitter.setSizes([320, 380])
        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, "Structure")
        # VTK costs a third of a second to import: build the 3D view when it is first shown.
        self._viewer_placeholder = QLabel("3D view")
        self.tabs.addTab(self._viewer_placeholder, "3D")
        self.tabs.currentChanged.connect(self._on_tab_changed)

        header = QHBoxLayout()
        header.addWidget(self.name_edit, 1)
        header.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.source_label)
        layout.addWidget(self.tabs, 1)
        self._card_timer = QTimer(self)
        self._card_timer.setSingleShot(True)
        self._card_timer.setInterval(CARD_DELAY_MS)
        self._card_timer.timeout.connect(self._refresh_card)
        self._update_title()

    # ------------------------------------------------------------------------------------------
    def add_tab(self, widget: QWidget, title: str) -> None:
        """Panels built on the molecule (3D, predictions) add themselves as tabs."""
        self.tabs.addTab(widget, title)

    def is_modified(self) -> bool:
        """True when the structure was edited since it was opened or saved."""
        return not self.editor.undo_stack.isClean()

    def open_smiles(
        self,
        smiles: str,
        name: str = "",
        source: tuple[object, int] | None = None,
        undoable: bool = True,
    ) -> bool:
        """Show ``smiles`` (from a library row when ``source`` is given); False if it cannot parse."""
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smiles) if smiles else None
            if mol is None and smiles:
                mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None and smiles:
            self.status_message.emit(f"Cannot draw '{smiles[:60]}': not a readable SMILES")
            return False
        self.source = source
        self.name_edit.setText(name)
        self.editor.set_molecule(mol, undoable=undoable)
        self.editor.undo_stack.setClean()
        self._refresh_card()
        self._update_title()
        return True

    def new_molecule(self) -> None:
        self.source = None
        self.name_edit.clear()
        self.editor.set_molecule(None, undoable=True)
        self.editor.undo_stack.setClean()
        self._update_title()
        self.editor.setFocus()

    def mark_saved(self, source: tuple[object, int]) -> None:
        self.source = source
        self.editor.undo_stack.setClean()
        self._update_title()

    def current_smiles(self) -> str:
        return editing.to_smiles(self.editor.molecule())

    def current_molecule(self) -> Chem.Mol | None:
        """The sanitised molecule, or None when it is empty or chemically impossible."""
        mol = self.editor.molecule()
        if mol.GetNumAtoms() == 0:
            return None
        return editing.sanitized(mol)

    def name(self) -> str:
        return self.name_edit.text().strip()

    # ------------------------------------------------------------------------------------------
    # ------------------------------------------------------------------------------------------
    # 3D

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self._viewer_placeholder:
            self.ensure_viewer()

    def ensure_viewer(self) -> ConformerViewer:
        if self.viewer is None:
            from ui.molecules.viewer3d import ConformerViewer

            self.viewer = ConformerViewer()
            self.viewer.predict_requested.connect(self.predict_3d)
            self.viewer.cancel_requested.connect(self._cancel_prediction)
            self.viewer.exported.connect(lambda path: self.status_message.emit(f"Wrote {path}"))
            self.viewer.export_failed.connect(self.status_message)
            index = self.tabs.indexOf(self._viewer_placeholder)
            current = self.tabs.currentIndex()
            self.tabs.blockSignals(True)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, self.viewer, "3D")
            self.tabs.setCurrentIndex(current)
            self.tabs.blockSignals(False)
            self._viewer_placeholder.deleteLater()
        return self.viewer

    def predict_3d(self) -> JobHandle | None:
        """Queue a conformer ensemble for the current structure; returns the job's handle."""
        viewer = self.ensure_viewer()
        mol = self.current_molecule()
        if mol is None:
            viewer.set_busy(False, "Draw or open a valid structure first.")
            return None
        if self.engine is None:
            viewer.set_busy(False, "No engine to run the prediction.")
            return None
        self._conformer_smiles = editing.to_smiles(mol)
        name = self.name() or "molecule"
        viewer.set_busy(True, f"Predicting 3D structures of {name}…")
        # A prediction still running is superseded (the engine cancels it through the key, at
        # once when it is queued): forgotten first, so its "cancelled" leaves the viewer busy.
        self._conformer_job = None
        handle = self.engine.submit(
            generate_conformers,
            mol,
            ConformerOptions(),
            name=name,
            title=f"3D conformers of {name}",
            key="conformers",
        )
        self._conformer_job = handle
        handle.progress.connect(partial(self._on_conformers_progress, handle))
        handle.finished.connect(partial(self._on_conformers_finished, handle))
        handle.failed.connect(partial(self._on_conformers_failed, handle))
        handle.cancelled.connect(partial(self._on_conformers_cancelled, handle))
        return handle

    def _cancel_prediction(self) -> None:
        if self._conformer_job is not None:
            self._conformer_job.cancel()

    def _current_conformer_job(self, handle: JobHandle) -> bool:
        """Whether ``handle`` is the prediction the viewer waits for (not one superseded by a
        newer prediction, nor one left running when the window closed)."""
        return handle is self._conformer_job and self.viewer is not None

    def _on_conformers_progress(self, handle: JobHandle, fraction: float, message: str) -> None:
        if self._current_conformer_job(handle):
            self.viewer.set_progress(fraction, message)

    def _on_conformers_finished(self, handle: JobHandle, result: object) -> None:
        if not self._current_conformer_job(handle):
            return
        self._conformer_job = None
        self.viewer.set_busy(False)
        if isinstance(result, ConformerEnsemble):
            self.viewer.show_ensemble(result)
            if self.current_smiles() != self._conformer_smiles:
                self.status_message.emit("The structure changed since the 3D prediction started.")

    def _on_conformers_failed(self, handle: JobHandle, message: str) -> None:
        if self._current_conformer_job(handle):
            self._conformer_job = None
            self.viewer.set_busy(False, f"3D prediction failed: {message}")

    def _on_conformers_cancelled(self, handle: JobHandle) -> None:
        if self._current_conformer_job(handle):
            self._conformer_job = None
            self.viewer.set_busy(False, "3D prediction cancelled.")

    def shutdown(self) -> None:
        """Cancel a running 3D prediction and release the VTK view before the window goes (VTK
        needs Finalize before destruction)."""
        job, self._conformer_job = self._conformer_job, None  # its outcome is ignored now
        if job is not None:
            job.cancel()
        if self.viewer is not None:
            self.viewer.close_view()

    # ------------------------------------------------------------------------------------------
    def _on_molecule_changed(self, _mol) -> None:
        self._card_timer.start()
        self._update_title()

    def _refresh_card(self) -> None:
        self._card_timer.stop()
        self.card.show_molecule(self.current_molecule())

    def _update_title(self, *_args) -> None:
        panel_position = self.source
        if panel_position is None:
            text = "New molecule (not in a library yet)"
        else:
            panel, position = panel_position
            title = getattr(panel, "title", "library")
            text = f"Record {position + 1} of {title}"
        if self.is_modified():
            text += " · edited, not saved"
        self.source_label.setText(text)
        self.update_action.setEnabled(self.source is not None)
