"""Icons, demo files and shipped models, read through importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_path(relative: str) -> Path:
    """A file shipped in this package, e.g. ``resource_path("demo/example_library.smi")``."""
    traversable = resources.files(__name__).joinpath(relative)
    with resources.as_file(traversable) as path:
        return Path(path)
