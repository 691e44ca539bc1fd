"""Issue 17's "Done when": the whole flow on shipped demo data and loopback services, in one
window: the expression demo → differential expression → the gene FTL → its target looked up →
a structure opened → its ligand → a similarity search in a library → score and rank → the hit
list exported → the project saved, the window closed, a new window opened on the project, and
the trial that would test the winner designed from a trial's Kaplan-Meier curves → every area
back as it was (what each keeps, the libraries' columns, the campaign's six steps)."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from core.campaign import campaign_steps
from core.protein.synthetic import synthetic_complex_pdb
from resources import resource_path


def _cif_gz() -> bytes:
    import gemmi

    structure = gemmi.read_pdb_string(synthetic_complex_pdb())
    structure.setup_entities()
    return gzip.compress(structure.make_mmcif_document().as_string().encode())


def _idle(window) -> bool:
    return not window.engine.active_jobs()


def _kept(window) -> dict:
    """What each built area keeps (its state), and the campaign's steps."""
    libraries, areas = window.project.campaign_inputs()
    kept = {key: record.state for key, record in areas.items()}
    steps = [(step.title, step.lines) for step in campaign_steps(libraries, areas)]
    return {"areas": kept, "steps": steps}


@pytest.mark.slow
def test_disease_to_hit_list_in_one_project(qtbot, make_window, tmp_path, target_services):
    target_services.files["3FT7.cif.gz"] = _cif_gz()
    window = make_window()
    project = tmp_path / "campaign.drugdesk"
    try:
        # Disease data and genes: the expression demo, differential expression.
        expression = window.show_area("expression")
        expression.open_demo()
        qtbot.waitUntil(lambda: not expression.busy(), timeout=120_000)
        expression.run_de()
        qtbot.waitUntil(lambda: not expression.busy(), timeout=300_000)

        # A gene to its target: the volcano plot's link, the chooser, a structure opened.
        window.links.look_up_target("FTL")
        proteins = window.area_widget("proteins")
        qtbot.waitUntil(
            lambda: proteins.target_chooser is not None and proteins.target_chooser.isVisible(),
            timeout=30_000,
        )
        with qtbot.waitSignal(proteins.structure_changed, timeout=60_000):
            proteins.target_chooser.choose("3FT7")
        assert [ligand.name for ligand in proteins.structure.ligands] == ["LIG"]

        # Its ligand as a similarity query in a library.
        panel = window.open_library(resource_path("demo/example_library.smi"), remember=False)
        qtbot.waitUntil(lambda: panel.library is not None, timeout=120_000)
        window.show_area("proteins")
        proteins.site_tab.find_similar_button.click()
        qtbot.waitUntil(lambda: "similarity" in panel.library.table.columns, timeout=60_000)

        # Score and rank, export the hit list.
        handle = panel.side_panel.score()
        assert handle is not None
        qtbot.waitUntil(handle.is_done, timeout=300_000)
        qtbot.waitUntil(lambda: "rank" in panel.library.table.columns, timeout=60_000)
        exported = tmp_path / "hits.csv"
        export = window.libraries.export_current(exported)
        qtbot.waitUntil(export.is_done, timeout=60_000)
        hits = pd.read_csv(exported)
        assert len(hits) > 0 and {"score", "rank", "similarity"} <= set(hits.columns)

        # The trial that would test the winner: a trial's Kaplan-Meier curves into the design.
        trials = window.show_area("trials")
        trials.open_demo("GBSG2")
        qtbot.waitUntil(
            lambda: trials.survival is not None and trials.use_in_design_button.isEnabled(),
            timeout=120_000,
        )
        trials.use_in_design_button.click()
        qtbot.waitUntil(lambda: _idle(window), timeout=60_000)
        design = trials.area_state().state["campaign"]["design"]
        assert design and design["n_total"] > 0

        # Saved as a project; what the window holds now is what must come back.
        with qtbot.waitSignal(window.project.project_changed, timeout=60_000):
            window.project.save_as(project)
        qtbot.waitUntil(lambda: _idle(window), timeout=60_000)
        window.project.flush()
        before = _kept(window)
        columns_before = set(panel.library.table.columns)
        ranked_before = panel.library.table[["similarity", "score", "rank"]].copy()
        overview = window.show_area("campaign")
        started = [card.step.title for card in overview.cards if card.step.started]
        assert started == [
            "Disease data",
            "Disease genes",
            "Targets",
            "Molecules",
            "Hit list",
            "Trial design",
        ]
    finally:
        window.close()

    # A new window on the project: every area as it was.
    again = make_window()
    try:
        with qtbot.waitSignal(again.project.project_changed, timeout=60_000):
            again.project.open_project(project)
        qtbot.waitUntil(lambda: again.project.path == project, timeout=60_000)
        for key in ("expression", "proteins", "trials"):
            again.show_area(key)
        qtbot.waitUntil(lambda: _idle(again), timeout=120_000)
        panel = again.libraries.current_panel()
        assert set(panel.library.table.columns) == columns_before
        pd.testing.assert_frame_equal(
            panel.library.table[["similarity", "score", "rank"]], ranked_before
        )
        after = _kept(again)
        assert after["steps"] == before["steps"]
        for key, state in before["areas"].items():
            assert after["areas"].get(key, {}).get("campaign") == state.get("campaign"), key
        proteins = again.area_widget("proteins")
        qtbot.waitUntil(lambda: proteins.structure is not None, timeout=60_000)
        assert [ligand.name for ligand in proteins.structure.ligands] == ["LIG"]
    finally:
        again.close()
