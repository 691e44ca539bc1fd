"""The Rank tab of the hit-list tools: a desirability profile (a preset, or criteria of one's own,
loaded from and saved to JSON), the models whose predictions it may use, and Score.

A profile change re-ranks from the table's columns at once (a million rows in well under a
second, in the engine above :data:`LARGE_TABLE` rows); Score computes what the profile needs
(model predictions, ADMET, pKa) in the engine, then ranks.
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
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
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
from ui.hitlist.criterion_editor import CriterionEditor
from ui.hitlist.forms import compact, set_status
from ui.hitlist.titles import axis_title
from ui.jobs.handle import JobHandle
from ui.jobs.tracker import CANCELLED, JobTracker
from ui.widgets.checked_list import checked_paths

log = logging.getLogger(__name__)

CUSTOM = "custom"
# Above this many rows a re-rank runs in the engine instead of on the GUI thread.
LARGE_TABLE = 100_000


class RankTab(QWidget):
    """Rank one library panel's molecules by a desirability profile.

    Parameters
    ----------
    panel
        The :class:`~ui.library.panel.LibraryPanel` whose table is ranked (scores become its
        columns).
    engine
        Runs the score and large re-ranks (``submit`` returns a job handle).
    model_entries
        The registered models that may predict (entries with ``path`` and ``card``).
    """

    status_message = Signal(str)
    """A finished score in one line, for the window's status bar."""

    def __init__(
        self,
        panel,
        engine,
        model_entries: Callable[[], list],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.engine = engine
        self.model_entries = model_entries
        self.cache = ScoreCache()
        self.model_cards: list[dict] = []
        """Cards of the models whose predictions the last score used (for reports)."""
        self.profile: DesirabilityProfile = PRESETS["oral"]
        # Keys per tab: each library's tools supersede only their own older jobs.
        self.jobs = JobTracker(engine, f"hitlist-{id(self)}", self)
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.ended.connect(self._on_job_ended)
        """This tab's jobs: the score and large re-ranks."""
        self._build()
        self.refresh_models()
        self._rerank_timer = QTimer(self)
        self._rerank_timer.setSingleShot(True)
        self._rerank_timer.setInterval(250)
        self._rerank_timer.timeout.connect(self.rerank)
        self.set_profile(self.profile)

    def _build(self) -> None:
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
        compact(self.preset_box, self.combine_box)
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
        layout = QVBoxLayout(self)
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
            self.criteria_list.addItem(criterion_text(criterion))
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
        self.criteria_list.item(row).setText(criterion_text(criterion))
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
            set_status(self.rank_status, "A profile needs at least one criterion.", error=True)
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
            set_status(self.rank_status, str(error), error=True)
            return False
        self._mark_custom()
        self.set_profile(profile)
        set_status(self.rank_status, f"Loaded profile '{profile.name}' from {Path(path).name}.")
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
            set_status(self.rank_status, str(error), error=True)
            return False
        set_status(self.rank_status, f"Saved the profile to {path}.")
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
        return checked_paths(self.model_list)

    def _schedule_rerank(self) -> None:
        self._rerank_timer.start()

    def rerank(self) -> bool:
        """Re-score from the table's columns at once when nothing new must be computed."""
        table = self.table()
        if table is None:
            return False
        missing = self.profile.missing_columns([str(c) for c in table.columns])
        if missing:
            set_status(
                self.rank_status,
                f"Press Score to compute {', '.join(missing)} (not in the table yet).",
            )
            return False
        if len(table) > LARGE_TABLE:
            # A million rows take most of a second: score in the engine, keep the window fluid.
            self.jobs.submit(
                "rank",
                self._show_ranking,
                rank_table,
                table.copy(deep=False),
                self.profile,
                title=f"Rank {self.panel.title}",
            )
            set_status(self.rank_status, "Ranking…")
            return True
        try:
            columns = rank_table(table, self.profile)
        except ProfileError as error:
            set_status(self.rank_status, str(error), error=True)
            return False
        self._show_ranking(columns)
        return True

    def _show_ranking(self, columns: pd.DataFrame) -> None:
        self._apply_scores(columns, {})
        unscored = int(np.isnan(columns[SCORE_COLUMN].to_numpy(dtype=float)).sum())
        set_status(
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
            set_status(self.rank_status, "The library is still loading.", error=True)
            return None
        request = ScoringRequest(
            self.profile,
            self.checked_models(),
            admet=self.admet_box.isChecked(),
            precision=getattr(self.engine, "inference_precision", "auto"),
        )
        job = self.jobs.submit(
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
        set_status(self.rank_status, "Scoring…")
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
        set_status(self.rank_status, "; ".join(parts) + self._scale_summary(result.columns) + ".")
        self.status_message.emit(parts[0])

    def update_columns(self) -> None:
        """The table's columns changed: offer its numeric columns to the criterion editor."""
        self.editor.set_columns(self.numeric_columns())

    def _on_job_failed(self, kind: str, message: str) -> None:
        if kind == "score":
            self.score_button.setEnabled(True)
        set_status(self.rank_status, message, error=True)

    def _on_job_ended(self, kind: str, how: str) -> None:
        if how == CANCELLED:
            self._on_job_cancelled(kind)

    def _on_job_cancelled(self, kind: str) -> None:
        if kind == "score":
            self.score_button.setEnabled(True)
        set_status(self.rank_status, "Cancelled; what was computed is kept for the next run.")


def criterion_text(criterion: Criterion) -> str:
    """How the criteria list names a criterion: its label, else its curve in words."""
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


def registered_models() -> list:
    """Fine-tuned models that can predict: the user's, then the shipped ones."""
    try:
        from core.models.registry import list_models, shipped_models

        entries = list_models() + shipped_models()
    except Exception:  # a broken registry must not stop ranking
        log.exception("Could not list the registered models")
        return []
    return [e for e in entries if e.card is not None and e.card.target_columns]
