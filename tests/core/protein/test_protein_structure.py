"""Reading structures with gemmi: chains, ligands, waters, altlocs, models, secondary structure,
bonds, binding sites, colours, the cartoon mesh, and bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from core.protein.cartoon import cartoon_mesh
from core.protein.colors import PLDDT_BANDS, atom_colors, chain_colors, plddt_colors
from core.protein.structure import (
    HELIX,
    LIGAND,
    POLYMER,
    STRAND,
    WATER,
    StructureError,
    parse_structure,
    read_structure,
)
from core.protein.surface import density_grid
from core.protein.synthetic import replicate_pdb, synthetic_complex_pdb


def multi_model_pdb(text: str, models: int = 3) -> str:
    """``text``'s atoms as several models, model k moved by 10·k Å along x."""
    atoms = [line for line in text.splitlines() if line.startswith(("ATOM", "HETATM"))]

    def shifted(line: str, dx: float) -> str:
        return f"{line[:30]}{float(line[30:38]) + dx:8.3f}{line[38:]}"

    blocks = [
        f"MODEL     {m + 1:4d}\n" + "\n".join(shifted(a, 10.0 * m) for a in atoms) + "\nENDMDL\n"
        for m in range(models)
    ]
    return "".join(blocks) + "END\n"


@pytest.fixture(scope="module")
def complex_text() -> str:
    return synthetic_complex_pdb()


@pytest.fixture(scope="module")
def structure(complex_text):
    return parse_structure(complex_text, "complex.pdb")


def test_chains_ligands_waters_and_altlocs_are_told_apart(structure):
    info = structure.info()
    assert [c["id"] for c in info["chains"]] == ["A", "B"]
    assert [c["residues"] for c in info["chains"]] == [29, 29]
    assert info["chains"][0]["sequence"].startswith("MKTAYIAKQ")
    assert info["ligands"] == [{"name": "LIG", "chain": "A", "resnum": 101, "atoms": 9}]
    assert info["waters"] == 4
    assert info["models"] == 1
    # Residue 5 of chain A has two alternate CBs: both counted, only the first drawn.
    assert info["altloc_atoms"] == 2
    ala5 = structure.find_residue("A", 5)
    names = list(structure.atom_names[structure.residue_atoms(ala5)])
    assert names.count("CB") == 1
    kinds = set(structure.res_kinds)
    assert kinds == {POLYMER, LIGAND, WATER}


def test_secondary_structure_from_records_and_computed(structure):
    assert structure.ss_source == "file"
    first = structure.find_residue("A", 1)
    assert "".join(structure.res_ss[first : first + 14]) == HELIX * 14
    assert structure.res_ss[structure.find_residue("A", 18)] == STRAND
    assert structure.res_ss[structure.find_residue("A", 15)] == "C"

    bare = parse_structure(synthetic_complex_pdb(with_ss_records=False), "bare.pdb")
    assert bare.ss_source == "computed"
    # The ideal helix is found again (at least 12 of its 14 residues) and strands exist.
    helix_a = bare.res_ss[bare.find_residue("A", 1) : bare.find_residue("A", 14) + 1]
    assert np.sum(helix_a == HELIX) >= 12
    assert np.sum(bare.res_ss == STRAND) >= 8


def test_bonds_connect_the_backbone_and_the_ligand_ring(structure):
    bonds = structure.bonds()
    ligand = structure.ligands[0]
    atoms = set(structure.residue_atoms(ligand.residue).tolist())
    ligand_bonds = [b for b in bonds.tolist() if b[0] in atoms and b[1] in atoms]
    assert len(ligand_bonds) == 9  # ring of six, one C–C, two C–O
    waters = set(np.flatnonzero(structure.atom_kinds() == WATER).tolist())
    assert not any(a in waters or b in waters for a, b in bonds.tolist())


def test_binding_site_lists_residues_near_the_ligand(structure):
    ligand = structure.ligands[0]
    near = structure.binding_site(ligand, 5.0)
    assert near, "the demo ligand sits between the helices"
    assert set(structure.res_chains[near]) == {"A", "B"}
    wider = structure.binding_site(ligand, 8.0)
    assert set(near) < set(wider)
    centre = structure.residue_centroid([ligand.residue])
    ligand_xyz = structure.coords[structure.residue_atoms(ligand.residue)]
    for residue in near:
        atoms = structure.coords[structure.residue_atoms(residue)]
        gaps = np.linalg.norm(atoms[:, None] - ligand_xyz[None], axis=2)
        assert gaps.min() <= 5.0
    assert np.allclose(centre, ligand_xyz.mean(axis=0))
    with pytest.raises(ValueError, match="positive"):
        structure.binding_site(ligand, 0)


def test_gzip_mmcif_and_several_models(tmp_path, complex_text, structure):
    import gemmi

    gz = tmp_path / "complex.pdb.gz"
    gz.write_bytes(gzip.compress(complex_text.encode()))
    assert read_structure(gz).info()["ligands"] == structure.info()["ligands"]

    st = gemmi.read_pdb_string(complex_text)
    st.setup_entities()
    cif = tmp_path / "complex.cif"
    st.make_mmcif_document().write_file(str(cif))
    from_cif = read_structure(cif)
    assert [c.residues for c in from_cif.chains] == [29, 29]
    assert [lig.name for lig in from_cif.ligands] == ["LIG"]
    assert from_cif.n_waters == 4
    assert from_cif.ss_source == "file"
    cif_gz = tmp_path / "complex.cif.gz"
    cif_gz.write_bytes(gzip.compress(cif.read_bytes()))
    assert read_structure(cif_gz).n_atoms == from_cif.n_atoms

    models = multi_model_pdb(complex_text)
    nmr = parse_structure(models, "nmr.pdb")
    assert nmr.n_models == 3
    assert nmr.n_atoms == structure.n_atoms  # the first model is shown
    third = parse_structure(models, "nmr.pdb", model=2)
    assert third.model_index == 2 and third.info()["model_shown"] == 3
    assert np.allclose(third.coords - nmr.coords, [20.0, 0.0, 0.0])  # each model shifted 10 Å
    with pytest.raises(StructureError, match="model 4 does not exist"):
        parse_structure(models, "nmr.pdb", model=3)


def test_bad_input_is_refused_with_a_message(tmp_path, complex_text):
    truncated = complex_text[: complex_text.index("ATOM") + 40]
    with pytest.raises(StructureError, match="cut short"):
        parse_structure(truncated, "cut.pdb")
    broken_gz = tmp_path / "cut.pdb.gz"
    broken_gz.write_bytes(gzip.compress(complex_text.encode())[:200])
    with pytest.raises(StructureError, match=r"cut\.pdb\.gz"):
        read_structure(broken_gz)
    text_file = tmp_path / "notes.pdb"
    text_file.write_text("This is a shopping list, not a protein.\n")
    with pytest.raises(StructureError, match="no ATOM"):
        read_structure(text_file)
    not_cif = tmp_path / "x.cif"
    not_cif.write_text("data_x\n_cell.length_a 10\n")
    with pytest.raises(StructureError, match=r"x\.cif"):
        read_structure(not_cif)
    empty = tmp_path / "empty.pdb"
    empty.write_text("")
    with pytest.raises(StructureError, match="empty"):
        read_structure(empty)
    big = tmp_path / "big.pdb"
    big.write_text(complex_text)
    with pytest.raises(StructureError, match="refused"):
        read_structure(big, max_bytes=1000)
    binary = tmp_path / "image.pdb"
    binary.write_bytes(b"\x89PNG\r\n\x00\x00\x00" * 20)
    with pytest.raises(StructureError, match="binary"):
        read_structure(binary)
    with pytest.raises(StructureError, match="no such file"):
        read_structure(tmp_path / "missing.pdb")
    only_h = "ATOM      1  H   GLY A   1       0.000   0.000   0.000  1.00  0.00           H\nEND\n"
    with pytest.raises(StructureError, match="hydrogens or empty"):
        parse_structure(only_h, "h.pdb")


def test_truncated_mmcif_and_chains_without_polymer(complex_text):
    import gemmi

    st = gemmi.read_pdb_string(complex_text)
    st.setup_entities()
    cif_text = st.make_mmcif_document().as_string()
    with pytest.raises(StructureError, match="truncated"):
        parse_structure(cif_text[: cif_text.index("ATOM") + 2000], "cut.cif")
    # Chain C holds only waters and chain D only an ion: no polymer residues, still listed.
    extra = (
        "HETATM 9001  O   HOH C 301      30.000  30.000  30.000  1.00 20.00           O\n"
        "HETATM 9002 ZN    ZN D 401      31.000  30.000  30.000  1.00 20.00          ZN\n"
    )
    text = complex_text.replace("END\n", extra + "END\n")
    s = parse_structure(text, "extra.pdb")
    chains = {c.id: c for c in s.chains}
    assert chains["C"].residues == 0 and chains["C"].waters == 1
    assert chains["D"].residues == 0 and chains["D"].ligands == 1
    assert [lig.name for lig in s.ligands] == ["LIG", "ZN"]
    assert s.info()["waters"] == 5


def test_colour_schemes(structure):
    palette = chain_colors(structure)
    colours = atom_colors(structure, "chain")
    chain_a = structure.atom_chains() == "A"
    assert np.allclose(colours[chain_a], palette["A"])
    assert not np.allclose(palette["A"], palette["B"])
    bands = plddt_colors(np.array([95.0, 80.0, 60.0, 30.0]))
    assert np.allclose(bands, [band[1] for band in PLDDT_BANDS])
    assert np.allclose(plddt_colors(np.array([0.95])), PLDDT_BANDS[0][1])  # 0–1 scale too
    for scheme in ("ss", "element", "bfactor", "plddt"):
        assert atom_colors(structure, scheme).shape == (structure.n_atoms, 3)
    with pytest.raises(ValueError, match="colour scheme"):
        atom_colors(structure, "rainbow-unicorn")


def test_predicted_models_are_recognised():
    predicted = parse_structure(synthetic_complex_pdb(plddt=True), "af.pdb")
    assert predicted.looks_predicted()
    assert not parse_structure(synthetic_complex_pdb(), "x.pdb").looks_predicted()


def test_cartoon_mesh_follows_the_chains(structure):
    mesh = cartoon_mesh(structure)
    assert mesh.n_triangles > 1000
    assert set(structure.res_kinds[np.unique(mesh.residues)]) == {POLYMER}
    assert mesh.triangles.max() < len(mesh.points)
    # The ribbon stays close to its CA trace.
    ca = structure.coords[structure.ca_atoms()[mesh.residues]]
    assert np.percentile(np.linalg.norm(mesh.points - ca, axis=1), 95) < 4.0
    only_a = cartoon_mesh(structure, np.flatnonzero(structure.res_chains == "A"))
    assert set(structure.res_chains[only_a.residues]) == {"A"}


def test_surface_grid_level_wraps_atoms(structure):
    grid = density_grid(structure.coords[:50])
    index = np.rint((structure.coords[0] - grid.origin) / grid.spacing).astype(int)
    assert grid.values[tuple(index)] > grid.level  # atom centres lie inside the surface
    assert grid.values[0, 0, 0] < grid.level


def test_replicated_structure_is_large(complex_text):
    text = replicate_pdb(complex_text, 3000)
    big = parse_structure(text, "big.pdb")
    assert big.n_atoms >= 3000
    assert len(big.ligands) >= 10


def test_load_for_display_prepares_geometry_once(tmp_path, complex_text):
    from core.protein.cartoon import cached_cartoon_mesh
    from core.protein.structure import load_for_display

    path = tmp_path / "complex.pdb"
    path.write_text(complex_text)
    structure = load_for_display(path)
    assert structure._bonds is not None
    polymer = np.flatnonzero(structure.res_kinds == POLYMER)
    assert len(structure.cache) == 1
    first = cached_cartoon_mesh(structure, polymer)
    assert cached_cartoon_mesh(structure, polymer) is first  # computed on the engine, reused
    assert len(structure.cache) == 1
    assert cached_cartoon_mesh(structure, polymer[:10]) is not first


def test_large_structures_get_a_coarser_cartoon(complex_text):
    from core.protein.cartoon import detail_for

    assert detail_for(500) > detail_for(5_000) > detail_for(20_000)
    big = parse_structure(replicate_pdb(complex_text, 40_000), "big.pdb")
    mesh = cartoon_mesh(big)
    residues = int(np.sum(big.res_kinds == POLYMER))
    assert mesh.n_triangles < 40 * residues  # a few hundred thousand triangles at 100k atoms
