"""Apply to library says how many predictions fall outside the model's applicability domain, and
a model's card states its domain."""

from __future__ import annotations

import pandas as pd
import pytest
from PySide6.QtCore import QObject, Signal

from app.engine import InferenceEngine
from core.jobs import FINISHED
from core.models.registry import shipped_models
from ui.models_area.model_list import ModelList, domain_note


class Library(QObject):
    """A library tab (``ui.workbench.LibraryView``) that keeps what is added to it."""

    current_row_changed = Signal(object)

    def __init__(self, table: pd.DataFrame) -> None:
        super().__init__()
        self.title = "drugs"
        self._table = table
        self.added: list[pd.DataFrame] = []

    def table(self) -> pd.DataFrame:
        return self._table

    def add_columns(self, frame: pd.DataFrame, notes=None) -> None:
        self.added.append(frame)

    def current_row(self) -> dict:
        return {}


class Libraries(QObject):
    current_library_changed = Signal(object)

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library

    def current_library(self) -> Library:
        return self.library


def _series_smiles(n: int) -> list[str]:
    from pathlib import Path

    from rdkit import Chem

    data = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data"
    table = pd.read_csv(data / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["s", "n"])
    return table["s"].iloc[:n].tolist()


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine(device_preference="cpu")
    engine.start()
    yield engine
    assert engine.stop(20_000)


def _potency_entry_path():
    (path,) = [e.path for e in shipped_models() if e.path.name == "potency-chembl2321810"]
    return path


def test_apply_says_how_many_fall_outside_the_domain(qtbot, engine, make_area_context):
    smiles = [*_series_smiles(2), "CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", ""]
    table = pd.DataFrame(
        {"canonical_smiles": smiles, "valid": [True, True, True, True, False]},
        index=[5, 6, 7, 8, 9],
    )
    library = Library(table)
    context = make_area_context(engine, libraries=Libraries(library))
    models = ModelList(context)
    qtbot.addWidget(models)
    models.refresh_models(select=_potency_entry_path())
    assert models.selected_model_path().name == "potency-chembl2321810"
    statuses: list[str] = []
    models.status.connect(lambda text, error: statuses.append(text))
    handle = models.apply_to_library()
    qtbot.waitUntil(handle.is_done, timeout=120_000)
    assert handle.state == FINISHED, context.notifier.errors
    (frame,) = library.added
    assert frame["Act_in_domain"].tolist() == [True, True, False, False, pd.NA]
    assert statuses[-1] == (
        "Added Act, Act_std to the library (4 molecules; 2 of 4 outside the model's domain "
        "(greyed: their nearest training molecule is less similar than the card's threshold); "
        "no calibrated intervals: the model stores no calibration)."
    )
    # The shipped model stores no calibration: its empty interval columns are not added.
    assert not {"Act_lower", "Act_upper"} & set(frame.columns)


def test_the_note_for_a_model_without_a_domain_and_for_all_inside():
    unknown = pd.DataFrame(
        {"y": [1.0, 2.0], "y_in_domain": pd.array([pd.NA, pd.NA], dtype="boolean")}
    )
    assert domain_note(unknown).startswith("applicability domain unknown")
    inside = unknown.assign(y_in_domain=pd.array([True, True], dtype="boolean"))
    assert domain_note(inside) == "all 2 inside the model's domain"
    assert domain_note(pd.DataFrame({"y": [1.0]})) == ""


def test_the_card_text_states_the_domain():
    from core.models.registry import load_card
    from ui.models_area.model_list import card_text

    path = _potency_entry_path()
    text = card_text(load_card(path), path, shipped=True)
    assert "Applicability domain: a molecule is in domain when its nearest training" in text
    assert "at least 0.59 similar" in text and "5th percentile of the 102 validation" in text
    assert "Test: 98 of 102 in domain" in text
