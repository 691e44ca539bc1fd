"""Hit lists: ranking compounds by multi-parameter desirability profiles, scoring libraries with
models and ADMET predictions, the pKa estimate CNS MPO needs, and hit-list reports.

The same feature is ``ui/hitlist`` in the window (the tools beside each library table in the
Libraries area) and ``drugdesk score`` on the command line.
"""
