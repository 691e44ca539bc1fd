"""Apply a trained model to a compound library: one column per target (+ ``<target>_std``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, no_progress


def predict_library(
    model_dir: str | os.PathLike,
    smiles: pd.Series,
    valid: pd.Series | None = None,
    *,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> pd.DataFrame:
    """Predict every valid molecule of a library with a fine-tuned transformer.

    Parameters
    ----------
    model_dir
        A fine-tuned model folder (from the registry).
    smiles
        The library's SMILES (e.g. ``canonical_smiles``), indexed like the library table.
    valid
        Booleans with the same index: rows to predict (others get NaN). Default: non-empty SMILES.

    Returns
    -------
    pandas.DataFrame
        Same index as ``smiles``; one column per target (probability of class 1, or the value)
        and ``<target>_std`` for an ensemble of more than one model.

    Raises
    ------
    ValueError
        When the folder is not a fine-tuned model.
    """
    from core.chem.readers import strip_cxsmiles_extension
    from core.models.transformer import FINETUNED_KIND, load_model, predict

    model = load_model(Path(model_dir), device or "cpu", model_cache)
    if model.kind != FINETUNED_KIND:
        raise ValueError(f"{Path(model_dir).name} is a pretrained model: it predicts no property")
    names = list(model.card["target_names"])
    # Models were trained on plain SMILES: a CXSMILES extension (" |&1:1|") is not model input.
    texts = smiles.fillna("").astype(str).map(strip_cxsmiles_extension)
    mask = texts.str.len().to_numpy() > 0
    if valid is not None:
        # eq(True): a row missing from ``valid`` or NaN there is not predicted (astype(bool)
        # would call NaN true), and no object-dtype downcast warning.
        mask &= valid.reindex(smiles.index).eq(True).to_numpy()
    mean = np.full((len(texts), len(names)), np.nan)
    std = np.full_like(mean, np.nan)
    if mask.any():
        result = predict(
            model,
            list(texts[mask]),
            device=device,
            progress=progress,
            is_cancelled=is_cancelled,
        )
        mean[mask], std[mask] = result.mean, result.std
    frame = pd.DataFrame(index=smiles.index)
    for i, name in enumerate(names):
        frame[name] = mean[:, i]
        if len(model.members) > 1:
            frame[f"{name}_std"] = std[:, i]
    return frame
