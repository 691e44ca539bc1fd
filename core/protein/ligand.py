"""A ligand of a protein structure as an RDKit molecule: its atoms, bonds and bond orders.

PDB and mmCIF files give a ligand's heavy atoms and coordinates, not its bond orders (hydrogens
are dropped when a structure is read). :func:`ligand_molecule` rebuilds the molecule:

1. bonds from covalent radii (the same rule as the structure's bonds);
2. bond orders from a template SMILES when one is given (a Chemical Component Dictionary entry:
   RDKit's ``AssignBondOrdersFromTemplate``), else from the geometry: an atom is sp2 when it and
   its three neighbours lie in a plane, when its angle is near 120°, when it sits in a flat five-
   or six-membered ring, or when its one bond is short (C=O 1.23 Å against C–O 1.43 Å); sp when
   it is linear. Double bonds then pair the sp2 atoms (the pairing that covers most of them, short
   bonds first), so aromatic rings come out as a Kekulé structure and RDKit aromatises them.
   Sulfonyl and phosphoryl oxygens and nitro groups have rules of their own.
3. when that gives no valid molecule, single bonds only (the SMILES then says so: the record's
   ``bond_orders`` is ``"single bonds only"``).

The project ships no Chemical Component Dictionary, so bond orders from a file come from the
geometry: right for ordinary drug-like ligands in well-refined structures, less sure in poorly
resolved ones (bond lengths off by more than 0.1 Å). Hydrogens are implicit; charges are those
of the neutral form except nitro groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Geometry import Point3D

from core.protein.structure import LigandInfo, ProteinStructure, compute_bonds

TEMPLATE, GEOMETRY, SINGLE_ONLY = "template", "geometry", "single bonds only"

_LONGEST_DOUBLE = {"CC": 1.45, "CN": 1.40, "CO": 1.33, "NN": 1.36, "NO": 1.30, "CS": 1.75}
"""Å: the longest bond, by its two elements (sorted), that may be double (aromatic C-C 1.39 Å,
C=N 1.28 Å, C=O 1.23 Å); longer ones stay single."""

_SEARCH_STEPS = 200_000
"""The pairing search gives up (greedy pairing instead) after this many steps."""


@dataclass(slots=True, frozen=True)
class LigandMolecule:
    """A ligand rebuilt as a molecule, with its coordinates as the first conformer."""

    mol: Chem.Mol
    smiles: str
    name: str
    """The ligand's label, e.g. ``"XK2 A401"``."""
    bond_orders: str
    """Where the bond orders came from: ``"template"``, ``"geometry"`` or
    ``"single bonds only"``."""


def ligand_molecule(
    structure: ProteinStructure, ligand: LigandInfo, template_smiles: str | None = None
) -> LigandMolecule:
    """The ligand ``ligand`` of ``structure`` as an RDKit molecule and canonical SMILES.

    Parameters
    ----------
    structure, ligand
        The structure read (:func:`core.protein.structure.read_structure`) and one of its
        ``ligands``.
    template_smiles
        The ligand's SMILES from the Chemical Component Dictionary, when known: bond orders are
        taken from it (heavy atoms matched to the template), else perceived from the geometry.

    Raises
    ------
    ValueError
        When the residue holds no atoms RDKit knows.
    """
    atoms = structure.residue_atoms(ligand.residue)
    elements = [str(e) for e in structure.elements[atoms]]
    coords = structure.coords[atoms]
    table = Chem.GetPeriodicTable()
    rw = Chem.RWMol()
    for element in elements:
        symbol = element.capitalize()
        try:
            number = table.GetAtomicNumber(symbol)
        except RuntimeError:
            number = 0
        if number <= 0:
            raise ValueError(f"{ligand.label}: atom element '{element}' is not one RDKit knows.")
        atom = Chem.Atom(number)
        rw.AddAtom(atom)
    pairs = compute_bonds(coords, np.array(elements), np.zeros(len(elements), dtype=np.int64))
    for a, b in pairs:
        rw.AddBond(int(a), int(b), Chem.BondType.SINGLE)
    conformer = Chem.Conformer(len(elements))
    for index, (x, y, z) in enumerate(coords):
        conformer.SetAtomPosition(index, Point3D(float(x), float(y), float(z)))
    rw.AddConformer(conformer, assignId=True)
    skeleton = rw.GetMol()

    if template_smiles:
        templated = _from_template(skeleton, template_smiles)
        if templated is not None:
            return _record(templated, ligand, TEMPLATE)
    perceived = _with_perceived_orders(skeleton, coords)
    if perceived is not None:
        return _record(perceived, ligand, GEOMETRY)
    single = Chem.Mol(skeleton)
    with rdBase.BlockLogs():
        try:
            Chem.SanitizeMol(single)
        except (Chem.AtomValenceException, Chem.KekulizeException, ValueError):
            single.UpdatePropertyCache(strict=False)
    return _record(single, ligand, SINGLE_ONLY)


def _record(mol: Chem.Mol, ligand: LigandInfo, bond_orders: str) -> LigandMolecule:
    with rdBase.BlockLogs():
        if mol.GetNumConformers():
            Chem.AssignStereochemistryFrom3D(mol)
        smiles = Chem.MolToSmiles(mol)
    mol.SetProp("_Name", ligand.label)
    return LigandMolecule(mol=mol, smiles=smiles, name=ligand.label, bond_orders=bond_orders)


def _from_template(skeleton: Chem.Mol, template_smiles: str) -> Chem.Mol | None:
    from rdkit.Chem import AllChem

    with rdBase.BlockLogs():
        template = Chem.MolFromSmiles(template_smiles)
        if template is None:
            return None
        try:
            return AllChem.AssignBondOrdersFromTemplate(template, skeleton)
        except (ValueError, RuntimeError):
            return None


# ----------------------------------------------------------------------------------------------
# Bond orders from the geometry


def _angle(coords: np.ndarray, a: int, centre: int, b: int) -> float:
    u, v = coords[a] - coords[centre], coords[b] - coords[centre]
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _flat_rings(mol: Chem.Mol, coords: np.ndarray) -> list[tuple[int, ...]]:
    """Five- and six-membered rings whose atoms lie within 0.12 Å of their best plane."""
    rings = []
    for ring in Chem.GetSymmSSSR(mol):
        ring = tuple(ring)
        if len(ring) not in (5, 6):
            continue
        points = coords[list(ring)]
        centred = points - points.mean(axis=0)
        normal = np.linalg.svd(centred)[2][-1]
        if np.abs(centred @ normal).max() < 0.12:
            rings.append(ring)
    return rings


def _with_perceived_orders(skeleton: Chem.Mol, coords: np.ndarray) -> Chem.Mol | None:
    mol = Chem.RWMol(skeleton)
    mol.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(mol)
    n = mol.GetNumAtoms()
    neighbours = [[nb.GetIdx() for nb in mol.GetAtomWithIdx(i).GetNeighbors()] for i in range(n)]
    symbol = [mol.GetAtomWithIdx(i).GetSymbol() for i in range(n)]

    def length(a: int, b: int) -> float:
        return float(np.linalg.norm(coords[a] - coords[b]))

    flat_rings = _flat_rings(mol, coords)
    in_flat = {atom: len(ring) for ring in flat_rings for atom in ring}
    # need: 2 sp, 1 sp2 (must take a double bond), 0 none; optional: may take one (a five-ring
    # nitrogen: pyrrole-like NH or pyridine-like N).
    need = [0] * n
    optional = [False] * n
    order: dict[tuple[int, int], Chem.BondType] = {}
    charge = [0] * n

    def key(a: int, b: int) -> tuple[int, int]:
        return (a, b) if a < b else (b, a)

    # Sulfonyl, sulfinyl and phosphoryl oxygens; nitro groups.
    for centre in range(n):
        terminal_o = sorted(
            (nb for nb in neighbours[centre] if symbol[nb] == "O" and len(neighbours[nb]) == 1),
            key=lambda nb: length(centre, nb),
        )
        degree = len(neighbours[centre])
        if symbol[centre] == "S" and degree >= 3:
            for nb in terminal_o[: max(0, min(2, 6 - degree))]:
                if length(centre, nb) < 1.60:
                    order[key(centre, nb)] = Chem.BondType.DOUBLE
        elif symbol[centre] == "P" and degree == 4 and terminal_o:
            order[key(centre, terminal_o[0])] = Chem.BondType.DOUBLE
        elif symbol[centre] == "N" and degree == 3 and len(terminal_o) >= 2:
            order[key(centre, terminal_o[0])] = Chem.BondType.DOUBLE
            charge[centre], charge[terminal_o[1]] = 1, -1
    settled = {atom for bond in order for atom in bond}

    for i in range(n):
        if i in settled:
            continue
        nbs = neighbours[i]
        degree = len(nbs)
        element = symbol[i]
        if element in ("C", "N") and degree == 3:
            total = sum(_angle(coords, a, i, b) for a, b in combinations(nbs, 2))
            if element == "C" and total > 350.0:
                need[i] = 1
        elif element in ("C", "N") and degree == 2:
            angle = _angle(coords, nbs[0], i, nbs[1])
            if angle > 160.0:
                need[i] = 2
            elif i in in_flat:
                if element == "N" and in_flat[i] == 5:
                    optional[i] = True
                else:
                    need[i] = 1
            elif angle > 116.0:
                # An open-chain N near 120° is an amide NH more often than an imine: it takes a
                # double bond only where no other pairing covers its neighbour.
                if element == "N":
                    optional[i] = True
                else:
                    need[i] = 1
        elif degree == 1:
            other = nbs[0]
            d = length(i, other)
            partner = symbol[other]
            # C=O 1.23 Å against C-O 1.43 Å; C=S 1.61-1.67 Å against C-S 1.81 Å.
            short = {"O": 1.31, "S": 1.72}
            if element in short and partner == "C":
                need[i] = 1 if d < short[element] else 0
            elif element == "N" and partner == "C":
                # C#N 1.15 Å; =NH 1.28 Å, but a primary amide's C-N is 1.33 Å too: optional.
                need[i] = 2 if d < 1.21 else 0
                optional[i] = 1.21 <= d < 1.33
            elif element == "C" and partner == "C":
                need[i] = 2 if d < 1.25 else (1 if d < 1.41 else 0)
            elif element == "C" and partner in ("N", "O"):
                need[i] = 2 if d < 1.20 else (1 if d < 1.30 else 0)

    # Triple bonds between two sp atoms (nitriles, alkynes); an sp atom left alone is sp2-like.
    for i in range(n):
        for j in neighbours[i]:
            if i < j and need[i] == 2 and need[j] == 2 and key(i, j) not in order:
                order[key(i, j)] = Chem.BondType.TRIPLE
                need[i] = need[j] = 0
    need = [1 if value == 2 else value for value in need]

    # Double bonds: pair the sp2 atoms (and optional ones where that helps).
    nodes = [i for i in range(n) if need[i] or optional[i]]

    def may_be_double(i: int, j: int) -> bool:
        # A bond longer than this is single whatever its atoms are (CH2-N 1.47 Å, C-C 1.51 Å).
        pair = "".join(sorted(symbol[i] + symbol[j]))
        return length(i, j) < _LONGEST_DOUBLE.get(pair, 1.40)

    edges = {
        i: sorted(
            (
                j
                for j in neighbours[i]
                if (need[j] or optional[j]) and key(i, j) not in order and may_be_double(i, j)
            ),
            key=lambda j: length(i, j),
        )
        for i in nodes
    }
    lengths = {key(i, j): length(i, j) for i in nodes for j in edges[i]}
    for a, b in _best_pairing(nodes, edges, need, lengths):
        order[key(a, b)] = Chem.BondType.DOUBLE

    # A flat five-ring of carbons and nitrogens holds two double bonds (tetrazole, triazole:
    # the pairing leaves their second N=N out, as optional atoms cost).
    doubled = {atom for (a, b), t in order.items() if t == Chem.BondType.DOUBLE for atom in (a, b)}
    for ring in flat_rings:
        if len(ring) != 5 or any(symbol[a] not in ("C", "N") for a in ring):
            continue
        ring_bonds = [key(ring[k], ring[(k + 1) % 5]) for k in range(5)]
        if sum(order.get(b) == Chem.BondType.DOUBLE for b in ring_bonds) >= 2:
            continue
        for a, b in ring_bonds:
            free = a not in doubled and b not in doubled
            if free and len(neighbours[a]) == 2 and len(neighbours[b]) == 2:
                order[(a, b)] = Chem.BondType.DOUBLE
                doubled.update((a, b))
                break

    for (a, b), bond_type in order.items():
        mol.GetBondBetweenAtoms(a, b).SetBondType(bond_type)
    for i, value in enumerate(charge):
        mol.GetAtomWithIdx(i).SetFormalCharge(value)
    result = mol.GetMol()
    with rdBase.BlockLogs():
        try:
            Chem.SanitizeMol(result)
        except (Chem.AtomValenceException, Chem.KekulizeException, ValueError):
            return None
    return result


def _best_pairing(
    nodes: list[int],
    edges: dict[int, list[int]],
    need: list[int],
    lengths: dict[tuple[int, int], float],
) -> list[tuple[int, int]]:
    """Pairs of neighbouring atoms (double bonds) covering as many must-pair atoms as possible,
    then as few optional ones, then with the shortest bonds (a ring's Kekulé structure before an
    exocyclic pairing of the same count); a search, greedy past a step budget."""

    def gain(atom: int) -> int:
        return 10 if need[atom] else -1

    def shortness(a: int, b: int) -> float:
        return 1.6 - lengths[(a, b) if a < b else (b, a)]

    best: list[tuple[int, int]] = []
    best_key = (-1, 0.0)
    steps = 0
    order = sorted(nodes, key=lambda i: (len(edges[i]), i))

    def search(
        index: int, used: set[int], pairs: list[tuple[int, int]], score: int, bound: int
    ) -> None:
        nonlocal best, best_key, steps
        steps += 1
        if steps > _SEARCH_STEPS or score + bound < best_key[0]:
            return
        current = (score, sum(shortness(a, b) for a, b in pairs))
        if current > best_key:
            best, best_key = list(pairs), current
        while index < len(order) and order[index] in used:
            index += 1
        if index >= len(order):
            return
        atom = order[index]
        remaining = bound - (10 if need[atom] else 0)
        for other in edges[atom]:
            if other not in used:
                used.update((atom, other))
                pairs.append((atom, other))
                search(
                    index + 1,
                    used,
                    pairs,
                    score + gain(atom) + gain(other),
                    remaining - (10 if need[other] else 0),
                )
                pairs.pop()
                used.difference_update((atom, other))
        search(index + 1, used | {atom}, pairs, score, remaining)

    search(0, set(), [], 0, sum(10 for i in nodes if need[i]))
    if steps > _SEARCH_STEPS:  # greedy: shortest bonds first
        used: set[int] = set()
        best = []
        for atom in order:
            for other in edges[atom]:
                if atom not in used and other not in used:
                    used.update((atom, other))
                    best.append((atom, other))
    return best
