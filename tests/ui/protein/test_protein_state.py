"""The Proteins area in a project (issue 17, part 1): the structures opened, the view, the binding
site and the placed molecule are kept; reopening reads the structure from the fetch cache, its
file or the kept text (never the network) and shows it as it was left; what cannot be restored is
one line each, and junk does not raise."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from core.jobs import FINISHED
from core.project.areas import StoredArea
from core.project.store import ProjectState, read_project, save_project_as
from core.protein.demo import demo_complex_path
from core.protein.prediction import PredictionResult
from core.protein.structure import parse_structure, prepare_for_display
from core.protein.synthetic import synthetic_complex_pdb


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    # A restore that tried the network would fail here instead of quietly succeeding.
    monkeypatch.setenv("DRUGDESK_RCSB_URL", "http://127.0.0.1:9/none")
    monkeypatch.setenv("DRUGDESK_ALPHAFOLD_URL", "http://127.0.0.1:9/none")


def _wait(qtbot, handle, timeout=60_000):
    qtbot.waitUntil(handle.is_done, timeout=timeout)
    assert handle.state == FINISHED


def _round_trip(tmp_path, snapshot, name="p.drugdesk") -> StoredArea:
    path = tmp_path / name
    save_project_as(path, ProjectState(areas={"proteins": snapshot}))
    return read_project(path).areas["proteins"]


def _restore(qtbot, panel, stored) -> list[str]:
    problems = panel.restore_area_state(stored)
    qtbot.waitUntil(lambda: panel._live or not panel.jobs.is_busy(), timeout=60_000)
    return problems


def _what_the_user_sees(panel) -> dict:
    scene = panel.structure_view.scene
    camera = scene.renderer.GetActiveCamera()
    return {
        "title": panel.title_label.text(),
        "atoms": panel.structure.n_atoms,
        "protein": scene.layers["protein"].style,
        "ligands": scene.layers["ligands"].style,
        "color": panel.view_tab.color_combo.currentData(),
        "pocket": "pocket" in scene.layers and scene.layers["pocket"].visible,
        "ligand": panel.site_tab.ligand_combo.currentText(),
        "cutoff": panel.site_tab.cutoff_spin.value(),
        "site": list(panel.site_tab.site_residues),
        "site_label": panel.site_tab.site_label.text(),
        "selected": panel.structure_view.selected_residues(),
        "placed": "context" in scene.molecules.keys(),  # noqa: SIM118
        "camera": np.round(camera.GetPosition(), 3).tolist(),
        "focal": np.round(camera.GetFocalPoint(), 3).tolist(),
    }


def test_the_demo_with_its_view_site_and_placed_molecule_comes_back(qtbot, make_panel, tmp_path):
    panel = make_panel()
    changes = []
    panel.state_changed.connect(lambda: changes.append(1))
    _wait(qtbot, panel.open_demo())
    assert changes  # a structure opened is worth keeping
    panel.view_tab.set_color("ss")
    panel.view_tab.set_style("lines")
    panel.view_tab.set_style("ball_and_stick", "ligands")
    panel.view_tab.pocket_check.setChecked(False)
    panel.site_tab.cutoff_spin.setValue(6.0)
    panel.site_tab.select_binding_site()
    _wait(qtbot, panel.place_molecule("c1ccccc1C(=O)N", "benzamide"))
    panel.structure_view.scene.renderer.GetActiveCamera().Azimuth(35)
    seen = _what_the_user_sees(panel)
    assert seen["site"] and seen["placed"] and not seen["pocket"]

    snapshot = panel.area_state()
    assert snapshot.state["campaign"] == {
        "structures": [
            {
                "name": "1HVR",
                "source": "RCSB",
                "title": "HIV-1 protease with the inhibitor XK2",
                "gene": "",
                "path": str(demo_complex_path()),  # the report draws its picture from it
            }
        ],
        "binding_sites": 1,
        "placed": ["benzamide"],
    }
    stored = _round_trip(tmp_path, snapshot)

    fresh = make_panel()
    restored = []
    fresh.state_changed.connect(lambda: restored.append(1))
    assert _restore(qtbot, fresh, stored) == []
    assert fresh._live and fresh.structure is not None
    assert _what_the_user_sees(fresh) == seen
    placed = fresh.area_state().state["structures"][0]["placed"][0]
    assert (placed["smiles"], placed["name"]) == ("c1ccccc1C(=O)N", "benzamide")
    assert fresh.area_state().state == snapshot.state
    assert restored == []  # restoring is not a change to save

    assert fresh.restore_area_state(None) == []  # a new project: the empty area
    assert fresh.structure is None and fresh.area_state().state["structures"] == []
    assert not fresh.has_placed_molecule()


def test_a_fetched_entry_opens_from_the_cache_or_says_fetch_again(qtbot, make_panel, tmp_path):
    from core.protein.fetch import cache_dir

    stored = StoredArea(
        "proteins",
        1,
        "",
        {
            "structures": [{"origin": "rcsb", "id": "1ABC", "gene": "PR", "title": "t"}],
            "current": 0,
        },
        {},
    )
    panel = make_panel()
    assert _restore(qtbot, panel, stored) == [
        "1ABC: not in the local cache; Fetch to open it again"
    ]
    assert panel.structure is None
    # Kept, so that the next save does not lose it.
    state = panel.area_state().state
    assert state["structures"][0]["id"] == "1ABC" and state["current"] == 0
    assert state["campaign"]["structures"] == [
        {"name": "1ABC", "source": "RCSB", "title": "t", "gene": "PR"}
    ]

    # In the cache (as Fetch leaves it), it opens without the network.
    import gemmi

    target = cache_dir() / "pdb" / "1ABC.cif.gz"
    target.parent.mkdir(parents=True)
    demo = gemmi.read_structure(str(demo_complex_path()))
    target.write_bytes(gzip.compress(demo.make_mmcif_document().as_string().encode()))
    assert _restore(qtbot, panel, stored) == []
    assert panel.structure is not None and panel.structure.n_atoms > 1000
    # Picked from a gene's lookup and fetched (the cache answers: no network), the entry keeps
    # the gene and the entry's title for the campaign overview.
    from core.targets import PdbEntry, TargetInfo

    info = TargetInfo("P04585", "Gag-Pol", "gag-pol", 11676, "HIV-1", 1435,
                      (PdbEntry("1ABC", 1.8, "X-RAY DIFFRACTION", (), "HIV-1 protease"),), 1,
                      None)  # fmt: skip
    panel.show_target(info, "gag-pol")
    panel.target_chooser.close()
    _wait(qtbot, panel.fetch("1abc"))
    state = panel.area_state().state
    (entry,) = state["structures"]
    assert (entry["origin"], entry["id"]) == ("rcsb", "1ABC")
    assert state["campaign"]["structures"] == [
        {
            "name": "1ABC",
            "source": "RCSB",
            "title": "HIV-1 protease",
            "gene": "gag-pol",
            "path": str(target),
        }
    ]


def test_a_file_that_changed_or_moved_is_named(qtbot, make_panel, tmp_path):
    path = tmp_path / "complex.pdb"
    path.write_bytes(gzip.decompress(demo_complex_path().read_bytes()))
    panel = make_panel()
    _wait(qtbot, panel.open_file(path))
    snapshot = panel.area_state()
    (entry,) = snapshot.state["structures"]
    assert entry["origin"] == "file" and entry["file"]["path"] == str(path.resolve())
    assert snapshot.state["campaign"]["structures"][0]["source"] == "file"
    stored = _round_trip(tmp_path, snapshot)

    path.write_text(path.read_text() + "REMARK 999 EDITED\n")
    fresh = make_panel()
    (line,) = _restore(qtbot, fresh, stored)
    assert str(path.resolve()) in line and "changed" in line
    assert fresh.structure is not None  # shown as it is now

    path.unlink()
    other = make_panel()
    (line,) = _restore(qtbot, other, stored)
    assert str(path.resolve()) in line and "no longer there" in line
    assert other.structure is None
    assert other.area_state().state["structures"][0]["file"]["path"] == str(path.resolve())


def test_a_prediction_is_kept_with_its_text(qtbot, make_panel, tmp_path):
    text = synthetic_complex_pdb()
    structure = prepare_for_display(parse_structure(text, name="esmfold_prediction.pdb"))
    n = structure.n_residues
    result = PredictionResult("A" * 12, text, np.full(n, 80.0), None, None, "cpu")
    panel = make_panel()
    panel.show_prediction(result, structure)
    snapshot = panel.area_state()
    (entry,) = snapshot.state["structures"]
    assert entry["origin"] == "esmfold" and entry["pdb_text"] == text
    assert snapshot.state["campaign"]["structures"][0]["source"] == "ESMFold"

    fresh = make_panel()
    assert _restore(qtbot, fresh, _round_trip(tmp_path, snapshot)) == []
    assert fresh.structure.n_atoms == structure.n_atoms
    assert fresh.structure_view.scene.color_scheme == "plddt"
    assert fresh.predict_tab.sequence_edit.toPlainText() == "A" * 12


def test_junk_gives_lines_and_does_not_raise(qtbot, make_panel):
    panel = make_panel()
    junk = [
        {"structures": "no", "current": 0},
        {"structures": [5, {"origin": "rcsb"}, {"origin": "mars"}], "current": "x"},
        {"structures": [{"origin": "file", "file": {"path": 3}, "view": [1]}], "current": 0},
        {
            "structures": [
                {
                    "origin": "demo",
                    "view": {"camera": {"position": "x"}, "color": 5},
                    "site": {"ligand": {"name": 1}, "residues": ["a", 10**9]},
                    "placed": [{"smiles": 3}, "x"],
                }
            ],
            "current": 0,
        },
    ]
    for state in junk:
        problems = _restore(qtbot, panel, StoredArea("proteins", 1, "", state, {}))
        assert all(isinstance(line, str) for line in problems)
    assert len(_restore(qtbot, panel, StoredArea("proteins", 1, "", junk[1], {}))) == 3
    # The last junk was a demo with a broken view: the demo opens with the default view.
    problems = _restore(qtbot, panel, StoredArea("proteins", 1, "", junk[3], {}))
    assert problems == [] and panel.structure is not None
    assert panel.structure_view.scene.color_scheme == "chain"
    assert panel.restore_area_state(StoredArea("proteins", 1, "", [], {})) == []  # type: ignore[arg-type]


def test_a_project_reopened_in_another_window_shows_the_structure(qtbot, make_window, tmp_path):
    window = make_window()
    proteins = window.show_area("proteins")
    _wait(qtbot, proteins.open_demo())
    proteins.view_tab.set_color("element")
    proteins.site_tab.select_binding_site()
    site = list(proteins.site_tab.site_residues)
    path = tmp_path / "campaign.drugdesk"
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        assert window.project.save_as(path) is not None
    stored = read_project(path).areas["proteins"]
    assert stored.state["campaign"]["binding_sites"] == 1

    other = make_window()
    with qtbot.waitSignal(other.project.project_changed, timeout=30_000):
        other.project.open_project(path)
    qtbot.waitUntil(lambda: other.project.path == path, timeout=30_000)
    again = other.show_area("proteins")  # built now: the project's state is given to it
    qtbot.waitUntil(lambda: again._live, timeout=60_000)
    assert again.structure.n_atoms == proteins.structure.n_atoms
    assert again.view_tab.color_combo.currentData() == "element"
    assert list(again.site_tab.site_residues) == site
    assert not other.project.is_dirty()  # restoring is not a change to save
