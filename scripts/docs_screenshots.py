"""Take the README's screenshots: every area with its demo open, on a screen of a given size.

Run under a virtual X server the size of the screen to show (the pictures are the window, which
must fit that screen)::

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/docs_screenshots.py docs/

Settings and data go to a temporary folder, not the user's. Each picture is the whole window,
read from the screen so that the 3D views are in it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="drugdesk-shots-"))
    os.environ["DRUGDESK_CONFIG_DIR"] = str(home / "config")
    os.environ["DRUGDESK_DATA_DIR"] = str(home / "data")

    from PySide6.QtCore import Qt, QThread

    from app.gui import create_application, create_main_window
    from resources import resource_path
    from ui.vtk_support import grab_widget

    app = create_application(sys.argv[:1])
    window = create_main_window()
    window.show()

    def pump(seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            QThread.msleep(20)

    def wait(condition, timeout: float = 600) -> None:
        end = time.monotonic() + timeout
        while not condition() and time.monotonic() < end:
            app.processEvents()
            QThread.msleep(30)

    def idle() -> bool:
        return not window.engine.active_jobs()

    def shoot(name: str) -> None:
        pump(1.0)
        picture = grab_widget(window) if "vtkmodules" in sys.modules else window.grab()
        picture.save(str(out / name))
        screen = window.screen().availableGeometry()
        print(
            f"{name}: window {window.frameGeometry().width()}x{window.frameGeometry().height()} "
            f"on a {screen.width()}x{screen.height()} screen",
            file=sys.stderr,
        )

    # Libraries: the example library ranked by CNS MPO, a molecule in the Molecule panel.
    panel = window.open_library(resource_path("demo/example_library.smi"))
    wait(lambda: panel.library is not None)
    tools = panel.side_panel
    index = tools.preset_box.findText("CNS MPO", Qt.MatchFlag.MatchContains)
    if index >= 0:
        tools.preset_box.setCurrentIndex(index)
    tools.score()  # CNS MPO needs the pKa estimate: computed by Score, then ranked
    wait(idle)
    panel.view.selectRow(0)
    shoot("screenshot.png")

    # The Molecule panel's 3D tab: conformers of bortezomib by energy.
    workspace = window.molecule_workspace
    workspace.open_smiles(
        "O=C(N[C@@H](Cc1ccccc1)C(=O)N[C@@H](CC(C)C)B(O)O)c1cnccn1", name="bortezomib"
    )
    workspace.ensure_viewer()
    workspace.tabs.setCurrentWidget(workspace.viewer)
    workspace.predict_3d()
    wait(idle)
    shoot("screenshot-3d.png")
    workspace.tabs.setCurrentIndex(0)

    # Models: the shipped potency model's metrics beside its random-forest baseline.
    models = window.show_area("models")
    models.open_demo()
    wait(idle)
    for row in range(models.models_list.count()):
        if "potency" in models.models_list.item(row).text():
            models.models_list.setCurrentRow(row)
    wait(idle)
    shoot("screenshot-models.png")

    # Proteins: HIV-1 protease with its inhibitor (PDB 1HVR).
    proteins = window.show_area("proteins")
    proteins.open_demo()
    wait(lambda: proteins.structure is not None and idle())
    shoot("screenshot-proteins.png")

    # Expression: PBMC demo, one cell type against the rest.
    expression = window.show_area("expression")
    expression.open_demo()
    wait(lambda: not expression.busy())
    expression.run_de()
    wait(lambda: not expression.busy())
    shoot("screenshot-expression.png")

    # Trials: GBSG2, Kaplan-Meier by hormone therapy with the Cox forest plot.
    trials = window.show_area("trials")
    trials.open_demo("GBSG2")
    wait(lambda: trials.survival is not None and idle())
    for index in range(trials.tabs.count()):
        if trials.tabs.tabText(index) == "Survival":
            trials.tabs.setCurrentIndex(index)
    shoot("screenshot-trials.png")

    # The links between areas (issue 17), each one click.
    from PySide6.QtWidgets import QMenu

    # Kaplan-Meier -> Design: GBSG2's curves fill the design's inputs.
    trials.use_in_design_button.click()
    wait(idle)
    shoot("screenshot-link-km-design.png")

    # Expression -> Proteins: a gene looked up (loopback stand-ins of the services: never the
    # network), its structures offered in the chooser (its own window: grabbed alone).
    services = _target_services()
    if services is not None:
        window.links.look_up_target("FTL")
        wait(lambda: proteins.target_chooser is not None and proteins.target_chooser.isVisible())
        pump(1.0)
        proteins.target_chooser.grab().save(str(out / "screenshot-link-gene.png"))
        proteins.target_chooser.close()
        services[0].__exit__(None, None, None)
        services[1].undo()

    # Proteins -> Libraries: the demo's ligand as a similarity query in the example library.
    window.show_area("proteins")
    proteins.site_tab.find_similar_button.click()
    wait(lambda: "similarity" in panel.library.table.columns and idle())
    shoot("screenshot-link-find-similar.png")

    # Library row -> Place in pocket: a conformer at the binding site.
    menu = QMenu()
    panel.add_row_links(menu, 1)
    place = [a for a in menu.actions() if a.text().startswith("Place in pocket")]
    if place:
        place[0].trigger()
        wait(lambda: proteins.has_placed_molecule() and idle())
        shoot("screenshot-link-place.png")

    # Hit list -> explanation: Apply the potency model, then a row's "Explain prediction".
    window.show_area("models")
    job = models.apply_to_library()
    if job is not None:
        wait(job.is_done)
        window.show_area("libraries")
        menu = QMenu()
        panel.add_row_links(menu, 1)
        explain = [a for a in menu.actions() if a.text().startswith("Explain prediction")]
        if explain:
            explain[0].trigger()
            wait(
                lambda: (
                    getattr(models.explain_tab.explanation, "smiles", None) is not None and idle()
                )
            )
            shoot("screenshot-link-explain.png")

    # Campaign: what the session holds at each step of the flow.
    window.show_area("campaign")
    shoot("screenshot-campaign.png")

    window.close()
    return 0


def _target_services():
    """The loopback stand-ins of UniProt, RCSB and AlphaFold DB that the tests use
    (tests/target_services.py), with a structure file for 3FT7; None when they cannot start."""
    import importlib.util

    import pytest

    spec = importlib.util.spec_from_file_location(
        "target_services", ROOT / "tests" / "target_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    patch = pytest.MonkeyPatch()
    services = module.TargetServices(patch)
    try:
        services.__enter__()
    except OSError:
        patch.undo()
        return None
    return services, patch


if __name__ == "__main__":
    sys.exit(main())
