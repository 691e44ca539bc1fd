"""ADMET predictions from the Chemprop v2 models that the ``admet-ai`` package ships.

admet-ai (Swanson et al., Bioinformatics 2024) predicts 41 ADMET endpoints (absorption,
distribution, metabolism, excretion, toxicity) with 5-model Chemprop ensembles trained on the TDC
benchmark data, and places each value among DrugBank's approved drugs (a percentile from the
package's reference set). Its own RDKit physicochemical columns duplicate the library's and are
left out.

The package is imported only when a job asks for ADMET (it pulls in Lightning and torch), and its
banners are kept off the terminal. Predictions do not go through ``ADMETModel.predict`` (which
featurises each molecule once per model, ten times, and drops unreadable SMILES from its output):
:mod:`core.hitlist.admet_ensemble` runs the same models on each molecule's graph, built once, and
keeps one row per input, NaN where a SMILES cannot be read.

:func:`predict_admet` is a job for the model host (:mod:`core.modelhost`): run there, the model
lives in the host's worker process (this module's global, loaded once) and the window's process
never imports torch. Called directly (scripts, tests), it loads the model in the caller's process.
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
_ensembles = None


class AdmetUnavailable(RuntimeError):
    """admet-ai is not installed or its model files are missing."""


CATEGORIES: tuple[str, ...] = (
    "Physicochemical",
    "Absorption",
    "Distribution",
    "Metabolism",
    "Excretion",
    "Toxicity",
)
"""The ADMET groups in the order pharmacology reads them."""
PHYSCHEM_COLUMNS: dict[str, str] = {
    "molecular_weight": "mw",
    "logP": "clogp",
    "tpsa": "tpsa",
    "hydrogen_bond_donors": "hbd",
    "hydrogen_bond_acceptors": "hba",
    "QED": "qed",
}
"""admet-ai's RDKit properties that the library computes with the same RDKit functions (its
``physchem.py``): shown from the library's own columns, placed among approved drugs."""
# Units as chemists write them (the package's table writes "Å^2", "uL", "10^-6", "hr", "#").
_UNIT_TEXT = {"Dalton": "Da", "#": "count", "-": "", "log-ratio": "", "hr": "h"}
_UNIT_PARTS = (("Å^2", "Å²"), ("10^-6", "10⁻⁶"), ("10^6", "10⁶"), ("uL", "µL"))
LOW_R2, LOW_AUROC = 0.3, 0.7
"""Below these test scores a model's values are hardly better than a guess: shown as such."""


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def readable_units(units: str) -> str:
    """``Å^2`` → ``Å²``, ``uL/min/10^6 cells`` → ``µL/min/10⁶ cells``, ``Dalton`` → ``Da``."""
    units = str(units or "").strip()
    if units in _UNIT_TEXT:
        return _UNIT_TEXT[units]
    for old, new in _UNIT_PARTS:
        units = units.replace(old, new)
    return units


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row of admet-ai's ``resources/data/admet.csv``: what a model predicts and how well."""

    id: str
    name: str
    category: str
    task: str  # "classification" or "regression"
    units: str
    metric: str  # "AUROC 0.87" / "R² 0.74" from the package's own table
    species: str = ""
    size: int | None = None
    """Molecules in the model's training data (TDC)."""
    auroc: float | None = None
    auprc: float | None = None
    r2: float | None = None
    mae: float | None = None
    url: str = ""
    table_column: str = ""
    """For physicochemical properties: the library column holding the value."""

    @property
    def column(self) -> str:
        return self.table_column or PREFIX + self.id

    @property
    def percentile_column(self) -> str:
        return PREFIX + self.id + PERCENTILE_SUFFIX

    @property
    def display_units(self) -> str:
        """Units as shown: "probability" for classifiers, else readable units ("" if none)."""
        if self.task == "classification":
            return "probability"
        return readable_units(self.units)

    @property
    def is_weak(self) -> bool:
        """Whether the model scored poorly on its test set (R² < 0.3 or AUROC < 0.7)."""
        if self.r2 is not None:
            return self.r2 < LOW_R2
        return self.auroc is not None and self.auroc < LOW_AUROC

    def description(self) -> str:
        value = "probability" if self.task == "classification" else self.units or "value"
        return f"{self.name} ({self.category}; {value}; admet-ai {self.metric})"

    def explanation(self) -> str:
        """What the value means and how well the model predicts it, for a tooltip (plain text,
        several lines)."""
        units = self.display_units
        lines = [f"{self.name} — {self.category}"]
        if self.category == "Physicochemical":
            lines.append(
                f"Computed by RDKit{f', in {units}' if units else ''} (not a model): the "
                "library's own value."
            )
        elif self.task == "classification":
            lines.append(
                f"Predicted probability (0–1) of “{self.name}”"
                + (f" ({self.species})" if self.species and self.species != "-" else "")
                + "."
            )
        else:
            lines.append(
                f"Predicted value{f' in {units}' if units else ''}"
                + (f" ({self.species})" if self.species and self.species != "-" else "")
                + "."
            )
        performance = []
        if self.auroc is not None:
            performance.append(f"AUROC {self.auroc:.2f}")
        if self.auprc is not None:
            performance.append(f"AUPRC {self.auprc:.2f}")
        if self.r2 is not None:
            performance.append(f"R² {self.r2:.2f}")
        if self.mae is not None:
            performance.append(f"MAE {self.mae:.3g}{f' {units}' if units else ''}")
        if performance:
            trained = f", trained on {self.size:,} molecules" if self.size else ""
            lines.append(
                f"Model (Chemprop ensemble{trained}) on its TDC test set: "
                + ", ".join(performance)
                + "."
            )
        if self.is_weak:
            lines.append("A weak model: read its value as a rough hint only.")
        lines.append(
            "Percentile: the share of DrugBank's approved drugs with a lower value "
            "(scored the same way)."
        )
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)


def package_dir() -> Path:
    spec = importlib.util.find_spec("admet_ai")
    if spec is None or not spec.submodule_search_locations:
        raise AdmetUnavailable(
            "ADMET predictions need the admet-ai package: pip install admet-ai==2.0.1"
        )
    return Path(spec.submodule_search_locations[0])


@lru_cache(maxsize=1)
def _all_endpoints() -> tuple[Endpoint, ...]:
    """Every row of the package's table, in :data:`CATEGORIES` order (the table's order within
    a group)."""
    table = pd.read_csv(package_dir() / "resources" / "data" / "admet.csv")
    result = []
    for _, row in table.iterrows():
        if row["task_type"] == "classification":
            metric = f"AUROC {row['AUROC']:.2f}" if not pd.isna(row["AUROC"]) else ""
        else:
            metric = f"R² {row['R^2']:.2f}" if not pd.isna(row["R^2"]) else ""
        units = "" if pd.isna(row["units"]) or row["units"] == "-" else str(row["units"])
        size = _float(row.get("size"))
        species = "" if pd.isna(row.get("species")) else str(row.get("species"))
        result.append(
            Endpoint(
                str(row["id"]),
                str(row["name"]),
                str(row["category"]),
                str(row["task_type"]),
                units,
                metric,
                species=species,
                size=int(size) if size is not None else None,
                auroc=_float(row.get("AUROC")),
                auprc=_float(row.get("AUPRC")),
                r2=_float(row.get("R^2")),
                mae=_float(row.get("MAE")),
                url="" if pd.isna(row.get("url")) else str(row.get("url")),
                table_column=PHYSCHEM_COLUMNS.get(str(row["id"]), "")
                if row["category"] == "Physicochemical"
                else "",
            )
        )
    rank = {category: number for number, category in enumerate(CATEGORIES)}
    result.sort(key=lambda e: rank.get(e.category, len(rank)))  # stable within a group
    return tuple(result)


def endpoints() -> tuple[Endpoint, ...]:
    """The 41 model endpoints (not the RDKit physicochemical columns), from the package's table,
    grouped in :data:`CATEGORIES` order."""
    return tuple(e for e in _all_endpoints() if e.category != "Physicochemical")


def physchem_endpoints() -> tuple[Endpoint, ...]:
    """The physicochemical properties the library has (:data:`PHYSCHEM_COLUMNS`)."""
    return tuple(e for e in _all_endpoints() if e.table_column)


@lru_cache(maxsize=1)
def _drugbank_reference() -> pd.DataFrame:
    return pd.read_csv(
        package_dir() / "resources" / "data" / "drugbank_approved.csv",
        usecols=lambda column: column in PHYSCHEM_COLUMNS,
    )


def drugbank_percentile(endpoint: Endpoint, value: float) -> float | None:
    """The percentile of ``value`` among DrugBank's approved drugs for a physicochemical
    property, computed as admet-ai computes its own (``scipy.stats.percentileofscore``,
    kind "rank"); ``None`` when the package or the property is missing."""
    try:
        reference = _drugbank_reference()
    except (AdmetUnavailable, OSError, ValueError):
        return None
    if endpoint.id not in reference.columns or value is None or np.isnan(value):
        return None
    values = reference[endpoint.id].dropna().to_numpy(dtype=np.float64)
    if values.size == 0:
        return None
    below = np.count_nonzero(values < value)
    at_most = np.count_nonzero(values <= value)
    return float((below + at_most + (1 if at_most > below else 0)) * (50.0 / values.size))


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

                # num_workers=0: featurise in this thread (data-loader processes would be
                # started for every batch; on a CPU that is slower, as admet-ai says).
                _model = ADMETModel(num_workers=0)
        return _model


def _load_ensembles(device: str | None):
    """The loaded model's ensembles, set up for batched prediction on ``device`` (kept between
    calls; set up again only when the device changes)."""
    global _ensembles
    model = _load_model()
    with _model_lock:
        if device is None:  # admet-ai's own choice: CUDA when available
            device = model.device
        wanted = "cuda" if device == "cuda" else "cpu"  # admet-ai knows no Apple MPS
        if _ensembles is None or _ensembles.device.type != wanted:
            from core.hitlist.admet_ensemble import AdmetEnsembles

            _ensembles = AdmetEnsembles(model, device=wanted)
        return _ensembles


def predict_admet(
    smiles: Sequence[str],
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
    device: str | None = None,
) -> np.ndarray:
    """Values and percentiles, shape (n, 2 × endpoints): all values first, then all
    percentiles, in :func:`endpoints` order; NaN rows for SMILES admet-ai cannot read (and for
    empty ones).

    The values are admet-ai's (its ten Chemprop models, ensembles averaged, percentiles among
    DrugBank's approved drugs), computed as :mod:`core.hitlist.admet_ensemble` describes: each
    molecule featurised once, the ten models in one batched pass, equal to
    ``ADMETModel.predict`` to float32 rounding. Cancel is checked every :data:`BATCH` molecules.

    ``device``: the model host's device (``cuda`` runs on the GPU, anything else on the CPU);
    ``None`` leaves admet-ai's own choice (CUDA when available)."""
    points = endpoints()
    ensembles = _load_ensembles(device)
    columns = [ensembles.tasks.index(e.id) for e in points]
    width = len(points)
    out = np.full((len(smiles), 2 * width), np.nan)
    for start in range(0, len(smiles), BATCH):
        check_cancelled(is_cancelled)
        mols = ensembles.parse(smiles[start : start + BATCH])
        rows = [i for i, mol in enumerate(mols) if mol is not None]
        if rows:
            graphs = ensembles.featurise([mols[i] for i in rows])
            values = ensembles.predict_graphs(graphs)
            at = start + np.asarray(rows)
            out[at, :width] = values[:, columns]
            out[at, width:] = ensembles.percentiles(values)[:, columns]
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
