"""The Proteins area: open, fetch or predict a structure, look at it, and find its binding site.

Layout: a toolbar (open, demo, fetch, reset, save PNG), the VTK view with a sequence strip under
it, and tabs on the right: *View* (styles and colours per selection, legend), *Site* (ligands,
binding-site residues, measuring, a library molecule placed in the pocket) and *Predict*
(ESMFold: sequence, weights, chunk size, pLDDT and the PAE plot).

Reading, fetching, folding and conformer generation run as engine jobs (``core.protein`` and
``core.chem``); this widget keeps their handles, draws what they bring, and routes clicks.
Clicking an atom in the view, or a residue in the strip, selects that residue in both.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.jobs import LONG_LANE
from core.protein import colors as protein_colors
from ui.protein.scene import STYLES, ProteinScene, tune_for_software_rendering
from ui.protein.sequence_strip import SequenceStrip
from ui.vtk_support import create_interactor, save_render_window_png
from ui.widgets.elided_label import ElidedLabel

if TYPE_CHECKING:
    from core.protein.structure import ProteinStructure
    from ui.jobs.handle import JobHandle

FILE_FILTER = "Structures (*.pdb *.ent *.cif *.mmcif *.pdb.gz *.ent.gz *.cif.gz);;All files (*)"
_ERROR_STYLE = "color: #8a1c12;"
MAX_LISTED = 10  # chains named in the legend and the info line
_CLICK_SLOP = 4  # pixels a press may move and still count as a click
_SS_SOURCES = {"file": "from the file", "computed": "computed from the CA trace", "none": "none"}


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class ProteinPanel(QWidget):
    """The protein structure viewer and ESMFold front end."""

    structure_changed = Signal(object)  # ProteinStructure or None
    selection_changed = Signal(list)  # residue indices
    atom_picked = Signal(int)  # atom index
    status_message = Signal(str)
    # True while a library molecule is placed in the view: the window shows the Molecule panel
    # beside the protein only then (the 3D view gets the width otherwise).
    placed_molecule_changed = Signal(bool)

    def __init__(self, engine, window=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.window_ = window
        self.structure: ProteinStructure | None = None
        self.prediction = None
        # The running job of each kind ("load", "demo", "predict", "context"); a newer job of a
        # kind supersedes the older one.
        self._jobs: dict[str, JobHandle] = {}
        self._finalized = False
        self._tuned = False
        self._extra_layers = 0
        self._measure_atoms: list[int] = []
        self._press_position: tuple[int, int] | None = None
        self.site_residues: list[int] = []

        self.scene = ProteinScene()
        self.interactor = create_interactor(self)
        self.interactor.setMinimumSize(320, 240)
        self.interactor.GetRenderWindow().AddRenderer(self.scene.renderer)
        # The trackball style grabs the interactor's focus between press and release, so the
        # release is seen as the style's end of interaction.
        self.interactor.AddObserver("LeftButtonPressEvent", self._on_vtk_press, 1.0)
        style = self.interactor.GetInteractorStyle()
        style.AddObserver("EndInteractionEvent", self._on_vtk_release)
        # Level of detail: large structures rotate as a CA trace, redrawn in full once the
        # mouse rests (debounced, so that wheel zooming does not redraw in full per step).
        style.AddObserver("StartInteractionEvent", self._on_interaction_started)
        style.AddObserver("EndInteractionEvent", self._on_interaction_ended)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(250)
        self._settle_timer.timeout.connect(self._on_interaction_settled)

        from vtkmodules.vtkRenderingCore import vtkTextActor

        self.empty_text = vtkTextActor()
        self.empty_text.SetInput("Open a PDB or mmCIF file, fetch a PDB id or UniProt accession,\n"
                                 "predict a structure from its sequence, or open the demo.")  # fmt: skip
        self.empty_text.GetTextProperty().SetFontSize(18)
        self.empty_text.GetTextProperty().SetColor(0.35, 0.38, 0.45)
        self.empty_text.GetTextProperty().SetJustificationToCentered()
        self.empty_text.GetTextProperty().SetVerticalJustificationToCentered()
        self.empty_text.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.empty_text.SetPosition(0.5, 0.5)
        self.scene.renderer.AddViewProp(self.empty_text)

        self.strip = SequenceStrip()
        self.strip.residue_clicked.connect(self._on_strip_clicked)
        strip_scroll = QScrollArea()
        strip_scroll.setWidget(self.strip)
        strip_scroll.setWidgetResizable(False)
        strip_scroll.setMaximumHeight(110)
        strip_scroll.setMinimumHeight(60)
        self.strip_scroll = strip_scroll

        self._build_toolbar()
        tabs = QTabWidget()
        for page, title in ((self._build_view_tab(), "View"), (self._build_site_tab(), "Site"),
                            (self._build_predict_tab(), "Predict")):  # fmt: skip
            scroll = QScrollArea()  # a long legend or chain list never stretches the window
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            tabs.addTab(scroll, title)
        tabs.setMinimumWidth(280)
        self.tabs = tabs

        viewer = QWidget()
        viewer_layout = QVBoxLayout(viewer)
        viewer_layout.setContentsMargins(0, 0, 0, 0)
        viewer_layout.addWidget(self.interactor, 1)
        viewer_layout.addWidget(strip_scroll)
        # The 3D view takes the width: the tabs keep their size when the window grows.
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(viewer)
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
        layout.addLayout(self.toolbar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.message_label)

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close_view)
        self.interactor.Initialize()
        self._update_enabled()

    # ------------------------------------------------------------------------------------------
    # Building

    def _build_toolbar(self) -> None:
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
        self.fetch_edit.setPlaceholderText("PDB id or UniProt accession")
        self.fetch_edit.setToolTip(
            "A PDB id (for example 1HVR, from RCSB) or a UniProt accession (for example P69905, "
            "from AlphaFold DB); press Enter to fetch"
        )
        self.fetch_edit.setMinimumWidth(200)
        self.fetch_edit.returnPressed.connect(self._on_fetch_clicked)
        self.fetch_button = QPushButton("Fetch")
        self.fetch_button.setToolTip("Download from RCSB (PDB id) or AlphaFold DB (UniProt)")
        self.fetch_button.clicked.connect(self._on_fetch_clicked)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.clicked.connect(self.reset_view)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.title_label = ElidedLabel("", mode="right", minimum_chars=10)
        self.title_label.setStyleSheet("font-weight: bold;")
        bar = QHBoxLayout()
        for widget in (self.open_button, self.demo_button, self.fetch_edit, self.fetch_button):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.title_label, 1)
        bar.addWidget(self.reset_button)
        bar.addWidget(self.save_button)
        self.toolbar = bar

    def _build_view_tab(self) -> QWidget:
        self.protein_style = QComboBox()
        for key in ("cartoon", "lines", "sticks", "ball_and_stick", "spheres", "surface"):
            self.protein_style.addItem(STYLES[key], key)
        self.protein_style.currentIndexChanged.connect(
            lambda: self._set_layer_style("protein", self.protein_style.currentData())
        )
        self.color_combo = QComboBox()
        for key, label in protein_colors.SCHEMES.items():
            self.color_combo.addItem(label, key)
        self.color_combo.currentIndexChanged.connect(self._on_color_changed)
        self.ligand_style = QComboBox()
        for key in ("sticks", "ball_and_stick", "spheres", "lines"):
            self.ligand_style.addItem(STYLES[key], key)
        self.ligand_style.currentIndexChanged.connect(
            lambda: self._set_layer_style("ligands", self.ligand_style.currentData())
        )
        self.pocket_check = QCheckBox("Pocket residues as sticks")
        self.pocket_check.setChecked(True)
        self.pocket_check.toggled.connect(lambda on: self._set_layer_visible("pocket", on))
        self.model_spin = QSpinBox()
        self.model_spin.setMinimum(1)
        self.model_spin.setToolTip("Which model of a multi-model file (NMR ensemble) to show")
        self.model_spin.valueChanged.connect(self._on_model_changed)
        self.selection_style = QComboBox()
        for key in ("sticks", "ball_and_stick", "spheres", "lines", "surface", "cartoon"):
            self.selection_style.addItem(STYLES[key], key)
        self.selection_button = QPushButton("Draw selection")
        self.selection_button.setToolTip(
            "Draw the selected residues in this style as well (a layer of its own)"
        )
        self.selection_button.clicked.connect(lambda: self.draw_selection_as())
        self.clear_layers_button = QPushButton("Remove layers")
        self.clear_layers_button.setToolTip("Remove the layers drawn from selections")
        self.clear_layers_button.clicked.connect(self.remove_selection_layers)
        self.water_check = QCheckBox("Waters")
        self.water_check.toggled.connect(lambda on: self._set_layer_visible("waters", on))
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        for combo in (self.protein_style, self.color_combo, self.ligand_style,
                      self.selection_style):  # fmt: skip
            # The tabs stay narrow (the 3D view gets the width): combos do not ask for their
            # longest item's width.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        form = QFormLayout()
        form.addRow("Protein:", self.protein_style)
        form.addRow("Colour:", self.color_combo)
        form.addRow("Ligands:", self.ligand_style)
        form.addRow("Model:", self.model_spin)
        form.addRow("Selection:", self.selection_style)
        self.view_form = form
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(self.pocket_check)
        layout.addWidget(self.water_check)
        selection_row = QHBoxLayout()
        selection_row.addWidget(self.selection_button)
        selection_row.addWidget(self.clear_layers_button)
        layout.addLayout(selection_row)
        layout.addWidget(self.legend)
        layout.addWidget(self.info_label)
        hint = QLabel(
            "Drag: rotate · wheel: zoom · Shift+drag or middle drag: pan · click an atom: "
            "select its residue"
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        layout.addWidget(hint)
        layout.addStretch(1)
        return tab

    def _build_site_tab(self) -> QWidget:
        self.ligand_combo = QComboBox()
        self.centre_button = QPushButton("Centre")
        self.centre_button.setToolTip("Centre the view on the chosen ligand")
        self.centre_button.clicked.connect(self.centre_on_ligand)
        self.cutoff_spin = QDoubleSpinBox()
        self.cutoff_spin.setRange(1.0, 15.0)
        self.cutoff_spin.setSingleStep(0.5)
        self.cutoff_spin.setValue(5.0)
        self.cutoff_spin.setSuffix(" Å")
        self.site_button = QPushButton("Select binding site")
        self.site_button.setToolTip("Select the residues with an atom within this distance")
        self.site_button.clicked.connect(self.select_binding_site)
        self.site_list = QListWidget()
        self.site_list.itemClicked.connect(self._on_site_item_clicked)
        self.site_label = QLabel("")
        self.measure_button = QPushButton("Measure distance")
        self.measure_button.setCheckable(True)
        self.measure_button.setToolTip("Then click two atoms in the view")
        self.measure_button.toggled.connect(self._on_measure_toggled)
        self.clear_measure_button = QPushButton("Clear")
        self.clear_measure_button.clicked.connect(self.clear_measurements)
        self.measure_label = QLabel("")
        self.place_button = QPushButton("Place library molecule")
        self.place_button.setToolTip(
            "Show the Molecule workspace's molecule as a 3D conformer at the chosen ligand's "
            "centroid (or the binding site's). Not docking: it is only placed there."
        )
        self.place_button.clicked.connect(self.place_workspace_molecule)
        self.remove_context_button = QPushButton("Remove")
        self.remove_context_button.clicked.connect(self.remove_context_molecule)

        ligand_row = QHBoxLayout()
        ligand_row.addWidget(self.ligand_combo, 1)
        ligand_row.addWidget(self.centre_button)
        site_row = QHBoxLayout()
        site_row.addWidget(QLabel("Within"))
        site_row.addWidget(self.cutoff_spin)
        site_row.addWidget(self.site_button, 1)
        measure_row = QHBoxLayout()
        measure_row.addWidget(self.measure_button, 1)
        measure_row.addWidget(self.clear_measure_button)
        place_row = QHBoxLayout()
        place_row.addWidget(self.place_button, 1)
        place_row.addWidget(self.remove_context_button)

        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(QLabel("Ligand:"))
        layout.addLayout(ligand_row)
        layout.addLayout(site_row)
        layout.addWidget(self.site_label)
        layout.addWidget(self.site_list, 1)
        group = QGroupBox("Measure")
        group_layout = QVBoxLayout(group)
        group_layout.addLayout(measure_row)
        group_layout.addWidget(self.measure_label)
        layout.addWidget(group)
        context = QGroupBox("Molecule in context")
        context_layout = QVBoxLayout(context)
        context_layout.addLayout(place_row)
        layout.addWidget(context)
        return tab

    def _build_predict_tab(self) -> QWidget:
        self.sequence_edit = QPlainTextEdit()
        self.sequence_edit.setPlaceholderText("Protein sequence (one-letter codes or FASTA)")
        self.sequence_edit.setMaximumHeight(110)
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("Hugging Face cache (facebook/esmfold_v1)")
        self.weights_button = QPushButton("Weights folder…")
        self.weights_button.clicked.connect(self._on_weights_clicked)
        self.chunk_spin = QSpinBox()
        self.chunk_spin.setRange(0, 1024)
        self.chunk_spin.setSpecialValueText("off")
        self.chunk_spin.setValue(64)
        self.chunk_spin.setToolTip(
            "Axial-attention chunk size: smaller uses less memory on long sequences (slower); "
            "off computes in one piece"
        )
        self.predict_button = QPushButton("Predict structure")
        self.predict_button.clicked.connect(self._on_predict_clicked)
        self.predict_label = QLabel(
            "Weights: leave the folder empty to use the Hugging Face cache (facebook/esmfold_v1), "
            "or choose a folder. DrugDesk never downloads them."
        )
        self.predict_label.setWordWrap(True)
        self.predict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pae_host = QWidget()
        self.pae_host.setMinimumHeight(220)
        self.pae_layout = QVBoxLayout(self.pae_host)
        self.pae_layout.setContentsMargins(0, 0, 0, 0)
        self.pae_plot = None

        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights_edit, 1)
        weights_row.addWidget(self.weights_button)
        form = QFormLayout()
        form.addRow("Chunk size:", self.chunk_spin)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(QLabel("Sequence:"))
        layout.addWidget(self.sequence_edit)
        layout.addWidget(QLabel("ESMFold weights:"))
        layout.addLayout(weights_row)
        layout.addLayout(form)
        layout.addWidget(self.predict_button)
        layout.addWidget(self.predict_label)
        layout.addWidget(self.pae_host, 1)
        return tab

    # ------------------------------------------------------------------------------------------
    # Life cycle

    def render_window(self):
        return self.interactor.GetRenderWindow()

    def close_view(self) -> None:
        """Release the VTK render window; call before the widget is destroyed. Idempotent."""
        if self._finalized:
            return
        self._finalized = True
        self._settle_timer.stop()
        for handle in list(self._jobs.values()):
            handle.cancel()
        self.interactor.hide()
        self.interactor.Finalize()

    def _render(self) -> None:
        if self._finalized:
            return
        window = self.interactor.GetRenderWindow()
        window.Render()
        if not self._tuned and self.interactor.isVisible():
            self._tuned = True
            if tune_for_software_rendering(window, self.scene.renderer):
                window.Render()

    def _update_enabled(self) -> None:
        loaded = self.structure is not None
        has_ligands = loaded and bool(self.structure.ligands)
        for widget in (self.reset_button, self.save_button, self.protein_style, self.color_combo,
                       self.measure_button, self.clear_measure_button, self.selection_style,
                       self.selection_button, self.clear_layers_button):  # fmt: skip
            widget.setEnabled(loaded)
        for widget in (self.ligand_combo, self.centre_button, self.ligand_style):
            widget.setEnabled(has_ligands)
        self.site_button.setEnabled(has_ligands)
        self.model_spin.setEnabled(
            loaded and self.structure.n_models > 1 and bool(self.structure.path)
        )
        self.place_button.setEnabled(loaded)

    def _error(self, message: str) -> None:
        self.message_label.setStyleSheet(_ERROR_STYLE)
        self.message_label.setText(message)
        self.message_label.setToolTip(message)
        if self.window_ is not None and hasattr(self.window_, "show_error"):
            self.window_.show_error(message)

    def _notice(self, message: str) -> None:
        self.message_label.setStyleSheet("")
        self.message_label.setText(message)
        self.message_label.setToolTip(message)

    def _status(self, message: str) -> None:
        self.status_message.emit(message)
        if self.window_ is not None and hasattr(self.window_, "statusBar"):
            self.window_.statusBar().showMessage(message, 10_000)

    # ------------------------------------------------------------------------------------------
    # Opening

    def _submit(
        self, kind: str, on_finished, fn, *args, title: str, needs_torch: bool = False, **kwargs
    ) -> JobHandle:
        """Run ``fn`` on the engine as this panel's job of ``kind``; ``on_finished(result)``
        receives its result while the job is still the current one of its kind.

        The engine cancels an older job of the kind (same key); it is forgotten here first, so
        its cancellation says nothing and a result it still brings is dropped.
        """
        self._jobs.pop(kind, None)
        handle = self.engine.submit(fn, *args, title=title, key=f"protein-{kind}",
                                    needs_torch=needs_torch, **kwargs)  # fmt: skip
        self._jobs[kind] = handle
        # Bound methods: Qt drops these connections if the panel goes before the job ends.
        handle.progress.connect(self._on_job_progress)
        handle.finished.connect(on_finished)
        handle.failed.connect(self._on_job_failed)
        handle.cancelled.connect(self._on_job_cancelled)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        return handle

    def open_file(self, path: str | Path) -> JobHandle:
        """Read ``path`` on the engine; the structure is shown when the job finishes."""
        from core.protein.structure import load_for_display

        self._notice(f"Reading {Path(path).name}…")
        return self._submit("load", self._on_load_finished, load_for_display, str(path),
                            title=f"Open {Path(path).name}")  # fmt: skip

    def fetch(self, identifier: str) -> JobHandle | None:
        from core.protein.fetch import fetch_and_read

        identifier = identifier.strip()
        if not identifier:
            self._error("Enter a PDB id (for example 1HVR) or a UniProt accession (P69905).")
            return None
        self._notice(f"Fetching {identifier}…")
        return self._submit("load", self._on_load_finished, fetch_and_read, identifier,
                            title=f"Fetch {identifier}")  # fmt: skip

    def open_demo(self) -> JobHandle:
        """Read the demo complex (PDB 1HVR, HIV-1 protease with XK2) on the engine; it is shown
        centred on the inhibitor when the job finishes."""
        from core.protein.demo import DEMO_PDB_ID, load_demo_complex

        self._notice(f"Reading the demo complex ({DEMO_PDB_ID})…")
        return self._submit("demo", self._on_demo_finished, load_demo_complex,
                            title=f"Open demo {DEMO_PDB_ID}")  # fmt: skip

    def show_demo(self, structure: ProteinStructure) -> None:
        """Show the demo complex with its inhibitor chosen and the view centred on its pocket."""
        from core.protein.demo import demo_ligand

        self.show_structure(structure)
        ligand = demo_ligand(structure)
        if ligand is None:
            return
        self.ligand_combo.setCurrentIndex(structure.ligands.index(ligand))
        self.scene.centre_on([ligand.residue])
        self._render()
        self._notice(
            f"{structure.name} (PDB, CC0): {structure.n_atoms:,} atoms, centred on "
            f"{ligand.label} in its pocket. Reset view shows the whole protein."
        )

    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open structure", "", FILE_FILTER)
        if path:
            self.open_file(path)

    def _on_fetch_clicked(self) -> None:
        self.fetch(self.fetch_edit.text())

    # ------------------------------------------------------------------------------------------
    # Showing

    def show_structure(self, structure: ProteinStructure | None, color: str | None = None) -> None:
        """Draw ``structure`` with the default layers and fill the strip and lists."""
        had_molecule = self.has_placed_molecule()
        self.structure = structure
        self._measure_atoms = []
        self.site_residues = []
        self.site_list.clear()
        self.site_label.setText("")
        self.measure_label.setText("")
        self.scene.set_structure(structure, color)
        self.empty_text.SetVisibility(structure is None)
        self.strip.set_structure(structure)
        self.ligand_combo.clear()
        if structure is not None:
            for index, ligand in enumerate(structure.ligands):
                self.ligand_combo.addItem(f"{ligand.label} ({ligand.atoms} atoms)", index)
            largest = max(range(len(structure.ligands)),
                          key=lambda i: structure.ligands[i].atoms, default=None)  # fmt: skip
            if largest is not None:
                self.ligand_combo.setCurrentIndex(largest)
            self._sync_controls()
            self.title_label.setText(structure.name)
            info = structure.info()
            listed = info["chains"][:MAX_LISTED]
            chains = ", ".join(f"{c['id']} ({c['residues']})" for c in listed)
            if len(info["chains"]) > MAX_LISTED:
                chains += f" and {len(info['chains']) - MAX_LISTED} more"
            self.info_label.setText(
                f"{structure.n_atoms:,} atoms · {len(info['chains'])} chains: {chains}<br>"
                f"{_count(len(structure.ligands), 'ligand')} · "
                f"{_count(structure.n_waters, 'water')} · "
                f"{_count(structure.n_models, 'model')} · secondary structure: "
                f"{_SS_SOURCES.get(structure.ss_source, structure.ss_source)}"
            )
            large = "protein" in self.scene.layers and structure.n_atoms > 30_000
            self._notice(
                f"{structure.name}: {structure.n_atoms:,} atoms"
                + (" (large: cartoon and ligands only; pocket sticks off)" if large else "")
            )
        else:
            self.title_label.setText("")
            self.info_label.setText("")
        self._update_legend()
        self._update_enabled()
        self.scene.reset_camera()
        self._render()
        self.structure_changed.emit(structure)
        if had_molecule:  # a new structure clears the scene, the placed molecule with it
            self.placed_molecule_changed.emit(False)

    def _on_model_changed(self, value: int) -> None:
        s = self.structure
        if s is None or not s.path or value - 1 == s.model_index:
            return
        from core.protein.structure import load_for_display

        self._notice(f"Reading model {value} of {s.name}…")
        self._submit("load", self._on_load_finished, load_for_display, s.path,
                     title=f"Open {s.name} model {value}", model=value - 1)  # fmt: skip

    def _sync_controls(self) -> None:
        s = self.structure
        self.model_spin.blockSignals(True)
        self.model_spin.setMaximum(max(1, s.n_models))
        self.model_spin.setValue(s.model_index + 1)
        self.model_spin.setEnabled(s.n_models > 1 and bool(s.path))
        self.model_spin.setSuffix(f" of {s.n_models}")
        self.model_spin.blockSignals(False)
        layers = self.scene.layers
        for combo, key in ((self.protein_style, "protein"), (self.ligand_style, "ligands")):
            if key in layers:
                combo.blockSignals(True)
                combo.setCurrentIndex(max(0, combo.findData(layers[key].style)))
                combo.blockSignals(False)
        self.color_combo.blockSignals(True)
        self.color_combo.setCurrentIndex(max(0, self.color_combo.findData(self.scene.color_scheme)))
        self.color_combo.blockSignals(False)
        self.pocket_check.blockSignals(True)
        self.pocket_check.setChecked("pocket" in layers)
        self.pocket_check.blockSignals(False)
        self.water_check.blockSignals(True)
        self.water_check.setChecked(False)
        self.water_check.setEnabled("waters" in layers)
        self.water_check.blockSignals(False)

    def _update_legend(self) -> None:
        if self.structure is None:
            self.legend.setText("")
            return
        entries = protein_colors.legend(self.scene.color_scheme, self.structure)
        hidden = max(0, len(entries) - MAX_LISTED)
        entries = entries[:MAX_LISTED]
        parts = []
        for text, rgb in entries:
            hex_colour = "#{:02x}{:02x}{:02x}".format(*tuple(int(255 * c) for c in rgb))
            parts.append(f"<span style='color:{hex_colour}; font-size:14pt'>■</span> {text}")
        if hidden:
            parts.append(f"… and {hidden} more")
        self.legend.setText("<br>".join(parts))

    def set_style(self, style: str, layer: str = "protein") -> None:
        combo = self.protein_style if layer == "protein" else self.ligand_style
        index = combo.findData(style)
        if index < 0:
            raise ValueError(f"Unknown style {style!r} for {layer}.")
        if combo.currentIndex() == index:
            self._set_layer_style(layer, style)
        combo.setCurrentIndex(index)

    def set_color(self, scheme: str) -> None:
        index = self.color_combo.findData(scheme)
        if index < 0:
            raise ValueError(f"Unknown colour scheme {scheme!r}.")
        if self.color_combo.currentIndex() == index:
            self._on_color_changed()
        self.color_combo.setCurrentIndex(index)

    def _set_layer_style(self, key: str, style: str) -> None:
        if self.structure is None or key not in self.scene.layers:
            return
        self.scene.set_layer_style(key, style)
        self.scene.set_selection(self.scene.selected_residues)
        self._render()

    def draw_selection_as(self, style: str | None = None) -> str | None:
        """Add a layer drawing the selected residues in ``style`` (default: the combo's);
        returns its key."""
        from ui.protein.scene import Layer

        residues = self.scene.selected_residues
        if self.structure is None or not residues:
            self._error("Select residues first (click atoms, the sequence strip or the site list).")
            return None
        style = style or self.selection_style.currentData()
        atoms = np.concatenate([self.structure.residue_atoms(r) for r in residues])
        self._extra_layers += 1
        key = f"selection {self._extra_layers}"
        self.scene.add_layer(Layer(key, atoms, style, self.scene.color_scheme))
        self.scene.set_selection([])
        self.strip.set_selection([])
        self._render()
        self._notice(f"{len(residues)} residues drawn as {STYLES[style].lower()} ({key}).")
        return key

    def remove_selection_layers(self) -> None:
        for key in [k for k in self.scene.layers if k.startswith("selection ")]:
            self.scene.remove_layer(key)
        self._render()

    def _set_layer_visible(self, key: str, visible: bool) -> None:
        if key in self.scene.layers:
            self.scene.set_layer_visible(key, visible)
            self._render()

    def _on_color_changed(self) -> None:
        if self.structure is None:
            return
        self.scene.set_color_scheme(self.color_combo.currentData())
        self._update_legend()
        self._render()

    def reset_view(self) -> None:
        self.scene.reset_camera()
        self._render()

    def save_png(self, path: str | Path) -> Path:
        self._render()
        return save_render_window_png(self.render_window(), path)

    def _on_save_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save view", "structure.png", "PNG (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            try:
                self.save_png(path)
            except OSError as exc:
                self._error(f"Could not save {path}: {exc}")
            else:
                self._notice(f"Saved {path}")

    # ------------------------------------------------------------------------------------------
    # Selection and picking

    def select_residues(self, residues: list[int], centre: bool = False) -> None:
        """Select ``residues`` in the 3D view and the sequence strip."""
        residues = sorted({int(r) for r in residues})
        self.scene.set_selection(residues)
        self.strip.set_selection(residues)
        if residues:
            rect = self.strip.residue_rect(residues[0])
            if rect is not None:
                self.strip_scroll.ensureVisible(rect.center().x(), rect.center().y(), 60, 10)
        if centre:
            self.scene.centre_on(residues)
        self._render()
        self.selection_changed.emit(residues)

    def selected_residues(self) -> list[int]:
        return list(self.scene.selected_residues)

    def _on_strip_clicked(self, residue: int, add: bool) -> None:
        # Shift-click toggles the residue in the selection; a plain click selects it alone.
        current = set(self.scene.selected_residues) ^ {residue} if add else {residue}
        self.select_residues(sorted(current))
        if self.structure is not None:
            self._status(self.structure.residue_label(residue))

    def click_at(self, x: float, y: float) -> int | None:
        """Handle a click at VTK display position ``(x, y)``: pick, select, report, measure."""
        atom = self.scene.pick(x, y)
        if atom is None or self.structure is None:
            return None
        label = self.structure.atom_label(atom)
        self._status(label)
        self.atom_picked.emit(atom)
        if self.measure_button.isChecked():
            self._measure_atoms.append(atom)
            if len(self._measure_atoms) == 2:
                a, b = self._measure_atoms
                distance = self.scene.add_distance(a, b)
                self.measure_label.setText(
                    f"{self.structure.atom_label(a).split(' · B')[0]} ↔ "
                    f"{self.structure.atom_label(b).split(' · B')[0]}: {distance:.2f} Å"
                )
                self._measure_atoms = []
                self._render()
            else:
                self.measure_label.setText("Click a second atom")
            return atom
        self.select_residues([int(self.structure.atom_residue[atom])])
        return atom

    def _on_vtk_press(self, obj, _event) -> None:
        self._press_position = obj.GetEventPosition()

    def _on_vtk_release(self, _obj, _event) -> None:
        if self._press_position is None:
            return
        x, y = self.interactor.GetEventPosition()
        px, py = self._press_position
        self._press_position = None
        if abs(x - px) <= _CLICK_SLOP and abs(y - py) <= _CLICK_SLOP:
            # Qt's logical pixels vs the render window's device pixels are handled by VTK's
            # interactor; pick after the style has finished with the event.
            QTimer.singleShot(0, lambda: self.click_at(x, y))

    def _on_interaction_started(self, _obj, _event) -> None:
        self._settle_timer.stop()
        self.scene.begin_interaction()

    def _on_interaction_ended(self, _obj, _event) -> None:
        if self.scene.uses_interactive_lod():
            self._settle_timer.start()

    def _on_interaction_settled(self) -> None:
        if self.scene.end_interaction():
            self._render()

    def _on_measure_toggled(self, on: bool) -> None:
        self._measure_atoms = []
        self.measure_label.setText("Click two atoms in the view" if on else "")

    def clear_measurements(self) -> None:
        self.scene.clear_measurements()
        self._measure_atoms = []
        self.measure_label.setText("")
        self._render()

    def measure(self, a: int, b: int) -> float:
        distance = self.scene.add_distance(a, b)
        self._render()
        return distance

    # ------------------------------------------------------------------------------------------
    # Ligands and binding site

    def current_ligand(self):
        if self.structure is None or self.ligand_combo.currentIndex() < 0:
            return None
        return self.structure.ligands[self.ligand_combo.currentData()]

    def centre_on_ligand(self) -> None:
        ligand = self.current_ligand()
        if ligand is not None:
            self.scene.centre_on([ligand.residue])
            self._render()

    def select_binding_site(self) -> list[int]:
        """Select and list the residues within the cutoff of the chosen ligand."""
        ligand = self.current_ligand()
        if ligand is None:
            return []
        try:
            residues = self.structure.binding_site(ligand, self.cutoff_spin.value())
        except ValueError as exc:
            self._error(str(exc))
            return []
        self.site_residues = residues
        self.site_list.clear()
        for residue in residues:
            item = QListWidgetItem(self.structure.residue_label(residue))
            item.setData(Qt.ItemDataRole.UserRole, residue)
            self.site_list.addItem(item)
        self.site_label.setText(
            f"{len(residues)} residues within {self.cutoff_spin.value():g} Å of {ligand.label}"
        )
        self.select_residues(residues)
        self.scene.centre_on([ligand.residue, *residues])
        self._render()
        return residues

    def _on_site_item_clicked(self, item: QListWidgetItem) -> None:
        residue = item.data(Qt.ItemDataRole.UserRole)
        self.select_residues([residue], centre=True)

    # ------------------------------------------------------------------------------------------
    # Molecule in context

    def context_centre(self) -> np.ndarray | None:
        """The chosen ligand's centroid, else the binding site's, else the selection's."""
        if self.structure is None:
            return None
        ligand = self.current_ligand()
        if ligand is not None:
            return self.structure.residue_centroid([ligand.residue])
        residues = self.site_residues or self.scene.selected_residues
        if residues:
            return self.structure.residue_centroid(residues)
        return None

    def place_molecule(self, mol_or_smiles) -> JobHandle | None:
        """Generate a conformer of ``mol_or_smiles`` on the engine and show it at the site."""
        from core.protein.context import place_conformer

        centre = self.context_centre()
        if centre is None:
            self._error("Choose a ligand or select pocket residues first: the molecule is "
                        "placed at their centroid.")  # fmt: skip
            return None
        self._notice("Generating a 3D conformer of the molecule…")
        return self._submit("context", self._on_context_finished, place_conformer, mol_or_smiles,
                            centre, title="Conformer for protein view")  # fmt: skip

    def place_workspace_molecule(self) -> JobHandle | None:
        workspace = getattr(self.window_, "molecule_workspace", None)
        mol = workspace.current_molecule() if workspace is not None else None
        if mol is None:
            self._error("The Molecule workspace holds no molecule: open one from a library "
                        "(double-click a row) or draw one, then place it here.")  # fmt: skip
            return None
        return self.place_molecule(mol)

    def show_context_molecule(self, mol) -> None:
        self.scene.molecules.add_molecule("context", mol, style="ball_and_stick")
        self._render()
        self._notice("Library molecule placed at the site (not docked: translated only).")
        self.placed_molecule_changed.emit(True)

    def has_placed_molecule(self) -> bool:
        """Whether a library molecule is placed in the view."""
        return "context" in self.scene.molecules.keys()  # noqa: SIM118

    def remove_context_molecule(self) -> None:
        removed = self.scene.molecules.remove("context")
        self._render()
        if removed:
            self.placed_molecule_changed.emit(False)

    # ------------------------------------------------------------------------------------------
    # Prediction

    def _on_weights_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "ESMFold weights folder")
        if folder:
            self.weights_edit.setText(folder)

    def predict(self, sequence: str | None = None) -> JobHandle | None:
        """Validate the sequence and weights here, then fold on the engine (GPU when present)."""
        from core.protein.prediction import (
            HOW_TO_GET_WEIGHTS,
            PredictionError,
            check_weights,
            clean_sequence,
            find_weights,
            predict_and_parse,
        )

        text = sequence if sequence is not None else self.sequence_edit.toPlainText()
        try:
            clean = clean_sequence(text)
            folder = self.weights_edit.text().strip() or None
            found = find_weights(folder)
            if found is None:
                if folder:
                    raise PredictionError(f"{folder} holds no config.json: not a model folder.")
                raise PredictionError(HOW_TO_GET_WEIGHTS)
            check_weights(found)
        except PredictionError as exc:
            self.predict_label.setStyleSheet(_ERROR_STYLE)
            self.predict_label.setText(str(exc))
            return None
        self.predict_label.setStyleSheet("")
        self.predict_label.setText(f"Folding {len(clean)} residues…")
        chunk = self.chunk_spin.value() or None
        return self._submit("predict", self._on_predict_finished, predict_and_parse, clean,
                            str(found), chunk,
                            title=f"ESMFold ({len(clean)} residues)", needs_torch=True,
                            lane=LONG_LANE)  # fmt: skip

    def _on_predict_clicked(self) -> None:
        self.predict()

    def show_prediction(self, result, structure) -> None:
        self.prediction = result
        self.show_structure(structure, color="plddt")
        ptm = f", pTM {result.ptm:.2f}" if result.ptm is not None else ""
        self.predict_label.setText(
            f"Mean pLDDT {result.mean_plddt:.1f}{ptm} on {result.device}; coloured by pLDDT."
        )
        self._plot_pae(result.pae)

    def _plot_pae(self, pae) -> None:
        import pyqtgraph as pg

        if self.pae_plot is None:
            self.pae_plot = pg.PlotWidget(title="Predicted aligned error (Å)")
            self.pae_plot.setBackground("w")
            self.pae_plot.setLabel("bottom", "Scored residue")
            self.pae_plot.setLabel("left", "Aligned residue")
            self.pae_plot.invertY(True)
            self.pae_image = pg.ImageItem()
            self.pae_plot.addItem(self.pae_image)
            self.pae_layout.addWidget(self.pae_plot)
        if pae is None:
            self.pae_image.clear()
            return
        colormap = pg.colormap.get("viridis")
        self.pae_image.setImage(np.asarray(pae).T, levels=(0, max(30.0, float(np.max(pae)))))
        self.pae_image.setColorMap(colormap)
        self.pae_plot.getViewBox().autoRange()

    # ------------------------------------------------------------------------------------------
    # Engine

    def _own_kind(self) -> str | None:
        """The kind of the current job whose handle sent the signal being handled; None for a
        superseded one."""
        handle = self.sender()
        return next((kind for kind, own in self._jobs.items() if own is handle), None)

    def _end(self) -> str | None:
        """Forget the job whose handle sent the signal (it ended): its kind, or None when it was
        superseded, so the caller ignores what it brought."""
        kind = self._own_kind()
        if kind is not None:
            del self._jobs[kind]
            if not self._jobs:
                self.progress_bar.hide()
        return kind

    def _on_job_progress(self, fraction: float, message: str) -> None:
        if self._own_kind() is None:
            return
        if fraction < 0:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 100)
            self.progress_bar.setValue(int(fraction * 100))
        if message:
            self.message_label.setText(message)

    def _on_load_finished(self, structure) -> None:
        if self._end() is not None and not self._finalized:
            self.show_structure(structure)

    def _on_demo_finished(self, structure) -> None:
        if self._end() is not None and not self._finalized:
            self.show_demo(structure)

    def _on_predict_finished(self, result) -> None:
        if self._end() is not None and not self._finalized:
            prediction, structure = result
            self.show_prediction(prediction, structure)

    def _on_context_finished(self, mol) -> None:
        if self._end() is not None and not self._finalized:
            self.show_context_molecule(mol)

    def _on_job_failed(self, message: str) -> None:
        kind = self._end()
        if kind is None:
            return
        if kind == "predict":
            self.predict_label.setStyleSheet(_ERROR_STYLE)
            self.predict_label.setText(message)
        self._error(message)

    def _on_job_cancelled(self) -> None:
        if self._end() is not None:
            self._notice("Cancelled.")
