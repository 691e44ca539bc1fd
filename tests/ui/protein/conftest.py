"""What a Proteins test is given: an ``AreaContext`` of the engine and stand-ins of
tests/ui/conftest.py, by the names the tests use: ``notifier`` records what the panel tells the
user, ``molecules`` holds the Molecule panel's molecule."""

from __future__ import annotations

import pytest


@pytest.fixture
def notifier(recording_notifier):
    return recording_notifier


@pytest.fixture
def molecules(molecule_holder):
    return molecule_holder


@pytest.fixture
def context(engine, make_area_context):
    return make_area_context(engine)
