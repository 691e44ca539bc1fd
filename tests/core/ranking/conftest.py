"""Scoring tests leave no model worker process behind (other tests count child processes)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_model_worker_left():
    yield
    from core.ranking.scoring import shutdown_model_worker

    shutdown_model_worker()
