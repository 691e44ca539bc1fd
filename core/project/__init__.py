"""Projects: one SQLite file holding libraries, computed columns, profiles, flags and notes."""
