"""Edit > Preferences: compute device, the Dask cluster, library loading and display settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
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

from core.cluster import ClusterAddressError, parse_cluster_address
from core.settings import Settings

CLUSTER_HELP = (
    "Where 'on the cluster' work runs (File > On the cluster: properties, score, search): "
    "tcp://HOST:PORT or tls://HOST:PORT for a running Dask scheduler, local:N for N worker "
    "processes on this computer, slurm:N for N Slurm jobs. A scheduler runs the code it is "
    "sent: connect only to one you trust. Empty: this computer only."
)

DEVICE_TITLES = (
    ("Automatic (CUDA, then Apple MPS, then CPU)", "auto"),
    ("CPU", "cpu"),
    ("NVIDIA GPU (CUDA)", "cuda"),
    ("Apple GPU (MPS)", "mps"),
)


PRECISION_TITLES = (
    ("Automatic (bfloat16 on a GPU, float32 on the CPU)", "auto"),
    ("float32 (exact)", "float32"),
    ("bfloat16 (about 2× faster on CPUs with AMX or AVX-512 BF16)", "bfloat16"),
)
PRECISION_HELP = (
    "How the SMILES transformer models predict when a library is scored. bfloat16 keeps 8 "
    "bits of mantissa: predictions move by about 0.005 pIC50 (1 % of the target's spread) and "
    "the ranking barely changes (benchmarks/RESULTS.md); on CPUs without bf16 hardware it is "
    "slower than float32."
)


class PreferencesDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        test_cluster: Callable[[str], Any] | None = None,
    ) -> None:
        """``test_cluster(address)`` starts a connection test in the engine and returns its
        job handle (the window's); without it the Test button is hidden."""
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._settings = settings
        self._test_cluster = test_cluster
        self._test_handle = None
        self.device_box = QComboBox()
        for title, value in DEVICE_TITLES:
            self.device_box.addItem(title, value)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.compute_device)))
        self.precision_box = QComboBox()
        for title, value in PRECISION_TITLES:
            self.precision_box.addItem(title, value)
        self.precision_box.setToolTip(PRECISION_HELP)
        self.precision_box.setCurrentIndex(
            max(0, self.precision_box.findData(settings.inference_precision))
        )
        self.workers_box = QSpinBox()
        self.workers_box.setRange(0, 64)
        self.workers_box.setSpecialValueText("One per core")
        self.workers_box.setValue(settings.load_workers)
        self.cleanup_box = QCheckBox("Clean up (normalise groups, reionise, disconnect metals)")
        self.cleanup_box.setChecked(settings.standardize_cleanup)
        self.fragment_box = QCheckBox("Keep the largest fragment (strip salts and solvents)")
        self.fragment_box.setChecked(settings.standardize_largest_fragment)
        self.neutralize_box = QCheckBox("Neutralise charges")
        self.neutralize_box.setChecked(settings.standardize_neutralize)
        self.tautomer_box = QCheckBox("Canonical tautomer (slow)")
        self.tautomer_box.setChecked(settings.standardize_canonical_tautomer)
        self.picture_width = QSpinBox()
        self.picture_width.setRange(60, 600)
        self.picture_width.setSuffix(" px")
        self.picture_width.setValue(settings.structure_width)
        self.picture_height = QSpinBox()
        self.picture_height.setRange(40, 400)
        self.picture_height.setSuffix(" px")
        self.picture_height.setValue(settings.structure_height)

        self.scheduler_edit = QLineEdit(settings.dask_scheduler)
        self.scheduler_edit.setPlaceholderText("tcp://host:8786, local:4 or slurm:8")
        self.scheduler_edit.setToolTip(CLUSTER_HELP)
        self.scheduler_edit.setClearButtonEnabled(True)
        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Connect, check the workers' versions and count them")
        self.test_button.clicked.connect(self.test_connection)
        self.test_button.setVisible(test_cluster is not None)
        self.scheduler_status = QLabel()
        self.scheduler_status.setWordWrap(True)
        scheduler_row = QHBoxLayout()
        scheduler_row.addWidget(self.scheduler_edit, 1)
        scheduler_row.addWidget(self.test_button)

        compute = QGroupBox("Compute")
        compute_form = QFormLayout(compute)
        compute_form.addRow("Device for models:", self.device_box)
        compute_form.addRow("Model precision:", self.precision_box)
        compute_form.addRow("Processes for loading:", self.workers_box)
        compute_form.addRow("Dask scheduler:", scheduler_row)
        compute_form.addRow("", self.scheduler_status)
        standardise = QGroupBox("Standardisation when loading (RDKit MolStandardize)")
        standardise_layout = QVBoxLayout(standardise)
        for box in (self.cleanup_box, self.fragment_box, self.neutralize_box, self.tautomer_box):
            standardise_layout.addWidget(box)
        display = QGroupBox("Structure pictures in tables")
        display_form = QFormLayout(display)
        display_form.addRow("Width:", self.picture_width)
        display_form.addRow("Height:", self.picture_height)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.scheduler_edit.textChanged.connect(self._check_scheduler)
        self._check_scheduler(self.scheduler_edit.text())
        layout = QVBoxLayout(self)
        layout.addWidget(compute)
        layout.addWidget(standardise)
        layout.addWidget(display)
        layout.addWidget(buttons)

    def _check_scheduler(self, text: str) -> bool:
        """Say what the address names (or what is wrong with it); OK only for a valid one."""
        text = text.strip()
        valid = True
        if not text:
            message = "This computer only."
        else:
            try:
                spec = parse_cluster_address(text)
            except ClusterAddressError as error:
                message, valid = str(error), False
            else:
                if spec.kind == "local":
                    message = (
                        f"A local cluster of {spec.n_workers} worker processes, started when "
                        "needed."
                    )
                elif spec.kind == "slurm":
                    message = f"{spec.n_workers} Slurm jobs (settings: dask-jobqueue's config)."
                else:
                    message = (
                        f"The Dask scheduler at {spec.address}: connect only to one you trust."
                    )
        self.scheduler_status.setStyleSheet("" if valid else "color: #b00020;")
        self.scheduler_status.setText(message)
        self.ok_button.setEnabled(valid)
        self.test_button.setEnabled(valid and bool(text))
        return valid

    def test_connection(self) -> None:
        if self._test_cluster is None or not self._check_scheduler(self.scheduler_edit.text()):
            return
        address = self.scheduler_edit.text().strip()
        self.scheduler_status.setStyleSheet("")
        self.scheduler_status.setText(f"Connecting to {address}…")
        self.test_button.setEnabled(False)
        handle = self._test_cluster(address)
        self._test_handle = handle
        handle.finished.connect(lambda info, h=handle: self._on_tested(h, info.describe(), True))
        handle.failed.connect(lambda message, h=handle: self._on_tested(h, message, False))
        handle.cancelled.connect(lambda h=handle: self._on_tested(h, "Test cancelled.", False))

    def _on_tested(self, handle, message: str, ok: bool) -> None:
        if handle is not self._test_handle:
            return
        self._test_handle = None
        self.test_button.setEnabled(True)
        self.scheduler_status.setStyleSheet("color: #1b5e20;" if ok else "color: #b00020;")
        self.scheduler_status.setText(message)

    def result_settings(self) -> Settings:
        """A copy of the settings with the dialog's values."""
        return replace(
            self._settings,
            compute_device=self.device_box.currentData(),
            inference_precision=self.precision_box.currentData(),
            load_workers=self.workers_box.value(),
            standardize_cleanup=self.cleanup_box.isChecked(),
            standardize_largest_fragment=self.fragment_box.isChecked(),
            standardize_neutralize=self.neutralize_box.isChecked(),
            standardize_canonical_tautomer=self.tautomer_box.isChecked(),
            structure_width=self.picture_width.value(),
            structure_height=self.picture_height.value(),
            recent_files=list(self._settings.recent_files),
            dask_scheduler=self.scheduler_edit.text().strip(),
        )
