"""The target chooser of the Proteins area: what a gene symbol typed in Fetch found.

:class:`TargetChooser` shows a :class:`core.targets.TargetInfo` (looked up by the panel's engine
job, never here): the AlphaFold DB model first, then the PDB entries, best resolution first, with
method and drug-like ligands (additives such as SO4 or GOL in each row's tooltip). Picking a row
emits :attr:`TargetChooser.open_requested` with a PDB id or a UniProt accession, which the panel
fetches as Fetch does. Another organism asks the panel for a new lookup
(:attr:`TargetChooser.lookup_requested`). The dialog stays within 720 × 420 px: it fits a
1366 × 768 screen beside the window's frame.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.targets import ADDITIVE, ORGANISM_NAMES, TargetInfo, organism_label

MAX_SIZE = (720, 420)
_ID_ROLE = Qt.ItemDataRole.UserRole
COLUMNS = ("Structure", "Resolution", "Method", "Drug-like ligands", "Title")


class TargetChooser(QDialog):
    """A gene's AlphaFold model and PDB entries, one to open."""

    open_requested = Signal(str)  # a PDB id or a UniProt accession (its AlphaFold model)
    lookup_requested = Signal(str, int)  # gene symbol, NCBI taxon id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Target structures")
        self.setMaximumSize(*MAX_SIZE)
        self.info: TargetInfo | None = None
        self.symbol = ""

        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.organism_box = QComboBox()
        for taxon, name in ORGANISM_NAMES.items():
            self.organism_box.addItem(f"{name} ({taxon})", taxon)
        self.organism_box.setToolTip("Look the gene up in another organism (NCBI taxon id)")
        self.organism_box.activated.connect(self._on_organism_chosen)
        organism_row = QHBoxLayout()
        organism_row.addWidget(QLabel("Organism:"))
        organism_row.addWidget(self.organism_box)
        organism_row.addStretch(1)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemActivated.connect(lambda item, _column: self._open(item))
        self.tree.currentItemChanged.connect(self._on_current_changed)

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(mid);")

        buttons = QDialogButtonBox()
        self.open_button = buttons.addButton("Open", QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setEnabled(False)
        self.open_button.setDefault(True)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.open_button.clicked.connect(lambda: self._open(self.tree.currentItem()))
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(organism_row)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.resize(*MAX_SIZE)

    def show_target(self, info: TargetInfo, symbol: str = "") -> None:
        """List ``info``'s AlphaFold model and PDB entries; the first row is chosen."""
        self.info = info
        self.symbol = symbol or info.gene
        self.setWindowTitle(f"Structures of {info.gene or self.symbol}")
        index = self.organism_box.findData(info.organism)
        if index < 0:
            self.organism_box.addItem(organism_label(info.organism), info.organism)
            index = self.organism_box.count() - 1
        self.organism_box.setCurrentIndex(index)
        length = f", {info.length} residues" if info.length else ""
        self.header.setText(
            f"<b>{info.gene}</b> ({info.organism_name or organism_label(info.organism)}): "
            f"UniProt {info.accession}, {info.name}{length}"
        )
        self.tree.clear()
        af = info.alphafold
        if af is not None:
            details = [f"v{af.version}" if af.version else ""]
            if af.mean_plddt is not None:
                details.append(f"mean pLDDT {af.mean_plddt:.1f}")
            item = QTreeWidgetItem(
                [af.entry_id, "predicted", "AlphaFold DB", "", ", ".join(d for d in details if d)]
            )
            item.setData(0, _ID_ROLE, info.accession)
            item.setToolTip(0, f"AlphaFold DB model of {info.accession}\n{af.model_url}")
            self.tree.addTopLevelItem(item)
        for entry in info.pdb_entries:
            resolution = f"{entry.resolution:.2f} Å" if entry.resolution is not None else "–"
            drug_like = ", ".join(ligand.id for ligand in entry.drug_like_ligands)
            item = QTreeWidgetItem(
                [entry.id, resolution, entry.method.lower(), drug_like or "–", entry.title]
            )
            item.setData(0, _ID_ROLE, entry.id)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            tip = [entry.title] if entry.title else []
            tip += [
                f"{ligand.id}: {ligand.name.lower() or '?'}"
                + (" (additive)" if ligand.kind == ADDITIVE else "")
                for ligand in entry.ligands
            ]
            for column in range(len(COLUMNS)):
                item.setToolTip(column, "\n".join(tip) or entry.id)
            self.tree.addTopLevelItem(item)
        shown, total = len(info.pdb_entries), info.pdb_total
        if not shown:
            pdb = "No PDB entry holds this protein."
        elif shown < total:
            pdb = f"{shown} of {total} PDB entries, best resolution first."
        else:
            pdb = f"{shown} PDB entries, best resolution first."
        self.note.setText(
            f"{pdb} Buffer and crystallisation additives (SO4, GOL, EDO…), ions and glycans are "
            "left out of the ligand column; hover a row for all."
        )
        if self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.open_button.setEnabled(self.tree.topLevelItemCount() > 0)

    def identifiers(self) -> list[str]:
        """What each row opens, in order (a UniProt accession for the AlphaFold model)."""
        return [
            self.tree.topLevelItem(row).data(0, _ID_ROLE)
            for row in range(self.tree.topLevelItemCount())
        ]

    def choose(self, identifier: str) -> None:
        """Open the row of ``identifier`` as a click on Open would."""
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            if item.data(0, _ID_ROLE) == identifier:
                self.tree.setCurrentItem(item)
                self._open(item)
                return
        raise KeyError(identifier)

    def _open(self, item: QTreeWidgetItem | None) -> None:
        if item is None:
            return
        self.open_requested.emit(item.data(0, _ID_ROLE))
        self.accept()

    def _on_current_changed(self, current, _previous) -> None:
        self.open_button.setEnabled(current is not None)

    def _on_organism_chosen(self, index: int) -> None:
        taxon = self.organism_box.itemData(index)
        if self.symbol and self.info is not None and taxon != self.info.organism:
            self.lookup_requested.emit(self.symbol, int(taxon))
