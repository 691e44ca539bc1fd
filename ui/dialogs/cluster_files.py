"""File > On the cluster: the dialogs that ask which file to describe, score or search on the
Dask cluster, and how.

Each asks for an input file and an output file (never the input itself) and what to do with
them, checks every field as it is typed (the message under the form says what is wrong, and OK
waits until nothing is) and hands back plain values; the window runs the job
(``app.cluster_actions``). No work happens here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from rdkit import rdBase

from core.chem.cluster_search import SearchRequest
from core.chem.export import export_format
from core.chem.search import SearchError, parse_query, parse_smarts
from core.hitlist.presets import PRESETS
from core.hitlist.report import hit_list_format
from ui.widgets.checked_list import checked_paths

INPUT_FILTER = "Compound files (*.smi *.smiles *.txt *.csv *.tsv *.sdf *.sd);;All files (*)"
TABLE_FILTER = "CSV (*.csv);;TSV (*.tsv);;Excel (*.xlsx);;SDF (*.sdf)"
HIT_LIST_FILTER = TABLE_FILTER + ";;HTML report (*.html)"
ERROR_STYLE = "color: #b00020;"
NOTE_STYLE = "color: #555;"

SIMILAR_AT_LEAST = "threshold"
TOP_K = "top_k"
SUBSTRUCTURE = "substructure"
SEARCH_MODES = (
    ("Similar molecules: Tanimoto similarity at or above a threshold", SIMILAR_AT_LEAST),
    ("The k most similar molecules", TOP_K),
    ("Molecules containing a substructure (SMARTS pattern)", SUBSTRUCTURE),
)


class ClusterFileDialog(QDialog):
    """What the score and search dialogs share: the cluster named, the input and output files
    with Browse buttons, a message line and OK/Cancel. Subclasses add their rows to ``form``
    and their checks to :meth:`problem`."""

    output_suffix = "_out.csv"
    output_filter = TABLE_FILTER
    what = "the output"

    def __init__(self, title: str, address: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.address = address
        self.cluster_label = cluster = QLabel(
            f"Runs on the Dask cluster <b>{address}</b> (Edit &gt; Preferences &gt; Compute). "
            "Its workers read the input file and write their parts beside the output file "
            "by the same paths: on a cluster of other computers both must be on a disk they "
            "share, unless the box below is ticked."
        )
        cluster.setWordWrap(True)
        cluster.setStyleSheet(NOTE_STYLE)
        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("The compound file (.smi, .csv, .tsv, .sdf)")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText(f"Where to write {self.what}")
        input_browse = QPushButton("Browse…")
        input_browse.setToolTip("Choose the compound file")
        input_browse.clicked.connect(self.choose_input)
        output_browse = QPushButton("Browse…")
        output_browse.setToolTip(f"Choose where to write {self.what}")
        output_browse.clicked.connect(self.choose_output)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow("Input file:", _row(self.input_edit, input_browse))
        self.form.addRow("Output file:", _row(self.output_edit, output_browse))
        self.ship_box = QCheckBox(
            "The workers share no disk with this computer: send them the records"
        )
        self.ship_box.setToolTip(
            "This computer reads the file, sends each part's records with its task and writes "
            "the results the workers send back (slower; needs no shared disk)"
        )
        # A local:N cluster runs on this computer: it always sees the files.
        self.ship_box.setVisible(not address.lower().startswith("local:"))
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Run on the cluster")
        layout = QVBoxLayout(self)
        layout.addWidget(cluster)
        layout.addLayout(self.form)
        layout.addWidget(self.ship_box)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self._suggested = ""
        self.input_edit.textChanged.connect(self._on_input_changed)
        self.output_edit.textChanged.connect(self.refresh)
        self.setMinimumWidth(560)

    # ------------------------------------------------------------------------------------------
    # Files

    def source(self) -> Path:
        return Path(self.input_edit.text().strip()).expanduser()

    def output(self) -> Path:
        return Path(self.output_edit.text().strip()).expanduser()

    def ship_records(self) -> bool:
        """Whether the workers get the records from here (they share no disk with it)."""
        return self.ship_box.isVisibleTo(self) and self.ship_box.isChecked()

    def choose_input(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, f"{self.windowTitle()}: compound file", self.input_edit.text(), INPUT_FILTER
        )
        if path:
            self.input_edit.setText(path)

    def choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Write {self.what} to", self.output_edit.text(), self.output_filter
        )
        if path:
            self.output_edit.setText(path)

    def _on_input_changed(self, text: str) -> None:
        # Suggest an output beside the input until the user names one.
        current = self.output_edit.text().strip()
        if text.strip() and current in ("", self._suggested):
            source = self.source()
            self._suggested = str(source.with_name(source.stem + self.output_suffix))
            self.output_edit.setText(self._suggested)
        self.refresh()

    # ------------------------------------------------------------------------------------------
    # Checks

    def check_output_format(self, output: Path) -> None:
        """Raise ``ValueError`` for an output this dialog's job cannot write."""
        export_format(output)

    def file_problem(self) -> str:
        """What is wrong with the files ("" when nothing is)."""
        text = self.input_edit.text().strip()
        if not text:
            return "Choose the compound file (Browse…)."
        source = self.source()
        if not source.is_file():
            return f"{source} is not a file that exists."
        if not self.output_edit.text().strip():
            return f"Choose where to write {self.what}."
        output = self.output()
        try:
            same = output.resolve() == source.resolve()
        except OSError:
            same = False
        if same:
            return f"{output.name} is the input file: choose another output."
        if output.is_dir():
            return f"{output} is a folder: name a file."
        if not output.parent.is_dir():
            return f"The folder {output.parent} does not exist."
        try:
            self.check_output_format(output)
        except ValueError as error:
            return _sentence(str(error))
        return ""

    def problem(self) -> str:
        """What is wrong with the dialog's fields ("" when nothing is)."""
        return self.file_problem()

    def ready_text(self) -> str:
        return ""

    def refresh(self, *_args) -> str:
        """Check every field; say the first problem (or what will happen) and enable OK only
        when there is none. Returns the problem."""
        problem = self.problem()
        self.message.setStyleSheet(ERROR_STYLE if problem else NOTE_STYLE)
        self.message.setText(problem or self.ready_text())
        self.ok_button.setEnabled(not problem)
        return problem

    def accept(self) -> None:
        if not self.refresh():
            super().accept()


class PropsOnClusterDialog(ClusterFileDialog):
    """File > On the cluster > Compute properties of a file…: the input and the table file."""

    output_suffix = "_props.csv"
    what = "the properties table"

    def __init__(self, address: str, parent: QWidget | None = None) -> None:
        super().__init__("Compute properties of a file on the cluster", address, parent)
        self.refresh()

    def ready_text(self) -> str:
        return (
            "Computes the properties and structural alerts of every record (as drugdesk props "
            f"does); writes {self.output().name} when every part is done."
        )


class ScoreOnClusterDialog(ClusterFileDialog):
    """File > On the cluster > Score a file…: the input, the hit list file, the profile, the
    models whose predictions it may use and ADMET.

    ``model_entries``: the registry's entries (``path``, ``card``) that can predict, as the
    Hit-list Rank tab lists them (:func:`ui.hitlist.rank_tab.registered_models`).
    """

    output_suffix = "_hits.csv"
    output_filter = HIT_LIST_FILTER
    what = "the hit list"

    def __init__(
        self,
        address: str,
        model_entries: Callable[[], list],
        admet_available: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Score a file on the cluster", address, parent)
        self.profile_box = QComboBox()
        for key, profile in PRESETS.items():
            self.profile_box.addItem(profile.name, key)
        self.profile_box.setToolTip("The desirability profile the molecules are ranked by")
        self.model_list = QListWidget()
        self.model_list.setToolTip(
            "Fine-tuned models whose predictions become columns (and criteria, if the profile "
            "uses them)"
        )
        self.model_list.setMaximumHeight(110)
        for entry in model_entries():
            if getattr(entry, "card", None) is None:
                continue
            item = QListWidgetItem(f"{entry.path.name} ({entry.card.task})")
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            item.setToolTip(str(entry.path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.model_list.addItem(item)
        if self.model_list.count() == 0:
            item = QListWidgetItem("No trained models yet (train one in the Models area)")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.model_list.addItem(item)
        self.model_list.itemChanged.connect(self.refresh)
        models_note = QLabel(
            "The workers load the ticked model folders themselves: on a cluster of other "
            "computers each folder must be on a path they all read, under the same name."
        )
        models_note.setWordWrap(True)
        models_note.setStyleSheet(NOTE_STYLE)
        self.admet_box = QCheckBox("ADMET (admet-ai): 41 endpoints and their DrugBank percentiles")
        self.admet_box.setEnabled(admet_available)
        self.admet_box.setToolTip(
            "admet-ai's Chemprop models, run by the workers (admet-ai must be installed on "
            "them); about 50 molecules/s per 2 cores"
            if admet_available
            else "admet-ai is not installed on this computer"
        )
        self.admet_box.toggled.connect(self.refresh)
        self.form.addRow("Profile:", self.profile_box)
        self.form.addRow("Models:", self.model_list)
        self.form.addRow("", models_note)
        self.form.addRow("", self.admet_box)
        self.refresh()

    def check_output_format(self, output: Path) -> None:
        hit_list_format(output)

    def models(self) -> tuple[Path, ...]:
        """The ticked model folders, in the list's order."""
        return checked_paths(self.model_list)

    def set_models_checked(self, folders) -> None:
        """Tick the models whose folders are ``folders`` (and untick the others)."""
        wanted = {str(Path(f)) for f in folders}
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                checked = item.data(Qt.ItemDataRole.UserRole) in wanted
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def admet(self) -> bool:
        return self.admet_box.isEnabled() and self.admet_box.isChecked()

    def profile_key(self) -> str:
        return self.profile_box.currentData()

    def ready_text(self) -> str:
        models = self.models()
        using = [f"{len(models)} model{'s' if len(models) != 1 else ''}"] if models else []
        using += ["ADMET"] if self.admet() else []
        return (
            f"Ranks every molecule by '{self.profile_box.currentText()}'"
            + (f" with {' and '.join(using)}" if using else "")
            + f"; writes {self.output().name} when every part is done."
        )


class SearchOnClusterDialog(ClusterFileDialog):
    """File > On the cluster > Search a file…: the input, the hits file, the query molecule
    (the Molecule panel's, if it shows one) and the kind of search."""

    output_suffix = "_search.csv"
    what = "the hits"

    def __init__(
        self,
        address: str,
        query_smiles: str = "",
        query_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Search a file on the cluster", address, parent)
        self._shown_smiles = query_smiles.strip()
        self._shown_name = query_name.strip()
        self.mode_box = QComboBox()
        for title, key in SEARCH_MODES:
            self.mode_box.addItem(title, key)
        self.query_edit = QLineEdit(self._shown_smiles)
        self.query_edit.setPlaceholderText("A SMILES, e.g. CC(=O)Nc1ccc(O)cc1")
        self.query_name = QLabel()
        self.query_name.setWordWrap(True)
        self.query_name.setStyleSheet(NOTE_STYLE)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setDecimals(2)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.7)
        self.threshold.setToolTip("Keep the molecules at least this similar (Tanimoto, 0–1)")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 1_000_000)
        self.top_k.setValue(50)
        self.top_k.setToolTip("Keep this many of the most similar molecules")
        self.smarts_edit = QLineEdit()
        self.smarts_edit.setPlaceholderText("A SMARTS pattern, e.g. c1ccccc1S(=O)(=O)N")
        self.form.addRow("Search for:", self.mode_box)
        self.form.addRow("Query molecule (SMILES):", self.query_edit)
        self.form.addRow("", self.query_name)
        self.form.addRow("Similarity at least:", self.threshold)
        self.form.addRow("Number of molecules (k):", self.top_k)
        self.form.addRow("Substructure (SMARTS):", self.smarts_edit)
        self.mode_box.currentIndexChanged.connect(self._on_mode_changed)
        self.query_edit.textChanged.connect(self.refresh)
        self.smarts_edit.textChanged.connect(self.refresh)
        self.threshold.valueChanged.connect(self.refresh)
        self.top_k.valueChanged.connect(self.refresh)
        self._on_mode_changed()

    def mode(self) -> str:
        return self.mode_box.currentData()

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode))

    def _on_mode_changed(self, *_args) -> None:
        mode = self.mode()
        similar = mode != SUBSTRUCTURE
        for widget, shown in (
            (self.query_edit, similar),
            (self.query_name, similar),
            (self.threshold, mode == SIMILAR_AT_LEAST),
            (self.top_k, mode == TOP_K),
            (self.smarts_edit, not similar),
        ):
            self.form.setRowVisible(widget, shown)
        self.adjustSize()
        self.refresh()

    def request(self) -> SearchRequest:
        """The search the dialog describes (check :meth:`problem` first)."""
        mode = self.mode()
        if mode == SUBSTRUCTURE:
            return SearchRequest(substructure=self.smarts_edit.text().strip())
        query = self.query_edit.text().strip()
        if mode == TOP_K:
            return SearchRequest(similar=query, top_k=self.top_k.value())
        return SearchRequest(similar=query, threshold=round(self.threshold.value(), 2))

    def _query_problem(self) -> str:
        if self.mode() == SUBSTRUCTURE:
            text = self.smarts_edit.text().strip()
            if not text:
                return "Type a SMARTS pattern for the substructure."
            try:
                with rdBase.BlockLogs():  # the message below says what is wrong
                    parse_smarts(text)
            except SearchError as error:
                return _sentence(str(error))
            return ""
        text = self.query_edit.text().strip()
        if text and text == self._shown_smiles:
            name = self._shown_name or "the molecule"
            self.query_name.setText(f"{name}, from the Molecule panel")
        else:
            self.query_name.setText("Typed here" if text else "")
        if not text:
            return "Type the query's SMILES (or show a molecule in the Molecule panel first)."
        try:
            parse_query(text)
        except SearchError as error:
            return _sentence(str(error))
        return ""

    def problem(self) -> str:
        # The query first: it is what the user is typing when the files are already chosen.
        return self._query_problem() or self.file_problem()

    def ready_text(self) -> str:
        mode = self.mode()
        if mode == SUBSTRUCTURE:
            what = f"the molecules containing {self.smarts_edit.text().strip()}, in file order"
        elif mode == TOP_K:
            what = f"the {self.top_k.value():,} molecules most similar to the query, best first"
        else:
            what = (
                f"the molecules at least {self.threshold.value():.2f} similar to the query, "
                "best first"
            )
        return f"Writes {what} (row, name, smiles, similarity) to {self.output().name}."


def _row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


__all__ = [
    "SEARCH_MODES",
    "SIMILAR_AT_LEAST",
    "SUBSTRUCTURE",
    "TOP_K",
    "ClusterFileDialog",
    "PropsOnClusterDialog",
    "ScoreOnClusterDialog",
    "SearchOnClusterDialog",
]
