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


@pytest.fixture
def make_panel(qtbot, context, finalize_later):
    """``make_panel()``: a new Proteins panel on ``context``, shown at 1100×700 (a test may make
    a second one to restore into); finalised after the test."""
    from ui.protein.panel import ProteinPanel

    def make() -> ProteinPanel:
        panel = ProteinPanel(context)
        qtbot.addWidget(panel)
        finalize_later(panel)
        panel.resize(1100, 700)
        panel.show()
        qtbot.waitExposed(panel)
        return panel

    return make


@pytest.fixture
def panel(make_panel):
    """A Proteins panel on ``context``, shown."""
    return make_panel()


@pytest.fixture
def demo_panel(panel, qtbot):
    """``panel`` with the demo complex (1HVR with XK2) open."""
    with qtbot.waitSignal(panel.structure_changed, timeout=60_000):
        panel.open_demo()
    return panel
