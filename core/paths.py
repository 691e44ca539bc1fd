"""Where DrugDesk keeps settings, logs and data (platform conventions, overridable for tests)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "DrugDesk"


def config_dir() -> Path:
    """Settings folder: ``$DRUGDESK_CONFIG_DIR`` or the platform's user config dir."""
    override = os.environ.get("DRUGDESK_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, False))


def data_dir() -> Path:
    """Data folder (models, caches, logs): ``$DRUGDESK_DATA_DIR`` or the user data dir."""
    override = os.environ.get("DRUGDESK_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))


def log_dir() -> Path:
    return data_dir() / "logs"
