"""Text, validity and numeric-range filters for a library table."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.tables.dataframe_model import RowFilter
from ui.widgets.elided_label import ElidedLabel
from ui.widgets.wrap_layout import WrapLayout

FLAG_COLUMN = "flag"  # core.project.annotations.FLAG_COLUMN; the library panel's star column


class _SearchEdit(QLineEdit):
    """The filter's text box: asks for room for a few words before the bar's other controls."""

    def sizeHint(self) -> QSize:
        return QSize(260, super().sizeHint().height())


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


SLIDER_STEPS = 1000
ALERT_CHOICES = (
    ("Any alerts", "any"),
    ("No alerts", "none"),
    ("No PAINS", "no_pains"),
    ("With alerts", "with"),
)
_ALERT_FILTERS: dict[str, dict] = {
    "any": {},
    "none": {"empty_columns": ("alerts",)},
    "no_pains": {"without_text": (("alerts", "pains"),)},
    "with": {"nonempty_columns": ("alerts",)},
}


class RangeRow(QWidget):
    """``min ≤ column ≤ max``; an empty bound is open."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(
        self,
        columns: list[tuple[str, str]],
        parent: QWidget | None = None,
        range_provider: Callable[[str], tuple[float, float] | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._syncing = False
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
        # Two sliders over the column's own range (from the range provider) set the bounds by
        # dragging; typing a bound moves its slider.
        self.range_provider = range_provider
        self._span: tuple[float, float] | None = None
        self.low_slider = QSlider(Qt.Orientation.Horizontal)
        self.high_slider = QSlider(Qt.Orientation.Horizontal)
        for slider, edit in ((self.low_slider, self.minimum), (self.high_slider, self.maximum)):
            slider.setRange(0, SLIDER_STEPS)
            slider.setMinimumWidth(90)
            slider.setToolTip("Drag to set the bound; the column's range spans the slider")
            slider.valueChanged.connect(lambda value, edit=edit: self._on_slider(edit, value))
            edit.textEdited.connect(self._sync_sliders)
        self.low_slider.setValue(0)
        self.high_slider.setValue(SLIDER_STEPS)
        self.column_box.currentIndexChanged.connect(self._on_column_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.minimum)
        layout.addWidget(self.low_slider)
        layout.addWidget(QLabel("≤"))
        layout.addWidget(self.column_box)
        layout.addWidget(QLabel("≤"))
        layout.addWidget(self.high_slider)
        layout.addWidget(self.maximum)
        layout.addWidget(remove)
        layout.addStretch(1)
        self._on_column_changed()

    def _on_column_changed(self, *_args) -> None:
        key = self.column_box.currentData()
        self._span = self.range_provider(key) if (self.range_provider and key) else None
        enabled = self._span is not None and self._span[1] > self._span[0]
        for slider in (self.low_slider, self.high_slider):
            slider.setEnabled(enabled)
        self._sync_sliders()

    def _on_slider(self, edit: QLineEdit, value: int) -> None:
        if self._span is None or self._syncing:
            return
        low, high = self._span
        number = low + (high - low) * value / SLIDER_STEPS
        at_end = (edit is self.minimum and value == 0) or (
            edit is self.maximum and value == SLIDER_STEPS
        )
        edit.setText("" if at_end else f"{number:.4g}")  # an end of the slider: open bound
        if self.low_slider.value() > self.high_slider.value():  # keep min ≤ max
            other = self.high_slider if edit is self.minimum else self.low_slider
            other.setValue(value)

    def _sync_sliders(self, *_args) -> None:
        if self._span is None:
            return
        low, high = self._span
        self._syncing = True
        try:
            for slider, edit, default in (
                (self.low_slider, self.minimum, 0),
                (self.high_slider, self.maximum, SLIDER_STEPS),
            ):
                value = _parse_bound(edit.text())
                if value is None or high <= low:
                    slider.setValue(default)
                else:
                    fraction = (min(max(value, low), high) - low) / (high - low)
                    slider.setValue(round(fraction * SLIDER_STEPS))
        finally:
            self._syncing = False

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
        self.range_provider: Callable[[str], tuple[float, float] | None] | None = None
        """Gives a column's (min, max) so range sliders can span it; set by the panel."""
        self.text_edit = _SearchEdit()
        self.text_edit.setPlaceholderText(
            "Filter by name, SMILES, InChIKey… (every word must match)"
        )
        self.text_edit.setClearButtonEnabled(True)
        self.validity_box = QComboBox()
        for title, value in VALIDITY_CHOICES:
            self.validity_box.addItem(title, value)
        self.alerts_box = QComboBox()
        for title, value in ALERT_CHOICES:
            self.alerts_box.addItem(title, value)
        self.alerts_box.setToolTip(
            "Structural alerts (RDKit FilterCatalog: PAINS A/B/C, Brenk, NIH) of each molecule"
        )
        self.flagged_box = QCheckBox("★ Flagged only")
        self.flagged_box.setToolTip("Show only the rows you flagged (Ctrl+D flags the selection)")
        self.add_range_button = QPushButton("Range filter…")
        self.add_range_button.setToolTip(
            "Add a range filter: keep rows whose value lies between a minimum and a maximum"
        )
        self.add_range_button.clicked.connect(self.add_range)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Clear every filter and search: show all rows")
        self.clear_button.clicked.connect(self.clear)
        # A search result (substructure, similarity, cluster…) narrowing the rows, shown as a chip.
        self._row_mask = None
        self._saved_mask: str | None = None
        # The chip names its search (its query molecule's name): long names elide, never widen.
        self.search_label = ElidedLabel(mode="right", minimum_chars=10)
        self.search_label.setMaximumWidth(360)
        self.search_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.search_label.setStyleSheet(
            "ElidedLabel { background: #e3eefc; border: 1px solid #9bbbe8; border-radius: 8px; "
            "padding: 1px 8px; }"
        )
        self.search_clear = QPushButton("✕")
        self.search_clear.setToolTip("Show every row again (drop the search)")
        self.search_clear.setFixedWidth(28)
        self.search_clear.clicked.connect(self.clear_row_mask)
        self.search_label.hide()
        self.search_clear.hide()
        # Combo boxes as wide as a short entry, not their longest one: the bar must fit a
        # 1366-pixel screen beside the hit-list tools and the Molecule panel.
        for box in (self.alerts_box, self.validity_box):
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(7)
        # The search box fills the bar; when the bar is narrow (a laptop screen with the hit-list
        # tools open) the other controls wrap onto a second line instead of widening the window.
        self.text_edit.setMinimumWidth(160)
        self.text_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        top = WrapLayout()
        top.addWidget(self.text_edit)
        top.addWidget(self.search_label)
        top.addWidget(self.search_clear)
        top.addWidget(self.alerts_box)
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
        self.alerts_box.currentIndexChanged.connect(self._emit)

    def set_numeric_columns(self, columns: list[tuple[str, str]]) -> None:
        """``(column key, title)`` pairs offered by range filters."""
        self._numeric_columns = columns
        self.add_range_button.setEnabled(bool(columns))

    def add_range(
        self, column: str | None = None, low: float | None = None, high: float | None = None
    ) -> RangeRow:
        row = RangeRow(self._numeric_columns, range_provider=self.range_provider)
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
        self._reset()
        self._emit()

    def _reset(self) -> None:
        """Every filter off, without emitting."""
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
        self.alerts_box.blockSignals(True)
        self.alerts_box.setCurrentIndex(0)
        self.alerts_box.blockSignals(False)
        self._row_mask = None
        self.search_label.hide()
        self.search_clear.hide()

    def set_row_mask(self, mask, description: str) -> None:
        """Narrow the rows to ``mask`` (a boolean array over table rows), described on a chip."""
        self._show_row_mask(mask, description)
        self._emit()

    def _show_row_mask(self, mask, description: str) -> None:
        self._row_mask = mask
        self._saved_mask = None  # its text for a project, made when first asked for
        self.search_label.setText(description)
        self.search_label.setToolTip(description)
        self.search_label.show()
        self.search_clear.show()

    def _row_mask_state(self) -> dict:
        if self._saved_mask is None:
            bits = np.packbits(np.asarray(self._row_mask, dtype=bool))
            self._saved_mask = base64.b64encode(bits.tobytes()).decode("ascii")
        return {
            "label": self.search_label.text(),
            "rows": self._saved_mask,
            "n": len(self._row_mask),
        }

    def clear_row_mask(self) -> None:
        if self._row_mask is None:
            return
        self._row_mask = None
        self.search_label.hide()
        self.search_clear.hide()
        self._emit()

    def state(self) -> dict:
        """The filters as plain values, to save with a project; a search chip's rows as a bit
        mask (a million rows: 167 kB of text)."""
        state = {
            "text": self.text_edit.text(),
            "valid": self.validity_box.currentData(),
            "alerts": self.alerts_box.currentData(),
            "flagged": self.flagged_box.isChecked(),
            "ranges": [
                [row.column_box.currentData(), row.minimum.text(), row.maximum.text()]
                for row in self.ranges
            ],
        }
        if self._row_mask is not None:
            state["search"] = self._row_mask_state()
        return state

    def set_state(self, state: Mapping[str, Any], n_rows: int | None = None) -> list[str]:
        """Restore :meth:`state`, emitting one filter; returns what could not be restored (a
        range over a column the table no longer has, an unknown choice, a search result over a
        table of another length than ``n_rows``)."""
        problems: list[str] = []
        self._reset()
        widgets = (self.text_edit, self.validity_box, self.alerts_box, self.flagged_box)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.text_edit.setText(str(state.get("text", "") or ""))
            for box, key in ((self.validity_box, "valid"), (self.alerts_box, "alerts")):
                value = state.get(key)
                index = box.findData(value) if value is not None else 0
                if index < 0:
                    problems.append(f"unknown {key} filter {value!r}")
                box.setCurrentIndex(max(index, 0))
            self.flagged_box.setChecked(bool(state.get("flagged", False)))
            columns = {key for key, _title in self._numeric_columns}
            for item in state.get("ranges", []) or []:
                try:
                    column, low, high = item
                except (TypeError, ValueError):
                    problems.append(f"unreadable range filter {item!r}")
                    continue
                if column not in columns:
                    problems.append(f"range filter on '{column}', which the table lacks")
                    continue
                row = RangeRow(self._numeric_columns, range_provider=self.range_provider)
                row.column_box.setCurrentIndex(row.column_box.findData(column))
                row.minimum.setText(str(low or ""))
                row.maximum.setText(str(high or ""))
                row.changed.connect(self._debounce.start)
                row.remove_requested.connect(self._remove_range)
                self.ranges.append(row)
                self._ranges_layout.addWidget(row)
            if "search" in state:
                problems.extend(self._restore_row_mask(state["search"], n_rows))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._debounce.stop()
        self._emit()
        return problems

    def _restore_row_mask(self, saved: Any, n_rows: int | None) -> list[str]:
        try:
            label = str(saved["label"])
            n = int(saved["n"])
            bits = np.frombuffer(base64.b64decode(saved["rows"], validate=True), dtype=np.uint8)
        except (KeyError, TypeError, ValueError, binascii.Error):
            return ["an unreadable search result"]
        if n < 0 or len(bits) != (n + 7) // 8:
            return ["an unreadable search result"]
        if n_rows is not None and n != n_rows:
            return [f"the search result '{label}' (the table has changed since)"]
        self._show_row_mask(np.unpackbits(bits, count=n).astype(bool), label)
        return []

    def current_filter(self) -> RowFilter:
        ranges = tuple(value for row in self.ranges if (value := row.value()) is not None)
        return RowFilter(
            text=self.text_edit.text().strip(),
            ranges=ranges,
            valid=self.validity_box.currentData(),
            true_columns=(FLAG_COLUMN,) if self.flagged_box.isChecked() else (),
            **_ALERT_FILTERS[self.alerts_box.currentData()],
            rows=self._row_mask,
        )

    def flush(self) -> None:
        """Apply a pending (debounced) text change now."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._emit()

    def _emit(self) -> None:
        self.filter_changed.emit(self.current_filter())
