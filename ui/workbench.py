"""What a work area may ask of the window around it: the :class:`AreaContext`.

An area (Models, Proteins, Expression, Trials…) is given an ``AreaContext`` when it is built, not
the main window: it runs jobs through the engine, tells the user something through the notifier,
reads the library the user is looking at and the molecule in the Molecule panel, and follows a
link into another area (:class:`AreaLinks`). The window (``app/main_window.py``, with
``app/area_links.py``) implements these small protocols; a test can pass a stand-in, and no area
reaches into another area's widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd
    from PySide6.QtCore import SignalInstance
    from rdkit import Chem

    from core.project.areas import AreaSnapshot, StoredArea
    from ui.jobs.engine_protocol import Engine


class Notifier(Protocol):
    """Tell the user something: errors stay in the message strip until closed; status messages
    show in the status bar for a while."""

    def show_error(self, message: str) -> None: ...

    def show_status(self, message: str, timeout_ms: int = 8000) -> None: ...


class LibraryView(Protocol):
    """A library tab, as other areas see it: its title, table, current row, and new columns."""

    title: str
    current_row_changed: SignalInstance  # emitted with the new current row (dict) or None

    def table(self) -> pd.DataFrame | None: ...

    def current_row(self) -> dict | None: ...

    def add_columns(self, columns: pd.DataFrame, *args: Any, **kwargs: Any) -> Any: ...


class LibraryAccess(Protocol):
    """The library tab the user is looking at in the Libraries area."""

    current_library_changed: SignalInstance  # emitted with the new LibraryView or None

    def current_library(self) -> LibraryView | None: ...


class MoleculeAccess(Protocol):
    """The molecule in the Molecule panel (drawn or opened from a library row)."""

    def current_molecule(self) -> Chem.Mol | None: ...

    def current_smiles(self) -> str: ...


class AreaLinks(Protocol):
    """One-click links between areas. Each brings the area it leads to to the front, does what
    it says there, and tells the user in the status bar (or, when it cannot, in the message
    strip)."""

    def look_up_target(self, symbol: str) -> None:
        """Proteins: look gene ``symbol`` up (UniProt, RCSB, AlphaFold DB), as Fetch does."""
        ...

    def send_to_molecule_panel(self, smiles: str, name: str) -> None:
        """Open ``smiles`` in the Molecule panel (undoable there), named ``name``."""
        ...

    def find_similar_in_library(self, smiles: str, name: str) -> None:
        """Libraries: a similarity search of the current library with ``smiles`` as the query
        (the hit-list tools' Find tab)."""
        ...

    def place_in_pocket(self, smiles: str, name: str) -> None:
        """Proteins: a 3D conformer of ``smiles`` placed at the chosen ligand's or site's
        centroid."""
        ...

    def show_in_3d(self, smiles: str, name: str, source: object = None) -> None:
        """The Molecule panel's 3D tab, predicting conformers of ``smiles``; ``source`` (a
        library tab and row position) is the row that saving the Molecule panel updates."""
        ...

    def explain_prediction(self, smiles: str, name: str, model: str, target: str) -> None:
        """Models: select the model whose registry folder is named ``model`` and show, on its
        Explain tab, which atoms drive its prediction of ``target`` for ``smiles`` (a library
        row named ``name``)."""
        ...


class KeepsState(Protocol):
    """An area whose work the project keeps (issue 17, part 1): the window's project session
    asks it for a snapshot when it changed and gives it back what a project stored.

    ``state_key`` names the area in the project (``expression``, ``proteins``…).
    ``state_changed`` is emitted after every change worth keeping (a result, a choice, a file
    opened); autosave then asks :meth:`area_state` on the GUI thread, so it must be a cheap copy,
    with every table: a ``None`` table ("keep the stored one") cannot be honoured by *Save
    project as* (a new file has none) nor after a failed save, so areas do not use it (the
    writer thread does the encoding, so the window does not wait for a large table).
    :meth:`restore_area_state` puts a stored state back (``None``: the
    empty area of a new project) and returns one line per thing it could not restore (a file
    that moved, a model no longer there), which the window shows; it must not raise for
    anything a project file holds.
    """

    state_key: str
    state_changed: SignalInstance

    def area_state(self) -> AreaSnapshot: ...

    def restore_area_state(self, stored: StoredArea | None) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class AreaContext:
    """Everything an area is given when it is built."""

    engine: Engine
    notifier: Notifier
    libraries: LibraryAccess
    molecules: MoleculeAccess
    links: AreaLinks | None = None
    """Links into the other areas; None where an area stands alone (tests of one area)."""
