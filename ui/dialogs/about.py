"""Help > About: versions of DrugDesk and its libraries, the compute device, and file locations."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from core import __version__

LIBRARIES = (
    "PySide6-Essentials",
    "rdkit",
    "torch",
    "transformers",
    "pandas",
    "numpy",
    "pyqtgraph",
    "vtk",
    "openpyxl",
)


def library_versions() -> dict[str, str]:
    """Installed versions read from package metadata (importing torch or vtk would be slow)."""
    versions = {"Python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class AboutDialog(QDialog):
    def __init__(
        self, device_text: str, paths: dict[str, str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DrugDesk")
        self.device_label = QLabel()
        self.set_device_text(device_text)
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in library_versions().items())
        places = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in paths.items())
        text = QLabel(
            f"<h2>DrugDesk {__version__}</h2>"
            "<p>A desktop workbench for AI-assisted early drug discovery.</p>"
            f"<table cellspacing='6'>{rows}</table>"
            f"<p><b>Files</b></p><table cellspacing='6'>{places}</table>"
        )
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.device_label)
        layout.addWidget(buttons)

    def set_device_text(self, text: str) -> None:
        self.device_label.setText(f"<b>Compute device:</b> {text}")
