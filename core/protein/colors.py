"""Colour schemes for protein drawings: one RGB (0–1) per atom, computed with numpy.

Chain, secondary structure, element (CPK-like), B-factor (blue–white–red over the structure's
range) and pLDDT (AlphaFold DB's four confidence bands).
"""

from __future__ import annotations

import numpy as np

from core.protein.structure import HELIX, STRAND, ProteinStructure

SCHEMES: dict[str, str] = {
    "chain": "Chain",
    "ss": "Secondary structure",
    "element": "Element",
    "bfactor": "B-factor",
    "plddt": "pLDDT (AlphaFold)",
}

CHAIN_PALETTE = np.array(
    [
        (0.12, 0.47, 0.71),  # blue
        (1.00, 0.50, 0.05),  # orange
        (0.17, 0.63, 0.17),  # green
        (0.84, 0.15, 0.16),  # red
        (0.58, 0.40, 0.74),  # purple
        (0.55, 0.34, 0.29),  # brown
        (0.89, 0.47, 0.76),  # pink
        (0.09, 0.75, 0.81),  # cyan
        (0.74, 0.74, 0.13),  # olive
        (0.50, 0.50, 0.50),  # grey
    ]
)
"""Tableau-10 colours, one per chain in file order (cycled)."""

SS_COLORS = {HELIX: (0.85, 0.20, 0.45), STRAND: (0.98, 0.75, 0.15), "C": (0.75, 0.75, 0.75)}
LIGAND_CARBON = (0.20, 0.80, 0.30)

ELEMENT_COLORS = {
    "C": (0.56, 0.56, 0.56), "N": (0.19, 0.31, 0.97), "O": (1.00, 0.05, 0.05),
    "S": (1.00, 0.78, 0.16), "P": (1.00, 0.50, 0.00), "H": (0.95, 0.95, 0.95),
    "F": (0.56, 0.88, 0.31), "CL": (0.12, 0.94, 0.12), "BR": (0.65, 0.16, 0.16),
    "I": (0.58, 0.00, 0.58), "FE": (0.88, 0.40, 0.20), "ZN": (0.49, 0.50, 0.69),
    "MG": (0.54, 1.00, 0.00), "CA": (0.24, 1.00, 0.00), "NA": (0.67, 0.36, 0.95),
    "SE": (1.00, 0.63, 0.00),
}  # fmt: skip
OTHER_ELEMENT = (0.90, 0.45, 0.75)

PLDDT_BANDS = [
    (90.0, (0.000, 0.325, 0.839), "Very high (pLDDT > 90)"),  # #0053D6
    (70.0, (0.396, 0.796, 0.953), "Confident (90 > pLDDT > 70)"),  # #65CBF3
    (50.0, (1.000, 0.859, 0.075), "Low (70 > pLDDT > 50)"),  # #FFDB13
    (-np.inf, (1.000, 0.490, 0.271), "Very low (pLDDT < 50)"),  # #FF7D45
]
"""AlphaFold DB's confidence colours: lower bound, RGB, legend text."""


def chain_colors(structure: ProteinStructure) -> dict[str, tuple[float, float, float]]:
    order: list[str] = []
    for chain in structure.res_chains:
        if chain not in order:
            order.append(chain)
    return {c: tuple(CHAIN_PALETTE[i % len(CHAIN_PALETTE)]) for i, c in enumerate(order)}


def plddt_colors(values: np.ndarray) -> np.ndarray:
    """AlphaFold band colours for pLDDT values (0–100; values within 0–1 are scaled by 100)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) and values.max() <= 1.0:
        values = values * 100.0
    out = np.empty((len(values), 3))
    assigned = np.zeros(len(values), dtype=bool)
    for lower, rgb, _ in PLDDT_BANDS:
        mask = (values > lower) & ~assigned
        out[mask] = rgb
        assigned |= mask
    out[~assigned] = PLDDT_BANDS[-1][1]
    return out


def bfactor_colors(values: np.ndarray) -> np.ndarray:
    """Blue (low) – white – red (high) over the values' 5th–95th percentiles."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.empty((0, 3))
    low, high = np.percentile(values, [5, 95])
    t = np.clip((values - low) / (high - low), 0, 1) if high > low else np.full(len(values), 0.5)
    blue, white, red = np.array([0.1, 0.2, 0.9]), np.ones(3), np.array([0.9, 0.1, 0.1])
    lower = t[:, None] < 0.5
    a = np.where(lower, blue, white)
    b = np.where(lower, white, red)
    s = np.where(lower, t[:, None] * 2, t[:, None] * 2 - 1)
    return a + (b - a) * s


def element_colors(elements: np.ndarray, carbon=None) -> np.ndarray:
    """CPK-like colours per element (``carbon`` replaces the carbon colour when given)."""
    names, inverse = np.unique(np.asarray(elements, dtype=str), return_inverse=True)
    table = np.array([ELEMENT_COLORS.get(e, OTHER_ELEMENT) for e in names], dtype=np.float64)
    if carbon is not None:
        table[names == "C"] = carbon
    return table.reshape(-1, 3)[inverse.ravel()]


def atom_colors(structure: ProteinStructure, scheme: str) -> np.ndarray:
    """``(n_atoms, 3)`` RGB in 0–1 for every atom under ``scheme`` (a key of :data:`SCHEMES`)."""
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown colour scheme {scheme!r}: choose one of {', '.join(SCHEMES)}.")
    if scheme == "element":
        return element_colors(structure.elements)
    if scheme == "bfactor":
        return bfactor_colors(structure.bfactors)
    if scheme == "plddt":
        return plddt_colors(structure.bfactors)
    residue = residue_colors(structure, scheme)
    return residue[structure.atom_residue]


def residue_colors(structure: ProteinStructure, scheme: str) -> np.ndarray:
    """``(n_residues, 3)``: the residue's colour (its first atom's for per-atom schemes)."""
    if scheme == "chain":
        palette = chain_colors(structure)
        return np.array([palette[c] for c in structure.res_chains], dtype=np.float64).reshape(-1, 3)
    if scheme == "ss":
        out = np.array(
            [SS_COLORS.get(s, SS_COLORS["C"]) for s in structure.res_ss], dtype=np.float64
        )
        return out.reshape(-1, 3)
    first = structure.res_atom_start[:-1]
    if scheme == "element":  # a residue as a whole: its CA's colour is grey, so colour by chain
        return residue_colors(structure, "chain")
    return atom_colors(structure, scheme)[first]


def legend(scheme: str, structure: ProteinStructure | None = None) -> list[tuple[str, tuple]]:
    """``(text, rgb)`` entries explaining a scheme, for a legend beside the view."""
    if scheme == "plddt":
        return [(text, rgb) for _, rgb, text in PLDDT_BANDS]
    if scheme == "ss":
        return [
            ("Helix", SS_COLORS[HELIX]),
            ("Strand", SS_COLORS[STRAND]),
            ("Coil", SS_COLORS["C"]),
        ]
    if scheme == "chain" and structure is not None:
        return [(f"Chain {c}", rgb) for c, rgb in chain_colors(structure).items()]
    if scheme == "bfactor":
        return [("Low B", (0.1, 0.2, 0.9)), ("High B", (0.9, 0.1, 0.1))]
    return [("C", ELEMENT_COLORS["C"]), ("N", ELEMENT_COLORS["N"]), ("O", ELEMENT_COLORS["O"]),
            ("S", ELEMENT_COLORS["S"])]  # fmt: skip
