"""The demo complex of the Proteins area: PDB entry 1HVR, HIV-1 protease with its inhibitor XK2.

The file ships gzipped in ``resources/demo/1hvr.pdb.gz`` (wwPDB data, CC0; taken unchanged from
the MDAnalysisTests package, see ``resources/demo/README.md``): two chains of 99 residues, the
cyclic-urea inhibitor XK2 (46 heavy atoms) in the active site between them, HELIX/SHEET records,
about 1,600 atoms. The synthetic complex of :mod:`core.protein.synthetic` stays for tests and
benchmarks that need a structure of known geometry.
"""

from __future__ import annotations

from pathlib import Path

from core.protein.structure import LigandInfo, ProteinStructure, load_for_display

DEMO_RESOURCE = "demo/1hvr.pdb.gz"
"""The demo file, relative to the ``resources`` package."""
DEMO_PDB_ID = "1HVR"
DEMO_TITLE = "1HVR: HIV-1 protease with the inhibitor XK2"
DEMO_LIGAND = "XK2"
"""The ligand the demo opens on (residue name)."""


def demo_complex_path() -> Path:
    """The shipped demo file (a ``.pdb.gz``)."""
    from resources import resource_path

    return resource_path(DEMO_RESOURCE)


def load_demo_complex(*, progress=None, is_cancelled=None) -> ProteinStructure:
    """Read the demo complex and prepare it for display (a job for the engine).

    The structure is named :data:`DEMO_TITLE`; its ``path`` is the shipped file.
    """
    structure = load_for_display(demo_complex_path(), progress=progress)
    structure.name = DEMO_TITLE
    return structure


def demo_ligand(structure: ProteinStructure) -> LigandInfo | None:
    """The demo's inhibitor (:data:`DEMO_LIGAND`) in ``structure``, else its largest ligand."""
    for ligand in structure.ligands:
        if ligand.name == DEMO_LIGAND:
            return ligand
    return max(structure.ligands, key=lambda ligand: ligand.atoms, default=None)
