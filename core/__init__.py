"""DrugDesk domain logic: chemistry, models, storage.

Nothing in this package imports Qt, VTK, pyqtgraph, ``ui`` or ``app`` (``tests/core/test_layering.py``
fails when something does), so every function here runs the same from a notebook, the command line
or the engine thread.
"""

__version__ = "0.1.0"
"""DrugDesk's version (``pyproject.toml`` says the same; the About box and ``--version`` show it)."""
