"""The structure editor: mouse and keys drive core.chem.editing; undo/redo restore exact molecules."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QApplication
from rdkit import Chem

from core.chem import editing
from ui.molecules import editor as editor_module
from ui.molecules.editor import StructureEditor
from ui.molecules.periodic_table import PeriodicTableDialog, element_cell

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def editor(qtbot):
    widget = StructureEditor()
    qtbot.addWidget(widget)
    widget.resize(640, 520)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def messages(editor):
    seen: list[str] = []
    editor.status_message.connect(seen.append)
    return seen


def canvas_centre(editor) -> QPoint:
    return editor.canvas.rect().center()


def click(qtbot, editor, point: QPoint) -> None:
    qtbot.mouseClick(editor.canvas, LEFT, pos=point)


def drag(qtbot, editor, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(editor.canvas, LEFT, pos=start)
    middle = (start + end) / 2
    qtbot.mouseMove(editor.canvas, pos=QPoint(int(middle.x()), int(middle.y())))
    qtbot.mouseMove(editor.canvas, pos=end)
    qtbot.mouseRelease(editor.canvas, LEFT, pos=end)


def molblock(mol: Chem.Mol) -> str:
    return Chem.MolToMolBlock(mol, kekulize=False)


def draw_benzene(qtbot, editor) -> None:
    editor.set_tool("ring:benzene")
    with qtbot.waitSignal(editor.molecule_changed, timeout=1000) as blocker:
        click(qtbot, editor, canvas_centre(editor))
    assert blocker.args[0].GetNumAtoms() == 6


def test_draw_benzene_add_oxygen_undo_redo(qtbot, editor):
    assert editor.smiles() == ""
    draw_benzene(qtbot, editor)
    assert editor.smiles() == "c1ccccc1"
    # The ring is centred where the click was.
    centre = sum((editor.atom_position(i) for i in range(6)), QPoint()) / 6
    assert (centre - canvas_centre(editor)).manhattanLength() <= 2
    benzene = editor.molecule()

    editor.set_tool("atom:O")
    click(qtbot, editor, editor.atom_position(0))
    assert editor.smiles() == "Oc1ccccc1"
    phenol = editor.molecule()
    assert phenol.GetNumAtoms() == 7

    editor.undo()
    assert editor.smiles() == "c1ccccc1"
    assert editor.molecule().GetNumAtoms() == 6
    assert molblock(editor.molecule()) == molblock(benzene)  # exactly, coordinates included
    editor.redo()
    assert editor.smiles() == "Oc1ccccc1"
    assert molblock(editor.molecule()) == molblock(phenol)
    assert editor.undo_stack.count() == 2

    # Undo has no fixed limit: everything back to the empty canvas.
    editor.undo()
    editor.undo()
    assert editor.smiles() == ""
    assert editor.undo_stack.undoLimit() == 0


def test_keyboard_undo_redo(qtbot, editor):
    draw_benzene(qtbot, editor)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.smiles() == ""
    qtbot.keyClick(
        editor.canvas,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert editor.smiles() == "c1ccccc1"
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert editor.smiles() == "c1ccccc1"


def test_nitrogen_on_a_ring_atom_gives_pyridine(qtbot, editor):
    draw_benzene(qtbot, editor)
    editor.set_tool("atom:N")
    click(qtbot, editor, editor.atom_position(2))
    assert editor.smiles() == "c1ccncc1"


def test_charge_tool(qtbot, editor):
    editor.set_molecule(editing.from_smiles("CC(=O)O"))
    oxygen = next(
        a.GetIdx()
        for a in editor.molecule().GetAtoms()
        if a.GetDegree() == 1
        and a.GetSymbol() == "O"
        and a.GetBonds()[0].GetBondType() == Chem.BondType.SINGLE
    )
    editor.set_tool("charge:-")
    click(qtbot, editor, editor.atom_position(oxygen))
    assert editor.smiles() == "CC(=O)[O-]"
    editor.set_tool("charge:+")
    click(qtbot, editor, editor.atom_position(oxygen))
    click(qtbot, editor, editor.atom_position(oxygen))
    assert editor.smiles() == "CC(=O)[OH2+]"
    # A charge click on empty space does nothing.
    click(qtbot, editor, QPoint(5, 5))
    assert editor.smiles() == "CC(=O)[OH2+]"


def test_erase_atom_and_bond(qtbot, editor):
    editor.set_molecule(editing.from_smiles("CCOC(C)=O"))
    editor.set_tool("erase")
    oxygen = next(
        a.GetIdx()
        for a in editor.molecule().GetAtoms()
        if a.GetSymbol() == "O" and a.GetDegree() == 2
    )
    click(qtbot, editor, editor.atom_position(oxygen))
    assert editor.smiles() == "CC.CC=O"
    bond = editor.molecule().GetBondBetweenAtoms(0, 1).GetIdx()
    click(qtbot, editor, editor.bond_position(bond))
    assert editor.smiles() == "CC=O"  # the erased bond's lone carbons went with it
    click(qtbot, editor, QPoint(3, 3))  # nothing there: nothing happens
    assert editor.smiles() == "CC=O"


def test_paste_smiles_and_molblock_from_the_clipboard(qtbot, editor, messages):
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("CC(=O)Nc1ccc(O)cc1 paracetamol")
    qtbot.keyClick(editor.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert editor.smiles() == Chem.CanonSmiles("CC(=O)Nc1ccc(O)cc1")
    assert messages[-1].startswith("Pasted")

    clipboard.setText(Chem.MolToMolBlock(Chem.MolFromSmiles("C[C@H](N)C(=O)O")))
    assert editor.paste()
    assert editor.smiles() == "C[C@H](N)C(=O)O"
    editor.undo()
    assert editor.smiles() == Chem.CanonSmiles("CC(=O)Nc1ccc(O)cc1")

    clipboard.setText("this is not chemistry")
    assert not editor.paste()
    assert messages[-1].startswith("Cannot paste: Not a valid SMILES")
    assert editor.smiles() == Chem.CanonSmiles("CC(=O)Nc1ccc(O)cc1")
    clipboard.setText("")
    assert not editor.paste()
    assert messages[-1] == "Cannot paste: The clipboard holds no text"


def test_copy_gives_canonical_smiles_and_molblock(qtbot, editor, messages):
    assert editor.copy_smiles() == ""
    assert messages[-1].startswith("Nothing to copy")
    editor.set_molecule(editing.from_smiles("OC1=CC=CC=C1"))
    qtbot.keyClick(editor.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "Oc1ccccc1"
    block = editor.copy_molblock()
    assert QGuiApplication.clipboard().text() == block
    assert Chem.MolToSmiles(Chem.MolFromMolBlock(block)) == "Oc1ccccc1"


def test_pentavalent_carbon_by_clicks_shows_a_problem(qtbot, editor, messages):
    editor.set_tool("atom:C")
    click(qtbot, editor, canvas_centre(editor))
    assert editor.smiles() == "C"
    for _ in range(5):
        click(qtbot, editor, editor.atom_position(0))
    assert editor.smiles() == "CC(C)(C)(C)C"
    assert editor.problem_atoms() == {0: "C has 5 bonds; at most 4 allowed"}
    assert messages[-1] == "Atom 1: C has 5 bonds; at most 4 allowed"
    assert "C has 5 bonds" in editor.status_label.text()
    assert editor.canvas.tooltip_at(editor.atom_position(0)) == (
        "Atom 1: C has 5 bonds; at most 4 allowed"
    )
    editor.canvas.grab()  # drawing an impossible structure does not raise
    editor.undo()
    assert editor.problem_atoms() == {}
    assert messages[-1] == "Valence problems resolved"


def test_drag_draws_bonds_to_new_and_existing_atoms(qtbot, editor):
    editor.set_tool("atom:C")
    click(qtbot, editor, canvas_centre(editor))
    # Dragging to empty space: a new atom one bond length away, in the dragged direction.
    start = editor.atom_position(0)
    drag(qtbot, editor, start, start + QPoint(80, 0))
    assert editor.smiles() == "CC"
    assert abs(editor.atom_position(1).y() - start.y()) <= 1
    bond_px = editing.BOND_LENGTH * editor.canvas.scale
    assert abs(editor.atom_position(1).x() - start.x() - bond_px) <= 1
    # Dragging with the O tool from an atom: a bonded O.
    editor.set_tool("atom:O")
    drag(qtbot, editor, editor.atom_position(1), editor.atom_position(1) + QPoint(0, -60))
    assert editor.smiles() == "CCO"
    # Dragging between two atoms bonds them (a ring closes).
    editor.set_tool("bond:single")
    drag(qtbot, editor, editor.atom_position(0), editor.atom_position(2))
    assert editor.smiles() == "C1CO1"
    assert editor.undo_stack.count() == 4


def test_bond_tool_sets_cycles_and_wedges(qtbot, editor):
    editor.set_molecule(editing.from_smiles("CC(N)O"))
    bond = editor.molecule().GetBondBetweenAtoms(0, 1).GetIdx()
    editor.set_tool("bond:double")
    click(qtbot, editor, editor.bond_position(bond))
    assert editor.smiles() == "C=C(N)O"
    click(qtbot, editor, editor.bond_position(bond))  # same order again: cycles on
    assert editor.smiles() == "C#C(N)O"
    editor.set_tool("bond:single")
    click(qtbot, editor, editor.bond_position(bond))
    assert editor.smiles() == "CC(N)O"
    editor.set_tool("bond:wedge")
    click(qtbot, editor, editor.bond_position(bond))
    wedged = editor.molecule().GetBondWithIdx(bond)
    assert wedged.GetBondDir() == Chem.BondDir.BEGINWEDGE
    assert wedged.GetBeginAtomIdx() == 1  # the narrow end at the stereocentre
    first = editor.smiles()
    assert first in ("C[C@H](N)O", "C[C@@H](N)O")
    editor.set_tool("bond:hash")
    click(qtbot, editor, editor.bond_position(bond))
    assert editor.smiles() != first and "@" in editor.smiles()
    # A bond tool on an atom adds a bonded carbon with that order.
    editor.set_tool("bond:triple")
    nitrogen = 2
    click(qtbot, editor, editor.atom_position(nitrogen))
    assert editor.problem_atoms() == {nitrogen: "N has 4 bonds; at most 3 allowed"}


def test_bond_tool_on_empty_canvas_draws_a_bond(qtbot, editor):
    editor.set_tool("bond:double")
    click(qtbot, editor, canvas_centre(editor))
    assert editor.smiles() == "C=C"


def test_ring_tools_on_atom_and_bond(qtbot, editor):
    draw_benzene(qtbot, editor)
    click(qtbot, editor, editor.bond_position(0))
    assert editor.smiles() == "c1ccc2ccccc2c1"
    editor.set_tool("ring:5")
    editor.set_molecule(editing.from_smiles("CC"))
    click(qtbot, editor, editor.atom_position(1))
    assert editor.smiles() == "CC1CCCC1"


def test_select_move_and_delete(qtbot, editor):
    editor.set_molecule(editing.from_smiles("CCO"))
    editor.set_tool("select")
    # Rubber band round everything.
    drag(qtbot, editor, QPoint(2, 2), QPoint(editor.canvas.width() - 2, editor.canvas.height() - 2))
    assert editor.selected_atoms() == {0, 1, 2}
    before = [editor.atom_position(i) for i in range(3)]
    drag(qtbot, editor, before[1], before[1] + QPoint(30, 20))
    after = [editor.atom_position(i) for i in range(3)]
    assert all(
        (a - b - QPoint(30, 20)).manhattanLength() <= 2 for a, b in zip(after, before, strict=True)
    )
    assert editor.selected_atoms() == {0, 1, 2}  # a move keeps the selection
    assert editor.undo_stack.undoText() == "Move atoms"
    # Clicking one atom selects it alone; Delete erases it.
    qtbot.mouseClick(editor.canvas, LEFT, pos=editor.atom_position(2))
    assert editor.selected_atoms() == {2}
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Delete)
    assert editor.smiles() == "CC"
    # A click on empty space clears the selection.
    click(qtbot, editor, QPoint(3, 3))
    assert editor.selected_atoms() == frozenset()


def test_keyboard_shortcuts_choose_tools(qtbot, editor):
    expected = {
        Qt.Key.Key_N: "atom:N",
        Qt.Key.Key_L: "atom:Cl",
        Qt.Key.Key_B: "atom:Br",
        Qt.Key.Key_H: "atom:H",
        Qt.Key.Key_1: "bond:single",
        Qt.Key.Key_2: "bond:double",
        Qt.Key.Key_3: "bond:triple",
        Qt.Key.Key_R: "ring:benzene",
        Qt.Key.Key_Escape: "select",
        Qt.Key.Key_C: "atom:C",
    }
    for key, tool in expected.items():
        qtbot.keyClick(editor.canvas, key)
        assert editor.tool() == tool
        assert editor.tool_actions[tool].isChecked()


def test_element_key_over_an_atom_relabels_it(qtbot, editor):
    editor.set_molecule(editing.from_smiles("CCC"))
    qtbot.mouseMove(editor.canvas, pos=editor.atom_position(2))
    assert editor.canvas.hover == ("atom", 2)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_O)
    assert editor.smiles() == "CCO"
    assert editor.tool() == "atom:O"


def test_a_failing_edit_leaves_the_molecule_and_reports(qtbot, editor, messages, monkeypatch):
    editor.set_molecule(editing.from_smiles("CC"))
    before = molblock(editor.molecule())

    def broken(*args, **kwargs):
        raise RuntimeError("Pre-condition Violation")

    monkeypatch.setattr(editing, "set_element_or_attach", broken)
    editor.set_tool("atom:N")
    click(qtbot, editor, editor.atom_position(0))
    assert molblock(editor.molecule()) == before
    assert messages[-1] == "Place N failed: Pre-condition Violation"
    assert editor.undo_stack.count() == 1


def test_empty_canvas_is_safe(qtbot, editor, messages):
    editor.undo()
    editor.redo()
    editor.clean_up()
    editor.clear()
    for tool in ("erase", "charge:+", "bond:single", "select"):
        editor.set_tool(tool)
        if tool != "bond:single":
            click(qtbot, editor, canvas_centre(editor))
    assert editor.smiles() == ""
    assert editor.problem_atoms() == {}
    editor.canvas.grab()


def test_set_molecule_and_clean_up(qtbot, editor):
    editor.set_molecule(editing.from_smiles("c1ccccc1"))
    editor.set_molecule(Chem.MolFromSmiles("C[C@H](N)C(=O)O"), undoable=False)
    assert editor.undo_stack.count() == 0  # a molecule loaded from elsewhere starts a history
    assert editor.smiles() == "C[C@H](N)C(=O)O"
    editor.set_molecule(None)
    assert editor.smiles() == ""
    editor.undo()
    editor.clean_up()
    assert editor.smiles() == "C[C@H](N)C(=O)O"  # a new layout keeps the stereocentre
    assert editor.undo_stack.undoText() == "Clean up"
    assert editor.set_molecule(Chem.Mol(), undoable=False)  # an empty molecule is fine
    assert editor.smiles() == ""
    # A large molecule is zoomed out to fit the canvas.
    editor.set_molecule(editing.from_smiles("C" * 60))
    assert editor.canvas._all_visible()
    assert editor.canvas.scale < editor_module.DEFAULT_SCALE


def test_stereo_labels_shown_on_request(qtbot, editor):
    editor.set_molecule(editing.from_smiles("C[C@H](N)O.C/C=C/C"))
    assert editor.stereo_labels() == {"atoms": {}, "bonds": {}}
    editor.set_show_stereo(True)
    assert editor.stereo_action.isChecked()
    labels = editor.stereo_labels()
    assert labels["atoms"] == {1: "R"}
    assert list(labels["bonds"].values()) == ["E"]
    editor.canvas.grab()


def test_unknown_tools_are_refused(editor):
    with pytest.raises(ValueError):
        editor.set_tool("spray")
    with pytest.raises(ValueError):
        editor.set_tool("atom:Qq")
    editor.set_tool("atom:se")
    assert editor.tool() == "atom:Se"
    assert editor.tool_actions["atom:Se"].isChecked()
    assert set(editor.tools()) >= {"atom:C", "bond:wedge", "ring:8", "ring:benzene", "erase"}


def test_periodic_table_button_opens_the_picker(qtbot, editor, monkeypatch):
    monkeypatch.setattr(
        PeriodicTableDialog, "choose_element", classmethod(lambda cls, parent=None: "B")
    )
    editor.choose_element()
    assert editor.tool() == "atom:B"
    editor.set_molecule(editing.from_smiles("C"))
    click(qtbot, editor, editor.atom_position(0))
    assert editor.smiles() == "B"


def test_periodic_table_dialog(qtbot):
    dialog = PeriodicTableDialog()
    qtbot.addWidget(dialog)
    symbols = [Chem.GetPeriodicTable().GetElementSymbol(z) for z in range(1, 87)]
    assert set(symbols) <= set(dialog.buttons)  # at least H to Rn
    with qtbot.waitSignal(dialog.element_chosen) as blocker:
        dialog.buttons["Se"].click()
    assert blocker.args == ["Se"]
    assert dialog.selected_symbol == "Se"
    assert dialog.result() == dialog.DialogCode.Accepted
    cells = [element_cell(z) for z in range(1, 119)]
    assert len(set(cells)) == 118
    assert element_cell(1) == (0, 0) and element_cell(2) == (0, 17)
    assert element_cell(6) == (1, 13) and element_cell(86) == (5, 17)
    assert element_cell(57) == (8, 2)


def test_rendering_draws_the_molecule(qtbot, editor):
    editor.set_molecule(editing.from_smiles("OC(=O)c1ccccc1[N+](=O)[O-]"))
    image = editor.canvas.grab().toImage()
    dark = sum(
        1
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
        if image.pixelColor(x, y).lightness() < 128
    )
    assert dark > 100  # bonds and labels, not a blank canvas


def test_molecule_changed_carries_a_copy(qtbot, editor):
    received = []
    editor.molecule_changed.connect(received.append)
    editor.set_molecule(editing.from_smiles("CCO"))
    Chem.SanitizeMol(received[-1])  # a listener changing its copy
    received[-1].GetAtomWithIdx(0).SetAtomicNum(7)
    assert editor.smiles() == "CCO"


def test_editor_keys_win_over_window_shortcuts(editor):
    for key, modifiers, expected in (
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, True),
        (Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier, True),
        (Qt.Key.Key_N, Qt.KeyboardModifier.NoModifier, True),
        (Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier, False),
        (Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier, False),
    ):
        event = QKeyEvent(QEvent.Type.ShortcutOverride, key, modifiers)
        event.ignore()
        QApplication.sendEvent(editor.canvas, event)
        assert event.isAccepted() is expected, (key, modifiers)


def test_clean_up_of_an_empty_canvas_adds_no_undo_step(editor):
    editor.clean_up()
    assert editor.undo_stack.count() == 0
