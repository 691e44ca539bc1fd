"""The molecule dock: a large picture and the properties of the library row in focus."""

from __future__ import annotations

import math

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from core.chem.depict import molecule_svg
from core.chem.properties import (
    INTEGER_PROPERTIES,
    PROPERTY_COLUMNS,
    PROPERTY_DESCRIPTIONS,
    PROPERTY_LABELS,
)


def _format(key: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    try:
        if key in INTEGER_PROPERTIES:
            return f"{int(value)}"
        return f"{float(value):.3f}" if key == "qed" else f"{float(value):.2f}"
    except (TypeError, ValueError):
        return "–"


class MoleculePreview(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_label = QLabel("No molecule selected")
        self.name_label.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.name_label.setWordWrap(True)
        self.picture = QSvgWidget()
        self.picture.setMinimumSize(260, 200)
        self.smiles_label = QLabel()
        self.smiles_label.setWordWrap(True)
        self.smiles_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #8a1c12;")
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        for key in PROPERTY_COLUMNS:
            label = QLabel("–")
            label.setToolTip(PROPERTY_DESCRIPTIONS[key])
            self.values[key] = label
            form.addRow(f"{PROPERTY_LABELS[key]}:", label)
        self.inchikey_label = QLabel()
        self.inchikey_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("InChIKey:", self.inchikey_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.name_label)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.smiles_label)
        layout.addWidget(self.problem_label)
        layout.addLayout(form)
        layout.addStretch(0)
        self.show_row(None)

    def show_row(self, row: dict | None) -> None:
        if not row:
            self.name_label.setText("No molecule selected")
            self.picture.load(QByteArray())
            self.smiles_label.clear()
            self.problem_label.clear()
            self.inchikey_label.clear()
            for label in self.values.values():
                label.setText("–")
            return
        self.name_label.setText(str(row.get("name", "")))
        smiles = row.get("canonical_smiles") or row.get("smiles") or ""
        svg = molecule_svg(smiles, 300, 220) if row.get("valid", True) else None
        self.picture.load(QByteArray(svg.encode()) if svg else QByteArray())
        self.smiles_label.setText(smiles or str(row.get("smiles", "")))
        self.problem_label.setText(
            "" if row.get("valid", True) else f"Invalid: {row.get('error', '')}"
        )
        self.inchikey_label.setText(str(row.get("inchikey", "")))
        for key, label in self.values.items():
            label.setText(_format(key, row.get(key)))
