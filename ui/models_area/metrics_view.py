"""The Metrics tab: every model family fitted (transformer, D-MPNN, random-forest baseline) and the
predictor chosen among them on the validation part, valid and test side by side."""

from __future__ import annotations

import pandas as pd
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTableView, QVBoxLayout, QWidget

from ui.models_area.plots import MODEL_TITLES as PLOT_TITLES
from ui.tables.dataframe_model import ColumnSpec, DataFrameModel, configure_table_view

MODEL_TITLES = {
    **PLOT_TITLES,
    "dmpnn": "D-MPNN (chemprop)",
    "chosen": "Chosen predictor",
}
"""Full names (the plots' and those of the families they do not draw)."""
MODEL_ORDER = ("transformer", "rf_ecfp4", "dmpnn", "chosen")

METRIC_TITLES = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "accuracy": "Accuracy",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "spearman": "Spearman ρ",
}


def metrics_table(metrics: pd.DataFrame | None) -> pd.DataFrame:
    """Tidy metrics (``model, part, target, metric, value``) as one row per target and metric,
    one column per model and part, e.g. ``SMILES transformer (test)``."""
    if metrics is None or metrics.empty:
        return pd.DataFrame()
    frame = metrics.copy()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["column"] = [
        f"{MODEL_TITLES.get(m, m)} ({p})"
        for m, p in zip(frame["model"], frame["part"], strict=True)
    ]
    wide = frame.pivot_table(
        index=["target", "metric"], columns="column", values="value", aggfunc="first",
        dropna=False, sort=False,
    ).reset_index()  # fmt: skip
    wide.columns.name = None
    wide["metric"] = [METRIC_TITLES.get(m, m) for m in wide["metric"]]
    # The held-out test numbers first, the two models side by side: the comparison that
    # matters stays in view in a narrow window; validation numbers follow.
    order = [
        f"{MODEL_TITLES.get(m, m)} ({p})" for p in ("test", "valid") for m in MODEL_ORDER
    ]  # fmt: skip
    columns = ["target", "metric"] + [c for c in order if c in wide.columns]
    columns += [c for c in wide.columns if c not in columns]
    return wide[columns]


# Column headers on two lines (model, part), so that four model columns fit a narrow table.
SHORT_MODEL_TITLES = {
    "transformer": "Transformer",
    "rf_ecfp4": "Random forest",
    "dmpnn": "D-MPNN",
    "chosen": "Chosen",
}
PART_TITLES = {"test": "test", "valid": "validation"}
PART_TOOLTIPS = {
    "test": "the held-out test molecules (never used in training or early stopping)",
    "valid": "the validation molecules (used to stop training early)",
}


def metric_column_spec(column: str) -> ColumnSpec:
    """The header of a ``metrics_table`` column: ``SMILES transformer (test)`` is shown as
    ``Transformer`` over ``test``, with the full name in the tooltip."""
    if column in ("target", "metric"):
        return ColumnSpec(column, column.capitalize(), kind="text")
    for key, title in MODEL_TITLES.items():
        for part, part_title in PART_TITLES.items():
            if column == f"{title} ({part})":
                tooltip = f"{title} on {PART_TOOLTIPS[part]}"
                if key == "chosen":
                    tooltip += (
                        " (the family or weighted mix of families chosen on the validation "
                        "part: the model predicts with it)"
                    )
                return ColumnSpec(
                    column,
                    f"{SHORT_MODEL_TITLES.get(key, title)}\n{part_title}",
                    kind="float",
                    decimals=3,
                    tooltip=tooltip,
                )
    return ColumnSpec(column, kind="float", decimals=3)


class MetricsView(QWidget):
    """Header line (model, task, split), the metrics table and the data notes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Train or select a model to compare it with the baseline.")
        self.label.setWordWrap(True)
        self.model = DataFrameModel(parent=self)
        self.view = QTableView()
        self.view.setModel(self.model)
        configure_table_view(self.view)
        self.view.verticalHeader().hide()  # row numbers mean nothing here
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.card = QPlainTextEdit()
        self.card.setReadOnly(True)
        self.card.setPlaceholderText("The selected model's card")
        self.card.setMaximumHeight(150)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.notes)
        layout.addWidget(QLabel("Model card"))
        layout.addWidget(self.card)

    def set_report(self, report, name: str = "") -> None:
        """Show a ``core.models.training.TrainReport`` (``None``: a model without evaluation)."""
        if report is None:
            self.model.set_frame(pd.DataFrame())
            self.label.setText("This model has no evaluation (a pretrained model).")
            self.notes.setText("")
            return
        table = metrics_table(report.metrics)
        self.model.set_frame(table)
        # One target: it is named in the heading line, and its column would only take room.
        shown = [c for c in table.columns if c != "target" or table["target"].nunique() > 1]
        self.model.set_columns([metric_column_spec(c) for c in shown])
        self.view.resizeColumnsToContents()
        # Numbers are short: the headers' longest line sets the width, with a little margin.
        widest = self.view.fontMetrics().horizontalAdvance("Random forest") + 28
        for column, key in enumerate(shown):
            if key not in ("target", "metric"):
                self.view.setColumnWidth(column, min(self.view.columnWidth(column), widest))
        sizes = report.split.get("sizes") if report.split else None
        if isinstance(sizes, dict):
            sizes = [sizes.get(k) for k in ("train", "valid", "test")]
        split = f"{report.split.get('kind', '')} split, train/valid/test {sizes}" if sizes else ""
        targets = ", ".join(map(str, getattr(report, "target_names", ()) or ()))
        task = f"{report.task} of {targets}" if targets else report.task
        self.label.setText(
            f"<b>{name}</b>: {task}; {split}. Metrics on molecules the models never "
            "trained on." + (" <i>Training was cancelled.</i>" if report.cancelled else "")
        )
        notes = list(report.notes)
        choice = getattr(report, "choice", None)
        if choice is not None and not any(n.startswith("Chosen predictor") for n in notes):
            notes.insert(0, f"Chosen predictor: {choice.describe()} ({choice.why}).")
        self.notes.setText("\n".join(notes))
