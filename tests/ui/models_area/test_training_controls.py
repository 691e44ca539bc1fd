"""The Train button's job gets what the form chose: the "Values are" units reach the reader."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.models.training import TrainSettings, train_from_file
from ui.models_area.assay_form import TrainRequest
from ui.models_area.training_controls import TrainingControls


class _Handle(QObject):
    progress = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class _RecordingEngine:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def submit(self, fn, *args, **kwargs):
        self.calls.append((fn, args, kwargs))
        return _Handle()


def test_units_choice_is_passed_to_the_training_job(qtbot, tmp_path):
    engine = _RecordingEngine()
    controls = TrainingControls(engine)
    qtbot.addWidget(controls)
    request = TrainRequest(
        str(tmp_path / "assay.csv"),
        "smiles",
        ("IC50",),
        "regression",
        Path(tmp_path / "model"),
        TrainSettings(),
        units="uM",
    )
    assert controls.start(request) is not None
    fn, args, kwargs = engine.calls[0]
    assert fn is train_from_file
    assert kwargs["units"] == "uM"
    assert args[:4] == (request.path, "smiles", ("IC50",), "regression")
