"""The saved models of the Models area: the user's trained models and the shipped ones, with
Apply to library, Update with new data, Delete and Refresh.

The list reads the registry's small card files on the GUI thread; applying a model to the current
library is an engine job whose predictions go to the library they were asked for.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.models_area.assay_form import TASKS
from ui.models_area.metrics_view import METRIC_TITLES
from ui.models_area.update_dialog import ModelUpdater, UpdateDialog, UpdateRequest

if TYPE_CHECKING:
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext, LibraryView

PATH_ROLE = Qt.ItemDataRole.UserRole
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


class Entry:
    """A registry entry as the list keeps it: folder, card, error, shipped or not."""

    __slots__ = ("card", "error", "path", "shipped")

    def __init__(self, path: Path, card, error: str | None, shipped: bool) -> None:
        self.path, self.card, self.error, self.shipped = Path(path), card, error, shipped


def is_finetuned(entry: Any) -> bool:
    """A model trained on an assay (it predicts and explains), not a pretrained encoder."""
    card = getattr(entry, "card", None)
    return card is not None and card.kind == "transformer" and card.task in TASKS


def main_metric(card: Any) -> str:
    """``test ROC-AUC 0.81 (RF 0.78)`` from a card's metrics, or ``""``: the chosen predictor's
    test metric when the families were compared, else the transformer's."""
    test = (card.metrics or {}).get("test") or {}
    name = "roc_auc" if card.task == "classification" else "rmse"
    mine = (test.get("chosen") or test.get("transformer") or {}).get(name)
    if mine is None:
        return ""
    text = f"test {METRIC_TITLES[name]} {mine:.3f}"
    baseline = (test.get("rf_ecfp4") or {}).get(name)
    if baseline is not None:
        text += f" (RF {baseline:.3f})"
    return text


def _metric_lines(values, indent: str = "  ") -> list[str]:
    """Nested metric dicts as readable lines: 'transformer: rmse 0.756, mae 0.597'."""
    if not isinstance(values, dict):
        return [f"{indent}{values}"]
    if all(not isinstance(v, dict) for v in values.values()):
        parts = [
            f"{k} {v:.3f}" if isinstance(v, int | float) else f"{k} {v}" for k, v in values.items()
        ]
        return [indent + ", ".join(parts)]
    lines = []
    for key, inner in values.items():
        inner_lines = _metric_lines(inner, indent + "  ")
        if len(inner_lines) == 1:
            lines.append(f"{indent}{key}: {inner_lines[0].strip()}")
        else:
            lines.append(f"{indent}{key}:")
            lines.extend(inner_lines)
    return lines


def card_text(card, path: Path, shipped: bool) -> str:
    """A model card as plain text for the Metrics tab: name, task, split, metrics, folder."""
    split = card.split or {}
    sizes = split.get("sizes") if isinstance(split, dict) else None
    split_text = (
        f"{split.get('kind', '?')} (seed {split.get('seed', '?')}), train/valid/test {sizes}"
        if isinstance(split, dict)
        else str(split)
    )
    lines = [
        f"{card.name}{' (shipped)' if shipped else ''}",
        card.description,
        f"Task: {card.task}; targets: {', '.join(card.target_columns) or '—'}",
        f"SMILES column: {card.smiles_column}",
        f"Split: {split_text}",
        f"Created: {card.created}",
    ]
    for part in ("valid", "test"):
        values = (card.metrics or {}).get(part)
        if values:
            lines.append(f"{part.capitalize()} metrics:")
            lines.extend(_metric_lines(values))
    if card.task in TASKS:
        lines.append(choice_text(path))
        lines.append(calibration_text(path))
        lines.append(domain_text(path))
    lines.append(f"Folder: {path}")
    return "\n".join(line for line in lines if line)


def predictor_text(path: Path) -> str:
    """Which family (or weighted mix) the model predicts with, from its card's ``"chosen"``:
    ``"predicts with 0.6 transformer + 0.4 forest"``; ``""`` for a model without a choice (it
    predicts with its transformer, as models trained before families were compared)."""
    from core.models.families import load_choice

    try:
        choice = load_choice(path)
    except (ValueError, OSError) as exc:
        return f"chosen predictor unreadable ({exc})"
    if choice is None:
        return ""
    return f"predicts with {choice.describe()}"


def choice_text(path: Path) -> str:
    """The card's choice in words, with why (for the card text on the Metrics tab)."""
    from core.models.families import load_choice

    try:
        choice = load_choice(path)
    except (ValueError, OSError) as exc:
        return f"Chosen predictor: unreadable ({exc})"
    if choice is None:
        return ""
    return f"Chosen predictor: {choice.describe()} ({choice.why}). Rule: {choice.rule}."


def calibration_text(path: Path) -> str:
    """The model's calibration in words (method, folds, test coverage against its band)."""
    from core.models.calibration_store import describe_calibration, load_calibration

    try:
        calibration = load_calibration(path)
    except ValueError as exc:
        return f"Calibration: unreadable ({exc})"
    return describe_calibration(None if calibration is None else calibration.summary)


CALIBRATION_SUFFIXES = ("_lower", "_upper", "_calibrated", "_set")
"""Columns Apply adds from the model's stored calibration (empty when it stores none)."""


def domain_text(path: Path) -> str:
    """The model's applicability domain in words (threshold, rule, test check), from its card."""
    from core.models.domain import describe_domain, domain_summary

    try:
        return describe_domain(domain_summary(path))
    except ValueError as exc:
        return f"Applicability domain: unreadable ({exc})"


def domain_note(frame: pd.DataFrame) -> str:
    """How many predictions of ``frame`` (from ``predict_library``) fall outside the model's
    domain, in words; ``""`` when the frame has no domain columns."""
    from core.models.domain import IN_DOMAIN_SUFFIX

    flags = [c for c in frame.columns if str(c).endswith(IN_DOMAIN_SUFFIX)]
    if not flags:
        return ""
    # The domain is the model's: every target's flags are the same, the first is enough.
    column = frame[flags[0]]
    checked = int(column.notna().sum())
    if checked == 0:
        return "applicability domain unknown (the model stores no training fingerprints)"
    outside = int(column.eq(False).sum())
    if outside == 0:
        return f"all {checked:,} inside the model's domain"
    return (
        f"{outside:,} of {checked:,} outside the model's domain (greyed: their nearest "
        "training molecule is less similar than the card's threshold)"
    )


def _item_text(entry) -> str:
    if entry.card is None:
        return f"{entry.path.name}: unusable ({entry.error})"
    card = entry.card
    # Name on the first line, what it does on the second: the list stays narrow.
    name = f"{card.name} [shipped]" if entry.shipped else card.name
    if card.task not in TASKS:
        return f"{name}\npretrained ({card.task})"
    text = f"{name}\n{card.task} of {', '.join(card.target_columns)}"
    metric = main_metric(card)
    text = f"{text}; {metric}" if metric else text
    predictor = predictor_text(entry.path)
    return f"{text}\n{predictor}" if predictor else text


class ModelList(QGroupBox):
    """The saved models with Apply to library, Update with new data, Delete and Refresh.

    Signals
    -------
    selection_changed(entry)
        Another model was selected: an :class:`Entry`, or None.
    deleted(path)
        A model's folder was deleted (before the list is read again).
    status(text, error)
        A line for the area's status label (predictions under way, added, failed).
    applied(path, library_title)
        A model's predictions were added to a library (its folder, the library's title).
    """

    selection_changed = Signal(object)
    deleted = Signal(object)
    status = Signal(str, bool)
    applied = Signal(object, str)

    def __init__(self, context: AreaContext, parent: QWidget | None = None) -> None:
        super().__init__("Models", parent)
        self.context = context
        self._training = False
        self.models_list = QListWidget()
        self.models_list.setMinimumHeight(70)
        self.models_list.setToolTip(
            "Your trained models and the shipped ones; the card is on the Metrics tab"
        )
        self.models_list.currentItemChanged.connect(self._on_current_changed)
        self.apply_button = QPushButton("Apply to library")
        self.apply_button.setToolTip(
            "Predict every valid molecule of the current library; columns are added to it"
        )
        self.apply_button.clicked.connect(self.apply_to_library)
        self.update_button = QPushButton("Update with new data…")
        self.update_button.setToolTip(
            "Fine-tune the selected model further on new measurements (held-out molecules stay "
            "held out), optionally compared with retraining from scratch"
        )
        self.update_button.clicked.connect(self.open_update_dialog)
        self.updater = ModelUpdater(context.engine, self)
        self.updater.status.connect(self.status)
        self.updater.updated.connect(lambda report: self.refresh_models(report.output_dir))
        self.updater.busy_changed.connect(lambda _busy: self._update_buttons())
        self.update_dialog: UpdateDialog | None = None
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._on_delete)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.refresh_models())
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button, 1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.models_list, 2)
        layout.addLayout(buttons)
        # A row of its own: four buttons in one would not fit the area's narrow left column.
        layout.addWidget(self.update_button)

    def selected_model_path(self) -> Path | None:
        item = self.models_list.currentItem()
        return None if item is None else item.data(PATH_ROLE)

    def selected_entry(self) -> Entry | None:
        item = self.models_list.currentItem()
        return None if item is None else item.data(ENTRY_ROLE)

    def set_training(self, training: bool) -> None:
        """No model is deleted while one trains."""
        self._training = training
        self._update_buttons()

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        self.apply_button.setEnabled(is_finetuned(entry))
        self.update_button.setEnabled(is_finetuned(entry) and not self.updater.is_busy())
        shipped = entry is not None and entry.shipped
        self.delete_button.setEnabled(entry is not None and not shipped and not self._training)

    def _on_current_changed(self, item, _previous=None) -> None:
        self._update_buttons()
        self.selection_changed.emit(None if item is None else item.data(ENTRY_ROLE))

    # ------------------------------------------------------------------------------------------
    # Registry

    def refresh_models(self, select: Path | None = None) -> None:
        """List the user's models and the shipped ones (small card files: read here)."""
        from core.models.registry import list_models, shipped_models

        current = select or self.selected_model_path()
        self.models_list.blockSignals(True)
        self.models_list.clear()
        entries = [(e, False) for e in list_models()] + [(e, True) for e in shipped_models()]
        chosen = None
        for found, shipped in entries:
            entry = Entry(found.path, found.card, found.error, shipped)
            text = _item_text(entry)
            item = QListWidgetItem(text)
            item.setData(PATH_ROLE, found.path)
            item.setData(ENTRY_ROLE, entry)
            item.setToolTip(f"{text}\n{found.path}")
            if found.card is None:
                item.setForeground(QColor("#b00020"))
            self.models_list.addItem(item)
            if current is not None and Path(found.path) == Path(current):
                chosen = item
        self.models_list.blockSignals(False)
        if chosen is None and current is None:
            # Open on the newest trained model, so its evaluation is on show.
            trained = [
                self.models_list.item(i)
                for i in range(self.models_list.count())
                if is_finetuned(self.models_list.item(i).data(ENTRY_ROLE))
            ]
            if trained:
                chosen = max(trained, key=lambda item: item.data(ENTRY_ROLE).card.created)
        if chosen is not None:
            self.models_list.setCurrentItem(chosen)
        else:
            # The list was read again with signals blocked: say that nothing is selected now
            # (a deleted model's card and buttons do not linger).
            self.selection_changed.emit(None)
        self._update_buttons()

    def _on_delete(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.shipped:
            return
        answer = QMessageBox.question(
            self,
            "Delete model",
            f"Delete the model '{entry.path.name}' and its files?\n{entry.path}",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.delete_selected()

    def delete_selected(self) -> bool:
        """Delete the selected user model without asking (the button asks first)."""
        from core.models.registry import delete_model

        entry = self.selected_entry()
        if entry is None or entry.shipped:
            return False
        try:
            delete_model(entry.path.name)
        except (ValueError, OSError) as exc:
            self.context.notifier.show_error(str(exc))
            return False
        self.deleted.emit(entry.path)
        self.refresh_models()
        return True

    # ------------------------------------------------------------------------------------------
    # Update with new data

    def open_update_dialog(self) -> UpdateDialog | None:
        """Ask for the tables and a name (window-modal); Update there starts the job."""
        entry = self.selected_entry()
        if not is_finetuned(entry) or self.updater.is_busy():
            return None
        dialog = UpdateDialog(entry.path, entry.card.name, entry.shipped, self)
        dialog.accepted.connect(lambda: self.update_model(dialog.accepted_request()))
        dialog.finished.connect(dialog.deleteLater)
        self.update_dialog = dialog
        dialog.open()
        return dialog

    def update_model(self, request: UpdateRequest | None) -> JobHandle | None:
        """Run ``request`` (from the dialog); the new model is selected when it is saved."""
        if request is None:
            return None
        return self.updater.start(request)

    # ------------------------------------------------------------------------------------------
    # Apply to a library

    def apply_to_library(self) -> JobHandle | None:
        """Predict the current library's valid molecules with the selected trained model; the
        predictions become columns of that library. Returns the job's handle (None when
        refused, with a message)."""
        from core.models.apply import predict_library

        show_error = self.context.notifier.show_error
        entry = self.selected_entry()
        if entry is None or not is_finetuned(entry):
            show_error("Select a trained model (not a pretrained one) to apply.")
            return None
        library = self.context.libraries.current_library()
        table = library.table() if library is not None else None
        if library is None or table is None:
            show_error("Open a compound library first: predictions go into its table.")
            return None
        if "canonical_smiles" not in table.columns:
            show_error("The library has no canonical_smiles column to predict from.")
            return None
        valid = table["valid"] if "valid" in table.columns else None
        handle = self.context.engine.submit(
            predict_library,
            entry.path,
            table["canonical_smiles"].copy(),
            None if valid is None else valid.copy(),
            title=f"Predict {entry.path.name} for {library.title}",
            needs_torch=True,
        )
        # The predictions go to the library they were asked for, even if another is current by
        # the time they arrive.
        handle.finished.connect(partial(self._on_applied, library, entry))
        handle.failed.connect(self._on_apply_failed)
        handle.cancelled.connect(self._on_apply_cancelled)
        self.status.emit(f"Predicting {len(table):,} molecules with {entry.path.name}…", False)
        return handle

    def _on_applied(self, library: LibraryView, entry: Entry, frame: pd.DataFrame) -> None:
        # A model without stored calibration gives empty interval columns: the library is not
        # cluttered with them, and the message says why they are missing.
        empty = [
            c
            for c in frame.columns
            if str(c).endswith(CALIBRATION_SUFFIXES) and frame[c].isna().all()
        ]
        frame = frame.drop(columns=empty)
        # Each prediction column says which model made it (its header tooltip, kept in
        # projects): a hit list's row leads back to the model's explanation through it.
        from ui.models_area.prediction_notes import prediction_note

        task = entry.card.task if entry.card is not None else ""
        targets = entry.card.target_columns if entry.card is not None else ()
        column_notes = {
            str(t): prediction_note(task, str(t), entry.path.name)
            for t in targets
            if t in frame.columns
        }
        try:
            library.add_columns(frame, notes=column_notes)
        except (RuntimeError, ValueError, KeyError) as exc:
            self.context.notifier.show_error(f"Could not add the predictions: {exc}")
            return
        from core.models.domain import IN_DOMAIN_SUFFIX, SIMILARITY_SUFFIX

        n = int(frame.iloc[:, 0].notna().sum()) if frame.shape[1] else 0
        shown = [
            str(c)
            for c in frame.columns
            if not str(c).endswith((IN_DOMAIN_SUFFIX, SIMILARITY_SUFFIX))
        ]
        text = f"Added {', '.join(shown)} to the library ({n:,} molecules"
        notes = [domain_note(frame)]
        if empty:
            notes.append("no calibrated intervals: the model stores no calibration")
        note = "; ".join(n for n in notes if n)
        self.status.emit(f"{text}; {note})." if note else f"{text}).", False)
        self.applied.emit(entry.path, str(getattr(library, "title", "")))

    def _on_apply_failed(self, message: str) -> None:
        self.status.emit(f"Prediction failed: {message}", True)
        self.context.notifier.show_error(message)

    def _on_apply_cancelled(self) -> None:
        self.status.emit("Prediction cancelled.", False)
