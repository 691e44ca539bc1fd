"""The Proteins area's *Site* tab: ligands, contacts, the binding site, measuring, a molecule in
context.

Choose a ligand and centre on it (the pocket's side chains follow it), see its contacts with the
protein (:mod:`core.protein.contacts`: dashed lines in the view with "Contacts" on, a table here,
a 2D interaction diagram to save as SVG or PNG), select and list the residues within a distance of
it, measure the distance between two clicked atoms, and place the Molecule panel's molecule at
the site.
The tab works on the :class:`StructureView` it is given; placing a molecule is a job, so the tab
only asks for it (:attr:`SiteTab.place_requested`) and says where (:meth:`SiteTab.context_centre`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QBuffer, QIODevice, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.wrap_layout import WrapLayout

if TYPE_CHECKING:
    import numpy as np

    from core.protein.contacts import Contact
    from core.protein.structure import LigandInfo, ProteinStructure
    from ui.protein.structure_view import StructureView

POCKET_CUTOFF = 5.0
"""Å: the pocket's side chains drawn around the chosen ligand."""
LARGE_ATOMS = 30_000
"""Above this many atoms the scene draws no pocket by default; choosing a ligand adds none."""


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
            "Open the chosen ligand in the Molecule panel (bond orders from its geometry); in a "
            "pocket without a ligand, the molecule placed there"
        )
        self.send_ligand_button.clicked.connect(lambda: self.send_ligand_requested.emit())
        self.find_similar_button = QPushButton("Find similar in library")
        self.find_similar_button.setToolTip(
            "Search the current library for molecules similar to the chosen ligand (Hit lists, "
            "Find tab); in a pocket without a ligand, to the molecule placed there"
        )
        self.find_similar_button.clicked.connect(lambda: self.find_similar_requested.emit())
        self.contacts: list[Contact] = []
        self._contact_molecule = None  # (mol, name) whose contacts are shown, when read
        self._diagram_dialog: InteractionDiagramDialog | None = None
        self._diagram_name = "ligand"
        self.contacts_check = QCheckBox("Contacts")
        self.contacts_check.setChecked(True)
        self.contacts_check.setToolTip(
            "Show the chosen ligand's contacts with the protein as dashed lines with their "
            "distance: H-bonds blue, salt bridges magenta, π-stacking green, hydrophobic grey"
        )
        self.contacts_check.toggled.connect(self._on_contacts_toggled)
        self.diagram_button = QPushButton("Interaction diagram…")
        self.diagram_button.setToolTip(
            "The chosen ligand in 2D with its contacts labelled (save as SVG or PNG)"
        )
        self.diagram_button.clicked.connect(lambda: self.show_interaction_diagram())
        self.contacts_label = QLabel("")
        self.contacts_label.setWordWrap(True)
        self.contacts_table = QTableWidget(0, 3)
        self.contacts_table.setHorizontalHeaderLabels(["Kind", "Residue", "Å"])
        self.contacts_table.verticalHeader().hide()
        self.contacts_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.contacts_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.contacts_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.contacts_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.contacts_table.setMinimumHeight(120)
        self.contacts_table.setMaximumHeight(200)
        self.contacts_table.cellClicked.connect(self._on_contact_clicked)
        self.ligand_combo.currentIndexChanged.connect(self._on_ligand_changed)
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
        self.placed_contacts_check = QCheckBox("Contacts of the placed molecule")
        self.placed_contacts_check.setToolTip(
            "Show and list the placed molecule's contacts instead of the chosen ligand's (it is "
            "only translated to the site, not docked: expect clashes)"
        )
        self.placed_contacts_check.toggled.connect(lambda _on: self.update_contacts())
        view.scene.molecules.listeners.append(self._on_placed_changed)

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

        contacts_row = QHBoxLayout()
        contacts_row.addWidget(self.contacts_check)
        contacts_row.addWidget(self.diagram_button, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Ligand:"))
        layout.addLayout(ligand_row)
        layout.addLayout(link_row)
        layout.addLayout(contacts_row)
        layout.addWidget(self.contacts_label)
        layout.addWidget(self.contacts_table)
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
        context_layout.addWidget(self.placed_contacts_check)
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
        self.ligand_combo.blockSignals(True)  # one contact search, for the ligand chosen last
        self.ligand_combo.clear()
        if structure is not None:
            for index, ligand in enumerate(structure.ligands):
                self.ligand_combo.addItem(f"{ligand.label} ({ligand.atoms} atoms)", index)
            largest = max(range(len(structure.ligands)),
                          key=lambda i: structure.ligands[i].atoms, default=None)  # fmt: skip
            if largest is not None:
                self.ligand_combo.setCurrentIndex(largest)
        self.ligand_combo.blockSignals(False)
        self._update_enabled()
        self.update_contacts()

    def _update_enabled(self) -> None:
        loaded = self.view.structure is not None
        has_ligands = loaded and bool(self.view.structure.ligands)
        for widget in (self.measure_button, self.clear_measure_button, self.place_button):
            widget.setEnabled(loaded)
        for widget in (
            self.ligand_combo,
            self.centre_button,
            self.site_button,
            self.contacts_check,
        ):
            widget.setEnabled(has_ligands)
        placed = "context" in self.view.scene.molecules.mols
        # A pocket without a ligand: the molecule placed there is the site's molecule.
        for widget in (self.send_ligand_button, self.find_similar_button):
            widget.setEnabled(has_ligands or (loaded and placed))
        self.placed_contacts_check.setEnabled(loaded and placed)
        self.diagram_button.setEnabled(
            has_ligands or (placed and self._contact_molecule is not None)
        )

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

    # ------------------------------------------------------------------------------------------
    # Contacts and the pocket of the chosen ligand

    def _on_ligand_changed(self, _index: int) -> None:
        self._update_pocket()
        self.update_contacts()

    def _update_pocket(self) -> None:
        """Draw the chosen ligand's pocket side chains (unless the structure is large and drew
        none)."""
        structure, scene = self.view.structure, self.view.scene
        ligand = self.current_ligand()
        if structure is None or ligand is None:
            return
        if structure.n_atoms > LARGE_ATOMS and "pocket" not in scene.layers:
            return
        scene.set_pocket(structure.binding_site(ligand, POCKET_CUTOFF))

    def _on_contacts_toggled(self, _on: bool) -> None:
        self.update_contacts()

    def _on_placed_changed(self) -> None:
        # Called by the scene whenever a molecule is placed or removed: also while the view
        # changes structure (its scene still holds the old one) and while the panel closes (the
        # tab may be gone by then).
        if not shiboken6.isValid(self) or not shiboken6.isValid(self.placed_contacts_check):
            return
        was_shown = self.placed_contacts_check.isChecked()
        if "context" not in self.view.scene.molecules.mols:
            self.placed_contacts_check.blockSignals(True)
            self.placed_contacts_check.setChecked(False)
            self.placed_contacts_check.blockSignals(False)
        if was_shown and self.view.structure is self.view.scene.structure:
            self.update_contacts()
        else:
            self._update_enabled()

    def _find_contacts(self):
        """``(mol, name, contacts)`` of the placed molecule (when asked for and there is one)
        or the chosen ligand; a message string when there is nothing to look at."""
        from rdkit import Chem

        from core.protein.contacts import ligand_contacts, molecule_contacts
        from core.protein.ligand import ligand_molecule

        structure = self.view.structure
        ligand = self.current_ligand()
        placed = self.view.scene.molecules.molecule("context")
        if self.placed_contacts_check.isChecked() and placed is not None and structure is not None:
            mol = Chem.RemoveHs(placed, sanitize=False)
            name = placed.GetProp("_Name") if placed.HasProp("_Name") else ""
            # The placed molecule sits where the chosen ligand is: the ligand is not a partner.
            exclude = {ligand.residue} if ligand is not None else set()
            try:
                contacts = molecule_contacts(structure, mol, exclude)
            except ValueError as exc:
                return f"No contacts: {exc}"
            return mol, name or "placed molecule", contacts
        if ligand is None:
            return "Choose a ligand first: the contacts are the chosen ligand's."
        if ligand.atoms < 2:
            return f"{ligand.label} is a single atom (an ion): no contacts."
        try:
            molecule = ligand_molecule(structure, ligand)
            return molecule.mol, molecule.name, ligand_contacts(structure, ligand, molecule.mol)
        except ValueError as exc:
            return f"No contacts: {exc}"

    def update_contacts(self) -> list[Contact]:
        """Find the contacts of the chosen ligand (or of the placed molecule, when "Placed
        molecule's contacts" is on) when "Contacts" is on, draw them and list them; returns
        them."""
        from core.protein.contacts import summarize

        scene = self.view.scene
        self.contacts = []
        self._contact_molecule = None
        self.contacts_table.setRowCount(0)
        self.contacts_label.setText("")
        scene.clear_contacts()
        if self.view.structure is not None and self.contacts_check.isChecked():
            found = self._find_contacts()
            if isinstance(found, str):
                self.contacts_label.setText(found if self.current_ligand() is not None else "")
            else:
                mol, name, contacts = found
                self._contact_molecule = (mol, name)
                self.contacts = contacts
                scene.set_contacts(contacts)
                self._fill_contacts_table(contacts)
                self.contacts_label.setText(f"{name}: {summarize(contacts)}")
        self._update_enabled()
        self.view.redraw()
        return self.contacts

    def _fill_contacts_table(self, contacts: list[Contact]) -> None:
        from core.protein.contacts import KIND_COLORS

        table = self.contacts_table
        table.setRowCount(len(contacts))
        for row, contact in enumerate(contacts):
            kind = QTableWidgetItem(f"■ {contact.kind_label}")
            kind.setForeground(QColor.fromRgbF(*KIND_COLORS[contact.kind]))
            kind.setToolTip(
                f"{contact.kind_label}{' (' + contact.detail + ')' if contact.detail else ''}: "
                f"ligand {contact.ligand_atom} – {contact.residue_label} {contact.protein_atom}"
            )
            residue = QTableWidgetItem(contact.residue_label)
            residue.setData(Qt.ItemDataRole.UserRole, contact.residue)
            distance = QTableWidgetItem(f"{contact.distance:.1f}")
            distance.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate((kind, residue, distance)):
                table.setItem(row, column, item)

    def _on_contact_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.contacts):
            self.view.select_residues([self.contacts[row].residue])

    def interaction_diagram_svg(self) -> str | None:
        """The interaction diagram (SVG text) of the chosen ligand or the placed molecule, as
        the contacts show; None (the reason told) when there is no molecule. Works with
        "Contacts" off too."""
        from core.protein.interaction_diagram import interaction_diagram_svg

        if self._contact_molecule is not None:
            (mol, name), contacts = self._contact_molecule, self.contacts
        else:
            found = self._find_contacts()
            if isinstance(found, str):
                self.error_message.emit(found)
                return None
            mol, name, contacts = found
        self._diagram_name = name
        structure = self.view.structure
        source = structure.name.split(":")[0].strip() if structure is not None else ""
        title = name + (f" in {source}" if source else "")
        return interaction_diagram_svg(mol, contacts, title=title)

    def show_interaction_diagram(self) -> InteractionDiagramDialog | None:
        """Open (or refresh) the interaction-diagram window for the chosen ligand."""
        svg = self.interaction_diagram_svg()
        if svg is None:
            return None
        name = self._diagram_name
        if self._diagram_dialog is None:
            self._diagram_dialog = InteractionDiagramDialog(self)
            self._diagram_dialog.error_message.connect(self.error_message)
        self._diagram_dialog.show_diagram(svg, name)
        self._diagram_dialog.show()
        self._diagram_dialog.raise_()
        return self._diagram_dialog

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


class InteractionDiagramDialog(QDialog):
    """A window showing a ligand's 2D interaction diagram, with Save as SVG and PNG."""

    error_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Interaction diagram")
        self.svg = ""
        self.name = "ligand"
        self.picture = QSvgWidget()
        self.picture.renderer().setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        self.picture.setMinimumSize(480, 330)
        self.save_svg_button = QPushButton("Save as SVG…")
        self.save_svg_button.clicked.connect(lambda: self._on_save_clicked("svg"))
        self.save_png_button = QPushButton("Save as PNG…")
        self.save_png_button.clicked.connect(lambda: self._on_save_clicked("png"))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_svg_button)
        buttons.addWidget(self.save_png_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addLayout(buttons)
        self.resize(900, 660)  # fits a 1366x768 screen

    def show_diagram(self, svg: str, name: str) -> None:
        self.svg = svg
        self.name = name
        self.picture.load(svg.encode("utf-8"))
        self.picture.renderer().setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        self.setWindowTitle(f"Interaction diagram: {name}")

    def save_svg(self, path: str) -> None:
        from core.fileio import write_text_atomic

        write_text_atomic(path, self.svg)

    def save_png(self, path: str, scale: float = 2.0) -> None:
        """The diagram as a PNG at ``scale`` times its size (sharp on print and slides)."""
        from core.fileio import write_bytes_atomic

        renderer = QSvgRenderer(self.svg.encode("utf-8"))
        size = renderer.defaultSize() * scale
        image = QImage(size, QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        write_bytes_atomic(path, bytes(buffer.data()))

    def _on_save_clicked(self, kind: str) -> None:
        stem = "".join(ch if ch.isalnum() else "_" for ch in self.name).strip("_") or "ligand"
        pattern = "SVG (*.svg)" if kind == "svg" else "PNG (*.png)"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save interaction diagram", f"{stem}_interactions.{kind}", pattern
        )
        if not path:
            return
        if not path.lower().endswith("." + kind):
            path += "." + kind
        try:
            (self.save_svg if kind == "svg" else self.save_png)(path)
        except OSError as exc:
            self.error_message.emit(f"Could not save {path}: {exc}")
