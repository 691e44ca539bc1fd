"""The Explain tab with its jobs: which atoms drive a trained model's prediction for a molecule.

``ExplainView`` shows what it is given; this tab runs ``core.models.explain.explain_molecule`` in
the engine (key ``explain``: a newer molecule supersedes an older one; the transformer and the
D-MPNN in the model host, the forest beside the window) for a held-out test molecule, the current
row of the library the user looks at (on request, and whenever that row changes while the area is
shown), and again when another target or model family is chosen.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ui.models_area.explain_view import ExplainView

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext, LibraryView


class ExplainTab(ExplainView):
    """The Explain view, explaining with the model the area has selected (:meth:`set_model`).

    ``area`` is the widget whose visibility counts for following the library's row: the whole
    Models area (this tab is hidden whenever another tab is in front).
    """

    def __init__(
        self, context: AreaContext, area: QWidget | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self._area = area
        self._model: Path | None = None  # the selected trained model
        self._training = False
        self._explain_job: JobHandle | None = None  # the molecule whose answer is still wanted
        self._explained_smiles: str | None = None
        self._library: LibraryView | None = None  # the library whose row is followed
        self._library_smiles: str | None = None
        self._library_smiles_explained: str | None = None
        # The target a link asked to explain (by name): chosen again when the model's report
        # arrives and fills the targets.
        self._wanted_target: str | None = None
        self.molecule_chosen.connect(self.explain)
        self.target_changed.connect(self._on_target_changed)
        self.target_changed.connect(self._forget_wanted_target)  # the user chose another
        self.family_changed.connect(self._on_target_changed)
        self.library_row_requested.connect(self.explain_library_row)
        context.libraries.current_library_changed.connect(self._watch_library)

    def set_model(self, model: Path | None, training: bool = False) -> None:
        """The trained model to explain with (None: the selection cannot explain), and whether
        a training job runs (an explanation then waits for it)."""
        from core.models.explain import available_families, default_family

        if (None if model is None else Path(model)) != self._model:
            self._wanted_target = None
        self._model = None if model is None else Path(model)
        self._training = training
        self.library_button.setEnabled(self._model is not None)
        families, default = [], None
        if self._model is not None:
            # A card or two and a few file checks: small enough for the GUI thread.
            try:
                families = available_families(self._model)
                default = default_family(self._model)
            except (ValueError, OSError):
                families, default = [], None
        self.set_families(families, default)

    def explain_target(
        self, smiles: str, target: str, targets: tuple[str, ...]
    ) -> JobHandle | None:
        """Explain the selected model's prediction of ``target`` (one of the model's
        ``targets``) for ``smiles`` (a library row's prediction, from another area)."""
        index = targets.index(target) if target in targets else 0
        self._wanted_target = target if target in targets else None
        self._choose_wanted_target()
        self._library_smiles_explained = smiles  # the area's row-following leaves it be
        return self.explain(smiles, index)

    def set_report(self, report) -> None:
        super().set_report(report)
        self._choose_wanted_target()

    def _forget_wanted_target(self, _index: int) -> None:
        self._wanted_target = None

    def _choose_wanted_target(self) -> None:
        index = self.target_combo.findText(self._wanted_target) if self._wanted_target else -1
        if index >= 0:
            self.target_combo.blockSignals(True)
            self.target_combo.setCurrentIndex(index)
            self.target_combo.blockSignals(False)

    def explain(self, smiles: str, target: int | None = None) -> JobHandle | None:
        """Compute the attribution heat map of ``smiles`` for the selected model (engine job
        with key ``explain``: a newer request supersedes an older one); ``target``: which of the
        model's targets (default: the one chosen on the tab)."""
        from core.models.explain import explain_molecule

        model = self._model
        if model is None:
            self.show_message("Select a trained model to explain its predictions.")
            return None
        self._explained_smiles = smiles
        target = self.target_index() if target is None else target
        waiting = " (after the training job)" if self._training else ""
        self.show_message(f"Explaining {smiles}{waiting}…")
        family = self.family()
        handle = self.context.engine.submit(
            explain_molecule,
            model,
            smiles,
            target,
            family,
            title=f"Explain {smiles[:30]}",
            key="explain",
            # A forest needs no torch; the family chosen by default may need it.
            needs_torch=family != "rf",
        )
        self._explain_job = handle
        handle.finished.connect(partial(self._on_explained, handle))
        handle.failed.connect(partial(self._on_explain_failed, handle))
        return handle

    def _on_target_changed(self, _index) -> None:
        if self._explained_smiles:
            self.explain(self._explained_smiles)

    def _on_explained(self, handle: JobHandle, explanation) -> None:
        if handle is not self._explain_job:
            return  # another molecule was asked for since
        self._explain_job = None
        self.show_explanation(explanation)

    def _on_explain_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._explain_job:
            return
        self._explain_job = None
        self.show_message(f"Cannot explain this molecule: {message}", error=True)

    # ------------------------------------------------------------------------------------------
    # The library's current row

    def explain_library_row(self) -> JobHandle | None:
        library = self.context.libraries.current_library()
        row = library.current_row() if library is not None else None
        smiles = row.get("canonical_smiles") if isinstance(row, dict) else None
        if not smiles:
            self.context.notifier.show_error(
                "Select a molecule in a library first (Libraries area)."
            )
            return None
        self._library_smiles_explained = smiles
        return self.explain(str(smiles))

    def _watch_library(self, library: LibraryView | None) -> None:
        if library is self._library:
            return
        if self._library is not None:
            try:
                self._library.current_row_changed.disconnect(self._on_library_row)
            except (RuntimeError, TypeError, AttributeError):
                pass
        self._library = library
        # A library tab says when its current row changes (LibraryPanel.current_row_changed).
        row_changed = getattr(library, "current_row_changed", None)
        if row_changed is not None:
            row_changed.connect(self._on_library_row)

    def _area_visible(self) -> bool:
        return (self._area or self).isVisible()

    def _on_library_row(self, row) -> None:
        smiles = row.get("canonical_smiles") if isinstance(row, dict) else None
        self._library_smiles = str(smiles) if smiles else None
        if self._area_visible() and self._library_smiles:
            self._library_smiles_explained = self._library_smiles
            self.explain(self._library_smiles)

    def area_shown(self) -> None:
        """The area came into view: follow the current library, and explain its current row if
        it is not the one explained last."""
        self._watch_library(self.context.libraries.current_library())
        library = self._library
        if library is not None:
            row = library.current_row()
            self._library_smiles = (row or {}).get("canonical_smiles") if row else None
        if (
            self._library_smiles
            and self._library_smiles != self._library_smiles_explained
            and self._model is not None
        ):
            self._library_smiles_explained = self._library_smiles
            self.explain(str(self._library_smiles))
