"""The Proteins panel: what VTK draws, linked selection, picking, binding site, measuring,
PNG export, loading and predicting through the engine, a molecule in context, large structures."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from core.jobs import CANCELLED, FINISHED, LONG_LANE, RUNNING, check_cancelled
from core.protein.structure import parse_structure
from core.protein.synthetic import replicate_pdb, synthetic_complex_pdb


def _show_synthetic(panel):
    """The synthetic complex (known geometry: two chains, a benzoic-acid ligand, waters)."""
    panel.show_structure(parse_structure(synthetic_complex_pdb(), name="synthetic complex"))


def _blue(p):
    return (p[..., 2].astype(int) - p[..., 0] > 60) & (p[..., 2] > p[..., 1])


def _orange(p):
    p = p.astype(int)
    return (p[..., 0] - p[..., 2] > 90) & (p[..., 0] > p[..., 1] + 30) & (p[..., 1] > 40)


def _yellow(p):
    p = p.astype(int)
    return (p[..., 0] > 180) & (p[..., 1] > 160) & (p[..., 2] < 90)


def test_demo_draws_both_chain_colours_and_the_defaults(panel, vtk_image):
    view = panel.structure_view
    empty = vtk_image(view.render_window())
    assert view.empty_text.GetVisibility()  # a hint instead of an empty view
    assert not _blue(empty).any()
    _show_synthetic(panel)
    assert not view.empty_text.GetVisibility()
    image = vtk_image(view.render_window())
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500
    assert (np.abs(image.astype(int) - empty.astype(int)).max(axis=2) > 30).mean() > 0.05
    assert _blue(image).mean() > 0.01 and _orange(image).mean() > 0.01
    assert set(view.scene.layers) == {"protein", "ligands", "pocket", "waters"}
    assert view.scene.layers["protein"].style == "cartoon"
    assert view.scene.layers["ligands"].style == "sticks"
    assert not view.scene.layers["waters"].visible
    assert panel.site_tab.ligand_combo.count() == 1
    assert "2 chains" in panel.view_tab.info_label.text()

    panel.view_tab.set_color("ss")
    recoloured = vtk_image(view.render_window())
    assert _blue(recoloured).mean() < 0.001
    assert "Helix" in panel.view_tab.legend.text()
    panel.view_tab.set_style("surface")
    surface = vtk_image(view.render_window())
    changed = (np.abs(surface.astype(int) - recoloured.astype(int)).max(axis=2) > 30).mean()
    assert changed > 0.05


def test_clicking_an_atom_selects_its_residue_in_view_and_strip(panel, notifier, vtk_image):
    view = panel.structure_view
    _show_synthetic(panel)
    s = panel.structure
    residue = s.find_residue("B", 8)
    ca = int(s.ca_atoms()[residue])
    before = vtk_image(view.render_window())
    x, y = view.scene.display_position(ca)
    picked = view.click_at(x, y)
    assert picked is not None
    assert s.res_chains[s.atom_residue[picked]] == "B"
    assert "chain B" in notifier.statuses[-1]
    assert view.selected_residues() == [int(s.atom_residue[picked])]
    assert view.strip.selection() == view.selected_residues()
    after = vtk_image(view.render_window())
    assert _yellow(after).sum() > _yellow(before).sum()  # the selection is highlighted
    assert view.click_at(2, 2) is None  # background: nothing picked


def test_clicking_the_strip_selects_in_3d(panel, qtbot):
    view = panel.structure_view
    _show_synthetic(panel)
    s = panel.structure
    residue = s.find_residue("A", 3)
    rect = view.strip.residue_rect(residue)
    with qtbot.waitSignal(panel.selection_changed) as blocker:
        qtbot.mouseClick(view.strip, Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [[residue]]
    assert view.scene.selected_residues == [residue]
    other = s.find_residue("B", 3)
    qtbot.mouseClick(view.strip, Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier, view.strip.residue_rect(other).center())  # fmt: skip
    assert view.selected_residues() == sorted([residue, other])


def test_binding_site_measure_centre_and_save(panel, tmp_path, vtk_image):
    view = panel.structure_view
    _show_synthetic(panel)
    residues = panel.site_tab.select_binding_site()
    s = panel.structure
    assert residues == s.binding_site(s.ligands[0], 5.0)
    assert panel.site_tab.site_list.count() == len(residues)
    assert panel.site_tab.site_list.item(0).text() == s.residue_label(residues[0])
    assert view.strip.selection() == residues
    panel.site_tab.cutoff_spin.setValue(8.0)
    assert len(panel.site_tab.select_binding_site()) > len(residues)

    lig_atoms = s.residue_atoms(s.ligands[0].residue)
    before = vtk_image(view.render_window())
    distance = panel.site_tab.measure(int(lig_atoms[0]), int(lig_atoms[3]))
    assert distance == pytest.approx(2.78, abs=0.01)  # across the benzene ring
    after = vtk_image(view.render_window())
    assert (np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 40).sum() > 30
    panel.site_tab.clear_measurements()

    panel.site_tab.centre_on_ligand()
    focal = np.array(view.scene.renderer.GetActiveCamera().GetFocalPoint())
    assert np.allclose(focal, s.residue_centroid([s.ligands[0].residue]), atol=1e-3)
    out = view.save_png(tmp_path / "view.png")
    assert out.stat().st_size > 5000


def test_measure_mode_takes_two_clicks(panel):
    view = panel.structure_view
    _show_synthetic(panel)
    s = panel.structure
    panel.site_tab.measure_button.setChecked(True)
    a, b = (int(s.ca_atoms()[s.find_residue("A", n)]) for n in (2, 6))
    assert view.click_at(*view.scene.display_position(a)) is not None
    assert "second" in panel.site_tab.measure_label.text()
    view.click_at(*view.scene.display_position(b))
    assert "Å" in panel.site_tab.measure_label.text()


def test_open_file_through_the_engine_and_bad_files(panel, qtbot, tmp_path, notifier):
    good = tmp_path / "complex.pdb"
    good.write_text(synthetic_complex_pdb())
    with qtbot.waitSignal(panel.structure_changed, timeout=20_000):
        panel.open_file(good)
    assert panel.structure.name == "complex.pdb"
    assert panel.structure_view.strip.rows()[0][0] == "A"
    bad = tmp_path / "bad.pdb"
    bad.write_text("hello\n")
    job = panel.open_file(bad)
    with qtbot.waitSignal(job.failed, timeout=20_000) as blocker:
        pass
    assert "bad.pdb" in blocker.args[0]
    assert "bad.pdb" in notifier.errors[-1]
    assert panel.structure.name == "complex.pdb"  # the shown structure stays


def test_prediction_runs_on_the_engine_and_shows_plddt(panel, qtbot, tmp_path, vtk_image):
    from core.protein.prediction import save_tiny_model

    assert panel.predict("MKTAYIAK") is None
    assert "huggingface-cli" in panel.predict_tab.predict_label.text()  # how to get the weights
    weights = save_tiny_model(tmp_path / "tiny")
    panel.predict_tab.weights_edit.setText(str(weights))
    assert panel.predict("MKT1AYI") is None
    assert "'1' at 4" in panel.predict_tab.predict_label.text()
    with qtbot.waitSignal(panel.structure_changed, timeout=60_000):
        panel.predict("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ")
    assert panel.structure_view.scene.color_scheme == "plddt"
    assert panel.prediction.pae.shape == (33, 33)
    assert panel.predict_tab.pae_plot is not None and panel.predict_tab.pae_image.image is not None
    assert "Mean pLDDT" in panel.predict_tab.predict_label.text()
    image = vtk_image(panel.structure_view.render_window())
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200


def test_library_molecule_is_placed_at_the_ligand(panel, qtbot, notifier):
    _show_synthetic(panel)
    assert panel.place_workspace_molecule() is None  # no workspace molecule: explained
    assert "Molecule workspace" in notifier.errors[-1]
    job = panel.place_molecule("c1ccccc1C(=O)N")
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    molecules = panel.structure_view.scene.molecules
    qtbot.waitUntil(lambda: "context" in molecules.keys(), timeout=5000)  # noqa: SIM118
    actor = molecules.actor("context")
    centre = np.array(actor.GetCenter())
    ligand_centre = panel.structure.residue_centroid([panel.structure.ligands[0].residue])
    assert np.linalg.norm(centre - ligand_centre) < 1.5


def test_the_site_tab_places_the_molecule_panels_molecule(panel, qtbot, molecules, notifier):
    from rdkit import Chem

    site = panel.site_tab
    assert not site.place_button.isEnabled()  # nothing to place it in yet
    _show_synthetic(panel)
    molecules.mol = Chem.MolFromSmiles("c1ccccc1C(=O)N")  # what the Molecule panel holds
    with qtbot.waitSignal(panel.placed_molecule_changed, timeout=60_000) as placed:
        site.place_button.click()
    assert placed.args == [True] and panel.has_placed_molecule()
    ligand_centre = panel.structure.residue_centroid([panel.structure.ligands[0].residue])
    centre = np.array(panel.structure_view.scene.molecules.actor("context").GetCenter())
    assert np.linalg.norm(centre - ligand_centre) < 1.5
    assert "placed at the site" in panel.message_label.text()
    with qtbot.waitSignal(panel.placed_molecule_changed) as removed:
        site.remove_context_button.click()
    assert removed.args == [False] and not panel.has_placed_molecule()
    assert notifier.errors == []


def test_large_structure_uses_level_of_detail(panel, qtbot):
    view = panel.structure_view
    big = parse_structure(replicate_pdb(synthetic_complex_pdb(), 31_000), "big.pdb")
    panel.show_structure(big)
    assert set(view.scene.layers) <= {
        "protein",
        "ligands",
        "waters",
    }  # no pocket sticks
    assert view.scene.layers["protein"].style == "cartoon"
    cartoon = view.scene.layers["protein"].actors[0]
    style = view.interactor.GetInteractorStyle()
    style.InvokeEvent("StartInteractionEvent")  # a drag begins: the CA trace stands in
    assert not cartoon.GetVisibility()
    view.scene.renderer.GetActiveCamera().Azimuth(30)
    view.render_window().Render()
    style.InvokeEvent("EndInteractionEvent")
    qtbot.waitUntil(lambda: cartoon.GetVisibility(), timeout=3000)  # full drawing once at rest


def test_small_structures_keep_their_drawing_while_rotating(panel):
    _show_synthetic(panel)
    assert not panel.structure_view.scene.begin_interaction()
    assert panel.structure_view.scene.layers["protein"].actors[0].GetVisibility()


def test_strip_point_maps_back_to_residue(panel):
    view = panel.structure_view
    _show_synthetic(panel)
    s = panel.structure
    residue = s.find_residue("B", 12)
    rect = view.strip.residue_rect(residue)
    assert view.strip.residue_at(rect.center().x(), rect.center().y()) == residue
    assert view.strip.residue_at(1, 1) is None


def test_a_mouse_click_in_the_view_picks(panel, qtbot, notifier):
    view = panel.structure_view
    _show_synthetic(panel)
    s = panel.structure
    ligand_atom = int(s.residue_atoms(s.ligands[0].residue)[0])
    x, y = view.scene.display_position(ligand_atom)
    ratio = view.interactor.devicePixelRatioF()
    position = QPoint(round(x / ratio), round(view.interactor.height() - y / ratio))
    with qtbot.waitSignal(panel.atom_picked, timeout=5000) as blocker:
        qtbot.mousePress(view.interactor, Qt.MouseButton.LeftButton, pos=position)
        qtbot.mouseRelease(view.interactor, Qt.MouseButton.LeftButton, pos=position)
    assert s.res_names[s.atom_residue[blocker.args[0]]] == "LIG"
    assert "LIG 101" in notifier.statuses[-1]


def test_selected_residues_get_a_representation_of_their_own(panel, notifier, vtk_image):
    view = panel.structure_view
    _show_synthetic(panel)
    assert panel.view_tab.draw_selection_as("spheres") is None  # nothing selected: explained
    assert "Select residues" in notifier.errors[-1]
    s = panel.structure
    helix = [s.find_residue("A", n) for n in range(1, 8)]
    view.select_residues(helix)
    before = vtk_image(view.render_window())
    key = panel.view_tab.draw_selection_as("spheres")
    layer = view.scene.layers[key]
    assert layer.style == "spheres"
    assert set(s.atom_residue[layer.atoms]) == set(helix)
    after = vtk_image(view.render_window())
    assert (np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 30).mean() > 0.01
    panel.view_tab.remove_selection_layers()
    assert key not in view.scene.layers


def test_fetch_errors_reach_the_user(panel, qtbot, notifier, monkeypatch):
    import socket

    with socket.socket() as sock:  # nobody listens there: as if offline
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("DRUGDESK_RCSB_URL", f"http://127.0.0.1:{sock.getsockname()[1]}")
    assert panel.fetch("  ") is None
    assert "PDB id" in notifier.errors[-1]
    job = panel.fetch("1ABC")
    with qtbot.waitSignal(job.failed, timeout=20_000):
        pass
    assert "no connection" in notifier.errors[-1]
    assert "no connection" in panel.message_label.text()


def test_another_model_of_a_multi_model_file(panel, qtbot, tmp_path):
    atoms = [ln for ln in synthetic_complex_pdb().splitlines() if ln.startswith(("ATOM", "HETATM"))]
    path = tmp_path / "nmr.pdb"
    path.write_text(
        "".join(f"MODEL     {m:4d}\n" + "\n".join(atoms) + "\nENDMDL\n" for m in (1, 2)) + "END\n"
    )
    with qtbot.waitSignal(panel.structure_changed, timeout=20_000):
        panel.open_file(path)
    assert panel.view_tab.model_spin.isEnabled() and panel.view_tab.model_spin.maximum() == 2
    with qtbot.waitSignal(panel.structure_changed, timeout=20_000):
        panel.view_tab.model_spin.setValue(2)
    assert panel.structure.model_index == 1
    assert panel.view_tab.model_spin.value() == 2


def test_open_demo_shows_hiv_protease_centred_on_its_inhibitor(panel, qtbot, vtk_image):
    view = panel.structure_view
    from core.protein.demo import DEMO_TITLE

    with qtbot.waitSignal(panel.structure_changed, timeout=20_000):
        job = panel.open_demo()
    assert job is not None
    s = panel.structure
    assert s.name == DEMO_TITLE
    assert panel.title_label.text() == DEMO_TITLE
    assert "2 chains: A (99), B (99)" in panel.view_tab.info_label.text()
    assert panel.site_tab.ligand_combo.currentText() == "XK2 A263 (46 atoms)"
    assert set(view.scene.layers) >= {"protein", "ligands", "pocket"}
    # Centred and zoomed on the inhibitor: its atoms sit around the middle of the view and
    # spread over a good part of it.
    ligand_atoms = s.residue_atoms(panel.site_tab.current_ligand().residue)
    points = np.array([view.scene.display_position(int(a)) for a in ligand_atoms])
    width, height = view.render_window().GetSize()
    centre = points.mean(axis=0)
    assert abs(centre[0] - width / 2) < 0.1 * width
    assert abs(centre[1] - height / 2) < 0.1 * height
    spread = points.max(axis=0) - points.min(axis=0)
    assert max(spread[0] / width, spread[1] / height) > 0.25
    assert "XK2 A263" in panel.message_label.text()
    image = vtk_image(view.render_window())
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500  # drawn, not a blank view
    view.reset_view()  # the whole protein: the inhibitor becomes small
    points = np.array([view.scene.display_position(int(a)) for a in ligand_atoms])
    assert (points.max(axis=0) - points.min(axis=0))[0] / width < 0.25


def test_the_3d_view_takes_the_width_and_the_tabs_stay_modest(panel, qtbot):
    view = panel.structure_view
    qtbot.waitUntil(lambda: view.interactor.width() > 0)
    tabs = panel.tabs.width()
    assert tabs <= 320
    assert view.interactor.width() >= 0.65 * panel.width()
    panel.resize(1600, 700)
    qtbot.waitUntil(lambda: view.interactor.width() >= 0.75 * panel.width())
    assert abs(panel.tabs.width() - tabs) <= 2  # the extra width went to the view


def test_panel_fits_the_screen_budget(panel):
    # 1280×720 logical pixels beside the sidebar and the Molecule dock: at most 800×540.
    hint = panel.minimumSizeHint()
    assert hint.width() <= 800 and hint.height() <= 540
    long_name = "a_structure_file_with_a_very_long_name_from_a_deep_folder_" * 3 + ".pdb"
    panel.show_structure(parse_structure(synthetic_complex_pdb(), name=long_name))
    assert panel.minimumSizeHint().width() <= 800  # the title elides instead
    assert panel.title_label.text() == long_name and panel.title_label.is_elided()


def test_placed_molecule_is_announced_and_cleared_with_a_new_structure(panel, qtbot):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    _show_synthetic(panel)
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    assert not panel.has_placed_molecule()
    with qtbot.waitSignal(panel.placed_molecule_changed) as blocker:
        panel.show_context_molecule(mol)
    assert blocker.args == [True] and panel.has_placed_molecule()
    with qtbot.waitSignal(panel.placed_molecule_changed) as blocker:
        _show_synthetic(panel)  # a new structure clears the scene
    assert blocker.args == [False] and not panel.has_placed_molecule()
    with qtbot.assertNotEmitted(panel.placed_molecule_changed):
        panel.remove_context_molecule()  # nothing placed: nothing to announce


# ----------------------------------------------------------------------------------------------
# Issue 16: the panel listens to its own job handles only


def _another_areas_structure(*, progress, is_cancelled):
    return parse_structure(synthetic_complex_pdb(), name="another area's structure")


def _another_areas_failure(*, progress, is_cancelled):
    raise ValueError("another area's file is broken")


@pytest.fixture
def gate(monkeypatch):
    """Reading a file and the demo wait for the returned event, so other jobs can end first."""
    from core.protein import demo, structure

    release = threading.Event()

    def gated(real):
        def job(*args, progress=None, is_cancelled=None, **kwargs):
            while not release.wait(0.01):
                check_cancelled(is_cancelled)
            return real(*args, progress=progress, is_cancelled=is_cancelled, **kwargs)

        return job

    monkeypatch.setattr(structure, "load_for_display", gated(structure.load_for_display))
    monkeypatch.setattr(demo, "load_demo_complex", gated(demo.load_demo_complex))
    yield release
    release.set()


def test_jobs_of_other_areas_leave_the_panel_alone(panel, qtbot, engine, notifier, tmp_path, gate):
    path = tmp_path / "complex.pdb"
    path.write_text(synthetic_complex_pdb())
    own = panel.open_file(path)
    other = engine.submit(_another_areas_structure, title="Other area", lane=LONG_LANE)
    with qtbot.waitSignal(other.finished, timeout=20_000):
        pass
    broken = engine.submit(_another_areas_failure, title="Other area", lane=LONG_LANE)
    with qtbot.waitSignal(broken.failed, timeout=20_000):
        pass
    assert panel.structure is None and notifier.errors == []
    assert panel.message_label.text() == "Reading complex.pdb…"
    assert panel.progress_bar.isVisibleTo(panel)
    gate.set()
    with qtbot.waitSignal(own.finished, timeout=20_000):
        pass
    assert panel.structure.name == "complex.pdb"
    assert not panel.progress_bar.isVisibleTo(panel)


def test_a_superseded_load_is_dropped_quietly(panel, qtbot, tmp_path, gate):
    first, second = tmp_path / "first.pdb", tmp_path / "second.pdb"
    for path in (first, second):
        path.write_text(synthetic_complex_pdb())
    demo = panel.open_demo()  # holds the engine's lane, so the first file waits in the queue
    qtbot.waitUntil(lambda: demo.state == RUNNING, timeout=10_000)
    queued = panel.open_file(first)
    latest = panel.open_file(second)  # the engine cancels the queued one (same key)
    assert queued.state == CANCELLED
    assert panel.message_label.text() == "Reading second.pdb…"  # not "Cancelled."
    gate.set()
    with qtbot.waitSignal(latest.finished, timeout=20_000):
        pass
    assert panel.structure.name == "second.pdb"
    assert demo.state == FINISHED and not panel.progress_bar.isVisibleTo(panel)
