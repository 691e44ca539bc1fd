"""The Clinical trials panel: data, baseline table, survival, design and simulation tabs."""
