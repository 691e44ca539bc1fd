"""Protein structures read with gemmi into flat numpy arrays (one row per atom, one per residue).

``read_structure`` opens PDB and mmCIF files (gzipped too) and returns a :class:`ProteinStructure`:
the first model's atoms (first alternate location of each atom, no hydrogens), every residue
classified as polymer, ligand or water, secondary structure from the file's HELIX/SHEET
(``_struct_conf``/``_struct_sheet_range``) records or computed from the CA trace, and bonds from
covalent radii. Drawing code reads the arrays; nothing here knows about VTK or Qt.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_FILE_BYTES = 200 * 1024 * 1024
"""Files larger than this (on disk, or uncompressed for .gz) are refused."""

POLYMER, LIGAND, WATER = "polymer", "ligand", "water"
HELIX, STRAND, COIL = "H", "E", "C"

THREE_TO_ONE = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "MSE": "M",
    "SEC": "U", "PYL": "O", "HID": "H", "HIE": "H", "HIP": "H", "CYX": "C",
    "DA": "A", "DC": "C", "DG": "G", "DT": "T", "A": "A", "C": "C", "G": "G", "U": "U",
}  # fmt: skip
ONE_TO_THREE = {
    one: three for three, one in THREE_TO_ONE.items() if len(three) == 3 and three.isalpha()
}
for _three in ("MSE", "HID", "HIE", "HIP", "CYX", "SEC", "PYL"):
    ONE_TO_THREE.pop(THREE_TO_ONE[_three], None)
ONE_TO_THREE.update({"M": "MET", "H": "HIS", "C": "CYS"})

WATER_NAMES = frozenset({"HOH", "WAT", "H2O", "DOD", "TIP", "TIP3", "SOL"})

COVALENT_RADII = {
    "H": 0.31, "C": 0.76, "N": 0.71, "O": 0.66, "S": 1.05, "P": 1.07, "F": 0.57, "CL": 1.02,
    "BR": 1.20, "I": 1.39, "SE": 1.20, "B": 0.84,
}  # fmt: skip
"""Å; elements missing here (metals, ions) get no bonds."""

ATOMIC_NUMBERS = {
    "H": 1, "C": 6, "N": 7, "O": 8, "F": 9, "NA": 11, "MG": 12, "P": 15, "S": 16, "CL": 17,
    "K": 19, "CA": 20, "MN": 25, "FE": 26, "CO": 27, "NI": 28, "CU": 29, "ZN": 30, "SE": 34,
    "BR": 35, "I": 53, "B": 5, "CD": 48, "HG": 80,
}  # fmt: skip


class StructureError(ValueError):
    """A file that cannot be read as a structure; the message names the file and the problem."""


@dataclass(slots=True, frozen=True)
class ChainInfo:
    id: str
    residues: int
    """Polymer residues."""
    sequence: str
    ligands: int
    waters: int


@dataclass(slots=True, frozen=True)
class LigandInfo:
    name: str
    chain: str
    resnum: int
    atoms: int
    """Heavy atoms as in the file."""
    residue: int
    """Index into :attr:`ProteinStructure.res_names` and the other residue arrays."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.chain}{self.resnum}"


@dataclass(slots=True, eq=False)
class ProteinStructure:
    """The atoms of one model as flat arrays; residues as parallel arrays; atom → residue index."""

    name: str
    coords: np.ndarray  # (n_atoms, 3) float64
    elements: np.ndarray  # (n_atoms,) str, upper case ("C", "CL")
    atom_names: np.ndarray  # (n_atoms,) str
    bfactors: np.ndarray  # (n_atoms,) float64
    atom_residue: np.ndarray  # (n_atoms,) int: index of the atom's residue
    res_names: np.ndarray  # (n_residues,) str
    res_chains: np.ndarray  # (n_residues,) str
    res_numbers: np.ndarray  # (n_residues,) int
    res_icodes: np.ndarray  # (n_residues,) str
    res_kinds: np.ndarray  # (n_residues,) POLYMER / LIGAND / WATER
    res_ss: np.ndarray  # (n_residues,) HELIX / STRAND / COIL ("" for non-polymers)
    res_atom_start: np.ndarray  # (n_residues + 1,) int: atoms of residue i are start[i]:start[i+1]
    chains: list[ChainInfo]
    ligands: list[LigandInfo]
    n_models: int = 1
    model_index: int = 0
    """Which model (from 0) of the file these atoms are."""
    n_waters: int = 0
    n_altloc_atoms: int = 0
    ss_source: str = "none"
    """"file" (HELIX/SHEET records), "computed" (from the CA trace) or "none"."""
    source: str = ""
    path: str = ""
    """The file read, when read from one (to read another model of it)."""
    _bonds: np.ndarray | None = field(default=None, repr=False)
    cache: dict = field(default_factory=dict, repr=False)
    """Derived geometry (cartoon meshes) computed once, e.g. on the engine thread after reading."""

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return len(self.coords)

    @property
    def n_residues(self) -> int:
        return len(self.res_names)

    @property
    def atomic_numbers(self) -> np.ndarray:
        return np.array([ATOMIC_NUMBERS.get(e, 6) for e in self.elements], dtype=np.int32)

    def atom_kinds(self) -> np.ndarray:
        return self.res_kinds[self.atom_residue]

    def atom_chains(self) -> np.ndarray:
        return self.res_chains[self.atom_residue]

    def residue_atoms(self, residue: int) -> np.ndarray:
        return np.arange(self.res_atom_start[residue], self.res_atom_start[residue + 1])

    def residue_label(self, residue: int) -> str:
        icode = self.res_icodes[residue].strip()
        return f"{self.res_names[residue]} {self.res_chains[residue]}{self.res_numbers[residue]}{icode}"

    def atom_label(self, atom: int) -> str:
        """``"chain A · LYS 12 · atom CA (C)"`` for the status bar."""
        residue = int(self.atom_residue[atom])
        icode = self.res_icodes[residue].strip()
        return (
            f"chain {self.res_chains[residue]} · {self.res_names[residue]} "
            f"{self.res_numbers[residue]}{icode} · atom {self.atom_names[atom]} "
            f"({self.elements[atom].capitalize()}) · B {self.bfactors[atom]:.1f}"
        )

    def find_residue(self, chain: str, number: int, icode: str = "") -> int | None:
        hits = np.flatnonzero(
            (self.res_chains == chain)
            & (self.res_numbers == number)
            & (np.char.strip(self.res_icodes.astype(str)) == icode.strip())
        )
        return int(hits[0]) if len(hits) else None

    # -- atoms by role ---------------------------------------------------------------------------
    def ca_atoms(self) -> np.ndarray:
        """Index of each polymer residue's CA (or P for nucleic acids), -1 where it has none."""
        result = np.full(self.n_residues, -1, dtype=np.int64)
        candidates = np.flatnonzero(
            ((self.atom_names == "CA") & (self.elements == "C")) | (self.atom_names == "P")
        )
        residues = self.atom_residue[candidates]
        polymer = self.res_kinds[residues] == POLYMER
        # Later atoms overwrite earlier ones: write in reverse so the first one wins.
        result[residues[polymer][::-1]] = candidates[polymer][::-1]
        return result

    def bonds(self) -> np.ndarray:
        """``(n_bonds, 2)`` atom index pairs, from covalent radii (+0.45 Å), computed once."""
        if self._bonds is None:
            self._bonds = compute_bonds(self.coords, self.elements, self.atom_residue)
        return self._bonds

    def heavy_mask(self) -> np.ndarray:
        return self.elements != "H"

    # -- analysis --------------------------------------------------------------------------------
    def residue_centroid(self, residues: np.ndarray | list[int]) -> np.ndarray:
        atoms = np.concatenate([self.residue_atoms(int(r)) for r in residues])
        return self.coords[atoms].mean(axis=0)

    def residues_within(self, residues: list[int] | np.ndarray, cutoff: float) -> list[int]:
        """Polymer residues with any atom within ``cutoff`` Å of any atom of ``residues``."""
        if cutoff <= 0:
            raise ValueError(f"The binding-site distance must be positive, not {cutoff} Å.")
        from scipy.spatial import cKDTree

        source = np.concatenate([self.residue_atoms(int(r)) for r in residues])
        tree = cKDTree(self.coords)
        hits = tree.query_ball_point(self.coords[source], r=cutoff)
        atoms = np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]))
        found = np.unique(self.atom_residue[atoms])
        return [int(r) for r in found if self.res_kinds[r] == POLYMER and r not in set(residues)]

    def binding_site(self, ligand: LigandInfo, cutoff: float = 5.0) -> list[int]:
        """Polymer residues within ``cutoff`` Å of the ligand's atoms, in chain order."""
        return self.residues_within([ligand.residue], cutoff)

    def info(self) -> dict[str, Any]:
        """The summary ``drugdesk structure --info`` prints."""
        return {
            "name": self.name,
            "chains": [
                {
                    "id": c.id,
                    "residues": c.residues,
                    "sequence": c.sequence,
                    "ligands": c.ligands,
                    "waters": c.waters,
                }
                for c in self.chains
            ],
            "ligands": [
                {"name": lig.name, "chain": lig.chain, "resnum": lig.resnum, "atoms": lig.atoms}
                for lig in self.ligands
            ],
            "waters": self.n_waters,
            "models": self.n_models,
            "model_shown": self.model_index + 1,
            "atoms": self.n_atoms,
            "altloc_atoms": self.n_altloc_atoms,
            "secondary_structure": self.ss_source,
            "helix_residues": int(np.sum(self.res_ss == HELIX)),
            "strand_residues": int(np.sum(self.res_ss == STRAND)),
        }

    def looks_predicted(self) -> bool:
        """True for AlphaFold / ESMFold models: no waters or ligands, B-factors (pLDDT) in 0–100,
        one value per residue, or a header that names the predictor."""
        if self.n_atoms == 0 or self.n_waters or self.ligands:
            return False
        if self.bfactors.min() < 0 or self.bfactors.max() > 100:
            return False
        header = self.source.upper()
        if any(word in header for word in ("ALPHAFOLD", "ESMFOLD", "PREDICTED")):
            return True
        first = self.bfactors[self.res_atom_start[:-1]]
        per_residue = np.allclose(self.bfactors, first[self.atom_residue], atol=0.5)
        return bool(per_residue and np.ptp(self.bfactors) > 0)


# ----------------------------------------------------------------------------------------------
# Reading


def _detect_format(name: str, text_head: str) -> str:
    lower = name.lower().removesuffix(".gz")
    if lower.endswith((".cif", ".mmcif", ".bcif")):
        return "cif"
    if lower.endswith((".pdb", ".ent", ".pdb1")):
        return "pdb"
    if text_head.lstrip().startswith("data_"):
        return "cif"
    return "pdb"


def read_text(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a structure file (gunzipped), refusing files over ``max_bytes``."""
    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such file.")
    size = path.stat().st_size
    if size > max_bytes:
        raise StructureError(
            f"{path.name} is {size / 1e6:.1f} MB; structures over {max_bytes / 1e6:.0f} MB "
            "are refused (split the file or keep only the chains you need)."
        )
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                raw = handle.read(max_bytes + 1)
        except (OSError, EOFError) as exc:
            raise StructureError(
                f"{path.name}: the gzip file is damaged or truncated ({exc})."
            ) from None
        if len(raw) > max_bytes:
            raise StructureError(
                f"{path.name} holds over {max_bytes / 1e6:.0f} MB uncompressed; refused."
            )
    if b"\x00" in raw[:4096]:
        raise StructureError(f"{path.name} is a binary file, not a PDB or mmCIF structure.")
    return raw.decode("utf-8", errors="replace")


def read_structure(
    path: str | os.PathLike,
    *,
    model: int = 0,
    max_bytes: int = MAX_FILE_BYTES,
    progress=None,
    is_cancelled=None,
) -> ProteinStructure:
    """Read a PDB or mmCIF file (``.gz`` too) into a :class:`ProteinStructure`.

    ``model``: which model (from 0) of a multi-model file (NMR ensembles) to take.
    Raises :class:`StructureError` (a ``ValueError``) for missing, oversized, damaged or
    non-structure files, with the file name in the message.
    """
    if progress:
        progress(-1, f"Reading {Path(path).name}")
    text = read_text(path, max_bytes)
    structure = parse_structure(text, name=Path(path).name, source=str(path), model=model)
    structure.path = str(path)
    return structure


def load_for_display(
    path: str | os.PathLike,
    *,
    model: int = 0,
    max_bytes: int = MAX_FILE_BYTES,
    progress=None,
    is_cancelled=None,
) -> ProteinStructure:
    """:func:`read_structure`, then the geometry the viewer needs first (bonds, the cartoon mesh),
    so that a job on the engine thread does the heavy work and the GUI only wraps arrays."""
    structure = read_structure(path, model=model, max_bytes=max_bytes, progress=progress)
    prepare_for_display(structure)
    return structure


def prepare_for_display(structure: ProteinStructure) -> ProteinStructure:
    """Compute and cache bonds and the cartoon mesh of all polymer residues."""
    from core.protein.cartoon import cached_cartoon_mesh

    structure.bonds()
    polymer = np.flatnonzero(structure.res_kinds == POLYMER)
    if len(polymer):
        cached_cartoon_mesh(structure, polymer)
    return structure


def parse_structure(
    text: str, name: str = "structure", source: str = "", model: int = 0
) -> ProteinStructure:
    """Parse PDB or mmCIF text (the format is taken from ``name``'s suffix, else the content)."""
    import gemmi

    if not text.strip():
        raise StructureError(f"{name} is empty.")
    fmt = _detect_format(name, text[:2000])
    try:
        if fmt == "cif":
            block = gemmi.cif.read_string(text).sole_block()
            st = gemmi.make_structure_from_block(block)
        else:
            _check_pdb_text(text, name)
            st = gemmi.read_pdb_string(text)
    except StructureError:
        raise
    except (RuntimeError, ValueError, IndexError) as exc:
        kind = "mmCIF" if fmt == "cif" else "PDB"
        raise StructureError(
            f"{name} is not a readable {kind} file (damaged or truncated?): {exc}"
        ) from None
    if len(st) == 0 or st[0].count_atom_sites() == 0:
        raise StructureError(f"{name} holds no atoms: not a PDB or mmCIF structure.")
    if not 0 <= model < len(st):
        raise StructureError(f"{name} holds {len(st)} model(s); model {model + 1} does not exist.")
    return _from_gemmi(st, name, source or name, model)


def _check_pdb_text(text: str, name: str) -> None:
    records = 0
    last = ""
    for line in text.splitlines():
        if line.startswith(("ATOM  ", "HETATM")):
            records += 1
            last = line
            if len(line.rstrip()) < 54:
                raise StructureError(
                    f"{name}: the atom record {line.strip()[:30]!r} is cut short (the file is "
                    "truncated or not a PDB file)."
                )
            try:
                float(line[30:38]), float(line[38:46]), float(line[46:54])
            except ValueError:
                raise StructureError(
                    f"{name}: the atom record {line.strip()[:30]!r} has no valid coordinates."
                ) from None
    if records == 0:
        raise StructureError(f"{name} holds no ATOM or HETATM records: not a PDB structure.")
    del last


def _from_gemmi(st, name: str, source: str, model_index: int = 0) -> ProteinStructure:
    import gemmi

    n_models = len(st)
    if model_index:  # keep only the chosen model: the rest of the code reads st[0]
        for _ in range(model_index):
            del st[0]
    st.setup_entities()
    model = st[0]
    n_altloc = sum(1 for cra in model.all() if cra.atom.altloc != "\0")
    st.remove_alternative_conformations()
    st.remove_hydrogens()
    st.remove_empty_chains()
    model = st[0]

    coords: list[tuple[float, float, float]] = []
    elements: list[str] = []
    atom_names: list[str] = []
    bfactors: list[float] = []
    atom_residue: list[int] = []
    res_names, res_chains, res_numbers, res_icodes, res_kinds = [], [], [], [], []
    starts = [0]
    polymer_type = gemmi.EntityType.Polymer
    water_type = gemmi.EntityType.Water
    for chain in model:
        for residue in chain:
            if len(residue) == 0:
                continue
            index = len(res_names)
            resname = residue.name
            if residue.is_water() or resname in WATER_NAMES or residue.entity_type == water_type:
                kind = WATER
            elif residue.entity_type == polymer_type or (
                residue.het_flag == "A" and resname in THREE_TO_ONE
            ):
                kind = POLYMER
            else:
                kind = LIGAND
            res_names.append(resname)
            res_chains.append(chain.name)
            res_numbers.append(residue.seqid.num)
            res_icodes.append(residue.seqid.icode.strip())
            res_kinds.append(kind)
            for atom in residue:
                pos = atom.pos
                coords.append((pos.x, pos.y, pos.z))
                elements.append(atom.element.name.upper())
                atom_names.append(atom.name)
                bfactors.append(atom.b_iso)
                atom_residue.append(index)
            starts.append(len(coords))
    if not coords:
        raise StructureError(f"{name} holds only hydrogens or empty chains: nothing to show.")

    res_names_a = np.array(res_names, dtype=object).astype(str)
    res_chains_a = np.array(res_chains, dtype=object).astype(str)
    res_numbers_a = np.array(res_numbers, dtype=np.int64)
    res_kinds_a = np.array(res_kinds, dtype=object).astype(str)
    structure = ProteinStructure(
        name=name,
        coords=np.array(coords, dtype=np.float64),
        elements=np.array(elements, dtype=object).astype(str),
        atom_names=np.array(atom_names, dtype=object).astype(str),
        bfactors=np.array(bfactors, dtype=np.float64),
        atom_residue=np.array(atom_residue, dtype=np.int64),
        res_names=res_names_a,
        res_chains=res_chains_a,
        res_numbers=res_numbers_a,
        res_icodes=np.array(res_icodes, dtype=object).astype(str),
        res_kinds=res_kinds_a,
        res_ss=np.where(res_kinds_a == POLYMER, COIL, "").astype("<U1"),
        res_atom_start=np.array(starts, dtype=np.int64),
        chains=[],
        ligands=[],
        n_models=n_models,
        model_index=model_index,
        n_waters=int(np.sum(res_kinds_a == WATER)),
        n_altloc_atoms=n_altloc,
        source=source + " " + _header_text(st),
    )
    _assign_secondary_structure(structure, st)
    structure.chains, structure.ligands = _summaries(structure)
    return structure


def _header_text(st) -> str:
    try:
        return " ".join(str(value) for value in dict(st.info).values())
    except (TypeError, ValueError):
        return ""


def _summaries(s: ProteinStructure) -> tuple[list[ChainInfo], list[LigandInfo]]:
    chains: list[ChainInfo] = []
    seen: list[str] = []
    for chain in s.res_chains:
        if chain not in seen:
            seen.append(chain)
    for chain in seen:
        mask = s.res_chains == chain
        polymer = mask & (s.res_kinds == POLYMER)
        sequence = "".join(THREE_TO_ONE.get(n, "X") for n in s.res_names[polymer])
        chains.append(
            ChainInfo(
                id=chain,
                residues=int(polymer.sum()),
                sequence=sequence,
                ligands=int((mask & (s.res_kinds == LIGAND)).sum()),
                waters=int((mask & (s.res_kinds == WATER)).sum()),
            )
        )
    ligands = []
    for residue in np.flatnonzero(s.res_kinds == LIGAND):
        atoms = s.residue_atoms(int(residue))
        ligands.append(
            LigandInfo(
                name=str(s.res_names[residue]),
                chain=str(s.res_chains[residue]),
                resnum=int(s.res_numbers[residue]),
                atoms=int(np.sum(s.elements[atoms] != "H")),
                residue=int(residue),
            )
        )
    return chains, ligands


# ----------------------------------------------------------------------------------------------
# Secondary structure


def _assign_secondary_structure(s: ProteinStructure, st) -> None:
    ranges: list[tuple[str, str, int, int]] = []
    for helix in st.helices:
        ranges.append(
            (
                HELIX,
                helix.start.chain_name,
                helix.start.res_id.seqid.num,
                helix.end.res_id.seqid.num,
            )
        )
    for sheet in st.sheets:
        for strand in sheet.strands:
            ranges.append(
                (STRAND, strand.start.chain_name, strand.start.res_id.seqid.num,
                 strand.end.res_id.seqid.num)
            )  # fmt: skip
    polymer = s.res_kinds == POLYMER
    if ranges:
        for kind, chain, first, last in ranges:
            mask = polymer & (s.res_chains == chain) & (s.res_numbers >= first)
            mask &= s.res_numbers <= last
            s.res_ss[mask] = kind
        s.ss_source = "file"
        return
    computed = compute_secondary_structure(s)
    if computed is not None:
        s.res_ss[:] = computed
        s.ss_source = "computed"


def compute_secondary_structure(s: ProteinStructure) -> np.ndarray | None:
    """Helix and strand from CA distances (a P-SEA-like rule); ``None`` without protein CAs.

    Helix: CA(i)–CA(i+3) 4.2–5.8 Å and CA(i)–CA(i+4) 5.2–7.0 Å over four residues. Strand: an
    extended stretch (CA(i)–CA(i+2) ≥ 6.0 Å) with a CA of another extended residue, at least three
    residues away, within 5.5 Å.
    """
    ca = s.ca_atoms()
    result = np.where(s.res_kinds == POLYMER, COIL, "").astype("<U1")
    protein = (ca >= 0) & (s.atom_names[np.maximum(ca, 0)] == "CA")
    if protein.sum() < 5:
        return None
    helix = np.zeros(s.n_residues, dtype=bool)
    extended = np.zeros(s.n_residues, dtype=bool)
    for segment in _ca_segments(s, ca, protein):
        xyz = s.coords[ca[segment]]
        n = len(segment)
        if n < 5:
            continue
        d3 = np.linalg.norm(xyz[3:] - xyz[:-3], axis=1)
        d4 = np.linalg.norm(xyz[4:] - xyz[:-4], axis=1)
        d2 = np.linalg.norm(xyz[2:] - xyz[:-2], axis=1)
        turn = (d3[: n - 4] > 4.2) & (d3[: n - 4] < 5.8) & (d4 > 5.2) & (d4 < 7.0)
        for i in np.flatnonzero(turn):
            helix[segment[i : i + 5]] = True
        ext = d2 >= 6.0
        for i in np.flatnonzero(ext):
            extended[segment[i : i + 3]] = True
    extended &= ~helix
    candidates = np.flatnonzero(extended)
    strand = np.zeros(s.n_residues, dtype=bool)
    if len(candidates) > 1:
        from scipy.spatial import cKDTree

        tree = cKDTree(s.coords[ca[candidates]])
        for a, b in tree.query_pairs(5.5):
            ra, rb = candidates[a], candidates[b]
            if s.res_chains[ra] != s.res_chains[rb] or abs(ra - rb) >= 3:
                strand[ra] = strand[rb] = True
    result[helix] = HELIX
    result[strand] = STRAND
    return result


def _ca_segments(s: ProteinStructure, ca: np.ndarray, valid: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive residues of one chain with CAs no more than 4.3 Å apart."""
    segments: list[np.ndarray] = []
    current: list[int] = []
    previous = -1
    for residue in np.flatnonzero(valid):
        if current:
            gap = np.linalg.norm(s.coords[ca[residue]] - s.coords[ca[previous]])
            if s.res_chains[residue] != s.res_chains[previous] or gap > 4.3:
                segments.append(np.array(current))
                current = []
        current.append(int(residue))
        previous = residue
    if current:
        segments.append(np.array(current))
    return segments


def backbone_segments(s: ProteinStructure) -> list[np.ndarray]:
    """Polymer residues with a CA (or P) in unbroken runs, for cartoon drawing."""
    ca = s.ca_atoms()
    valid = ca >= 0
    segments: list[np.ndarray] = []
    current: list[int] = []
    previous = -1
    for residue in np.flatnonzero(valid):
        if current:
            limit = 4.3 if s.atom_names[ca[residue]] == "CA" else 8.0
            gap = np.linalg.norm(s.coords[ca[residue]] - s.coords[ca[previous]])
            if s.res_chains[residue] != s.res_chains[previous] or gap > limit:
                segments.append(np.array(current))
                current = []
        current.append(int(residue))
        previous = residue
    if current:
        segments.append(np.array(current))
    return [seg for seg in segments if len(seg) >= 2]


# ----------------------------------------------------------------------------------------------
# Bonds


def compute_bonds(coords: np.ndarray, elements: np.ndarray, atom_residue: np.ndarray) -> np.ndarray:
    """Pairs closer than the sum of their covalent radii + 0.45 Å (no bonds to ions or waters)."""
    from scipy.spatial import cKDTree

    if len(coords) < 2:
        return np.empty((0, 2), dtype=np.int64)
    radii = np.array([COVALENT_RADII.get(e, 0.0) for e in elements])
    bonded = radii > 0
    index = np.flatnonzero(bonded)
    if len(index) < 2:
        return np.empty((0, 2), dtype=np.int64)
    tree = cKDTree(coords[index])
    pairs = tree.query_pairs(r=2.6, output_type="ndarray")
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64)
    a, b = index[pairs[:, 0]], index[pairs[:, 1]]
    distance = np.linalg.norm(coords[a] - coords[b], axis=1)
    keep = (distance < radii[a] + radii[b] + 0.45) & (distance > 0.4)
    return np.stack([a[keep], b[keep]], axis=1).astype(np.int64)
