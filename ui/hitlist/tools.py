"""Hit-list tools beside one library table: Rank (desirability profile), Find (substructure,
similarity, clusters, scaffolds, diverse picks) and Chart (scatter and histogram linked with the
table's selection).

The tools belong to one :class:`~ui.library.panel.LibraryPanel`; heavy work (fingerprints,
substructure index, model predictions, clustering) runs in the engine, and everything cheap (a
profile change re-ranks a million rows in well under a second) runs at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.chem.search import (
    FingerprintIndex,
    SearchError,
    SubstructureIndex,
    build_fingerprint_index,
    butina_clusters,
    maxmin_pick,
    parse_query,
    scaffold_groups,
    similarity_search,
    substructure_search,
)
from core.hitlist.desirability import (
    Criterion,
    DesirabilityProfile,
    ProfileError,
    load_profile,
    save_profile,
)
from core.hitlist.presets import PRESETS, PUBLISHED_SCALES, published_scale
from core.hitlist.scoring import (
    PKA_COLUMN,
    RANK_COLUMN,
    SCORE_COLUMN,
    ScoreCache,
    ScoringRequest,
    rank_table,
    score_library,
)
from ui.hitlist.admet_view import AdmetView
from ui.hitlist.chart import ChartView
from ui.hitlist.curve_editor import DesirabilityCurve
from ui.hitlist.titles import axis_title
from ui.jobs.handle import JobHandle

log = logging.getLogger(__name__)

CUSTOM = "custom"
# Above this many rows a re-rank runs in the engine instead of on the GUI thread.
LARGE_TABLE = 100_000


def _status(label: QLabel, text: str, error: bool = False) -> None:
    label.setText(text)
    label.setStyleSheet("color: #b00020;" if error else "")


def _smiles(table: pd.DataFrame) -> list[str]:
    valid = table["valid"].to_numpy(dtype=bool, na_value=False)
    smiles = table["canonical_smiles"].fillna("").astype(str).to_numpy(dtype=object)
    smiles[~valid] = ""
    return smiles.tolist()


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
        _compact(self.column_box, self.shape_box)
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


class HitListTools(QTabWidget):
    """Rank / Find / Chart for one library panel."""

    status_message = Signal(str)

    def __init__(
        self,
        panel,
        engine,
        query_smiles: Callable[[], str] = lambda: "",
        model_entries: Callable[[], list] | None = None,
        parent: QWidget | None = None,
        query_name: Callable[[], str] = lambda: "",
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.engine = engine
        self.query_smiles = query_smiles
        self.query_name = query_name
        """The Molecule panel's name for its structure (names a search's query molecule)."""
        self.model_entries = model_entries or _registered_models
        self.cache = ScoreCache()
        self.model_cards: list[dict] = []
        """Cards of the models whose predictions the last score used (for reports)."""
        self.profile: DesirabilityProfile = PRESETS["oral"]
        self.fingerprints: FingerprintIndex | None = None
        self.substructures: SubstructureIndex | None = None
        self._running: dict[str, JobHandle] = {}
        """This panel's job of each kind ("score", "similarity"…) still running. A newer job of
        a kind supersedes the older one (the engine's ``key``), so only the newest is shown."""
        self.addTab(_scrolling(self._make_rank_tab()), "Rank")
        self.addTab(_scrolling(self._make_find_tab()), "Find")
        self.chart = ChartView()
        self.chart.points_clicked.connect(self._on_chart_clicked)
        self.addTab(self.chart, "Chart")
        self.admet_view = AdmetView()
        self.addTab(self.admet_view, "ADMET")
        panel.current_row_changed.connect(self._on_current_row_changed)
        self.currentChanged.connect(self._on_tab_changed)
        self._rerank_timer = QTimer(self)
        self._rerank_timer.setSingleShot(True)
        self._rerank_timer.setInterval(250)
        self._rerank_timer.timeout.connect(self.rerank)
        panel.selection_changed.connect(self.chart.set_selected)
        # The chart shows the rows the table shows (its filters and search results).
        panel.model.filter_changed.connect(self._on_table_filtered)
        panel.columns_changed.connect(self._on_columns_changed)
        panel.rows_changed.connect(self._on_columns_changed)  # a row added or edited
        panel.library_changed.connect(self.library_loaded)
        self.set_profile(self.profile)

    # ------------------------------------------------------------------------------------------
    # Construction

    def _make_rank_tab(self) -> QWidget:
        page = QWidget()
        self.preset_box = QComboBox()
        for key, profile in PRESETS.items():
            self.preset_box.addItem(profile.name, key)
        self.preset_box.addItem("Custom", CUSTOM)
        self.preset_box.setToolTip("The desirability profile molecules are ranked by")
        self.preset_box.currentIndexChanged.connect(self._on_preset_chosen)
        load = QPushButton("Load…")
        load.setToolTip("Read a profile from a JSON file")
        load.clicked.connect(self.choose_profile_file)
        save = QPushButton("Save…")
        save.setToolTip("Write this profile to a JSON file")
        save.clicked.connect(self.choose_save_file)
        top = QHBoxLayout()
        top.addWidget(QLabel("Profile"))
        top.addWidget(self.preset_box, 1)
        files = QHBoxLayout()
        files.addWidget(load)
        files.addWidget(save)
        files.addStretch(1)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #555;")
        # The published value (CNS MPO 0–6 and its ≥ 4 guide), shown for presets that have one.
        self.scale_label = QLabel()
        self.scale_label.setWordWrap(True)
        self.scale_label.hide()
        self.criteria_list = QListWidget()
        self.criteria_list.setMinimumHeight(90)
        self.criteria_list.setMaximumHeight(130)
        self.criteria_list.setWordWrap(True)
        self.criteria_list.currentRowChanged.connect(self._on_criterion_selected)
        add = QPushButton("Add")
        add.setToolTip("Add a criterion on a numeric column")
        add.clicked.connect(self.add_criterion)
        remove = QPushButton("Remove")
        remove.setToolTip("Remove the selected criterion")
        remove.clicked.connect(self.remove_criterion)
        self.combine_box = QComboBox()
        self.combine_box.addItem("Geometric mean", "geometric")
        self.combine_box.addItem("Arithmetic mean", "arithmetic")
        self.combine_box.setToolTip(
            "How the criteria combine. Geometric: one bad value drags the score down. "
            "Arithmetic: values compensate (as CNS MPO sums its six terms)."
        )
        self.combine_box.currentIndexChanged.connect(self._on_combine_changed)
        _compact(self.preset_box, self.combine_box)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        combine = QHBoxLayout()
        combine.addWidget(QLabel("Combine by"))
        combine.addWidget(self.combine_box, 1)
        self.editor = CriterionEditor()
        self.editor.values_provider = self._column_values
        self.editor.changed.connect(self._on_criterion_edited)
        self.model_list = QListWidget()
        self.model_list.setMinimumHeight(50)
        self.model_list.setMaximumHeight(80)
        self.model_list.setToolTip("Fine-tuned models whose predictions become columns")
        from core.hitlist.admet import is_available

        self.admet_box = QCheckBox("ADMET predictions (41 endpoints)")
        self.admet_box.setToolTip(
            "admet-ai's Chemprop models for absorption, distribution, metabolism, excretion "
            "and toxicity, each with its percentile among DrugBank approved drugs. About 50 "
            "molecules/s on 2 cores; values are cached, so a rerun only predicts new molecules."
        )
        self.admet_box.setEnabled(is_available())
        self.score_button = QPushButton("Score library")
        self.score_button.setDefault(True)
        self.score_button.setToolTip(
            "Predict with the ticked models and compute what the profile needs, then rank"
        )
        self.score_button.clicked.connect(self.score)
        self.rank_status = QLabel("Choose a profile and press Score library.")
        self.rank_status.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addLayout(files)
        layout.addWidget(self.description)
        layout.addWidget(self.scale_label)
        layout.addWidget(QLabel("Criteria"))
        layout.addWidget(self.criteria_list)
        layout.addLayout(buttons)
        layout.addLayout(combine)
        layout.addWidget(self.editor)
        layout.addWidget(QLabel("Models"))
        layout.addWidget(self.model_list)
        layout.addWidget(self.admet_box)
        layout.addWidget(self.score_button)
        layout.addWidget(self.rank_status)
        layout.addStretch(1)
        self.refresh_models()
        return page

    def _make_find_tab(self) -> QWidget:
        page = QWidget()
        self.smarts_edit = QLineEdit()
        self.smarts_edit.setPlaceholderText("SMARTS, e.g. c1ccccc1C(=O)N")
        self.smarts_edit.returnPressed.connect(self.substructure_search)
        smarts_button = QPushButton("Search")
        smarts_button.clicked.connect(self.substructure_search)
        substructure = QGroupBox("Substructure")
        row = QHBoxLayout(substructure)
        row.addWidget(self.smarts_edit, 1)
        row.addWidget(smarts_button)

        self.query_edit = QLineEdit()
        self.query_edit.setPlaceholderText("SMILES")
        self.query_edit.setToolTip(
            "The query molecule as SMILES. Leave it empty to search with the structure in the "
            "Molecule panel."
        )
        self.query_edit.returnPressed.connect(self.similarity_search)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 1_000_000)
        self.top_k.setValue(100)
        self.top_k.setToolTip("Keep at most this many of the most similar molecules")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.0)
        self.threshold.setSpecialValueText("off")
        self.threshold.setToolTip("Keep only molecules at least this similar (Tanimoto, 0–1)")
        similar_button = QPushButton("Find similar")
        similar_button.clicked.connect(self.similarity_search)
        similarity = QGroupBox("Similarity")
        similarity.setToolTip("Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits)")
        form = QFormLayout(similarity)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Query", self.query_edit)
        query_note = QLabel("Leave the query empty to search with the Molecule panel's structure.")
        query_note.setWordWrap(True)
        query_note.setStyleSheet("color: #555;")
        form.addRow(query_note)
        form.addRow("Top k", self.top_k)
        form.addRow("Min. similarity", self.threshold)
        form.addRow(similar_button)

        self.cluster_threshold = QDoubleSpinBox()
        self.cluster_threshold.setRange(0.05, 1.0)
        self.cluster_threshold.setSingleStep(0.05)
        self.cluster_threshold.setValue(0.4)
        self.cluster_threshold.setToolTip(
            "Molecules at least this similar (Tanimoto) to a cluster's centre join it"
        )
        cluster_button = QPushButton("Butina clusters")
        cluster_button.setToolTip(
            "Adds Cluster (1 = the largest) and Cluster size columns beside the name"
        )
        cluster_button.clicked.connect(self.cluster)
        scaffold_button = QPushButton("Murcko scaffolds")
        scaffold_button.setToolTip(
            "Adds each molecule's Bemis–Murcko scaffold (drawn), its group (1 = the most "
            "common) and the group's size beside the name"
        )
        scaffold_button.clicked.connect(self.scaffolds)
        self.pick_count = QSpinBox()
        self.pick_count.setRange(1, 100_000)
        self.pick_count.setValue(50)
        self.pick_count.setToolTip("How many diverse molecules to pick")
        pick_button = QPushButton("Diverse pick")
        pick_button.setToolTip("MaxMin: each pick is the molecule farthest from those picked")
        pick_button.clicked.connect(self.diverse_pick)
        group = QGroupBox("Group and pick")
        grid = QFormLayout(group)
        grid.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        grid.addRow("Similarity ≥", self.cluster_threshold)
        grid.addRow(cluster_button)
        grid.addRow(scaffold_button)
        grid.addRow("Molecules", self.pick_count)
        grid.addRow(pick_button)
        self.find_status = QLabel("")
        self.find_status.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(substructure)
        layout.addWidget(similarity)
        layout.addWidget(group)
        layout.addWidget(self.find_status)
        layout.addStretch(1)
        return page

    # ------------------------------------------------------------------------------------------
    # Profile

    def table(self) -> pd.DataFrame | None:
        library = self.panel.library
        return None if library is None else library.table

    def numeric_columns(self) -> list[str]:
        table = self.table()
        if table is None:
            return []
        skip = {SCORE_COLUMN, RANK_COLUMN}
        return [
            str(c)
            for c in table.columns
            if c not in skip
            and not str(c).startswith("d_")
            and (
                pd.api.types.is_numeric_dtype(table[c].dtype)
                and not pd.api.types.is_bool_dtype(table[c].dtype)
            )
        ] + ([PKA_COLUMN] if PKA_COLUMN not in table.columns else [])

    def _column_values(self, column: str) -> np.ndarray | None:
        """The table's values of ``column`` (for the criterion's curve), or None."""
        table = self.table()
        if table is None or column not in table.columns:
            return None
        values = pd.to_numeric(table[column], errors="coerce")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)

    def set_profile(self, profile: DesirabilityProfile) -> None:
        self.profile = profile
        self.description.setText(profile.description + "".join(f"\n• {n}" for n in profile.notes))
        self.description.setVisible(bool(profile.description or profile.notes))
        self._show_scale()
        self.combine_box.blockSignals(True)
        self.combine_box.setCurrentIndex(0 if profile.combine == "geometric" else 1)
        self.combine_box.blockSignals(False)
        row = max(0, self.criteria_list.currentRow())
        self.criteria_list.blockSignals(True)
        self.criteria_list.clear()
        for criterion in profile.criteria:
            self.criteria_list.addItem(self._criterion_text(criterion))
        self.criteria_list.blockSignals(False)
        self.editor.set_columns(self.numeric_columns())
        self.criteria_list.setCurrentRow(min(row, len(profile.criteria) - 1))
        self._on_criterion_selected(self.criteria_list.currentRow())

    def _show_scale(self) -> None:
        """Say, for a preset published on its own scale (CNS MPO 0–6), how to read it."""
        scale = published_scale(self.profile)
        if scale is None:
            self.scale_label.hide()
            return
        self.scale_label.setText(
            f"<b>{scale.title}</b> is shown beside the 0–1 Score (Score × "
            f"{scale.maximum:g}); ≥ {scale.guide:g} is desirable."
        )
        self.scale_label.show()

    @staticmethod
    def _criterion_text(criterion: Criterion) -> str:
        if criterion.label:
            text = criterion.label
        elif criterion.shape == "logistic":
            direction = "higher" if criterion.good > criterion.bad else "lower"
            text = (
                f"{axis_title(criterion.column)}: {direction} is better, 0.5 at "
                f"{criterion.midpoint:g} (good {criterion.good:g}, bad {criterion.bad:g})"
            )
        else:
            text = f"{axis_title(criterion.column)}: " + ", ".join(
                f"{d:g} at {x:g}" for x, d in criterion.points
            )
        return text if criterion.weight == 1 else f"{text}  (×{criterion.weight:g})"

    def _on_preset_chosen(self, _index: int) -> None:
        key = self.preset_box.currentData()
        if key in PRESETS:
            self.set_profile(PRESETS[key])
            self._schedule_rerank()

    def _mark_custom(self) -> None:
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(self.preset_box.findData(CUSTOM))
        self.preset_box.blockSignals(False)

    def _on_criterion_selected(self, row: int) -> None:
        criteria = self.profile.criteria
        self.editor.set_criterion(criteria[row] if 0 <= row < len(criteria) else None)

    def _on_criterion_edited(self, criterion: Criterion) -> None:
        row = self.criteria_list.currentRow()
        if not 0 <= row < len(self.profile.criteria):
            return
        criteria = list(self.profile.criteria)
        criteria[row] = criterion
        self.profile = replace(self.profile, name="Custom", criteria=tuple(criteria))
        self.criteria_list.item(row).setText(self._criterion_text(criterion))
        self._mark_custom()
        self._show_scale()
        self._schedule_rerank()

    def _on_combine_changed(self, _index: int) -> None:
        self.profile = replace(self.profile, name="Custom", combine=self.combine_box.currentData())
        self._mark_custom()
        self._show_scale()
        self._schedule_rerank()

    def add_criterion(self) -> None:
        columns = self.numeric_columns()
        column = columns[0] if columns else "mw"
        criterion = Criterion(column, good=1.0, bad=0.0)
        self.profile = replace(
            self.profile, name="Custom", criteria=(*self.profile.criteria, criterion)
        )
        self._mark_custom()
        self.set_profile(self.profile)
        self.criteria_list.setCurrentRow(len(self.profile.criteria) - 1)

    def remove_criterion(self) -> None:
        row = self.criteria_list.currentRow()
        if not 0 <= row < len(self.profile.criteria) or len(self.profile.criteria) == 1:
            _status(self.rank_status, "A profile needs at least one criterion.", error=True)
            return
        criteria = [c for i, c in enumerate(self.profile.criteria) if i != row]
        self.profile = replace(self.profile, name="Custom", criteria=tuple(criteria))
        self._mark_custom()
        self.set_profile(self.profile)
        self._schedule_rerank()

    def choose_profile_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load profile", "", "Profiles (*.json)")
        if path:
            self.load_profile_file(path)

    def load_profile_file(self, path: str | Path) -> bool:
        try:
            profile = load_profile(path)
        except ProfileError as error:
            _status(self.rank_status, str(error), error=True)
            return False
        self._mark_custom()
        self.set_profile(profile)
        _status(self.rank_status, f"Loaded profile '{profile.name}' from {Path(path).name}.")
        self._schedule_rerank()
        return True

    def choose_save_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save profile", "profile.json", "*.json")
        if path:
            self.save_profile_file(path)

    def save_profile_file(self, path: str | Path) -> bool:
        try:
            save_profile(self.profile, path)
        except ProfileError as error:
            _status(self.rank_status, str(error), error=True)
            return False
        _status(self.rank_status, f"Saved the profile to {path}.")
        return True

    # ------------------------------------------------------------------------------------------
    # Scoring

    def refresh_models(self) -> None:
        self.model_list.clear()
        for entry in self.model_entries():
            if getattr(entry, "card", None) is None:
                continue
            item = QListWidgetItem(f"{entry.path.name} ({entry.card.task})")
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.model_list.addItem(item)
        if self.model_list.count() == 0:
            item = QListWidgetItem("No trained models yet (train one in the Models area)")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.model_list.addItem(item)

    def checked_models(self) -> tuple[Path, ...]:
        paths = []
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                paths.append(Path(item.data(Qt.ItemDataRole.UserRole)))
        return tuple(paths)

    def _schedule_rerank(self) -> None:
        self._rerank_timer.start()

    def rerank(self) -> bool:
        """Re-score from the table's columns at once when nothing new must be computed."""
        table = self.table()
        if table is None:
            return False
        missing = self.profile.missing_columns([str(c) for c in table.columns])
        if missing:
            _status(
                self.rank_status,
                f"Press Score to compute {', '.join(missing)} (not in the table yet).",
            )
            return False
        if len(table) > LARGE_TABLE:
            # A million rows take most of a second: score in the engine, keep the window fluid.
            self._submit(
                "rank",
                self._show_ranking,
                rank_table,
                table.copy(deep=False),
                self.profile,
                title=f"Rank {self.panel.title}",
            )
            _status(self.rank_status, "Ranking…")
            return True
        try:
            columns = rank_table(table, self.profile)
        except ProfileError as error:
            _status(self.rank_status, str(error), error=True)
            return False
        self._show_ranking(columns)
        return True

    def _show_ranking(self, columns: pd.DataFrame) -> None:
        self._apply_scores(columns, {})
        unscored = int(np.isnan(columns[SCORE_COLUMN].to_numpy(dtype=float)).sum())
        _status(
            self.rank_status,
            f"Ranked by '{self.profile.name}': {int((columns[RANK_COLUMN] > 0).sum()):,} ranked, "
            f"{unscored:,} without a score{self._scale_summary(columns)}.",
        )

    def _scale_summary(self, columns: pd.DataFrame) -> str:
        scale = published_scale(self.profile)
        if scale is None or SCORE_COLUMN not in columns.columns:
            return ""
        score = columns[SCORE_COLUMN].to_numpy(dtype=float)
        ranked = columns[RANK_COLUMN].to_numpy(dtype=np.int64) > 0
        desirable = scale.count_desirable(score[ranked])
        return (
            f"; {desirable:,} of {int(ranked.sum()):,} ranked reach "
            f"{scale.title.split(' (')[0]} ≥ {scale.guide:g}"
        )

    def _apply_scores(self, columns: pd.DataFrame, notes: dict[str, str]) -> None:
        scale = published_scale(self.profile)
        if scale is not None:
            notes = {**notes, scale.column: scale.guide_text}
        # Desirabilities of a previous profile would mislead (columns read from a file stay),
        # and so would a published value of another profile.
        published_columns = {other.column for other in PUBLISHED_SCALES.values()}
        stale = [
            c
            for c in self.panel.library.computed_columns
            if (c.startswith("d_") or c in published_columns)
            and c not in columns.columns
            and (scale is None or c != scale.column)
        ]
        # Unranked rows (rank 0 in files) are missing here, so an ascending sort puts them last.
        # (A new frame of Series, not a column set on the job's frame: that would copy.)
        rank = columns[RANK_COLUMN].to_numpy(dtype=np.int64)
        series = {name: columns[name] for name in columns.columns}
        series[RANK_COLUMN] = pd.Series(
            pd.arrays.IntegerArray(rank, mask=rank <= 0), index=columns.index
        )
        if scale is not None:  # the published value beside the 0–1 score (CNS MPO 0–6)
            series[scale.column] = pd.Series(
                scale.values(columns[SCORE_COLUMN].to_numpy()), index=columns.index
            )
        columns = pd.DataFrame(series, index=columns.index, copy=False)
        self.panel.add_columns(columns, notes, sort_by=RANK_COLUMN, drop=stale)

    def score(self) -> JobHandle | None:
        table = self.table()
        if table is None:
            _status(self.rank_status, "The library is still loading.", error=True)
            return None
        request = ScoringRequest(
            self.profile, self.checked_models(), admet=self.admet_box.isChecked()
        )
        job = self._submit(
            "score",
            self._on_scored,
            score_library,
            table.copy(deep=False),
            request,
            self.cache,
            title=f"Score {self.panel.title}",
            # Models predict in a worker process (see core.hitlist.scoring); ADMET runs here.
            needs_torch=request.admet,
        )
        _status(self.rank_status, "Scoring…")
        self.score_button.setEnabled(False)
        return job

    def _on_scored(self, result) -> None:
        self.score_button.setEnabled(True)
        self.model_cards = list(result.model_cards)
        self._apply_scores(result.columns, result.notes)
        parts = [f"Ranked {int((result.columns[RANK_COLUMN] > 0).sum()):,} molecules"]
        if result.n_unscored:
            parts.append(f"{result.n_unscored:,} without a score (invalid or missing values)")
        if result.n_duplicates:
            parts.append(f"{result.n_duplicates:,} repeats not ranked again")
        parts.append(
            f"{result.n_computed:,} molecules computed, the rest reused"
            if result.n_computed
            else "every value reused from the last score"
        )
        _status(self.rank_status, "; ".join(parts) + self._scale_summary(result.columns) + ".")
        self.status_message.emit(parts[0])

    # ------------------------------------------------------------------------------------------
    # Find

    def _with_fingerprints(self, then: Callable[[], None]) -> None:
        table = self.table()
        if table is None:
            _status(self.find_status, "The library is still loading.", error=True)
            return
        if self.fingerprints is not None and self.fingerprints.n_rows == len(table):
            then()
            return

        def store(index) -> None:
            self.fingerprints = index
            then()

        self._submit(
            "fingerprints",
            store,
            build_fingerprint_index,
            _smiles(table),
            title=f"Fingerprints for {self.panel.title}",
        )
        _status(self.find_status, "Computing fingerprints (once per library)…")

    def _query_name(self, query: str, typed: bool, hits=None) -> str:
        """What the search chip calls the query molecule: the name of the library row that is
        the query itself, else the Molecule panel's name (for its structure), else its SMILES."""
        table = self.table()
        if table is not None and hits is not None and len(hits) and "name" in table.columns:
            try:
                from rdkit import Chem

                canonical = Chem.MolToSmiles(parse_query(query))
            except (SearchError, ValueError):
                canonical = ""
            # The query itself, if in the table, is among the hits of similarity 1.
            for position in hits.rows[hits.scores >= 1.0 - 1e-9][:50]:
                row_smiles = table["canonical_smiles"].iat[int(position)]
                name = table["name"].iat[int(position)]
                if row_smiles == canonical and isinstance(name, str) and name.strip():
                    return name.strip()
        if not typed:
            name = (self.query_name() or "").strip()
            if name:
                return name
        return query

    def similarity_search(self) -> None:
        typed = bool(self.query_edit.text().strip())
        query = self.query_edit.text().strip() or self.query_smiles()
        if not query:
            _status(
                self.find_status,
                "Type a query SMILES or draw a molecule in the Molecule panel.",
                error=True,
            )
            return

        try:
            parse_query(query)  # a typo is reported at once, not after fingerprinting
        except SearchError as error:
            _status(self.find_status, str(error), error=True)
            return
        # Named now: the Molecule panel may show another molecule when the result arrives.
        panel_name = "" if typed else (self.query_name() or "").strip()

        def show(hits) -> None:
            name = self._query_name(query, True, hits)
            if name == query and panel_name:
                name = panel_name
            n = len(self.table())
            similarity = np.full(n, np.nan)
            similarity[hits.rows] = hits.scores
            mask = np.zeros(n, dtype=bool)
            mask[hits.rows] = True
            about = name if name == query else f"{name} ({query})"
            self.panel.add_columns(
                pd.DataFrame({"similarity": similarity}, index=self.table().index),
                {"similarity": f"Tanimoto similarity (Morgan, radius 2) to {about}"},
            )
            self.panel.set_row_mask(mask, f"Similar to {name}: {len(hits):,}")
            self.panel.sort_by("similarity", descending=True)
            self._show_result_top()
            best = f" (best {hits.scores[0]:.2f})" if len(hits) else ""
            _status(self.find_status, f"{len(hits):,} molecules similar to {name}{best}.")

        def run() -> None:
            title = panel_name or query
            self._submit(
                "similarity",
                show,
                similarity_search,
                self.fingerprints,
                query,
                top_k=self.top_k.value(),
                threshold=self.threshold.value() or None,
                title=f"Similar to {title if len(title) <= 40 else title[:39] + '…'}",
            )
            _status(self.find_status, "Searching…")

        self._with_fingerprints(run)

    def _show_result_top(self) -> None:
        """A new result is read from its top: scroll there (the selection is left alone)."""
        self.panel.view.scrollToTop()

    def substructure_search(self) -> None:
        smarts = self.smarts_edit.text().strip()
        table = self.table()
        if table is None:
            return
        try:
            from core.chem.search import parse_smarts

            parse_smarts(smarts)
        except SearchError as error:
            _status(self.find_status, str(error), error=True)
            return

        def show(rows) -> None:
            mask = np.zeros(len(self.table()), dtype=bool)
            mask[rows] = True
            self.panel.set_row_mask(mask, f"Contains {smarts}: {len(rows):,}")
            self._show_result_top()
            _status(self.find_status, f"{len(rows):,} molecules contain {smarts}.")

        def run() -> None:
            # Matching runs in the engine: a million molecules take seconds.
            self._submit(
                "substructure-search",
                show,
                substructure_search,
                self.substructures,
                smarts,
                title=f"Substructure {smarts if len(smarts) <= 40 else smarts[:39] + '…'}",
            )
            _status(self.find_status, "Searching…")

        if self.substructures is not None and self.substructures.n_rows == len(table):
            run()
            return

        def store(index) -> None:
            self.substructures = index
            run()

        self._submit(
            "substructures",
            store,
            SubstructureIndex.build,
            _smiles(table),
            title=f"Substructure index for {self.panel.title}",
        )
        _status(self.find_status, "Indexing structures (once per library)…")

    def cluster(self) -> None:
        threshold = self.cluster_threshold.value()

        def show(labels) -> None:
            clustered = labels >= 0
            sizes = np.bincount(labels[clustered]) if clustered.any() else np.zeros(0, int)
            # Numbered from 1 (the largest), as chemists count; rows without a structure
            # have none.
            number = np.where(clustered, labels + 1, 0).astype(np.int64)
            size = np.zeros(len(labels), dtype=np.int64)
            size[clustered] = sizes[labels[clustered]]
            frame = pd.DataFrame(
                {
                    "cluster": pd.arrays.IntegerArray(number, mask=~clustered),
                    "cluster_size": pd.arrays.IntegerArray(size, mask=~clustered),
                },
                index=self.table().index,
            )
            self.panel.add_columns(
                frame,
                {
                    "cluster": f"Butina cluster (Tanimoto ≥ {threshold:.2f}); 1 = the largest",
                    "cluster_size": "molecules in the cluster",
                },
                sort_by="cluster",
            )
            self._show_result_top()
            n_clusters = len(sizes)
            singletons = int((sizes == 1).sum())
            _status(
                self.find_status,
                f"{n_clusters:,} clusters of {int(clustered.sum()):,} molecules "
                f"({singletons:,} singletons); sorted by cluster, 1 = the largest.",
            )

        def run() -> None:
            self._submit(
                "cluster",
                show,
                butina_clusters,
                self.fingerprints,
                threshold=threshold,
                title=f"Butina clusters (similarity ≥ {threshold:.2f})",
            )
            _status(self.find_status, "Clustering…")

        self._with_fingerprints(run)

    def scaffolds(self) -> None:
        table = self.table()
        if table is None:
            return

        def show(scaffolds) -> None:
            scaffold = pd.Series(scaffolds, index=self.table().index, dtype=object)
            has = (scaffold != "").to_numpy()
            counts = scaffold[has].value_counts(sort=False)
            # Groups numbered by size (1 = the most common), ties in order of first appearance.
            order = sorted(range(len(counts)), key=lambda i: (-int(counts.iloc[i]), i))
            group_of = {counts.index[i]: rank + 1 for rank, i in enumerate(order)}
            group = np.zeros(len(scaffold), dtype=np.int64)
            size = np.zeros(len(scaffold), dtype=np.int64)
            group[has] = scaffold[has].map(group_of).to_numpy(dtype=np.int64)
            size[has] = scaffold[has].map(counts).to_numpy(dtype=np.int64)
            frame = pd.DataFrame(
                {
                    "scaffold": scaffold,
                    "scaffold_group": pd.arrays.IntegerArray(group, mask=~has),
                    "scaffold_size": pd.arrays.IntegerArray(size, mask=~has),
                },
                index=self.table().index,
            )
            self.panel.add_columns(
                frame,
                {
                    "scaffold": "Bemis–Murcko scaffold (none: acyclic)",
                    "scaffold_group": "scaffold group; 1 = the most common scaffold",
                    "scaffold_size": "molecules sharing the scaffold",
                },
                sort_by="scaffold_group",
            )
            self._show_result_top()
            _status(
                self.find_status,
                f"{len(counts):,} scaffolds among {int(has.sum()):,} molecules with rings; "
                "sorted by scaffold group, 1 = the most common.",
            )

        self._submit("scaffold", show, scaffold_groups, _smiles(table), title="Murcko scaffolds")
        _status(self.find_status, "Finding scaffolds…")

    def diverse_pick(self) -> None:
        n_pick = self.pick_count.value()

        def show(rows) -> None:
            n = len(self.table())
            order = np.zeros(n, dtype=np.int64)
            order[rows] = np.arange(1, len(rows) + 1)
            mask = order > 0
            self.panel.add_columns(
                pd.DataFrame(
                    {"pick_order": pd.arrays.IntegerArray(order, mask=~mask)},
                    index=self.table().index,
                ),
                {"pick_order": "order of the MaxMin diverse pick (1 = first)"},
                sort_by="pick_order",
            )
            self.panel.set_row_mask(mask, f"Diverse pick: {len(rows):,}")
            self._show_result_top()
            _status(self.find_status, f"Picked {len(rows):,} diverse molecules.")

        def run() -> None:
            self._submit(
                "pick",
                show,
                maxmin_pick,
                self.fingerprints,
                n_pick,
                title=f"Pick {n_pick:,} diverse molecules",
            )
            _status(self.find_status, "Picking…")

        self._with_fingerprints(run)

    # ------------------------------------------------------------------------------------------
    # Chart and engine

    def _on_columns_changed(self) -> None:
        table = self.table()
        if table is not None:
            self.editor.set_columns(self.numeric_columns())
            self.chart.set_table(table, self._shown_rows())
            if self.currentWidget() is self.admet_view:  # new values for the row shown
                self.admet_view.show_row(self.panel.current_row())

    def _shown_rows(self) -> np.ndarray | None:
        if self.panel.library is None:
            return None
        return np.array(self.panel.model.visible_positions(), dtype=np.int64)

    def _on_table_filtered(self, *_args) -> None:
        if self.chart.table is not None and self.chart.table is self.table():
            self.chart.set_rows(self._shown_rows())

    def library_loaded(self) -> None:
        """Call when the panel's library arrives (or changes wholesale)."""
        self.fingerprints = None
        self.substructures = None
        self._on_columns_changed()
        self.set_profile(self.profile)

    def _on_current_row_changed(self, row) -> None:
        # Filled only while the ADMET tab is shown: the tab reads the current row when opened.
        if self.currentWidget() is self.admet_view or row is None:
            self.admet_view.show_row(row)

    def _on_tab_changed(self, _index: int) -> None:
        if self.currentWidget() is self.admet_view:
            # The row as it is now: a score since it became current added its ADMET values.
            self.admet_view.show_row(self.panel.current_row())

    def _on_chart_clicked(self, positions) -> None:
        self.panel.select_positions(positions)

    def _submit(
        self, kind: str, show: Callable[[object], None], fn: Callable, *args, **kwargs
    ) -> JobHandle:
        """Run ``fn`` in the engine as this panel's job of ``kind``; ``show`` gets its result.

        The job's key is the kind and this panel, so a newer job of the same kind supersedes
        (cancels) an older one still running; only the newest of each kind is listened to.
        """
        # The job of this kind still running is superseded: forgotten first, since the engine
        # cancels it within submit() when it is still queued, and that is not worth reporting.
        self._running.pop(kind, None)
        handle = self.engine.submit(fn, *args, key=f"{kind}-{id(self)}", **kwargs)
        self._running[kind] = handle
        handle.finished.connect(partial(self._on_job_finished, kind, handle, show))
        handle.failed.connect(partial(self._on_job_failed, kind, handle))
        handle.cancelled.connect(partial(self._on_job_cancelled, kind, handle))
        return handle

    def _job_ended(self, kind: str, handle: JobHandle) -> bool:
        """Forget ``handle`` if it is this panel's current job of ``kind``; False when it is not
        (superseded by a newer one, or the panel was shut down): then it shows nothing."""
        if self._running.get(kind) is not handle:
            return False
        del self._running[kind]
        return True

    def _status_label(self, kind: str) -> QLabel:
        return self.rank_status if kind in ("rank", "score") else self.find_status

    def _on_job_finished(
        self, kind: str, handle: JobHandle, show: Callable[[object], None], result: object
    ) -> None:
        if self._job_ended(kind, handle):
            show(result)

    def _on_job_failed(self, kind: str, handle: JobHandle, message: str) -> None:
        if not self._job_ended(kind, handle):
            return
        if kind == "score":
            self.score_button.setEnabled(True)
        _status(self._status_label(kind), message, error=True)

    def _on_job_cancelled(self, kind: str, handle: JobHandle) -> None:
        if not self._job_ended(kind, handle):
            return
        if kind == "score":
            self.score_button.setEnabled(True)
        _status(self._status_label(kind), "Cancelled; what was computed is kept for the next run.")

    def is_busy(self) -> bool:
        """True while a job of this panel (a score, a search…) is still running."""
        return bool(self._running)

    def shutdown(self) -> None:
        """Cancel this panel's jobs (its library tab is closing); their outcome is ignored."""
        running, self._running = list(self._running.values()), {}
        for handle in running:
            handle.cancel()


def _compact(*boxes: QComboBox) -> None:
    """Let combo boxes shrink to the panel instead of widening it to their longest item."""
    for box in boxes:
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(8)


def _scrolling(page: QWidget) -> QScrollArea:
    """A tab page that scrolls instead of squeezing its form rows when the panel is short."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def _registered_models() -> list:
    """Fine-tuned models that can predict: the user's, then the shipped ones."""
    try:
        from core.models.registry import list_models, shipped_models

        entries = list_models() + shipped_models()
    except Exception:  # a broken registry must not stop ranking
        log.exception("Could not list the registered models")
        return []
    return [e for e in entries if e.card is not None and e.card.target_columns]
