"""The 2D structure editor of the Molecule workspace: draw and edit a structure with the mouse.

The chemistry is in :mod:`core.chem.editing` (pure functions returning new molecules); this module
maps mouse and keys to those functions, keeps the undo stack and draws the molecule. Model
coordinates (x right, y up, bonds 1.5 long) become pixels in :class:`EditorCanvas` only, through
``to_pixel`` and ``to_model``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QHelpEvent,
    QIcon,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QUndoCommand,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QToolBar,
    QToolTip,
    QVBoxLayout,
    QWidget,
)
from rdkit import Chem

from core.chem import editing
from ui.molecules.periodic_table import PeriodicTableDialog

log = logging.getLogger(__name__)

PALETTE_ELEMENTS = ("C", "N", "O", "S", "P", "F", "Cl", "Br", "I", "H")
BOND_TOOLS = ("single", "double", "triple", "aromatic", "wedge", "hash")
RING_TOOLS = ("3", "4", "5", "6", "7", "8", "benzene")
OTHER_TOOLS = ("charge:+", "charge:-", "erase", "select")

ELEMENT_KEYS = {
    Qt.Key.Key_C: "C",
    Qt.Key.Key_N: "N",
    Qt.Key.Key_O: "O",
    Qt.Key.Key_S: "S",
    Qt.Key.Key_P: "P",
    Qt.Key.Key_F: "F",
    Qt.Key.Key_L: "Cl",
    Qt.Key.Key_B: "Br",
    Qt.Key.Key_I: "I",
    Qt.Key.Key_H: "H",
}
TOOL_KEYS = {
    Qt.Key.Key_1: "bond:single",
    Qt.Key.Key_2: "bond:double",
    Qt.Key.Key_3: "bond:triple",
    Qt.Key.Key_R: "ring:benzene",
    Qt.Key.Key_Plus: "charge:+",
    Qt.Key.Key_Minus: "charge:-",
    Qt.Key.Key_Escape: "select",
}

DEFAULT_SCALE = 28.0
"""Pixels per model unit when the molecule fits: 42-pixel bonds."""
MIN_SCALE, MAX_SCALE = 4.0, 160.0
MARGIN = 28
ATOM_PICK_PX = 11.0
BOND_PICK_PX = 7.0
DRAG_START_PX = 6.0
SNAP_DEGREES = 15.0

HETEROATOM_COLOURS = {
    "N": QColor(48, 80, 248),
    "O": QColor(220, 20, 20),
    "S": QColor(178, 140, 0),
    "P": QColor(230, 120, 0),
    "F": QColor(40, 150, 40),
    "Cl": QColor(30, 150, 30),
    "Br": QColor(150, 40, 40),
    "I": QColor(120, 0, 160),
}
PROBLEM_COLOUR = QColor(215, 0, 0)
SELECTION_COLOUR = QColor(70, 140, 255, 90)
HOVER_COLOUR = QColor(255, 160, 0, 110)
STEREO_COLOUR = QColor(40, 90, 160)


def _tool_names() -> list[str]:
    return [
        *(f"atom:{s}" for s in PALETTE_ELEMENTS),
        *(f"bond:{b}" for b in BOND_TOOLS),
        *(f"ring:{r}" for r in RING_TOOLS),
        *OTHER_TOOLS,
    ]


class _EditCommand(QUndoCommand):
    """One edit: the molecule before and after (both kept, never changed)."""

    def __init__(
        self,
        editor: StructureEditor,
        before: Chem.Mol,
        after: Chem.Mol,
        text: str,
        selection: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(text)
        self._editor = editor
        self.before = before
        self.after = after
        self._selection = selection

    def redo(self) -> None:
        self._editor._show_molecule(self.after, self._selection)

    def undo(self) -> None:
        self._editor._show_molecule(self.before)


class StructureEditor(QWidget):
    """Tool bars, a drawing canvas and an undo stack around :mod:`core.chem.editing`.

    Signals
    -------
    molecule_changed(object)
        A copy of the new ``Chem.Mol`` after every edit, undo, redo or :meth:`set_molecule`.
    status_message(str)
        What a status bar should show: a valence problem, a failed edit, a clipboard result.
    """

    molecule_changed = Signal(object)
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._mol = editing.empty_molecule()
        self._problems: dict[int, str] = {}
        self._stereo: dict[str, dict[int, str]] = {"atoms": {}, "bonds": {}}
        self._show_stereo = False
        self._selection: frozenset[int] = frozenset()
        self._tool = "atom:C"
        self.tool_actions: dict[str, QAction] = {}

        self.canvas = EditorCanvas(self)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._tool_group = QActionGroup(self)
        self._tool_group.setExclusive(True)
        self._build_tool_bars()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for bar in self.tool_bars:
            layout.addWidget(bar)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status_label)
        self.set_tool("atom:C")
        self._update_status_label()

    # ------------------------------------------------------------------------------- tool bars

    def _build_tool_bars(self) -> None:
        actions_bar = QToolBar("Edit")
        # Plain "Undo"/"Redo" texts: QUndoStack's own actions grow with the command's name.
        undo = self._add_button(actions_bar, "Undo", "Undo (Ctrl+Z)", self.undo)
        redo = self._add_button(actions_bar, "Redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)", self.redo)
        undo.setEnabled(False)
        redo.setEnabled(False)
        self.undo_stack.canUndoChanged.connect(undo.setEnabled)
        self.undo_stack.canRedoChanged.connect(redo.setEnabled)
        self.undo_stack.undoTextChanged.connect(
            lambda text: undo.setToolTip(f"Undo {text} (Ctrl+Z)" if text else "Undo (Ctrl+Z)")
        )
        self.undo_stack.redoTextChanged.connect(
            lambda text: redo.setToolTip(f"Redo {text} (Ctrl+Shift+Z)" if text else "Redo")
        )
        actions_bar.addSeparator()
        self._add_button(actions_bar, "Clean", "Clean up the 2D layout", self.clean_up)
        self._add_button(actions_bar, "Clear", "Remove everything (undoable)", self.clear)
        actions_bar.addSeparator()
        self._add_button(actions_bar, "Copy", "Copy SMILES (Ctrl+C)", self.copy_smiles)
        self._add_button(actions_bar, "MolBlock", "Copy MolBlock", self.copy_molblock)
        self._add_button(actions_bar, "Paste", "Paste SMILES or MolBlock (Ctrl+V)", self.paste)
        actions_bar.addSeparator()
        self.stereo_action = QAction("R/S", self)
        self.stereo_action.setCheckable(True)
        self.stereo_action.setToolTip("Show CIP labels (R/S, E/Z)")
        self.stereo_action.toggled.connect(self.set_show_stereo)
        actions_bar.addAction(self.stereo_action)

        atoms_bar = QToolBar("Atoms")
        self._add_tool(atoms_bar, "select", "Select", "Select and move (Esc)")
        self._add_tool(
            atoms_bar, "erase", "Erase", "Erase an atom or bond (Del erases the selection)"
        )
        atoms_bar.addSeparator()
        keys = {v: k for k, v in ELEMENT_KEYS.items()}
        for symbol in PALETTE_ELEMENTS:
            key = QKeySequence(keys[symbol]).toString().lower()
            self._add_tool(atoms_bar, f"atom:{symbol}", symbol, f"{symbol} atom (key {key})")
        more = self._add_button(atoms_bar, "Other element…", "Periodic table", self.choose_element)
        more.setIconText("…")  # Qt strips a trailing "…" from the text a tool button shows
        atoms_bar.addSeparator()
        self._add_tool(atoms_bar, "charge:+", "+", "Raise the charge of an atom (key +)")
        self._add_tool(atoms_bar, "charge:-", "−", "Lower the charge of an atom (key −)")

        shapes_bar = QToolBar("Bonds and rings")
        shapes_bar.setIconSize(QSize(20, 20))
        tips = {"single": " (key 1)", "double": " (key 2)", "triple": " (key 3)"}
        for name in BOND_TOOLS:
            tip = f"{name.capitalize()} bond{tips.get(name, '')}; click a bond to set or cycle it"
            action = self._add_tool(shapes_bar, f"bond:{name}", name, tip)
            action.setIcon(_bond_icon(name))
        shapes_bar.addSeparator()
        for name in RING_TOOLS:
            tip = "Benzene ring (key r)" if name == "benzene" else f"{name}-membered ring"
            action = self._add_tool(shapes_bar, f"ring:{name}", name, tip)
            action.setIcon(_ring_icon(name))
        for bar in (actions_bar, atoms_bar, shapes_bar):
            bar.setFloatable(False)
            bar.setMovable(False)
            bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        atoms_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        actions_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        shapes_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.tool_bars = (actions_bar, atoms_bar, shapes_bar)
        self._atoms_bar = atoms_bar

    def _add_button(
        self, bar: QToolBar, text: str, tip: str, slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        bar.addAction(action)
        return action

    def _add_tool(self, bar: QToolBar, name: str, text: str, tip: str) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setCheckable(True)
        action.triggered.connect(lambda _checked=False, n=name: self.set_tool(n))
        self._tool_group.addAction(action)
        bar.addAction(action)
        self.tool_actions[name] = action
        return action

    # ------------------------------------------------------------------------------ public API

    def molecule(self) -> Chem.Mol:
        """A copy of the molecule shown (unsanitised; see :mod:`core.chem.editing`)."""
        return Chem.Mol(self._mol)

    def smiles(self) -> str:
        """Canonical SMILES of the structure ('' when empty)."""
        return editing.to_smiles(self._mol)

    def problem_atoms(self) -> dict[int, str]:
        """Atoms with a valence problem: atom index → reason."""
        return dict(self._problems)

    def stereo_labels(self) -> dict[str, dict[int, str]]:
        """CIP labels of the structure (computed while stereo labels are shown, else empty)."""
        return {key: dict(value) for key, value in self._stereo.items()}

    def selected_atoms(self) -> frozenset[int]:
        return self._selection

    def set_selected_atoms(self, indices: set[int] | frozenset[int]) -> None:
        n_atoms = self._mol.GetNumAtoms()
        self._selection = frozenset(i for i in indices if 0 <= i < n_atoms)
        self.canvas.update()

    def tool(self) -> str:
        return self._tool

    def tools(self) -> list[str]:
        """Every tool name :meth:`set_tool` accepts (besides ``atom:<any element>``)."""
        return _tool_names()

    def set_tool(self, name: str) -> None:
        """Choose the tool: ``atom:<symbol>``, ``bond:single|double|triple|aromatic|wedge|hash``,
        ``ring:3`` … ``ring:8``, ``ring:benzene``, ``charge:+``, ``charge:-``, ``erase``, ``select``.

        Raises
        ------
        ValueError
            For an unknown tool or element.
        """
        if name.startswith("atom:"):
            symbol = Chem.GetPeriodicTable().GetElementSymbol(editing.atomic_number(name[5:]))
            name = f"atom:{symbol}"
            if name not in self.tool_actions:
                self._add_tool(self._atoms_bar, name, symbol, f"{symbol} atom")
        elif name not in _tool_names():
            raise ValueError(f"Unknown editor tool {name!r}")
        self._tool = name
        self.tool_actions[name].setChecked(True)
        self.canvas.setCursor(
            Qt.CursorShape.ArrowCursor if name == "select" else Qt.CursorShape.CrossCursor
        )
        self.canvas.update()

    def choose_element(self) -> None:
        """Open the periodic table; the element chosen becomes the atom tool."""
        symbol = PeriodicTableDialog.choose_element(self)
        if symbol:
            self.set_tool(f"atom:{symbol}")

    def set_molecule(self, mol: Chem.Mol | None, undoable: bool = True) -> bool:
        """Show ``mol`` (any RDKit molecule; ``None`` clears). With ``undoable=False`` the undo
        history starts afresh (for loading another compound). Returns False when ``mol`` cannot be
        shown (the reason goes to :attr:`status_message`)."""
        try:
            prepared = editing.prepare_molecule(mol)
        except Exception as error:  # RDKit raises several types; the editor must stay usable
            log.exception("Cannot show a molecule in the editor")
            self._report(f"Cannot show this molecule: {error}")
            return False
        if undoable:
            self.undo_stack.push(_EditCommand(self, self._mol, prepared, "Set molecule"))
        else:
            self.undo_stack.clear()
            self._show_molecule(prepared)
        self.canvas.fit()
        return True

    def clear(self) -> None:
        """Remove everything (undoable)."""
        if self._mol.GetNumAtoms():
            self._apply("Clear", lambda mol: editing.empty_molecule())

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    def clean_up(self) -> None:
        """A fresh 2D layout of the structure (undoable); stereo is kept."""
        if self._mol.GetNumAtoms() and self._apply("Clean up", editing.clean_layout):
            self.canvas.fit()

    def copy_smiles(self) -> str:
        """Put the canonical SMILES on the clipboard and return it."""
        text = self.smiles()
        if not text:
            self._report("Nothing to copy: the canvas is empty")
            return ""
        QGuiApplication.clipboard().setText(text)
        self._report(f"Copied SMILES {text}")
        return text

    def copy_molblock(self) -> str:
        """Put a MolBlock with the drawn coordinates on the clipboard and return it."""
        if self._mol.GetNumAtoms() == 0:
            self._report("Nothing to copy: the canvas is empty")
            return ""
        text = editing.to_molblock(self._mol)
        QGuiApplication.clipboard().setText(text)
        self._report("Copied MolBlock")
        return text

    def paste(self) -> bool:
        """Replace the structure by the SMILES or MolBlock on the clipboard (undoable)."""
        text = QGuiApplication.clipboard().text()
        try:
            mol = editing.from_text(text)
        except ValueError as error:
            self._report(f"Cannot paste: {error}")
            return False
        if not self.set_molecule(mol):
            return False
        if not self._problems:
            self._report(f"Pasted {self.smiles()}")
        return True

    def set_show_stereo(self, show: bool) -> None:
        """Show R/S at stereocentres and E/Z at double bonds."""
        self._show_stereo = bool(show)
        if self.stereo_action.isChecked() != self._show_stereo:
            self.stereo_action.setChecked(self._show_stereo)
        self._update_stereo()
        self.canvas.update()

    def show_stereo(self) -> bool:
        return self._show_stereo

    def atom_position(self, index: int) -> QPoint:
        """Where atom ``index`` is drawn, in canvas pixels (for tests and tools)."""
        x, y = editing.positions(self._mol)[index]
        return self.canvas.to_pixel((x, y)).toPoint()

    def bond_position(self, index: int) -> QPoint:
        """The middle of bond ``index``, in canvas pixels."""
        bond = self._mol.GetBondWithIdx(index)
        coords = editing.positions(self._mol)
        x, y = (coords[bond.GetBeginAtomIdx()] + coords[bond.GetEndAtomIdx()]) / 2
        return self.canvas.to_pixel((x, y)).toPoint()

    # ------------------------------------------------------------------------------- editing

    def _apply(
        self,
        description: str,
        edit: Callable[..., Chem.Mol],
        *args: object,
        keep_selection: bool = False,
    ) -> bool:
        """Run ``edit(molecule, *args)`` and push the result as one undoable command.

        An exception (RDKit raises RuntimeError, ValueError and its own types) leaves the
        molecule as it was and becomes a status message.
        """
        try:
            new = edit(self._mol, *args)
        except ValueError as error:  # core's own refusal, with a message for the chemist
            log.warning("Editor: %s refused: %s", description, error)
            self._report(f"{description} failed: {error}")
            return False
        except Exception as error:  # see the docstring: any failure must leave a usable editor
            log.exception("Editor: %s failed", description)
            self._report(f"{description} failed: {error}")
            return False
        selection = self._selection if keep_selection else frozenset()
        self.undo_stack.push(_EditCommand(self, self._mol, new, description, selection))
        return True

    def _show_molecule(self, mol: Chem.Mol, selection: frozenset[int] = frozenset()) -> None:
        """Make ``mol`` the current molecule (called by the undo commands)."""
        had_problems = bool(self._problems)
        self._mol = mol
        self._selection = selection
        try:
            self._problems = editing.valence_problems(mol)
        except Exception:  # a check that fails must not take the edit with it
            log.exception("Valence check failed")
            self._problems = {}
        self._update_stereo()
        self.canvas.molecule_replaced()
        self._update_status_label()
        if self._problems:
            self._report(self._problem_summary())
        elif had_problems:
            self._report("Valence problems resolved")
        self.molecule_changed.emit(Chem.Mol(mol))

    def _update_stereo(self) -> None:
        empty: dict[str, dict[int, str]] = {"atoms": {}, "bonds": {}}
        if not self._show_stereo:
            self._stereo = empty
            return
        try:
            self._stereo = editing.stereo_labels(self._mol)
        except Exception:  # labels are decoration; a failure must not stop editing
            log.exception("CIP labelling failed")
            self._stereo = empty

    def _problem_summary(self) -> str:
        index, reason = min(self._problems.items())
        text = f"Atom {index + 1}: {reason}"
        if len(self._problems) > 1:
            text += f" (and {len(self._problems) - 1} more atoms with problems)"
        return text

    def _report(self, message: str) -> None:
        self.status_label.setText(message)
        self.status_message.emit(message)

    def _update_status_label(self) -> None:
        if self._problems:
            self.status_label.setText(self._problem_summary())
            self.status_label.setStyleSheet("color: #b00000;")
            return
        self.status_label.setStyleSheet("")
        smiles = self.smiles()
        self.status_label.setText(smiles or "Empty: click to draw, or paste a SMILES (Ctrl+V)")

    def click(self, item: tuple[str, int] | None, xy: tuple[float, float]) -> None:
        """What a click with the current tool does on ``item`` (``("atom", i)``, ``("bond", j)`` or
        ``None`` for empty space at model point ``xy``)."""
        kind, _, name = self._tool.partition(":")
        if kind == "atom":
            if item is None:
                self._apply(f"Add {name}", editing.add_atom, name, xy)
            elif item[0] == "atom":
                self._apply(f"Place {name}", editing.set_element_or_attach, item[1], name)
        elif kind == "bond":
            self._bond_click(name, item, xy)
        elif kind == "ring":
            size, aromatic = (6, True) if name == "benzene" else (int(name), False)
            label = "benzene ring" if aromatic else f"{size}-ring"
            if item is None:
                self._apply(f"Add {label}", editing.add_ring_at_point, size, xy, aromatic)
            elif item[0] == "atom":
                self._apply(f"Add {label}", editing.add_ring_on_atom, item[1], size, aromatic)
            else:
                self._apply(f"Fuse {label}", editing.fuse_ring_on_bond, item[1], size, aromatic)
        elif kind == "charge":
            if item is not None and item[0] == "atom":
                delta = 1 if name == "+" else -1
                self._apply("Change charge", editing.set_charge, item[1], delta)
        elif kind == "erase" and item is not None:
            self._erase(item)

    def _erase(self, item: tuple[str, int]) -> None:
        if item[0] == "atom":
            self._apply("Erase atom", editing.delete_atoms, [item[1]])
        else:
            self._apply("Erase bond", editing.delete_bond, item[1])

    def _bond_click(self, name: str, item: tuple[str, int] | None, xy: tuple[float, float]) -> None:
        order = editing.BOND_ORDERS.get(name, Chem.BondType.SINGLE)
        stereo = name if name in ("wedge", "hash") else None
        if item is not None and item[0] == "bond":
            bond = self._mol.GetBondWithIdx(item[1])
            if stereo is not None:
                if bond.GetBondDir() == editing.STEREO_KINDS[stereo]:
                    start = bond.GetEndAtomIdx()  # the same wedge again: turn it round
                else:
                    begin, end = bond.GetBeginAtom(), bond.GetEndAtom()
                    # The narrow end goes to the likelier stereocentre: the busier atom.
                    start = end.GetIdx() if end.GetDegree() > begin.GetDegree() else begin.GetIdx()
                self._apply(
                    f"{stereo.capitalize()} bond", editing.set_bond_stereo, item[1], stereo, start
                )
            elif bond.GetBondType() == order and bond.GetBondDir() not in _WEDGE_DIRS:
                self._apply("Change bond", editing.cycle_bond_order, item[1])
            else:
                self._apply("Change bond", editing.set_bond_order, item[1], order)
            return

        def edit(mol: Chem.Mol) -> Chem.Mol:
            if item is None:
                mol = editing.add_atom(mol, "C", xy)
                start = mol.GetNumAtoms() - 1
            else:
                start = item[1]
            mol = editing.add_atom_bonded(mol, start, "C", order)
            if stereo is not None:
                mol = editing.set_bond_stereo(mol, mol.GetNumBonds() - 1, stereo, start)
            return mol

        self._apply(f"Add {name} bond", edit)

    def drag(
        self,
        start: tuple[str, int] | None,
        start_xy: tuple[float, float],
        end: tuple[str, int] | None,
        end_xy: tuple[float, float],
    ) -> None:
        """What a drag with an atom or bond tool does: a bond from the start atom (or a new atom
        at ``start_xy``) to the atom under the release point, or to a new atom one bond length
        away in the dragged direction. Other tools treat a drag as a click where it started."""
        kind, _, name = self._tool.partition(":")
        if kind not in ("atom", "bond") or (start is not None and start[0] == "bond"):
            self.click(start, start_xy)
            return
        symbol = name if kind == "atom" else "C"
        order = editing.BOND_ORDERS.get(name, Chem.BondType.SINGLE) if kind == "bond" else None
        order = order or Chem.BondType.SINGLE
        stereo = name if kind == "bond" and name in ("wedge", "hash") else None
        target = end[1] if end is not None and end[0] == "atom" else None
        if start is not None and target == start[1]:
            self.click(start, start_xy)
            return

        def edit(mol: Chem.Mol) -> Chem.Mol:
            if start is None:
                mol = editing.add_atom(mol, "C", start_xy)
                first = mol.GetNumAtoms() - 1
            else:
                first = start[1]
            if target is not None:
                mol = editing.add_bond(mol, first, target, order)
                bond = mol.GetBondBetweenAtoms(first, target).GetIdx()
            else:
                position = snapped_end(editing.positions(mol)[first], end_xy)
                mol = editing.add_atom_bonded(mol, first, symbol, order, position=position)
                bond = mol.GetNumBonds() - 1
            if stereo is not None:
                mol = editing.set_bond_stereo(mol, bond, stereo, first)
            return mol

        self._apply("Draw bond", edit)

    def erase_selection(self) -> None:
        if self._selection:
            self._apply("Erase selection", editing.delete_atoms, sorted(self._selection))

    # ------------------------------------------------------------------------------- keyboard

    def handles_key(self, event: QKeyEvent) -> bool:
        """Whether :meth:`keyPressEvent` acts on this key (used to win over window shortcuts)."""
        standard = (
            QKeySequence.StandardKey.Undo,
            QKeySequence.StandardKey.Redo,
            QKeySequence.StandardKey.Copy,
            QKeySequence.StandardKey.Paste,
        )
        if any(event.matches(key) for key in standard) or _is_ctrl_key(event, Qt.Key.Key_Y):
            return True
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return True
        return _plain(event) and (event.key() in ELEMENT_KEYS or event.key() in TOOL_KEYS)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
        elif event.matches(QKeySequence.StandardKey.Redo) or _is_ctrl_key(event, Qt.Key.Key_Y):
            self.redo()
        elif event.matches(QKeySequence.StandardKey.Copy):
            self.copy_smiles()
        elif event.matches(QKeySequence.StandardKey.Paste):
            self.paste()
        elif event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            if self._selection:
                self.erase_selection()
            elif self.canvas.hover is not None:
                self._erase(self.canvas.hover)
        elif _plain(event) and event.key() in ELEMENT_KEYS:
            symbol = ELEMENT_KEYS[Qt.Key(event.key())]
            self.set_tool(f"atom:{symbol}")
            hover = self.canvas.hover
            # ChemDraw's habit: a key over an atom relabels that atom.
            if (
                hover is not None
                and hover[0] == "atom"
                and self._mol.GetAtomWithIdx(hover[1]).GetSymbol() != symbol
            ):
                self._apply(f"Set {symbol}", editing.set_element, hover[1], symbol)
        elif _plain(event) and event.key() in TOOL_KEYS:
            self.set_tool(TOOL_KEYS[Qt.Key(event.key())])
            hover = self.canvas.hover
            if hover is not None and hover[0] == "bond" and self._tool.startswith("bond:"):
                self.click(hover, (0.0, 0.0))
        else:
            super().keyPressEvent(event)
            return
        event.accept()


_WEDGE_DIRS = (Chem.BondDir.BEGINWEDGE, Chem.BondDir.BEGINDASH)


def _plain(event: QKeyEvent) -> bool:
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)


def _is_ctrl_key(event: QKeyEvent, key: Qt.Key) -> bool:
    return event.key() == key and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)


def snapped_end(start: np.ndarray, towards: tuple[float, float]) -> tuple[float, float]:
    """One bond length from ``start`` towards ``towards``, the angle rounded to 15°."""
    angle = math.degrees(math.atan2(towards[1] - start[1], towards[0] - start[0]))
    angle = math.radians(round(angle / SNAP_DEGREES) * SNAP_DEGREES)
    length = editing.BOND_LENGTH
    return (float(start[0] + length * math.cos(angle)), float(start[1] + length * math.sin(angle)))


class EditorCanvas(QWidget):
    """Draws the editor's molecule and turns mouse gestures into editor clicks and drags."""

    def __init__(self, editor: StructureEditor) -> None:
        super().__init__(editor)
        self.editor = editor
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(240, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(False)
        self.scale = DEFAULT_SCALE
        self.centre = (0.0, 0.0)
        self.hover: tuple[str, int] | None = None
        self._press: QPointF | None = None
        self._press_item: tuple[str, int] | None = None
        self._mode: str | None = None
        self._dragging = False
        self._cursor = QPointF()
        self._preview: Chem.Mol | None = None
        self._auto_fit = True
        """True until the user zooms: a resize then fits the molecule again."""

    # ------------------------------------------------------------------------ coordinates

    # The one place where model coordinates (x right, y up) and pixels (y down) meet: pixel =
    # origin + (x, -y) * scale, with the model point ``centre`` in the middle of the canvas.

    def _origin(self) -> tuple[float, float]:
        return (
            self.width() / 2 - self.centre[0] * self.scale,
            self.height() / 2 + self.centre[1] * self.scale,
        )

    def to_pixel(self, xy: tuple[float, float]) -> QPointF:
        """Model point → canvas pixel."""
        ox, oy = self._origin()
        return QPointF(ox + xy[0] * self.scale, oy - xy[1] * self.scale)

    def to_model(self, point: QPointF | QPoint) -> tuple[float, float]:
        """Canvas pixel → model point."""
        ox, oy = self._origin()
        return ((point.x() - ox) / self.scale, (oy - point.y()) / self.scale)

    def _pixels(self, mol: Chem.Mol) -> np.ndarray:
        """Pixel positions of all atoms, shape ``(n_atoms, 2)``."""
        ox, oy = self._origin()
        coords = editing.positions(mol)
        return np.column_stack((ox + coords[:, 0] * self.scale, oy - coords[:, 1] * self.scale))

    def fit(self) -> None:
        """Centre the molecule and zoom out (never in beyond :data:`DEFAULT_SCALE`) to show it."""
        coords = editing.positions(self.editor._mol)
        if len(coords) == 0:
            self.scale, self.centre = DEFAULT_SCALE, (0.0, 0.0)
        else:
            low, high = coords.min(axis=0), coords.max(axis=0)
            span = np.maximum(high - low, 1e-6)
            room_x = max(self.width() - 2 * MARGIN, 40) / span[0]
            room_y = max(self.height() - 2 * MARGIN, 40) / span[1]
            self.scale = float(max(MIN_SCALE, min(DEFAULT_SCALE, room_x, room_y)))
            self.centre = (float((low[0] + high[0]) / 2), float((low[1] + high[1]) / 2))
        self._auto_fit = True
        self.update()

    def _all_visible(self) -> bool:
        pixels = self._pixels(self.editor._mol)
        if len(pixels) == 0:
            return True
        inside_x = (pixels[:, 0] >= MARGIN / 2) & (pixels[:, 0] <= self.width() - MARGIN / 2)
        inside_y = (pixels[:, 1] >= MARGIN / 2) & (pixels[:, 1] <= self.height() - MARGIN / 2)
        return bool(np.all(inside_x & inside_y))

    def molecule_replaced(self) -> None:
        # The view stays put while drawing (atoms must not jump under the cursor); it moves only
        # when the molecule would leave the canvas.
        self._preview = None
        if self.hover is not None and self._item_gone(self.hover):
            self.hover = None
        if not self._all_visible():
            self.fit()
        self.update()

    def _item_gone(self, item: tuple[str, int]) -> bool:
        mol = self.editor._mol
        count = mol.GetNumAtoms() if item[0] == "atom" else mol.GetNumBonds()
        return item[1] >= count

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit or not self._all_visible():
            self.fit()

    # ---------------------------------------------------------------------------- hit tests

    def item_at(self, point: QPointF | QPoint) -> tuple[str, int] | None:
        """``("atom", i)``, ``("bond", j)`` or ``None`` under a canvas pixel (atoms first)."""
        mol = self.editor._mol
        xy = self.to_model(point)
        atom = editing.nearest_atom(mol, xy, ATOM_PICK_PX / self.scale)
        if atom is not None:
            return ("atom", atom)
        bond = editing.nearest_bond(mol, xy, BOND_PICK_PX / self.scale)
        return ("bond", bond) if bond is not None else None

    # -------------------------------------------------------------------------------- mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._press = event.position()
        self._cursor = event.position()
        self._press_item = self.item_at(self._press)
        self._dragging = False
        if self.editor.tool() != "select":
            self._mode = "draw"
        elif self._press_item is None:
            self._mode = "rubber"
        else:
            atoms = self._atoms_of(self._press_item)
            if not atoms <= self.editor.selected_atoms():
                self.editor.set_selected_atoms(atoms)
            self._mode = "move"
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._cursor = event.position()
        if self._press is None:
            item = self.item_at(self._cursor)
            if item != self.hover:
                self.hover = item
                self.update()
            return
        if not self._dragging:
            moved = self._cursor - self._press
            self._dragging = abs(moved.x()) + abs(moved.y()) >= DRAG_START_PX
        if self._dragging and self._mode == "move":
            try:
                self._preview = editing.move_atoms(
                    self.editor._mol, self.editor.selected_atoms(), self._model_delta()
                )
            except Exception:  # a preview that fails just is not shown
                log.exception("Move preview failed")
                self._preview = None
        self.hover = self.item_at(self._cursor) if self._mode == "draw" else self.hover
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            super().mouseReleaseEvent(event)
            return
        self._cursor = event.position()
        press, press_item, mode = self._press, self._press_item, self._mode
        dragging = self._dragging
        self._press, self._mode, self._dragging, self._preview = None, None, False, None
        editor = self.editor
        if mode == "move":
            if dragging:
                editor._apply(
                    "Move atoms",
                    editing.move_atoms,
                    editor.selected_atoms(),
                    self._model_delta(press),
                    keep_selection=True,
                )
            elif press_item is not None:
                editor.set_selected_atoms(self._atoms_of(press_item))  # a click picks one
        elif mode == "rubber":
            if dragging:
                editor.set_selected_atoms(self._atoms_in(QRectF(press, self._cursor).normalized()))
            else:
                editor.set_selected_atoms(set())
        elif mode == "draw":
            if dragging:
                end_item = self.item_at(self._cursor)
                editor.drag(press_item, self.to_model(press), end_item, self.to_model(self._cursor))
            else:
                editor.click(press_item, self.to_model(press))
        self.hover = self.item_at(self._cursor)
        self.update()
        event.accept()

    def leaveEvent(self, event) -> None:
        self.hover = None
        self.update()
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        anchor = self.to_model(event.position())
        self.scale = float(min(MAX_SCALE, max(MIN_SCALE, self.scale * 1.15**steps)))
        self._auto_fit = False
        # Keep the model point under the cursor where it was.
        after = self.to_model(event.position())
        self.centre = (
            self.centre[0] + anchor[0] - after[0],
            self.centre[1] + anchor[1] - after[1],
        )
        self.update()
        event.accept()

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and self.editor.handles_key(event)
        ):
            # Like a line edit: while the canvas has focus, Ctrl+Z/C/V and the tool keys are the
            # editor's, not the main window's shortcuts.
            event.accept()
            return True
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.position())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def tooltip_at(self, point: QPointF | QPoint) -> str:
        """The tooltip for the atom under ``point``: its problem, if any."""
        item = self.item_at(point)
        if item is None or item[0] != "atom":
            return ""
        atom = self.editor._mol.GetAtomWithIdx(item[1])
        problem = self.editor._problems.get(item[1])
        if problem:
            return f"Atom {item[1] + 1}: {problem}"
        return f"Atom {item[1] + 1}: {atom.GetSymbol()}"

    def _atoms_of(self, item: tuple[str, int]) -> frozenset[int]:
        if item[0] == "atom":
            return frozenset({item[1]})
        bond = self.editor._mol.GetBondWithIdx(item[1])
        return frozenset({bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()})

    def _atoms_in(self, rect: QRectF) -> set[int]:
        pixels = self._pixels(self.editor._mol)
        return {i for i, (x, y) in enumerate(pixels) if rect.contains(QPointF(x, y))}

    def _model_delta(self, press: QPointF | None = None) -> tuple[float, float]:
        start = press if press is not None else self._press
        return (
            (self._cursor.x() - start.x()) / self.scale,
            -(self._cursor.y() - start.y()) / self.scale,
        )

    # ----------------------------------------------------------------------------- painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        mol = self._preview if self._preview is not None else self.editor._mol
        try:
            if mol.GetNumAtoms() == 0:
                self._paint_hint(painter)
            else:
                _MoleculePainter(self, painter, mol).paint()
            self._paint_gesture(painter)
        finally:
            painter.end()

    def _paint_hint(self, painter: QPainter) -> None:
        painter.setPen(QColor(150, 150, 150))
        font = QFont(self.font())
        font.setPixelSize(13)
        painter.setFont(font)
        painter.drawText(
            self.rect().adjusted(20, 20, -20, -20),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            "Click to draw with the tool chosen above.\n"
            "Keys: C N O S P F L(Cl) B(Br) I H for atoms, 1 2 3 for bonds, R for benzene.\n"
            "Ctrl+V pastes a SMILES or MolBlock.",
        )

    def _paint_gesture(self, painter: QPainter) -> None:
        if self._press is None or not self._dragging:
            return
        if self._mode == "rubber":
            painter.setPen(QPen(QColor(70, 140, 255), 1, Qt.PenStyle.DashLine))
            painter.setBrush(QColor(70, 140, 255, 30))
            painter.drawRect(QRectF(self._press, self._cursor).normalized())
        elif self._mode == "draw" and self.editor.tool().split(":")[0] in ("atom", "bond"):
            item = self._press_item
            if item is not None and item[0] == "bond":
                return
            mol = self.editor._mol
            start = (
                editing.positions(mol)[item[1]] if item is not None else self.to_model(self._press)
            )
            target = self.item_at(self._cursor)
            if target is not None and target[0] == "atom" and target != item:
                end = editing.positions(mol)[target[1]]
            else:
                end = snapped_end(np.asarray(start), self.to_model(self._cursor))
            painter.setPen(QPen(QColor(70, 140, 255), 2, Qt.PenStyle.DashLine))
            painter.drawLine(self.to_pixel(tuple(start)), self.to_pixel(tuple(end)))


class _MoleculePainter:
    """Paints one molecule on the canvas: bonds, labels, highlights, problems, stereo labels."""

    def __init__(self, canvas: EditorCanvas, painter: QPainter, mol: Chem.Mol) -> None:
        self.canvas = canvas
        self.editor = canvas.editor
        self.painter = painter
        self.mol = mol
        self.points = canvas._pixels(mol)
        self.bond_px = editing.BOND_LENGTH * canvas.scale
        self.font = QFont(canvas.font())
        self.font.setPixelSize(int(max(9, min(22, round(self.bond_px * 0.36)))))
        self.small_font = QFont(self.font)
        self.small_font.setPixelSize(max(7, int(self.font.pixelSize() * 0.7)))
        self.metrics = QFontMetricsF(self.font)
        self.small_metrics = QFontMetricsF(self.small_font)
        self.problems = self.editor._problems if mol is self.editor._mol else {}
        self.labels = {i: self._label(atom) for i, atom in enumerate(mol.GetAtoms())}
        self.ring_centres = self._ring_centres()

    def paint(self) -> None:
        self._paint_highlights()
        for bond in self.mol.GetBonds():
            self._paint_bond(bond)
        for index, label in self.labels.items():
            if label is not None:
                self._paint_label(index, label)
        for index in self.problems:
            if index < len(self.points):
                self._paint_problem(index)
        if self.editor._show_stereo and self.mol is self.editor._mol:
            self._paint_stereo()

    # ------------------------------------------------------------------------------ labels

    def _label(self, atom: Chem.Atom) -> tuple[str, str, str] | None:
        """(symbol, hydrogens, charge) for an atom drawn with a label, else None."""
        symbol = atom.GetSymbol()
        charge = atom.GetFormalCharge()
        if (
            symbol == "C"
            and charge == 0
            and atom.GetDegree() > 0
            and atom.GetIsotope() == 0
            and atom.GetIdx() not in self.problems
        ):
            return None
        try:
            hydrogens = atom.GetTotalNumHs()
        except RuntimeError:  # no implicit valence on some impossible atoms
            hydrogens = 0
        h_text = "" if hydrogens == 0 else ("H" if hydrogens == 1 else f"H{hydrogens}")
        if charge == 0:
            charge_text = ""
        else:
            charge_text = (str(abs(charge)) if abs(charge) > 1 else "") + (
                "+" if charge > 0 else "−"
            )
        if atom.GetIsotope():
            symbol = f"{atom.GetIsotope()}{symbol}"
        return symbol, h_text, charge_text

    def _label_radius(self, index: int) -> float:
        label = self.labels.get(index)
        if label is None:
            return 0.0
        return max(self.metrics.horizontalAdvance(label[0]) / 2, self.metrics.ascent() * 0.42) + 2

    def _colour(self, index: int) -> QColor:
        if index in self.problems:
            return PROBLEM_COLOUR
        symbol = self.mol.GetAtomWithIdx(index).GetSymbol()
        return HETEROATOM_COLOURS.get(symbol, QColor(20, 20, 20))

    def _paint_label(self, index: int, label: tuple[str, str, str]) -> None:
        painter = self.painter
        symbol, h_text, charge_text = label
        x, y = self.points[index]
        width = self.metrics.horizontalAdvance(symbol)
        ascent = self.metrics.ascent()
        baseline = y + ascent * 0.36  # centres capital letters on the atom
        # Hydrogens go on the side away from the bonds ("OH" pointing right, "HO" left).
        atom = self.mol.GetAtomWithIdx(index)
        neighbour_dx = sum(self.points[n.GetIdx()][0] - x for n in atom.GetNeighbors())
        h_left = neighbour_dx > 1e-6
        h_width = self._hydrogen_width(h_text)
        left = x - width / 2
        box_left = left - (h_width if h_left else 0)
        box = QRectF(box_left - 1, y - ascent * 0.55, width + h_width + 2, ascent * 1.1)
        painter.fillRect(box, QColor("white"))
        painter.setPen(self._colour(index))
        painter.setFont(self.font)
        painter.drawText(QPointF(left, baseline), symbol)
        if h_text:
            h_x = left - h_width if h_left else left + width
            self._paint_hydrogens(QPointF(h_x, baseline), h_text)
        if charge_text:
            painter.setFont(self.small_font)
            right = left + width + (0 if h_left else h_width)
            painter.drawText(QPointF(right + 1, y - ascent * 0.25), charge_text)

    def _hydrogen_width(self, h_text: str) -> float:
        if not h_text:
            return 0.0
        width = self.metrics.horizontalAdvance("H")
        if len(h_text) > 1:
            width += self.small_metrics.horizontalAdvance(h_text[1:])
        return width

    def _paint_hydrogens(self, origin: QPointF, h_text: str) -> None:
        painter = self.painter
        painter.setFont(self.font)
        painter.drawText(origin, "H")
        if len(h_text) > 1:
            painter.setFont(self.small_font)
            x = origin.x() + self.metrics.horizontalAdvance("H")
            painter.drawText(QPointF(x, origin.y() + self.metrics.ascent() * 0.25), h_text[1:])
            painter.setFont(self.font)

    # ------------------------------------------------------------------------------- bonds

    def _ring_centres(self) -> dict[int, np.ndarray]:
        """For each ring bond, the centre of the ring its inner double line goes into."""
        centres: dict[int, np.ndarray] = {}
        try:
            rings = self.mol.GetRingInfo().BondRings()
        except RuntimeError:  # ring info not initialised on a foreign molecule
            return centres
        # Rings with more double bonds first: a fused benzene keeps its inner lines inside.
        ranked = sorted(
            rings,
            key=lambda ring: (
                -sum(
                    self.mol.GetBondWithIdx(b).GetBondType() != Chem.BondType.SINGLE for b in ring
                ),
                len(ring),
            ),
        )
        for ring in ranked:
            atoms = set()
            for b in ring:
                bond = self.mol.GetBondWithIdx(b)
                atoms.update((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()))
            centre = self.points[sorted(atoms)].mean(axis=0)
            for b in ring:
                centres.setdefault(b, centre)
        return centres

    def _paint_bond(self, bond: Chem.Bond) -> None:
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        pa, pb = self.points[a], self.points[b]
        length = float(np.linalg.norm(pb - pa))
        if length < 1e-6:
            return
        unit = (pb - pa) / length
        start = pa + unit * self._label_radius(a)
        end = pb - unit * self._label_radius(b)
        if float((end - start) @ unit) <= 0:
            return  # labels overlap: nothing of the bond to show
        highlighted = a in self.problems and b in self.problems
        colour = PROBLEM_COLOUR if highlighted else QColor(20, 20, 20)
        width = max(1.2, self.bond_px / 28)
        pen = QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter = self.painter
        painter.setPen(pen)
        kind = bond.GetBondType()
        direction = bond.GetBondDir()
        normal = np.array([-unit[1], unit[0]])
        gap = self.bond_px * 0.16
        if direction in _WEDGE_DIRS and kind == Chem.BondType.SINGLE:
            self._paint_wedge(start, end, normal, hashed=direction == Chem.BondDir.BEGINDASH)
            return
        if kind == Chem.BondType.DOUBLE or kind == Chem.BondType.AROMATIC:
            side = self._double_side(bond, pa, pb, normal)
            if side == 0:
                self._line(start + normal * gap / 2, end + normal * gap / 2)
                self._line(start - normal * gap / 2, end - normal * gap / 2)
                return
            self._line(start, end)
            inner_start = start + side * normal * gap
            inner_end = end + side * normal * gap
            trim = unit * min(length * 0.12, gap)
            if self.labels.get(a) is None:
                inner_start = inner_start + trim
            if self.labels.get(b) is None:
                inner_end = inner_end - trim
            if kind == Chem.BondType.AROMATIC:
                painter.setPen(QPen(colour, width, Qt.PenStyle.DashLine))
            self._line(inner_start, inner_end)
            return
        self._line(start, end)
        if kind == Chem.BondType.TRIPLE:
            self._line(start + normal * gap, end + normal * gap)
            self._line(start - normal * gap, end - normal * gap)
        elif kind not in (Chem.BondType.SINGLE, Chem.BondType.DOUBLE):
            painter.setPen(QPen(colour, width, Qt.PenStyle.DotLine))
            self._line(start + normal * gap, end + normal * gap)

    def _double_side(
        self, bond: Chem.Bond, pa: np.ndarray, pb: np.ndarray, normal: np.ndarray
    ) -> int:
        """+1 or −1: which side the second line goes; 0: centred (C=O, terminal =CH2)."""
        centre = self.ring_centres.get(bond.GetIdx())
        if centre is not None:
            return 1 if float((centre - pa) @ normal) > 0 else -1
        begin, end = bond.GetBeginAtom(), bond.GetEndAtom()
        if begin.GetDegree() == 1 or end.GetDegree() == 1:
            return 0
        total = 0
        for atom, origin in ((begin, pa), (end, pb)):
            for neighbour in atom.GetNeighbors():
                if neighbour.GetIdx() in (begin.GetIdx(), end.GetIdx()):
                    continue
                total += np.sign(float((self.points[neighbour.GetIdx()] - origin) @ normal))
        return int(np.sign(total))

    def _paint_wedge(
        self, start: np.ndarray, end: np.ndarray, normal: np.ndarray, hashed: bool
    ) -> None:
        painter = self.painter
        half = max(3.0, self.bond_px * 0.09)
        colour = painter.pen().color()
        if not hashed:
            polygon = QPolygonF(
                [
                    QPointF(*start),
                    QPointF(*(end + normal * half)),
                    QPointF(*(end - normal * half)),
                ]
            )
            painter.setBrush(QBrush(colour))
            painter.setPen(QPen(colour, 1))
            painter.drawPolygon(polygon)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            return
        painter.setPen(QPen(colour, max(1.0, self.bond_px / 36)))
        count = max(4, int(self.bond_px / 6))
        for k in range(1, count + 1):
            t = k / count
            centre = start + (end - start) * t
            self._line(centre + normal * half * t, centre - normal * half * t)

    def _line(self, p: np.ndarray, q: np.ndarray) -> None:
        self.painter.drawLine(QPointF(float(p[0]), float(p[1])), QPointF(float(q[0]), float(q[1])))

    # -------------------------------------------------------------------------- highlights

    def _paint_highlights(self) -> None:
        painter = self.painter
        radius = max(7.0, self.bond_px * 0.26)
        selection = self.editor._selection if self.mol is self.editor._mol else frozenset()
        painter.setPen(Qt.PenStyle.NoPen)
        if selection:
            painter.setBrush(SELECTION_COLOUR)
            for index in selection:
                if index < len(self.points):
                    painter.drawEllipse(QPointF(*self.points[index]), radius, radius)
            pen = QPen(
                SELECTION_COLOUR, radius * 1.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap
            )
            painter.setPen(pen)
            for bond in self.mol.GetBonds():
                a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
                if a in selection and b in selection:
                    self._line(self.points[a], self.points[b])
            painter.setPen(Qt.PenStyle.NoPen)
        hover = self.canvas.hover
        if hover is None or self.mol is not self.editor._mol:
            return
        if hover[0] == "atom" and hover[1] < len(self.points):
            painter.setBrush(HOVER_COLOUR)
            painter.drawEllipse(QPointF(*self.points[hover[1]]), radius, radius)
        elif hover[0] == "bond" and hover[1] < self.mol.GetNumBonds():
            bond = self.mol.GetBondWithIdx(hover[1])
            pen = QPen(HOVER_COLOUR, radius * 1.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            self._line(self.points[bond.GetBeginAtomIdx()], self.points[bond.GetEndAtomIdx()])
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_problem(self, index: int) -> None:
        painter = self.painter
        radius = max(9.0, self.bond_px * 0.3)
        painter.setPen(QPen(PROBLEM_COLOUR, 1.6))
        painter.setBrush(QColor(255, 0, 0, 40))
        painter.drawEllipse(QPointF(*self.points[index]), radius, radius)
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_stereo(self) -> None:
        labels = self.editor._stereo
        painter = self.painter
        painter.setPen(STEREO_COLOUR)
        font = QFont(self.small_font)
        font.setItalic(True)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        for index, code in labels["atoms"].items():
            point = self.points[index]
            away = self._free_direction(index)
            self._centred_text(point + away * self.bond_px * 0.42, f"({code})", metrics)
        for index, code in labels["bonds"].items():
            bond = self.mol.GetBondWithIdx(index)
            pa, pb = self.points[bond.GetBeginAtomIdx()], self.points[bond.GetEndAtomIdx()]
            unit = (pb - pa) / (np.linalg.norm(pb - pa) or 1)
            normal = np.array([-unit[1], unit[0]])
            side = self._double_side(bond, pa, pb, normal) or 1
            point = (pa + pb) / 2 - side * normal * self.bond_px * 0.35
            self._centred_text(point, f"({code})", metrics)

    def _free_direction(self, index: int) -> np.ndarray:
        """Unit vector (pixels) into the widest gap between an atom's bonds, downwards on ties."""
        point = self.points[index]
        angles = sorted(
            math.atan2(*(self.points[n.GetIdx()] - point)[::-1])
            for n in self.mol.GetAtomWithIdx(index).GetNeighbors()
        )
        if not angles:
            return np.array([0.0, 1.0])
        gaps = [
            ((angles[(k + 1) % len(angles)] - angles[k]) % (2 * math.pi) or 2 * math.pi, k)
            for k in range(len(angles))
        ]
        widest = max(gap for gap, _ in gaps)
        middles = [angles[k] + gap / 2 for gap, k in gaps if gap > widest - 1e-3]
        best = max(middles, key=math.sin)  # pixel y grows downwards
        return np.array([math.cos(best), math.sin(best)])

    def _centred_text(self, point: np.ndarray, text: str, metrics: QFontMetricsF) -> None:
        width = metrics.horizontalAdvance(text)
        self.painter.drawText(
            QPointF(point[0] - width / 2, point[1] + metrics.ascent() * 0.4), text
        )


# ----------------------------------------------------------------------------------- icons


def _icon_pixmap() -> tuple[QPixmap, QPainter]:
    pixmap = QPixmap(44, 44)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(30, 30, 30), 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    return pixmap, painter


def _bond_icon(name: str) -> QIcon:
    pixmap, painter = _icon_pixmap()
    a, b = QPointF(8, 36), QPointF(36, 8)
    offset = QPointF(4, 4)
    if name == "single":
        painter.drawLine(a, b)
    elif name in ("double", "aromatic"):
        painter.drawLine(a - offset, b - offset)
        if name == "aromatic":
            painter.setPen(QPen(QColor(30, 30, 30), 3, Qt.PenStyle.DashLine))
        painter.drawLine(a + offset, b + offset)
    elif name == "triple":
        painter.drawLine(a, b)
        painter.drawLine(a - offset * 1.5, b - offset * 1.5)
        painter.drawLine(a + offset * 1.5, b + offset * 1.5)
    elif name == "wedge":
        painter.setBrush(QColor(30, 30, 30))
        painter.drawPolygon(QPolygonF([a, QPointF(40, 12), QPointF(32, 4)]))
    elif name == "hash":
        painter.setPen(QPen(QColor(30, 30, 30), 2.5))
        for k in range(1, 7):
            t = k / 6
            centre = a + (b - a) * t
            half = QPointF(5, 5) * t  # perpendicular to the bond's (1, -1) direction
            painter.drawLine(centre - half, centre + half)
    painter.end()
    return QIcon(pixmap)


def _ring_icon(name: str) -> QIcon:
    pixmap, painter = _icon_pixmap()
    size = 6 if name == "benzene" else int(name)
    radius = 17
    start = math.pi / 2 + (math.pi / size if size % 4 == 0 else 0.0)
    points = [
        QPointF(
            22 + radius * math.cos(start + 2 * math.pi * k / size),
            22 - radius * math.sin(start + 2 * math.pi * k / size),
        )
        for k in range(size)
    ]
    painter.drawPolygon(QPolygonF(points))
    if name == "benzene":
        path = QPainterPath()
        path.addEllipse(QPointF(22, 22), 9, 9)
        painter.drawPath(path)
    painter.end()
    return QIcon(pixmap)
