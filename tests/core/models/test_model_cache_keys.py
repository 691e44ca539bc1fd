"""A model kept in the model host's cache is read again when its folder is rewritten: a model
retrained into the same folder is never served stale from memory."""

from __future__ import annotations

import os
import shutil

import pytest

from core.compute import ModelCache
from core.models.transformer import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_cache_serves_a_folder_once_and_again_after_it_changes(tiny_pretrained, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_pretrained, folder)
    cache = ModelCache()
    first = load_model(folder, "cpu", cache)
    assert load_model(folder, "cpu", cache) is first  # unchanged folder: from memory
    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # rewritten
    again = load_model(folder, "cpu", cache)
    assert again is not first
    assert load_model(folder, "cpu", cache) is again
