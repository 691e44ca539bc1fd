"""The property card: a molecule's picture, descriptors, drug-likeness rules and structural alerts.

Fast enough to follow the structure editor as the chemist draws (about 10 ms for a drug-like
molecule, most of it in the alert search), so it runs on the GUI thread.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from rdkit import Chem, rdBase

from core.chem.alerts import CATALOG_DESCRIPTIONS, Alert, alert_atoms
from core.chem.depict import molecule_svg
from core.chem.descriptors import (
    CARD_DESCRIPTIONS,
    CARD_LABELS,
    CARD_VALUES,
    INTEGER_CARD_VALUES,
    RULE_DESCRIPTIONS,
    MoleculeCard,
    RuleResult,
    describe,
)

PICTURE_SIZE = (300, 190)
# Digits after the decimal point; integers and the formula are written as they are.
_DECIMALS = {"exact_mass": 4, "qed": 3}
_PASS_COLOUR = "#1b7a2f"
_FAIL_COLOUR = "#b3261e"
_MUTED = "color: palette(placeholder-text);"
_ATOM_INDEX = "__property_card_index"


def drawing_smiles(mol: Chem.Mol) -> tuple[str, dict[int, int]]:
    """The SMILES the card draws for ``mol`` and where each atom of ``mol`` lands in it.

    ``core.chem.depict`` draws from SMILES, and the molecule parsed from a SMILES numbers its atoms
    in the order they are written, not as in ``mol``. The map takes an atom index of ``mol`` to
    the index of the same atom in the drawn molecule; explicit hydrogens (which the drawing leaves
    out, as ``MolFromSmiles`` removes them) are missing from it.
    """
    work = Chem.Mol(mol)
    for atom in work.GetAtoms():
        atom.SetIntProp(_ATOM_INDEX, atom.GetIdx())
    if any(atom.GetAtomicNum() == 1 for atom in work.GetAtoms()):
        work = Chem.RemoveHs(work, sanitize=False)
    smiles = Chem.MolToSmiles(work)
    order = list(work.GetPropsAsDict(True, True)["_smilesAtomOutputOrder"])
    drawn = Chem.MolFromSmiles(smiles)
    if drawn is None or drawn.GetNumAtoms() != len(order):
        # The round trip lost or gained atoms (hydrogens MolFromSmiles removes but RemoveHs kept):
        # better no highlight than one on the wrong atoms.
        return smiles, {}
    return smiles, {work.GetAtomWithIdx(i).GetIntProp(_ATOM_INDEX): k for k, i in enumerate(order)}


def _format_value(key: str, value: object) -> str:
    if key == "formula":
        return _formula_html(str(value))
    if key in INTEGER_CARD_VALUES:
        return f"{int(value)}"
    return f"{float(value):.{_DECIMALS.get(key, 2)}f}"


def _formula_html(formula: str) -> str:
    """``C9H8O4`` with subscript counts and a superscript charge (``C5H14NO+``)."""
    body, charge = re.fullmatch(r"(.*?)([+-]\d*)?", formula).groups()
    text = re.sub(r"(\d+)", r"<sub>\1</sub>", html.escape(body))
    if charge:
        text += f"<sup>{html.escape(charge)}</sup>"
    return text


def _rule_html(rule: RuleResult) -> str:
    mark, colour = ("✓", _PASS_COLOUR) if rule.passed else ("✗", _FAIL_COLOUR)
    text = f'<span style="color:{colour}; font-weight:bold;">{mark} {rule.name}</span>'
    if rule.violations:
        text += " — " + html.escape("; ".join(rule.violations))
    return text


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 6, 0, 0)
    return label


class PropertyCard(QWidget):
    """Picture, values, rules and alerts of one molecule; see :meth:`show_molecule`.

    Clicking an alert in the list highlights its atoms on the picture; clicking it again (or
    clearing the selection) highlights the atoms of every alert, as when a molecule is shown.

    Attributes
    ----------
    description
        The :class:`~core.chem.descriptors.MoleculeCard` shown, ``None`` when there is none.
    highlight_changed
        Emitted with the highlighted atom indices (numbered as in the molecule given to
        :meth:`show_molecule`) whenever they change.
    """

    highlight_changed = Signal(tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.description: MoleculeCard | None = None
        self.svg: str | None = None  # the SVG drawn last, None when the picture is empty
        self._smiles = ""
        self._atom_map: dict[int, int] = {}
        self._highlight: tuple[int, ...] = ()

        self.picture = QSvgWidget()
        self.picture.setMinimumHeight(160)
        self.picture.setMaximumHeight(PICTURE_SIZE[1])
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.values: dict[str, QLabel] = {}
        self._names: dict[str, QLabel] = {}
        grid = self._grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        for key in CARD_VALUES:
            name = QLabel(CARD_LABELS[key])
            name.setStyleSheet(_MUTED)
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setTextFormat(
                Qt.TextFormat.RichText if key == "formula" else Qt.TextFormat.PlainText
            )
            for label in (name, value):
                label.setToolTip(CARD_DESCRIPTIONS[key])
            self.values[key] = value
            self._names[key] = name
        self._pairs_per_row = 0
        self._place_values(2)

        self.rule_labels: dict[str, QLabel] = {}
        rules = QVBoxLayout()
        rules.setSpacing(2)
        for name in RULE_DESCRIPTIONS:
            label = QLabel(f"{name}: –")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setToolTip(RULE_DESCRIPTIONS[name])
            self.rule_labels[name] = label
            rules.addWidget(label)

        self.alerts_heading = _heading("Structural alerts")
        self.alerts_heading.setToolTip(
            "Substructures from RDKit's FilterCatalog: PAINS (families A, B, C), Brenk and NIH. "
            "Click one to highlight its atoms; click it again to highlight every alert's atoms."
        )
        self.alert_list = QListWidget()
        self.alert_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.alert_list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.alert_list.itemSelectionChanged.connect(self._on_alert_selection_changed)
        self.alert_list.itemClicked.connect(self._on_alert_clicked)
        self._selection_just_changed = False

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.status_label)
        layout.addLayout(grid)
        layout.addWidget(_heading("Drug-likeness rules"))
        layout.addLayout(rules)
        layout.addWidget(self.alerts_heading)
        layout.addWidget(self.alert_list)
        layout.addStretch(0)
        scroll = self._scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_molecule(None)

    # ------------------------------------------------------------------------------------------
    # Values in two pairs of columns, or one where the card is narrow

    def _place_values(self, per_row: int) -> None:
        """Name/value pairs ``per_row`` to a row (the formula always on a row of its own)."""
        if per_row == self._pairs_per_row:
            return
        self._pairs_per_row = per_row
        grid = self._grid
        for key in CARD_VALUES:
            grid.removeWidget(self._names[key])
            grid.removeWidget(self.values[key])
        row = column = 0
        for key in CARD_VALUES:
            name, value = self._names[key], self.values[key]
            if key == "formula" or per_row == 1:
                grid.addWidget(name, row, 0)
                grid.addWidget(value, row, 1, 1, 3 if per_row == 2 else 1)
                row += 1
                continue
            grid.addWidget(name, row, 2 * column)
            grid.addWidget(value, row, 2 * column + 1)
            column = 1 - column
            row += column == 0
        for index in range(4):
            grid.setColumnStretch(index, 0)
        grid.setColumnStretch(1 if per_row == 1 else 3, 1)
        if per_row == 2:
            grid.setColumnStretch(1, 1)

    def _two_pairs_width(self) -> int:
        """The width two name/value pairs side by side need (the values as shown now)."""
        keys = [k for k in CARD_VALUES if k != "formula"]
        name = max(self._names[k].sizeHint().width() for k in keys)
        value = max(self.values[k].sizeHint().width() for k in keys)
        margins = self.layout().contentsMargins() if self.layout() else None
        content = self._scroll.widget().layout().contentsMargins()
        spare = (
            content.left() + content.right() + (margins.left() + margins.right() if margins else 0)
        )
        return 2 * (name + value) + 3 * self._grid.horizontalSpacing() + spare

    def _fit_values(self) -> None:
        width = self._scroll.viewport().width()
        self._place_values(2 if width >= self._two_pairs_width() else 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_values()

    # ------------------------------------------------------------------------------------------
    # Public

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return self.description.alerts if self.description else ()

    @property
    def highlighted_atoms(self) -> tuple[int, ...]:
        """Atoms highlighted on the picture, numbered as in the molecule shown."""
        return self._highlight

    def show_smiles(self, smiles: str | None) -> None:
        """Show the molecule of a SMILES; an unreadable one shows why instead of values."""
        if not smiles:
            self.show_molecule(None)
            return
        quiet = rdBase.BlockLogs()  # noqa: F841 (the reason is shown on the card instead)
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            self._clear("Invalid SMILES: RDKit cannot read it")
            return
        self.show_molecule(mol)

    def show_molecule(self, mol: Chem.Mol | None) -> None:
        """Fill the card for ``mol``, or show placeholders for ``None``, empty or bad molecules.

        The molecule is sanitised on a copy first (a structure being drawn may not be); one that
        RDKit cannot sanitise shows the reason. Never raises for a bad molecule.
        """
        if mol is None:
            self._clear("No molecule")
            return
        if mol.GetNumAtoms() == 0:
            self._clear("Draw a structure to see its properties")
            return
        quiet = rdBase.BlockLogs()  # noqa: F841 (the reason is shown on the card instead)
        work = Chem.Mol(mol)
        try:
            Chem.SanitizeMol(work)
            description = describe(work)
            smiles, atom_map = drawing_smiles(work)
        except Exception as exc:  # RDKit raises several types; all mean "cannot describe this"
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            self._clear(f"Invalid structure: {reason}")
            return
        self.description = description
        self._smiles, self._atom_map = smiles, atom_map
        self.status_label.clear()
        self.status_label.hide()
        for key, label in self.values.items():
            label.setText(_format_value(key, getattr(description, key)))
        self._fit_values()
        for rule in description.rules:
            self.rule_labels[rule.name].setText(_rule_html(rule))
        self._fill_alerts(description.alerts)
        self._set_highlight(alert_atoms(description.alerts))

    # ------------------------------------------------------------------------------------------
    # Internals

    def _clear(self, message: str) -> None:
        self.description = None
        self._smiles, self._atom_map = "", {}
        self.status_label.setText(message)
        self.status_label.show()
        for label in self.values.values():
            label.setText("–")
        self._fit_values()
        for name, label in self.rule_labels.items():
            label.setText(f"{name}: –")
        self._fill_alerts(None)
        self._set_highlight(())

    def _fill_alerts(self, alerts: tuple[Alert, ...] | None) -> None:
        self.alert_list.blockSignals(True)
        self.alert_list.clear()
        if alerts:
            self.alerts_heading.setText(f"Structural alerts ({len(alerts)})")
            for index, alert in enumerate(alerts):
                item = QListWidgetItem(f"{alert.catalog.replace('_', ' ')}  ·  {alert.name}")
                item.setData(Qt.ItemDataRole.UserRole, index)
                item.setToolTip(
                    f"{CATALOG_DESCRIPTIONS[alert.catalog]}\nAtoms: "
                    + ", ".join(str(atom + 1) for atom in alert.atoms)
                )
                self.alert_list.addItem(item)
        else:
            self.alerts_heading.setText("Structural alerts")
            text = "No structural alerts" if alerts is not None else "–"
            item = QListWidgetItem(text)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.alert_list.addItem(item)
        self.alert_list.blockSignals(False)
        rows = max(1, min(self.alert_list.count(), 6))
        frame = 2 * self.alert_list.frameWidth()
        self.alert_list.setFixedHeight(rows * self.alert_list.sizeHintForRow(0) + frame + 2)

    def _on_alert_clicked(self, item: QListWidgetItem) -> None:
        # A click that did not change the selection was on the selected alert: deselect it, so
        # that the picture shows every alert again.
        if not self._selection_just_changed and item.isSelected():
            self.alert_list.clearSelection()
        self._selection_just_changed = False

    def _on_alert_selection_changed(self) -> None:
        self._selection_just_changed = True
        selected = self.alert_list.selectedItems()
        if selected:
            alert = self.alerts[selected[0].data(Qt.ItemDataRole.UserRole)]
            self._set_highlight(alert.atoms)
        else:
            self._set_highlight(alert_atoms(self.alerts))

    def _set_highlight(self, atoms: tuple[int, ...]) -> None:
        changed = atoms != self._highlight
        self._highlight = atoms
        self._draw()
        if changed:
            self.highlight_changed.emit(atoms)

    def _draw(self) -> None:
        drawn = tuple(self._atom_map[atom] for atom in self._highlight if atom in self._atom_map)
        width, height = PICTURE_SIZE
        self.svg = molecule_svg(self._smiles, width, height, drawn) if self._smiles else None
        self.picture.load(QByteArray(self.svg.encode()) if self.svg else QByteArray())
        # Set after each load: loading resets the renderer's view box and with it the mode; a
        # stretched molecule would be misleading.
        self.picture.renderer().setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        self.picture.setVisible(self.svg is not None)
