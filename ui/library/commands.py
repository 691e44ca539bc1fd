"""The library tab's undoable edits: a row saved from the Molecule panel, and flags, tags or
notes set on some rows (one Edit > Undo step each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QUndoCommand

from core.chem.library_edit import Row, append_row, remove_last_row, set_row

if TYPE_CHECKING:
    from ui.library.panel import LibraryPanel


class SaveRowCommand(QUndoCommand):
    """Replace row ``position`` (or append when ``position`` is None) with ``values``; undoable."""

    def __init__(self, panel: LibraryPanel, position: int | None, values: Row) -> None:
        name = values.get("name", "molecule")
        super().__init__(f"Add {name} to the library" if position is None else f"Update {name}")
        self.panel = panel
        self.position = position
        self.values = values
        self.appended = position is None
        self.previous: Row = {}

    def redo(self) -> None:
        library = self.panel.library
        if self.appended:
            self.position = append_row(library, self.values)
        else:
            self.previous = set_row(library, self.position, self.values)
        self.panel.refresh_table(select=self.position)

    def undo(self) -> None:
        library = self.panel.library
        if self.appended:
            remove_last_row(library)
            self.panel.refresh_table()
        else:
            set_row(library, self.position, self.previous)
            self.panel.refresh_table(select=self.position)


class SetMarksCommand(QUndoCommand):
    """Set flag, tags or notes of some rows; undo puts the previous values back."""

    def __init__(self, panel: LibraryPanel, column: str, positions, values, text: str) -> None:
        super().__init__(text)
        self.panel = panel
        self.column = column
        self.positions = np.asarray(positions, dtype=np.int64)
        self.values = list(values)
        self.previous: list | None = None

    def redo(self) -> None:
        previous = self.panel.write_marks(self.column, self.positions, self.values)
        if self.previous is None:
            self.previous = previous

    def undo(self) -> None:
        self.panel.write_marks(self.column, self.positions, self.previous or [])
