"""The Find tab of the hit-list tools: substructure and similarity searches, Butina clusters,
Murcko scaffolds, MaxMin diverse picks and "Suggest next…" (what to make next, by a model's
expected improvement) over one library.

Fingerprints and the substructure index are built once per library, in the engine, as are the
searches themselves: a million molecules take seconds. Results become columns of the table
(similarity, cluster, scaffold, pick order) or narrow it to the hits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.chem.search import (
    FingerprintIndex,
    SearchError,
    SubstructureIndex,
    build_fingerprint_index,
    butina_clusters,
    maxmin_pick,
    parse_query,
    scaffold_groups,
    similarity_search,
    substructure_search,
)
from core.models.suggest import SuggestResult, suggest_for_library
from ui.hitlist.forms import set_status
from ui.hitlist.suggest_dialog import SuggestDialog, SuggestRequest, registered_uncertain_models
from ui.jobs.tracker import CANCELLED, JobTracker


def _smiles(table: pd.DataFrame) -> list[str]:
    valid = table["valid"].to_numpy(dtype=bool, na_value=False)
    smiles = table["canonical_smiles"].fillna("").astype(str).to_numpy(dtype=object)
    smiles[~valid] = ""
    return smiles.tolist()


def _registered_models() -> list:
    from ui.hitlist.rank_tab import registered_models

    return registered_models()


class FindTab(QWidget):
    """Search, group and pick the molecules of one library panel.

    Parameters
    ----------
    panel
        The :class:`~ui.library.panel.LibraryPanel` searched (results become its columns and
        row masks).
    engine
        Runs the indexes and searches (``submit`` returns a job handle).
    query_smiles, query_name
        The Molecule panel's structure and its name: the similarity query when none is typed.

    ``model_entries`` (an attribute: the registry's entries, read when "Suggest next…" opens)
    lists the models the suggestion may use.
    """

    def __init__(
        self,
        panel,
        engine,
        query_smiles: Callable[[], str] = lambda: "",
        query_name: Callable[[], str] = lambda: "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.query_smiles = query_smiles
        self.query_name = query_name
        self.fingerprints: FingerprintIndex | None = None
        self.substructures: SubstructureIndex | None = None
        self.model_entries: Callable[[], list] = _registered_models
        self.suggest_dialog: SuggestDialog | None = None
        self._sent_query: tuple[str, str] | None = None
        """(SMILES, name) of a query another area sent (find_similar_to), while it is typed."""
        # Keys per tab: each library's tools supersede only their own older jobs.
        self.jobs = JobTracker(engine, f"hitlist-{id(self)}", self)
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.ended.connect(self._on_job_ended)
        """This tab's jobs: indexes, searches, clusters, scaffolds, picks."""
        self._build()

    def _build(self) -> None:
        self.smarts_edit = QLineEdit()
        self.smarts_edit.setPlaceholderText("SMARTS, e.g. c1ccccc1C(=O)N")
        self.smarts_edit.returnPressed.connect(self.substructure_search)
        smarts_button = QPushButton("Search")
        smarts_button.clicked.connect(self.substructure_search)
        substructure = QGroupBox("Substructure")
        row = QHBoxLayout(substructure)
        row.addWidget(self.smarts_edit, 1)
        row.addWidget(smarts_button)

        self.query_edit = QLineEdit()
        self.query_edit.setPlaceholderText("SMILES")
        self.query_edit.setToolTip(
            "The query molecule as SMILES. Leave it empty to search with the structure in the "
            "Molecule panel."
        )
        self.query_edit.returnPressed.connect(self.similarity_search)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 1_000_000)
        self.top_k.setValue(100)
        self.top_k.setToolTip("Keep at most this many of the most similar molecules")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.0)
        self.threshold.setSpecialValueText("off")
        self.threshold.setToolTip("Keep only molecules at least this similar (Tanimoto, 0–1)")
        similar_button = QPushButton("Find similar")
        similar_button.clicked.connect(self.similarity_search)
        similarity = QGroupBox("Similarity")
        similarity.setToolTip("Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits)")
        form = QFormLayout(similarity)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Query", self.query_edit)
        query_note = QLabel("Leave the query empty to search with the Molecule panel's structure.")
        query_note.setWordWrap(True)
        query_note.setStyleSheet("color: #555;")
        form.addRow(query_note)
        form.addRow("Top k", self.top_k)
        form.addRow("Min. similarity", self.threshold)
        form.addRow(similar_button)

        self.cluster_threshold = QDoubleSpinBox()
        self.cluster_threshold.setRange(0.05, 1.0)
        self.cluster_threshold.setSingleStep(0.05)
        self.cluster_threshold.setValue(0.4)
        self.cluster_threshold.setToolTip(
            "Molecules at least this similar (Tanimoto) to a cluster's centre join it"
        )
        cluster_button = QPushButton("Butina clusters")
        cluster_button.setToolTip(
            "Adds Cluster (1 = the largest) and Cluster size columns beside the name"
        )
        cluster_button.clicked.connect(self.cluster)
        scaffold_button = QPushButton("Murcko scaffolds")
        scaffold_button.setToolTip(
            "Adds each molecule's Bemis–Murcko scaffold (drawn), its group (1 = the most "
            "common) and the group's size beside the name"
        )
        scaffold_button.clicked.connect(self.scaffolds)
        self.pick_count = QSpinBox()
        self.pick_count.setRange(1, 100_000)
        self.pick_count.setValue(50)
        self.pick_count.setToolTip("How many diverse molecules to pick")
        pick_button = QPushButton("Diverse pick")
        pick_button.setToolTip("MaxMin: each pick is the molecule farthest from those picked")
        pick_button.clicked.connect(self.diverse_pick)
        group = QGroupBox("Group and pick")
        grid = QFormLayout(group)
        grid.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        grid.addRow("Similarity ≥", self.cluster_threshold)
        grid.addRow(cluster_button)
        grid.addRow(scaffold_button)
        grid.addRow("Molecules", self.pick_count)
        grid.addRow(pick_button)
        self.suggest_button = QPushButton("Suggest next…")
        self.suggest_button.setToolTip(
            "What to make next: rank this library by a model's expected improvement (prediction "
            "and uncertainty) and pick a diverse batch; adds suggest_rank and suggest_why"
        )
        self.suggest_button.clicked.connect(self.open_suggest_dialog)
        grid.addRow(self.suggest_button)
        self.find_status = QLabel("")
        self.find_status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(substructure)
        layout.addWidget(similarity)
        layout.addWidget(group)
        layout.addWidget(self.find_status)
        layout.addStretch(1)

    def table(self) -> pd.DataFrame | None:
        library = self.panel.library
        return None if library is None else library.table

    def forget_indexes(self) -> None:
        """A new library arrived: fingerprints and the substructure index are built anew."""
        self.fingerprints = None
        self.substructures = None

    def _with_fingerprints(self, then: Callable[[], None]) -> None:
        table = self.table()
        if table is None:
            set_status(self.find_status, "The library is still loading.", error=True)
            return
        if self.fingerprints is not None and self.fingerprints.n_rows == len(table):
            then()
            return

        def store(index) -> None:
            self.fingerprints = index
            then()

        self.jobs.submit(
            "fingerprints",
            store,
            build_fingerprint_index,
            _smiles(table),
            title=f"Fingerprints for {self.panel.title}",
        )
        set_status(self.find_status, "Computing fingerprints (once per library)…")

    def _query_name(self, query: str, typed: bool, hits=None) -> str:
        """What the search chip calls the query molecule: the name of the library row that is
        the query itself, else the Molecule panel's name (for its structure), else its SMILES."""
        table = self.table()
        if table is not None and hits is not None and len(hits) and "name" in table.columns:
            try:
                from rdkit import Chem

                canonical = Chem.MolToSmiles(parse_query(query))
            except (SearchError, ValueError):
                canonical = ""
            # The query itself, if in the table, is among the hits of similarity 1.
            for position in hits.rows[hits.scores >= 1.0 - 1e-9][:50]:
                row_smiles = table["canonical_smiles"].iat[int(position)]
                name = table["name"].iat[int(position)]
                if row_smiles == canonical and isinstance(name, str) and name.strip():
                    return name.strip()
        if not typed:
            name = (self.query_name() or "").strip()
            if name:
                return name
        return query

    def find_similar_to(self, smiles: str, name: str = "") -> None:
        """Search with ``smiles`` as the typed query, named ``name`` in the result (a molecule
        another area sent: a protein's ligand)."""
        self._sent_query = (smiles.strip(), name.strip())
        self.query_edit.setText(smiles.strip())
        self.similarity_search()

    def similarity_search(self) -> None:
        typed = bool(self.query_edit.text().strip())
        query = self.query_edit.text().strip() or self.query_smiles()
        if not query:
            set_status(
                self.find_status,
                "Type a query SMILES or draw a molecule in the Molecule panel.",
                error=True,
            )
            return

        try:
            parse_query(query)  # a typo is reported at once, not after fingerprinting
        except SearchError as error:
            set_status(self.find_status, str(error), error=True)
            return
        # Named now: the Molecule panel may show another molecule when the result arrives.
        panel_name = "" if typed else (self.query_name() or "").strip()
        if typed and self._sent_query is not None and self._sent_query[0] == query:
            panel_name = self._sent_query[1]  # a ligand sent from Proteins keeps its name

        def show(hits) -> None:
            name = self._query_name(query, True, hits)
            if name == query and panel_name:
                name = panel_name
            n = len(self.table())
            similarity = np.full(n, np.nan)
            similarity[hits.rows] = hits.scores
            mask = np.zeros(n, dtype=bool)
            mask[hits.rows] = True
            about = name if name == query else f"{name} ({query})"
            self.panel.add_columns(
                pd.DataFrame({"similarity": similarity}, index=self.table().index),
                {"similarity": f"Tanimoto similarity (Morgan, radius 2) to {about}"},
            )
            self.panel.set_row_mask(mask, f"Similar to {name}: {len(hits):,}")
            self.panel.sort_by("similarity", descending=True)
            self._show_result_top()
            best = f" (best {hits.scores[0]:.2f})" if len(hits) else ""
            set_status(self.find_status, f"{len(hits):,} molecules similar to {name}{best}.")

        def run() -> None:
            title = panel_name or query
            self.jobs.submit(
                "similarity",
                show,
                similarity_search,
                self.fingerprints,
                query,
                top_k=self.top_k.value(),
                threshold=self.threshold.value() or None,
                title=f"Similar to {title if len(title) <= 40 else title[:39] + '…'}",
            )
            set_status(self.find_status, "Searching…")

        self._with_fingerprints(run)

    def _show_result_top(self) -> None:
        """A new result is read from its top: scroll there (the selection is left alone)."""
        self.panel.view.scrollToTop()

    def substructure_search(self) -> None:
        smarts = self.smarts_edit.text().strip()
        table = self.table()
        if table is None:
            return
        try:
            from core.chem.search import parse_smarts

            parse_smarts(smarts)
        except SearchError as error:
            set_status(self.find_status, str(error), error=True)
            return

        def show(rows) -> None:
            mask = np.zeros(len(self.table()), dtype=bool)
            mask[rows] = True
            self.panel.set_row_mask(mask, f"Contains {smarts}: {len(rows):,}")
            self._show_result_top()
            set_status(self.find_status, f"{len(rows):,} molecules contain {smarts}.")

        def run() -> None:
            # Matching runs in the engine: a million molecules take seconds.
            self.jobs.submit(
                "substructure-search",
                show,
                substructure_search,
                self.substructures,
                smarts,
                title=f"Substructure {smarts if len(smarts) <= 40 else smarts[:39] + '…'}",
            )
            set_status(self.find_status, "Searching…")

        if self.substructures is not None and self.substructures.n_rows == len(table):
            run()
            return

        def store(index) -> None:
            self.substructures = index
            run()

        self.jobs.submit(
            "substructures",
            store,
            SubstructureIndex.build,
            _smiles(table),
            title=f"Substructure index for {self.panel.title}",
        )
        set_status(self.find_status, "Indexing structures (once per library)…")

    def cluster(self) -> None:
        threshold = self.cluster_threshold.value()

        def show(labels) -> None:
            clustered = labels >= 0
            sizes = np.bincount(labels[clustered]) if clustered.any() else np.zeros(0, int)
            # Numbered from 1 (the largest), as chemists count; rows without a structure
            # have none.
            number = np.where(clustered, labels + 1, 0).astype(np.int64)
            size = np.zeros(len(labels), dtype=np.int64)
            size[clustered] = sizes[labels[clustered]]
            frame = pd.DataFrame(
                {
                    "cluster": pd.arrays.IntegerArray(number, mask=~clustered),
                    "cluster_size": pd.arrays.IntegerArray(size, mask=~clustered),
                },
                index=self.table().index,
            )
            self.panel.add_columns(
                frame,
                {
                    "cluster": f"Butina cluster (Tanimoto ≥ {threshold:.2f}); 1 = the largest",
                    "cluster_size": "molecules in the cluster",
                },
                sort_by="cluster",
            )
            self._show_result_top()
            n_clusters = len(sizes)
            singletons = int((sizes == 1).sum())
            set_status(
                self.find_status,
                f"{n_clusters:,} clusters of {int(clustered.sum()):,} molecules "
                f"({singletons:,} singletons); sorted by cluster, 1 = the largest.",
            )

        def run() -> None:
            self.jobs.submit(
                "cluster",
                show,
                butina_clusters,
                self.fingerprints,
                threshold=threshold,
                title=f"Butina clusters (similarity ≥ {threshold:.2f})",
            )
            set_status(self.find_status, "Clustering…")

        self._with_fingerprints(run)

    def scaffolds(self) -> None:
        table = self.table()
        if table is None:
            return

        def show(scaffolds) -> None:
            scaffold = pd.Series(scaffolds, index=self.table().index, dtype=object)
            has = (scaffold != "").to_numpy()
            counts = scaffold[has].value_counts(sort=False)
            # Groups numbered by size (1 = the most common), ties in order of first appearance.
            order = sorted(range(len(counts)), key=lambda i: (-int(counts.iloc[i]), i))
            group_of = {counts.index[i]: rank + 1 for rank, i in enumerate(order)}
            group = np.zeros(len(scaffold), dtype=np.int64)
            size = np.zeros(len(scaffold), dtype=np.int64)
            group[has] = scaffold[has].map(group_of).to_numpy(dtype=np.int64)
            size[has] = scaffold[has].map(counts).to_numpy(dtype=np.int64)
            frame = pd.DataFrame(
                {
                    "scaffold": scaffold,
                    "scaffold_group": pd.arrays.IntegerArray(group, mask=~has),
                    "scaffold_size": pd.arrays.IntegerArray(size, mask=~has),
                },
                index=self.table().index,
            )
            self.panel.add_columns(
                frame,
                {
                    "scaffold": "Bemis–Murcko scaffold (none: acyclic)",
                    "scaffold_group": "scaffold group; 1 = the most common scaffold",
                    "scaffold_size": "molecules sharing the scaffold",
                },
                sort_by="scaffold_group",
            )
            self._show_result_top()
            set_status(
                self.find_status,
                f"{len(counts):,} scaffolds among {int(has.sum()):,} molecules with rings; "
                "sorted by scaffold group, 1 = the most common.",
            )

        self.jobs.submit(
            "scaffold", show, scaffold_groups, _smiles(table), title="Murcko scaffolds"
        )
        set_status(self.find_status, "Finding scaffolds…")

    def diverse_pick(self) -> None:
        n_pick = self.pick_count.value()

        def show(rows) -> None:
            n = len(self.table())
            order = np.zeros(n, dtype=np.int64)
            order[rows] = np.arange(1, len(rows) + 1)
            mask = order > 0
            self.panel.add_columns(
                pd.DataFrame(
                    {"pick_order": pd.arrays.IntegerArray(order, mask=~mask)},
                    index=self.table().index,
                ),
                {"pick_order": "order of the MaxMin diverse pick (1 = first)"},
                sort_by="pick_order",
            )
            self.panel.set_row_mask(mask, f"Diverse pick: {len(rows):,}")
            self._show_result_top()
            set_status(self.find_status, f"Picked {len(rows):,} diverse molecules.")

        def run() -> None:
            self.jobs.submit(
                "pick",
                show,
                maxmin_pick,
                self.fingerprints,
                n_pick,
                title=f"Pick {n_pick:,} diverse molecules",
            )
            set_status(self.find_status, "Picking…")

        self._with_fingerprints(run)

    def open_suggest_dialog(self) -> SuggestDialog | None:
        """Ask for the model and settings (a window-modal dialog); the job starts on accept."""
        if self.table() is None:
            set_status(self.find_status, "The library is still loading.", error=True)
            return None
        dialog = SuggestDialog(
            registered_uncertain_models(self.model_entries), self.panel.title, self
        )
        dialog.accepted.connect(lambda: self.suggest_next(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        self.suggest_dialog = dialog
        dialog.open()
        return dialog

    def suggest_next(self, request: SuggestRequest | str) -> None:
        """Predict the library with the chosen model and narrow the table to the picks, best
        first, with their rank and why-text as columns."""
        self.suggest_dialog = None
        table = self.table()
        if isinstance(request, str) or table is None:
            set_status(self.find_status, request or "The library is still loading.", error=True)
            return
        names = (
            table["name"].fillna("").astype(str).tolist()
            if "name" in table.columns
            else [""] * len(table)
        )
        label = request.model.label

        def show(result: SuggestResult) -> None:
            n = len(self.table())
            rank = np.zeros(n, dtype=np.int64)
            why = np.full(n, None, dtype=object)
            rows = result.picks["row"].to_numpy(dtype=np.int64)
            rank[rows] = result.picks["suggest_rank"].to_numpy(dtype=np.int64)
            why[rows] = result.picks["why"].to_numpy(dtype=object)
            picked = rank > 0
            self.panel.add_columns(
                pd.DataFrame(
                    {
                        "suggest_rank": pd.arrays.IntegerArray(rank, mask=~picked),
                        "suggest_why": why,
                    },
                    index=self.table().index,
                ),
                {
                    "suggest_rank": f"what to make next (1 = first) by {label}",
                    "suggest_why": "why it was suggested: prediction ± 1.645 std, against the "
                    "best known",
                },
                sort_by="suggest_rank",
            )
            self.panel.set_row_mask(picked, f"Suggested next: {int(picked.sum()):,}")
            self._show_result_top()
            set_status(self.find_status, result.summary() + ".")

        self.jobs.submit(
            "suggest",
            show,
            suggest_for_library,
            request.model.path,
            _smiles(table),
            names,
            request.settings,
            target=request.target,
            best_value=request.best_value,
            title=f"Suggest {request.settings.n} next with {label}",
        )
        set_status(self.find_status, f"Predicting with {label}…")

    def _on_job_failed(self, _kind: str, message: str) -> None:
        set_status(self.find_status, message, error=True)

    def _on_job_ended(self, kind: str, how: str) -> None:
        if how == CANCELLED:
            self._on_job_cancelled(kind)

    def _on_job_cancelled(self, _kind: str) -> None:
        set_status(self.find_status, "Cancelled; what was computed is kept for the next run.")
