"""Chemistry: reading compound files, standardisation, properties, depiction and export."""
