"""The Proteins area's *Site* tab: ligands, the binding site, measuring, a molecule in context.

Choose a ligand and centre on it, select and list the residues within a distance of it, measure
the distance between two clicked atoms, and place the Molecule panel's molecule at the site.
The tab works on the :class:`StructureView` it is given; placing a molecule is a job, so the tab
only asks for it (:attr:`SiteTab.place_requested`) and says where (:meth:`SiteTab.context_centre`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.wrap_layout import WrapLayout

if TYPE_CHECKING:
    import numpy as np

    from core.protein.structure import LigandInfo, ProteinStructure
    from ui.protein.structure_view import StructureView


class SiteTab(QWidget):
    """The ligands and binding site of the structure in ``view``, measuring, placing."""

    place_requested = Signal()  # "Place library molecule"
    send_ligand_requested = Signal()  # "Send to Molecule panel": the chosen ligand
    find_similar_requested = Signal()  # "Find similar in library": the chosen ligand as query
    remove_requested = Signal()  # remove the placed molecule
    error_message = Signal(str)

    def __init__(self, view: StructureView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.site_residues: list[int] = []
        self._measure_atoms: list[int] = []

        self.ligand_combo = QComboBox()
        self.centre_button = QPushButton("Centre")
        self.centre_button.setToolTip("Centre the view on the chosen ligand")
        self.centre_button.clicked.connect(self.centre_on_ligand)
        self.cutoff_spin = QDoubleSpinBox()
        self.cutoff_spin.setRange(1.0, 15.0)
        self.cutoff_spin.setSingleStep(0.5)
        self.cutoff_spin.setValue(5.0)
        self.cutoff_spin.setSuffix(" Å")
        self.site_button = QPushButton("Select binding site")
        self.site_button.setToolTip("Select the residues with an atom within this distance")
        self.site_button.clicked.connect(self.select_binding_site)
        self.send_ligand_button = QPushButton("Send to Molecule panel")
        self.send_ligand_button.setToolTip(
            "Open the chosen ligand in the Molecule panel (bond orders from its geometry)"
        )
        self.send_ligand_button.clicked.connect(lambda: self.send_ligand_requested.emit())
        self.find_similar_button = QPushButton("Find similar in library")
        self.find_similar_button.setToolTip(
            "Search the current library for molecules similar to the chosen ligand (Hit lists, "
            "Find tab)"
        )
        self.find_similar_button.clicked.connect(lambda: self.find_similar_requested.emit())
        self.site_list = QListWidget()
        self.site_list.itemClicked.connect(self._on_site_item_clicked)
        self.site_label = QLabel("")
        self.measure_button = QPushButton("Measure distance")
        self.measure_button.setCheckable(True)
        self.measure_button.setToolTip("Then click two atoms in the view")
        self.measure_button.toggled.connect(self._on_measure_toggled)
        self.clear_measure_button = QPushButton("Clear")
        self.clear_measure_button.clicked.connect(self.clear_measurements)
        self.measure_label = QLabel("")
        self.place_button = QPushButton("Place library molecule")
        self.place_button.setToolTip(
            "Show the Molecule workspace's molecule as a 3D conformer at the chosen ligand's "
            "centroid (or the binding site's). Not docking: it is only placed there."
        )
        self.place_button.clicked.connect(lambda: self.place_requested.emit())
        self.remove_context_button = QPushButton("Remove")
        self.remove_context_button.clicked.connect(lambda: self.remove_requested.emit())

        ligand_row = QHBoxLayout()
        ligand_row.addWidget(self.ligand_combo, 1)
        ligand_row.addWidget(self.centre_button)
        link_row = WrapLayout()  # on two lines when the tab is narrow
        link_row.addWidget(self.send_ligand_button)
        link_row.addWidget(self.find_similar_button)
        site_row = QHBoxLayout()
        site_row.addWidget(QLabel("Within"))
        site_row.addWidget(self.cutoff_spin)
        site_row.addWidget(self.site_button, 1)
        measure_row = QHBoxLayout()
        measure_row.addWidget(self.measure_button, 1)
        measure_row.addWidget(self.clear_measure_button)
        place_row = QHBoxLayout()
        place_row.addWidget(self.place_button, 1)
        place_row.addWidget(self.remove_context_button)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Ligand:"))
        layout.addLayout(ligand_row)
        layout.addLayout(link_row)
        layout.addLayout(site_row)
        layout.addWidget(self.site_label)
        layout.addWidget(self.site_list, 1)
        group = QGroupBox("Measure")
        group_layout = QVBoxLayout(group)
        group_layout.addLayout(measure_row)
        group_layout.addWidget(self.measure_label)
        layout.addWidget(group)
        context = QGroupBox("Molecule in context")
        context_layout = QVBoxLayout(context)
        context_layout.addLayout(place_row)
        layout.addWidget(context)
        self._update_enabled()

    def show_structure(self, structure: ProteinStructure | None) -> None:
        """Follow the structure the view now draws: its ligands (the largest chosen), no site,
        no measurement."""
        self._measure_atoms = []
        self.site_residues = []
        self.site_list.clear()
        self.site_label.setText("")
        self.measure_label.setText("")
        self.ligand_combo.clear()
        if structure is not None:
            for index, ligand in enumerate(structure.ligands):
                self.ligand_combo.addItem(f"{ligand.label} ({ligand.atoms} atoms)", index)
            largest = max(range(len(structure.ligands)),
                          key=lambda i: structure.ligands[i].atoms, default=None)  # fmt: skip
            if largest is not None:
                self.ligand_combo.setCurrentIndex(largest)
        self._update_enabled()

    def _update_enabled(self) -> None:
        loaded = self.view.structure is not None
        has_ligands = loaded and bool(self.view.structure.ligands)
        for widget in (self.measure_button, self.clear_measure_button, self.place_button):
            widget.setEnabled(loaded)
        for widget in (
            self.ligand_combo,
            self.centre_button,
            self.site_button,
            self.send_ligand_button,
            self.find_similar_button,
        ):
            widget.setEnabled(has_ligands)

    # ------------------------------------------------------------------------------------------
    # Ligands and binding site

    def current_ligand(self) -> LigandInfo | None:
        if self.view.structure is None or self.ligand_combo.currentIndex() < 0:
            return None
        return self.view.structure.ligands[self.ligand_combo.currentData()]

    def choose_ligand(self, ligand: LigandInfo) -> None:
        """Make ``ligand`` (one of the structure's) the chosen one and centre the view on it."""
        self.ligand_combo.setCurrentIndex(self.view.structure.ligands.index(ligand))
        self.centre_on_ligand()

    def ligand_of_residue(self, residue: int) -> LigandInfo | None:
        """The structure's ligand that is residue ``residue``, if it is one."""
        if self.view.structure is None:
            return None
        for ligand in self.view.structure.ligands:
            if ligand.residue == residue:
                return ligand
        return None

    def pick_ligand(self, ligand: LigandInfo) -> None:
        """Make ``ligand`` the chosen one without moving the view (an atom of it was clicked)."""
        self.ligand_combo.setCurrentIndex(self.view.structure.ligands.index(ligand))

    def centre_on_ligand(self) -> None:
        ligand = self.current_ligand()
        if ligand is not None:
            self.view.scene.centre_on([ligand.residue])
            self.view.redraw()

    def select_binding_site(self) -> list[int]:
        """Select and list the residues within the cutoff of the chosen ligand."""
        ligand = self.current_ligand()
        if ligand is None:
            return []
        structure = self.view.structure
        try:
            residues = structure.binding_site(ligand, self.cutoff_spin.value())
        except ValueError as exc:
            self.error_message.emit(str(exc))
            return []
        self.site_residues = residues
        self.site_list.clear()
        for residue in residues:
            item = QListWidgetItem(structure.residue_label(residue))
            item.setData(Qt.ItemDataRole.UserRole, residue)
            self.site_list.addItem(item)
        self.site_label.setText(
            f"{len(residues)} residues within {self.cutoff_spin.value():g} Å of {ligand.label}"
        )
        self.view.select_residues(residues)
        self.view.scene.centre_on([ligand.residue, *residues])
        self.view.redraw()
        return residues

    def _on_site_item_clicked(self, item: QListWidgetItem) -> None:
        residue = item.data(Qt.ItemDataRole.UserRole)
        self.view.select_residues([residue], centre=True)

    def context_centre(self) -> np.ndarray | None:
        """Where a molecule in context goes: the chosen ligand's centroid, else the binding
        site's, else the selection's; None when there is none of them."""
        structure = self.view.structure
        if structure is None:
            return None
        ligand = self.current_ligand()
        if ligand is not None:
            return structure.residue_centroid([ligand.residue])
        residues = self.site_residues or self.view.scene.selected_residues
        if residues:
            return structure.residue_centroid(residues)
        return None

    # ------------------------------------------------------------------------------------------
    # Measuring

    def take_measured_atom(self, atom: int) -> bool:
        """In measure mode, take a clicked atom (the second one adds the distance) and return
        True; otherwise False, and the click selects as usual."""
        if not self.measure_button.isChecked():
            return False
        self._measure_atoms.append(atom)
        if len(self._measure_atoms) == 2:
            a, b = self._measure_atoms
            distance = self.view.scene.add_distance(a, b)
            label = self.view.structure.atom_label
            self.measure_label.setText(
                f"{label(a).split(' · B')[0]} ↔ {label(b).split(' · B')[0]}: {distance:.2f} Å"
            )
            self._measure_atoms = []
            self.view.redraw()
        else:
            self.measure_label.setText("Click a second atom")
        return True

    def _on_measure_toggled(self, on: bool) -> None:
        self._measure_atoms = []
        self.measure_label.setText("Click two atoms in the view" if on else "")

    def measure(self, a: int, b: int) -> float:
        """Draw the distance between atoms ``a`` and ``b``; returns it in Å."""
        distance = self.view.scene.add_distance(a, b)
        self.view.redraw()
        return distance

    def clear_measurements(self) -> None:
        self.view.scene.clear_measurements()
        self._measure_atoms = []
        self.measure_label.setText("")
        self.view.redraw()
