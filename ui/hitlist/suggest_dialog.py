"""The "Suggest next…" dialog of the Find tab: which model, how many picks, which way is better,
EI or UCB, how diverse the batch.

The dialog only gathers the choices (:meth:`SuggestDialog.request`); the Find tab runs the job
(:func:`core.models.suggest.suggest_for_library`) on the library shown, so the dialog never
predicts anything itself. It stays within 300 px wide, as the hit-list side panel does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.models.suggest import SuggestSettings, UncertainModel, models_with_uncertainty
from ui.hitlist.forms import compact, set_status

MAX_WIDTH = 300
"""The dialog's widest: the hit-list side panel's width."""


@dataclass(slots=True, frozen=True)
class SuggestRequest:
    """What the user chose: the model folder, its target, the settings and, when typed, the best
    known value (else the best of the model's own held-out measurements)."""

    model: UncertainModel
    target: str
    settings: SuggestSettings
    best_value: float | None


def registered_uncertain_models(entries: Callable[[], list]) -> list[UncertainModel]:
    """The registry's models (``entries()``: entries with ``path`` and ``card``) that give a
    standard deviation, with their forests."""
    folders = [e.path for e in entries() if getattr(e, "card", None) is not None]
    return models_with_uncertainty(folders)


class SuggestDialog(QDialog):
    """Choices for "what to make next" from the library shown.

    Parameters
    ----------
    models
        The models that give a standard deviation (see :func:`registered_uncertain_models`).
    library_title
        The library the picks come from, named in the dialog's text.
    """

    def __init__(
        self,
        models: list[UncertainModel],
        library_title: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Suggest next")
        self.setMaximumWidth(MAX_WIDTH)
        self.models = list(models)
        about = QLabel(
            "Ranks the library"
            + (f" “{library_title}”" if library_title else "")
            + " by expected improvement under the model's uncertainty, then picks a diverse "
            "batch among the best."
        )
        about.setWordWrap(True)

        self.model_box = QComboBox()
        for model in self.models:
            self.model_box.addItem(model.label, str(model.path))
            # The box is narrow: the whole name and folder on hover.
            self.model_box.setItemData(
                self.model_box.count() - 1,
                f"{model.label}\n{model.path}",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.model_box.setToolTip(
            "Models that give an uncertainty: ensembles of 2 or more transformers, and random "
            "forests (a trained model's own forest is listed after it)"
        )
        self.model_box.currentIndexChanged.connect(self._on_model_changed)
        self.target_box = QComboBox()
        self.target_box.setToolTip("The predicted property to improve")
        self.count = QSpinBox()
        self.count.setRange(1, 10_000)
        self.count.setValue(20)
        self.count.setToolTip("How many molecules to suggest")
        self.objective_box = QComboBox()
        self.objective_box.addItem("Higher is better", "maximize")
        self.objective_box.addItem("Lower is better", "minimize")
        self.strategy_box = QComboBox()
        self.strategy_box.addItem("Expected improvement", "ei")
        self.strategy_box.addItem("Upper confidence bound", "ucb")
        self.strategy_box.setToolTip(
            "Expected improvement: how much a molecule may beat the best measured value, "
            "weighing prediction and uncertainty. Upper confidence bound: mean + 2 std "
            "(mean − 2 std when lower is better)."
        )
        self.diversity = QDoubleSpinBox()
        self.diversity.setRange(0.0, 1.0)
        self.diversity.setSingleStep(0.05)
        self.diversity.setValue(0.4)
        self.diversity.setToolTip(
            "Least Tanimoto distance (ECFP4) between two picks: 0 keeps the pure ranking, 0.4 "
            "keeps near-copies of one molecule out of the batch"
        )
        self.best_edit = QLineEdit()
        self.best_edit.setPlaceholderText("from the model's data")
        self.best_edit.setToolTip(
            "The best value measured so far. Empty: the best of the measurements the model "
            "folder keeps (its held-out molecules)."
        )
        compact(self.model_box, self.target_box, self.objective_box, self.strategy_box)

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Model", self.model_box)
        form.addRow("Target", self.target_box)
        form.addRow("Molecules", self.count)
        form.addRow("Objective", self.objective_box)
        form.addRow("Rank by", self.strategy_box)
        form.addRow("Diversity ≥", self.diversity)
        form.addRow("Best known", self.best_edit)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Suggest")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        if not self.models:
            set_status(
                self.status,
                "No model gives an uncertainty yet: train one in the Models area (its random "
                "forest, or an ensemble of 2 or more).",
                error=True,
            )
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self._on_model_changed(self.model_box.currentIndex())
        self.resize(MAX_WIDTH, self.sizeHint().height())

    def _on_model_changed(self, index: int) -> None:
        self.target_box.clear()
        if 0 <= index < len(self.models):
            model = self.models[index]
            self.target_box.addItems(list(model.targets))
            # A classifier predicts a probability: there is no measured value to improve on.
            classifier = model.task == "classification"
            self.strategy_box.setCurrentIndex(1 if classifier else 0)
            self.strategy_box.model().item(0).setEnabled(not classifier)
            self.best_edit.setEnabled(not classifier)

    def request(self) -> SuggestRequest | str:
        """The choices, or one line saying what is wrong."""
        index = self.model_box.currentIndex()
        if not 0 <= index < len(self.models):
            return "Choose a model that gives an uncertainty."
        text = self.best_edit.text().strip().replace(",", ".")
        best = None
        if text:
            try:
                best = float(text)
            except ValueError:
                best = math.nan
            if not math.isfinite(best):
                return f"The best known value must be a number, not “{self.best_edit.text()}”."
        settings = SuggestSettings(
            n=self.count.value(),
            objective=self.objective_box.currentData(),
            strategy=self.strategy_box.currentData(),
            batch_diversity=round(self.diversity.value(), 4),
        )
        return SuggestRequest(self.models[index], self.target_box.currentText(), settings, best)

    def accept(self) -> None:
        request = self.request()
        if isinstance(request, str):
            set_status(self.status, request, error=True)
            return
        super().accept()
