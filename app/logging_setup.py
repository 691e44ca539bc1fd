"""Logging to a rotating file in the user's data folder (and to stderr for warnings)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from core.paths import log_dir

LOG_FILE_NAME = "drugdesk.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send log records to ``<data dir>/logs/drugdesk.log``; returns the path, or None if unwritable."""
    root = logging.getLogger()
    if getattr(root, "_drugdesk_configured", False):
        return getattr(root, "_drugdesk_log_path", None)
    root.setLevel(level)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(formatter)
    root.addHandler(console)
    path: Path | None = log_dir() / LOG_FILE_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(formatter)
        root.addHandler(handler)
    except OSError as exc:
        logging.getLogger(__name__).warning("Cannot write the log file %s: %s", path, exc)
        path = None
    root._drugdesk_configured = True  # type: ignore[attr-defined]
    root._drugdesk_log_path = path  # type: ignore[attr-defined]
    return path
