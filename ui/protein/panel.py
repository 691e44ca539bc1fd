"""The Proteins area: open, fetch or predict a structure, look at it, and find its binding site.

Layout: a top bar (open, demo, fetch, reset, save PNG), the 3D view with a sequence strip under
it (:class:`~ui.protein.structure_view.StructureView`), and tabs on the right: *View* (styles and
colours per selection, legend; ``view_tab.py``), *Site* (ligands, binding-site residues,
measuring, a library molecule placed in the pocket; ``site_tab.py``) and *Predict* (ESMFold:
sequence, weights, chunk size, pLDDT and the PAE plot; ``predict_tab.py``).

Reading, fetching, folding and conformer generation run as engine jobs (``core.protein`` and
``core.chem``); this panel keeps their handles, shows what they bring, and routes clicks: an atom
clicked in the view selects its residue in the view and the strip, or is measured in measure mode.
The panel is given an :class:`~ui.workbench.AreaContext`: the engine, the notifier, and the
Molecule panel whose molecule can be placed at the site.

The project keeps the area (``ui.workbench.KeepsState``, key ``proteins``): every structure opened
in it (where it came from: a PDB id, an AlphaFold DB accession, a file with its SHA-256, the demo,
or a prediction's sequence and text), with the view, binding site and placed molecule it had.
Reopening reads the structure shown again from the fetch cache, the file or the kept text, never
from the network (``ui/protein/area_state.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.jobs import LONG_LANE
from core.project.areas import AreaSnapshot
from ui.jobs.tracker import CANCELLED, JobTracker
from ui.protein import area_state
from ui.protein.predict_tab import PredictTab
from ui.protein.site_tab import SiteTab
from ui.protein.structure_view import StructureView
from ui.protein.view_tab import ViewTab
from ui.widgets.elided_label import ElidedLabel

if TYPE_CHECKING:
    from core.project.areas import StoredArea
    from core.protein.structure import ProteinStructure
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext

FILE_FILTER = "Structures (*.pdb *.ent *.cif *.mmcif *.pdb.gz *.ent.gz *.cif.gz);;All files (*)"
_ERROR_STYLE = "color: #8a1c12;"
_LARGE_ATOMS = 30_000  # the scene draws more atoms than this as cartoon and ligands only
_DEMO_ENTRY = {"origin": "demo", "name": "1HVR", "title": "HIV-1 protease with the inhibitor XK2"}


class ProteinPanel(QWidget):
    """The protein structure viewer and ESMFold front end."""

    structure_changed = Signal(object)  # ProteinStructure or None
    selection_changed = Signal(list)  # residue indices
    atom_picked = Signal(int)  # atom index
    status_message = Signal(str)
    # True while a library molecule is placed in the view: the window shows the Molecule panel
    # beside the protein only then (the 3D view gets the width otherwise).
    placed_molecule_changed = Signal(bool)
    # The project keeps this area (ui.workbench.KeepsState).
    state_key = "proteins"
    state_changed = Signal()

    def __init__(self, context: AreaContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.prediction = None
        # The newest job of each kind ("load", "demo", "predict", "context"); a newer job of a
        # kind supersedes the older one.
        self.jobs = JobTracker(context.engine, "protein", self)
        self.jobs.progress.connect(self._on_job_progress)
        self.jobs.ended.connect(self._on_job_ended)
        self.jobs.failed.connect(self._on_job_failed)
        self._finalized = False
        self.target_chooser = None  # built on the first gene looked up
        # What the project keeps: the structures opened (area_state entries), the one shown
        # (``_current``), whether the view shows it now (``_live``: False while a project's
        # structure is read back, or when it could not be), the molecule placed at its site.
        self._entries: list[dict[str, Any]] = []
        self._current: int | None = None
        self._live = False
        self._incoming: dict[str, Any] | int | None = None  # the entry show_structure shows
        self._restoring = False
        self._restore_token: object | None = None
        self._placed: dict[str, Any] | None = None
        self._target_genes: dict[str, tuple[str, str]] = {}  # PDB id/accession -> gene, title

        self.structure_view = StructureView()
        self.structure_view.selection_changed.connect(self.selection_changed)
        self.structure_view.status_message.connect(self._status)
        self.structure_view.atom_picked.connect(self._on_atom_picked)
        self.view_tab = ViewTab(self.structure_view)
        self.view_tab.model_requested.connect(self.open_model)
        self.view_tab.notice_message.connect(self._notice)
        self.site_tab = SiteTab(self.structure_view)
        self.site_tab.place_requested.connect(self.place_workspace_molecule)
        self.site_tab.remove_requested.connect(self.remove_context_molecule)
        self.site_tab.send_ligand_requested.connect(self.send_ligand_to_molecule_panel)
        self.site_tab.find_similar_requested.connect(self.find_similar_to_ligand)
        for tab in (self.view_tab, self.site_tab):
            tab.error_message.connect(self._error)
        self.predict_tab = PredictTab()
        self.predict_tab.predict_requested.connect(lambda: self.predict())
        self.predict_tab.web_predict_requested.connect(lambda: self.predict_online())
        self.predict_tab.download_requested.connect(lambda: self.download_esm_weights())
        self.predict_tab.download_cancel_requested.connect(lambda: self.jobs.cancel("esm-weights"))

        self._build_top_bar()
        self._watch_view_changes()
        tabs = QTabWidget()
        for page, title in ((self.view_tab, "View"), (self.site_tab, "Site"),
                            (self.predict_tab, "Predict")):  # fmt: skip
            scroll = QScrollArea()  # a long legend or chain list never stretches the window
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            tabs.addTab(scroll, title)
        tabs.setMinimumWidth(280)
        self.tabs = tabs

        # The 3D view takes the width: the tabs keep their size when the window grows.
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.structure_view)
        splitter.addWidget(tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setCollapsible(0, False)
        splitter.setSizes([1000, 300])
        self.splitter = splitter

        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.hide()
        self.message_label = QLabel("Open a PDB or mmCIF file, fetch an id, or open the demo.")
        self.message_label.setWordWrap(True)
        # A long file name (one unbreakable word) is cut at the panel's edge instead of widening
        # the window; the tooltip holds the whole message.
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        layout = QVBoxLayout(self)
        layout.addLayout(self.top_bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.message_label)

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close_view)

    def _build_top_bar(self) -> None:
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open a PDB or mmCIF file (gzipped too)")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.demo_button = QPushButton("Open demo")
        self.demo_button.setToolTip(
            "PDB entry 1HVR: HIV-1 protease with the inhibitor XK2 (shipped with DrugDesk), "
            "opened on the inhibitor"
        )
        self.demo_button.clicked.connect(self.open_demo)
        self.fetch_edit = QLineEdit()
        self.fetch_edit.setPlaceholderText("PDB id, UniProt or gene")
        self.fetch_edit.setToolTip(
            "A PDB id (for example 1HVR, from RCSB), a UniProt accession (for example P69905, "
            "from AlphaFold DB) or a gene symbol (for example FTL: its PDB entries and AlphaFold "
            "model to choose from); press Enter to fetch"
        )
        self.fetch_edit.setMinimumWidth(200)
        self.fetch_edit.returnPressed.connect(lambda: self.fetch(self.fetch_edit.text()))
        self.fetch_button = QPushButton("Fetch")
        self.fetch_button.setToolTip(
            "Download from RCSB (PDB id) or AlphaFold DB (UniProt), or look a gene up"
        )
        self.fetch_button.clicked.connect(lambda: self.fetch(self.fetch_edit.text()))
        self.reset_button = QPushButton("Reset view")
        self.reset_button.clicked.connect(self.structure_view.reset_view)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.clicked.connect(self._on_save_clicked)
        for button in (self.reset_button, self.save_button):
            button.setEnabled(False)  # until a structure is shown
        self.title_label = ElidedLabel("", mode="right", minimum_chars=10)
        self.title_label.setStyleSheet("font-weight: bold;")
        bar = QHBoxLayout()
        for widget in (self.open_button, self.demo_button, self.fetch_edit, self.fetch_button):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.title_label, 1)
        bar.addWidget(self.reset_button)
        bar.addWidget(self.save_button)
        self.top_bar = bar

    # ------------------------------------------------------------------------------------------
    # Life cycle and messages

    @property
    def structure(self) -> ProteinStructure | None:
        """The structure shown, or None."""
        return self.structure_view.structure

    def close_view(self) -> None:
        """Cancel the panel's jobs and release the VTK render window; call before the widget
        is destroyed. Idempotent."""
        if self._finalized:
            return
        self._finalized = True
        self.jobs.cancel_all(forget=True)
        self.structure_view.close_view()

    def _error(self, message: str) -> None:
        self.message_label.setStyleSheet(_ERROR_STYLE)
        self.message_label.setText(message)
        self.message_label.setToolTip(message)
        self.context.notifier.show_error(message)

    def _notice(self, message: str) -> None:
        self.message_label.setStyleSheet("")
        self.message_label.setText(message)
        self.message_label.setToolTip(message)

    def _status(self, message: str) -> None:
        self.status_message.emit(message)
        self.context.notifier.show_status(message, 10_000)

    # ------------------------------------------------------------------------------------------
    # Jobs

    def _submit(
        self,
        kind: str,
        show: Callable[[object], None],
        fn,
        *args,
        title: str,
        needs_torch: bool = False,
        **kwargs,
    ) -> JobHandle:
        """Run ``fn`` on the engine as this panel's job of ``kind``; ``show(result)`` receives
        its result while the job is still the newest of its kind (:class:`JobTracker`)."""
        handle = self.jobs.submit(
            kind, show, fn, *args, title=title, needs_torch=needs_torch, **kwargs
        )
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        return handle

    def _on_job_progress(self, _kind: str, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 100)
            self.progress_bar.setValue(int(fraction * 100))
        if message:
            self.message_label.setText(message)

    def _on_job_ended(self, _kind: str, how: str) -> None:
        if not self.jobs.is_busy():
            self.progress_bar.hide()
        if _kind == "esm-weights":  # the button offers to resume (or goes, when finished)
            self.predict_tab.set_download_running(False)
        if how == CANCELLED:
            self._notice("Cancelled.")

    def _on_job_failed(self, kind: str, message: str) -> None:
        if kind in ("predict", "esm-weights"):
            self.predict_tab.show_failure(message)
        self._error(message)

    # ------------------------------------------------------------------------------------------
    # Opening

    def open_file(self, path: str | Path) -> JobHandle:
        """Read ``path`` on the engine; the structure is shown when the job finishes."""
        from core.protein.structure import load_for_display

        self._notice(f"Reading {Path(path).name}…")
        return self._submit("load", lambda s: self._opened(self._file_entry(s), s),
                            load_for_display, str(path),
                            title=f"Open {Path(path).name}")  # fmt: skip

    def open_model(self, model: int) -> JobHandle | None:
        """Read model ``model`` (0-based) of the shown structure's file on the engine."""
        from core.protein.structure import load_for_display

        s = self.structure
        if s is None or not s.path:
            return None
        self._notice(f"Reading model {model + 1} of {s.name}…")
        shown = self._shown_entry()
        return self._submit("load",
                            lambda new: self._opened(
                                dict(shown, model=model) if shown else self._file_entry(new), new),
                            load_for_display, s.path,
                            title=f"Open {s.name} model {model + 1}", model=model)  # fmt: skip

    def fetch(self, identifier: str) -> JobHandle | None:
        """Fetch a PDB entry or an AlphaFold model; a gene symbol is looked up first
        (:meth:`lookup_target`)."""
        from core.protein.fetch import fetch_and_read
        from core.targets import looks_like_gene_symbol

        identifier = identifier.strip()
        if not identifier:
            self._error(
                "Enter a PDB id (for example 1HVR), a UniProt accession (P69905) or a gene (FTL)."
            )
            return None
        if looks_like_gene_symbol(identifier):
            return self.lookup_target(identifier)
        self._notice(f"Fetching {identifier}…")
        entry = self._fetched_entry(identifier)
        return self._submit("load", lambda s: self._opened(entry, s), fetch_and_read, identifier,
                            title=f"Fetch {identifier}")  # fmt: skip

    def look_up_gene(self, symbol: str) -> JobHandle:
        """Look gene ``symbol`` up as if typed in Fetch (another area's link: a gene of the
        volcano plot); the chooser opens when the lookup finishes."""
        self.fetch_edit.setText(symbol)
        return self.lookup_target(symbol)

    def lookup_target(self, symbol: str, organism: int = 9606) -> JobHandle:
        """Look gene ``symbol`` up on the engine (UniProt, RCSB, AlphaFold DB); its structures
        are offered in the target chooser when the job finishes."""
        from core.targets import lookup_target, organism_label

        self._notice(f"Looking up {symbol} ({organism_label(organism)})…")
        return self._submit("target", lambda info: self.show_target(info, symbol), lookup_target,
                            symbol, organism, title=f"Look up {symbol}")  # fmt: skip

    def show_target(self, info, symbol: str = "") -> None:
        """Offer ``info``'s (a ``core.targets.TargetInfo``) AlphaFold model and PDB entries;
        the one picked is fetched."""
        from ui.protein.target_chooser import TargetChooser

        # What a structure picked from the chooser is, for the project's campaign summary.
        gene = info.gene or symbol
        for pdb_entry in info.pdb_entries:
            self._target_genes[pdb_entry.id.upper()] = (gene, pdb_entry.title)
        if info.alphafold is not None:
            self._target_genes[info.accession.upper()] = (gene, info.name)
        if self.target_chooser is None:
            self.target_chooser = TargetChooser(self)
            self.target_chooser.open_requested.connect(self.fetch)
            self.target_chooser.lookup_requested.connect(self.lookup_target)
        self.target_chooser.show_target(info, symbol)
        self._notice(
            f"{info.gene}: UniProt {info.accession}, {len(info.pdb_entries)} PDB entries"
            + (", an AlphaFold model" if info.alphafold else "")
            + ". Choose one to open."
        )
        self.target_chooser.show()
        self.target_chooser.raise_()

    def open_demo(self) -> JobHandle:
        """Read the demo complex (PDB 1HVR, HIV-1 protease with XK2) on the engine; it is shown
        centred on the inhibitor when the job finishes."""
        from core.protein.demo import DEMO_PDB_ID, load_demo_complex

        self._notice(f"Reading the demo complex ({DEMO_PDB_ID})…")
        return self._submit("demo", lambda s: self._opened(dict(_DEMO_ENTRY), s, self.show_demo),
                            load_demo_complex, title=f"Open demo {DEMO_PDB_ID}")  # fmt: skip

    def show_demo(self, structure: ProteinStructure) -> None:
        """Show the demo complex with its inhibitor chosen and the view centred on its pocket."""
        from core.protein.demo import demo_ligand

        self.show_structure(structure)
        ligand = demo_ligand(structure)
        if ligand is None:
            return
        self.site_tab.choose_ligand(ligand)
        self._notice(
            f"{structure.name} (PDB, CC0): {structure.n_atoms:,} atoms, centred on "
            f"{ligand.label} in its pocket. Reset view shows the whole protein."
        )

    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open structure", "", FILE_FILTER)
        if path:
            self.open_file(path)

    def _on_save_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save view", "structure.png", "PNG (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            try:
                self.structure_view.save_png(path)
            except OSError as exc:
                self._error(f"Could not save {path}: {exc}")
            else:
                self._notice(f"Saved {path}")

    # ------------------------------------------------------------------------------------------
    # Showing

    def show_structure(self, structure: ProteinStructure | None, color: str | None = None) -> None:
        """Draw ``structure`` with the default layers and fill the strip and the tabs."""
        incoming, self._incoming = self._incoming, None
        self._capture_view()  # the structure shown so far keeps its view in the project
        self._placed = None
        had_molecule = self.has_placed_molecule()
        self.structure_view.set_structure(structure, color)
        self.site_tab.show_structure(structure)
        self.view_tab.show_structure(structure)
        for button in (self.reset_button, self.save_button):
            button.setEnabled(structure is not None)
        if structure is not None:
            self.title_label.setText(structure.name)
            large = (
                "protein" in self.structure_view.scene.layers and structure.n_atoms > _LARGE_ATOMS
            )
            self._notice(
                f"{structure.name}: {structure.n_atoms:,} atoms"
                + (" (large: cartoon and ligands only; pocket sticks off)" if large else "")
            )
        else:
            self.title_label.setText("")
        self._enter(incoming if structure is not None else None)
        self.structure_changed.emit(structure)
        if had_molecule:  # a new structure clears the scene, the placed molecule with it
            self.placed_molecule_changed.emit(False)
        self._on_view_changed()

    def _on_atom_picked(self, atom: int) -> None:
        # Measure mode takes the atom; otherwise the click selects its residue.
        self.atom_picked.emit(atom)
        if not self.site_tab.take_measured_atom(atom):
            residue = int(self.structure.atom_residue[atom])
            self.structure_view.select_residues([residue])
            # A ligand's atom makes it the chosen ligand: the Site tab's links act on it.
            ligand = self.site_tab.ligand_of_residue(residue)
            if ligand is not None:
                self.site_tab.pick_ligand(ligand)

    # ------------------------------------------------------------------------------------------
    # Molecule in context

    def place_molecule(self, mol_or_smiles, name: str = "") -> JobHandle | None:
        """Generate a conformer of ``mol_or_smiles`` on the engine and show it at the site;
        ``name`` names it in the project."""
        from core.protein.context import place_conformer

        centre = self.site_tab.context_centre()
        if centre is None:
            self._error("Choose a ligand or select pocket residues first: the molecule is "
                        "placed at their centroid.")  # fmt: skip
            return None
        self._notice("Generating a 3D conformer of the molecule…")
        smiles = mol_or_smiles if isinstance(mol_or_smiles, str) else ""
        return self._submit("context",
                            lambda mol: self.show_context_molecule(mol, name, smiles),
                            place_conformer, mol_or_smiles, centre,
                            title="Conformer for protein view")  # fmt: skip

    def place_workspace_molecule(self) -> JobHandle | None:
        """Place the Molecule panel's molecule at the site (see :meth:`place_molecule`)."""
        mol = self.context.molecules.current_molecule()
        if mol is None:
            self._error("The Molecule workspace holds no molecule: open one from a library "
                        "(double-click a row) or draw one, then place it here.")  # fmt: skip
            return None
        return self.place_molecule(mol)

    def show_context_molecule(self, mol, name: str = "", smiles: str = "") -> None:
        """Show ``mol`` (a 3D conformer placed at the site) as the molecule in context; the
        project keeps it by ``smiles`` (default: the molecule's), ``name`` and its coordinates."""
        self.structure_view.scene.molecules.add_molecule("context", mol, style="ball_and_stick")
        self.structure_view.redraw()
        self._placed = _placed_record(mol, name, smiles)
        self._notice("Library molecule placed at the site (not docked: translated only).")
        self.placed_molecule_changed.emit(True)
        self._on_view_changed()

    def has_placed_molecule(self) -> bool:
        """Whether a library molecule is placed in the view."""
        return "context" in self.structure_view.scene.molecules.keys()  # noqa: SIM118

    def remove_context_molecule(self) -> None:
        removed = self.structure_view.scene.molecules.remove("context")
        self.structure_view.redraw()
        self._placed = None
        if removed:
            self.placed_molecule_changed.emit(False)
            self._on_view_changed()

    # ------------------------------------------------------------------------------------------
    # The chosen ligand in other areas

    def ligand_molecule(self):
        """The chosen ligand as a ``core.protein.ligand.LigandMolecule``; None (the reason
        shown) when there is none or it cannot be read as a molecule."""
        from core.protein.ligand import SINGLE_ONLY, ligand_molecule

        ligand = self.site_tab.current_ligand()
        if ligand is None:
            self._error("Choose a ligand on the Site tab (or click one of its atoms) first.")
            return None
        if ligand.atoms < 2:
            self._error(f"{ligand.label} is a single atom (an ion), not a molecule to use.")
            return None
        try:
            molecule = ligand_molecule(self.structure, ligand)
        except ValueError as exc:
            self._error(str(exc))
            return None
        if molecule.bond_orders == SINGLE_ONLY:
            self._notice(
                f"{ligand.label}: its bond orders could not be read from the geometry; sent with "
                "single bonds only. Check it in the Molecule panel."
            )
        return molecule

    def site_query(self) -> tuple[str, str] | None:
        """``(smiles, name)`` of the molecule the site holds: the chosen ligand, or, in a
        pocket without one (an apo structure, a predicted model), the molecule placed there.
        None, with the reason shown, when there is neither."""
        structure = self.structure
        if structure is not None and not structure.ligands and self._placed:
            smiles = str(self._placed.get("smiles") or "")
            if smiles:
                name = str(self._placed.get("name") or "placed molecule")
                source = structure.name.split(":")[0].strip()
                return smiles, f"{name} (placed in {source})" if source else name
        if structure is not None and not structure.ligands:
            self._error(
                "This structure has no ligand: place a library molecule in its pocket "
                "(a library row's Place in pocket) to use it as the site's molecule."
            )
            return None
        molecule = self.ligand_molecule()
        if molecule is None:
            return None
        return molecule.smiles, self._ligand_name(molecule)

    def send_ligand_to_molecule_panel(self) -> None:
        """Open the chosen ligand (or the molecule placed in a pocket without one) in the
        Molecule panel (through the window's links)."""
        query = self.site_query()
        if query is None:
            return
        if self.context.links is None:
            self._error("The Molecule panel is not reachable from here.")
            return
        self.context.links.send_to_molecule_panel(*query)

    def find_similar_to_ligand(self) -> None:
        """Search the current library for molecules like the chosen ligand (or the molecule
        placed in a pocket without one): Hit lists, Find."""
        query = self.site_query()
        if query is None:
            return
        if self.context.links is None:
            self._error("No library is reachable from here to search.")
            return
        self.context.links.find_similar_in_library(*query)

    def _ligand_name(self, molecule) -> str:
        """``"XK2 A263 (1HVR)"``: the ligand and the structure it came from."""
        structure = self.structure
        source = structure.name.split(":")[0].strip() if structure is not None else ""
        return f"{molecule.name} ({source})" if source else molecule.name

    # ------------------------------------------------------------------------------------------
    # Prediction

    def predict(self, sequence: str | None = None) -> JobHandle | None:
        """Check the sequence (default: the Predict tab's) and the weights here, then fold on
        the engine (GPU when present); None, with the reason on the tab, when they will not do."""
        from core.protein.prediction import predict_and_parse

        inputs = self.predict_tab.folding_inputs(sequence)
        if inputs is None:
            return None
        n = len(inputs.sequence)
        return self._submit("predict", lambda result: self.show_prediction(*result),
                            predict_and_parse, inputs.sequence, inputs.weights, inputs.chunk,
                            title=f"ESMFold ({n} residues)", needs_torch=True,
                            lane=LONG_LANE)  # fmt: skip

    def predict_online(self, sequence: str | None = None) -> JobHandle | None:
        """Fold on the ESM Atlas web service (at most 400 residues) once the user agreed to send
        the sequence; None when it was refused or not sent. Opens like :meth:`predict`."""
        from core.protein.esm_atlas import fold_online_and_parse

        clean = self.predict_tab.web_inputs(sequence)
        if clean is None:
            return None
        return self._submit("predict", lambda result: self.show_prediction(*result),
                            fold_online_and_parse, clean,
                            title=f"ESM Atlas fold ({len(clean)} residues)")  # fmt: skip

    def download_esm_weights(self) -> JobHandle:
        """Download (or resume) the ESMFold weights into the Hugging Face cache on the engine's
        long lane; the Predict tab's button cancels it meanwhile."""
        from core.protein.esm_weights import download_weights

        self.predict_tab.set_download_running(True)
        return self._submit("esm-weights", self.predict_tab.weights_downloaded, download_weights,
                            title="ESMFold weights", lane=LONG_LANE)  # fmt: skip

    def show_prediction(self, result, structure: ProteinStructure) -> None:
        """Show a finished prediction: the structure coloured by pLDDT, its confidence."""
        from core.protein.esm_atlas import DEVICE_LABEL

        self.prediction = result
        origin = "esmatlas" if result.device == DEVICE_LABEL else "esmfold"
        entry = {"origin": origin, "sequence": result.sequence,
                 "name": f"ESMFold prediction ({len(result.sequence)} residues)"}  # fmt: skip
        area_state.keep_text(entry, result.pdb_text)
        self._incoming = entry
        self.show_structure(structure, color="plddt")
        self.predict_tab.show_result(result)

    # ------------------------------------------------------------------------------------------
    # The project (ui.workbench.KeepsState)

    def _watch_view_changes(self) -> None:
        """Changes worth keeping in the project: styles, colours, layers, the chosen ligand,
        the binding site, the camera after a drag."""
        view, site = self.view_tab, self.site_tab
        for signal in (
            view.protein_style.currentIndexChanged,
            view.ligand_style.currentIndexChanged,
            view.color_combo.currentIndexChanged,
            view.pocket_check.toggled,
            view.water_check.toggled,
            site.ligand_combo.currentIndexChanged,
            site.cutoff_spin.valueChanged,
            site.site_button.clicked,
        ):
            signal.connect(self._on_view_changed)
        style = self.structure_view.interactor.GetInteractorStyle()
        style.AddObserver("EndInteractionEvent", lambda *_args: self._on_view_changed())

    def _on_view_changed(self, *_args) -> None:
        if not self._restoring and self._live:
            self.state_changed.emit()

    def _opened(self, entry: dict[str, Any], structure, show=None) -> None:
        """Show a structure the user opened (``show``: how, default :meth:`show_structure`) as
        the project's ``entry``."""
        self._incoming = entry
        (show or self.show_structure)(structure)

    def _file_entry(self, structure) -> dict[str, Any]:
        from core.project.areas import file_reference

        path = Path(structure.path)
        try:
            reference = file_reference(path)
        except OSError:
            reference = {"path": str(path.resolve())}
        return {"origin": "file", "name": path.name, "file": reference,
                "model": int(structure.model_index)}  # fmt: skip

    def _fetched_entry(self, identifier: str) -> dict[str, Any]:
        from core.protein.fetch import PDB_ID

        code = identifier.strip().upper()
        gene, title = self._target_genes.get(code, ("", ""))
        origin = "rcsb" if PDB_ID.match(code) else "alphafold"
        return {"origin": origin, "id": code, "name": code, "gene": gene, "title": title}

    def _shown_entry(self) -> dict[str, Any] | None:
        if self._live and self._current is not None:
            return self._entries[self._current]
        return None

    def _enter(self, incoming: dict[str, Any] | int | None) -> None:
        """Make ``incoming`` (an entry, or the index of a stored one being restored) the
        structure shown; None: the structure shown is none the project knows how to open."""
        if incoming is None:
            self._current, self._live = None, False
            return
        if isinstance(incoming, int):
            self._current, self._live = incoming, True
            return
        entry = {"model": 0, **incoming}
        key = area_state.entry_key(entry)
        self._entries = [e for e in self._entries if area_state.entry_key(e) != key]
        self._entries.append(entry)
        del self._entries[: max(0, len(self._entries) - area_state.MAX_ENTRIES)]
        self._current, self._live = len(self._entries) - 1, True

    def _capture_view(self) -> None:
        """Copy the view, binding site and placed molecule into the entry shown."""
        entry = self._shown_entry()
        if entry is None or self.structure is None:
            return
        entry["view"] = self._view_state()
        site = self._site_state()
        if site is None:
            entry.pop("site", None)
        else:
            entry["site"] = site
        entry["placed"] = [dict(self._placed)] if self._placed else []

    def _view_state(self) -> dict[str, Any]:
        scene = self.structure_view.scene
        view: dict[str, Any] = {"color": scene.color_scheme}
        for key in ("protein", "ligands"):
            if key in scene.layers:
                view[key] = scene.layers[key].style
        view["pocket"] = self.view_tab.pocket_check.isChecked()
        view["waters"] = self.view_tab.water_check.isChecked()
        camera = scene.renderer.GetActiveCamera()
        view["camera"] = {
            "position": list(camera.GetPosition()),
            "focal_point": list(camera.GetFocalPoint()),
            "view_up": list(camera.GetViewUp()),
            "view_angle": float(camera.GetViewAngle()),
            "parallel_scale": float(camera.GetParallelScale()),
        }
        return view

    def _site_state(self) -> dict[str, Any] | None:
        ligand = self.site_tab.current_ligand()
        residues = [int(r) for r in self.site_tab.site_residues]
        if ligand is None and not residues:
            return None
        site: dict[str, Any] = {"cutoff": float(self.site_tab.cutoff_spin.value()),
                                "residues": residues}  # fmt: skip
        if ligand is not None:
            site["ligand"] = {"name": ligand.name, "chain": ligand.chain, "resnum": ligand.resnum}
        return site

    def area_state(self) -> AreaSnapshot:
        """The structures opened in the project, the one shown with its view (a cheap copy)."""
        self._capture_view()
        entries = copy.deepcopy(self._entries)
        state = {
            "campaign": area_state.campaign_summary(entries),
            "structures": entries,
            "current": self._current,
        }
        return AreaSnapshot(state=state, tables={}, format=1)

    def restore_area_state(self, stored: StoredArea | None) -> list[str]:
        """Put a project's structures back: the one shown is read again from the fetch cache,
        its file or its kept text (never the network) in the engine, then its view, binding
        site and placed molecule are restored. Returns a line per thing that cannot be."""
        self._restoring = True
        try:
            self.jobs.cancel("load")
            self._restore_token = None
            self.show_structure(None)
            self._entries, self._current, self._live = [], None, False
            if stored is None:
                return []
            return self._restore_entries(stored)
        finally:
            self._restoring = False

    def _restore_entries(self, stored: StoredArea) -> list[str]:
        state = stored.state if isinstance(stored.state, Mapping) else {}
        lines: list[str] = []
        raw = state.get("structures", [])
        if not isinstance(raw, list):
            lines.append("the Proteins area's structures could not be read (not a list)")
            raw = []
        current = state.get("current")
        current = current if isinstance(current, int) and not isinstance(current, bool) else None
        if current is not None and not 0 <= current < len(raw):
            current = None
        for index, item in enumerate(raw[-area_state.MAX_ENTRIES :]):
            index += max(0, len(raw) - area_state.MAX_ENTRIES)
            entry, problem = area_state.clean_entry(item)
            if entry is None:
                lines.append(str(problem))
                continue
            if index == current:
                self._current = len(self._entries)
            self._entries.append(entry)
        if self._current is None:
            return lines
        entry = self._entries[self._current]
        kind, what, more = area_state.local_source(entry)
        lines.extend(more)
        if entry["origin"] in ("esmfold", "esmatlas") and entry.get("sequence"):
            self.predict_tab.sequence_edit.setPlainText(entry["sequence"])
        if not kind:
            self._notice("; ".join(more))
            return lines
        from core.protein.structure import load_for_display

        token = self._restore_token = object()
        index = self._current
        show = lambda s: self._on_restored(token, index, s)  # noqa: E731
        name = entry.get("name", "structure")
        self._notice(f"Reading {name} as the project left it…")
        if kind == "text":
            self._submit("load", show, _structure_from_text, what, f"{name}.pdb",
                         title=f"Open {name}")  # fmt: skip
        else:
            self._submit("load", show, load_for_display, str(what), model=entry.get("model", 0),
                         title=f"Open {name}")  # fmt: skip
        return lines

    def _on_restored(self, token: object, index: int, structure) -> None:
        """A project's structure was read back: show it as it was left."""
        if token is not self._restore_token or self._current != index or self._live:
            return  # another structure was opened since
        from core.protein import colors

        entry = self._entries[index]
        view = entry.get("view", {})
        if entry["origin"] == "demo":
            from core.protein.demo import DEMO_TITLE

            structure.name = DEMO_TITLE
        color = view.get("color")
        self._restoring = True
        try:
            self._incoming = index
            self.show_structure(structure, color if color in colors.SCHEMES else None)
            problems = self._apply_entry_view(entry, structure)
        finally:
            self._restoring = False
        if entry["origin"] in ("esmfold", "esmatlas"):
            self._show_restored_prediction(entry)
        if entry["origin"] == "file":  # the file as it is now is the one shown
            self._entries[index]["file"] = self._file_entry(structure)["file"]
        message = f"{entry.get('name', structure.name)}: as the project left it."
        self._notice(" ".join([message, *problems]))

    def _apply_entry_view(self, entry: dict[str, Any], structure) -> list[str]:
        view, scene = entry.get("view", {}), self.structure_view.scene
        problems: list[str] = []
        for layer in ("protein", "ligands"):
            style = view.get(layer)
            if style and layer in scene.layers and scene.layers[layer].style != style:
                try:
                    self.view_tab.set_style(style, layer)
                except ValueError:
                    pass  # a style this version does not draw: the default stays
        for key, check in (("pocket", self.view_tab.pocket_check),
                           ("waters", self.view_tab.water_check)):  # fmt: skip
            if key in view and check.isEnabled():
                check.setChecked(view[key])
        site = entry.get("site") or {}
        wanted = site.get("ligand")
        ligand = None
        if wanted:
            ligand = next((lig for lig in structure.ligands
                           if (lig.name, lig.chain, lig.resnum)
                           == (wanted["name"], wanted["chain"], wanted["resnum"])), None)  # fmt: skip
            if ligand is None:
                problems.append(
                    f"The ligand {wanted['name']} {wanted['chain']}{wanted['resnum']} of its "
                    "binding site is not in the structure now."
                )
            else:
                self.site_tab.pick_ligand(ligand)
        if "cutoff" in site:
            self.site_tab.cutoff_spin.setValue(site["cutoff"])
        residues = [r for r in site.get("residues", []) if 0 <= r < structure.n_residues]
        if residues and ligand is not None:
            self.site_tab.select_binding_site()
        elif residues:
            self.structure_view.select_residues(residues)
        for placed in entry.get("placed", [])[:1]:
            self._restore_placed(placed)
        camera = view.get("camera")
        if camera:
            self._set_camera(camera)
        self.structure_view.redraw()
        return problems

    def _restore_placed(self, placed: dict[str, Any]) -> None:
        from rdkit import Chem, RDLogger

        mol = None
        if placed.get("molblock"):
            RDLogger.DisableLog("rdApp.*")
            try:
                mol = Chem.MolFromMolBlock(placed["molblock"], removeHs=False)
            finally:
                RDLogger.EnableLog("rdApp.*")
        if mol is not None and mol.GetNumConformers():
            self.show_context_molecule(mol, placed.get("name", ""), placed["smiles"])
            self._placed = dict(placed)  # as stored: its centre is the one it was placed at
        elif self.site_tab.context_centre() is not None:  # made again at the site
            self.place_molecule(placed["smiles"], placed.get("name", ""))

    def _set_camera(self, camera: dict[str, Any]) -> None:
        renderer = self.structure_view.scene.renderer
        active = renderer.GetActiveCamera()
        active.SetPosition(*camera["position"])
        active.SetFocalPoint(*camera["focal_point"])
        active.SetViewUp(*camera["view_up"])
        if camera.get("view_angle") and 0 < camera["view_angle"] < 180:
            active.SetViewAngle(camera["view_angle"])
        if camera.get("parallel_scale") and camera["parallel_scale"] > 0:
            active.SetParallelScale(camera["parallel_scale"])
        renderer.ResetCameraClippingRange()

    def _show_restored_prediction(self, entry: dict[str, Any]) -> None:
        """The Predict tab's confidence line for a prediction read back (no PAE is kept)."""
        from core.protein.esm_atlas import DEVICE_LABEL, plddt_per_residue
        from core.protein.prediction import PredictionResult

        text = entry.get("pdb_text", "")
        try:
            plddt = plddt_per_residue(text)
        except ValueError:
            return
        device = DEVICE_LABEL if entry["origin"] == "esmatlas" else "the saved project"
        result = PredictionResult(sequence=entry.get("sequence", ""), pdb_text=text,
                                  plddt=plddt, pae=None, ptm=None, device=device)  # fmt: skip
        self.prediction = result
        self.predict_tab.show_result(result)


def _placed_record(mol, name: str, smiles: str) -> dict[str, Any]:
    """What the project keeps of a molecule placed at the site: its SMILES, name, centre and
    3D coordinates (a molblock, so that it comes back where it was)."""
    from rdkit import Chem

    if not smiles:
        try:
            smiles = Chem.MolToSmiles(Chem.RemoveHs(mol))
        except (ValueError, RuntimeError):
            smiles = Chem.MolToSmiles(mol)
    positions = mol.GetConformer().GetPositions()
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1] or list(
        range(mol.GetNumAtoms())
    )
    centre = positions[heavy].mean(axis=0) if len(positions) else [0.0, 0.0, 0.0]
    return {
        "smiles": smiles,
        "name": name,
        "centre": [float(c) for c in centre],
        "molblock": Chem.MolToMolBlock(mol),
    }


def _structure_from_text(text: str, name: str, *, progress=None, is_cancelled=None):
    """A job: a predicted structure's kept PDB text, read and prepared for display."""
    from core.protein.structure import parse_structure, prepare_for_display

    if progress:
        progress(-1, f"Reading {name}")
    return prepare_for_display(parse_structure(text, name=name))
