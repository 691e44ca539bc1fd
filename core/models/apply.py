"""Apply a trained model to a compound library: one column per target (+ ``<target>_std``), its
calibrated uncertainty (an interval, or a calibrated probability and a prediction set) and where
each molecule lies relative to the model's training molecules (the applicability domain)."""

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
    coverage: float = 0.9,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> pd.DataFrame:
    """Predict every valid molecule of a library with a trained model's chosen predictor: the
    family or weighted mix of families chosen on the validation part (card ``"chosen"``, see
    :mod:`core.models.families`), or the transformer for a folder without one.

    Parameters
    ----------
    model_dir
        A fine-tuned model folder (from the registry).
    smiles
        The library's SMILES (e.g. ``canonical_smiles``), indexed like the library table.
    valid
        Booleans with the same index: rows to predict (others get NaN). Default: non-empty SMILES.
    coverage
        Of the conformal intervals and prediction sets (default 0.9).

    Returns
    -------
    pandas.DataFrame
        Same index as ``smiles``; per target (in this order) the prediction (probability of
        class 1, or the value), ``<target>_std`` for an ensemble of more than one model, a
        forest or a mix of families (the mixture's spread: within and between families),
        ``<target>_lower``/``<target>_upper`` (regression: the conformal interval holding the
        measured value with probability ``coverage``) or ``<target>_calibrated`` and
        ``<target>_set`` (classification: the calibrated probability and the prediction set,
        ``"{0}"``, ``"{1}"``, ``"{0,1}"`` or ``"{}"``), empty for a model without a stored
        calibration (see :mod:`core.models.calibration_store`),
        ``<target>_nearest_train_similarity`` (largest ECFP4 Tanimoto similarity to the model's
        training molecules) and ``<target>_in_domain`` (nullable boolean: that similarity reaches
        the threshold on the model card). The domain is the model's, so the last two are the same
        for every target; each target has its own pair so that several models applied to one
        library each keep theirs. A model without a stored domain (trained before domains
        were stored) gives missing values there: "domain unknown".

    Raises
    ------
    ValueError
        When the folder is not a fine-tuned model, its stored domain or calibration is
        malformed, or ``coverage`` is not between 0 and 1.
    """
    from core.chem.readers import strip_cxsmiles_extension
    from core.models.calibration_store import calibration_columns, load_calibration
    from core.models.domain import IN_DOMAIN_SUFFIX, SIMILARITY_SUFFIX, in_domain_flags, load_domain
    from core.models.families import load_choice, predict_with_choice
    from core.models.transformer import FINETUNED_KIND, load_model

    model = load_model(Path(model_dir), device or "cpu", model_cache)
    if model.kind != FINETUNED_KIND:
        raise ValueError(f"{Path(model_dir).name} is a pretrained model: it predicts no property")
    # A malformed domain is refused before the long prediction, not after it.
    domain = load_domain(model_dir)
    calibration = load_calibration(model_dir)
    choice = load_choice(model_dir, model.card)
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must lie between 0 and 1, not {coverage}")
    task = str(model.card.get("task", ""))
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
    similarity = np.full(len(texts), np.nan)
    spread = len(model.members) > 1 or (
        choice is not None and (len(choice.families) > 1 or "rf" in choice.families)
    )
    if mask.any():
        chosen = list(texts[mask])
        result = predict_with_choice(
            model_dir,
            chosen,
            transformer=model,
            choice=choice,
            device=device,
            model_cache=model_cache,
            progress=lambda f, m="": progress(0.9 * f if f >= 0 else f, m),
            is_cancelled=is_cancelled,
        )
        mean[mask], std[mask] = result.mean, result.std
        spread = result.has_spread
        if domain is not None:
            similarity[mask] = domain.check(
                chosen,
                progress=lambda f, m="": progress(0.9 + 0.1 * max(f, 0.0), m),
                is_cancelled=is_cancelled,
            ).similarity
    flags = in_domain_flags(similarity, None if domain is None else domain.threshold)
    progress(1.0, f"Predicted {int(mask.sum()):,} molecules")
    frame = pd.DataFrame(index=smiles.index)
    for i, name in enumerate(names):
        frame[name] = mean[:, i]
        if spread:
            frame[f"{name}_std"] = std[:, i]
        for column, values in calibration_columns(
            calibration, task, name, mean[:, i], coverage, std=std[:, i]
        ).items():
            frame[column] = values
        frame[f"{name}{SIMILARITY_SUFFIX}"] = similarity
        frame[f"{name}{IN_DOMAIN_SUFFIX}"] = pd.array(flags, dtype="boolean")
    return frame
