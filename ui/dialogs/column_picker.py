"""Pick the SMILES (and name) column of a table before it is loaded."""

from __future__ import annotations

import pandas as pd
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.chem.readers import ReadOptions, TablePreview
from ui.tables.dataframe_model import DataFrameModel

NO_COLUMN = "(none: number the rows)"


class ColumnPickerDialog(QDialog):
    """Shows the first rows of the file; the detected SMILES and name columns are preselected."""

    def __init__(
        self, file_name: str, preview: TablePreview, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Columns of {file_name}")
        self.resize(760, 460)
        self.preview = preview
        self.smiles_box = QComboBox()
        self.smiles_box.addItems(preview.columns)
        if preview.smiles_column:
            self.smiles_box.setCurrentText(preview.smiles_column)
        self.name_box = QComboBox()
        self.name_box.addItem(NO_COLUMN)
        self.name_box.addItems(preview.columns)
        if preview.name_column:
            self.name_box.setCurrentText(preview.name_column)
        if preview.smiles_column:
            hint = f"Detected SMILES column: {preview.smiles_column}."
        else:
            hint = "No column looks like SMILES; pick the one that holds the structures."
        self.hint_label = QLabel(hint)
        self.hint_label.setWordWrap(True)
        width = max((len(r) for r in preview.rows), default=0)
        columns = preview.columns + [f"column_{i + 1}" for i in range(len(preview.columns), width)]
        rows = [r + [""] * (len(columns) - len(r)) for r in preview.rows]
        self.table_model = DataFrameModel(pd.DataFrame(rows, columns=columns, dtype=object), self)
        table = QTableView()
        table.setModel(self.table_model)
        table.verticalHeader().setDefaultSectionSize(22)
        form = QFormLayout()
        form.addRow("SMILES column:", self.smiles_box)
        form.addRow("Name column:", self.name_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint_label)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"First {len(preview.rows)} rows:"))
        layout.addWidget(table, 1)
        layout.addWidget(buttons)

    def read_options(self) -> ReadOptions:
        name = self.name_box.currentText()
        return ReadOptions(
            smiles_column=self.smiles_box.currentText(),
            name_column="" if name == NO_COLUMN else name,
        )
