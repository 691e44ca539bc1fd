"""Edit > Preferences: compute device, library loading and display settings."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.settings import Settings

DEVICE_TITLES = (
    ("Automatic (CUDA, then Apple MPS, then CPU)", "auto"),
    ("CPU", "cpu"),
    ("NVIDIA GPU (CUDA)", "cuda"),
    ("Apple GPU (MPS)", "mps"),
)


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._settings = settings
        self.device_box = QComboBox()
        for title, value in DEVICE_TITLES:
            self.device_box.addItem(title, value)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.compute_device)))
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

        compute = QGroupBox("Compute")
        compute_form = QFormLayout(compute)
        compute_form.addRow("Device for models:", self.device_box)
        compute_form.addRow("Processes for loading:", self.workers_box)
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
        layout = QVBoxLayout(self)
        layout.addWidget(compute)
        layout.addWidget(standardise)
        layout.addWidget(display)
        layout.addWidget(buttons)

    def result_settings(self) -> Settings:
        """A copy of the settings with the dialog's values."""
        return replace(
            self._settings,
            compute_device=self.device_box.currentData(),
            load_workers=self.workers_box.value(),
            standardize_cleanup=self.cleanup_box.isChecked(),
            standardize_largest_fragment=self.fragment_box.isChecked(),
            standardize_neutralize=self.neutralize_box.isChecked(),
            standardize_canonical_tautomer=self.tautomer_box.isChecked(),
            structure_width=self.picture_width.value(),
            structure_height=self.picture_height.value(),
            recent_files=list(self._settings.recent_files),
        )
