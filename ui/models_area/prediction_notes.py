"""Which model made a library's prediction column: the column's note (its header tooltip, kept
with the library in projects) says it, in the words the scoring job uses
(``core.hitlist.scoring``): ``"predicted value of 'Act' by model potency-Act"`` or
``"probability of class 1 of 'active' by model assay-active"``. Apply to library writes the same
note, so a hit list's row can lead back to the model's explanation of its prediction.

Plain Python: the Libraries area reads these notes without importing the Models area's widgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_NOTE = re.compile(
    r"^(?:probability of class 1|predicted value) of '(?P<target>.+)' by model (?P<model>\S.*)$"
)


def prediction_note(task: str, target: str, model: str) -> str:
    """The note of the column holding model ``model``'s (its folder name) prediction of
    ``target``."""
    meaning = "probability of class 1" if task == "classification" else "predicted value"
    return f"{meaning} of '{target}' by model {model}"


def predicted_by(note: object) -> tuple[str, str] | None:
    """``(target, model folder name)`` of a prediction column's note; None for another note."""
    if not isinstance(note, str):
        return None
    match = _NOTE.match(note.strip())
    return None if match is None else (match["target"], match["model"].strip())


def model_predictions(
    notes: Mapping[str, str], columns: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """The columns of ``columns`` that hold a model's prediction, each with ``(target, model)``,
    in the order of ``columns``."""
    found = {}
    for column in columns:
        source = predicted_by(notes.get(str(column)))
        if source is not None:
            found[str(column)] = source
    return found
