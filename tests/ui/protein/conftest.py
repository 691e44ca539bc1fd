"""What a Proteins test is given: the engine, and an ``AreaContext`` of stand-ins that record
what the panel tells the user and hold the Molecule panel's molecule."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from app.engine import InferenceEngine
from ui.workbench import AreaContext


class RecordingNotifier:
    """``ui.workbench.Notifier``: keeps the errors and status messages shown."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.statuses: list[str] = []

    def show_error(self, message: str) -> None:
        self.errors.append(message)

    def show_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.statuses.append(message)


class NoLibraries(QObject):
    """``ui.workbench.LibraryAccess`` with no library open (the Proteins area reads none)."""

    current_library_changed = Signal(object)

    def current_library(self):
        return None


class MoleculeHolder:
    """``ui.workbench.MoleculeAccess``: the Molecule panel's molecule is ``mol`` (None: empty)."""

    def __init__(self) -> None:
        self.mol = None

    def current_molecule(self):
        return self.mol

    def current_smiles(self) -> str:
        from rdkit import Chem

        return "" if self.mol is None else Chem.MolToSmiles(self.mol)


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def molecules():
    return MoleculeHolder()


@pytest.fixture
def context(engine, notifier, molecules):
    return AreaContext(engine=engine, notifier=notifier, libraries=NoLibraries(),
                       molecules=molecules)  # fmt: skip
