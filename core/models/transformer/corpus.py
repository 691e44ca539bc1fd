"""SMILES to pretrain on: the MOSES training set that molsets ships, or a file of one's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def moses_corpus_path() -> Path:
    """The MOSES training SMILES shipped by the ``molsets`` package (1.58 M SMILES).

    Raises
    ------
    ValueError
        When molsets is not installed (``pip install --no-deps molsets``).
    """
    import importlib.util

    # A plain "import moses" fails (its dependencies do not install on 3.11); find_spec does not
    # execute the package.
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "The MOSES corpus needs the molsets package: pip install --no-deps molsets"
        )
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "data" / "train.csv.gz"
    if not path.is_file():
        raise ValueError(f"molsets is installed but {path} is missing")
    return path


def read_corpus(source: str | Path, max_molecules: int | None = None, seed: int = 0) -> list[str]:
    """Read SMILES for pretraining.

    Parameters
    ----------
    source
        ``"moses"`` for the MOSES training set, a ``.csv``/``.csv.gz`` with a ``SMILES`` (or
        ``smiles``) column, or a text file with a SMILES first on each line.
    max_molecules
        Keep a random subset of this size (seeded), when given.
    seed
        Seed for the subset.
    """
    import pandas as pd

    path = moses_corpus_path() if str(source).lower() == "moses" else Path(source)
    if not path.is_file():
        raise ValueError(f"Corpus file not found: {path}")
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        frame = pd.read_csv(path)
        column = next((c for c in frame.columns if c.lower() == "smiles"), None)
        if column is None:
            raise ValueError(f"{path} has no SMILES column (columns: {list(frame.columns)})")
        smiles = [str(s) for s in frame[column].dropna()]
    else:
        smiles = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if parts and not parts[0].startswith("#"):
                smiles.append(parts[0])
    if not smiles:
        raise ValueError(f"{path} holds no SMILES")
    if max_molecules is not None and max_molecules < len(smiles):
        keep = np.random.default_rng(seed).choice(len(smiles), max_molecules, replace=False)
        smiles = [smiles[i] for i in np.sort(keep)]
    return smiles
