"""A small synthetic protein–ligand complex as PDB text, for the demo, tests and benchmarks.

No protein file ships with the installed packages, so DrugDesk builds one: two chains (A and B),
each an α-helix, a loop and a two-stranded β-hairpin, with HELIX and SHEET records; a ligand
(``LIG``, a benzoic-acid-like ring of 9 heavy atoms) between the helices; waters; and one residue
with two alternate locations. :func:`replicate_pdb` copies a structure side by side to make a large
one (100,000 atoms and more) for benchmarks.
"""

from __future__ import annotations

import numpy as np

SEQUENCE_A = "MKTAYIAKQRQISFGSPDGKVTVEVNGDGKTYEVRV"
SEQUENCE_B = "SLEELLKRAEEALKGNPDGRVEVKVDGNGKTIRVEV"
HELIX_LENGTH = 14
STRAND_LENGTH = 6


def _backbone(ca: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """N, CA, C, O (and CB) positions per residue from a CA trace (rough peptide geometry)."""
    atoms = []
    n = len(ca)
    for i in range(n):
        forward = ca[min(i + 1, n - 1)] - ca[i] if i < n - 1 else ca[i] - ca[i - 1]
        u = forward / np.linalg.norm(forward)
        side = np.cross(u, [0.3, 0.4, 0.86])
        if np.linalg.norm(side) < 1e-3:
            side = np.cross(u, [1.0, 0.0, 0.0])
        p = side / np.linalg.norm(side)
        q = np.cross(u, p)
        back = ca[i] - ca[i - 1] if i > 0 else forward
        ub = back / np.linalg.norm(back)
        residue = [
            ("N", ca[i] - 1.06 * ub + 1.0 * p),
            ("CA", ca[i]),
            ("C", ca[i] + 1.42 * u + 0.56 * p),
            ("O", ca[i] + 1.42 * u + 0.56 * p - 1.23 * p),
            ("CB", ca[i] - 0.5 * u - 0.9 * p + 1.15 * q),
        ]
        atoms.append(residue)
    return atoms


def _helix(n: int, centre_xy: tuple[float, float], z0: float) -> np.ndarray:
    t = np.arange(n)
    angle = np.radians(100.0) * t
    return np.stack(
        [centre_xy[0] + 2.3 * np.cos(angle), centre_xy[1] + 2.3 * np.sin(angle), z0 + 1.5 * t],
        axis=1,
    )


def _strand(n: int, start: np.ndarray, direction: np.ndarray, pleat: np.ndarray) -> np.ndarray:
    t = np.arange(n)
    return start + 3.3 * t[:, None] * direction + 0.9 * ((-1) ** t)[:, None] * pleat


def _connect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CA positions strictly between ``a`` and ``b``, at most 3.8 Å apart."""
    distance = np.linalg.norm(b - a)
    count = max(int(np.ceil(distance / 3.8)) - 1, 0)
    steps = np.linspace(0, 1, count + 2)[1:-1]
    bulge = np.array([0.0, 0.0, 0.6])
    return np.array([a + s * (b - a) + np.sin(np.pi * s) * bulge for s in steps]).reshape(-1, 3)


def _chain_trace() -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    helix = _helix(HELIX_LENGTH, (-8.0, 0.0), -10.0)
    x_dir = np.array([0.0, 1.0, 0.0])
    strand1 = _strand(STRAND_LENGTH, np.array([-17.0, -8.0, 8.0]), x_dir, np.array([1.0, 0, 0]))
    strand2 = _strand(
        STRAND_LENGTH, np.array([-17.0, strand1[-1][1], 3.2]), -x_dir, np.array([1.0, 0, 0])
    )
    loop = _connect(helix[-1], strand1[0])
    turn = _connect(strand1[-1], strand2[0])
    parts = [helix, loop, strand1, turn, strand2]
    trace = np.concatenate([p for p in parts if len(p)])
    first_strand1 = HELIX_LENGTH + len(loop) + 1
    first_strand2 = first_strand1 + STRAND_LENGTH + len(turn)
    ss = [
        ("H", 1, HELIX_LENGTH),
        ("E", first_strand1, first_strand1 + STRAND_LENGTH - 1),
        ("E", first_strand2, first_strand2 + STRAND_LENGTH - 1),
    ]
    return trace, ss


def _atom_line(
    record: str,
    serial: int,
    name: str,
    resname: str,
    chain: str,
    resnum: int,
    xyz,
    bfactor: float,
    element: str,
    altloc: str = " ",
    occupancy: float = 1.0,
) -> str:
    padded = f" {name:<3}" if len(name) < 4 else name
    return (
        f"{record:<6}{serial % 100000:5d} {padded}{altloc}{resname:>3} {chain}{resnum:4d}    "
        f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}{occupancy:6.2f}{bfactor:6.2f}          "
        f"{element:>2}"
    )


LIGAND_ATOMS = [
    ("C1", "C", (1.39, 0.0, 0.0)),
    ("C2", "C", (0.695, 1.204, 0.0)),
    ("C3", "C", (-0.695, 1.204, 0.0)),
    ("C4", "C", (-1.39, 0.0, 0.0)),
    ("C5", "C", (-0.695, -1.204, 0.0)),
    ("C6", "C", (0.695, -1.204, 0.0)),
    ("C7", "C", (2.89, 0.0, 0.0)),
    ("O1", "O", (3.50, 1.06, 0.0)),
    ("O2", "O", (3.50, -1.06, 0.0)),
]


def synthetic_complex_pdb(
    *, with_ss_records: bool = True, with_ligand: bool = True, plddt: bool = False
) -> str:
    """PDB text of the demo complex (about 600 atoms; chains A and B of 36 residues each).

    ``plddt=True`` writes per-residue confidence values (AlphaFold style) in the B-factor column
    and leaves out the ligand and waters.
    """
    from core.protein.structure import ONE_TO_THREE

    trace_a, ss = _chain_trace()
    rotate = np.diag([-1.0, 1.0, -1.0])  # chain B: chain A turned 180° about the y axis
    lines = ["HEADER    DRUGDESK DEMO COMPLEX", "TITLE     SYNTHETIC TWO-CHAIN COMPLEX WITH LIGAND"]
    if plddt:
        lines[1] = "TITLE     PREDICTED MODEL (SYNTHETIC, PLDDT IN B-FACTOR)"
    chains = [("A", SEQUENCE_A, trace_a), ("B", SEQUENCE_B, trace_a @ rotate.T)]
    if with_ss_records:
        serial = 1
        for chain, sequence, _ in chains:
            _, first, last = ss[0]
            lines.append(
                f"HELIX  {serial:3d} H{serial:<2d} {ONE_TO_THREE[sequence[first - 1]]} {chain} "
                f"{first:4d}  {ONE_TO_THREE[sequence[last - 1]]} {chain} {last:4d}  1"
                + " " * 30
                + f"{last - first + 1:5d}"
            )
            serial += 1
        for chain, sequence, _ in chains:
            for strand_no, (_, first, last) in enumerate(ss[1:], start=1):
                sense = 0 if strand_no == 1 else -1
                lines.append(
                    f"SHEET  {strand_no:3d} S{chain}1 2 {ONE_TO_THREE[sequence[first - 1]]} "
                    f"{chain}{first:4d}  {ONE_TO_THREE[sequence[last - 1]]} {chain}{last:4d}"
                    f"{sense:2d}"
                )
    serial = 1
    rng = np.random.default_rng(7)
    for chain, sequence, trace in chains:
        n = min(len(sequence), len(trace))
        confidence = np.clip(
            95 - 60 * np.abs(np.linspace(-1, 1, n)) ** 3 + rng.normal(0, 3, n), 20, 99
        )
        for i, atoms in enumerate(_backbone(trace[:n])):
            resname = ONE_TO_THREE[sequence[i]]
            bfactor = float(confidence[i]) if plddt else 15.0 + 10.0 * abs(np.sin(i / 3))
            for name, xyz in atoms:
                if name == "CB" and resname == "GLY":
                    continue
                if name == "CB" and chain == "A" and i == 4 and not plddt:
                    for altloc, shift, occ in (("A", 0.0, 0.6), ("B", 0.5, 0.4)):
                        lines.append(
                            _atom_line(
                                "ATOM", serial, name, resname, chain, i + 1, xyz + shift,
                                bfactor, "C", altloc, occ,
                            )
                        )  # fmt: skip
                        serial += 1
                    continue
                lines.append(
                    _atom_line("ATOM", serial, name, resname, chain, i + 1, xyz, bfactor, name[0])
                )
                serial += 1
        lines.append(f"TER   {serial:5d}      {ONE_TO_THREE[sequence[n - 1]]} {chain}{n:4d}")
        serial += 1
    if with_ligand and not plddt:
        tilt = np.array([[1, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])
        for name, element, xyz in LIGAND_ATOMS:
            position = tilt @ np.array(xyz) + np.array([-1.0, 0.0, -1.0])
            lines.append(
                _atom_line("HETATM", serial, name, "LIG", "A", 101, position, 20.0, element)
            )
            serial += 1
    if not plddt:
        waters = [(0.0, 9.0, 4.0), (3.0, -9.0, -4.0), (12.0, 6.0, 0.0), (-12.0, -6.0, 2.0)]
        for k, xyz in enumerate(waters):
            chain = "A" if k % 2 == 0 else "B"
            lines.append(
                _atom_line("HETATM", serial, "O", "HOH", chain, 201 + k, np.array(xyz), 30.0, "O")
            )
            serial += 1
    lines.append("END")
    return "\n".join(lines) + "\n"


def replicate_pdb(text: str, min_atoms: int, spacing: float = 60.0) -> str:
    """Copies of a structure's ATOM/HETATM records on a grid until it holds ``min_atoms`` atoms.

    Each copy gets its own chain letters (cycled through A–Z, a–z, 0–9), so the result is a valid
    multi-chain PDB file for load and frame-time benchmarks.
    """
    records = [line for line in text.splitlines() if line.startswith(("ATOM  ", "HETATM"))]
    if not records:
        raise ValueError("replicate_pdb: the text holds no ATOM or HETATM records.")
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    copies = int(np.ceil(min_atoms / len(records))) + 1
    side = int(np.ceil(copies ** (1 / 3)))
    out = []
    serial = 1
    chain_names = sorted({line[21] for line in records})
    chain_index = 0
    for copy in range(copies):
        offset = spacing * np.array([copy % side, (copy // side) % side, copy // (side * side)])
        mapping = {}
        for name in chain_names:
            mapping[name] = letters[chain_index % len(letters)]
            chain_index += 1
        for line in records:
            x = float(line[30:38]) + offset[0]
            y = float(line[38:46]) + offset[1]
            z = float(line[46:54]) + offset[2]
            out.append(
                f"{line[:6]}{serial % 100000:5d}{line[11:21]}{mapping[line[21]]}{line[22:30]}"
                f"{x:8.3f}{y:8.3f}{z:8.3f}{line[54:]}"
            )
            serial += 1
        out.append("TER")
    out.append("END")
    return "\n".join(out) + "\n"
