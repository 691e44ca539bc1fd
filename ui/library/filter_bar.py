"""Text, validity and numeric-range filters for a library table."""

from __future__ import annotations

import math

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.models.dataframe_model import RowFilter

FLAG_COLUMN = "flag"  # core.project.annotations.FLAG_COLUMN; the library panel's star column
VALIDITY_CHOICES = (("All records", "all"), ("Valid only", "valid"), ("Invalid only", "invalid"))


def _parse_bound(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


class RangeRow(QWidget):
    """``min ≤ column ≤ max``; an empty bound is open."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, columns: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column_box = QComboBox()
        for key, title in columns:
            self.column_box.addItem(title, key)
        self.minimum = QLineEdit()
        self.maximum = QLineEdit()
        for edit, placeholder in ((self.minimum, "min"), (self.maximum, "max")):
            edit.setPlaceholderText(placeholder)
            edit.setValidator(QDoubleValidator())
            edit.setMaximumWidth(90)
            edit.setClearButtonEnabled(True)
            edit.textChanged.connect(self.changed)
        self.column_box.currentIndexChanged.connect(self.changed)
        remove = QToolButton()
        remove.setText("✕")
        remove.setAutoRaise(True)
        remove.setToolTip("Remove this range filter")
        remove.clicked.connect(lambda: self.remove_requested.emit(self))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.minimum)
        layout.addWidget(QLabel("≤"))
        layout.addWidget(self.column_box)
        layout.addWidget(QLabel("≤"))
        layout.addWidget(self.maximum)
        layout.addWidget(remove)
        layout.addStretch(1)

    def value(self) -> tuple[str, float | None, float | None] | None:
        low, high = _parse_bound(self.minimum.text()), _parse_bound(self.maximum.text())
        if low is None and high is None:
            return None
        return self.column_box.currentData(), low, high


class FilterBar(QWidget):
    """Emits :class:`RowFilter` whenever the text, validity or a range changes (text debounced)."""

    filter_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._numeric_columns: list[tuple[str, str]] = []
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText(
            "Filter by name, SMILES, InChIKey… (every word must match)"
        )
        self.text_edit.setClearButtonEnabled(True)
        self.validity_box = QComboBox()
        for title, value in VALIDITY_CHOICES:
            self.validity_box.addItem(title, value)
        self.flagged_box = QCheckBox("★ Flagged only")
        self.flagged_box.setToolTip("Show only the rows you flagged (Ctrl+D flags the selection)")
        self.add_range_button = QPushButton("Add range filter")
        self.add_range_button.setToolTip(
            "Keep rows whose value lies between a minimum and a maximum"
        )
        self.add_range_button.clicked.connect(self.add_range)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.clicked.connect(self.clear)
        self.count_label = QLabel()
        # A search result (substructure, similarity, cluster…) narrowing the rows, shown as a chip.
        self._row_mask = None
        self.search_label = QLabel()
        self.search_label.setStyleSheet(
            "QLabel { background: #e3eefc; border: 1px solid #9bbbe8; border-radius: 8px; "
            "padding: 1px 8px; }"
        )
        self.search_clear = QPushButton("✕")
        self.search_clear.setToolTip("Show every row again (drop the search)")
        self.search_clear.setFixedWidth(28)
        self.search_clear.clicked.connect(self.clear_row_mask)
        self.search_label.hide()
        self.search_clear.hide()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.text_edit, 1)
        top.addWidget(self.search_label)
        top.addWidget(self.search_clear)
        top.addWidget(self.flagged_box)
        top.addWidget(self.validity_box)
        top.addWidget(self.add_range_button)
        top.addWidget(self.clear_button)
        self._ranges_layout = QVBoxLayout()
        self._ranges_layout.setContentsMargins(0, 0, 0, 0)
        self._ranges_layout.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(self._ranges_layout)
        self.ranges: list[RangeRow] = []
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self._emit)
        self.text_edit.textChanged.connect(self._debounce.start)
        self.validity_box.currentIndexChanged.connect(self._emit)
        self.flagged_box.toggled.connect(self._emit)

    def set_numeric_columns(self, columns: list[tuple[str, str]]) -> None:
        """``(column key, title)`` pairs offered by range filters."""
        self._numeric_columns = columns
        self.add_range_button.setEnabled(bool(columns))

    def add_range(
        self, column: str | None = None, low: float | None = None, high: float | None = None
    ) -> RangeRow:
        row = RangeRow(self._numeric_columns)
        if column is not None:
            index = row.column_box.findData(column)
            if index >= 0:
                row.column_box.setCurrentIndex(index)
        if low is not None:
            row.minimum.setText(f"{low:g}")
        if high is not None:
            row.maximum.setText(f"{high:g}")
        row.changed.connect(self._debounce.start)
        row.remove_requested.connect(self._remove_range)
        self.ranges.append(row)
        self._ranges_layout.addWidget(row)
        self._emit()
        return row

    def _remove_range(self, row: RangeRow) -> None:
        self.ranges.remove(row)
        self._ranges_layout.removeWidget(row)
        row.deleteLater()
        self._emit()

    def clear(self) -> None:
        for row in list(self.ranges):
            self.ranges.remove(row)
            self._ranges_layout.removeWidget(row)
            row.deleteLater()
        self.text_edit.blockSignals(True)
        self.text_edit.clear()
        self.text_edit.blockSignals(False)
        self.validity_box.blockSignals(True)
        self.validity_box.setCurrentIndex(0)
        self.validity_box.blockSignals(False)
        self.flagged_box.blockSignals(True)
        self.flagged_box.setChecked(False)
        self.flagged_box.blockSignals(False)
        self._row_mask = None
        self.search_label.hide()
        self.search_clear.hide()
        self._emit()

    def set_row_mask(self, mask, description: str) -> None:
        """Narrow the rows to ``mask`` (a boolean array over table rows), described on a chip."""
        self._row_mask = mask
        self.search_label.setText(description)
        self.search_label.setToolTip(description)
        self.search_label.show()
        self.search_clear.show()
        self._emit()

    def clear_row_mask(self) -> None:
        if self._row_mask is None:
            return
        self._row_mask = None
        self.search_label.hide()
        self.search_clear.hide()
        self._emit()

    def current_filter(self) -> RowFilter:
        ranges = tuple(value for row in self.ranges if (value := row.value()) is not None)
        return RowFilter(
            text=self.text_edit.text().strip(),
            ranges=ranges,
            valid=self.validity_box.currentData(),
            true_columns=(FLAG_COLUMN,) if self.flagged_box.isChecked() else (),
            rows=self._row_mask,
        )

    def flush(self) -> None:
        """Apply a pending (debounced) text change now."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._emit()

    def _emit(self) -> None:
        self.filter_changed.emit(self.current_filter())
