"""A complex a chemist can read (issue 17, part 4) in the Proteins area: the chosen ligand's
contacts drawn as dashed lines with distances and listed on the Site tab, the interaction
diagram saved as SVG and PNG, pocket side chains as sticks, a label on the clicked residue, and
the bases of a nucleic-acid chain drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from core.protein.contacts import HBOND, KIND_COLORS
from core.protein.structure import parse_structure
from core.protein.synthetic import synthetic_complex_pdb
from ui.protein.scene import BACKBONE_NAMES, ProteinScene, default_layers


def _near(image: np.ndarray, rgb, tolerance: int = 40) -> np.ndarray:
    target = np.array(rgb) * 255
    return (np.abs(image.astype(int) - target).max(axis=2) <= tolerance).sum()


def test_the_demo_opens_with_its_contacts_drawn_and_listed(demo_panel, vtk_image):
    site, scene = demo_panel.site_tab, demo_panel.structure_view.scene
    assert site.contacts_check.isChecked()
    contacts = site.contacts
    assert contacts and scene.contacts == contacts
    labels = {c.residue_label for c in contacts if c.kind == HBOND}
    assert {"ASP 25 A", "ASP 25 B", "ILE 50 A", "ILE 50 B"} <= labels
    table = site.contacts_table
    assert table.rowCount() == len(contacts)
    assert table.item(0, 0).text().endswith("H-bond")
    assert table.item(0, 1).text() == contacts[0].residue_label
    assert table.item(0, 2).text() == f"{contacts[0].distance:.1f}"
    assert site.contacts_label.text().startswith("XK2 A263: ")
    assert "H-bonds" in site.contacts_label.text()
    # Distance labels and one label per residue in contact are drawn with the dashes.
    texts = [a.GetInput() for a in scene.contact_actors() if hasattr(a, "GetInput")]
    assert "ASP 25 A" in texts and f"{contacts[0].distance:.1f}" in texts

    window = demo_panel.structure_view.render_window()
    on = vtk_image(window)
    site.contacts_check.setChecked(False)
    off = vtk_image(window)
    assert scene.contacts == [] and table.rowCount() == 0
    blue = KIND_COLORS[HBOND]
    assert _near(on, blue) > _near(off, blue) + 30  # the blue dashes of the H-bonds
    site.contacts_check.setChecked(True)
    assert len(site.contacts) == len(contacts)


def test_a_row_of_the_contacts_table_selects_its_residue(demo_panel):
    site = demo_panel.site_tab
    site.contacts_table.cellClicked.emit(0, 1)
    assert demo_panel.structure_view.selected_residues() == [site.contacts[0].residue]


def test_the_interaction_diagram_opens_and_saves_svg_and_png(demo_panel, tmp_path, qtbot):
    dialog = demo_panel.site_tab.show_interaction_diagram()
    assert dialog is not None and dialog.isVisible()
    assert "XK2 A263" in dialog.windowTitle()
    assert "ILE 50 A 3.2 Å H-bond" in dialog.svg
    # Fits a 1366x768 screen.
    assert dialog.width() <= 1366 and dialog.height() <= 700
    dialog.save_svg(str(tmp_path / "xk2.svg"))
    root = ET.parse(tmp_path / "xk2.svg").getroot()
    assert root.tag.endswith("svg")
    dialog.save_png(str(tmp_path / "xk2.png"))
    data = (tmp_path / "xk2.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    image = QImage(str(tmp_path / "xk2.png"))
    assert image.width() == 2200 and image.height() == 1520
    dialog.close()


def test_without_contacts_on_the_diagram_still_shows_them(demo_panel):
    site = demo_panel.site_tab
    site.contacts_check.setChecked(False)
    svg = site.interaction_diagram_svg()
    assert "ASP 25 A" in svg


def test_pocket_sticks_are_side_chains_with_their_ca(panel):
    panel.show_structure(parse_structure(synthetic_complex_pdb(), name="synthetic complex"))
    s, scene = panel.structure, panel.structure_view.scene
    pocket = scene.layers["pocket"]
    names = s.atom_names[pocket.atoms]
    residues = np.unique(s.atom_residue[pocket.atoms])
    assert "CA" in names and "CB" in names
    # No main-chain N, C, O (the ribbon draws those), except proline's N of its ring.
    main_chain = np.isin(names, list(BACKBONE_NAMES))
    assert all(s.res_names[s.atom_residue[a]] == "PRO" for a in pocket.atoms[main_chain])
    assert len(residues) == len(s.binding_site(s.ligands[0], 5.0))
    assert pocket.style == "sticks" and pocket.actors


def test_a_clicked_atom_gets_its_residue_label(panel, vtk_image):
    panel.show_structure(parse_structure(synthetic_complex_pdb(), name="synthetic complex"))
    view = panel.structure_view
    s = panel.structure
    residue = s.find_residue("B", 8)
    ca = int(s.ca_atoms()[residue])
    before = vtk_image(view.render_window())
    x, y = view.scene.display_position(ca)
    picked = view.click_at(x, y)
    assert picked is not None
    expected = f"{s.res_names[s.atom_residue[picked]]} {s.res_numbers[s.atom_residue[picked]]} B"
    assert view.scene.pick_label_text() == expected
    after = vtk_image(view.render_window())
    assert _near(after, (1.0, 0.95, 0.6), 25) > _near(before, (1.0, 0.95, 0.6), 25)
    panel.view_tab.pick_label_check.setChecked(False)
    assert view.scene.pick_label_text() == ""
    view.click_at(x, y)
    assert view.scene.pick_label_text() == ""


# ----------------------------------------------------------------------------------------------
# Nucleic acids: a short RNA strand written here (bases as regular rings, stacked 3.4 Å apart)


def _rna_pdb(sequence: str = "GCAUGC") -> str:
    lines, serial = [], 1
    for i, base in enumerate(sequence):
        angle = np.radians(32.7 * i)
        radial = np.array([np.cos(angle), np.sin(angle), 0.0])
        tangent = np.array([-np.sin(angle), np.cos(angle), 0.0])
        z = np.array([0.0, 0.0, 2.8 * i])
        phosphate = 8.9 * radial + z
        c1 = 5.26 * radial + z  # 1.47 Å from N1
        centre = 2.4 * radial + z
        # The six-ring in the plane of radial and tangent: N1 (pyrimidines) or C4/N9 side to C1'.
        ring = {}
        names6 = ["N1", "C2", "N3", "C4", "C5", "C6"]
        for k, name in enumerate(names6):
            a = np.radians(60 * k)
            ring[name] = centre + 1.39 * (np.cos(a) * radial + np.sin(a) * tangent)
        atoms = [("P", "P", phosphate), ("OP1", "O", phosphate + np.array([0, 0, 1.48])),
                 ("C1'", "C", c1)]  # fmt: skip
        purine = base in "AG"
        if purine:
            # A five-ring on the C4-C5 edge, pointing away from the six-ring.
            mid = (ring["C4"] + ring["C5"]) / 2
            out = (mid - centre) / np.linalg.norm(mid - centre)
            pc = mid + 0.957 * out
            start = ring["C4"] - pc
            normal = np.cross(radial, tangent)
            rotated = []
            for step in range(1, 5):
                theta = np.radians(72 * step)
                v = (start * np.cos(theta) + np.cross(normal, start) * np.sin(theta)
                     + normal * np.dot(normal, start) * (1 - np.cos(theta)))  # fmt: skip
                rotated.append(pc + v)
            if np.linalg.norm(rotated[0] - ring["C5"]) < 0.3:
                rotated = rotated[::-1]
            ring.update({"N9": rotated[0], "C8": rotated[1], "N7": rotated[2]})
        for name, xyz in ring.items():
            atoms.append((name, name[0], xyz))
        for name, element, xyz in atoms:
            padded = f" {name:<3}" if len(name) < 4 else name
            lines.append(
                f"ATOM  {serial:5d} {padded}   {base} R{i + 1:4d}    "
                f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}  1.00 20.00          {element:>2}"
            )
            serial += 1
    return "\n".join([*lines, "TER", "END"]) + "\n"


def test_an_rna_strand_shows_its_bases_as_sticks_and_filled_rings():
    structure = parse_structure(_rna_pdb("GCAUGC"), name="rna.pdb")
    layers = {layer.key: layer for layer in default_layers(structure)}
    assert "bases" in layers and "protein" in layers
    bases = layers["bases"]
    assert bases.style == "sticks" and bases.slabs and bases.visible
    names = set(structure.atom_names[bases.atoms])
    assert {"N1", "C2", "C4", "C1'"} <= names and "OP1" not in names
    scene = ProteinScene()
    scene.set_structure(structure)
    slab = scene.layers["bases"].actors[-1]
    polygons = slab.GetMapper().GetInput().GetNumberOfPolys()
    # Four triangles per six-ring, three per five-ring: 6 six-rings, 3 purines.
    assert polygons == 6 * 4 + 3 * 3
    scene.set_color_scheme("element")
    assert scene.layers["bases"].actors  # rebuilt in the new colours


def test_the_view_tab_switches_the_bases(panel, vtk_image):
    panel.show_structure(parse_structure(_rna_pdb(), name="rna.pdb"))
    view_tab, scene = panel.view_tab, panel.structure_view.scene
    assert view_tab.bases_check.isEnabled() and view_tab.bases_check.isChecked()
    window = panel.structure_view.render_window()
    with_bases = vtk_image(window)
    view_tab.bases_check.setChecked(False)
    assert not scene.layers["bases"].visible
    without = vtk_image(window)
    changed = (np.abs(with_bases.astype(int) - without.astype(int)).max(axis=2) > 30).mean()
    assert changed > 0.01


def test_the_pocket_follows_the_chosen_residues_and_keeps_its_switch(panel):
    panel.show_structure(parse_structure(synthetic_complex_pdb(), name="synthetic complex"))
    s, scene = panel.structure, panel.structure_view.scene
    panel.view_tab.pocket_check.setChecked(False)
    residues = [s.find_residue("A", 5), s.find_residue("B", 9)]
    scene.set_pocket(residues)
    pocket = scene.layers["pocket"]
    assert set(np.unique(s.atom_residue[pocket.atoms])) == set(residues)
    assert not pocket.visible  # the View tab's switch still holds
    scene.set_pocket([])
    assert "pocket" not in scene.layers


def test_the_contacts_of_a_placed_molecule(demo_panel):
    from rdkit import Chem

    from core.protein.ligand import ligand_molecule

    site, scene = demo_panel.site_tab, demo_panel.structure_view.scene
    ligand_contacts = [(c.kind, c.residue_label, c.distance) for c in site.contacts]
    assert not site.placed_contacts_check.isEnabled()
    # The inhibitor itself, with hydrogens, placed where it is: the same contacts.
    ligand = site.current_ligand()
    mol = Chem.AddHs(ligand_molecule(demo_panel.structure, ligand).mol, addCoords=True)
    mol.SetProp("_Name", "XK263 copy")
    demo_panel.show_context_molecule(mol)
    assert site.placed_contacts_check.isEnabled()
    site.placed_contacts_check.setChecked(True)
    assert [(c.kind, c.residue_label, c.distance) for c in site.contacts] == ligand_contacts
    assert site.contacts_label.text().startswith("XK263 copy: ")
    assert "XK263 copy" in site.interaction_diagram_svg()
    demo_panel.remove_context_molecule()
    assert not site.placed_contacts_check.isChecked()
    assert not site.placed_contacts_check.isEnabled()
    assert site.contacts_label.text().startswith("XK2 A263: ")
    assert len(site.contacts) == len(ligand_contacts) and scene.contacts == site.contacts
