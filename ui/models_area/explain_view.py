"""The Explain tab: the held-out test molecules and the per-atom heat map of one prediction.

It shows what it is given (a ``core.models.explain.Explanation``) and says which molecule the
user picked; ``ExplainTab`` (``explain_tab.py``) runs the explanation in the engine.
"""

from __future__ import annotations

import html

import pandas as pd
from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.tables.dataframe_model import ColumnSpec, DataFrameModel, configure_table_view
from ui.tables.structure_delegate import StructureDelegate

ERROR_STYLE = "color: #b00020;"
INTRO = (
    "Per-atom attributions relative to the training mean (or base rate): red atoms raise the "
    "prediction, blue atoms lower it, by the amounts on the colour bar. Click a test molecule, "
    "or explain the library's current row."
)
FAMILY_LABELS = {
    "transformer": "SMILES transformer",
    "rf": "Random forest (ECFP4)",
    "dmpnn": "D-MPNN",
}


def test_table(predictions: pd.DataFrame | None, target_names) -> pd.DataFrame:
    """Held-out test molecules, one row each: ``row, smiles, <target> measured, <target>
    predicted`` (the transformer's predictions) from a report's tidy predictions."""
    if predictions is None or predictions.empty:
        return pd.DataFrame()
    test = predictions[(predictions["part"] == "test") & (predictions["model"] == "transformer")]
    wide = None
    for target, group in test.groupby("target", sort=False):
        part = group.set_index("row")[["smiles", "measured", "predicted"]].rename(
            columns={"measured": f"{target} measured", "predicted": f"{target} predicted"}
        )
        wide = part if wide is None else wide.join(part.drop(columns="smiles"), how="outer")
    if wide is None:
        return pd.DataFrame()
    wide = wide.reset_index()
    ordered = [f"{t} {what}" for t in target_names for what in ("measured", "predicted")]
    return wide[["row", "smiles", *[c for c in ordered if c in wide.columns]]]


class ExplainView(QWidget):
    """Test-set table on the left, heat map and numbers on the right.

    Signals
    -------
    molecule_chosen(smiles)
        The user picked a test molecule.
    target_changed(index)
        Another target to explain.
    family_changed(family)
        Another model family of the selected model to explain with.
    library_row_requested()
        The "Explain the current library row" button.
    """

    molecule_chosen = Signal(str)
    target_changed = Signal(int)
    family_changed = Signal(str)
    library_row_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.test_model = DataFrameModel(parent=self)
        self.test_view = QTableView()
        self.test_view.setModel(self.test_model)
        configure_table_view(self.test_view, picture_height=80)
        self.test_view.verticalHeader().hide()  # row numbers take room and mean nothing here
        self.test_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.test_delegate = StructureDelegate(self.test_view, picture_size=(120, 80))
        self.test_view.selectionModel().currentRowChanged.connect(self._on_test_row_changed)
        self.library_button = QPushButton("Explain the current library row")
        self.library_button.clicked.connect(self.library_row_requested)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("Held-out test molecules (click one to explain it)")
        heading.setWordWrap(True)
        left_layout.addWidget(heading)
        left_layout.addWidget(self.test_view, 1)
        left_layout.addWidget(self.library_button)

        self.target_combo = QComboBox()
        self.target_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.target_combo.setMinimumContentsLength(8)
        self.target_combo.currentIndexChanged.connect(self.target_changed)
        self.family_combo = QComboBox()
        self.family_combo.setToolTip("Which of the model's families explains the prediction")
        self.family_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.family_combo.setMinimumContentsLength(8)
        self.family_combo.currentIndexChanged.connect(self._on_family_changed)
        self.heat_map = QSvgWidget()
        # Small enough for the Models area on a 1280×720 window; the drawing scales with the room.
        self.heat_map.setMinimumSize(200, 160)
        self.heat_map.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.label = QLabel(INTRO)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Target:"))
        target_row.addWidget(self.target_combo, 1)
        right_layout.addLayout(target_row)
        # A row of its own: beside the target it would widen the area past small screens.
        family_row = QHBoxLayout()
        family_row.addWidget(QLabel("Model:"))
        family_row.addWidget(self.family_combo, 1)
        right_layout.addLayout(family_row)
        right_layout.addWidget(self.heat_map, 1)
        right_layout.addWidget(self.label)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([380, 480])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.explanation = None

    def target_index(self) -> int:
        return max(0, self.target_combo.currentIndex())

    def family(self) -> str | None:
        """The family chosen to explain with (``None``: the model's own)."""
        data = self.family_combo.currentData()
        return str(data) if data else None

    def set_families(self, families, default: str | None) -> None:
        """Offer ``families`` (``core.models.explain.FAMILIES`` names), ``default`` first."""
        ordered = [f for f in families if f == default] + [f for f in families if f != default]
        self.family_combo.blockSignals(True)
        self.family_combo.clear()
        for family in ordered:
            self.family_combo.addItem(FAMILY_LABELS.get(family, family), family)
        self.family_combo.blockSignals(False)
        self.family_combo.setEnabled(len(ordered) > 1)

    def _on_family_changed(self, _index: int) -> None:
        self.family_changed.emit(self.family() or "")

    def set_report(self, report) -> None:
        """Show a report's test molecules and targets (``None``: clear)."""
        names = tuple(report.target_names) if report is not None else ()
        frame = test_table(report.predictions if report is not None else None, names)
        self.test_model.set_frame(frame)
        if not frame.empty:
            single = len(names) == 1
            # Structure and numbers first (a narrow tab shows them); the SMILES last.
            specs = [ColumnSpec("structure", "Structure", kind="structure", source=("smiles",))]
            specs += [
                ColumnSpec(c, c.rsplit(" ", 1)[-1] if single else c, kind="float", decimals=2)
                for c in frame.columns[2:]
            ]
            specs.append(ColumnSpec("smiles", "SMILES"))
            self.test_model.set_columns(specs)
            self.test_view.setItemDelegateForColumn(0, self.test_delegate)
            self.test_view.setColumnWidth(0, 128)
            for column in range(1, len(specs) - 1):
                self.test_view.setColumnWidth(column, 80 if single else 130)
            self.test_view.setColumnWidth(len(specs) - 1, 110)
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItems(list(names))
        self.target_combo.blockSignals(False)
        self.target_combo.setEnabled(len(names) > 1)

    def show_message(self, text: str, error: bool = False) -> None:
        self.label.setStyleSheet(ERROR_STYLE if error else "")
        self.label.setText(text)

    def _on_test_row_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        frame = self.test_model.frame()
        position = self.test_model.source_row(current.row())
        if 0 <= position < len(frame):
            self.molecule_chosen.emit(str(frame["smiles"].iloc[position]))

    def show_explanation(self, explanation) -> None:
        """Draw the heat map with its colour bar and say what it shows (a
        ``core.models.explain.AtomExplanation``)."""
        self.explanation = explanation
        svg = explanation.svg(460, 340)
        self.heat_map.load(QByteArray(svg.encode("utf-8")))
        self.heat_map.renderer().setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        headline, raise_, lower, sums, method, *notes = explanation.summary_lines()
        notes_html = "".join(f"<br><i>{html.escape(note)}</i>" for note in notes)
        self.show_message(
            f"<b>{html.escape(headline)}</b><br>{html.escape(explanation.smiles)}<br>"
            f"<span style='color:#c62828'>{html.escape(raise_)}</span><br>"
            f"<span style='color:#1565c0'>{html.escape(lower)}</span><br>"
            f"{html.escape(sums)}<br>"
            "<span style='color:#c62828'>Red</span> atoms raise the prediction, "
            "<span style='color:#1565c0'>blue</span> atoms lower it (numbered atoms: the "
            "strongest)."
            f"<br><small style='color:#555'>{html.escape(method)}</small>{notes_html}"
        )
