"""Update with new data in the Models area: the button opens a small dialog for the trained-on
table, the new measurements and a name; Update submits core.models.update.update_model as a torch
job on the long lane, and its result reaches the status line and the model list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialogButtonBox

from core.jobs import LONG_LANE
from core.models.registry import registry_dir
from core.models.update import update_model
from ui.models_area.model_list import PATH_ROLE, ModelList
from ui.models_area.update_dialog import DIALOG_WIDTH, UpdateDialog


class _Handle(QObject):
    progress = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def cancel(self) -> bool:
        return True


class _RecordingEngine:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.handles: list[_Handle] = []

    def submit(self, fn, *args, **kwargs):
        self.calls.append((fn, args, kwargs))
        self.handles.append(_Handle())
        return self.handles[-1]


class _Report:
    """What the list uses of an ``UpdateReport``."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir

    def summary_line(self) -> str:
        return f"Updated {self.output_dir.name} (+12 molecules): test RMSE warm start 0.610"


def _select_shipped_potency(models: ModelList) -> None:
    models.refresh_models()
    for i in range(models.models_list.count()):
        item = models.models_list.item(i)
        if Path(item.data(PATH_ROLE)).name == "potency-chembl2321810":
            models.models_list.setCurrentItem(item)
            return
    raise AssertionError("the shipped potency model is not listed")


def _tables(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("smiles,Act\nCCO,5.0\n")
    new.write_text("smiles,Act\nCCN,6.0\n")
    return old, new


def test_update_button_opens_the_dialog_and_submits_the_job(qtbot, make_area_context, tmp_path):
    engine = _RecordingEngine()
    models = ModelList(make_area_context(engine))
    qtbot.addWidget(models)
    statuses: list[tuple[str, bool]] = []
    models.status.connect(lambda text, error: statuses.append((text, error)))
    models.refresh_models()
    models.models_list.setCurrentRow(-1)
    assert not models.update_button.isEnabled()  # nothing selected
    _select_shipped_potency(models)
    assert models.update_button.isEnabled()
    models.update_button.click()
    dialog = models.update_dialog
    assert isinstance(dialog, UpdateDialog) and dialog.isVisible()
    assert (
        "shipped model needs the table it was trained on"
        in dialog.findChildren(type(dialog.problem_label))[0].text()
    )
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no tables yet
    old, new = _tables(tmp_path)
    dialog.old_edit.setText(str(old))
    dialog.new_edit.setText(str(old))
    assert not ok.isEnabled() and "another file" in dialog.problem_label.text()
    dialog.new_edit.setText(str(new))
    dialog.compare_check.setChecked(True)
    assert ok.isEnabled() and dialog.name_edit.text() == "potency-chembl2321810-updated"
    ok.click()
    assert not dialog.isVisible()
    fn, args, kwargs = engine.calls[-1]
    assert fn is update_model
    assert args[1:3] == (old, new)
    assert Path(args[0]).name == "potency-chembl2321810"
    assert args[3] == registry_dir().resolve() / "potency-chembl2321810-updated"
    assert kwargs["compare"] is True and kwargs["needs_torch"] is True
    assert kwargs["lane"] == LONG_LANE
    # The model's own targets, and the default 3 calibration refits.
    assert kwargs["target_columns"] is None and kwargs["calibration_folds"] == 3
    assert not models.update_button.isEnabled()  # one update at a time
    assert statuses[-1][0].startswith("Updating potency-chembl2321810 with new.csv")
    # The job's end: the summary in the status line, the button back.
    engine.handles[-1].finished.emit(_Report(args[3]))
    assert statuses[-1] == (_Report(args[3]).summary_line(), False)
    assert models.update_button.isEnabled() or models.selected_entry() is None


def test_a_failed_update_is_shown_as_an_error(qtbot, make_area_context, tmp_path):
    engine = _RecordingEngine()
    models = ModelList(make_area_context(engine))
    qtbot.addWidget(models)
    statuses: list[tuple[str, bool]] = []
    models.status.connect(lambda text, error: statuses.append((text, error)))
    _select_shipped_potency(models)
    old, new = _tables(tmp_path)
    dialog = models.open_update_dialog()
    dialog.old_edit.setText(str(old))
    dialog.new_edit.setText(str(new))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    engine.handles[-1].failed.emit("these are not the data potency-chembl2321810 was trained on")
    assert statuses[-1] == (
        "Update failed: these are not the data potency-chembl2321810 was trained on",
        True,
    )
    assert models.update_button.isEnabled()


def test_an_updated_model_offers_its_own_training_data(qtbot, tmp_path):
    folder = tmp_path / "atoms-updated"
    folder.mkdir()
    (folder / "training_data.csv").write_text("smiles,atoms,part,origin\nCCO,3,train,old\n")
    dialog = UpdateDialog(folder, "atoms-updated", shipped=False)
    qtbot.addWidget(dialog)
    assert dialog.old_edit.text() == str(folder / "training_data.csv")
    assert "shipped" not in dialog.findChildren(type(dialog.problem_label))[0].text()


def test_the_dialog_fits_a_small_screen(qtbot, make_area_context):
    models = ModelList(make_area_context(_RecordingEngine()))
    qtbot.addWidget(models)
    _select_shipped_potency(models)
    dialog = models.open_update_dialog()
    dialog.show()
    size = dialog.sizeHint()
    assert dialog.width() == DIALOG_WIDTH and size.height() <= 400
    # The list's buttons still fit the Models area's left column (340 px at 1366 x 768).
    assert models.minimumSizeHint().width() <= 340
    dialog.reject()


def test_the_dialog_names_a_converted_target_and_the_calibration(qtbot, tmp_path):
    dialog = UpdateDialog(tmp_path / "model", "potency", shipped=False)
    qtbot.addWidget(dialog)
    old, new = _tables(tmp_path)
    dialog.old_edit.setText(str(old))
    dialog.new_edit.setText(str(new))
    dialog.target_edit.setText(" IC50 (nM) , ")
    dialog.calibration_combo.setCurrentIndex(dialog.calibration_combo.findData(0))
    request = dialog.request()
    assert request.target_columns == ("IC50 (nM)",)
    assert request.calibration_folds == 0
