"""DrugDesk application wiring: main window, inference engine, settings, command line."""

__version__ = "0.1.0"
