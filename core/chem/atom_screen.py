"""A pattern's atoms and their neighbours, checked against a molecule's atoms before matching.

:mod:`core.chem.screen` rules patterns out by what the whole molecule lacks (fingerprint bits,
element counts, bonds, charges). Most patterns it leaves (about 65 per library molecule for the
alert catalogs) still cannot match, for reasons that only show at one atom: the pattern needs an
aromatic carbon *with a hydrogen* next to a nitrogen *with two carbons*, an atom *outside a ring*
bonded to two heteroatoms, an atom with four connections. This module checks each pattern atom
with its neighbours (a "star"): a match maps the star onto an atom of the molecule and some of
that atom's neighbours, so a star that fits no atom of the molecule rules the pattern out.

An atom's query is evaluated in three values (no, maybe, yes): the primitives read here (element,
aromaticity, hydrogen count, total and explicit degree, formal charge, ring membership) are
answered exactly; every other primitive (ring sizes, valence, isotopes, a negated recursive
SMARTS) answers "maybe", and a recursive SMARTS answers what its first atom's query answers (a
recursive SMARTS matches with its first atom on this atom). "And" is the least of its parts, "or"
the greatest, "not" swaps no and yes. Only "no" rules anything out, so a pattern ruled out
cannot match: the check is a necessary condition, never an approximation.

The molecule's atoms are read in three RDKit calls instead of a Python call per atom and
property (about 5 µs an atom): ``GetConnectivityInvariants`` hashes each atom's element, total
degree, hydrogen count, formal charge, mass difference and ring membership (RDKit's Morgan
invariants, a 32-bit ``hash_combine`` of these numbers, reproduced here and checked against
RDKit's own on every atom of the tests); the hashes of every combination of plausible values
(elements 0-118, up to 8 connections and 8 hydrogens, charges and mass differences -4 to +4) are
tabulated once, and a hash that two combinations share, or that none has, leaves the molecule
unscreened. The adjacency matrix with bond orders gives the neighbours and the bond types, and a
one-atom SMARTS the aromatic atoms. A molecule with a bond other than single, double, triple or
aromatic (dative, zero-order…) is not screened either.

The checks run in numba (:mod:`core.chem._screen_kernels`), inside the pattern screen's kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

# Three-valued answers.
NO, MAYBE, YES = 0, 1, 2

# Operations of an atom or bond program, evaluated on a stack (postfix).
OP_CONST = 0  # push a
OP_FEATURE = 1  # push (feature a of the atom or bond == b)
OP_NOT = 2  # swap no and yes on top
OP_AND = 3  # pop a values, push the least
OP_OR = 4  # pop a values, push the greatest
OP_IN_RING_COUNT = 5  # "in b rings": -1 any ring; else, outside every ring, b == 0; else maybe
OP_MIN_RING_SIZE = 6  # "smallest ring of size b": outside every ring, b == 0; else maybe
OP_AT_MOST_MAYBE = 7  # yes becomes maybe (a recursive SMARTS whose first atom may match)

# Atom features (columns of the molecule's atom table).
F_ELEMENT, F_TYPE, F_HYDROGENS, F_TOTAL_DEGREE, F_DEGREE, F_AROMATIC, F_CHARGE, F_RING = range(8)
# Bond features: the bond's code (1, 2, 3, 12: RDKit's BondType values for single, double,
# triple, aromatic).
B_CODE = 0
SINGLE, AROMATIC = 1, 12

_ATOM_PRIMITIVES = {
    "AtomAtomicNum": F_ELEMENT,
    "AtomType": F_TYPE,  # atomic number, plus 1000 when aromatic
    "AtomHCount": F_HYDROGENS,
    "AtomTotalDegree": F_TOTAL_DEGREE,
    "AtomExplicitDegree": F_DEGREE,
    "AtomIsAromatic": F_AROMATIC,
    "AtomFormalCharge": F_CHARGE,
}
_RECURSION_DEPTH = 4
"""Recursive SMARTS inside recursive SMARTS are followed this deep; deeper ones are "maybe"."""


def _describe(text: str) -> list[tuple[int, list[str]]]:
    """``DescribeQuery()`` as (depth, words) lines."""
    return [
        (len(line) - len(line.lstrip(" ")), line.split())
        for line in text.splitlines()
        if line.strip()
    ]


def children(lines: Sequence[tuple[int, object]], at: int) -> list[int]:
    """The indices of line ``at``'s children in (depth, …) lines of ``DescribeQuery``."""
    depth = lines[at][0]
    found = []
    child_depth = None
    for index in range(at + 1, len(lines)):
        if lines[index][0] <= depth:
            break
        if child_depth is None:
            child_depth = lines[index][0]
        if lines[index][0] == child_depth:
            found.append(index)
    return found


def _primitive(words: list[str]) -> tuple[str, int, bool] | None:
    """(kind, value, negated) of a line such as ``AtomHCount 0 != val``; None otherwise."""
    if len(words) == 4 and words[3] == "val" and words[2] in ("=", "!="):
        try:
            return words[0], int(words[1]), words[2] == "!="
        except ValueError:
            return None
    return None


def _recursive_smarts(atom_smarts: str) -> list[str]:
    from core.chem.screen import recursive_smarts

    return recursive_smarts(atom_smarts)


def _compile(lines: list[tuple[int, list[str]]], kind: str, leaf) -> list[tuple[int, int, int]]:
    """The postfix program of a query tree of ``DescribeQuery`` lines: ``kind`` is "Atom" or
    "Bond" (their "And"/"Or"/"Null" nodes); ``leaf(at, words, program)`` appends the program of
    any other line."""
    program: list[tuple[int, int, int]] = []

    def emit(at: int) -> None:
        words = lines[at][1]
        if words[0] in (kind + "And", kind + "Or") and len(words) == 1:
            below = children(lines, at)
            if not below:
                program.append((OP_CONST, MAYBE, 0))
                return
            for child in below:
                emit(child)
            program.append((OP_AND if words[0] == kind + "And" else OP_OR, len(below), 0))
        elif words[0] == kind + "Null":
            program.append((OP_CONST, YES, 0))
        else:
            leaf(at, words, program)

    if lines:
        emit(0)
    else:
        program.append((OP_CONST, MAYBE, 0))
    return program


def _primitive_program(
    words: list[str], known: dict[str, list[tuple[int, int, int]]], program: list
) -> None:
    """Append the program of a primitive line: ``known[name]`` (its value filled in as
    ``arg_b`` where the entry has ``None``), negated for ``!=``; "maybe" for anything else."""
    primitive = _primitive(words)
    steps = known.get(primitive[0]) if primitive is not None else None
    if steps is None:
        program.append((OP_CONST, MAYBE, 0))
        return
    _name, value, negated = primitive
    program.extend((op, a, value if b is None else b) for op, a, b in steps)
    if negated:
        program.append((OP_NOT, 0, 0))


_ATOM_STEPS: dict[str, list] = {
    **{name: [(OP_FEATURE, feature, None)] for name, feature in _ATOM_PRIMITIVES.items()},
    "AtomInNRings": [(OP_IN_RING_COUNT, 0, None)],
    "AtomMinRingSize": [(OP_MIN_RING_SIZE, 0, None)],
}
_BOND_STEPS: dict[str, list] = {
    "BondOrder": [(OP_FEATURE, B_CODE, None)],
    "SingleOrAromaticBond": [
        (OP_FEATURE, B_CODE, SINGLE),
        (OP_FEATURE, B_CODE, AROMATIC),
        (OP_OR, 2, 0),
    ],
}


def atom_program(atom: Chem.Atom, depth: int = 0) -> list[tuple[int, int, int]]:
    """The postfix program answering whether a molecule's atom may match the query ``atom``."""
    if not atom.HasQuery():
        return [(OP_FEATURE, F_TYPE, atom.GetAtomicNum() + 1000 * atom.GetIsAromatic())]
    lines = _describe(atom.DescribeQuery())
    # The k-th RecursiveStructure line belongs to the k-th outermost $(...) of the SMARTS.
    recursive_rows = [i for i, (_d, words) in enumerate(lines) if words[0] == "RecursiveStructure"]
    inner = _recursive_smarts(atom.GetSmarts()) if recursive_rows else []
    recursive_at = dict(zip(recursive_rows, inner, strict=False))
    if len(inner) != len(recursive_rows):
        recursive_at = {}  # disagreement: every recursive SMARTS answers "maybe"

    def leaf(at: int, words: list[str], program: list) -> None:
        if words[0] == "RecursiveStructure":
            smarts = recursive_at.get(at)
            root = Chem.MolFromSmarts(smarts) if smarts and "not" not in words else None
            if root is None or root.GetNumAtoms() == 0 or depth >= _RECURSION_DEPTH:
                program.append((OP_CONST, MAYBE, 0))
                return
            program.extend(atom_program(root.GetAtomWithIdx(0), depth + 1))
            if root.GetNumAtoms() > 1:  # the rest of it may still not match
                program.append((OP_AT_MOST_MAYBE, 0, 0))
            return
        primitive = _primitive(words)
        if primitive is not None and primitive[0] == "AtomIsAliphatic":
            program.append((OP_FEATURE, F_AROMATIC, 0 if primitive[1] else 1))
            if primitive[2]:
                program.append((OP_NOT, 0, 0))
            return
        if primitive is not None and primitive[0] == "AtomInRing":
            program.append((OP_IN_RING_COUNT, 0, -1 if primitive[1] else 0))
            if primitive[2]:
                program.append((OP_NOT, 0, 0))
            return
        _primitive_program(words, _ATOM_STEPS, program)

    return _compile(lines, "Atom", leaf)


def bond_program(bond: Chem.Bond) -> list[tuple[int, int, int]]:
    """The postfix program answering whether a molecule's bond may match the query ``bond``."""
    if not bond.HasQuery():
        return [(OP_FEATURE, B_CODE, int(bond.GetBondType()))]
    lines = _describe(bond.DescribeQuery())
    return _compile(
        lines, "Bond", lambda _at, words, program: _primitive_program(words, _BOND_STEPS, program)
    )


class StarTables:
    """The stars of a list of patterns as flat arrays for ``_screen_kernels.star_fits``.

    Programs (atom and bond alike) are rows of ``ops``/``arg_a``/``arg_b`` from
    ``program_start[k]`` for ``program_length[k]``, each distinct program once. Star ``s`` has
    centre program ``star_centre[s]`` and neighbours ``star_first[s]`` to
    ``star_first[s] + star_count[s]`` of ``neighbour_atom``/``neighbour_bond`` (programs).
    Pattern ``p`` has the stars ``pattern_star_list[pattern_first[p]:][:pattern_stars[p]]``
    (none: nothing known, never ruled out), the most demanding first; the kernel moves a star
    that rules its pattern out to the front of the pattern's list, where it is tried first for
    the next molecule (the order changes only the time a check takes, never its answer).
    ``stack_depth``: the most values any program holds on its stack. The kernel's memory
    (``class_*``, ``answers``, ``bond_answers``) lives here too, one per screen.
    """

    def __init__(self, patterns: Sequence[Chem.Mol | None]) -> None:
        programs: dict[tuple, int] = {}
        ops: list[tuple[int, int, int]] = []
        starts: list[int] = []
        lengths: list[int] = []

        def program_id(program: list[tuple[int, int, int]]) -> int:
            key = tuple(program)
            found = programs.get(key)
            if found is None:
                found = programs[key] = len(starts)
                starts.append(len(ops))
                lengths.append(len(program))
                ops.extend(program)
            return found

        centres: list[int] = []
        firsts: list[int] = []
        counts: list[int] = []
        neighbour_atoms: list[int] = []
        neighbour_bonds: list[int] = []
        star_ids: dict[tuple, int] = {}
        pattern_star_list: list[int] = []
        pattern_first: list[int] = []
        pattern_stars: list[int] = []
        for pattern in patterns:
            pattern_first.append(len(pattern_star_list))
            stars = self._stars(pattern, program_id) if pattern is not None else []
            mine: list[int] = []
            for centre, neighbours in stars:
                # Patterns share stars (an aromatic carbon between two others…): each distinct
                # star is checked once per molecule.
                key = (centre, tuple(sorted(neighbours)))
                star = star_ids.get(key)
                if star is None:
                    star = star_ids[key] = len(centres)
                    centres.append(centre)
                    firsts.append(len(neighbour_atoms))
                    counts.append(len(neighbours))
                    for atom, bond in neighbours:
                        neighbour_atoms.append(atom)
                        neighbour_bonds.append(bond)
                if star not in mine:
                    mine.append(star)
            pattern_star_list.extend(mine)
            pattern_stars.append(len(mine))
        # 32-bit: the kernel reads these for every molecule, between RDKit calls that push them
        # out of the CPU's caches; half the bytes, fewer misses.
        table = np.array(ops, dtype=np.int32).reshape(-1, 3)
        self.ops = np.ascontiguousarray(table[:, 0])
        self.arg_a = np.ascontiguousarray(table[:, 1])
        self.arg_b = np.ascontiguousarray(table[:, 2])
        self.program_start = np.array(starts, dtype=np.int32)
        self.program_length = np.array(lengths, dtype=np.int32)
        self.star_centre = np.array(centres, dtype=np.int32)
        self.star_first = np.array(firsts, dtype=np.int32)
        self.star_count = np.array(counts, dtype=np.int32)
        self.neighbour_atom = np.array(neighbour_atoms, dtype=np.int32)
        self.neighbour_bond = np.array(neighbour_bonds, dtype=np.int32)
        self.pattern_first = np.array(pattern_first, dtype=np.int32)
        self.pattern_stars = np.array(pattern_stars, dtype=np.int32)
        self.pattern_star_list = np.array(pattern_star_list, dtype=np.int32)
        self.stack_depth = max((_stack_depth(p) for p in programs), default=1)
        # What the kernel remembers from molecule to molecule: each atom class's answer to each
        # program (-1: not asked yet), each bond kind's, and the hash table of the classes.
        self.class_keys = np.full(CLASS_SLOTS, -1, dtype=np.int64)
        self.class_ids = np.zeros(CLASS_SLOTS, dtype=np.int64)
        self.class_count = np.zeros(1, dtype=np.int64)
        self.answers = np.full((MAX_CLASSES, max(len(starts), 1)), -1, dtype=np.int8)
        self.bond_answers = np.full((max(len(starts), 1), 4), -1, dtype=np.int8)

    @staticmethod
    def _stars(pattern: Chem.Mol, program_id) -> list[tuple[int, list[tuple[int, int]]]]:
        try:
            atoms = [program_id(atom_program(atom)) for atom in pattern.GetAtoms()]
            neighbours: list[list[tuple[int, int]]] = [[] for _ in atoms]
            for bond in pattern.GetBonds():
                begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
                code = program_id(bond_program(bond))
                neighbours[begin].append((atoms[end], code))
                neighbours[end].append((atoms[begin], code))
        except (RuntimeError, ValueError):
            return []
        stars = list(zip(atoms, neighbours, strict=True))
        # Stars with more neighbours first: they fail more often, and a pattern is out at its
        # first failed star. Ties keep the pattern's atom order.
        order = sorted(range(len(stars)), key=lambda i: -len(stars[i][1]))
        return [stars[i] for i in order]


def _stack_depth(program: tuple) -> int:
    depth = deepest = 0
    for op, a, _b in program:
        if op in (OP_CONST, OP_FEATURE, OP_IN_RING_COUNT, OP_MIN_RING_SIZE):
            depth += 1
        elif op in (OP_AND, OP_OR):
            depth -= a - 1
        deepest = max(deepest, depth)
    return deepest


# --- The molecule's atoms -------------------------------------------------------------------

CLASS_SLOTS = 1 << 13
"""Slots of the kernel's hash table of atom classes (twice the classes kept)."""
LOOKUP_SLOTS = 1 << 12
"""Slots of the kernel's cache of invariant-table rows found (a library has a few hundred kinds
of atom)."""
MAX_CLASSES = 1 << 12
"""Atom classes the kernel remembers at most; then it forgets them and starts again (a library
has a few hundred: element, connections, hydrogens, charge, ring, aromaticity, degree)."""

_GOLDEN = np.uint32(0x9E3779B9)


def invariant_hash(components: np.ndarray) -> np.ndarray:
    """RDKit's connectivity invariant of rows of ``components`` (uint32; each row the numbers
    ``getConnectivityInvariants`` combines, in its order): ``seed ^= v + 0x9e3779b9 + (seed <<
    6) + (seed >> 2)`` in 32-bit arithmetic, from ``seed = 0``."""
    components = np.asarray(components, dtype=np.uint32)
    seed = np.zeros(components.shape[0], dtype=np.uint32)
    with np.errstate(over="ignore"):
        for column in range(components.shape[1]):
            seed ^= (
                components[:, column] + _GOLDEN + (seed << np.uint32(6)) + (seed >> np.uint32(2))
            )
    return seed


@dataclass(frozen=True)
class InvariantTable:
    """The atom each connectivity invariant stands for, over every plausible atom: ``keys``
    sorted; ``atoms[k]`` (element, total degree, hydrogens, charge, in a ring) for ``keys[k]``,
    or -1 in the element where two combinations share the hash (such an atom is not read)."""

    keys: np.ndarray
    atoms: np.ndarray
    lookup_keys: np.ndarray
    """A cache of rows found (``_screen_kernels.table_row``): keys, -1 where empty..."""
    lookup_rows: np.ndarray
    """... and their rows."""


ELEMENTS = range(0, 119)
CONNECTIONS = range(0, 9)
HYDROGENS = range(0, 9)
CHARGES = range(-4, 5)
MASS_DIFFERENCES = range(-4, 5)


def invariant_table() -> InvariantTable:
    """Every combination of the ranges above, hashed (about 1.6 million; 0.2 s)."""
    grids = np.meshgrid(
        np.array(ELEMENTS),
        np.array(CONNECTIONS),
        np.array(HYDROGENS),
        np.array(CHARGES),
        np.array(MASS_DIFFERENCES),
        indexing="ij",
    )
    base = np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)
    keys_out = []
    atoms_out = []
    for in_ring in (0, 1):
        # Negative numbers are pushed as uint32 (two's complement), as RDKit's vector does.
        components = (
            base.astype(np.uint32)
            if not in_ring
            else np.concatenate(
                [base.astype(np.uint32), np.ones((len(base), 1), np.uint32)], axis=1
            )
        )
        keys_out.append(invariant_hash(components))
        atoms = np.empty((len(base), 5), dtype=np.int64)
        atoms[:, :4] = base[:, :4]
        atoms[:, 4] = in_ring
        atoms_out.append(atoms)
    keys = np.concatenate(keys_out)
    atoms = np.concatenate(atoms_out)
    order = np.argsort(keys, kind="stable")
    keys, atoms = keys[order], atoms[order]
    shared = np.zeros(len(keys), dtype=bool)
    same = keys[1:] == keys[:-1]
    shared[1:] |= same
    shared[:-1] |= same
    atoms[shared, 0] = -1
    # One row per key (the first of equal keys, marked above when shared).
    first = np.ones(len(keys), dtype=bool)
    first[1:] = ~same
    return InvariantTable(
        keys[first].astype(np.int64),
        np.ascontiguousarray(atoms[first]),
        np.full(LOOKUP_SLOTS, -1, dtype=np.int64),
        np.zeros(LOOKUP_SLOTS, dtype=np.int64),
    )


_AROMATIC_ATOM = Chem.MolFromSmarts("a")
_OTHER_BOND = Chem.MolFromSmarts("*!-;!=;!#;!:*")
"""A bond that is neither single, double, triple nor aromatic (dative, zero-order…)."""


@dataclass(frozen=True)
class MoleculeGraph:
    """What the screen kernel reads of a molecule, from :func:`molecule_graph`."""

    invariants: np.ndarray
    """RDKit's connectivity invariant of each atom (int64)."""
    aromatic: np.ndarray
    """Indices of the aromatic atoms."""
    orders: np.ndarray
    """The adjacency matrix with bond orders (1.5 aromatic), float64."""


def molecule_graph(mol: Chem.Mol) -> MoleculeGraph | None:
    """The molecule's atoms and bonds as the kernel reads them; None when its bonds are not all
    single, double, triple or aromatic (the adjacency matrix's orders would not say which)."""
    if mol.HasSubstructMatch(_OTHER_BOND):
        return None
    invariants = np.array(
        rdMolDescriptors.GetConnectivityInvariants(mol, includeRingMembership=True),
        dtype=np.int64,
    )
    aromatic = np.array(
        mol.GetSubstructMatches(_AROMATIC_ATOM, uniquify=False, maxMatches=1_000_000),
        dtype=np.int64,
    ).reshape(-1)
    orders = Chem.GetAdjacencyMatrix(mol, useBO=True)
    return MoleculeGraph(invariants, aromatic, np.asarray(orders, dtype=np.float64))


__all__ = [
    "MAYBE",
    "NO",
    "YES",
    "InvariantTable",
    "MoleculeGraph",
    "StarTables",
    "atom_program",
    "bond_program",
    "children",
    "invariant_hash",
    "invariant_table",
    "molecule_graph",
]
