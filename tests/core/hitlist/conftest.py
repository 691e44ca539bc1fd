"""Scoring tests leave no model host process behind (other tests count child processes)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_model_host_left():
    yield
    from core.modelhost import close_shared_host

    close_shared_host()
