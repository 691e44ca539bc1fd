"""The conformer viewer and its VTK scene: what VTK draws, selection, styles, export."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from core.chem.conformers import ConformerEnsemble, ConformerOptions, generate_conformers
from ui.molecules.scene import CURRENT, MoleculeScene, vtk_molecule
from ui.molecules.viewer3d import ConformerViewer, conformer_label
from ui.vtk_support import HeadlessRenderWindow, grab_widget, is_headless

SMILES = "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O"  # ibuprofen: flexible, several conformers


@pytest.fixture(scope="module")
def ensemble() -> ConformerEnsemble:
    result = generate_conformers(SMILES, ConformerOptions(n_conformers=6), name="ibuprofen")
    assert result.n_conformers >= 2
    return result


@pytest.fixture
def viewer(qtbot, finalize_later):
    viewer = ConformerViewer()
    qtbot.addWidget(viewer)
    finalize_later(viewer)
    viewer.resize(640, 420)
    viewer.show()
    qtbot.waitExposed(viewer)
    return viewer


def _changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ clearly between two pictures of the same size."""
    assert a.shape == b.shape
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 24).mean())


def test_shows_the_conformers_by_energy_and_draws_the_lowest(viewer, ensemble, vtk_image):
    empty = vtk_image(viewer.render_window())
    viewer.show_ensemble(ensemble)
    image = vtk_image(viewer.render_window())

    assert image.shape[0] > 100 and image.shape[1] > 100
    # Something was drawn: a good part of the view changed, in many colours (shaded atoms).
    assert _changed_fraction(empty, image) > 0.03
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100
    assert viewer.conformer_list.count() == ensemble.n_conformers
    labels = [viewer.conformer_list.item(i).text() for i in range(viewer.conformer_list.count())]
    assert labels[0] == "#1   0.00 kcal/mol"
    deltas = [float(label.split()[1]) for label in labels]
    assert deltas == sorted(deltas)
    assert viewer.selected_index() == 0
    assert "MMFF94" in viewer.list_title.text()
    assert viewer.message_label.text() == ensemble.message


def test_each_style_draws_differently(viewer, ensemble, vtk_image):
    viewer.show_ensemble(ensemble)
    images = {}
    for style in ("ball_and_stick", "sticks", "spheres"):
        viewer.set_style(style)
        assert viewer.style_combo.currentData() == style
        images[style] = vtk_image(viewer.render_window())
    assert _changed_fraction(images["ball_and_stick"], images["sticks"]) > 0.01
    assert _changed_fraction(images["ball_and_stick"], images["spheres"]) > 0.02
    assert _changed_fraction(images["sticks"], images["spheres"]) > 0.02
    with pytest.raises(ValueError):
        viewer.set_style("cartoon")


def test_selecting_another_conformer_changes_the_picture(qtbot, viewer, ensemble, vtk_image):
    viewer.show_ensemble(ensemble)
    first = vtk_image(viewer.render_window())
    with qtbot.waitSignal(viewer.conformer_selected) as blocker:
        viewer.select(ensemble.n_conformers - 1)
    assert blocker.args == [ensemble.n_conformers - 1]
    assert viewer.selected_index() == ensemble.n_conformers - 1
    assert _changed_fraction(first, vtk_image(viewer.render_window())) > 0.005
    viewer.select(0)
    np.testing.assert_array_equal(vtk_image(viewer.render_window()), first)
    with pytest.raises(IndexError):
        viewer.select(ensemble.n_conformers)


def test_reset_view_undoes_rotation_and_zoom(viewer, ensemble, vtk_image):
    viewer.show_ensemble(ensemble)
    home = vtk_image(viewer.render_window())
    camera = viewer.scene.renderer.GetActiveCamera()
    camera.Azimuth(70)
    camera.Zoom(2.0)
    assert _changed_fraction(home, vtk_image(viewer.render_window())) > 0.02
    viewer.reset_button.click()
    assert _changed_fraction(home, vtk_image(viewer.render_window())) < 0.001


def test_export_selected_and_all(viewer, ensemble, tmp_path, qtbot):
    viewer.show_ensemble(ensemble)
    viewer.select(1)
    with qtbot.waitSignal(viewer.exported):
        assert viewer.export(tmp_path / "one.pdb")
    pdb = Chem.MolFromPDBFile(str(tmp_path / "one.pdb"), removeHs=False)
    assert pdb.GetNumAtoms() == ensemble.mol.GetNumAtoms()
    np.testing.assert_allclose(
        pdb.GetConformer().GetPositions(),
        ensemble.mol.GetConformer(ensemble.conformer_ids[1]).GetPositions(),
        atol=1e-3,
    )
    assert viewer.export(tmp_path / "one.xyz")
    assert int((tmp_path / "one.xyz").read_text().split("\n", 1)[0]) == ensemble.mol.GetNumAtoms()
    assert viewer.export(tmp_path / "all.sdf", which="all")
    records = list(Chem.SDMolSupplier(str(tmp_path / "all.sdf"), removeHs=False))
    assert len(records) == ensemble.n_conformers
    assert [r.GetProp("conformer") for r in records] == [
        str(i + 1) for i in range(ensemble.n_conformers)
    ]
    assert "Wrote" in viewer.message_label.text()


def test_export_problems_are_shown_not_raised(viewer, ensemble, tmp_path, qtbot):
    assert not viewer.export(tmp_path / "nothing.sdf")  # nothing shown yet
    assert "predict" in viewer.message_label.text().lower()
    viewer.show_ensemble(ensemble)
    with qtbot.waitSignal(viewer.export_failed) as blocker:
        assert not viewer.export(tmp_path / "no-such-folder" / "out.sdf", which="all")
    assert "no-such-folder" in blocker.args[0]
    assert viewer.message_label.text().startswith("Export failed")
    assert not viewer.export(tmp_path / "out.mol2")
    assert ".sdf, .pdb or .xyz" in viewer.message_label.text()
    assert list(tmp_path.iterdir()) == []


def test_export_button_asks_for_a_file(viewer, ensemble, tmp_path, monkeypatch):
    from ui.molecules import viewer3d

    viewer.show_ensemble(ensemble)
    chosen = str(tmp_path / "picked")  # no suffix: the chosen filter's is added
    monkeypatch.setattr(
        viewer3d.QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *args, **kwargs: (chosen, "SDF, all conformers (*.sdf)")),
    )
    viewer.export_button.click()
    records = list(Chem.SDMolSupplier(chosen + ".sdf", removeHs=False))
    assert len(records) == ensemble.n_conformers


def test_predict_button_and_busy_state(viewer, qtbot):
    with qtbot.waitSignal(viewer.predict_requested):
        viewer.predict_button.click()
    viewer.set_busy(True, "Embedding 10 conformers")
    assert not viewer.predict_button.isEnabled()
    assert viewer.cancel_button.isVisible() and viewer.progress_bar.isVisible()
    viewer.set_progress(0.5, "Conformer 5 of 10")
    assert viewer.progress_bar.value() == 500
    assert viewer.message_label.text() == "Conformer 5 of 10"
    with qtbot.waitSignal(viewer.cancel_requested):
        viewer.cancel_button.click()
    viewer.set_busy(False)
    assert viewer.predict_button.isEnabled()
    assert not viewer.cancel_button.isVisible() and not viewer.progress_bar.isVisible()


def test_a_timed_out_ensemble_without_conformers_shows_its_message(viewer, ensemble, vtk_image):
    empty = vtk_image(viewer.render_window())
    viewer.show_ensemble(ensemble)
    mol = Chem.AddHs(Chem.MolFromSmiles("C1CCCCCCCCCCC1"))
    message = "Stopped at the 2 s time limit before the first conformer was embedded"
    viewer.show_ensemble(
        ConformerEnsemble(mol, (), (), name="ring", timed_out=True, message=message)
    )
    assert viewer.conformer_list.count() == 0
    assert viewer.selected_index() is None
    assert viewer.message_label.text() == message
    assert not viewer.export_button.isEnabled()
    assert viewer.scene.keys() == []
    assert _changed_fraction(empty, vtk_image(viewer.render_window())) < 0.001


def test_clear_and_close_view_twice(viewer, ensemble):
    viewer.show_ensemble(ensemble)
    viewer.clear()
    assert viewer.ensemble() is None and viewer.conformer_list.count() == 0
    viewer.close_view()
    viewer.close_view()  # idempotent; the fixture calls it once more


def test_grab_widget_paints_the_vtk_view_in(viewer, ensemble, vtk_image):
    from PySide6.QtCore import QPoint, QRect
    from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor

    viewer.show_ensemble(ensemble)
    picture = grab_widget(viewer).toImage()
    interactor = viewer.findChild(QVTKRenderWindowInteractor)
    area = QRect(interactor.mapTo(viewer, QPoint(0, 0)), interactor.size())
    drawn = vtk_image(viewer.render_window())
    # The VTK area of the picture is what VTK drew (QWidget.grab alone leaves it black).
    for fx, fy in [(0.1, 0.1), (0.5, 0.5), (0.3, 0.7), (0.9, 0.9)]:
        x, y = int(fx * area.width()), int(fy * area.height())
        colour = picture.pixelColor(area.x() + x, area.y() + y)
        assert (colour.red(), colour.green(), colour.blue()) == tuple(drawn[y, x])


def test_render_window_matches_the_platform(viewer):
    # Under Qt's offscreen platform (tests/conftest.py without a display): the EGL window.
    assert isinstance(viewer.render_window(), HeadlessRenderWindow) == is_headless()


def test_conformer_label():
    assert conformer_label(1, 0.0) == "#1   0.00 kcal/mol"
    assert conformer_label(3, 1.234) == "#3   1.23 kcal/mol"
    assert conformer_label(2, float("nan")) == "#2   no energy"


# ----------------------------------------------------------------------------------------------
# The scene alone (no window needed)


def test_vtk_molecule_has_every_atom_bond_and_order(ensemble):
    molecule = vtk_molecule(ensemble.mol, ensemble.conformer_ids[0])
    mol = ensemble.mol
    assert molecule.GetNumberOfAtoms() == mol.GetNumAtoms()  # hydrogens included
    assert molecule.GetNumberOfBonds() == mol.GetNumBonds()
    assert [molecule.GetAtom(i).GetAtomicNumber() for i in range(mol.GetNumAtoms())] == [
        a.GetAtomicNum() for a in mol.GetAtoms()
    ]
    positions = np.array([molecule.GetAtom(i).GetPosition() for i in range(mol.GetNumAtoms())])
    np.testing.assert_allclose(positions, mol.GetConformer(0).GetPositions(), atol=1e-6)
    orders = sorted(molecule.GetBondOrder(i) for i in range(molecule.GetNumberOfBonds()))
    # Ibuprofen, kekulised: three ring double bonds and the C=O.
    assert orders.count(2) == 4 and set(orders) == {1, 2}
    with pytest.raises(ValueError):
        vtk_molecule(Chem.MolFromSmiles("CCO"))


def test_scene_holds_several_molecules_by_key(ensemble):
    scene = MoleculeScene()
    scene.set_molecule(ensemble.mol, 0)
    scene.add_molecule("ligand", ensemble.mol, 1, style="spheres")
    assert scene.keys() == [CURRENT, "ligand"]
    assert scene.renderer.GetActors().GetNumberOfItems() == 2
    scene.set_style("sticks", key=CURRENT)
    assert scene.style == "ball_and_stick"
    assert scene.remove("ligand") and not scene.remove("ligand")
    scene.set_molecule(None)
    assert scene.keys() == [] and scene.renderer.GetActors().GetNumberOfItems() == 0
    scene.add_molecule("a", ensemble.mol)
    scene.clear()
    assert scene.keys() == []
    with pytest.raises(ValueError):
        scene.set_style("wireframe")


# ----------------------------------------------------------------------------------------------
# The Molecule workspace runs the prediction and hears of its own job only


@pytest.fixture
def engine(qtbot):
    from app.engine import InferenceEngine

    engine = InferenceEngine()
    engine.start()
    yield engine
    assert engine.stop(10_000)


@pytest.fixture
def workspace(qtbot, engine, finalize_later):
    from ui.molecules.workspace import MoleculeWorkspace

    workspace = MoleculeWorkspace(engine)
    qtbot.addWidget(workspace)
    assert workspace.open_smiles(SMILES, "ibuprofen")
    finalize_later(workspace.ensure_viewer())
    return workspace


@pytest.fixture
def held_conformers(monkeypatch):
    """Conformer jobs wait for ``release.set()`` before they start embedding."""
    import threading

    import ui.molecules.workspace as module

    release = threading.Event()

    def held(mol, options=None, *, name="", progress=None, is_cancelled=None):
        assert release.wait(30)
        return generate_conformers(
            mol,
            ConformerOptions(n_conformers=3),
            name=name,
            progress=progress,
            is_cancelled=is_cancelled,
        )

    monkeypatch.setattr(module, "generate_conformers", held)
    yield release
    release.set()


def _another_areas_ensemble(*, progress, is_cancelled):
    progress(0.5, "another area's progress")
    return generate_conformers("CCO", ConformerOptions(n_conformers=1), name="ethanol")


def _another_areas_failure(*, progress, is_cancelled):
    raise ValueError("another area's file is broken")


def test_the_workspace_hears_its_own_prediction_only(qtbot, engine, workspace, held_conformers):
    from core.jobs import LONG_LANE

    viewer = workspace.viewer
    job = workspace.predict_3d()
    assert viewer.message_label.text() == "Predicting 3D structures of ibuprofen…"
    # Jobs of other areas end first: a conformer ensemble, progress, a failure.
    other = engine.submit(_another_areas_ensemble, title="Other", lane=LONG_LANE)
    broken = engine.submit(_another_areas_failure, title="Broken", lane=LONG_LANE)
    qtbot.waitUntil(lambda: other.is_done() and broken.is_done(), timeout=30_000)
    assert other.state == "finished" and broken.state == "failed"
    assert viewer.ensemble() is None and not viewer.predict_button.isEnabled()
    assert viewer.message_label.text() == "Predicting 3D structures of ibuprofen…"
    held_conformers.set()
    qtbot.waitUntil(job.is_done, timeout=60_000)
    assert job.state == "finished"
    assert viewer.ensemble() is job.result and viewer.ensemble().name == "ibuprofen"
    assert viewer.predict_button.isEnabled()


def _wait_for(event, *, progress, is_cancelled):
    assert event.wait(30)


def test_a_new_prediction_supersedes_the_queued_one(qtbot, engine, workspace, held_conformers):
    viewer = workspace.viewer
    engine.submit(_wait_for, held_conformers, title="Busy")  # the predictions queue behind it
    first = workspace.predict_3d()
    workspace.name_edit.setText("ibuprofen, again")
    second = workspace.predict_3d()
    assert first.state == "cancelled"  # at once: it was queued
    assert not viewer.predict_button.isEnabled()  # still busy with the second
    held_conformers.set()
    qtbot.waitUntil(lambda: first.is_done() and second.is_done(), timeout=60_000)
    assert first.state == "cancelled" and second.state == "finished"
    assert viewer.ensemble().name == "ibuprofen, again"


def test_cancel_stops_the_prediction(qtbot, workspace, held_conformers):
    viewer = workspace.viewer
    job = workspace.predict_3d()
    viewer.cancel_button.click()
    held_conformers.set()
    qtbot.waitUntil(job.is_done, timeout=30_000)
    assert job.state == "cancelled"
    assert viewer.message_label.text() == "3D prediction cancelled."
    assert viewer.predict_button.isEnabled() and viewer.ensemble() is None
