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
from core.ranking.desirability import (
    Criterion,
    DesirabilityProfile,
    ProfileError,
    load_profile,
    save_profile,
)
from core.ranking.presets import PRESETS
from core.ranking.scoring import (
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
    """Edits the selected criterion of the profile."""

    changed = Signal(object)  # the edited Criterion

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Criterion", parent)
        self.column_box = QComboBox()
        self.column_box.setEditable(True)
        self.shape_box = QComboBox()
        self.shape_box.addItem("Logistic (good/bad thresholds)", "logistic")
        self.shape_box.addItem("Piecewise linear", "piecewise")
        self.good = QDoubleSpinBox()
        self.bad = QDoubleSpinBox()
        for box in (self.good, self.bad):
            box.setRange(-1e9, 1e9)
            box.setDecimals(3)
        self.points = QLineEdit()
        self.points.setPlaceholderText("x:d pairs, e.g. 3:1 5:0")
        self.weight = QDoubleSpinBox()
        self.weight.setRange(0.01, 100.0)
        self.weight.setSingleStep(0.5)
        self.uncertainty = QCheckBox("Use uncertainty (<column>_std)")
        _compact(self.column_box, self.shape_box)
        form = QFormLayout(self)
        form.addRow("Column", self.column_box)
        form.addRow("Shape", self.shape_box)
        form.addRow("Good (d = 0.95)", self.good)
        form.addRow("Bad (d = 0.05)", self.bad)
        form.addRow("Points", self.points)
        form.addRow("Weight", self.weight)
        form.addRow(self.uncertainty)
        self._form = form
        self._criterion: Criterion | None = None
        self._loading = False
        self.column_box.currentTextChanged.connect(self._emit)
        self.shape_box.currentIndexChanged.connect(self._emit)
        for box in (self.good, self.bad, self.weight):
            box.valueChanged.connect(self._emit)
        self.points.editingFinished.connect(self._emit)
        self.uncertainty.toggled.connect(self._emit)
        self.setEnabled(False)

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
        self.points.setText(" ".join(f"{x:g}:{d:g}" for x, d in criterion.points))
        self.weight.setValue(criterion.weight)
        self.uncertainty.setChecked(criterion.use_uncertainty)
        self._loading = False
        self._update_visibility()

    def _update_visibility(self) -> None:
        logistic = self.shape_box.currentData() == "logistic"
        for widget in (self.good, self.bad):
            self._form.setRowVisible(widget, logistic)
        self._form.setRowVisible(self.points, not logistic)
        self._form.setRowVisible(self.uncertainty, logistic)

    def _emit(self, *_args) -> None:
        if self._loading or self._criterion is None:
            return
        self._update_visibility()
        shape = self.shape_box.currentData()
        try:
            if shape == "logistic":
                good, bad = self.good.value(), self.bad.value()
                if good == bad:
                    return
                points: tuple = ()
            else:
                good = bad = None
                points = tuple(
                    tuple(float(v) for v in pair.split(":"))
                    for pair in self.points.text().replace(",", " ").split()
                )
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
                label=label if shape == self._criterion.shape else "",
                if_missing=self._criterion.if_missing,
            )
        except (ProfileError, ValueError) as error:
            self.setToolTip(str(error))
            return
        self._criterion = criterion
        self.changed.emit(criterion)


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
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.engine = engine
        self.query_smiles = query_smiles
        self.model_entries = model_entries or _registered_models
        self.cache = ScoreCache()
        self.model_cards: list[dict] = []
        """Cards of the models whose predictions the last score used (for reports)."""
        self.profile: DesirabilityProfile = PRESETS["oral"]
        self.fingerprints: FingerprintIndex | None = None
        self.substructures: SubstructureIndex | None = None
        self._jobs: dict[int, tuple[str, Callable[[object], None]]] = {}
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
        engine.finished.connect(self._on_job_finished)
        engine.failed.connect(self._on_job_failed)
        engine.cancelled.connect(self._on_job_cancelled)
        panel.selection_changed.connect(self.chart.set_selected)
        panel.columns_changed.connect(self._on_columns_changed)
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
        self.preset_box.currentIndexChanged.connect(self._on_preset_chosen)
        load = QPushButton("Load…")
        load.setToolTip("Read a profile from a JSON file")
        load.clicked.connect(self.choose_profile_file)
        save = QPushButton("Save…")
        save.setToolTip("Write this profile to a JSON file")
        save.clicked.connect(self.choose_save_file)
        top = QHBoxLayout()
        top.addWidget(self.preset_box, 1)
        top.addWidget(load)
        top.addWidget(save)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #555;")
        self.criteria_list = QListWidget()
        self.criteria_list.setMinimumHeight(90)
        self.criteria_list.setMaximumHeight(130)
        self.criteria_list.currentRowChanged.connect(self._on_criterion_selected)
        add = QPushButton("Add")
        add.clicked.connect(self.add_criterion)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove_criterion)
        self.combine_box = QComboBox()
        self.combine_box.addItem("Geometric mean", "geometric")
        self.combine_box.addItem("Arithmetic mean", "arithmetic")
        self.combine_box.setToolTip(
            "Geometric: one bad value drags the score down. Arithmetic: values compensate "
            "(as CNS MPO sums its six terms)."
        )
        self.combine_box.currentIndexChanged.connect(self._on_combine_changed)
        _compact(self.preset_box, self.combine_box)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        buttons.addWidget(self.combine_box)
        self.editor = CriterionEditor()
        self.editor.changed.connect(self._on_criterion_edited)
        self.model_list = QListWidget()
        self.model_list.setMinimumHeight(50)
        self.model_list.setMaximumHeight(80)
        self.model_list.setToolTip("Fine-tuned models whose predictions become columns")
        from core.ranking.admet import is_available

        self.admet_box = QCheckBox("ADMET predictions (admet-ai, 41 endpoints)")
        self.admet_box.setToolTip(
            "Chemprop models for absorption, distribution, metabolism, excretion and toxicity, "
            "each with its percentile among DrugBank approved drugs. About 50 molecules/s on 2 "
            "cores; values are cached, so a rerun only predicts new molecules."
        )
        self.admet_box.setEnabled(is_available())
        self.score_button = QPushButton("Score library")
        self.score_button.setDefault(True)
        self.score_button.setToolTip(
            "Predict with the ticked models and compute what the profile needs, then rank"
        )
        self.score_button.clicked.connect(self.score)
        self.rank_status = QLabel("Choose a profile and press Score.")
        self.rank_status.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(self.description)
        layout.addWidget(QLabel("Criteria"))
        layout.addWidget(self.criteria_list)
        layout.addLayout(buttons)
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
        self.query_edit.setPlaceholderText("SMILES (empty: the Molecule panel's structure)")
        self.query_edit.returnPressed.connect(self.similarity_search)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 1_000_000)
        self.top_k.setValue(100)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.0)
        self.threshold.setSpecialValueText("off")
        similar_button = QPushButton("Find similar")
        similar_button.clicked.connect(self.similarity_search)
        similarity = QGroupBox("Similarity (Tanimoto, Morgan radius 2, 2048 bits)")
        form = QFormLayout(similarity)
        form.addRow("Query", self.query_edit)
        form.addRow("Top k", self.top_k)
        form.addRow("Min. similarity", self.threshold)
        form.addRow(similar_button)

        self.cluster_threshold = QDoubleSpinBox()
        self.cluster_threshold.setRange(0.05, 1.0)
        self.cluster_threshold.setSingleStep(0.05)
        self.cluster_threshold.setValue(0.4)
        cluster_button = QPushButton("Butina clusters")
        cluster_button.setToolTip("Adds cluster and cluster_size columns")
        cluster_button.clicked.connect(self.cluster)
        scaffold_button = QPushButton("Murcko scaffolds")
        scaffold_button.setToolTip("Adds a scaffold column: filter or sort by it to group")
        scaffold_button.clicked.connect(self.scaffolds)
        self.pick_count = QSpinBox()
        self.pick_count.setRange(1, 100_000)
        self.pick_count.setValue(50)
        pick_button = QPushButton("Diverse pick")
        pick_button.setToolTip("MaxMin: each pick is the molecule farthest from those picked")
        pick_button.clicked.connect(self.diverse_pick)
        group = QGroupBox("Group and pick")
        grid = QFormLayout(group)
        cluster_row = QHBoxLayout()
        cluster_row.addWidget(QLabel("Similarity ≥"))
        cluster_row.addWidget(self.cluster_threshold)
        cluster_row.addWidget(cluster_button, 1)
        grid.addRow(cluster_row)
        grid.addRow(scaffold_button)
        pick_row = QHBoxLayout()
        pick_row.addWidget(self.pick_count)
        pick_row.addWidget(pick_button, 1)
        grid.addRow(pick_row)
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

    def set_profile(self, profile: DesirabilityProfile) -> None:
        self.profile = profile
        self.description.setText(profile.description + "".join(f"\n• {n}" for n in profile.notes))
        self.description.setVisible(bool(profile.description or profile.notes))
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

    @staticmethod
    def _criterion_text(criterion: Criterion) -> str:
        if criterion.label:
            text = criterion.label
        elif criterion.shape == "logistic":
            text = f"{criterion.column}: good {criterion.good:g}, bad {criterion.bad:g}"
        else:
            text = f"{criterion.column}: " + ", ".join(f"{x:g}→{d:g}" for x, d in criterion.points)
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
        self._schedule_rerank()

    def _on_combine_changed(self, _index: int) -> None:
        self.profile = replace(self.profile, name="Custom", combine=self.combine_box.currentData())
        self._mark_custom()
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
            job = self.engine.submit(
                rank_table,
                table.copy(deep=False),
                self.profile,
                title=f"Rank {self.panel.title}",
                key=f"rank-{id(self)}",
            )
            self._jobs[job] = ("rank", self._show_ranking)
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
            f"{unscored:,} without a score.",
        )

    def _apply_scores(self, columns: pd.DataFrame, notes: dict[str, str]) -> None:
        # Desirabilities of a previous profile would mislead (columns read from a file stay).
        stale = [
            c
            for c in self.panel.library.computed_columns
            if c.startswith("d_") and c not in columns.columns
        ]
        # Unranked rows (rank 0 in files) are missing here, so an ascending sort puts them last.
        # (A new frame of Series, not a column set on the job's frame: that would copy.)
        rank = columns[RANK_COLUMN].to_numpy(dtype=np.int64)
        series = {name: columns[name] for name in columns.columns}
        series[RANK_COLUMN] = pd.Series(
            pd.arrays.IntegerArray(rank, mask=rank <= 0), index=columns.index
        )
        columns = pd.DataFrame(series, index=columns.index, copy=False)
        self.panel.add_columns(columns, notes, sort_by=RANK_COLUMN, drop=stale)

    def score(self) -> int | None:
        table = self.table()
        if table is None:
            _status(self.rank_status, "The library is still loading.", error=True)
            return None
        request = ScoringRequest(
            self.profile, self.checked_models(), admet=self.admet_box.isChecked()
        )
        job = self.engine.submit(
            score_library,
            table.copy(deep=False),
            request,
            self.cache,
            title=f"Score {self.panel.title}",
            key=f"score-{id(self)}",
            # Models predict in a worker process (see core.ranking.scoring); ADMET runs here.
            needs_torch=request.admet,
        )
        self._jobs[job] = ("score", self._on_scored)
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
        parts.append(f"{result.n_computed:,} computed, the rest reused")
        _status(self.rank_status, "; ".join(parts) + ".")
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
        job = self.engine.submit(
            build_fingerprint_index,
            _smiles(table),
            title=f"Fingerprints for {self.panel.title}",
            key=f"fingerprints-{id(self)}",
        )
        _status(self.find_status, "Computing fingerprints (once per library)…")

        def store(index) -> None:
            self.fingerprints = index
            then()

        self._jobs[job] = ("fingerprints", store)

    def similarity_search(self) -> None:
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

        def show(hits) -> None:
            n = len(self.table())
            similarity = np.full(n, np.nan)
            similarity[hits.rows] = hits.scores
            mask = np.zeros(n, dtype=bool)
            mask[hits.rows] = True
            self.panel.add_columns(
                pd.DataFrame({"similarity": similarity}, index=self.table().index),
                {"similarity": f"Tanimoto similarity to {query}"},
            )
            self.panel.set_row_mask(mask, f"Similar to {query[:40]}: {len(hits):,}")
            self.panel.sort_by("similarity", descending=True)
            best = f" (best {hits.scores[0]:.2f})" if len(hits) else ""
            _status(self.find_status, f"{len(hits):,} similar molecules{best}.")

        def run() -> None:
            job = self.engine.submit(
                similarity_search,
                self.fingerprints,
                query,
                top_k=self.top_k.value(),
                threshold=self.threshold.value() or None,
                title=f"Similarity search {query[:30]}",
                key=f"similarity-{id(self)}",
            )
            self._jobs[job] = ("similarity", show)

        self._with_fingerprints(run)

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
            self.panel.set_row_mask(mask, f"Contains {smarts[:40]}: {len(rows):,}")
            _status(self.find_status, f"{len(rows):,} molecules contain {smarts}.")

        def run() -> None:
            # Matching runs in the engine: a million molecules take seconds.
            job = self.engine.submit(
                substructure_search,
                self.substructures,
                smarts,
                title=f"Substructure search {smarts[:30]}",
                key=f"substructure-search-{id(self)}",
            )
            self._jobs[job] = ("substructure", show)
            _status(self.find_status, "Searching…")

        if self.substructures is not None and self.substructures.n_rows == len(table):
            run()
            return
        job = self.engine.submit(
            SubstructureIndex.build,
            _smiles(table),
            title=f"Substructure index for {self.panel.title}",
            key=f"substructures-{id(self)}",
        )
        _status(self.find_status, "Indexing structures (once per library)…")

        def store(index) -> None:
            self.substructures = index
            run()

        self._jobs[job] = ("substructures", store)

    def cluster(self) -> None:
        threshold = self.cluster_threshold.value()

        def run() -> None:
            index = self.fingerprints
            job = self.engine.submit(
                butina_clusters,
                index,
                threshold=threshold,
                title=f"Butina clusters ({threshold:.2f})",
                key=f"cluster-{id(self)}",
            )

            def show(labels) -> None:
                sizes = pd.Series(labels).map(pd.Series(labels[labels >= 0]).value_counts())
                frame = pd.DataFrame(
                    {
                        "cluster": np.where(labels >= 0, labels, np.nan),
                        "cluster_size": sizes.to_numpy(dtype=float),
                    },
                    index=self.table().index,
                )
                self.panel.add_columns(
                    frame,
                    {
                        "cluster": f"Butina cluster (Tanimoto ≥ {threshold:.2f}); 0 = largest",
                        "cluster_size": "molecules in the cluster",
                    },
                )
                n_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
                _status(self.find_status, f"{n_clusters:,} clusters (column 'cluster').")

            self._jobs[job] = ("cluster", show)
            _status(self.find_status, "Clustering…")

        self._with_fingerprints(run)

    def scaffolds(self) -> None:
        table = self.table()
        if table is None:
            return
        job = self.engine.submit(
            scaffold_groups, _smiles(table), title="Murcko scaffolds", key=f"scaffold-{id(self)}"
        )

        def show(scaffolds) -> None:
            frame = pd.DataFrame({"scaffold": scaffolds}, index=self.table().index)
            counts = frame["scaffold"].map(frame["scaffold"].value_counts())
            frame["scaffold_size"] = np.where(frame["scaffold"] != "", counts, np.nan)
            self.panel.add_columns(
                frame,
                {
                    "scaffold": "Bemis–Murcko scaffold (empty: acyclic)",
                    "scaffold_size": "molecules sharing the scaffold",
                },
            )
            self.panel.sort_by("scaffold_size", descending=True)
            n = frame.loc[frame["scaffold"] != "", "scaffold"].nunique()
            _status(self.find_status, f"{n:,} scaffolds (column 'scaffold').")

        self._jobs[job] = ("scaffolds", show)

    def diverse_pick(self) -> None:
        n_pick = self.pick_count.value()

        def run() -> None:
            job = self.engine.submit(
                maxmin_pick,
                self.fingerprints,
                n_pick,
                title=f"Pick {n_pick} diverse molecules",
                key=f"pick-{id(self)}",
            )

            def show(rows) -> None:
                n = len(self.table())
                order = np.full(n, np.nan)
                order[rows] = np.arange(1, len(rows) + 1)
                mask = ~np.isnan(order)
                self.panel.add_columns(
                    pd.DataFrame({"pick_order": order}, index=self.table().index),
                    {"pick_order": "order of the MaxMin diverse pick"},
                )
                self.panel.set_row_mask(mask, f"Diverse pick: {len(rows):,}")
                self.panel.sort_by("pick_order")
                _status(self.find_status, f"Picked {len(rows):,} diverse molecules.")

            self._jobs[job] = ("pick", show)

        self._with_fingerprints(run)

    # ------------------------------------------------------------------------------------------
    # Chart and engine

    def _on_columns_changed(self) -> None:
        table = self.table()
        if table is not None:
            self.editor.set_columns(self.numeric_columns())
            self.chart.set_table(table)

    def library_loaded(self) -> None:
        """Call when the panel's library arrives (or changes wholesale)."""
        self.fingerprints = None
        self.substructures = None
        self._on_columns_changed()
        self.set_profile(self.profile)

    def _on_current_row_changed(self, row) -> None:
        if self.currentWidget() is self.admet_view or row is None:
            self.admet_view.show_row(row)
        else:
            self._pending_row = row

    def _on_tab_changed(self, _index: int) -> None:
        if self.currentWidget() is self.admet_view:
            self.admet_view.show_row(
                getattr(self, "_pending_row", None) or self.panel.current_row()
            )

    def _on_chart_clicked(self, positions) -> None:
        self.panel.select_positions(positions)

    def _on_job_finished(self, job_id: int, result: object) -> None:
        entry = self._jobs.pop(job_id, None)
        if entry is not None:
            entry[1](result)

    def _on_job_failed(self, job_id: int, message: str) -> None:
        entry = self._jobs.pop(job_id, None)
        if entry is None:
            return
        label = self.rank_status if entry[0] == "score" else self.find_status
        self.score_button.setEnabled(True)
        _status(label, message, error=True)

    def _on_job_cancelled(self, job_id: int) -> None:
        entry = self._jobs.pop(job_id, None)
        if entry is None:
            return
        self.score_button.setEnabled(True)
        label = self.rank_status if entry[0] == "score" else self.find_status
        _status(label, "Cancelled; what was computed is kept for the next run.")

    def shutdown(self) -> None:
        for job in list(self._jobs):
            self.engine.cancel(job)
        self._jobs.clear()


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
