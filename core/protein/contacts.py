"""Ligand–protein contacts: hydrogen bonds, salt bridges, π-stacking and hydrophobic contacts.

:func:`ligand_contacts` finds the contacts of one of a structure's ligands, :func:`molecule_contacts`
those of any RDKit molecule with 3D coordinates in the structure's frame (a library molecule
placed in the pocket). Geometric rules on heavy atoms, in the spirit of PLIP (Salentin et al.,
*Nucleic Acids Res.* 2015) but simpler:

* **hydrogen bond**: a donor and an acceptor N or O 2.5–3.5 Å apart (S of CYS/MET: up to 4.0 Å).
  The ligand's donors and acceptors come from RDKit's feature factory (``BaseFeatures.fdef``,
  implicit hydrogens), the protein's from atom names: backbone N (not PRO) and O, and the polar
  side-chain atoms of SER THR TYR ASN GLN HIS LYS ARG ASP GLU TRP CYS MET. No angle is checked:
  the files hold no hydrogens.
* **salt bridge**: a charged ligand group and a charged side chain (ASP/GLU carboxylates, the
  C-terminus, LYS NZ, ARG guanidinium, the HIS ring as positive) of opposite charge, any two of
  their atoms within 4.0 Å; one contact per pair of groups (the closest atoms). The ligand's groups
  are its formal charges (nitro groups excepted) and RDKit's ionisable groups (amines, carboxylic
  acids), plus amidines and guanidines. A hydrogen bond between the same two atoms is not listed
  again.
* **π-stacking**: an aromatic ring of the ligand and one of PHE TYR TRP HIS, centroids within
  5.5 Å, rings parallel (normals within 30°) or T-shaped (60–90°), the centroid of one no more than
  2.0 Å (parallel) or 2.5 Å (T-shaped) off the other's normal.
* **hydrophobic**: a non-polar carbon of each side (bonded to carbon, hydrogen, sulfur or halogens
  only) within 4.0 Å; one contact per residue, the closest pair.

Only polymer residues count (not waters, ions or other ligands). The protein atoms near the
molecule are found with a KD-tree, so a 100,000-atom structure takes milliseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import numpy as np
from rdkit import Chem, RDConfig, rdBase

from core.protein.structure import POLYMER, LigandInfo, ProteinStructure

HBOND, SALT_BRIDGE, PI_STACKING, HYDROPHOBIC = "hbond", "salt_bridge", "pi_stacking", "hydrophobic"
KINDS = (HBOND, SALT_BRIDGE, PI_STACKING, HYDROPHOBIC)
KIND_LABELS = {
    HBOND: "H-bond",
    SALT_BRIDGE: "salt bridge",
    PI_STACKING: "π-stacking",
    HYDROPHOBIC: "hydrophobic",
}
KIND_COLORS = {
    HBOND: (0.15, 0.45, 1.0),  # blue
    SALT_BRIDGE: (0.9, 0.15, 0.85),  # magenta
    PI_STACKING: (0.1, 0.7, 0.25),  # green
    HYDROPHOBIC: (0.5, 0.5, 0.5),  # grey
}
"""RGB in 0–1 for each kind, shared by the 3D view and the interaction diagram."""

HBOND_MIN, HBOND_MAX, HBOND_MAX_SULFUR = 2.5, 3.5, 4.0
SALT_BRIDGE_MAX = 4.0
PI_CENTROID_MAX = 5.5
PI_PARALLEL_MAX_ANGLE, PI_T_MIN_ANGLE = 30.0, 60.0
PI_PARALLEL_OFFSET, PI_T_OFFSET = 2.0, 2.5
HYDROPHOBIC_MAX = 4.0
_SEARCH_RADIUS = 7.0
"""Å around the molecule's atoms within which protein atoms are considered (ring centroids lie
within 1.4 Å of their atoms, so 5.5 + 1.4 is enough)."""

# -- the protein side, by residue and atom name ---------------------------------------------------
_SIDE_DONORS = {
    "SER": {"OG"}, "THR": {"OG1"}, "TYR": {"OH"}, "ASN": {"ND2"}, "GLN": {"NE2"},
    "HIS": {"ND1", "NE2"}, "LYS": {"NZ"}, "ARG": {"NE", "NH1", "NH2"}, "TRP": {"NE1"},
    "CYS": {"SG"},
}  # fmt: skip
_SIDE_ACCEPTORS = {
    "SER": {"OG"}, "THR": {"OG1"}, "TYR": {"OH"}, "ASN": {"OD1"}, "GLN": {"OE1"},
    "HIS": {"ND1", "NE2"}, "ASP": {"OD1", "OD2"}, "GLU": {"OE1", "OE2"}, "MET": {"SD"},
    "CYS": {"SG"},
}  # fmt: skip
_NEGATIVE_GROUPS = {"ASP": ("OD1", "OD2"), "GLU": ("OE1", "OE2")}
_POSITIVE_GROUPS = {"LYS": ("NZ",), "ARG": ("NE", "NH1", "NH2"), "HIS": ("ND1", "NE2")}
_PROTEIN_RINGS = {
    "PHE": [("CG", "CD1", "CD2", "CE1", "CE2", "CZ")],
    "TYR": [("CG", "CD1", "CD2", "CE1", "CE2", "CZ")],
    "TRP": [("CD2", "CE2", "CE3", "CZ2", "CZ3", "CH2"), ("CG", "CD1", "NE1", "CE2", "CD2")],
    "HIS": [("CG", "ND1", "CD2", "CE1", "NE2")],
}
_NONPOLAR_NEIGHBOURS = {"C", "H", "S", "F", "CL", "BR", "I"}

# Amidines and guanidines (RDKit's BaseFeatures misses amidines): the carbon and its nitrogens.
_CATIONIC_SMARTS = ("[NX3;!$(NC=O)]C(=[NX2;!$(N-[O,S])])[#6,#7;!$(C=O)]", "NC(=N)N")


@dataclass(slots=True, frozen=True)
class Contact:
    """One ligand–protein contact.

    ``ligand_atoms`` are atom indices of the molecule the contacts were computed for (for a
    structure's ligand: in the order of ``structure.residue_atoms(ligand.residue)``, as
    :func:`core.protein.ligand.ligand_molecule` builds it); ``protein_atoms`` index the structure's
    atoms. ``ligand_point`` and ``protein_point`` are where the dashed line is drawn between (an
    atom, or a ring's centroid).
    """

    kind: str
    ligand_atoms: tuple[int, ...]
    residue: int
    residue_label: str
    """``"ASP 189 A"``: name, number (and insertion code), chain."""
    protein_atoms: tuple[int, ...]
    protein_atom: str
    """The protein atom's name (``"OD1"``), or ``"ring"`` for π-stacking."""
    ligand_atom: str
    """The ligand atom's name (``"O2"``) or ``"ring"``."""
    distance: float
    ligand_point: tuple[float, float, float]
    protein_point: tuple[float, float, float]
    detail: str = ""
    """For π-stacking: ``"parallel"`` or ``"T-shaped"``; for a salt bridge: the ligand's charge
    (``"+"`` or ``"−"``)."""

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def describe(self) -> str:
        """``"ASP 189 A 2.8 Å H-bond"``: the label the interaction diagram and lists show."""
        extra = f" ({self.detail})" if self.kind == PI_STACKING and self.detail else ""
        return f"{self.residue_label} {self.distance:.1f} Å {self.kind_label}{extra}"


def residue_label(structure: ProteinStructure, residue: int) -> str:
    """``"ASP 189 A"``: residue name, number with insertion code, chain."""
    icode = str(structure.res_icodes[residue]).strip()
    return (
        f"{structure.res_names[residue]} {structure.res_numbers[residue]}{icode} "
        f"{structure.res_chains[residue]}"
    )


@cache
def _feature_factory():
    from rdkit.Chem import ChemicalFeatures

    return ChemicalFeatures.BuildFeatureFactory(
        os.path.join(RDConfig.RDDataDir, "BaseFeatures.fdef")
    )


# ----------------------------------------------------------------------------------------------
# Public entry points


def ligand_contacts(
    structure: ProteinStructure, ligand: LigandInfo, mol: Chem.Mol | None = None
) -> list[Contact]:
    """The contacts of the structure's ligand ``ligand`` with the protein.

    ``mol``: the ligand as a molecule whose atoms are the residue's atoms in file order (what
    :func:`core.protein.ligand.ligand_molecule` returns); rebuilt from the structure when not
    given. Contacts are sorted by kind, then distance.
    """
    from core.protein.ligand import ligand_molecule

    atoms = structure.residue_atoms(ligand.residue)
    if mol is None:
        mol = ligand_molecule(structure, ligand).mol
    if mol.GetNumAtoms() != len(atoms):
        raise ValueError(
            f"{ligand.label}: the molecule has {mol.GetNumAtoms()} atoms, the residue {len(atoms)}."
        )
    names = [str(name) for name in structure.atom_names[atoms]]
    return _contacts(structure, mol, structure.coords[atoms], names, {ligand.residue})


def molecule_contacts(
    structure: ProteinStructure,
    mol: Chem.Mol,
    exclude_residues: set[int] | frozenset[int] = frozenset(),
) -> list[Contact]:
    """The contacts of ``mol`` (its first conformer, in the structure's coordinates: a molecule
    placed in the pocket) with the protein. Hydrogens are ignored; atoms are named by element
    and index (``"O12"``)."""
    if mol.GetNumConformers() == 0:
        raise ValueError("The molecule has no 3D coordinates: place it in the structure first.")
    with rdBase.BlockLogs():
        heavy = Chem.RemoveHs(mol, sanitize=False)
        heavy.UpdatePropertyCache(strict=False)
    coords = heavy.GetConformer().GetPositions()
    names = [f"{a.GetSymbol()}{a.GetIdx() + 1}" for a in heavy.GetAtoms()]
    return _contacts(structure, heavy, coords, names, set(exclude_residues))


def summarize(contacts: list[Contact]) -> str:
    """``"3 H-bonds, 1 salt bridge, 5 hydrophobic"``, kinds in the usual order."""
    parts = []
    for kind in KINDS:
        n = sum(1 for c in contacts if c.kind == kind)
        if n:
            label = KIND_LABELS[kind]
            plural = label if kind in (HYDROPHOBIC, PI_STACKING) or n == 1 else label + "s"
            parts.append(f"{n} {plural}")
    return ", ".join(parts) if parts else "no contacts"


# ----------------------------------------------------------------------------------------------
# The search


@dataclass(slots=True)
class _Ligand:
    mol: Chem.Mol
    coords: np.ndarray
    names: list[str]
    donors: set[int]
    acceptors: set[int]
    positive: list[tuple[int, ...]]
    negative: list[tuple[int, ...]]
    rings: list[tuple[int, ...]]
    nonpolar: np.ndarray


def _ligand_features(mol: Chem.Mol, coords: np.ndarray, names: list[str]) -> _Ligand:
    mol = Chem.Mol(mol)
    with rdBase.BlockLogs():
        mol.UpdatePropertyCache(strict=False)
        Chem.FastFindRings(mol)
        try:
            features = _feature_factory().GetFeaturesForMol(mol)
        except (RuntimeError, ValueError):
            features = []
    donors: set[int] = set()
    acceptors: set[int] = set()
    positive: list[tuple[int, ...]] = []
    negative: list[tuple[int, ...]] = []
    for feature in features:
        family, ids = feature.GetFamily(), tuple(feature.GetAtomIds())
        if family == "Donor":
            donors.update(ids)
        elif family == "Acceptor":
            acceptors.update(ids)
        elif family == "PosIonizable":
            positive.append(tuple(i for i in ids if mol.GetAtomWithIdx(i).GetSymbol() == "N"))
        elif family == "NegIonizable":
            negative.append(tuple(i for i in ids if mol.GetAtomWithIdx(i).GetSymbol() != "C"))
    for smarts in _CATIONIC_SMARTS:
        pattern = Chem.MolFromSmarts(smarts)
        for match in mol.GetSubstructMatches(pattern):
            group = tuple(i for i in match if mol.GetAtomWithIdx(i).GetSymbol() == "N")
            positive.append(group)
    # Formal charges, except zwitterionic pairs on neighbours (nitro groups, N-oxides).
    for atom in mol.GetAtoms():
        charge = atom.GetFormalCharge()
        if charge == 0 or any(nb.GetFormalCharge() * charge < 0 for nb in atom.GetNeighbors()):
            continue
        (positive if charge > 0 else negative).append((atom.GetIdx(),))
    positive = _merge_groups([g for g in positive if g])
    negative = _merge_groups([g for g in negative if g])
    ring_info = mol.GetRingInfo()
    rings = [
        tuple(ring)
        for ring in ring_info.AtomRings()
        if len(ring) in (5, 6) and all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in ring)
    ]
    nonpolar = np.array(
        [
            atom.GetIdx()
            for atom in mol.GetAtoms()
            if atom.GetSymbol() == "C"
            and all(nb.GetSymbol().upper() in _NONPOLAR_NEIGHBOURS for nb in atom.GetNeighbors())
        ],
        dtype=np.int64,
    )
    return _Ligand(mol, coords, names, donors, acceptors, positive, negative, rings, nonpolar)


def _merge_groups(groups: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Groups sharing an atom become one (an amine found by two rules counts once)."""
    merged: list[set[int]] = []
    for group in groups:
        group_set = set(group)
        overlapping = [m for m in merged if m & group_set]
        for m in overlapping:
            group_set |= m
            merged.remove(m)
        merged.append(group_set)
    return [tuple(sorted(m)) for m in merged]


def _contacts(
    structure: ProteinStructure,
    mol: Chem.Mol,
    coords: np.ndarray,
    names: list[str],
    exclude: set[int],
) -> list[Contact]:
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) == 0 or structure.n_atoms == 0:
        return []
    lig = _ligand_features(mol, coords, names)
    # Protein atoms near the molecule: one KD-tree query over the whole structure.
    tree = _structure_tree(structure)
    near = tree.query_ball_point(coords, r=_SEARCH_RADIUS)
    atoms = np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in near]))
    if len(atoms) == 0:
        return []
    residue_of = structure.atom_residue[atoms]
    keep = (structure.res_kinds[residue_of] == POLYMER) & (structure.elements[atoms] != "H")
    if exclude:
        keep &= ~np.isin(residue_of, np.fromiter(exclude, dtype=np.int64))
    atoms = atoms[keep]
    if len(atoms) == 0:
        return []

    found: list[Contact] = []
    salt = _salt_bridges(structure, lig, atoms)
    found += salt
    salt_pairs = {(c.residue, i) for c in salt for i in c.ligand_atoms}
    found += [
        c for c in _hydrogen_bonds(structure, lig, atoms)
        if (c.residue, c.ligand_atoms[0]) not in salt_pairs
    ]  # fmt: skip
    found += _pi_stacking(structure, lig, atoms)
    found += _hydrophobic(structure, lig, atoms)
    order = {kind: i for i, kind in enumerate(KINDS)}
    found.sort(key=lambda c: (order[c.kind], c.distance, c.residue))
    return found


def _structure_tree(structure: ProteinStructure):
    from scipy.spatial import cKDTree

    tree = structure.cache.get("contacts-tree")
    if tree is None:
        tree = cKDTree(structure.coords)
        structure.cache["contacts-tree"] = tree
    return tree


def _point(xyz) -> tuple[float, float, float]:
    return (float(xyz[0]), float(xyz[1]), float(xyz[2]))


def _make(
    structure: ProteinStructure,
    kind: str,
    lig: _Ligand,
    ligand_atoms: tuple[int, ...],
    protein_atoms: tuple[int, ...],
    ligand_point: np.ndarray,
    protein_point: np.ndarray,
    distance: float,
    *,
    ring: bool = False,
    detail: str = "",
) -> Contact:
    residue = int(structure.atom_residue[protein_atoms[0]])
    return Contact(
        kind=kind,
        ligand_atoms=tuple(int(i) for i in ligand_atoms),
        residue=residue,
        residue_label=residue_label(structure, residue),
        protein_atoms=tuple(int(a) for a in protein_atoms),
        protein_atom="ring" if ring else str(structure.atom_names[protein_atoms[0]]),
        ligand_atom="ring" if ring else lig.names[ligand_atoms[0]],
        distance=round(float(distance), 3),
        ligand_point=_point(ligand_point),
        protein_point=_point(protein_point),
        detail=detail,
    )


def _protein_roles(structure: ProteinStructure, atoms: np.ndarray):
    """Donor and acceptor masks for ``atoms`` from residue and atom names."""
    res_names = structure.res_names[structure.atom_residue[atoms]]
    names = structure.atom_names[atoms]
    donor = np.zeros(len(atoms), dtype=bool)
    acceptor = np.zeros(len(atoms), dtype=bool)
    for k, (res, name) in enumerate(zip(res_names, names, strict=True)):
        res, name = str(res), str(name)
        if name == "N" and res != "PRO":
            donor[k] = True
        elif name in ("O", "OXT"):
            acceptor[k] = True
        if name in _SIDE_DONORS.get(res, ()):
            donor[k] = True
        if name in _SIDE_ACCEPTORS.get(res, ()):
            acceptor[k] = True
    return donor, acceptor


def _hydrogen_bonds(structure: ProteinStructure, lig: _Ligand, atoms: np.ndarray):
    from scipy.spatial import cKDTree

    donor, acceptor = _protein_roles(structure, atoms)
    polar = donor | acceptor
    if not polar.any():
        return []
    candidates = atoms[polar]
    is_donor, is_acceptor = donor[polar], acceptor[polar]
    tree = cKDTree(structure.coords[candidates])
    result = []
    for i in sorted(lig.donors | lig.acceptors):
        element = lig.mol.GetAtomWithIdx(i).GetSymbol()
        if element not in ("N", "O", "S"):
            continue
        for k in tree.query_ball_point(lig.coords[i], r=HBOND_MAX_SULFUR):
            atom = int(candidates[k])
            pairs = (i in lig.donors and is_acceptor[k]) or (i in lig.acceptors and is_donor[k])
            if not pairs:
                continue
            distance = float(np.linalg.norm(lig.coords[i] - structure.coords[atom]))
            sulfur = element == "S" or structure.elements[atom] == "S"
            if HBOND_MIN <= distance <= (HBOND_MAX_SULFUR if sulfur else HBOND_MAX):
                result.append(
                    _make(structure, HBOND, lig, (i,), (atom,), lig.coords[i],
                          structure.coords[atom], distance)
                )  # fmt: skip
    return result


def _residue_groups(structure: ProteinStructure, atoms: np.ndarray):
    """Charged groups of the residues among ``atoms``: ``(sign, residue, atom indices)``."""
    groups = []
    residues = np.unique(structure.atom_residue[atoms])
    for residue in residues:
        residue = int(residue)
        name = str(structure.res_names[residue])
        residue_atoms = structure.residue_atoms(residue)
        atom_names = structure.atom_names[residue_atoms]
        for sign, table in ((-1, _NEGATIVE_GROUPS), (1, _POSITIVE_GROUPS)):
            wanted = table.get(name)
            if wanted:
                chosen = residue_atoms[np.isin(atom_names, wanted)]
                if len(chosen):
                    groups.append((sign, residue, chosen))
        terminal = residue_atoms[atom_names == "OXT"]
        if len(terminal):
            oxygens = residue_atoms[np.isin(atom_names, ("O", "OXT"))]
            groups.append((-1, residue, oxygens))
    return groups


def _salt_bridges(structure: ProteinStructure, lig: _Ligand, atoms: np.ndarray):
    if not lig.positive and not lig.negative:
        return []
    result = []
    for sign, _residue, group_atoms in _residue_groups(structure, atoms):
        ligand_groups = lig.negative if sign > 0 else lig.positive
        for group in ligand_groups:
            a = lig.coords[list(group)]
            b = structure.coords[group_atoms]
            distances = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
            i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
            if distances[i, j] <= SALT_BRIDGE_MAX:
                result.append(
                    _make(structure, SALT_BRIDGE, lig, (group[i], *[g for g in group if g != group[i]]),
                          (int(group_atoms[j]),), a[i], b[j], distances[i, j],
                          detail="−" if sign > 0 else "+")
                )  # fmt: skip
    return result


def _ring_geometry(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = points.mean(axis=0)
    normal = np.linalg.svd(points - centre)[2][-1]
    return centre, normal / np.linalg.norm(normal)


def _protein_rings(structure: ProteinStructure, atoms: np.ndarray):
    rings = []
    for residue in np.unique(structure.atom_residue[atoms]):
        residue = int(residue)
        patterns = _PROTEIN_RINGS.get(str(structure.res_names[residue]))
        if not patterns:
            continue
        residue_atoms = structure.residue_atoms(residue)
        names = {
            str(n): int(a)
            for n, a in zip(structure.atom_names[residue_atoms], residue_atoms, strict=True)
        }
        for pattern in patterns:
            if all(n in names for n in pattern):
                rings.append(tuple(names[n] for n in pattern))
    return rings


def _pi_stacking(structure: ProteinStructure, lig: _Ligand, atoms: np.ndarray):
    if not lig.rings:
        return []
    protein_rings = _protein_rings(structure, atoms)
    result = []
    for ring in lig.rings:
        c1, n1 = _ring_geometry(lig.coords[list(ring)])
        best: tuple | None = None
        for protein_ring in protein_rings:
            c2, n2 = _ring_geometry(structure.coords[list(protein_ring)])
            distance = float(np.linalg.norm(c1 - c2))
            if distance > PI_CENTROID_MAX:
                continue
            angle = float(np.degrees(np.arccos(min(1.0, abs(float(np.dot(n1, n2)))))))
            d = c2 - c1
            offset = min(
                float(np.linalg.norm(d - np.dot(d, n1) * n1)),
                float(np.linalg.norm(d - np.dot(d, n2) * n2)),
            )
            if angle <= PI_PARALLEL_MAX_ANGLE and offset <= PI_PARALLEL_OFFSET:
                detail = "parallel"
            elif angle >= PI_T_MIN_ANGLE and offset <= PI_T_OFFSET:
                detail = "T-shaped"
            else:
                continue
            if best is None or distance < best[0]:
                best = (distance, protein_ring, c2, detail)
        if best is not None:
            distance, protein_ring, c2, detail = best
            result.append(
                _make(structure, PI_STACKING, lig, ring, protein_ring, c1, c2, distance,
                      ring=True, detail=detail)
            )  # fmt: skip
    return result


def _nonpolar_protein_carbons(structure: ProteinStructure, atoms: np.ndarray) -> np.ndarray:
    """Carbons among ``atoms`` bonded only to carbon, hydrogen, sulfur or halogens."""
    carbons = atoms[structure.elements[atoms] == "C"]
    if len(carbons) == 0:
        return carbons
    bonds = structure.bonds()
    polar = np.zeros(structure.n_atoms, dtype=bool)
    if len(bonds):
        elements = structure.elements
        polar_element = ~np.isin(elements, list(_NONPOLAR_NEIGHBOURS))
        a, b = bonds[:, 0], bonds[:, 1]
        polar[a[polar_element[b]]] = True
        polar[b[polar_element[a]]] = True
    return carbons[~polar[carbons]]


def _hydrophobic(structure: ProteinStructure, lig: _Ligand, atoms: np.ndarray):
    from scipy.spatial import cKDTree

    if len(lig.nonpolar) == 0:
        return []
    carbons = _nonpolar_protein_carbons(structure, atoms)
    if len(carbons) == 0:
        return []
    tree = cKDTree(lig.coords[lig.nonpolar])
    distances, nearest = tree.query(structure.coords[carbons], distance_upper_bound=HYDROPHOBIC_MAX)
    close = np.isfinite(distances)
    best: dict[int, tuple[float, int, int]] = {}
    for k in np.flatnonzero(close):
        atom = int(carbons[k])
        residue = int(structure.atom_residue[atom])
        candidate = (float(distances[k]), atom, int(lig.nonpolar[nearest[k]]))
        if residue not in best or candidate < best[residue]:
            best[residue] = candidate
    return [
        _make(structure, HYDROPHOBIC, lig, (i,), (atom,), lig.coords[i], structure.coords[atom],
              distance)
        for distance, atom, i in best.values()
    ]  # fmt: skip
