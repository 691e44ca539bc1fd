"""DrugDesk application wiring: main window, inference engine, settings, command line."""

from core import __version__

__all__ = ["__version__"]
