"""Side-by-side comparison of a few library molecules: pictures on top, then one aligned row per
property, score or prediction, with the rows whose values differ highlighted."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.chem.depict import molecule_png
from ui.tables.dataframe_model import ColumnSpec

MIN_COMPARE, MAX_COMPARE = 2, 6
DIFFERENT = QColor(255, 243, 196)
PICTURE = (220, 160)


def format_value(spec: ColumnSpec, value: object) -> str:
    """A cell as the library table shows it (stars for flags, fixed decimals for floats)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if spec.kind == "bool":
        if spec.editable:
            return "★" if value else "☆"
        return "yes" if value else "no"
    if spec.kind == "float":
        try:
            return f"{float(value):.{spec.decimals}f}"
        except (TypeError, ValueError):
            return str(value)
    if spec.kind == "int":
        try:
            return str(int(value))
        except (TypeError, ValueError):
            return str(value)
    if spec.formatter is not None and str(value):
        return spec.formatter(str(value))
    return str(value)


def comparison_rows(
    rows: pd.DataFrame, specs: Sequence[ColumnSpec]
) -> list[tuple[ColumnSpec, list[str], bool]]:
    """``(spec, shown values, differ)`` for each column present in ``rows`` (not the structure
    or the name: they head the columns)."""
    result = []
    for spec in specs:
        if spec.kind == "structure" or spec.key == "name" or spec.key not in rows.columns:
            continue
        texts = [format_value(spec, value) for value in rows[spec.key].tolist()]
        result.append((spec, texts, len(set(texts)) > 1))
    return result


class CompareDialog(QDialog):
    """Molecules as columns, properties as rows; non-modal so the table stays usable."""

    def __init__(
        self,
        rows: pd.DataFrame,
        specs: Sequence[ColumnSpec],
        positions: Sequence[int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {len(rows)} molecules")
        self.rows_data = comparison_rows(rows, specs)
        names = [
            str(name) if str(name) else f"#{position + 1}"
            for name, position in zip(
                rows.get("name", pd.Series([""] * len(rows))).tolist(), positions, strict=True
            )
        ]
        self.table = QTableWidget(len(self.rows_data) + 1, len(rows))
        self.table.setHorizontalHeaderLabels(
            [f"{name}\n(record {p + 1})" for name, p in zip(names, positions, strict=True)]
        )
        self.table.setVerticalHeaderLabels(
            ["Structure"] + [s.title for s, _t, _d in self.rows_data]
        )
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        smiles_columns = [c for c in ("canonical_smiles", "smiles") if c in rows.columns]
        for column in range(len(rows)):
            smiles = ""
            for name in smiles_columns:
                value = rows[name].iloc[column]
                if isinstance(value, str) and value.strip():
                    smiles = value
                    break
            picture = QLabel()
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            png = molecule_png(smiles, *PICTURE) if smiles else None
            if png:
                pixmap = QPixmap()
                pixmap.loadFromData(png)
                picture.setPixmap(pixmap)
            else:
                picture.setText("no structure")
            picture.setToolTip(smiles)
            self.table.setCellWidget(0, column, picture)
        bold = QFont()
        bold.setBold(True)
        for number, (spec, texts, differ) in enumerate(self.rows_data, start=1):
            header = self.table.verticalHeaderItem(number)
            if spec.tooltip:
                header.setToolTip(spec.tooltip)
            if differ:
                header.setFont(bold)
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if spec.kind in ("float", "int"):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if differ:
                    item.setBackground(QBrush(DIFFERENT))
                if len(text) > 30:
                    item.setToolTip(text)
                self.table.setItem(number, column, item)
        self.table.setRowHeight(0, PICTURE[1] + 8)
        horizontal = self.table.horizontalHeader()
        horizontal.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column in range(len(rows)):
            self.table.setColumnWidth(column, PICTURE[0] + 12)
        self.only_different = QCheckBox("Only rows that differ")
        self.only_different.toggled.connect(self._apply_row_visibility)
        n_differ = sum(1 for _s, _t, d in self.rows_data if d)
        summary = QLabel(f"{n_differ} of {len(self.rows_data)} values differ (highlighted).")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.only_different)
        layout.addWidget(self.table, 1)
        layout.addWidget(summary)
        layout.addWidget(buttons)
        width = min(1500, 180 + len(rows) * (PICTURE[0] + 14))
        self.resize(max(560, width), 760)

    def differing_titles(self) -> list[str]:
        return [spec.title for spec, _texts, differ in self.rows_data if differ]

    def _apply_row_visibility(self, only_different: bool) -> None:
        for number, (_spec, _texts, differ) in enumerate(self.rows_data, start=1):
            self.table.setRowHidden(number, only_different and not differ)
