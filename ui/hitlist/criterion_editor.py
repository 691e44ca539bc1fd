"""The Rank tab's criterion editor: one criterion of the desirability profile, its column, its
curve (drawn, with points to drag; exact numbers in the boxes below it), weight and use of
uncertainty."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QWidget,
)

from core.hitlist.desirability import Criterion, ProfileError
from ui.hitlist.curve_editor import DesirabilityCurve
from ui.hitlist.forms import compact
from ui.hitlist.titles import axis_title


class CriterionEditor(QGroupBox):
    """Edits the selected criterion of the profile: its column, its curve (drawn, with points to
    drag; exact numbers in the boxes below it), weight and use of uncertainty."""

    changed = Signal(object)  # the edited Criterion

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Criterion", parent)
        self.values_provider: Callable[[str], np.ndarray | None] = lambda _column: None
        """The table's values of a column (the curve's histogram and range); set by the tools."""
        self.column_box = QComboBox()
        self.column_box.setEditable(True)
        self.shape_box = QComboBox()
        self.shape_box.addItem("Logistic (thresholds)", "logistic")
        self.shape_box.addItem("Piecewise (points)", "piecewise")
        self.shape_box.setToolTip(
            "Logistic: a smooth step from 0.05 at 'bad' to 0.95 at 'good'. Piecewise: straight "
            "lines through points that you drag on the curve."
        )
        self.curve = DesirabilityCurve()
        self.good = QDoubleSpinBox()
        self.bad = QDoubleSpinBox()
        self.good.setToolTip("The value scored 0.95 (the curve's left handle when lower is worse)")
        self.bad.setToolTip("The value scored 0.05")
        self.point_x = QDoubleSpinBox()
        self.point_x.setToolTip("The selected point's value of the column")
        self.point_d = QDoubleSpinBox()
        self.point_d.setRange(0.0, 1.0)
        self.point_d.setSingleStep(0.05)
        self.point_d.setDecimals(2)
        self.point_d.setPrefix("d ")
        self.point_d.setToolTip("The selected point's desirability (0–1)")
        for box in (self.good, self.bad, self.point_x):
            box.setRange(-1e6, 1e6)
            box.setDecimals(3)
        for box in (self.good, self.bad, self.point_x, self.point_d):
            # Narrow enough for the side panel: a spin box is as wide as its longest value.
            box.setMinimumWidth(70)
        self.weight = QDoubleSpinBox()
        self.weight.setRange(0.01, 100.0)
        self.weight.setSingleStep(0.5)
        self.weight.setMinimumWidth(70)
        self.uncertainty = QCheckBox("Use the prediction's uncertainty")
        self.uncertainty.setToolTip(
            "Score the expected desirability given <column>_std (an ensemble's spread) when "
            "the table has it: an uncertain value near a threshold scores nearer 0.5"
        )
        compact(self.column_box, self.shape_box)
        point_row = QHBoxLayout()
        point_row.setContentsMargins(0, 0, 0, 0)
        point_row.addWidget(self.point_x, 3)
        point_row.addWidget(self.point_d, 2)
        self.point_row = QWidget()
        self.point_row.setLayout(point_row)
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Column", self.column_box)
        form.addRow("Shape", self.shape_box)
        form.addRow(self.curve)
        form.addRow("Good (0.95)", self.good)
        form.addRow("Bad (0.05)", self.bad)
        form.addRow("Point", self.point_row)
        form.addRow("Weight", self.weight)
        form.addRow(self.uncertainty)
        self._form = form
        self._criterion: Criterion | None = None
        self._loading = False
        self.column_box.currentTextChanged.connect(self._on_column_changed)
        self.shape_box.currentIndexChanged.connect(self._on_shape_changed)
        for box in (self.good, self.bad, self.weight):
            box.valueChanged.connect(self._emit)
        self.point_x.valueChanged.connect(self._on_point_typed)
        self.point_d.valueChanged.connect(self._on_point_typed)
        self.curve.points_changed.connect(self._on_curve_points)
        self.curve.thresholds_changed.connect(self._on_curve_thresholds)
        self.curve.selection_changed.connect(self._show_point)
        self.uncertainty.toggled.connect(self._emit)
        self.setEnabled(False)

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        """The piecewise curve's points as drawn."""
        return tuple(self.curve.points)

    def set_columns(self, columns: list[str]) -> None:
        current = self.column_box.currentText()
        self._loading = True
        self.column_box.clear()
        self.column_box.addItems(columns)
        self.column_box.setCurrentText(current)
        self._loading = False

    def set_criterion(self, criterion: Criterion | None) -> None:
        self._criterion = criterion
        self.setEnabled(criterion is not None)
        if criterion is None:
            return
        self._loading = True
        self.column_box.setCurrentText(criterion.column)
        self.shape_box.setCurrentIndex(0 if criterion.shape == "logistic" else 1)
        self.good.setValue(criterion.good if criterion.good is not None else 0.0)
        self.bad.setValue(criterion.bad if criterion.bad is not None else 1.0)
        self.weight.setValue(criterion.weight)
        self.uncertainty.setChecked(criterion.use_uncertainty)
        self._show_curve(criterion)
        self._loading = False
        self._update_visibility()

    def _show_curve(self, criterion: Criterion) -> None:
        self.curve.set_values(self.values_provider(criterion.column), axis_title(criterion.column))
        if criterion.shape == "logistic":
            self.curve.set_logistic(criterion.good, criterion.bad)
        else:
            self.curve.set_piecewise(criterion.points)
            if self.curve.selected < 0:
                self.curve.select(0)
        self._show_point(self.curve.selected)

    def _show_point(self, number: int) -> None:
        if self.curve.shape != "piecewise" or not 0 <= number < len(self.curve.points):
            self.point_row.setEnabled(False)
            return
        x, d = self.curve.points[number]
        loading, self._loading = self._loading, True
        self.point_x.setValue(x)
        self.point_d.setValue(d)
        self._loading = loading
        self.point_row.setEnabled(True)
        self._form.labelForField(self.point_row).setText(
            f"Point {number + 1} of {len(self.curve.points)}"
        )

    def _update_visibility(self) -> None:
        logistic = self.shape_box.currentData() == "logistic"
        for widget in (self.good, self.bad):
            self._form.setRowVisible(widget, logistic)
        self._form.setRowVisible(self.point_row, not logistic)
        self._form.setRowVisible(self.uncertainty, logistic)

    def _on_column_changed(self, column: str) -> None:
        if self._loading:
            return
        self.curve.set_values(self.values_provider(column.strip()), axis_title(column.strip()))
        self._emit()

    def _on_shape_changed(self, _index: int) -> None:
        if self._loading or self._criterion is None:
            return
        if self.shape_box.currentData() == "piecewise" and self.curve.shape == "logistic":
            # Start from the logistic's thresholds: the same limits, as straight lines.
            good, bad = self.good.value(), self.bad.value()
            points = sorted([(good, 1.0), (bad, 0.0)])
            self.curve.set_piecewise(points)
            self.curve.select(0)
        elif self.shape_box.currentData() == "logistic" and self.curve.shape == "piecewise":
            self.curve.set_logistic(self.good.value(), self.bad.value())
        self._show_point(self.curve.selected)
        self._emit()

    def _on_curve_points(self, _points) -> None:
        self._show_point(self.curve.selected)
        self._emit()

    def _on_curve_thresholds(self, good: float, bad: float) -> None:
        loading, self._loading = self._loading, True
        self.good.setValue(good)
        self.bad.setValue(bad)
        self._loading = loading
        self._emit()

    def _on_point_typed(self, _value: float) -> None:
        number = self.curve.selected
        if self._loading or not 0 <= number < len(self.curve.points):
            return
        points = list(self.curve.points)
        x = self.point_x.value()
        if (number > 0 and x <= points[number - 1][0]) or (
            number + 1 < len(points) and x >= points[number + 1][0]
        ):
            self.setToolTip("A point's x must lie between its neighbours' x values.")
            return
        points[number] = (x, self.point_d.value())
        self.curve.set_piecewise(points)
        self._emit()

    def _emit(self, *_args) -> None:
        if self._loading or self._criterion is None:
            return
        self._update_visibility()
        shape = self.shape_box.currentData()
        if shape == "logistic":
            self.curve.set_logistic(self.good.value(), self.bad.value())
        try:
            if shape == "logistic":
                good, bad = self.good.value(), self.bad.value()
                if good == bad:
                    return
                points: tuple = ()
            else:
                good = bad = None
                points = self.points
            column = self.column_box.currentText().strip()
            label = self._criterion.label if column == self._criterion.column else ""
            criterion = Criterion(
                column=column,
                shape=shape,
                good=good,
                bad=bad,
                points=points or self._criterion.points if shape == "piecewise" else (),
                weight=self.weight.value(),
                use_uncertainty=self.uncertainty.isChecked(),
                # A preset's label describes its own curve: an edited curve is described anew.
                label=label
                if criterion_unchanged_curve(self._criterion, shape, good, bad, points)
                else "",
                if_missing=self._criterion.if_missing,
            )
        except (ProfileError, ValueError) as error:
            self.setToolTip(str(error))
            return
        self.setToolTip("")
        self._criterion = criterion
        self.changed.emit(criterion)


def criterion_unchanged_curve(
    criterion: Criterion, shape: str, good: float | None, bad: float | None, points: tuple
) -> bool:
    """Whether an edit keeps ``criterion``'s curve (so its label still describes it)."""
    if shape != criterion.shape:
        return False
    if shape == "logistic":
        return good == criterion.good and bad == criterion.bad
    return tuple(points) == tuple(criterion.points)
