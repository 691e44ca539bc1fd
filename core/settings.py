"""Typed user settings, stored as JSON in the user's config folder.

Unknown keys are ignored and wrong types fall back to defaults, so a hand-edited or older settings
file never stops the app from starting.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.compute import PRECISION_CHOICES
from core.paths import config_dir

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
MAX_RECENT_FILES = 10
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(slots=True)
class Settings:
    compute_device: str = "auto"
    """``auto`` (CUDA, then Apple MPS, then CPU) or one of ``cpu``, ``cuda``, ``mps``."""
    load_workers: int = 0
    """Processes used to load libraries; 0 = one per core."""
    standardize_cleanup: bool = True
    standardize_largest_fragment: bool = True
    standardize_neutralize: bool = True
    standardize_canonical_tautomer: bool = False
    structure_width: int = 150
    structure_height: int = 100
    recent_files: list[str] = field(default_factory=list)
    dask_scheduler: str = ""
    inference_precision: str = "auto"
    """How models predict (:data:`core.compute.PRECISION_CHOICES`): ``auto``, ``float32`` or
    ``bfloat16``."""
    """Where "on the cluster" work runs: ``tcp://host:port``, ``tls://host:port``, ``local:N``
    or ``slurm:N`` (see :mod:`core.cluster`); empty: this computer only."""

    # ------------------------------------------------------------------------------------------
    @classmethod
    def path(cls) -> Path:
        return config_dir() / SETTINGS_FILE

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or cls.path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("Ignoring unreadable settings file %s: %s", path, exc)
            return cls()
        if not isinstance(raw, dict):
            return cls()
        settings = cls()
        for spec in fields(cls):
            if spec.name not in raw:
                continue
            value = raw[spec.name]
            default = getattr(settings, spec.name)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, list):
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            else:
                ok = isinstance(value, type(default))
            if ok:
                setattr(settings, spec.name, value)
            else:
                log.warning("Ignoring setting %s=%r (wrong type)", spec.name, value)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.compute_device not in DEVICE_CHOICES:
            self.compute_device = "auto"
        if self.inference_precision not in PRECISION_CHOICES:
            self.inference_precision = "auto"
        self.load_workers = max(0, min(self.load_workers, 64))
        self.structure_width = max(60, min(self.structure_width, 600))
        self.structure_height = max(40, min(self.structure_height, 400))
        self.recent_files = self.recent_files[:MAX_RECENT_FILES]
        if self.dask_scheduler.strip():
            from core.cluster import ClusterAddressError, parse_cluster_address

            try:
                self.dask_scheduler = str(parse_cluster_address(self.dask_scheduler))
            except ClusterAddressError as error:
                log.warning("Ignoring setting dask_scheduler: %s", error)
                self.dask_scheduler = ""
        else:
            self.dask_scheduler = ""

    def save(self, path: Path | None = None) -> None:
        """Write atomically: a crash or a full disk while saving keeps the previous file.

        Raises
        ------
        core.fileio.OutputError
            When the file cannot be written (an :class:`OSError` naming the file and the reason).
        """
        from core.fileio import OutputError, describe_write_error, write_text_atomic

        path = path or self.path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            reason = describe_write_error(error, path.parent)
            raise OutputError.about(path, reason, error.errno) from error
        write_text_atomic(path, json.dumps(asdict(self), indent=2))

    def add_recent_file(self, file: str | os.PathLike) -> None:
        text = str(Path(file).resolve())
        self.recent_files = [text] + [f for f in self.recent_files if f != text]
        self.recent_files = self.recent_files[:MAX_RECENT_FILES]

    def standardize_options(self):
        from core.chem.standardize import StandardizeOptions

        return StandardizeOptions(
            cleanup=self.standardize_cleanup,
            largest_fragment=self.standardize_largest_fragment,
            neutralize=self.standardize_neutralize,
            canonical_tautomer=self.standardize_canonical_tautomer,
        )
