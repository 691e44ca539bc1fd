"""Stand-ins for what the window gives an area (``ui.workbench.AreaContext``), shared by the
tests of the areas: a notifier that records what the area told the user, no library open, and
a Molecule panel whose molecule the test sets.

``make_area_context(engine)`` builds the context from the stand-ins of the test (the same
``recording_notifier`` and ``molecule_holder`` the test can ask for); a test that needs another
library access or Molecule panel passes its own."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from app.engine import InferenceEngine
from ui.workbench import AreaContext


class RecordingNotifier:
    """``ui.workbench.Notifier``: keeps the errors and status messages shown, in order."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.statuses: list[str] = []

    def show_error(self, message: str) -> None:
        self.errors.append(message)

    def show_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.statuses.append(message)


class NoLibraries(QObject):
    """``ui.workbench.LibraryAccess`` with no library tab open."""

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
    """A running engine, stopped after the test (tests that check how it stops bring their
    own)."""
    engine = InferenceEngine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def recording_notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def no_libraries() -> NoLibraries:
    return NoLibraries()


@pytest.fixture
def molecule_holder() -> MoleculeHolder:
    """An empty Molecule panel; set ``.mol`` to put a molecule in it."""
    return MoleculeHolder()


@pytest.fixture
def make_area_context(recording_notifier, no_libraries, molecule_holder):
    """``make_area_context(engine, libraries=None, molecules=None)``: an ``AreaContext`` telling
    ``recording_notifier``, with ``no_libraries`` and ``molecule_holder`` unless others are
    given."""

    def make(engine, libraries=None, molecules=None) -> AreaContext:
        return AreaContext(
            engine=engine,
            notifier=recording_notifier,
            libraries=no_libraries if libraries is None else libraries,
            molecules=molecule_holder if molecules is None else molecules,
        )

    return make
