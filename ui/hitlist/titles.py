"""Axis titles with units for library columns ("MW (Da)", "TPSA (Å²)"), for the chart and the
desirability curves."""

from __future__ import annotations

from functools import lru_cache

TITLES: dict[str, str] = {
    "mw": "MW (Da)",
    "clogp": "cLogP",
    "tpsa": "TPSA (Å²)",
    "hbd": "H-bond donors (count)",
    "hba": "H-bond acceptors (count)",
    "rotb": "Rotatable bonds (count)",
    "qed": "QED (0–1)",
    "sa_score": "SA score (1 easy – 10 hard)",
    "fsp3": "Fsp3 (0–1)",
    "lipinski_violations": "Ro5 violations (count)",
    "score": "Score (0–1)",
    "rank": "Rank",
    "cns_mpo": "CNS MPO (0–6)",
    "basic_pka": "Most basic pKa (estimated)",
    "similarity": "Tanimoto similarity (0–1)",
    "cluster": "Butina cluster (number)",
    "cluster_size": "Cluster size (molecules)",
    "scaffold_group": "Scaffold group (number)",
    "scaffold_size": "Scaffold size (molecules)",
    "pick_order": "Diverse pick order",
}
"""Known columns; units in brackets, none for logarithms (cLogP) and plain numbers."""


@lru_cache(maxsize=1)
def _admet_titles() -> dict[str, str]:
    try:
        from core.hitlist.admet import AdmetUnavailable, endpoints
    except ImportError:
        return {}
    try:
        points = endpoints()
    except (AdmetUnavailable, OSError, ValueError):
        return {}
    titles = {}
    for endpoint in points:
        units = endpoint.display_units
        titles[endpoint.column] = f"{endpoint.name} ({units})" if units else endpoint.name
        titles[endpoint.percentile_column] = f"{endpoint.name}, percentile among approved drugs"
    return titles


def axis_title(column: str) -> str:
    """A column's name for an axis, with its units where they are known."""
    column = str(column)
    if column in TITLES:
        return TITLES[column]
    if column.startswith("admet_"):
        title = _admet_titles().get(column)
        if title:
            return title
    if column.startswith("d_"):
        return f"Desirability of {axis_title(column[2:]).split(' (')[0]} (0–1)"
    if column.endswith("_std"):
        return f"{axis_title(column[:-4])}, ensemble s.d."
    return column
