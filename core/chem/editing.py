"""Structure editing: pure functions on RDKit molecules, used by the 2D structure editor.

Every function takes a molecule and returns a new one; the input is never changed, so an undo
stack can keep the molecules themselves. The molecules these functions return follow one set of
conventions:

- **Coordinates**: one 2D conformer (id 0) with bonds :data:`BOND_LENGTH` long (x to the right,
  y up, as in a molfile).
- **Not sanitised**: an edit may pass through impossible valences (a chemist draws the fifth bond
  before deleting another), so molecules are only given ``UpdatePropertyCache(strict=False)``.
  :func:`valence_problems` says what is wrong; :func:`sanitized` and :func:`to_smiles` give the
  sanitised form.
- **Kekulé form**: drawn and imported rings get alternating single and double bonds, so that adding
  a substituent or changing one bond never breaks an aromatic system in between. Bonds the user sets
  to "aromatic" keep that type. Sanitising perceives aromaticity again: a drawn benzene is
  ``c1ccccc1``.
- **Stereo lives in the drawing**, as in a molfile: wedge and hash bonds (``BondDir.BEGINWEDGE`` /
  ``BEGINDASH``, narrow end at the bond's begin atom) and the 2D geometry of double bonds. Chiral
  tags and double-bond E/Z are perceived again after every edit. A double bond whose geometry must
  not mean anything (its stereo was unspecified in the SMILES it came from) is marked
  ``BondDir.EITHERDOUBLE``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdCIPLabeler, rdDepictor

rdDepictor.SetPreferCoordGen(True)  # the same layouts as core.chem.depict

BOND_LENGTH = 1.5
"""Length of a drawn bond in model units (Å-like, as RDKit's own depictor uses)."""

BOND_ORDERS: dict[str, Chem.BondType] = {
    "single": Chem.BondType.SINGLE,
    "double": Chem.BondType.DOUBLE,
    "triple": Chem.BondType.TRIPLE,
    "aromatic": Chem.BondType.AROMATIC,
}
STEREO_KINDS: dict[str, Chem.BondDir] = {
    "wedge": Chem.BondDir.BEGINWEDGE,
    "hash": Chem.BondDir.BEGINDASH,
    "none": Chem.BondDir.NONE,
}
RING_SIZES = range(3, 9)

Point = tuple[float, float]

_PERIODIC_TABLE = Chem.GetPeriodicTable()
_ATOMIC_NUMBERS = {_PERIODIC_TABLE.GetElementSymbol(z): z for z in range(1, 119)}
_CYCLE = {
    Chem.BondType.SINGLE: Chem.BondType.DOUBLE,
    Chem.BondType.DOUBLE: Chem.BondType.TRIPLE,
    Chem.BondType.TRIPLE: Chem.BondType.SINGLE,
}
_WEDGES = (Chem.BondDir.BEGINWEDGE, Chem.BondDir.BEGINDASH)
_MERGE_DISTANCE = 0.3 * BOND_LENGTH
"""A new ring vertex this close to an existing atom reuses that atom (fusing into bay regions)."""


# --------------------------------------------------------------------------- creating molecules


def empty_molecule() -> Chem.Mol:
    """A molecule with no atoms and an empty 2D conformer."""
    return _finish(Chem.RWMol())


def from_smiles(text: str) -> Chem.Mol:
    """Parse a SMILES into the editor's conventions (2D coordinates, Kekulé form, wedges).

    A SMILES that parses but is chemically impossible (pentavalent carbon) is accepted, so that it
    can be drawn and fixed; :func:`valence_problems` reports what is wrong with it.

    Raises
    ------
    ValueError
        When ``text`` is blank or not SMILES.
    """
    text = text.strip()
    if not text:
        raise ValueError("No SMILES given")
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text)
        if mol is None:
            mol = Chem.MolFromSmiles(text, sanitize=False)
            if mol is not None:
                mol.UpdatePropertyCache(strict=False)
    if mol is None:
        raise ValueError(f"Not a valid SMILES: {_shorten(text)}")
    return prepare_molecule(mol)


def from_molblock(text: str) -> Chem.Mol:
    """Parse a MolBlock (V2000 or V3000) into the editor's conventions.

    The file's 2D coordinates and wedges are kept; 3D coordinates are replaced by a 2D layout.

    Raises
    ------
    ValueError
        When ``text`` is not a MolBlock RDKit can read.
    """
    if not text.strip():
        raise ValueError("No MolBlock given")
    with rdBase.BlockLogs():
        mol = Chem.MolFromMolBlock(text)
        if mol is None:
            mol = Chem.MolFromMolBlock(text, sanitize=False, removeHs=False)
            if mol is not None:
                mol.UpdatePropertyCache(strict=False)
    if mol is None:
        raise ValueError("Not a valid MolBlock: RDKit could not read the atom and bond blocks")
    if mol.GetNumConformers() and not mol.GetConformer().Is3D():
        try:
            # RDKit turns the file's wedges into chiral tags; put the drawn wedges back.
            Chem.ReapplyMolBlockWedging(mol)
        except RuntimeError:
            pass
    return prepare_molecule(mol)


def from_text(text: str) -> Chem.Mol:
    """Parse clipboard text: a MolBlock when it looks like one, else the first SMILES token.

    Raises
    ------
    ValueError
        When the text is neither (the message names what was tried).
    """
    if "M  END" in text or "V2000" in text or "V3000" in text:
        return from_molblock(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("The clipboard holds no text")
    # "CCO ethanol" from a .smi file: the name after the SMILES is not part of it.
    return from_smiles(lines[0].split()[0])


def prepare_molecule(mol: Chem.Mol | None) -> Chem.Mol:
    """A copy of any RDKit molecule in the editor's conventions (see the module docstring).

    Molecules without 2D coordinates get a layout; coordinates are scaled to :data:`BOND_LENGTH`;
    chiral centres get wedges; double bonds with unspecified stereo are marked so that the drawing
    does not give them one.
    """
    if mol is None:
        return empty_molecule()
    rw = Chem.RWMol(mol)
    with rdBase.BlockLogs():
        kekule = Chem.RWMol(rw)
        try:
            Chem.Kekulize(kekule, clearAromaticFlags=True)
            rw = kekule
        except (Chem.KekulizeException, RuntimeError, ValueError):
            pass  # an unkekulisable input stays aromatic (a failed Kekulize leaves a half-done copy)
        keep_coordinates = rw.GetNumConformers() > 0 and not rw.GetConformer().Is3D()
        has_wedges = any(bond.GetBondDir() in _WEDGES for bond in rw.GetBonds())
        if not keep_coordinates:
            rw.RemoveAllConformers()
            _compute_coordinates(rw)
        else:
            conformer = rw.GetConformer()
            for conf in list(rw.GetConformers()):
                if conf.GetId() != conformer.GetId():
                    rw.RemoveConformer(conf.GetId())
            conformer.SetId(0)
            _scale_to_bond_length(rw)
        if not (keep_coordinates and has_wedges):
            _wedge_from_chiral_tags(rw)
        specified = [_stereo_specified(bond) for bond in rw.GetBonds()]
    result = _finish(rw)
    return _mark_unspecified_double_bonds(result, specified)


# ------------------------------------------------------------------------------ atoms and bonds


def add_atom(mol: Chem.Mol, symbol: str, position: Point) -> Chem.Mol:
    """Add an unbonded atom of element ``symbol`` at ``position`` (model coordinates)."""
    rw = _editable(mol)
    _add_atom(rw, symbol, position)
    return _finish(rw)


def new_atom_position(
    mol: Chem.Mol, atom_index: int, order: Chem.BondType = Chem.BondType.SINGLE
) -> Point:
    """Where a new atom bonded to ``atom_index`` goes: one bond length away in free space.

    A chain grows as a zigzag (120° from the only neighbour, away from the neighbour's own
    neighbours), an atom with more neighbours gets the new one in the middle of its widest gap, and
    sp atoms (a triple bond, or two double bonds) stay linear.
    """
    _check_atom(mol, atom_index)
    return _free_position(mol, atom_index, order)


def add_atom_bonded(
    mol: Chem.Mol,
    atom_index: int,
    symbol: str = "C",
    order: Chem.BondType = Chem.BondType.SINGLE,
    position: Point | None = None,
) -> Chem.Mol:
    """Add an atom bonded to ``atom_index`` with a bond of ``order``.

    Parameters
    ----------
    position
        Where the new atom goes; by default :func:`new_atom_position`.
    """
    _check_atom(mol, atom_index)
    if position is None:
        position = _free_position(mol, atom_index, order)
    rw = _editable(mol)
    new = _add_atom(rw, symbol, position)
    rw.AddBond(atom_index, new, order)
    _reset_hydrogens(rw.GetAtomWithIdx(atom_index))
    return _finish(rw)


def set_element(mol: Chem.Mol, atom_index: int, symbol: str) -> Chem.Mol:
    """Change the element of one atom (its hydrogens are recomputed; its charge is kept)."""
    _check_atom(mol, atom_index)
    rw = _editable(mol)
    atom = rw.GetAtomWithIdx(atom_index)
    atom.SetAtomicNum(atomic_number(symbol))
    atom.SetIsotope(0)
    _reset_hydrogens(atom)
    return _finish(rw)


def set_element_or_attach(mol: Chem.Mol, atom_index: int, symbol: str) -> Chem.Mol:
    """What clicking an atom with an element tool does.

    The atom becomes ``symbol``, unless it already is that element, or the new element cannot take
    the atom's bonds (an O in place of a benzene carbon): then ``symbol`` is attached to it as a new
    substituent. So clicking N on a benzene carbon gives pyridine, O gives phenol.
    """
    _check_atom(mol, atom_index)
    if mol.GetAtomWithIdx(atom_index).GetAtomicNum() == atomic_number(symbol):
        return add_atom_bonded(mol, atom_index, symbol)
    replaced = set_element(mol, atom_index, symbol)
    if atom_index in valence_problems(replaced) and atom_index not in valence_problems(mol):
        return add_atom_bonded(mol, atom_index, symbol)
    return replaced


def add_bond(
    mol: Chem.Mol, begin: int, end: int, order: Chem.BondType = Chem.BondType.SINGLE
) -> Chem.Mol:
    """Bond two existing atoms; when they are bonded already, the bond gets ``order``.

    Raises
    ------
    ValueError
        When ``begin == end`` or an index is out of range.
    """
    _check_atom(mol, begin)
    _check_atom(mol, end)
    if begin == end:
        raise ValueError("An atom cannot be bonded to itself")
    existing = mol.GetBondBetweenAtoms(begin, end)
    if existing is not None:
        return set_bond_order(mol, existing.GetIdx(), order)
    rw = _editable(mol)
    rw.AddBond(begin, end, order)
    _reset_hydrogens(rw.GetAtomWithIdx(begin))
    _reset_hydrogens(rw.GetAtomWithIdx(end))
    return _finish(rw)


def set_bond_order(mol: Chem.Mol, bond_index: int, order: Chem.BondType) -> Chem.Mol:
    """Give a bond another order; a wedge or hash on it is removed."""
    _check_bond(mol, bond_index)
    rw = _editable(mol)
    bond = rw.GetBondWithIdx(bond_index)
    bond.SetBondType(order)
    bond.SetBondDir(Chem.BondDir.NONE)
    bond.SetStereo(Chem.BondStereo.STEREONONE)
    _reset_hydrogens(bond.GetBeginAtom())
    _reset_hydrogens(bond.GetEndAtom())
    return _finish(rw)


def cycle_bond_order(mol: Chem.Mol, bond_index: int) -> Chem.Mol:
    """Single → double → triple → single; an aromatic bond becomes single."""
    _check_bond(mol, bond_index)
    current = mol.GetBondWithIdx(bond_index).GetBondType()
    return set_bond_order(mol, bond_index, _CYCLE.get(current, Chem.BondType.SINGLE))


def set_bond_stereo(
    mol: Chem.Mol, bond_index: int, kind: str, start_atom: int | None = None
) -> Chem.Mol:
    """Draw a bond as a wedge, a hash, or plain (``kind`` is ``"wedge"``, ``"hash"``, ``"none"``).

    A wedge or hash starts (narrow end, at the stereocentre) at the bond's begin atom, or at
    ``start_atom`` when given (the bond is then turned round; bond indices stay as they were). A
    double or triple bond becomes single.
    """
    _check_bond(mol, bond_index)
    if kind not in STEREO_KINDS:
        raise ValueError(f"Unknown bond stereo {kind!r}; use one of {', '.join(STEREO_KINDS)}")
    rw = _editable(mol)
    bond = rw.GetBondWithIdx(bond_index)
    begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    if start_atom is not None and start_atom not in (begin, end):
        raise ValueError(f"Atom {start_atom} is not an end of bond {bond_index}")
    if kind != "none" and start_atom == end:
        _reverse_bond(rw, bond_index)
        bond = rw.GetBondWithIdx(bond_index)
    if kind != "none":
        bond.SetBondType(Chem.BondType.SINGLE)
    bond.SetBondDir(STEREO_KINDS[kind])
    return _finish(rw)


def set_charge(mol: Chem.Mol, atom_index: int, delta: int) -> Chem.Mol:
    """Add ``delta`` (usually +1 or −1) to an atom's formal charge."""
    _check_atom(mol, atom_index)
    rw = _editable(mol)
    atom = rw.GetAtomWithIdx(atom_index)
    atom.SetFormalCharge(atom.GetFormalCharge() + int(delta))
    _reset_hydrogens(atom)
    return _finish(rw)


def delete_atoms(mol: Chem.Mol, indices: Iterable[int]) -> Chem.Mol:
    """Delete atoms with their bonds; explicit H atoms left without a neighbour go too."""
    doomed = set()
    for index in indices:
        _check_atom(mol, index)
        doomed.add(index)
    for index in list(doomed):
        for neighbour in mol.GetAtomWithIdx(index).GetNeighbors():
            if neighbour.GetAtomicNum() == 1 and all(
                n.GetIdx() in doomed for n in neighbour.GetNeighbors()
            ):
                doomed.add(neighbour.GetIdx())
    rw = _editable(mol)
    for index in doomed:
        for neighbour in rw.GetAtomWithIdx(index).GetNeighbors():
            _reset_hydrogens(neighbour)
    rw.BeginBatchEdit()
    for index in doomed:
        rw.RemoveAtom(index)
    rw.CommitBatchEdit()
    return _finish(rw)


def delete_bond(mol: Chem.Mol, bond_index: int) -> Chem.Mol:
    """Delete one bond. An end that is left as a lone, uncharged carbon is deleted as well (as
    in ChemDraw: erasing the last bond to a chain end should not leave a methane behind)."""
    _check_bond(mol, bond_index)
    bond = mol.GetBondWithIdx(bond_index)
    ends = (bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
    rw = _editable(mol)
    rw.RemoveBond(*ends)
    orphans = []
    for index in ends:
        atom = rw.GetAtomWithIdx(index)
        _reset_hydrogens(atom)
        if atom.GetDegree() == 0 and atom.GetAtomicNum() == 6 and atom.GetFormalCharge() == 0:
            orphans.append(index)
    rw.BeginBatchEdit()
    for index in orphans:
        rw.RemoveAtom(index)
    rw.CommitBatchEdit()
    return _finish(rw)


def move_atoms(mol: Chem.Mol, indices: Iterable[int], delta_xy: Point) -> Chem.Mol:
    """Move atoms by ``delta_xy`` (model units)."""
    rw = _editable(mol)
    conformer = rw.GetConformer()
    dx, dy = float(delta_xy[0]), float(delta_xy[1])
    for index in set(indices):
        _check_atom(mol, index)
        p = conformer.GetAtomPosition(index)
        conformer.SetAtomPosition(index, (p.x + dx, p.y + dy, 0.0))
    return _finish(rw)


# -------------------------------------------------------------------------------- ring templates


def add_ring_at_point(
    mol: Chem.Mol, size: int, position: Point, aromatic: bool = False
) -> Chem.Mol:
    """A new ring of ``size`` atoms centred at ``position`` (a vertex at the top)."""
    _check_ring_size(size)
    radius = _ring_radius(size)
    # A vertex on top for odd rings and benzene; flat top and bottom for 4- and 8-rings.
    start = math.pi / 2 + (math.pi / size if size % 4 == 0 else 0.0)
    vertices = _polygon((float(position[0]), float(position[1])), radius, start, size)
    return _build_ring(mol, vertices, {}, aromatic)


def add_ring_on_atom(mol: Chem.Mol, atom_index: int, size: int, aromatic: bool = False) -> Chem.Mol:
    """A ring that contains atom ``atom_index``, built into the free space next to it (a chain end
    becomes a ring atom; a ring atom becomes a spiro centre)."""
    _check_ring_size(size)
    _check_atom(mol, atom_index)
    radius = _ring_radius(size)
    positions = _positions(mol)
    anchor = positions[atom_index]
    angle = _free_angle(mol, positions, atom_index, linear=True, default=-math.pi / 2)
    centre = (anchor[0] + radius * math.cos(angle), anchor[1] + radius * math.sin(angle))
    vertices = _polygon(centre, radius, angle + math.pi, size)
    return _build_ring(mol, vertices, {0: atom_index}, aromatic)


def fuse_ring_on_bond(
    mol: Chem.Mol, bond_index: int, size: int, aromatic: bool = False
) -> Chem.Mol:
    """A ring that shares bond ``bond_index``, on the side of the bond with more free space (on a
    benzene bond, a benzene template gives naphthalene)."""
    _check_ring_size(size)
    _check_bond(mol, bond_index)
    bond = mol.GetBondWithIdx(bond_index)
    a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    positions = _positions(mol)
    pa, pb = positions[a], positions[b]
    side_length = float(np.linalg.norm(pb - pa)) or BOND_LENGTH
    direction = (pb - pa) / side_length
    normal = np.array([-direction[1], direction[0]])
    apothem = side_length / (2 * math.tan(math.pi / size))
    middle = (pa + pb) / 2
    others = np.delete(positions, [a, b], axis=0)
    centres = [middle + apothem * normal, middle - apothem * normal]
    centre = min(centres, key=lambda c: _crowding(others, c))
    radius = float(np.linalg.norm(pa - centre))
    start = math.atan2(pa[1] - centre[1], pa[0] - centre[0])
    turn = math.atan2(pb[1] - centre[1], pb[0] - centre[0]) - start
    clockwise = math.sin(turn) < 0
    vertices = _polygon((centre[0], centre[1]), radius, start, size, clockwise=clockwise)
    return _build_ring(mol, vertices, {0: a, 1: b}, aromatic)


def apply_ring_template(
    mol: Chem.Mol,
    size: int,
    aromatic: bool = False,
    *,
    position: Point | None = None,
    atom: int | None = None,
    bond: int | None = None,
) -> Chem.Mol:
    """Add a ring anchored at a free ``position``, on an ``atom`` or fused on a ``bond``.

    Exactly one anchor is given; see :func:`add_ring_at_point`, :func:`add_ring_on_atom` and
    :func:`fuse_ring_on_bond`.
    """
    anchors = [a for a in (position, atom, bond) if a is not None]
    if len(anchors) != 1:
        raise ValueError("Give exactly one of position, atom or bond")
    if position is not None:
        return add_ring_at_point(mol, size, position, aromatic)
    if atom is not None:
        return add_ring_on_atom(mol, atom, size, aromatic)
    return fuse_ring_on_bond(mol, bond, size, aromatic)


# ------------------------------------------------------------------------------------- layout


def clean_layout(mol: Chem.Mol) -> Chem.Mol:
    """A fresh 2D layout (CoordGen), keeping the stereochemistry the drawing had."""
    rw = _editable(mol)
    if rw.GetNumAtoms() == 0:
        return _finish(rw)
    with rdBase.BlockLogs():
        rw.RemoveAllConformers()
        _compute_coordinates(rw)
        for bond in rw.GetBonds():
            if bond.GetBondDir() in _WEDGES:
                bond.SetBondDir(Chem.BondDir.NONE)
        # The chiral tags perceived from the old drawing survive the layout; wedge them anew.
        _wedge_from_chiral_tags(rw)
    return _finish(rw)


# ----------------------------------------------------------------------------- reading a molecule


def atomic_number(symbol: str) -> int:
    """The atomic number of an element symbol (``"cl"`` and ``"CL"`` are read as ``"Cl"``).

    Raises
    ------
    ValueError
        For a symbol that is not an element.
    """
    normal = symbol.strip()[:1].upper() + symbol.strip()[1:].lower()
    if normal not in _ATOMIC_NUMBERS:
        raise ValueError(f"Unknown element {symbol!r}")
    return _ATOMIC_NUMBERS[normal]


def element_symbols() -> list[str]:
    """Element symbols in order of atomic number, H to Og."""
    return list(_ATOMIC_NUMBERS)


def positions(mol: Chem.Mol) -> np.ndarray:
    """The ``(n_atoms, 2)`` array of 2D atom positions (zeros for a molecule without conformer)."""
    return _positions(mol)


def valence_problems(mol: Chem.Mol) -> dict[int, str]:
    """Atoms RDKit would reject, each with a reason a chemist can read.

    Examples: ``{0: "C has 5 bonds; at most 4 allowed"}``, or an aromatic ring that has no valid
    Kekulé form. An empty molecule or disconnected fragments are not problems.
    """
    problems: dict[int, str] = {}
    if mol.GetNumAtoms() == 0:
        return problems
    with rdBase.BlockLogs():
        found = Chem.DetectChemistryProblems(Chem.Mol(mol))
    for problem in found:
        kind = problem.GetType()
        if kind == "AtomValenceException":
            index = problem.GetAtomIdx()
            problems.setdefault(
                index, _valence_reason(mol.GetAtomWithIdx(index), problem.Message())
            )
        elif kind == "AtomKekulizeException":
            # RDKit names the first such atom only; a chemist needs to see every one.
            for index in _aromatic_outside_rings(mol) or [problem.GetAtomIdx()]:
                problems.setdefault(index, "aromatic bond outside a ring")
        elif kind == "KekulizeException":
            for index in problem.GetAtomIndices():
                problems.setdefault(
                    index, "aromatic ring has no valid pattern of single and double bonds"
                )
        elif hasattr(problem, "GetAtomIdx"):
            problems.setdefault(problem.GetAtomIdx(), problem.Message())
    return problems


def _aromatic_outside_rings(mol: Chem.Mol) -> list[int]:
    copy = Chem.Mol(mol)
    Chem.FastFindRings(copy)
    ring_info = copy.GetRingInfo()
    return sorted(
        {
            index
            for bond in copy.GetBonds()
            if bond.GetBondType() == Chem.BondType.AROMATIC
            and not ring_info.NumBondRings(bond.GetIdx())
            for index in (bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
        }
    )


def sanitized(mol: Chem.Mol) -> Chem.Mol | None:
    """A sanitised copy (aromaticity perceived), or ``None`` when RDKit rejects the structure."""
    copy = Chem.Mol(mol)
    with rdBase.BlockLogs():
        failed = Chem.SanitizeMol(copy, catchErrors=True)
    return copy if failed == Chem.SanitizeFlags.SANITIZE_NONE else None


def to_smiles(mol: Chem.Mol) -> str:
    """Canonical SMILES with stereo; ``''`` for an empty molecule. Never raises: an impossible
    structure gives the SMILES of the unsanitised molecule (``CC(C)(C)(C)C`` style, as drawn)."""
    if mol.GetNumAtoms() == 0:
        return ""
    clean = sanitized(mol)
    with rdBase.BlockLogs():
        for candidate, canonical in ((clean, True), (mol, True), (mol, False)):
            if candidate is None:
                continue
            try:
                return Chem.MolToSmiles(candidate, canonical=canonical)
            except (RuntimeError, ValueError):
                continue
    return ""


def to_molblock(mol: Chem.Mol) -> str:
    """A V2000 MolBlock with the drawn coordinates and wedges (V3000 when RDKit needs it)."""
    clean = sanitized(mol)
    with rdBase.BlockLogs():
        if clean is not None:
            return Chem.MolToMolBlock(clean)
        return Chem.MolToMolBlock(mol, kekulize=False)


def stereo_labels(mol: Chem.Mol) -> dict[str, dict[int, str]]:
    """CIP labels from the drawing: ``{"atoms": {index: "R"|"S"}, "bonds": {index: "E"|"Z"}}``.

    Pseudo-asymmetric centres get ``"r"``/``"s"``. Empty when the structure cannot be sanitised.
    """
    labels: dict[str, dict[int, str]] = {"atoms": {}, "bonds": {}}
    if mol.GetNumAtoms() == 0:
        return labels
    clean = sanitized(mol)
    if clean is not None:
        parts = [(clean, list(range(mol.GetNumAtoms())))]
    else:
        # One impossible fragment should not hide the labels of the others.
        mapping: list[tuple[int, ...]] = []
        fragments = Chem.GetMolFrags(
            mol, asMols=True, sanitizeFrags=False, fragsMolAtomMapping=mapping
        )
        parts = []
        for fragment, atoms in zip(fragments, mapping, strict=True):
            with rdBase.BlockLogs():
                # Perception failed on the whole molecule; a fragment on its own may pass.
                fragment.UpdatePropertyCache(strict=False)
                Chem.GetSymmSSSR(fragment)
                _perceive_stereo(fragment)
            clean_fragment = sanitized(fragment)
            if clean_fragment is not None:
                parts.append((clean_fragment, list(atoms)))
    for part, atom_map in parts:
        try:
            with rdBase.BlockLogs():
                rdCIPLabeler.AssignCIPLabels(part)
        except (RuntimeError, ValueError):
            continue  # the labeller gives up on very symmetric structures
        for atom in part.GetAtoms():
            if atom.HasProp("_CIPCode"):
                labels["atoms"][atom_map[atom.GetIdx()]] = atom.GetProp("_CIPCode")
        for bond in part.GetBonds():
            if bond.HasProp("_CIPCode"):
                original = mol.GetBondBetweenAtoms(
                    atom_map[bond.GetBeginAtomIdx()], atom_map[bond.GetEndAtomIdx()]
                )
                labels["bonds"][original.GetIdx()] = bond.GetProp("_CIPCode")
    return labels


def nearest_atom(mol: Chem.Mol, xy: Point, radius: float) -> int | None:
    """The atom closest to ``xy`` within ``radius`` (model units), or ``None``."""
    if mol.GetNumAtoms() == 0:
        return None
    distances = np.linalg.norm(_positions(mol) - np.asarray(xy, dtype=float), axis=1)
    index = int(np.argmin(distances))
    return index if distances[index] <= radius else None


def nearest_bond(mol: Chem.Mol, xy: Point, radius: float) -> int | None:
    """The bond whose line passes closest to ``xy`` within ``radius`` (model units), or ``None``."""
    if mol.GetNumBonds() == 0:
        return None
    coords = _positions(mol)
    point = np.asarray(xy, dtype=float)
    best, best_distance = None, radius
    for bond in mol.GetBonds():
        a, b = coords[bond.GetBeginAtomIdx()], coords[bond.GetEndAtomIdx()]
        segment = b - a
        length2 = float(segment @ segment)
        t = 0.0 if length2 == 0 else min(1.0, max(0.0, float((point - a) @ segment) / length2))
        distance = float(np.linalg.norm(point - (a + t * segment)))
        if distance <= best_distance:
            best, best_distance = bond.GetIdx(), distance
    return best


# ------------------------------------------------------------------------------------- helpers


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_atom(mol: Chem.Mol, index: int) -> None:
    if not 0 <= index < mol.GetNumAtoms():
        raise ValueError(f"No atom {index}: the molecule has {mol.GetNumAtoms()} atoms")


def _check_bond(mol: Chem.Mol, index: int) -> None:
    if not 0 <= index < mol.GetNumBonds():
        raise ValueError(f"No bond {index}: the molecule has {mol.GetNumBonds()} bonds")


def _check_ring_size(size: int) -> None:
    if size not in RING_SIZES:
        raise ValueError(f"Ring size {size} is not offered; use 3 to 8")


def _editable(mol: Chem.Mol) -> Chem.RWMol:
    """A copy to edit, with a 2D conformer 0 (a molecule from elsewhere gets a layout first)."""
    if mol.GetNumConformers() == 0 or mol.GetConformer().Is3D():
        if mol.GetNumAtoms() == 0:
            return Chem.RWMol(mol)
        return Chem.RWMol(prepare_molecule(mol))
    return Chem.RWMol(mol)


def _finish(rw: Chem.RWMol) -> Chem.Mol:
    """Bring an edited copy back to the module's conventions and return it as a ``Chem.Mol``."""
    if rw.GetNumConformers() == 0:
        conformer = Chem.Conformer(rw.GetNumAtoms())
        conformer.Set3D(False)
        rw.AddConformer(conformer, assignId=True)
    # Aromatic atoms are exactly those with an aromatic bond: otherwise sanitising a bond set back
    # to single would still find an "aromatic" atom outside a ring.
    for atom in rw.GetAtoms():
        atom.SetIsAromatic(any(b.GetBondType() == Chem.BondType.AROMATIC for b in atom.GetBonds()))
    for bond in rw.GetBonds():
        bond.SetIsAromatic(bond.GetBondType() == Chem.BondType.AROMATIC)
    mol = rw.GetMol()
    with rdBase.BlockLogs():
        mol.UpdatePropertyCache(strict=False)
        Chem.GetSymmSSSR(mol)
        _perceive_stereo(mol)
    return mol


def _perceive_stereo(mol: Chem.Mol) -> None:
    """Chiral tags from the wedges and E/Z from the 2D geometry, as a molfile reader does."""
    for atom in mol.GetAtoms():
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for bond in mol.GetBonds():
        if bond.GetBondDir() in (Chem.BondDir.ENDUPRIGHT, Chem.BondDir.ENDDOWNRIGHT):
            bond.SetBondDir(Chem.BondDir.NONE)
        bond.SetStereo(Chem.BondStereo.STEREONONE)
    if mol.GetNumAtoms() == 0:
        return
    either = [b for b in mol.GetBonds() if b.GetBondDir() == Chem.BondDir.EITHERDOUBLE]
    try:
        Chem.AssignChiralTypesFromBondDirs(mol, 0, True)
        Chem.DetectBondStereochemistry(mol, 0)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    except (RuntimeError, ValueError):
        pass  # an impossible structure has no stereo to perceive; valence_problems says why
    for bond in either:  # AssignStereochemistry's clean-up drops the mark; it must stay
        bond.SetBondDir(Chem.BondDir.EITHERDOUBLE)


def _stereo_specified(bond: Chem.Bond) -> bool:
    """Whether a source molecule gives this double bond a configuration: perceived E/Z, or
    (in a SMILES parsed unsanitised, where nothing is perceived) a ``/`` or ``\\`` next to it."""
    if bond.GetStereo() not in (Chem.BondStereo.STEREONONE, Chem.BondStereo.STEREOANY):
        return True
    if bond.GetBondType() != Chem.BondType.DOUBLE:
        return False
    directional = (Chem.BondDir.ENDUPRIGHT, Chem.BondDir.ENDDOWNRIGHT)
    return any(
        other.GetBondDir() in directional
        for atom in (bond.GetBeginAtom(), bond.GetEndAtom())
        for other in atom.GetBonds()
        if other.GetIdx() != bond.GetIdx()
    )


def _mark_unspecified_double_bonds(mol: Chem.Mol, specified: Sequence[bool]) -> Chem.Mol:
    """Double bonds that the drawing makes E/Z although the source left them open."""
    open_stereo = (Chem.BondStereo.STEREONONE, Chem.BondStereo.STEREOANY)
    marks = [
        bond.GetIdx()
        for bond in mol.GetBonds()
        if bond.GetBondType() == Chem.BondType.DOUBLE
        and bond.GetStereo() not in open_stereo
        and not specified[bond.GetIdx()]
    ]
    if not marks:
        return mol
    rw = Chem.RWMol(mol)
    for index in marks:
        rw.GetBondWithIdx(index).SetBondDir(Chem.BondDir.EITHERDOUBLE)
    return _finish(rw)


def _wedge_from_chiral_tags(rw: Chem.RWMol) -> None:
    if not any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in rw.GetAtoms()):
        return
    try:
        Chem.WedgeMolBonds(rw, rw.GetConformer())
    except (RuntimeError, ValueError):
        pass  # the stereo is then lost from the drawing, but the molecule is still drawn


def _compute_coordinates(rw: Chem.RWMol) -> None:
    rw.UpdatePropertyCache(strict=False)
    Chem.GetSymmSSSR(rw)
    try:
        rdDepictor.Compute2DCoords(rw)
    except (RuntimeError, ValueError):
        # CoordGen refuses some impossible structures that RDKit's own depictor still lays out.
        rdDepictor.SetPreferCoordGen(False)
        try:
            rdDepictor.Compute2DCoords(rw)
        finally:
            rdDepictor.SetPreferCoordGen(True)
    for conformer in rw.GetConformers():
        conformer.Set3D(False)
    _scale_to_bond_length(rw)


def _scale_to_bond_length(rw: Chem.RWMol) -> None:
    """CoordGen draws bonds 1.0 long, molfiles anything; the editor's geometry expects 1.5."""
    if rw.GetNumBonds() == 0:
        return
    coords = _positions(rw)
    lengths = [
        float(np.linalg.norm(coords[b.GetBeginAtomIdx()] - coords[b.GetEndAtomIdx()]))
        for b in rw.GetBonds()
    ]
    median = float(np.median(lengths))
    if median < 1e-6 or abs(median - BOND_LENGTH) < 1e-3:
        return
    factor = BOND_LENGTH / median
    conformer = rw.GetConformer()
    for index, (x, y) in enumerate(coords):
        conformer.SetAtomPosition(index, (x * factor, y * factor, 0.0))


def _positions(mol: Chem.Mol) -> np.ndarray:
    if mol.GetNumConformers() == 0 or mol.GetNumAtoms() == 0:
        return np.zeros((mol.GetNumAtoms(), 2))
    return np.array(mol.GetConformer().GetPositions()[:, :2], dtype=float)


def _add_atom(rw: Chem.RWMol, symbol: str, position: Point) -> int:
    index = rw.AddAtom(Chem.Atom(atomic_number(symbol)))
    rw.GetConformer().SetAtomPosition(index, (float(position[0]), float(position[1]), 0.0))
    return index


def _reverse_bond(rw: Chem.RWMol, bond_index: int) -> None:
    """Swap a bond's begin and end atoms, keeping every bond index.

    RDKit reads a wedge from the bond's begin atom and has no call to turn a bond round, so the
    bond and those after it are removed and added again in the same order.
    """
    specs = [
        (b.GetBeginAtomIdx(), b.GetEndAtomIdx(), b.GetBondType(), b.GetBondDir())
        for b in rw.GetBonds()
        if b.GetIdx() >= bond_index
    ]
    for begin, end, _, _ in reversed(specs):
        rw.RemoveBond(begin, end)
    for offset, (begin, end, kind, direction) in enumerate(specs):
        if offset == 0:
            begin, end = end, begin
        rw.AddBond(begin, end, kind)
        rw.GetBondBetweenAtoms(begin, end).SetBondDir(direction)


def _reset_hydrogens(atom: Chem.Atom) -> None:
    """Let RDKit recompute an edited atom's hydrogens: a bracket atom from a SMILES (``[NH3+]``)
    keeps its H count otherwise, and the next bond would make it pentavalent."""
    atom.SetNoImplicit(False)
    atom.SetNumExplicitHs(0)
    atom.SetNumRadicalElectrons(0)


def _max_valence(atom: Chem.Atom) -> int | None:
    """The largest valence RDKit allows (charged atoms behave like their isoelectronic element)."""
    number = atom.GetAtomicNum() - atom.GetFormalCharge()
    if number == 0:
        return 0
    if not 1 <= number <= 118:
        number = atom.GetAtomicNum()
    allowed = list(_PERIODIC_TABLE.GetValenceList(number))
    return None if -1 in allowed else max(allowed)


def _bond_order_sum(atom: Chem.Atom) -> float:
    return sum(b.GetValenceContrib(atom) for b in atom.GetBonds()) + atom.GetNumExplicitHs()


def _valence_reason(atom: Chem.Atom, fallback: str) -> str:
    valence = _bond_order_sum(atom)
    allowed = _max_valence(atom)
    if allowed is None or valence <= allowed:
        return fallback
    charge = atom.GetFormalCharge()
    sign = (
        ""
        if charge == 0
        else f"{abs(charge) if abs(charge) > 1 else ''}{'+' if charge > 0 else '-'}"
    )
    count = f"{valence:g}"
    plural = "bond" if valence == 1 else "bonds"
    return f"{atom.GetSymbol()}{sign} has {count} {plural}; at most {allowed} allowed"


def _ring_radius(size: int) -> float:
    return BOND_LENGTH / (2 * math.sin(math.pi / size))


def _polygon(
    centre: Point, radius: float, start: float, size: int, clockwise: bool = False
) -> list[Point]:
    step = (-1 if clockwise else 1) * 2 * math.pi / size
    return [
        (
            centre[0] + radius * math.cos(start + k * step),
            centre[1] + radius * math.sin(start + k * step),
        )
        for k in range(size)
    ]


def _crowding(others: np.ndarray, point: np.ndarray) -> float:
    if len(others) == 0:
        return 0.0
    distances = np.maximum(np.linalg.norm(others - point, axis=1), 0.1)
    return float(np.sum(1.0 / distances**2))


def _free_angle(
    mol: Chem.Mol,
    coords: np.ndarray,
    atom_index: int,
    linear: bool,
    default: float = math.pi / 6,
) -> float:
    """Direction (radians) of the free space around an atom; see :func:`new_atom_position`."""
    origin = coords[atom_index]
    neighbours = [n.GetIdx() for n in mol.GetAtomWithIdx(atom_index).GetNeighbors()]
    if not neighbours:
        return default
    angles = sorted(
        math.atan2(coords[n][1] - origin[1], coords[n][0] - origin[0]) for n in neighbours
    )
    if len(angles) == 1:
        offsets = (math.pi,) if linear else (2 * math.pi / 3, -2 * math.pi / 3)
        candidates = [angles[0] + offset for offset in offsets]
    else:
        gaps = [
            ((angles[(k + 1) % len(angles)] - angles[k]) % (2 * math.pi) or 2 * math.pi, k)
            for k in range(len(angles))
        ]
        widest = max(gap for gap, _ in gaps)
        candidates = [angles[k] + gap / 2 for gap, k in gaps if gap > widest - 1e-6]
    others = np.delete(coords, [atom_index], axis=0)

    def room(angle: float) -> tuple[float, float, float]:
        point = origin + BOND_LENGTH * np.array([math.cos(angle), math.sin(angle)])
        nearest = float(np.min(np.linalg.norm(others - point, axis=1))) if len(others) else 1e9
        # Most room first; then chains grow to the right, then upwards.
        return (round(nearest, 6), round(math.cos(angle), 6), round(math.sin(angle), 6))

    best = max(candidates, key=room)
    if room(best)[0] < 0.6 * BOND_LENGTH:
        # Every preferred direction is crowded (inside a ring system): take the emptiest one.
        best = max((k * math.pi / 18 for k in range(36)), key=room)
    return best


def _is_linear(atom: Chem.Atom, order: Chem.BondType) -> bool:
    types = [b.GetBondType() for b in atom.GetBonds()]
    if order == Chem.BondType.TRIPLE or Chem.BondType.TRIPLE in types:
        return True
    return order == Chem.BondType.DOUBLE and Chem.BondType.DOUBLE in types


def _free_position(mol: Chem.Mol, atom_index: int, order: Chem.BondType) -> Point:
    coords = _positions(mol)
    linear = _is_linear(mol.GetAtomWithIdx(atom_index), order)
    angle = _free_angle(mol, coords, atom_index, linear)
    x, y = coords[atom_index]
    return (float(x + BOND_LENGTH * math.cos(angle)), float(y + BOND_LENGTH * math.sin(angle)))


def _build_ring(
    mol: Chem.Mol, vertices: list[Point], anchors: dict[int, int], aromatic: bool
) -> Chem.Mol:
    """Add ring atoms at ``vertices`` (vertex k is atom ``anchors[k]`` where given, else an existing
    atom lying on it, else a new carbon) and bond them round the ring."""
    rw = _editable(mol)
    coords = _positions(rw)
    ring: list[int] = []
    for k, vertex in enumerate(vertices):
        if k in anchors:
            ring.append(anchors[k])
            continue
        index = None
        if len(coords):
            distances = np.linalg.norm(coords - np.asarray(vertex), axis=1)
            for candidate in np.argsort(distances):
                if distances[candidate] > _MERGE_DISTANCE:
                    break
                if int(candidate) not in ring:
                    index = int(candidate)
                    break
        ring.append(index if index is not None else _add_atom(rw, "C", vertex))
    new_bonds = []
    for k, begin in enumerate(ring):
        end = ring[(k + 1) % len(ring)]
        if rw.GetBondBetweenAtoms(begin, end) is None:
            rw.AddBond(begin, end, Chem.BondType.SINGLE)
            new_bonds.append(rw.GetBondBetweenAtoms(begin, end).GetIdx())
    for index in ring:
        _reset_hydrogens(rw.GetAtomWithIdx(index))
    if aromatic:
        _alternate_double_bonds(rw, ring, set(new_bonds))
    return _finish(rw)


def _alternate_double_bonds(rw: Chem.RWMol, ring: list[int], new_bonds: set[int]) -> None:
    """Make as many of the ring's new bonds double as possible, alternating, without giving an
    atom a second multiple bond or more bonds than its element allows (a Kekulé benzene; on a
    benzene bond the fused ring completes naphthalene)."""
    ring_bonds = [
        rw.GetBondBetweenAtoms(ring[k], ring[(k + 1) % len(ring)]).GetIdx()
        for k in range(len(ring))
    ]
    unsaturated = {
        atom.GetIdx()
        for atom in rw.GetAtoms()
        if any(b.GetBondType() != Chem.BondType.SINGLE for b in atom.GetBonds())
    }

    def has_room(index: int) -> bool:
        atom = rw.GetAtomWithIdx(index)
        allowed = _max_valence(atom)
        return allowed is None or _bond_order_sum(atom) + 1 <= allowed

    best: list[int] = []
    for start in range(len(ring_bonds)):
        busy = set(unsaturated)
        chosen = []
        for k in range(len(ring_bonds)):
            bond = rw.GetBondWithIdx(ring_bonds[(start + k) % len(ring_bonds)])
            ends = (bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
            if bond.GetIdx() not in new_bonds or any(e in busy for e in ends):
                continue
            if all(has_room(e) for e in ends):
                chosen.append(bond.GetIdx())
                busy.update(ends)
        if len(chosen) > len(best):
            best = chosen
    for index in best:
        rw.GetBondWithIdx(index).SetBondType(Chem.BondType.DOUBLE)
