"""The Models area in a project (issue 17, part 1): the models used in it, the selected model, the
assay form's choices (its table as a file reference) and the last Apply are kept and come back in
a fresh area; a moved or changed table and a model folder no longer there are named; junk gives
lines and does not raise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QObject, Qt, Signal

from app.engine import InferenceEngine
from core.jobs import FINISHED
from core.project.areas import StoredArea
from core.project.store import ProjectState, read_project, save_project_as
from ui.models_area.panel import ModelsPanel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Library(QObject):
    """A library tab as the area sees it (``ui.workbench.LibraryView``)."""

    current_row_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.title = "screen"
        self._table = pd.DataFrame({"canonical_smiles": ["CCO", "c1ccccc1O"], "valid": True})
        self.added: list[tuple[pd.DataFrame, dict]] = []

    def table(self) -> pd.DataFrame:
        return self._table

    def add_columns(self, frame: pd.DataFrame, notes=None) -> None:
        self.added.append((frame, notes))

    def current_row(self) -> dict:
        return self._table.iloc[1].to_dict()


class Libraries(QObject):
    current_library_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.library = Library()

    def current_library(self) -> Library:
        return self.library


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine(device_preference="cpu")
    engine.start()
    yield engine
    assert engine.stop(10_000)


@pytest.fixture
def make_panel(qtbot, engine, make_area_context):
    def make() -> ModelsPanel:
        panel = ModelsPanel(make_area_context(engine, libraries=Libraries()))
        qtbot.addWidget(panel)
        return panel

    return make


def _wait(qtbot, handle, timeout=60_000):
    qtbot.waitUntil(handle.is_done, timeout=timeout)
    assert handle.state == FINISHED


def _select(panel, text: str):
    items = [panel.models_list.item(i) for i in range(panel.models_list.count())]
    (item,) = [item for item in items if text in item.text()]
    panel.models_list.setCurrentItem(item)
    return panel.selected_entry()


def _round_trip(tmp_path, snapshot) -> StoredArea:
    path = tmp_path / "p.drugdesk"
    save_project_as(path, ProjectState(areas={"models": snapshot}))
    return read_project(path).areas["models"]


def _form_ready(panel, targets) -> bool:
    return panel.form.columns is not None and panel.form.checked_targets() == targets


def test_the_models_form_and_last_apply_come_back(qtbot, make_panel, tmp_path):
    panel = make_panel()
    changes = []
    panel.state_changed.connect(lambda: changes.append(1))
    _wait(qtbot, panel.open_demo())
    panel.form.epochs_spin.setValue(7)
    panel.form.seed_spin.setValue(3)
    panel.form.dmpnn_check.setChecked(False)
    panel.form.name_edit.setText("potency-demo")
    panel.form.name_edit.setModified(True)
    entry = _select(panel, "potency")
    assert entry.shipped and changes
    _wait(qtbot, panel.apply_to_library())
    ((_frame, notes),) = panel.context.libraries.library.added
    assert notes == {"Act": f"predicted value of 'Act' by model {entry.path.name}"}

    snapshot = panel.area_state()
    state = snapshot.state
    (model,) = state["campaign"]["models"]
    assert model["folder"] == str(entry.path) and model["target"] == "Act"
    assert model["task"] == "regression" and model["metric"].startswith("test RMSE ")
    assert model["name"] == entry.card.name
    assert state["last_apply"] == {"library": "screen", "model": str(entry.path)}
    form = state["form"]
    assert form["targets"] == ["Act"] and form["units"] == "p" and form["epochs"] == 7
    assert form["families"] == ["transformer", "rf"] and form["name"] == "potency-demo"
    assert form["file"]["sha256"]

    fresh = make_panel()
    restored = []
    fresh.state_changed.connect(lambda: restored.append(1))
    assert fresh.restore_area_state(_round_trip(tmp_path, snapshot)) == []
    # While the table is read again, a save keeps the project's choices for it.
    assert fresh.area_state().state["form"] == form
    qtbot.waitUntil(lambda: _form_ready(fresh, ["Act"]), timeout=20_000)
    assert fresh.selected_model_path() == entry.path
    assert fresh.form.task() == "regression" and fresh.form.units() == "p"
    assert fresh.form.epochs_spin.value() == 7 and fresh.form.seed_spin.value() == 3
    assert not fresh.form.dmpnn_check.isChecked()
    assert fresh.form.name_edit.text() == "potency-demo"
    assert "Last applied" in fresh.training.status_label.text()
    assert fresh.area_state().state == state
    assert restored == []  # restoring is not a change to save

    assert fresh.restore_area_state(None) == []  # a new project: the empty area
    empty = fresh.area_state().state
    assert empty["models"] == [] and empty["form"]["file"] is None
    assert fresh.form.columns is None and fresh.form.targets_list.count() == 0


def test_a_moved_table_and_a_lost_model_are_named(qtbot, make_panel, tmp_path):
    path = tmp_path / "assay.csv"
    pd.DataFrame(
        {"smiles": ["CCO", "CCN", "CCC", "c1ccccc1"], "logS": np.linspace(-3, 1, 4)}
    ).to_csv(path, index=False)
    panel = make_panel()
    _wait(qtbot, panel.open_file(path))
    panel.set_targets(["logS"])
    state = panel.area_state().state
    potency = _select(panel, "potency").path
    # A shipped model of another installation is found by its folder's name.
    elsewhere = str(Path("/old/install/models") / potency.name)
    state["models"] = [
        {"folder": str(tmp_path / "gone-model"), "name": "gone"},
        {"folder": elsewhere, "name": "potency"},
    ]
    state["selected"] = str(tmp_path / "gone-model")
    stored = StoredArea("models", 1, "", state, {})

    path.write_text(path.read_text() + "CCCl,0.5\n")
    fresh = make_panel()
    lines = fresh.restore_area_state(stored)
    assert len(lines) == 2
    assert str(tmp_path / "gone-model") in lines[0] and "no longer there" in lines[0]
    assert str(path) in lines[1] and "changed" in lines[1]
    qtbot.waitUntil(lambda: _form_ready(fresh, ["logS"]), timeout=20_000)  # read again
    # The lost model stays listed, so that the next save keeps the project's history.
    assert fresh.area_state().state["models"][0]["name"] == "gone"
    assert fresh.area_state().state["models"][1]["folder"] == str(potency)

    path.unlink()
    other = make_panel()
    lines = other.restore_area_state(stored)
    assert any(str(path) in line and "no longer there" in line for line in lines)
    assert other.form.columns is None and other.form.file_edit.text() == str(path)
    assert other.area_state().state["form"]["file"]["path"] == str(path)


def test_junk_gives_lines_and_does_not_raise(qtbot, make_panel):
    panel = make_panel()
    for state in (
        {"models": "x", "selected": 5, "form": [1], "last_apply": "y"},
        {"models": [3, {"folder": 4}, {"folder": "/nowhere/m", "metric": 2}], "selected": ""},
        {
            "form": {
                "file": {"path": 3},
                "epochs": "many",
                "learning_rate": float("nan"),
                "split": 9,
                "families": "rf",
                "targets": "Act",
            }
        },
        {"form": {"file": {"path": "/nowhere/t.csv"}, "epochs": True, "seed": -5}},
    ):
        lines = panel.restore_area_state(StoredArea("models", 1, "", state, {}))
        assert all(isinstance(line, str) for line in lines)
    assert panel.restore_area_state(StoredArea("models", 1, "", [], {})) == []  # type: ignore[arg-type]
    assert panel.form.epochs_spin.value() == 20  # the default kept


def test_a_project_reopened_in_another_window_selects_the_model(qtbot, make_window, tmp_path):
    window = make_window()
    models = window.show_area("models")
    _wait(qtbot, models.open_demo())
    entry = _select(models, "potency")
    path = tmp_path / "campaign.drugdesk"
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        assert window.project.save_as(path) is not None
    assert read_project(path).areas["models"].state["selected"] == str(entry.path)

    other = make_window()
    with qtbot.waitSignal(other.project.project_changed, timeout=30_000):
        other.project.open_project(path)
    qtbot.waitUntil(lambda: other.project.path == path, timeout=30_000)
    again = other.show_area("models")
    qtbot.waitUntil(lambda: _form_ready(again, ["Act"]), timeout=20_000)
    assert again.selected_model_path() == entry.path
    assert Path(again.form.file_edit.text()) == Path(models.form.file_edit.text())
    assert not other.project.is_dirty()
    assert again.models_list.currentItem().data(Qt.ItemDataRole.UserRole) == entry.path
