"""The Clinical trials panel: a trial table, its baseline table, survival analysis, design and
simulation, in five tabs.

The panel keeps its work in the project (``ui.workbench.KeepsState``, state key ``trials``): the
table as shown (edits and column types included) with the file's path and SHA-256, the column
choices, the analyses shown (re-run when the project reopens), the Design tab's inputs and the
Simulation tab's inputs. "Use in design" on the Survival tab fills the Design tab from the
Kaplan–Meier result (issue 17, part 3).

The panel fits a 1280×720 window beside the sidebar (at most 800×540): tall forms and result
columns scroll instead of growing it. The follow-up time's unit is guessed from the data (the
time column's name, the demo's description) and can be set on the Survival tab.

Reading files, the baseline table, the survival fits and the simulations run in the engine (jobs
from ``core.trials``); the panel connects to the handles of its own jobs, one per kind (a newer
load, baseline or survival fit supersedes the older one), and hears nothing of anybody else's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.trials import TrialDataError
from core.trials.baseline import baseline_job
from core.trials.data import (
    COLUMN_TYPES,
    DEMOS,
    ColumnRoles,
    LoadedTable,
    column_types,
    convert_column,
    export_table,
    is_binary,
    load_trial_job,
)
from core.trials.km_design import design_inputs
from core.trials.survival import SurvivalResult, analyse_survival
from ui.jobs.tracker import JobTracker
from ui.tables.dataframe_model import configure_table_view
from ui.trials.design_tab import DesignTab
from ui.trials.forest_plot import ForestPlot
from ui.trials.km_plot import KaplanMeierView
from ui.trials.simulation_tab import SimulationTab
from ui.trials.units import UNKNOWN_UNIT, guess_time_unit, set_unit, unit_combo
from ui.trials.widgets import (
    PLOT_FILTER,
    TABLE_FILTER,
    EditableFrameModel,
    export_plot,
    result_view,
    show_table,
    typed_specs,
)
from ui.widgets.elided_label import ElidedLabel

if TYPE_CHECKING:
    from core.project.areas import AreaSnapshot, StoredArea
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext

NONE = "(none)"
STATE_FORMAT = 1
START_STATUS = "Open a trial table or a demo (GBSG2, ACTG175)."


def _titled(title: str, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    label = QLabel(f"<b>{title}</b>")
    label.setWordWrap(True)
    layout.addWidget(label)
    layout.addWidget(widget)
    return box


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless vertical scroll area: a tall column never makes the panel tall."""
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


class TrialsPanel(QWidget):
    """The ``trials`` work area (see ``app/areas.py``).

    Signals
    -------
    state_changed()
        Something worth keeping in the project changed (``ui.workbench.KeepsState``).
    """

    state_changed = Signal()
    state_key = "trials"

    def __init__(self, context: AreaContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trialsPanel")
        self.engine = context.engine
        self.notifier = context.notifier
        self.frame: pd.DataFrame | None = None
        self.types: dict[str, str] = {}
        self.source_name = ""
        self.survival: SurvivalResult | None = None
        self.baseline: pd.DataFrame | None = None
        # Where the table came from: {"demo": name} or {"path": …, "reference": {path, size,
        # sha256}}; None before a table.
        self.source: dict[str, Any] | None = None
        self._quiet = False  # restoring: what changes is the project's own state
        self._quiet_analysis = False  # the analysis running is a restore's redraw
        self._simulate_on_restore = False  # a restore is running the seeded simulation again
        self._restored_analyses: list[str] = []  # what the campaign says until it is redrawn
        self._restore_choices: dict | None = None  # the kept state, until its table is read
        # The newest job of each kind ("load", "baseline", "survival").
        self.jobs = JobTracker(self.engine, "trials", self)
        self.jobs.failed.connect(self._on_job_failed)

        # Top bar: open, demos, column pickers, analyse.
        open_button = QPushButton("Open table…")
        open_button.setToolTip("Open a trial table (.csv, .tsv, .xlsx)")
        open_button.clicked.connect(self.choose_file)
        self.demo_button = QToolButton()
        self.demo_button.setText("Open demo")
        self.demo_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.demo_button)
        for name, demo in DEMOS.items():
            action = menu.addAction(name)
            action.setToolTip(demo.description)
            action.triggered.connect(lambda _=False, n=name: self.open_demo(n))
        menu.setToolTipsVisible(True)
        self.demo_button.setMenu(menu)
        self.time_combo = QComboBox()
        self.event_combo = QComboBox()
        self.group_combo = QComboBox()
        for combo, tip in (
            (self.time_combo, "Follow-up time (numbers ≥ 0)"),
            (self.event_combo, "Event indicator: 1 = event, 0 = censored"),
            (self.group_combo, "Treatment arm"),
        ):
            combo.setToolTip(tip)
            combo.setMinimumContentsLength(6)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setToolTip("Baseline table, Kaplan–Meier, log-rank and Cox model")
        self.analyse_button.clicked.connect(self.analyse)
        self.analyse_button.setEnabled(False)
        # Long messages end in "…" at the panel's edge (full text in the tooltip), never widen it.
        self.status = ElidedLabel(START_STATUS, mode="right")
        self.status.setObjectName("trialsStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.addWidget(open_button)
        top.addWidget(self.demo_button)
        for label, combo in (
            ("Time", self.time_combo),
            ("Event", self.event_combo),
            ("Group", self.group_combo),
        ):
            top.addWidget(QLabel(label))
            top.addWidget(combo)
        top.addWidget(self.analyse_button)
        top.addWidget(self.status, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_data_tab(), "Data")
        self.tabs.addTab(self._build_baseline_tab(), "Baseline")
        self.tabs.addTab(self._build_survival_tab(), "Survival")
        self.design_tab = DesignTab(context.notifier)
        self.tabs.addTab(self.design_tab, "Design")
        self.simulation_tab = SimulationTab(context)
        self.tabs.addTab(self.simulation_tab, "Simulation")
        self.design_tab.use_in_simulation.connect(self._on_use_in_simulation)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

        # Choices the project keeps.
        for combo in (self.time_combo, self.event_combo, self.group_combo, self.binary_combo):
            combo.currentIndexChanged.connect(self._changed)
        self.unit_combo.currentIndexChanged.connect(self._changed)
        self.covariates.itemChanged.connect(self._changed)
        self.design_tab.inputs_changed.connect(self._changed)
        self.simulation_tab.inputs_changed.connect(self._changed)
        self.tabs.currentChanged.connect(self._changed)

    # ------------------------------------------------------------------------------------------
    # Tabs

    def _build_data_tab(self) -> QWidget:
        self.data_model = EditableFrameModel(parent=self)
        self.data_model.edit_failed.connect(self._error)
        self.data_model.frame_edited.connect(self._on_frame_edited)
        self.data_view = QTableView()
        self.data_view.setModel(self.data_model)
        configure_table_view(self.data_view)
        self.data_view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.type_column = QComboBox()
        self.type_column.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.type_column.setMinimumContentsLength(10)
        self.type_column.currentTextChanged.connect(self._on_type_column_changed)
        self.type_kind = QComboBox()
        self.type_kind.addItems(COLUMN_TYPES)
        apply_type = QPushButton("Set type")
        apply_type.clicked.connect(self.apply_column_type)
        export = QPushButton("Export table…")
        export.clicked.connect(lambda: self._export_frame(self.frame, "trial.csv"))
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Column"))
        bar.addWidget(self.type_column)
        bar.addWidget(QLabel("type"))
        bar.addWidget(self.type_kind)
        bar.addWidget(apply_type)
        edit_hint = QLabel("Double-click a cell to edit it.")
        edit_hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(edit_hint, 1)
        bar.addWidget(export)
        # Before any table is open, the table's place offers the demos.
        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        hint = QLabel(
            "<h3>No trial table yet</h3>Open a .csv or .xlsx table of patients (one row each: "
            "follow-up time, event 0/1, arm, baseline variables), or a real trial that the "
            "lifelines package ships:"
        )
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty_layout.addWidget(hint)
        demo_row = QHBoxLayout()
        demo_row.addStretch(1)
        for name, demo in DEMOS.items():
            button = QPushButton(f"Open {name} demo")
            button.setToolTip(demo.description)
            button.clicked.connect(lambda _=False, n=name: self.open_demo(n))
            demo_row.addWidget(button)
        demo_row.addStretch(1)
        empty_layout.addLayout(demo_row)
        empty_layout.addStretch(2)
        self.data_stack = QStackedWidget()
        self.data_stack.addWidget(empty)
        self.data_stack.addWidget(self.data_view)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(self.data_stack)
        return page

    def _build_baseline_tab(self) -> QWidget:
        self.baseline_view, self.baseline_model = result_view(self)
        self.baseline_note = QLabel(
            "Baseline characteristics by arm: mean (SD) for numbers, n (%) for categories "
            "(column types from the Data tab)."
        )
        self.baseline_note.setWordWrap(True)
        export = QPushButton("Export table…")
        export.clicked.connect(lambda: self._export_frame(self.baseline, "baseline.csv"))
        bar = QHBoxLayout()
        bar.addWidget(self.baseline_note, 1)
        bar.addWidget(export)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(self.baseline_view)
        return page

    def _build_survival_tab(self) -> QWidget:
        self.km_view = KaplanMeierView()
        self.forest = ForestPlot()
        export_plot_button = QPushButton("Export plot…")
        export_plot_button.setToolTip("The Kaplan–Meier plot with its numbers at risk")
        export_plot_button.clicked.connect(self._export_km_plot)
        export_tables = QPushButton("Export results…")
        export_tables.clicked.connect(
            lambda: self._export_frame(self.survival_table(), "survival.csv")
        )
        self.covariates = QListWidget()
        self.covariates.setToolTip("Covariates adjusted for in the Cox model")
        self.covariates.setMaximumHeight(110)
        self.binary_combo = QComboBox()
        self.binary_combo.setToolTip("A 0/1 outcome for risk difference, risk ratio, odds ratio")
        self.binary_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.binary_combo.setMinimumContentsLength(6)
        self.unit_combo = unit_combo(UNKNOWN_UNIT, allow_unknown=True)
        self.unit_combo.setToolTip(
            "The unit of the follow-up time column (guessed from the data; set it when the "
            "guess is wrong or missing)"
        )
        self.unit_combo.currentIndexChanged.connect(self._on_unit_changed)
        rerun = QPushButton("Refit")
        rerun.clicked.connect(self._on_refit_clicked)
        self.use_in_design_button = QPushButton("Use in design")
        self.use_in_design_button.setToolTip(
            "Fill the Design tab from these curves: the control arm's median, the event rate "
            "(events / patients) and, when the table has entry dates, the accrual period"
        )
        self.use_in_design_button.clicked.connect(self.use_in_design)
        self.use_in_design_button.setEnabled(False)
        options = QHBoxLayout()
        options.addWidget(QLabel("Binary endpoint"))
        options.addWidget(self.binary_combo)
        options.addWidget(QLabel("Time in"))
        options.addWidget(self.unit_combo)
        options.addStretch(1)
        options.addWidget(rerun)
        options.addWidget(export_plot_button)
        options.addWidget(export_tables)

        self.logrank_label = QLabel()
        self.logrank_label.setWordWrap(True)
        self.logrank_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.median_view, self.median_model = result_view(self)
        self.cox_view, self.cox_model = result_view(self)
        self.ph_view, self.ph_model = result_view(self)
        self.binary_view, self.binary_model = result_view(self)
        for view in (self.median_view, self.cox_view, self.ph_view, self.binary_view):
            view.setMinimumHeight(90)
        results = QVBoxLayout()
        results.setContentsMargins(0, 0, 0, 0)
        results.addWidget(_titled("Medians and log-rank test", self.median_view))
        results.addWidget(_titled("Cox model: hazard ratios", self.cox_view))
        results.addWidget(
            _titled("Proportional hazards (Schoenfeld residuals, rank time)", self.ph_view)
        )
        results.addWidget(_titled("Binary endpoint: effects vs the first arm", self.binary_view))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 4, 0)
        # Beside the numbers it takes (not in the options row: the panel must stay narrow).
        design_row = QHBoxLayout()
        design_row.addWidget(self.use_in_design_button)
        design_row.addStretch(1)
        right_layout.addLayout(design_row)
        right_layout.addWidget(self.logrank_label)
        right_layout.addWidget(_titled("Cox covariates (besides the arm)", self.covariates))
        right_layout.addLayout(results, 1)
        self.results_scroll = _scrolling(right)
        self.results_scroll.setMinimumWidth(260)
        # The curves above the forest plot; the tables beside them scroll.
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.km_view)
        plots.addWidget(self.forest)
        plots.setStretchFactor(0, 3)
        plots.setStretchFactor(1, 1)
        plots.setChildrenCollapsible(False)
        plots.setSizes([600, 200])
        self.plots_splitter = plots
        self.km_view.setMinimumSize(300, 200)
        splitter = QSplitter()
        splitter.addWidget(plots)
        splitter.addWidget(self.results_scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([900, 560])
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(options)
        layout.addWidget(splitter, 1)
        return page

    # ------------------------------------------------------------------------------------------
    # Loading

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open trial table", "", "Tables (*.csv *.tsv *.txt *.xlsx);;All files (*)"
        )
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> JobHandle:
        return self._submit_load(str(path), Path(path).name)

    def open_demo(self, name: str) -> JobHandle:
        return self._submit_load(name, f"demo {name}")

    def _submit_load(self, source: str, title: str) -> JobHandle:
        self._set_status(f"Reading {title}…")
        return self._submit(
            "load", self._on_load_finished, load_trial_job, source, title=f"Open {title}"
        )

    def set_table(self, loaded: LoadedTable, analyse: bool = True) -> None:
        if loaded.reference is not None:
            self.source = {"path": loaded.reference.get("path"), "reference": loaded.reference}
        elif loaded.name in DEMOS:
            self.source = {"demo": loaded.name}
        else:
            self.source = {"name": loaded.name}
        self.survival = self.baseline = None
        self.use_in_design_button.setEnabled(False)
        self.frame = loaded.frame
        self.types = dict(loaded.types)
        self.source_name = loaded.name
        self.data_model.set_columns(typed_specs(self.frame, self.types))
        self.data_model.set_frame(self.frame)
        self.data_stack.setCurrentWidget(self.data_view)
        self._fill_pickers(loaded.roles)
        self.set_time_unit(self._guess_unit(loaded))
        self.analyse_button.setEnabled(True)
        self._set_status(
            f"{loaded.name}: {len(self.frame)} patients, {self.frame.shape[1]} columns"
        )
        if analyse and loaded.roles.time and loaded.roles.event and loaded.roles.group:
            self.analyse()
        self._changed()

    def _fill_pickers(self, roles: ColumnRoles) -> None:
        frame = self.frame
        assert frame is not None
        names = [str(c) for c in frame.columns]
        numeric = [
            n
            for n in names
            if pd.api.types.is_numeric_dtype(frame[n]) and not pd.api.types.is_bool_dtype(frame[n])
        ]
        binary = [n for n in names if is_binary(frame[n])]
        groups = [n for n in names if 2 <= frame[n].nunique(dropna=True) <= 20]
        for combo, choices, chosen in (
            (self.time_combo, numeric, roles.time),
            (self.event_combo, binary, roles.event),
            (self.group_combo, groups, roles.group),
        ):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(choices)
            if chosen in choices:
                combo.setCurrentText(chosen)
            combo.blockSignals(False)
        self.binary_combo.clear()
        self.binary_combo.addItems([NONE, *binary])
        if roles.event in binary:
            self.binary_combo.setCurrentText(roles.event)
        self.covariates.clear()
        for name in names:
            if name in (roles.time, roles.event, roles.group):
                continue
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.covariates.addItem(item)
        self.type_column.blockSignals(True)
        self.type_column.clear()
        self.type_column.addItems(names)
        self.type_column.blockSignals(False)
        self._on_type_column_changed(self.type_column.currentText())

    @staticmethod
    def _guess_unit(loaded: LoadedTable) -> str:
        description = DEMOS[loaded.name].description if loaded.name in DEMOS else ""
        return guess_time_unit(loaded.roles.time or "", description)

    def time_unit(self) -> str:
        """The follow-up time's unit ("days", …; ``""`` when not known)."""
        return self.unit_combo.currentData()

    def set_time_unit(self, unit: str) -> None:
        set_unit(self.unit_combo, unit)

    def _on_unit_changed(self) -> None:
        self.km_view.set_unit(self.time_unit())

    # ------------------------------------------------------------------------------------------
    # Data edits

    def _on_type_column_changed(self, name: str) -> None:
        if name in self.types:
            self.type_kind.setCurrentText(self.types[name])

    def apply_column_type(self) -> None:
        if self.frame is None:
            return
        column, kind = self.type_column.currentText(), self.type_kind.currentText()
        try:
            frame = convert_column(self.frame, column, kind)
        except TrialDataError as exc:
            self._error(str(exc))
            return
        self.types[column] = kind
        self._replace_frame(frame)
        self._set_status(f"Column {column!r} is now {kind}; press Analyse to update results")
        self._changed()

    def _on_frame_edited(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._set_status("Table edited; press Analyse to update results")
        self._changed()

    def _replace_frame(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        known = column_types(frame)
        self.types = {name: self.types.get(name, known[name]) for name in known}
        self.data_model.set_columns(typed_specs(frame, self.types))
        self.data_model.set_frame(frame)

    # ------------------------------------------------------------------------------------------
    # Analysis

    def roles(self) -> ColumnRoles:
        return ColumnRoles(
            self.time_combo.currentText() or None,
            self.event_combo.currentText() or None,
            self.group_combo.currentText() or None,
        )

    def analyse(self, redraw: bool = False) -> None:
        """Baseline table and survival analysis, both in the engine (``redraw``: a restore
        draws what the project had shown; that is no change to save)."""
        self._quiet_analysis = redraw
        if self.frame is None:
            self._error("Open a trial table first")
            return
        roles = self.roles()
        if not roles.group:
            self._error("Choose the group (arm) column")
            return
        variables = [
            c for c in self.frame.columns if c not in (roles.time, roles.event, roles.group)
        ]
        self._submit(
            "baseline",
            self._on_baseline_finished,
            baseline_job,
            self.frame,
            roles.group,
            variables,
            dict(self.types),
            title="Baseline table",
        )
        self.run_survival()

    def covariate_names(self) -> list[str]:
        return [
            self.covariates.item(i).text()
            for i in range(self.covariates.count())
            if self.covariates.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _on_refit_clicked(self) -> None:
        self._quiet_analysis = False
        self.run_survival()

    def run_survival(self) -> JobHandle | None:
        if self.frame is None:
            return None
        roles = self.roles()
        if not (roles.time and roles.event and roles.group):
            self._error("Choose the time, event and group columns (a 0/1 event column is needed)")
            return None
        binary = self.binary_combo.currentText()
        handle = self._submit(
            "survival",
            self._on_survival_finished,
            analyse_survival,
            self.frame,
            roles.time,
            roles.event,
            roles.group,
            self.covariate_names(),
            title=f"Survival analysis of {self.source_name}",
            binary_outcome=None if binary in ("", NONE) else binary,
        )
        self._set_status("Fitting Kaplan–Meier, log-rank and Cox…")
        return handle

    # ------------------------------------------------------------------------------------------
    # Engine

    def _submit(self, kind: str, on_finished, fn, *args, title: str, **kwargs) -> JobHandle:
        """Run ``fn`` on the engine as this panel's job of ``kind``; ``on_finished(result)``
        receives its result while the job is still the newest of its kind (:class:`JobTracker`)."""
        return self.jobs.submit(kind, on_finished, fn, *args, title=title, **kwargs)

    def _on_load_finished(self, loaded: LoadedTable) -> None:
        self.set_table(loaded)

    def _on_baseline_finished(self, table: pd.DataFrame) -> None:
        self.baseline = table
        show_table(self.baseline_model, self.baseline)
        if not self._quiet_analysis:
            self._changed()

    def _on_survival_finished(self, result: SurvivalResult) -> None:
        self.show_survival(result)
        if not self._quiet_analysis:
            self._changed()

    def _on_job_failed(self, _kind: str, message: str) -> None:
        self._set_status("Failed: " + message.splitlines()[0][:120])
        self._error(message)

    def show_survival(self, result: SurvivalResult) -> None:
        self.survival = result
        self.use_in_design_button.setEnabled(True)
        self.km_view.show_result(result, self.time_unit())
        show_table(self.median_model, result.summary(), median=1, ci_lower=1, ci_upper=1)
        show_table(self.cox_model, result.cox)
        self.forest.show_cox(result.cox, round(100 * (1 - result.alpha)))
        # The forest plot gets room for its rows, the curves at least half of the height.
        total = sum(self.plots_splitter.sizes())
        if total > 0:
            forest = min(self.forest.preferred_height(), total // 2)
            self.plots_splitter.setSizes([total - forest, forest])
        show_table(self.ph_model, result.ph_test)
        show_table(self.binary_model, result.binary)
        text = (
            f"Log-rank test: χ² = {result.logrank_statistic:.2f} on {result.logrank_df} df, "
            f"p = {result.logrank_p:.3g}. Medians with {round(100 * (1 - result.alpha))}% CI; "
            "an empty bound is not reached."
        )
        if result.warnings:
            text += "<br><span style='color:#b00020'>" + "; ".join(result.warnings) + "</span>"
        self.logrank_label.setText(text)
        self._set_status(
            f"{self.source_name}: {len(result.curves)} arms, "
            f"{sum(c.events for c in result.curves)} events, log-rank p = {result.logrank_p:.3g}"
        )

    def survival_table(self) -> pd.DataFrame | None:
        """Every survival result in one long table, one section per part, for export."""
        result = self.survival
        if result is None:
            return None
        parts = [result.summary().assign(section="km_median")]
        for name, table in (
            ("cox", result.cox),
            ("ph_test", result.ph_test),
            ("binary", result.binary),
        ):
            if table is not None:
                parts.append(table.assign(section=name))
        at_risk = result.at_risk.copy()
        at_risk.columns = [f"at_risk_{c:g}" for c in at_risk.columns]
        parts.append(at_risk.rename_axis("group").reset_index().assign(section="at_risk"))
        table = pd.concat(parts, ignore_index=True)
        return table[["section", *[c for c in table.columns if c != "section"]]]

    # ------------------------------------------------------------------------------------------
    # Kaplan–Meier -> Design (issue 17, part 3)

    def use_in_design(self) -> str | None:
        """Fill the Design tab's time-to-event inputs from the Kaplan–Meier result: the control
        arm's median in the data's time unit, the event rate (events / patients), the accrual
        period when the table has entry dates; switch to the Design tab and say what was
        filled. Returns that line (None without a result)."""
        if self.survival is None or self.frame is None:
            self._error("Analyse a table first: the design takes the Kaplan–Meier result")
            return None
        inputs = design_inputs(self.survival, self.frame, self.time_unit())
        message = self.design_tab.take_km(inputs, self.time_unit())
        self.tabs.setCurrentWidget(self.design_tab)
        self._set_status(message)
        self.notifier.show_status(message, 15_000)
        return message

    # ------------------------------------------------------------------------------------------
    # The project keeps the area (ui.workbench.KeepsState)

    def _changed(self, *_args) -> None:
        if not self._quiet:
            self.state_changed.emit()

    def analyses(self) -> list[str]:
        """The analyses shown, as the campaign names them."""
        shown: list[str] = []
        result = self.survival
        if result is not None:
            group = result.group_column or "arm"
            shown += [f"Kaplan-Meier by {group}", "Log-rank test"]
            if result.cox is not None:
                terms = [str(t) for t in result.cox["term"]]
                adjusted = [t for t in terms if not t.startswith(f"{group}=")]
                shown.append(
                    "Cox model" + (f" adjusted for {', '.join(adjusted)}" if adjusted else "")
                )
            if result.binary is not None:
                shown.append(f"Binary endpoint {self.binary_combo.currentText()}")
        if self.baseline is not None:
            shown.append(f"Baseline table by {self.group_combo.currentText()}")
        return shown

    def _campaign_design(self) -> dict | None:
        tab = self.design_tab
        result = tab.result
        if result is None or not tab.edited:
            return None
        d = result.details
        unit = tab.time_unit()
        if result.endpoint == "binary":
            effect = f"p2 {d['p2']:g} vs p1 {d['p1']:g}"
        elif result.endpoint == "continuous":
            effect = f"difference in means {d['delta']:g} (SD {d['sd']:g})"
        else:
            effect = f"hazard ratio {d['hr']:g}"
            if "median_control" in d:
                effect += f", control median {d['median_control']:g} {unit}".rstrip()
        return {
            "endpoint": tab.endpoint.currentText(),
            "test": tab.method.currentText(),
            "n_total": int(result.total if result.total is not None else result.events or 0),
            "power": float(result.power),
            "alpha": float(result.alpha),
            "effect": effect,
        }

    def area_state(self) -> AreaSnapshot:
        """The area as the project keeps it (the table is shared: edits replace it)."""
        from core.project.areas import INDEX_COLUMN, AreaSnapshot

        tables = {}
        frame = self.frame
        if frame is not None and INDEX_COLUMN not in frame.columns:
            tables["data"] = frame
        roles = self.roles()
        pending = self._quiet_analysis and self.jobs.running("survival") is not None
        analyses = self.analyses() if not pending else list(self._restored_analyses)
        state = {
            "source": dict(self.source) if self.source else None,
            "name": self.source_name if frame is not None else "",
            "types": dict(self.types) if frame is not None else {},
            "roles": {"time": roles.time, "event": roles.event, "group": roles.group},
            "unit": self.time_unit(),
            "covariates": self.covariate_names(),
            "binary": self.binary_combo.currentText(),
            "analysed": self.survival is not None or pending,
            "design": self.design_tab.inputs(),
            "simulation": self.simulation_tab.inputs(),
            # A simulation is seeded: its inputs give the same result again, so the project
            # keeps whether it was run and reopening runs it again rather than storing it.
            "simulated": self.simulation_tab.result is not None or self._simulate_on_restore,
            "tab": self.tabs.currentIndex(),
            "campaign": {
                "datasets": [self.source_name] if frame is not None else [],
                "analyses": analyses,
                "design": self._campaign_design(),
            },
        }
        return AreaSnapshot(state=state, tables=tables, format=STATE_FORMAT)

    def restore_area_state(self, stored: StoredArea | None) -> list[str]:
        """Put back what a project kept (``None``: empty the area); one line per thing that
        could not be. The table comes from the project (else from its file or demo, read in
        the engine); the analyses it had shown are run again."""
        self._quiet = True
        try:
            return self._restore(stored)
        finally:
            self._quiet = False

    def _on_restored_simulation(self, *_args) -> None:
        self._simulate_on_restore = False

    def _reset(self) -> None:
        self.jobs.cancel_all()
        self._simulate_on_restore = False
        self.frame = None
        self.types = {}
        self.source_name = ""
        self.source = None
        self.survival = self.baseline = None
        self._quiet_analysis = False
        self._restored_analyses = []
        self._restore_choices = None
        self.data_model.set_frame(None)
        self.data_stack.setCurrentIndex(0)
        for combo in (
            self.time_combo, self.event_combo, self.group_combo, self.binary_combo,
            self.type_column,
        ):  # fmt: skip
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self.covariates.clear()
        self.set_time_unit(UNKNOWN_UNIT)
        show_table(self.baseline_model, None)
        for model in (self.median_model, self.cox_model, self.ph_model, self.binary_model):
            show_table(model, None)
        self.km_view.clear_curves()
        self.forest.show_cox(None, 95)
        self.logrank_label.setText("")
        self.analyse_button.setEnabled(False)
        self.use_in_design_button.setEnabled(False)
        self.design_tab.reset()
        self.simulation_tab.reset()
        self.tabs.setCurrentIndex(0)
        self._set_status(START_STATUS)

    def _restore(self, stored: StoredArea | None) -> list[str]:
        from core.project.areas import check_file_reference

        self._reset()
        if stored is None:
            return []
        state = stored.state if isinstance(stored.state, dict) else {}
        tables = stored.tables if isinstance(stored.tables, dict) else {}
        problems: list[str] = []
        problems += self.design_tab.apply_inputs(state.get("design"))
        simulation_problems = self.simulation_tab.apply_inputs(state.get("simulation"))
        problems += simulation_problems
        if state.get("simulated") is True and not simulation_problems:
            self._simulate_on_restore = True
            handle = self.simulation_tab.run()
            if handle is not None:
                handle.finished.connect(self._on_restored_simulation)
                handle.failed.connect(self._on_restored_simulation)
                handle.cancelled.connect(self._on_restored_simulation)
            else:
                self._simulate_on_restore = False
        source = state.get("source") if isinstance(state.get("source"), dict) else {}
        reference = source.get("reference") if isinstance(source.get("reference"), dict) else None
        demo = source.get("demo") if source.get("demo") in DEMOS else None
        name = state.get("name") if isinstance(state.get("name"), str) else ""
        analyses = (
            state.get("campaign", {}).get("analyses")
            if isinstance(state.get("campaign"), dict)
            else None
        )
        self._restored_analyses = (
            [a for a in analyses if isinstance(a, str)] if isinstance(analyses, list) else []
        )
        self._restore_choices = state
        file_problem = check_file_reference(reference) if reference is not None else None
        frame = tables.get("data")
        if isinstance(frame, pd.DataFrame) and len(frame.columns) and len(frame):
            if file_problem:
                problems.append(f"{file_problem}: the table is shown as the project saved it")
            loaded = self._stored_table(frame, state, name or demo or "trial table", reference)
            self._show_restored(loaded, problems)
        elif demo is not None:
            self._submit_restore_load(demo, f"demo {demo}")
        elif reference is not None and file_problem is None:
            self._submit_restore_load(reference["path"], Path(reference["path"]).name)
        elif reference is not None:
            problems.append(f"{file_problem}: the trial table is not restored")
        elif "data" in tables or source:
            problems.append("the project's trial table is missing or empty")
        tab = state.get("tab")
        if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        return problems

    def _stored_table(
        self, frame: pd.DataFrame, state: dict, name: str, reference: dict | None
    ) -> LoadedTable:
        """The table a project kept, with its column types (categories are stored as values)."""
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        known = column_types(frame)
        stored = state.get("types") if isinstance(state.get("types"), dict) else {}
        types = {}
        for column, kind in known.items():
            wanted = stored.get(column)
            if wanted in COLUMN_TYPES and wanted != kind:
                try:
                    frame = convert_column(frame, column, wanted)
                    kind = wanted
                except TrialDataError:
                    pass
            types[column] = kind
        roles = state.get("roles") if isinstance(state.get("roles"), dict) else {}
        chosen = [
            roles.get(key) if isinstance(roles.get(key), str) else None
            for key in ("time", "event", "group")
        ]
        return LoadedTable(name, frame, ColumnRoles(*chosen), types, reference)

    def _submit_restore_load(self, source: str, title: str) -> None:
        self._set_status(f"Reading {title}…")
        self._submit("load", self._on_restore_loaded, load_trial_job, source, title=f"Open {title}")

    def _on_restore_loaded(self, loaded: LoadedTable) -> None:
        state = self._restore_choices or {}
        roles = state.get("roles") if isinstance(state.get("roles"), dict) else {}
        chosen = [
            roles.get(key) if isinstance(roles.get(key), str) else None
            for key in ("time", "event", "group")
        ]
        if any(chosen):
            loaded = LoadedTable(
                loaded.name, loaded.frame, ColumnRoles(*chosen), loaded.types, loaded.reference
            )
        self._quiet = True
        try:
            problems: list[str] = []
            self._show_restored(loaded, problems)
        finally:
            self._quiet = False
        if problems:
            self._set_status("Not restored: " + "; ".join(problems))

    def _show_restored(self, loaded: LoadedTable, problems: list[str]) -> None:
        """Show a table a project kept with the choices it kept, and redraw its analyses."""
        state = self._restore_choices or {}
        source = self.source
        self.set_table(loaded, analyse=False)
        if loaded.reference is None and isinstance(state.get("source"), dict):
            kept = state["source"]
            if kept.get("demo") in DEMOS:
                self.source = {"demo": kept["demo"]}
            elif source is None and isinstance(kept.get("name"), str):
                self.source = {"name": kept["name"]}
        roles = state.get("roles") if isinstance(state.get("roles"), dict) else {}
        for combo, key in (
            (self.time_combo, "time"), (self.event_combo, "event"), (self.group_combo, "group"),
        ):  # fmt: skip
            wanted = roles.get(key)
            if isinstance(wanted, str) and wanted and combo.currentText() != wanted:
                problems.append(f"the {key} column {wanted!r} is not one the table offers")
        unit = state.get("unit")
        if isinstance(unit, str) and self.unit_combo.findData(unit) >= 0:
            self.set_time_unit(unit)
        covariates = state.get("covariates")
        chosen = (
            {c for c in covariates if isinstance(c, str)} if isinstance(covariates, list) else set()
        )
        for i in range(self.covariates.count()):
            item = self.covariates.item(i)
            if item.text() in chosen:
                item.setCheckState(Qt.CheckState.Checked)
        binary = state.get("binary")
        if isinstance(binary, str) and self.binary_combo.findText(binary) >= 0:
            self.binary_combo.setCurrentText(binary)
        if state.get("analysed") is True and self.roles().group:
            self.analyse(redraw=True)

    # ------------------------------------------------------------------------------------------
    # Export and errors

    def _export_frame(self, frame: pd.DataFrame | None, suggested: str) -> None:
        if frame is None or frame.empty:
            self._error("Nothing to export yet")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export table", suggested, TABLE_FILTER)
        if not path:
            return
        try:
            export_table(frame, path)
        except (TrialDataError, OSError) as exc:
            self._error(str(exc))
            return
        self._set_status(f"Wrote {path}")

    def _export_km_plot(self) -> None:
        if self.survival is None:
            self._error("Analyse a table first")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "kaplan_meier.png", PLOT_FILTER)
        if not path:
            return
        try:
            export_plot(self.km_view.ci, path)
        except TrialDataError as exc:
            self._error(str(exc))
            return
        self._set_status(f"Wrote {path}")

    def _on_use_in_simulation(self, result) -> None:
        self.simulation_tab.take_design(result, self.design_tab.time_unit())
        self.tabs.setCurrentWidget(self.simulation_tab)

    def _error(self, message: str) -> None:
        self.notifier.show_error(message)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)
