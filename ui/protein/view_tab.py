"""The Proteins area's *View* tab: how the structure is drawn.

Styles for the protein and its ligands, the colour scheme and its legend, pocket side chains,
nucleic-acid bases and waters on or off, a label on the residue of a clicked atom, which model of a multi-model file, extra layers drawn from the selection, and a
line about the structure (chains, ligands, waters, models, where the secondary structure came
from). The tab draws through the :class:`StructureView` it is given; reading another model is a
job, so it only asks for one (:attr:`ViewTab.model_requested`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.protein import colors as protein_colors
from ui.protein.scene import STYLES

if TYPE_CHECKING:
    from core.protein.structure import ProteinStructure
    from ui.protein.structure_view import StructureView

MAX_LISTED = 10  # chains named in the legend and the info line
_SS_SOURCES = {"file": "from the file", "computed": "computed from the CA trace", "none": "none"}


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class ViewTab(QWidget):
    """Representation, colour and layers of the structure in ``view``."""

    model_requested = Signal(int)  # the model (0-based) of the shown structure's file to read
    error_message = Signal(str)
    notice_message = Signal(str)

    def __init__(self, view: StructureView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self._extra_layers = 0

        self.protein_style = QComboBox()
        for key in ("cartoon", "lines", "sticks", "ball_and_stick", "spheres", "surface"):
            self.protein_style.addItem(STYLES[key], key)
        self.protein_style.currentIndexChanged.connect(
            lambda: self._set_layer_style("protein", self.protein_style.currentData())
        )
        self.color_combo = QComboBox()
        for key, label in protein_colors.SCHEMES.items():
            self.color_combo.addItem(label, key)
        self.color_combo.currentIndexChanged.connect(self._on_color_changed)
        self.ligand_style = QComboBox()
        for key in ("sticks", "ball_and_stick", "spheres", "lines"):
            self.ligand_style.addItem(STYLES[key], key)
        self.ligand_style.currentIndexChanged.connect(
            lambda: self._set_layer_style("ligands", self.ligand_style.currentData())
        )
        self.pocket_check = QCheckBox("Pocket side chains as sticks")
        self.pocket_check.setChecked(True)
        self.pocket_check.toggled.connect(lambda on: self._set_layer_visible("pocket", on))
        self.bases_check = QCheckBox("Nucleic-acid bases")
        self.bases_check.setToolTip("RNA and DNA bases as sticks with filled rings")
        self.bases_check.setChecked(True)
        self.bases_check.toggled.connect(lambda on: self._set_layer_visible("bases", on))
        self.pick_label_check = QCheckBox("Label the clicked residue")
        self.pick_label_check.setToolTip('A click on an atom shows its residue ("ASP 25 A") there')
        self.pick_label_check.setChecked(True)
        self.pick_label_check.toggled.connect(self._on_pick_label_toggled)
        view.atom_picked.connect(self._on_atom_picked)
        self.model_spin = QSpinBox()
        self.model_spin.setMinimum(1)
        self.model_spin.setToolTip("Which model of a multi-model file (NMR ensemble) to show")
        self.model_spin.valueChanged.connect(self._on_model_changed)
        self.selection_style = QComboBox()
        for key in ("sticks", "ball_and_stick", "spheres", "lines", "surface", "cartoon"):
            self.selection_style.addItem(STYLES[key], key)
        self.selection_button = QPushButton("Draw selection")
        self.selection_button.setToolTip(
            "Draw the selected residues in this style as well (a layer of its own)"
        )
        self.selection_button.clicked.connect(lambda: self.draw_selection_as())
        self.clear_layers_button = QPushButton("Remove layers")
        self.clear_layers_button.setToolTip("Remove the layers drawn from selections")
        self.clear_layers_button.clicked.connect(self.remove_selection_layers)
        self.water_check = QCheckBox("Waters")
        self.water_check.toggled.connect(lambda on: self._set_layer_visible("waters", on))
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        for combo in (self.protein_style, self.color_combo, self.ligand_style,
                      self.selection_style):  # fmt: skip
            # The tabs stay narrow (the 3D view gets the width): combos do not ask for their
            # longest item's width.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        form = QFormLayout()
        form.addRow("Protein:", self.protein_style)
        form.addRow("Colour:", self.color_combo)
        form.addRow("Ligands:", self.ligand_style)
        form.addRow("Model:", self.model_spin)
        form.addRow("Selection:", self.selection_style)
        self.view_form = form
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.pocket_check)
        layout.addWidget(self.bases_check)
        layout.addWidget(self.water_check)
        layout.addWidget(self.pick_label_check)
        selection_row = QHBoxLayout()
        selection_row.addWidget(self.selection_button)
        selection_row.addWidget(self.clear_layers_button)
        layout.addLayout(selection_row)
        layout.addWidget(self.legend)
        layout.addWidget(self.info_label)
        hint = QLabel(
            "Drag: rotate · wheel: zoom · Shift+drag or middle drag: pan · click an atom: "
            "select its residue"
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        layout.addWidget(hint)
        layout.addStretch(1)
        self._update_enabled()

    # ------------------------------------------------------------------------------------------
    # A new structure

    def show_structure(self, structure: ProteinStructure | None) -> None:
        """Follow the structure the view now draws: controls, info line, legend."""
        if structure is not None:
            self._sync_controls(structure)
            info = structure.info()
            listed = info["chains"][:MAX_LISTED]
            chains = ", ".join(f"{c['id']} ({c['residues']})" for c in listed)
            if len(info["chains"]) > MAX_LISTED:
                chains += f" and {len(info['chains']) - MAX_LISTED} more"
            self.info_label.setText(
                f"{structure.n_atoms:,} atoms · {len(info['chains'])} chains: {chains}<br>"
                f"{_count(len(structure.ligands), 'ligand')} · "
                f"{_count(structure.n_waters, 'water')} · "
                f"{_count(structure.n_models, 'model')} · secondary structure: "
                f"{_SS_SOURCES.get(structure.ss_source, structure.ss_source)}"
            )
        else:
            self.info_label.setText("")
        self._update_legend()
        self._update_enabled()

    def _sync_controls(self, s: ProteinStructure) -> None:
        """Set the controls to what the scene drew, without redrawing it."""
        self.model_spin.blockSignals(True)
        self.model_spin.setMaximum(max(1, s.n_models))
        self.model_spin.setValue(s.model_index + 1)
        self.model_spin.setEnabled(s.n_models > 1 and bool(s.path))
        self.model_spin.setSuffix(f" of {s.n_models}")
        self.model_spin.blockSignals(False)
        layers = self.view.scene.layers
        for combo, key in ((self.protein_style, "protein"), (self.ligand_style, "ligands")):
            if key in layers:
                combo.blockSignals(True)
                combo.setCurrentIndex(max(0, combo.findData(layers[key].style)))
                combo.blockSignals(False)
        self.color_combo.blockSignals(True)
        scheme = self.view.scene.color_scheme
        self.color_combo.setCurrentIndex(max(0, self.color_combo.findData(scheme)))
        self.color_combo.blockSignals(False)
        self.pocket_check.blockSignals(True)
        self.pocket_check.setChecked("pocket" in layers)
        self.pocket_check.blockSignals(False)
        self.bases_check.blockSignals(True)
        self.bases_check.setChecked("bases" in layers and layers["bases"].visible)
        self.bases_check.setEnabled("bases" in layers)
        self.bases_check.blockSignals(False)
        self.water_check.blockSignals(True)
        self.water_check.setChecked(False)
        self.water_check.setEnabled("waters" in layers)
        self.water_check.blockSignals(False)

    def _update_enabled(self) -> None:
        s = self.view.structure
        loaded = s is not None
        for widget in (self.protein_style, self.color_combo, self.selection_style,
                       self.selection_button, self.clear_layers_button):  # fmt: skip
            widget.setEnabled(loaded)
        self.ligand_style.setEnabled(loaded and bool(s.ligands))
        self.model_spin.setEnabled(loaded and s.n_models > 1 and bool(s.path))

    def _update_legend(self) -> None:
        structure = self.view.structure
        if structure is None:
            self.legend.setText("")
            return
        entries = protein_colors.legend(self.view.scene.color_scheme, structure)
        hidden = max(0, len(entries) - MAX_LISTED)
        entries = entries[:MAX_LISTED]
        parts = []
        for text, rgb in entries:
            hex_colour = "#{:02x}{:02x}{:02x}".format(*tuple(int(255 * c) for c in rgb))
            parts.append(f"<span style='color:{hex_colour}; font-size:14pt'>■</span> {text}")
        if hidden:
            parts.append(f"… and {hidden} more")
        self.legend.setText("<br>".join(parts))

    def _on_atom_picked(self, atom: int) -> None:
        if self.pick_label_check.isChecked() and self.view.structure is not None:
            self.view.scene.show_pick_label(atom)
            self.view.redraw()

    def _on_pick_label_toggled(self, on: bool) -> None:
        if not on:
            self.view.scene.clear_pick_label()
            self.view.redraw()

    def _on_model_changed(self, value: int) -> None:
        s = self.view.structure
        if s is None or not s.path or value - 1 == s.model_index:
            return
        self.model_requested.emit(value - 1)

    # ------------------------------------------------------------------------------------------
    # Styles, colours, layers

    def set_style(self, style: str, layer: str = "protein") -> None:
        combo = self.protein_style if layer == "protein" else self.ligand_style
        index = combo.findData(style)
        if index < 0:
            raise ValueError(f"Unknown style {style!r} for {layer}.")
        if combo.currentIndex() == index:
            self._set_layer_style(layer, style)
        combo.setCurrentIndex(index)

    def set_color(self, scheme: str) -> None:
        index = self.color_combo.findData(scheme)
        if index < 0:
            raise ValueError(f"Unknown colour scheme {scheme!r}.")
        if self.color_combo.currentIndex() == index:
            self._on_color_changed()
        self.color_combo.setCurrentIndex(index)

    def _on_color_changed(self) -> None:
        if self.view.structure is None:
            return
        self.view.scene.set_color_scheme(self.color_combo.currentData())
        self._update_legend()
        self.view.redraw()

    def _set_layer_style(self, key: str, style: str) -> None:
        scene = self.view.scene
        if self.view.structure is None or key not in scene.layers:
            return
        scene.set_layer_style(key, style)
        scene.set_selection(scene.selected_residues)
        self.view.redraw()

    def _set_layer_visible(self, key: str, visible: bool) -> None:
        if key in self.view.scene.layers:
            self.view.scene.set_layer_visible(key, visible)
            self.view.redraw()

    def draw_selection_as(self, style: str | None = None) -> str | None:
        """Add a layer drawing the selected residues in ``style`` (default: the combo's);
        returns its key."""
        from ui.protein.scene import Layer

        structure, scene = self.view.structure, self.view.scene
        residues = scene.selected_residues
        if structure is None or not residues:
            self.error_message.emit(
                "Select residues first (click atoms, the sequence strip or the site list)."
            )
            return None
        style = style or self.selection_style.currentData()
        atoms = np.concatenate([structure.residue_atoms(r) for r in residues])
        self._extra_layers += 1
        key = f"selection {self._extra_layers}"
        scene.add_layer(Layer(key, atoms, style, scene.color_scheme))
        scene.set_selection([])
        self.view.strip.set_selection([])
        self.view.redraw()
        self.notice_message.emit(
            f"{len(residues)} residues drawn as {STYLES[style].lower()} ({key})."
        )
        return key

    def remove_selection_layers(self) -> None:
        scene = self.view.scene
        for key in [k for k in scene.layers if k.startswith("selection ")]:
            scene.remove_layer(key)
        self.view.redraw()
