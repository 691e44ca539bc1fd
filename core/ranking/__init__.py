"""Ranking compounds: desirability profiles (multi-parameter optimisation) and scoring."""
