"""ADMET predictions from the Chemprop v2 models that the ``admet-ai`` package ships.

admet-ai (Swanson et al., Bioinformatics 2024) predicts 41 ADMET endpoints (absorption,
distribution, metabolism, excretion, toxicity) with 5-model Chemprop ensembles trained on the TDC
benchmark data, and places each value among DrugBank's approved drugs (a percentile from the
package's reference set). Its own RDKit physicochemical columns duplicate the library's and are
left out.

The package is imported only when a job asks for ADMET (it pulls in Lightning), and its progress
bars and banners are kept off the terminal. It silently drops SMILES it cannot read, so results are
aligned by SMILES, never by position.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

log = logging.getLogger(__name__)

PREFIX = "admet_"
PERCENTILE_SUFFIX = "_pct"
BATCH = 256
_QUIET_LOGGERS = ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning_fabric")
_model_lock = threading.Lock()
_model = None


class AdmetUnavailable(RuntimeError):
    """admet-ai is not installed or its model files are missing."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    name: str
    category: str
    task: str  # "classification" or "regression"
    units: str
    metric: str  # "AUROC 0.87" / "R² 0.74" from the package's own table

    @property
    def column(self) -> str:
        return PREFIX + self.id

    @property
    def percentile_column(self) -> str:
        return PREFIX + self.id + PERCENTILE_SUFFIX

    def description(self) -> str:
        value = "probability" if self.task == "classification" else self.units or "value"
        return f"{self.name} ({self.category}; {value}; admet-ai {self.metric})"


def package_dir() -> Path:
    spec = importlib.util.find_spec("admet_ai")
    if spec is None or not spec.submodule_search_locations:
        raise AdmetUnavailable(
            "ADMET predictions need the admet-ai package: pip install admet-ai==2.0.1"
        )
    return Path(spec.submodule_search_locations[0])


@lru_cache(maxsize=1)
def endpoints() -> tuple[Endpoint, ...]:
    """The model endpoints (not the RDKit physicochemical columns), from the package's table."""
    table = pd.read_csv(package_dir() / "resources" / "data" / "admet.csv")
    result = []
    for _, row in table.iterrows():
        if row["category"] == "Physicochemical":
            continue
        if row["task_type"] == "classification":
            metric = f"AUROC {row['AUROC']:.2f}" if not pd.isna(row["AUROC"]) else ""
        else:
            metric = f"R² {row['R^2']:.2f}" if not pd.isna(row["R^2"]) else ""
        units = "" if pd.isna(row["units"]) or row["units"] == "-" else str(row["units"])
        result.append(
            Endpoint(row["id"], row["name"], row["category"], row["task_type"], units, metric)
        )
    return tuple(result)


def column_notes() -> dict[str, str]:
    notes = {}
    for endpoint in endpoints():
        notes[endpoint.column] = endpoint.description()
        notes[endpoint.percentile_column] = (
            f"percentile of '{endpoint.name}' among DrugBank approved drugs (0–100)"
        )
    return notes


def _load_model():
    global _model
    with _model_lock:
        if _model is None:
            for name in _QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                from admet_ai import ADMETModel

                # num_workers=0: featurise in this thread (worker processes would fork a Qt app).
                _model = ADMETModel(num_workers=0)
        return _model


def predict_admet(
    smiles: Sequence[str],
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Values and percentiles, shape (n, 2 × endpoints): all values first, then all
    percentiles, in :func:`endpoints` order; NaN rows for SMILES admet-ai cannot read."""
    points = endpoints()
    model = _load_model()
    out = np.full((len(smiles), 2 * len(points)), np.nan)
    value_columns = [e.id for e in points]
    percentile_columns = [f"{e.id}_drugbank_approved_percentile" for e in points]
    for start in range(0, len(smiles), BATCH):
        check_cancelled(is_cancelled)
        batch = [s for s in smiles[start : start + BATCH]]
        readable = [s for s in batch if isinstance(s, str) and s]
        if readable:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                frame = model.predict(smiles=readable)
            if isinstance(frame, dict):  # a single SMILES comes back as a dict
                frame = pd.DataFrame([frame], index=readable[:1])
            frame = frame[~frame.index.duplicated()]
            aligned = frame.reindex(batch)
            out[start : start + len(batch), : len(points)] = aligned[value_columns].to_numpy(
                dtype=np.float64
            )
            out[start : start + len(batch), len(points) :] = aligned[percentile_columns].to_numpy(
                dtype=np.float64
            )
        done = min(start + BATCH, len(smiles))
        progress(done / max(len(smiles), 1), f"ADMET: {done:,} of {len(smiles):,} molecules")
    return out


def admet_frame(values: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Named columns (``admet_<id>``, then ``admet_<id>_pct``) from :func:`predict_admet` output."""
    points = endpoints()
    columns = {}
    for i, endpoint in enumerate(points):
        columns[endpoint.column] = values[:, i]
    for i, endpoint in enumerate(points):
        columns[endpoint.percentile_column] = values[:, len(points) + i]
    return pd.DataFrame(columns, index=index)


def is_available() -> bool:
    try:
        package_dir()
    except AdmetUnavailable:
        return False
    return True
