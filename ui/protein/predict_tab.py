"""The Proteins area's *Predict* tab: fold a sequence with ESMFold.

The sequence, the weights folder and the chunk size are checked here
(:meth:`PredictTab.folding_inputs`), so a typo or missing weights are explained at once; folding
itself is a job, which the panel runs and whose result it shows here (:meth:`PredictTab.show_result`:
mean pLDDT, pTM and the predicted aligned error plot).

When the weights are missing, "Download ESMFold weights…" asks the panel to fetch them into the
Hugging Face cache (:mod:`core.protein.esm_weights`; a second click while it runs cancels, the next
one resumes). "Predict on the web (ESM Atlas)" folds sequences of up to 400 residues on Meta's
service (:mod:`core.protein.esm_atlas`) after asking, every time, whether the sequence may leave
the computer (:meth:`PredictTab.web_inputs`); no answer is remembered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

ERROR_STYLE = "color: #8a1c12;"


@dataclass(frozen=True, slots=True)
class FoldingInputs:
    """A checked request to fold: the clean sequence, the weights folder, the chunk size."""

    sequence: str
    weights: str
    chunk: int | None


class PredictTab(QWidget):
    """Sequence, ESMFold weights and chunk size; the prediction's confidence and PAE plot."""

    predict_requested = Signal()  # "Predict structure"
    web_predict_requested = Signal()  # "Predict on the web (ESM Atlas)"
    download_requested = Signal()  # "Download ESMFold weights…" (or resume)
    download_cancel_requested = Signal()  # the same button while a download runs

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.predict_button.clicked.connect(lambda: self.predict_requested.emit())
        self.web_button = QPushButton("Predict on the web (ESM Atlas)")
        self.web_button.setToolTip(
            "Fold up to 400 residues on the ESM Atlas service (api.esmatlas.com): the sequence "
            "is sent there, after you agree"
        )
        self.web_button.clicked.connect(lambda: self.web_predict_requested.emit())
        self.download_button = QPushButton()
        self.download_button.clicked.connect(self._on_download_clicked)
        self.downloading = False
        self.predict_label = QLabel(
            "Weights: leave the folder empty to use the Hugging Face cache (facebook/esmfold_v1), "
            "or choose a folder. DrugDesk downloads them only when you ask."
        )
        self.predict_label.setWordWrap(True)
        self.predict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pae_host = QWidget()
        self.pae_host.setMinimumHeight(220)
        self.pae_layout = QVBoxLayout(self.pae_host)
        self.pae_layout.setContentsMargins(0, 0, 0, 0)
        self.pae_plot = None
        self.pae_image = None

        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights_edit, 1)
        weights_row.addWidget(self.weights_button)
        form = QFormLayout()
        form.addRow("Chunk size:", self.chunk_spin)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Sequence:"))
        layout.addWidget(self.sequence_edit)
        layout.addWidget(QLabel("ESMFold weights:"))
        layout.addLayout(weights_row)
        layout.addWidget(self.download_button)
        layout.addLayout(form)
        layout.addWidget(self.predict_button)
        layout.addWidget(self.web_button)  # stacked: the tab is about 300 px wide
        layout.addWidget(self.predict_label)
        layout.addWidget(self.pae_host, 1)

        self.weights_edit.textChanged.connect(lambda _text: self.refresh_weights_state())
        self.refresh_weights_state()

    def _on_weights_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "ESMFold weights folder")
        if folder:
            self.weights_edit.setText(folder)

    # ------------------------------------------------------------------------------------------
    # Downloading the weights

    def refresh_weights_state(self) -> None:
        """Show "Download ESMFold weights (size)…" only while the weights are missing (no folder
        chosen, none in the Hugging Face cache); "Resume…" when a partial download is kept. Reads
        the disk only (no network)."""
        from core.protein.esm_weights import APPROX_TOTAL_BYTES, format_bytes, weights_status

        if self.downloading:
            self.download_button.setText("Cancel download")
            self.download_button.setVisible(True)
            return
        status = weights_status()
        missing = not self.weights_edit.text().strip() and not status.complete
        self.download_button.setVisible(missing)
        size = format_bytes(APPROX_TOTAL_BYTES)
        if status.partial_bytes:
            self.download_button.setText(
                f"Resume weights download ({format_bytes(status.partial_bytes)} of {size})…"
            )
        else:
            self.download_button.setText(f"Download ESMFold weights ({size})…")
        self.download_button.setToolTip(
            status.describe() + "\nFrom HF_ENDPOINT (default https://huggingface.co) into the "
            "Hugging Face cache (HF_HOME); checked against the hub's checksums."
        )

    def _on_download_clicked(self) -> None:
        if self.downloading:
            self.download_cancel_requested.emit()
        else:
            self.download_requested.emit()

    def set_download_running(self, running: bool) -> None:
        """The button cancels while a download runs; afterwards it offers to resume."""
        self.downloading = running
        self.refresh_weights_state()

    def weights_downloaded(self, folder) -> None:
        """A finished download: the button goes, the label says where the weights are."""
        self.set_download_running(False)
        self.predict_label.setStyleSheet("")
        self.predict_label.setText(f"ESMFold weights downloaded to {folder}.")

    # ------------------------------------------------------------------------------------------
    # Folding on the web

    def web_inputs(self, sequence: str | None = None) -> str | None:
        """The sequence to fold on ESM Atlas once checked (at most 400 residues) and once the user
        agreed to send it; None, with the reason shown, otherwise. Asks every time."""
        from core.protein.esm_atlas import WebFoldError, check_web_sequence

        text = sequence if sequence is not None else self.sequence_edit.toPlainText()
        try:
            clean = check_web_sequence(text)
        except WebFoldError as exc:
            self.show_failure(str(exc))
            return None
        if not self.confirm_web_fold(len(clean)):
            self.predict_label.setStyleSheet("")
            self.predict_label.setText("Not sent: the sequence stayed on this computer.")
            return None
        self.predict_label.setStyleSheet("")
        self.predict_label.setText(f"Folding {len(clean)} residues on ESM Atlas…")
        return clean

    def confirm_web_fold(self, length: int) -> bool:
        """Ask whether the sequence may be sent to the ESM Atlas service (default: No)."""
        from core.protein.esm_atlas import esmatlas_host

        answer = QMessageBox.question(
            self,
            "Send the sequence to ESM Atlas?",
            f"Predict on the web sends this sequence ({length} residues) to the ESM Atlas "
            f"fold service at {esmatlas_host()} (run by Meta), which folds it with ESMFold and "
            "sends the structure back.\n\nThe sequence leaves this computer. Do not send "
            "confidential sequences.\n\nSend it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def folding_inputs(self, sequence: str | None = None) -> FoldingInputs | None:
        """Check ``sequence`` (default: the one typed here) and the weights; None, with the
        reason shown under the button, when either will not do."""
        from core.protein.prediction import (
            HOW_TO_GET_WEIGHTS,
            PredictionError,
            check_weights,
            clean_sequence,
            find_weights,
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
            self.show_failure(str(exc))
            return None
        self.predict_label.setStyleSheet("")
        self.predict_label.setText(f"Folding {len(clean)} residues…")
        return FoldingInputs(clean, str(found), self.chunk_spin.value() or None)

    def show_failure(self, message: str) -> None:
        self.predict_label.setStyleSheet(ERROR_STYLE)
        self.predict_label.setText(message)

    def show_result(self, result) -> None:
        """Show a finished prediction's confidence and its predicted aligned error."""
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
