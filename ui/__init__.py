"""Qt widgets and models; imports ``core``, never ``app``."""
