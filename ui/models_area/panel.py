"""The Models area: train the SMILES transformer (with the random-forest baseline) on an assay
table, watch it learn, compare it on held-out molecules, keep it in the registry, apply it to a
library and see which atoms drive a prediction.

The panel is the shell: on the left the assay form (``assay_form``), the training controls
(``training_controls``) and the saved models (``model_list``); on the right the Curves, Metrics,
Plots and Explain tabs (``plots``, ``metrics_view``, ``explain_tab``). It keeps what the tabs
share, the evaluation report on show, and reads a selected model's report in the engine. Each
section submits its own jobs and connects to their handles, so no widget is touched from a worker.

The project keeps the area (``ui.workbench.KeepsState``, key ``models``): the models trained or
used in it (registry folders), the selected model, the assay form's choices and the last Apply
(``area_state.py``). Another area leads here to explain a library row's prediction
(:meth:`ModelsPanel.explain_prediction`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from core.models.training import EpochPoint, TrainReport, TrainSettings
from core.project.areas import AreaSnapshot
from ui.models_area import area_state
from ui.models_area.assay_form import AssayForm
from ui.models_area.explain_tab import ExplainTab
from ui.models_area.metrics_view import MetricsView
from ui.models_area.model_list import Entry, ModelList, card_text, is_finetuned
from ui.models_area.plots import EvaluationPlots, TrainingCurves
from ui.models_area.training_controls import TrainingControls

if TYPE_CHECKING:
    from core.project.areas import StoredArea
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext


class ModelsPanel(QWidget):
    """Train, compare, keep, apply and explain property models (the ``models`` area)."""

    # The project keeps this area (ui.workbench.KeepsState).
    state_key = "models"
    state_changed = Signal()

    def __init__(self, context: AreaContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsPanel")
        self.context = context
        self.engine = context.engine
        # The report on show (curves, metrics, plots and the Explain tab's test molecules), and
        # the handle of the selected model's report while it is read (a newer selection replaces
        # it, and the older answer is dropped).
        self._report: TrainReport | None = None
        self._report_path: Path | None = None
        self._report_job: JobHandle | None = None
        # What the project keeps beside the form: the models trained or used here (campaign
        # lines) and the last Apply; no change is announced while a project's state goes back.
        self._project_models: list[dict[str, Any]] = []
        self._last_apply: dict[str, str] | None = None
        self._restoring = False
        self._build()
        self.form.changed.connect(self._update_buttons)
        self.training.train_requested.connect(lambda: self.train())
        self.training.busy_changed.connect(lambda _busy: self._update_buttons())
        self.training.started.connect(self._on_training_started)
        self.training.epoch.connect(self._on_epoch)
        self.training.trained.connect(self._on_trained)
        self.training.failed.connect(self._on_train_failed)
        self.model_list.selection_changed.connect(self._on_model_selected)
        self.model_list.deleted.connect(self._on_model_deleted)
        self.model_list.status.connect(self.training.set_status)
        self.model_list.applied.connect(self._on_applied)
        self.model_list.updater.updated.connect(
            lambda report: self.use_model(Path(report.output_dir))
        )
        self.form.choices_changed.connect(self._on_state_changed)
        self.model_list.selection_changed.connect(self._on_state_changed)
        self.refresh_models()
        self._update_buttons()

    def _build(self) -> None:
        self.form = AssayForm(self.engine)
        self.training = TrainingControls(self.engine)
        self.model_list = ModelList(self.context)
        self.models_list = self.model_list.models_list  # scripts/docs_screenshots.py picks here
        # Train, Cancel and the progress stay in view below the scrolling form.
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.form, 1)
        top_layout.addWidget(self.training)
        # The saved models stay in view below the form, whatever the window height.
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(top)
        left.addWidget(self.model_list)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 0)
        left.setChildrenCollapsible(False)
        left.setSizes([600, 170])

        self.tabs = QTabWidget()
        self.curves = TrainingCurves()
        self.tabs.addTab(self.curves, "Curves")
        self.metrics = MetricsView()
        self.tabs.addTab(self.metrics, "Metrics")
        self.plots = EvaluationPlots()
        self.tabs.addTab(self.plots, "Plots")
        self.explain_tab = ExplainTab(self.context, area=self)
        self.tabs.addTab(self.explain_tab, "Explain")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def _update_buttons(self) -> None:
        training = self.training.is_training()
        self.training.set_ready(self.form.is_ready(), self.form.not_ready_reason())
        self.form.set_busy(training)
        self.model_list.set_training(training)
        entry = self.model_list.selected_entry()
        self.explain_tab.set_model(entry.path if is_finetuned(entry) else None, training)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.explain_tab.area_shown()

    # ------------------------------------------------------------------------------------------
    # What scripts and tests call, forwarded to the section that does it

    def open_file(self, path: str | Path) -> JobHandle | None:
        return self.form.open_file(path)

    def open_demo(self) -> JobHandle:
        return self.form.open_demo()

    def set_targets(self, names: list[str]) -> None:
        self.form.set_targets(names)

    def checked_targets(self) -> list[str]:
        return self.form.checked_targets()

    def settings(self) -> TrainSettings:
        return self.form.settings()

    def is_training(self) -> bool:
        return self.training.is_training()

    def cancel_training(self) -> None:
        self.training.cancel()

    def refresh_models(self, select: Path | None = None) -> None:
        self.model_list.refresh_models(select)

    def selected_model_path(self) -> Path | None:
        return self.model_list.selected_model_path()

    def selected_entry(self) -> Entry | None:
        return self.model_list.selected_entry()

    def delete_selected(self) -> bool:
        return self.model_list.delete_selected()

    def apply_to_library(self) -> JobHandle | None:
        return self.model_list.apply_to_library()

    def explain(self, smiles: str) -> JobHandle | None:
        return self.explain_tab.explain(smiles)

    def explain_library_row(self) -> JobHandle | None:
        return self.explain_tab.explain_library_row()

    # ------------------------------------------------------------------------------------------
    # Training

    def train(self, pretrained_dir: str | Path | None = None) -> JobHandle | None:
        """Start training with the form's choices; returns the job's handle (None when
        refused: the status line says why)."""
        if self.training.is_training():
            return None
        try:
            request = self.form.request()
        except ValueError as exc:
            self.training.set_status(str(exc), error=True)
            return None
        return self.training.start(request, pretrained_dir)

    def _on_training_started(self, task: str) -> None:
        self.curves.clear("ROC-AUC" if task == "classification" else "RMSE")
        self.curves.hint.setText("Waiting for the first epoch…")
        self.curves.hint.show()
        self.tabs.setCurrentWidget(self.curves)

    def _on_epoch(self, point: EpochPoint) -> None:
        self.curves.add_point(
            int(point.model_index),
            int(point.epoch),
            float(point.train_loss),
            float(point.valid_metric),
        )

    def _on_trained(self, report: TrainReport) -> None:
        self.use_model(Path(report.output_dir))
        self.refresh_models(select=Path(report.output_dir))
        self._show_report(report, Path(report.output_dir))
        self.tabs.setCurrentWidget(self.metrics)

    def _on_train_failed(self, message: str) -> None:
        self.context.notifier.show_error(message)
        self.refresh_models()

    # ------------------------------------------------------------------------------------------
    # The report on show

    def _show_report(self, report: TrainReport | None, path: Path | None) -> None:
        self._report, self._report_path = report, path
        self.metrics.set_report(report, path.name if path else "")
        self.explain_tab.set_report(report)
        if report is None:
            self.plots.set_predictions(None, "")
            self.curves.clear()
            return
        self.curves.set_curve(
            report.curve, "ROC-AUC" if report.task == "classification" else "RMSE"
        )
        self.plots.set_predictions(report.predictions, report.task, report.calibration)

    def _on_model_selected(self, entry: Entry | None) -> None:
        self._update_buttons()
        if entry is None:
            self.metrics.card.setPlainText("")
            return
        if entry.card is None:
            self.metrics.card.setPlainText(entry.error or "")
            self._show_report(None, None)
            return
        self.metrics.card.setPlainText(card_text(entry.card, entry.path, entry.shipped))
        if not is_finetuned(entry):
            self._show_report(None, None)
            return
        if self._report_path == entry.path:
            return
        from core.models.training import load_training_report

        handle = self.engine.submit(
            load_training_report, entry.path, title=f"Read {entry.path.name}", key="models-report"
        )
        self._report_job = handle
        handle.finished.connect(partial(self._on_report_read, handle))
        handle.failed.connect(partial(self._on_report_failed, handle))

    def _on_report_read(self, handle: JobHandle, report: TrainReport) -> None:
        if handle is not self._report_job:
            return  # another model was selected since
        self._report_job = None
        path = Path(report.output_dir)
        if path == self.selected_model_path():
            self._show_report(report, path)

    def _on_report_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._report_job:
            return
        self._report_job = None
        self.metrics.label.setText(f"Cannot read this model's evaluation: {message}")

    def _on_model_deleted(self, path: Path) -> None:
        if self._report_path == path:
            self._show_report(None, None)

    # ------------------------------------------------------------------------------------------
    # A library row's prediction, explained (a link from the Libraries area)

    def explain_prediction(self, model: str, target: str, smiles: str) -> JobHandle | None:
        """Select the model whose registry folder is named ``model`` and explain its prediction
        of ``target`` for ``smiles`` on the Explain tab; None (the reason shown) when the model
        is no longer in the registry or predicts nothing."""
        item = self._model_item(model)
        if item is None:
            self.refresh_models()  # trained or copied since the list was read
            item = self._model_item(model)
        notifier = self.context.notifier
        if item is None:
            notifier.show_error(
                f"The model '{model}' that predicted {target} is no longer in the registry: "
                "it cannot explain the prediction."
            )
            return None
        entry = item.data(Qt.ItemDataRole.UserRole + 1)
        if not is_finetuned(entry):
            notifier.show_error(f"'{model}' is not a trained model: it explains no prediction.")
            return None
        self.models_list.setCurrentItem(item)
        self.tabs.setCurrentWidget(self.explain_tab)
        self.use_model(entry.path)
        return self.explain_tab.explain_target(smiles, target, tuple(entry.card.target_columns))

    def _model_item(self, model: str):
        for row in range(self.models_list.count()):
            item = self.models_list.item(row)
            entry = item.data(Qt.ItemDataRole.UserRole + 1)
            if entry is not None and entry.path.name == model:
                return item
        return None

    # ------------------------------------------------------------------------------------------
    # The project (ui.workbench.KeepsState)

    def _on_state_changed(self, *_args) -> None:
        if not self._restoring and not self.form.restoring:
            self.state_changed.emit()

    def use_model(self, folder: Path) -> None:
        """Count the model in ``folder`` as trained or used in this project."""
        summary = area_state.model_summary(folder)
        self._project_models = [m for m in self._project_models if m["folder"] != str(folder)]
        self._project_models.append(summary)
        del self._project_models[: max(0, len(self._project_models) - area_state.MAX_MODELS)]
        self._on_state_changed()

    def _on_applied(self, folder: Path, library: str) -> None:
        self._last_apply = {"library": library, "model": str(folder)}
        self.use_model(Path(folder))

    def _registry_folder(self, folder: str) -> Path | None:
        """``folder`` when it is there, else the listed model of the same folder name (the
        registry or the shipped models moved with another installation); None when neither."""
        if Path(folder).is_dir():
            return Path(folder)
        item = self._model_item(Path(folder).name)
        return None if item is None else Path(item.data(Qt.ItemDataRole.UserRole))

    def area_state(self) -> AreaSnapshot:
        """The models of the project, the selection, the form and the last Apply."""
        selected = self.selected_model_path()
        models = [dict(m) for m in self._project_models]
        state = {
            "campaign": {"models": [dict(m) for m in models]},
            "models": models,
            "selected": None if selected is None else str(selected),
            "form": self.form.form_state(),
            "last_apply": dict(self._last_apply) if self._last_apply else None,
        }
        return AreaSnapshot(state=state, tables={}, format=1)

    def restore_area_state(self, stored: StoredArea | None) -> list[str]:
        """Select the project's model, put its form back (the table read again) and its list of
        models; returns one line per folder or file no longer there."""
        self._restoring = True
        try:
            self._project_models, self._last_apply = [], None
            if stored is None:
                self.form.restore_form_state(None)
                self.training.set_status("")
                return []
            return self._restore(stored)
        finally:
            self._restoring = False

    def _restore(self, stored: StoredArea) -> list[str]:
        state = stored.state if isinstance(stored.state, Mapping) else {}
        lines: list[str] = []
        self._project_models = area_state.clean_models(state.get("models"))
        gone = []
        for model in self._project_models:
            folder = self._registry_folder(model["folder"])
            if folder is None:
                gone.append(model["folder"])
            else:
                model["folder"] = str(folder)
        lines += [f"Models: the model folder {folder} is no longer there" for folder in gone]
        selected = state.get("selected")
        if isinstance(selected, str) and selected:
            folder = self._registry_folder(selected)
            if folder is not None:
                self.refresh_models(select=folder)
            elif selected not in gone:
                lines.append(f"Models: the selected model's folder {selected} is no longer there")
        lines += self.form.restore_form_state(state.get("form"))
        self._last_apply = area_state.clean_last_apply(state.get("last_apply"))
        if self._last_apply:
            model = Path(self._last_apply["model"]).name
            self.training.set_status(
                f"Last applied {model} to the library {self._last_apply['library']}."
            )
        return lines
