"""The Proteins area's 3D view with the sequence strip under it, linked.

:class:`StructureView` draws a structure through a :class:`ProteinScene` in a VTK interactor and
lists its chains in a :class:`SequenceStrip`. Clicking a residue in the strip selects it in both;
a click on an atom in the view is reported (:attr:`StructureView.atom_picked`) for the panel to
route (select its residue, or measure). Large structures rotate as a CA trace and are redrawn in
full once the mouse rests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from ui.protein.scene import ProteinScene, tune_for_software_rendering
from ui.protein.sequence_strip import SequenceStrip
from ui.vtk_support import create_interactor, save_render_window_png

if TYPE_CHECKING:
    from core.protein.structure import ProteinStructure

_CLICK_SLOP = 4  # pixels a press may move and still count as a click
_EMPTY_HINT = (
    "Open a PDB or mmCIF file, fetch a PDB id, UniProt accession or gene,\n"
    "predict a structure from its sequence, or open the demo."
)


class StructureView(QWidget):
    """The VTK view of one structure over its sequence strip; selection shared by both."""

    selection_changed = Signal(list)  # residue indices
    atom_picked = Signal(int)  # atom index, after a click on it in the view
    status_message = Signal(str)  # the atom or residue the user clicked, for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.structure: ProteinStructure | None = None
        self._closed = False
        self._tuned = False
        self._press_position: tuple[int, int] | None = None

        self.scene = ProteinScene()
        self.interactor = create_interactor(self)
        self.interactor.setMinimumSize(320, 240)
        self.interactor.GetRenderWindow().AddRenderer(self.scene.renderer)
        # The trackball style grabs the interactor's focus between press and release, so the
        # release is seen as the style's end of interaction.
        self.interactor.AddObserver("LeftButtonPressEvent", self._on_vtk_press, 1.0)
        style = self.interactor.GetInteractorStyle()
        style.AddObserver("EndInteractionEvent", self._on_vtk_release)
        # Level of detail: large structures rotate as a CA trace, redrawn in full once the
        # mouse rests (debounced, so that wheel zooming does not redraw in full per step).
        style.AddObserver("StartInteractionEvent", self._on_interaction_started)
        style.AddObserver("EndInteractionEvent", self._on_interaction_ended)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(250)
        self._settle_timer.timeout.connect(self._on_interaction_settled)

        from vtkmodules.vtkRenderingCore import vtkTextActor

        self.empty_text = vtkTextActor()
        self.empty_text.SetInput(_EMPTY_HINT)
        self.empty_text.GetTextProperty().SetFontSize(18)
        self.empty_text.GetTextProperty().SetColor(0.35, 0.38, 0.45)
        self.empty_text.GetTextProperty().SetJustificationToCentered()
        self.empty_text.GetTextProperty().SetVerticalJustificationToCentered()
        self.empty_text.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.empty_text.SetPosition(0.5, 0.5)
        self.scene.renderer.AddViewProp(self.empty_text)

        self.strip = SequenceStrip()
        self.strip.residue_clicked.connect(self._on_strip_clicked)
        strip_scroll = QScrollArea()
        strip_scroll.setWidget(self.strip)
        strip_scroll.setWidgetResizable(False)
        strip_scroll.setMaximumHeight(110)
        strip_scroll.setMinimumHeight(60)
        self.strip_scroll = strip_scroll

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.interactor, 1)
        layout.addWidget(strip_scroll)
        self.interactor.Initialize()

    # ------------------------------------------------------------------------------------------
    # Drawing

    def render_window(self):
        return self.interactor.GetRenderWindow()

    def redraw(self) -> None:
        """Draw the scene now (nothing once the view is closed)."""
        if self._closed:
            return
        window = self.interactor.GetRenderWindow()
        window.Render()
        if not self._tuned and self.interactor.isVisible():
            self._tuned = True
            if tune_for_software_rendering(window, self.scene.renderer):
                window.Render()

    def set_structure(self, structure: ProteinStructure | None, color: str | None = None) -> None:
        """Draw ``structure`` with the default layers (``color``: the scheme, default by chain),
        list it in the strip, and show the whole of it."""
        self.structure = structure
        self.scene.set_structure(structure, color)
        self.empty_text.SetVisibility(structure is None)
        self.strip.set_structure(structure)
        self.scene.reset_camera()
        self.redraw()

    def reset_view(self) -> None:
        self.scene.reset_camera()
        self.redraw()

    def save_png(self, path: str | Path) -> Path:
        self.redraw()
        return save_render_window_png(self.render_window(), path)

    def close_view(self) -> None:
        """Release the VTK render window; call before the widget is destroyed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._settle_timer.stop()
        self.interactor.hide()
        self.interactor.Finalize()

    # ------------------------------------------------------------------------------------------
    # Selection and picking

    def select_residues(self, residues: list[int], centre: bool = False) -> None:
        """Select ``residues`` in the 3D view and the sequence strip."""
        residues = sorted({int(r) for r in residues})
        self.scene.set_selection(residues)
        self.strip.set_selection(residues)
        if residues:
            rect = self.strip.residue_rect(residues[0])
            if rect is not None:
                self.strip_scroll.ensureVisible(rect.center().x(), rect.center().y(), 60, 10)
        if centre:
            self.scene.centre_on(residues)
        self.redraw()
        self.selection_changed.emit(residues)

    def selected_residues(self) -> list[int]:
        return list(self.scene.selected_residues)

    def _on_strip_clicked(self, residue: int, add: bool) -> None:
        # Shift-click toggles the residue in the selection; a plain click selects it alone.
        current = set(self.scene.selected_residues) ^ {residue} if add else {residue}
        self.select_residues(sorted(current))
        if self.structure is not None:
            self.status_message.emit(self.structure.residue_label(residue))

    def click_at(self, x: float, y: float) -> int | None:
        """Handle a click at VTK display position ``(x, y)``: the atom there is reported (status
        message, then :attr:`atom_picked`) and returned; None on the background."""
        atom = self.scene.pick(x, y)
        if atom is None or self.structure is None:
            return None
        self.status_message.emit(self.structure.atom_label(atom))
        self.atom_picked.emit(atom)
        return atom

    def _on_vtk_press(self, obj, _event) -> None:
        self._press_position = obj.GetEventPosition()

    def _on_vtk_release(self, _obj, _event) -> None:
        if self._press_position is None:
            return
        x, y = self.interactor.GetEventPosition()
        px, py = self._press_position
        self._press_position = None
        if abs(x - px) <= _CLICK_SLOP and abs(y - py) <= _CLICK_SLOP:
            # Qt's logical pixels vs the render window's device pixels are handled by VTK's
            # interactor; pick after the style has finished with the event.
            QTimer.singleShot(0, lambda: self.click_at(x, y))

    def _on_interaction_started(self, _obj, _event) -> None:
        self._settle_timer.stop()
        self.scene.begin_interaction()

    def _on_interaction_ended(self, _obj, _event) -> None:
        if self.scene.uses_interactive_lod():
            self._settle_timer.start()

    def _on_interaction_settled(self) -> None:
        if self.scene.end_interaction():
            self.redraw()
