"""The ADMET tab: every admet-ai endpoint of the current molecule with its meaning, units,
value and percentile among DrugBank's approved drugs."""

from __future__ import annotations

import math

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

HEADERS = ("Endpoint", "Value", "Units", "Pctl.")


def _percentile_colour(percentile: float) -> QColor:
    # A neutral scale: the percentile says how unusual the value is, not whether it is good.
    shade = int(255 - 1.1 * min(max(percentile, 0.0), 100.0))
    return QColor(shade, shade, 255)


class AdmetView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select a molecule after scoring with ADMET predictions.")
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeaderItem(3).setToolTip("Percentile among DrugBank approved drugs")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        note = QLabel(
            "admet-ai (Chemprop v2, TDC data). Classification endpoints give a probability. The "
            "percentile places the value among DrugBank's approved drugs (the package's reference "
            "set, scored by the same models)."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    def show_row(self, row: dict | None) -> int:
        """Fill the table from a library row; returns the number of endpoints shown."""
        from core.ranking.admet import endpoints

        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        if not row or not any(str(key).startswith("admet_") for key in row):
            self.title.setText(
                "No ADMET values for this row: tick 'ADMET predictions' in the Rank tab and "
                "press Score library."
            )
            return 0
        name = row.get("name") or row.get("canonical_smiles") or ""
        shown = 0
        for endpoint in endpoints():
            value = row.get(endpoint.column)
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                continue
            percentile = row.get(endpoint.percentile_column)
            self.table.insertRow(shown)
            units = "probability" if endpoint.task == "classification" else endpoint.units
            cells = [
                QTableWidgetItem(endpoint.name),
                QTableWidgetItem(),
                QTableWidgetItem(units),
                QTableWidgetItem(),
            ]
            cells[0].setToolTip(endpoint.description())
            cells[1].setData(Qt.ItemDataRole.DisplayRole, round(float(value), 3))
            if percentile is not None and not pd.isna(percentile):
                cells[3].setData(Qt.ItemDataRole.DisplayRole, round(float(percentile), 1))
                cells[3].setBackground(QBrush(_percentile_colour(float(percentile))))
                cells[3].setToolTip(
                    f"{float(percentile):.0f}% of approved drugs have a lower predicted value"
                )
            for column, cell in enumerate(cells):
                self.table.setItem(shown, column, cell)
            shown += 1
        self.table.setSortingEnabled(True)
        self.title.setText(f"<b>{name}</b>: {shown} ADMET endpoints")
        return shown
