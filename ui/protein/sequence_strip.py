"""A sequence strip: one row of one-letter codes per chain, linked with the 3D view.

Clicking a residue emits :attr:`SequenceStrip.residue_clicked` with its residue index in the
structure (shift-click adds to the selection); :meth:`SequenceStrip.set_selection` highlights the
residues selected anywhere else. Secondary structure shows as a coloured bar under each letter.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.protein.colors import SS_COLORS
from core.protein.structure import POLYMER, THREE_TO_ONE, ProteinStructure

CELL_W = 13
ROW_H = 24
LABEL_W = 34
RULER_H = 14


class SequenceStrip(QWidget):
    residue_clicked = Signal(int, bool)  # residue index, add to the selection (shift)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, np.ndarray]] = []
        self._structure: ProteinStructure | None = None
        self._selected: set[int] = set()
        self._font = QFont("DejaVu Sans Mono")
        self._font.setStyleHint(QFont.StyleHint.Monospace)
        self._font.setPointSize(9)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setToolTip("Click a residue to select it in the 3D view (Shift: add)")

    def set_structure(self, structure: ProteinStructure | None) -> None:
        self._structure = structure
        self._rows = []
        if structure is not None:
            for chain in structure.chains:
                residues = np.flatnonzero(
                    (structure.res_chains == chain.id) & (structure.res_kinds == POLYMER)
                )
                if len(residues):
                    self._rows.append((chain.id, residues))
        self._selected = set()
        self.updateGeometry()
        self.resize(self.sizeHint())
        self.update()

    def rows(self) -> list[tuple[str, np.ndarray]]:
        return self._rows

    def set_selection(self, residues) -> None:
        self._selected = {int(r) for r in residues}
        self.update()

    def selection(self) -> list[int]:
        return sorted(self._selected)

    def sizeHint(self) -> QSize:
        if not self._rows:  # room for the "no structure" line
            return QSize(420, RULER_H + ROW_H + 4)
        longest = max(len(r) for _, r in self._rows)
        return QSize(LABEL_W + longest * CELL_W + 8, RULER_H + len(self._rows) * ROW_H + 4)

    def residue_rect(self, residue: int) -> QRect | None:
        """Where ``residue`` is drawn (for tests and scrolling)."""
        for row, (_, residues) in enumerate(self._rows):
            hits = np.flatnonzero(residues == residue)
            if len(hits):
                x = LABEL_W + int(hits[0]) * CELL_W
                return QRect(x, RULER_H + row * ROW_H, CELL_W, ROW_H - 4)
        return None

    def residue_at(self, x: int, y: int) -> int | None:
        row = (y - RULER_H) // ROW_H
        column = (x - LABEL_W) // CELL_W
        if y < RULER_H or row >= len(self._rows) or x < LABEL_W:
            return None
        residues = self._rows[row][1]
        return int(residues[column]) if 0 <= column < len(residues) else None

    def mousePressEvent(self, event) -> None:
        position = event.position().toPoint()
        residue = self.residue_at(position.x(), position.y())
        if residue is not None and event.button() == Qt.MouseButton.LeftButton:
            add = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.residue_clicked.emit(residue, add)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        position = event.position().toPoint()
        residue = self.residue_at(position.x(), position.y())
        if residue is not None and self._structure is not None:
            self.setToolTip(self._structure.residue_label(residue))
        super().mouseMoveEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#fbfbfc"))
        painter.setFont(self._font)
        metrics = QFontMetrics(self._font)
        s = self._structure
        if s is None or not self._rows:
            painter.setPen(QColor("#777"))
            painter.drawText(8, RULER_H + 14, "No structure: open a file, fetch an id or predict")
            painter.end()
            return
        visible = event.rect()
        first_row = max(0, (visible.top() - RULER_H) // ROW_H)
        last_row = min(len(self._rows), (visible.bottom() - RULER_H) // ROW_H + 1)
        for row in range(first_row, last_row):  # only the rows in view: hundreds of chains
            chain, residues = self._rows[row]
            top = RULER_H + row * ROW_H
            painter.setPen(QColor("#333"))
            painter.drawText(QRect(2, top, LABEL_W - 6, ROW_H - 6), Qt.AlignmentFlag.AlignRight
                             | Qt.AlignmentFlag.AlignVCenter, chain)  # fmt: skip
            first = max(0, (visible.left() - LABEL_W) // CELL_W - 1)
            last = min(len(residues), (visible.right() - LABEL_W) // CELL_W + 2)
            for column in range(first, last):
                residue = int(residues[column])
                x = LABEL_W + column * CELL_W
                cell = QRect(x, top, CELL_W - 1, ROW_H - 6)
                if residue in self._selected:
                    painter.fillRect(cell, QColor(255, 220, 40))
                ss = s.res_ss[residue]
                if ss in ("H", "E"):
                    r, g, b = (int(255 * c) for c in SS_COLORS[ss])
                    painter.fillRect(QRect(x, top + ROW_H - 6, CELL_W - 1, 3), QColor(r, g, b))
                painter.setPen(QColor("#111"))
                letter = THREE_TO_ONE.get(str(s.res_names[residue]), "X")
                painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, letter)
                number = int(s.res_numbers[residue])
                if row == 0 and number % 10 == 0:
                    painter.setPen(QColor("#888"))
                    painter.drawText(x, RULER_H - 3, str(number))
        del metrics
        painter.end()
