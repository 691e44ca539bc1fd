"""The shipped demo complex: PDB entry 1HVR (HIV-1 protease with the inhibitor XK2)."""

from __future__ import annotations

import gzip

from core.protein.demo import (
    DEMO_TITLE,
    demo_complex_path,
    demo_ligand,
    load_demo_complex,
)
from core.protein.structure import HELIX, STRAND


def test_the_demo_file_ships_small_and_gzipped():
    path = demo_complex_path()
    assert path.name == "1hvr.pdb.gz"
    assert path.stat().st_size < 150_000
    with gzip.open(path, "rt") as handle:
        header = handle.readline()
    assert header.startswith("HEADER") and "1HVR" in header


def test_the_demo_is_hiv_protease_with_xk2_in_its_active_site():
    structure = load_demo_complex()
    assert structure.name == DEMO_TITLE
    assert [(c.id, c.residues) for c in structure.chains] == [("A", 99), ("B", 99)]
    assert structure.chains[0].sequence.startswith("PQVTLWQRPLVTIKIGGQLKEALLDTGADDTV")
    assert structure.ss_source == "file"
    assert (structure.res_ss == STRAND).sum() > 100 and (structure.res_ss == HELIX).sum() > 10
    ligand = demo_ligand(structure)
    assert (ligand.name, ligand.chain, ligand.resnum, ligand.atoms) == ("XK2", "A", 263, 46)
    pocket = {structure.residue_label(r) for r in structure.binding_site(ligand, 4.0)}
    # The catalytic aspartates and the flap isoleucines of both chains line the inhibitor.
    assert {"ASP A25", "ASP B25", "ILE A50", "ILE B50"} <= pocket
    assert structure.cache  # the cartoon mesh is computed with the structure (engine thread)
