"""A periodic-table picker: a grid of element buttons that returns the symbol chosen."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from rdkit import Chem

LAST_ELEMENT = 118
ORGANIC_SUBSET = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I"})

# The f-block rows sit under the main table, after a gap row (row 8).
_LANTHANIDES = range(57, 72)
_ACTINIDES = range(89, 104)


def element_cell(atomic_number: int) -> tuple[int, int]:
    """Grid ``(row, column)`` of an element in the usual 18-column layout (both from 0).

    Lanthanides and actinides go in two rows below the main table (rows 8 and 9).
    """
    z = atomic_number
    if not 1 <= z <= LAST_ELEMENT:
        raise ValueError(f"No element with atomic number {z}")
    if z in _LANTHANIDES:
        return 8, 2 + (z - 57)
    if z in _ACTINIDES:
        return 9, 2 + (z - 89)
    if z == 1:
        return 0, 0
    if z == 2:
        return 0, 17
    # Periods 2 and 3: s block in columns 0-1, p block in 12-17.
    for row, first in ((1, 3), (2, 11)):
        if first <= z < first + 8:
            offset = z - first
            return row, offset if offset < 2 else offset + 10
    # Periods 4 and 5 fill all 18 columns.
    for row, first in ((3, 19), (4, 37)):
        if first <= z < first + 18:
            return row, z - first
    # Periods 6 and 7: s block, then (after the f block) columns 3-17.
    for row, first, after_f in ((5, 55, 72), (6, 87, 104)):
        if z in (first, first + 1):
            return row, z - first
        if after_f <= z < after_f + 15:
            return row, 3 + (z - after_f)
    raise AssertionError(f"element {z} has no cell")  # every z in 1..118 is covered above


class PeriodicTableDialog(QDialog):
    """Pick an element; :meth:`choose_element` is the usual way to use it."""

    element_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose an element")
        self.selected_symbol: str | None = None
        self.buttons: dict[str, QToolButton] = {}
        table = Chem.GetPeriodicTable()
        grid = QGridLayout()
        grid.setSpacing(2)
        for z in range(1, LAST_ELEMENT + 1):
            symbol = table.GetElementSymbol(z)
            button = QToolButton()
            button.setText(symbol)
            button.setToolTip(f"{table.GetElementName(z)} ({z})")
            button.setAutoRaise(False)
            button.setFixedSize(30, 26)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            if symbol in ORGANIC_SUBSET:
                button.setStyleSheet("font-weight: bold;")
            button.clicked.connect(lambda _checked=False, s=symbol: self._on_element_clicked(s))
            row, column = element_cell(z)
            grid.addWidget(button, row, column)
            self.buttons[symbol] = button
        grid.setRowMinimumHeight(7, 8)  # a gap above the f-block rows
        hint = QLabel("Elements in bold are common in drug molecules.")
        hint.setAlignment(Qt.AlignmentFlag.AlignLeft)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def _on_element_clicked(self, symbol: str) -> None:
        self.selected_symbol = symbol
        self.element_chosen.emit(symbol)
        self.accept()

    @classmethod
    def choose_element(cls, parent: QWidget | None = None) -> str | None:
        """Show the dialog modally; the chosen symbol, or ``None`` when cancelled."""
        dialog = cls(parent)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                return dialog.selected_symbol
            return None
        finally:
            dialog.deleteLater()
