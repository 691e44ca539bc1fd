"""What a project keeps of the Models area (issue 17, part 1), without Qt: the models trained or
used in the project (registry folders, with the ``campaign`` line of each), the selected model,
the assay form's choices and the last Apply; and the checks a project's values go through when
they are read back (every one untrusted: wrong types are dropped, not raised on).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_MODELS = 100
"""Models a project lists (the oldest are forgotten first)."""


def model_summary(folder: str | Path) -> dict[str, Any]:
    """The campaign line of the model in ``folder``: name, folder, target(s), task, its test
    metric (``"test RMSE 0.52"``) and the family it predicts with (``""`` when it has no
    choice). A card that cannot be read gives the folder's name and empty fields."""
    from core.models.registry import load_card

    folder = Path(folder)
    summary: dict[str, Any] = {
        "name": folder.name,
        "folder": str(folder),
        "target": "",
        "task": "",
        "metric": "",
        "chosen": "",
    }
    try:
        card = load_card(folder, check_weights=False)
    except (ValueError, OSError):
        return summary
    summary.update(
        name=card.name,
        target=", ".join(card.target_columns),
        task=card.task if card.task in ("regression", "classification") else str(card.task),
        metric=test_metric(card),
        chosen=chosen_family(folder),
    )
    return summary


def test_metric(card: Any) -> str:
    """``"test RMSE 0.52"`` / ``"test ROC-AUC 0.81"`` from a card: the chosen predictor's,
    else the transformer's; ``""`` when the card has none."""
    from ui.models_area.metrics_view import METRIC_TITLES

    test = (card.metrics or {}).get("test") or {}
    name = "roc_auc" if card.task == "classification" else "rmse"
    values = test.get("chosen") or test.get("transformer") or {}
    value = values.get(name) if isinstance(values, Mapping) else None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    return f"test {METRIC_TITLES[name]} {value:.2f}"


def chosen_family(folder: Path) -> str:
    """The family the model predicts with (``"transformer"``, ``"dmpnn"``, ``"rf"``), a mix in
    words, or ``""`` for a folder without a choice."""
    from core.models.families import load_choice

    try:
        choice = load_choice(folder)
    except (ValueError, OSError):
        return ""
    if choice is None:
        return ""
    return choice.families[0] if len(choice.families) == 1 else choice.describe()


_SUMMARY_KEYS = ("name", "folder", "target", "task", "metric", "chosen")


def clean_models(raw: Any) -> list[dict[str, Any]]:
    """The stored models that have a folder (text fields only, others emptied)."""
    if not isinstance(raw, list):
        return []
    models = []
    for item in raw[-MAX_MODELS:]:
        if not isinstance(item, Mapping) or not isinstance(item.get("folder"), str):
            continue
        if not item["folder"]:
            continue
        models.append(
            {
                key: str(item[key])[:2_000] if isinstance(item.get(key), str) else ""
                for key in _SUMMARY_KEYS
            }
        )
        models[-1]["name"] = models[-1]["name"] or Path(item["folder"]).name
    return models


def clean_last_apply(raw: Any) -> dict[str, str] | None:
    """The last Apply (the library's title, the model's folder), if it is in shape."""
    if not isinstance(raw, Mapping):
        return None
    library, model = raw.get("library"), raw.get("model")
    if not isinstance(library, str) or not isinstance(model, str):
        return None
    return {"library": library[:500], "model": model[:2_000]}
