"""Command-line sub-commands kept in modules of their own (registered in ``app.cli``)."""
