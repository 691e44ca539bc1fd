"""The links between work areas (``ui.workbench.AreaLinks``), wired by the window.

An area asks for a link through its ``AreaContext.links`` (a gene's target, a ligand to the
Molecule panel or to a similarity search, a library row into a pocket or into 3D, a row's
prediction to its model's explanation); this object
brings the area the link leads to to the front (building it on first use), calls that area's own
public method, and says in the status bar where the user now is. No area touches another's
widgets: only this wiring knows both ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.main_window import MainWindow


class AreaLinks:
    """``ui.workbench.AreaLinks`` for the main window ``window``."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def _area(self, key: str):
        """The area ``key``, brought to the front (a broken area's widget shows its error)."""
        return self.window.show_area(key)

    # Expression -> Proteins ---------------------------------------------------------------------

    def look_up_target(self, symbol: str) -> None:
        symbol = symbol.strip()
        if not symbol:
            return
        proteins = self._area("proteins")
        look_up = getattr(proteins, "look_up_gene", None)
        if look_up is None:
            self.window.show_error(f"Proteins could not be opened to look up {symbol}.")
            return
        look_up(symbol)
        self.window.show_status(
            f"Proteins: looking up the gene {symbol} (UniProt, RCSB, AlphaFold DB)…"
        )

    # -> the Molecule panel ----------------------------------------------------------------------

    def _open_in_molecule_panel(self, smiles: str, name: str, source: object = None) -> bool:
        window = self.window
        if not window.molecule_workspace.open_smiles(smiles, name, source, True):
            window.show_error(f"{name or smiles}: the Molecule panel cannot read its SMILES.")
            return False
        window.molecule_dock.show()
        window.molecule_dock.raise_()
        return True

    def send_to_molecule_panel(self, smiles: str, name: str) -> None:
        if self._open_in_molecule_panel(smiles, name):
            # Libraries, where the Molecule panel works (saving it adds a row to a library).
            self._area("libraries")
            self.window.show_status(f"Molecule panel: {name or 'molecule'} ({smiles})")

    def show_in_3d(self, smiles: str, name: str, source: object = None) -> None:
        if not self._open_in_molecule_panel(smiles, name, source):
            return
        workspace = self.window.molecule_workspace
        viewer = workspace.ensure_viewer()
        workspace.tabs.setCurrentWidget(viewer)
        workspace.predict_3d()
        self.window.show_status(f"Molecule panel, 3D: predicting conformers of {name or smiles}…")

    # -> Libraries: similarity search ------------------------------------------------------------

    def find_similar_in_library(self, smiles: str, name: str) -> None:
        libraries = self._area("libraries")
        about = name or smiles
        if not libraries.find_similar(smiles, name):
            self.window.show_error(
                f"No library to search for molecules like {about}: open one (File > Open "
                "library) and choose Find similar again."
            )
            return
        panel = libraries.current_panel()
        self.window.show_status(
            f"Hit lists > Find: searching {panel.title} for molecules similar to {about}…"
        )

    # -> Proteins: a molecule in the pocket ------------------------------------------------------

    def place_in_pocket(self, smiles: str, name: str) -> None:
        proteins = self._area("proteins")
        place = getattr(proteins, "place_molecule", None)
        if place is None:
            self.window.show_error(f"Proteins could not be opened to place {name or smiles}.")
            return
        if proteins.structure is None:
            self.window.show_error(
                f"Open a structure in Proteins first (Open, Fetch or Open demo), choose its "
                f"ligand or pocket, then place {name or 'the molecule'} again."
            )
            return
        if place(smiles, name) is not None:
            self.window.show_status(
                f"Proteins: placing {name or smiles} at the site of {proteins.structure.name}…"
            )

    # Libraries -> Models: a row's prediction explained ----------------------------------------

    def explain_prediction(self, smiles: str, name: str, model: str, target: str) -> None:
        models = self._area("models")
        explain = getattr(models, "explain_prediction", None)
        about = name or smiles
        if explain is None:
            self.window.show_error(f"Models could not be opened to explain {about}.")
            return
        if explain(model, target, smiles) is not None:
            self.window.show_status(
                f"Models > Explain: why {model} predicts {target} as it does for {about}…"
            )
