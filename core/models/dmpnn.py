"""A second deep model family: chemprop v2's directed message-passing network (D-MPNN).

The transformer reads SMILES text; the D-MPNN reads the molecular graph, passing messages along
bonds, and can add RDKit 2D descriptors (chemprop's ``v1_rdkit_2d_normalized``: 200 descriptors
mapped through their CDFs) beside the learned fingerprint. Neither wins everywhere (STACK.md:
BACE 0.749 plain, 0.837 with descriptors, on a scaffold split), so DrugDesk offers both.

:func:`train_dmpnn` and :func:`predict_dmpnn` are job functions for the model host
(:mod:`core.modelhost`): module-level, taking ``progress``/``is_cancelled``/``device``
(``model_cache``, ``report_partial``), and returning plain values (numpy arrays, dataclasses),
never tensors. torch, Lightning and chemprop are imported inside them, so importing this module
costs nothing in the window's process.

A model folder (kind ``dmpnn`` in :mod:`core.models.registry`)::

    card.json            what the model is: task, targets, their scaling, members, metrics
    dmpnn_config.json    the architecture and featurizer choice, every size checked on load
    model.safetensors    the first member's ``state_dict`` (float32); model_<i>.safetensors next
    dmpnn_curve.csv      per epoch of each member: train loss, validation metric

The model is rebuilt from the JSON and its weights read from safetensors: nothing is ever read
with ``torch.load`` (chemprop's own checkpoints are pickles, ``weights_only=False``: DrugDesk
neither writes nor reads them), and every size is checked before a module is built.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress
from core.models.featurize import parse_smiles

log = logging.getLogger(__name__)

KIND = "dmpnn"
"""The registry kind of a D-MPNN folder (:func:`core.models.registry.register_model_kind`)."""
CARD_FILE = "card.json"
CONFIG_FILE = "dmpnn_config.json"
WEIGHTS_FILE = "model.safetensors"
CURVE_FILE = "dmpnn_curve.csv"
CONFIG_FORMAT = "drugdesk-dmpnn"
CONFIG_VERSION = 1
DESCRIPTOR_FEATURIZER = "v1_rdkit_2d_normalized"
"""chemprop's name for the RDKit 2D descriptors (CDF-normalised) used with ``descriptors=True``."""
N_DESCRIPTORS = 200
ATOM_FEATURIZERS = ("v2",)
"""chemprop ``MultiHotAtomFeaturizer`` parameterisations a folder may name (v2: chemprop's
default, every element of the first four rows plus iodine)."""
AGGREGATIONS = ("norm", "mean", "sum")

LIMITS: dict[str, tuple[int, int]] = {
    "hidden_size": (1, 4096),
    "depth": (1, 20),
    "ffn_hidden_size": (1, 8192),
    "ffn_num_layers": (0, 10),
    "n_tasks": (1, 10_000),
}
"""Smallest and largest value of each size a ``dmpnn_config.json`` may hold: checked before a
torch module exists, so a hostile folder is one clear error, not a machine out of memory.
chemprop's defaults are hidden 300, depth 3, one feed-forward layer of 300."""
MAX_MEMBERS = 32
"""Most ensemble members (weight files) a card may list."""
MAX_PARAMETERS = 200_000_000
"""Most parameters one member may have (800 MB in float32); chemprop's default is about 0.3 M."""
FEATURIZE_CHUNK = 2048
"""Molecules featurised and predicted at a time (bounds memory; cancel is checked between)."""


@dataclass(slots=True, frozen=True)
class DmpnnOptions:
    """Architecture and training settings; the defaults are chemprop 2.3.1's ``chemprop train``
    defaults with STACK.md's epochs and patience."""

    hidden_size: int = 300
    """Width of the bond messages."""
    depth: int = 3
    """Message-passing steps."""
    dropout: float = 0.0
    ffn_hidden_size: int = 300
    ffn_num_layers: int = 1
    """Hidden layers of the feed-forward head."""
    aggregation: str = "norm"
    """Atoms to molecule: ``norm`` (sum / ``aggregation_norm``), ``mean`` or ``sum``."""
    aggregation_norm: float = 100.0
    batch_norm: bool = False
    batch_size: int = 64
    patience: int = 10
    """Epochs without a better validation loss before a member stops early."""
    monitor: str = "loss"
    """What chooses the best epoch and stops early: ``loss`` (the validation loss, chemprop's
    choice and smoother on small sets) or ``metric`` (ROC-AUC, or RMSE)."""
    n_models: int = 1
    """Ensemble size (seeds ``seed, seed+1, …``): predictions get a standard deviation."""
    warmup_epochs: int = 2
    init_lr: float = 1e-4
    max_lr: float = 1e-3
    final_lr: float = 1e-4


@dataclass(slots=True, frozen=True)
class DmpnnTrainResult:
    """What :func:`train_dmpnn` returns (plain values: it crosses the model host's pipe)."""

    output_dir: Path
    task: str
    target_names: tuple[str, ...]
    metric_name: str
    """``roc_auc`` (classification) or ``rmse`` (regression), mean over targets."""
    valid_metric: float
    """Of the ensemble on the validation molecules; NaN without any."""
    member_metrics: tuple[float, ...]
    best_epochs: tuple[int, ...]
    curve: tuple[Any, ...]
    """Every finished epoch as a ``core.models.training.EpochPoint``."""
    valid_predictions: np.ndarray
    """(n_valid, tasks): the ensemble's mean (probabilities or target units); NaN rows for
    SMILES that do not parse."""
    n_invalid: dict[str, int]
    """SMILES left out because RDKit cannot read them, by part (``train``, ``valid``)."""
    seconds: float
    device: str


@dataclass(slots=True, frozen=True)
class DmpnnPrediction:
    """Predictions of a D-MPNN ensemble; unpacks as ``mean, std = predict_dmpnn(...)``."""

    mean: np.ndarray
    """(n, tasks): probabilities of class 1 (classification) or values in target units; NaN rows
    for SMILES that do not parse."""
    std: np.ndarray
    """(n, tasks): standard deviation over the ensemble's members (0 for one model)."""
    invalid: tuple[int, ...]
    """Rows whose SMILES RDKit cannot read."""
    target_names: tuple[str, ...]
    task: str

    def __iter__(self):
        return iter((self.mean, self.std))


@dataclass(slots=True)
class LoadedDmpnn:
    """A D-MPNN folder read back: its card, its config and one torch module per member."""

    path: Path
    card: dict
    config: dict
    members: list
    device: str


# ----------------------------------------------------------------------------------------------
# Molecules to chemprop inputs


def _featurizer(config: dict) -> Any:
    from chemprop.featurizers import MultiHotAtomFeaturizer, SimpleMoleculeMolGraphFeaturizer

    atoms = getattr(MultiHotAtomFeaturizer, config["atom_featurizer"])()
    return SimpleMoleculeMolGraphFeaturizer(atom_featurizer=atoms)


@functools.cache
def _descriptor_generator() -> Any:
    from chemprop.featurizers import V1RDKit2DNormalizedFeaturizer

    return V1RDKit2DNormalizedFeaturizer()


def _parse(
    smiles: Sequence[str], descriptors: bool, progress: ProgressCallback, is_cancelled, what: str
) -> tuple[list, np.ndarray | None]:
    """Molecules (``None`` where RDKit cannot read the SMILES, or it has no atom) and, when asked,
    their descriptors (rows of zeros for those)."""
    n = len(smiles)
    mols = []
    x_d = np.zeros((n, N_DESCRIPTORS), dtype=np.float32) if descriptors else None
    generator = _descriptor_generator() if descriptors else None
    for i, text in enumerate(smiles):
        if i % 64 == 0:
            check_cancelled(is_cancelled)
            if descriptors and n:
                progress(-1.0, f"RDKit descriptors of the {what} molecules: {i:,} of {n:,}")
        mol = parse_smiles(text)
        if mol is not None and mol.GetNumAtoms() == 0:
            mol = None
        mols.append(mol)
        if mol is not None and generator is not None:
            values = np.asarray(generator(mol), dtype=np.float64)
            # descriptastorus gives NaN (chemprop would make it 0) or, rarely, inf for a
            # descriptor it cannot compute; both become 0, the same at training and prediction.
            x_d[i] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return mols, x_d


def _dataset(mols: list, y: np.ndarray | None, x_d: np.ndarray | None, featurizer: Any) -> Any:
    from chemprop.data import MoleculeDatapoint, MoleculeDataset

    points = [
        MoleculeDatapoint(
            mol,
            None if y is None else y[i].astype(np.float32),
            x_d=None if x_d is None else x_d[i].astype(np.float32).copy(),
        )
        for i, mol in enumerate(mols)
    ]
    return MoleculeDataset(points, featurizer)


# ----------------------------------------------------------------------------------------------
# The model, built from its JSON config


def make_config(task: str, n_tasks: int, descriptors: bool, options: DmpnnOptions) -> dict:
    """The ``dmpnn_config.json`` of a new model: everything needed to rebuild its modules."""
    return {
        "format": CONFIG_FORMAT,
        "version": CONFIG_VERSION,
        "task": task,
        "n_tasks": int(n_tasks),
        "atom_featurizer": "v2",
        "atom_fdim": 72,
        "bond_fdim": 14,
        "descriptors": DESCRIPTOR_FEATURIZER if descriptors else None,
        "n_descriptors": N_DESCRIPTORS if descriptors else 0,
        "hidden_size": options.hidden_size,
        "depth": options.depth,
        "dropout": options.dropout,
        "ffn_hidden_size": options.ffn_hidden_size,
        "ffn_num_layers": options.ffn_num_layers,
        "aggregation": options.aggregation,
        "aggregation_norm": options.aggregation_norm,
        "batch_norm": options.batch_norm,
        "warmup_epochs": options.warmup_epochs,
        "init_lr": options.init_lr,
        "max_lr": options.max_lr,
        "final_lr": options.final_lr,
    }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_config(config: object, where: str = CONFIG_FILE) -> int:
    """Check a config before anything is built from it; return its parameter count (about).

    Raises
    ------
    ValueError
        A wrong format, an unknown featurizer, aggregation or task, a size outside
        :data:`LIMITS`, or more parameters than :data:`MAX_PARAMETERS`; the message names
        ``where`` and the field.
    """
    if not isinstance(config, dict):
        raise ValueError(f"{where}: a D-MPNN config must be a JSON object")
    if config.get("format") != CONFIG_FORMAT or config.get("version") != CONFIG_VERSION:
        raise ValueError(
            f"{where}: not a DrugDesk D-MPNN config (format {config.get('format')!r}, version "
            f"{config.get('version')!r}; expected {CONFIG_FORMAT!r} {CONFIG_VERSION})"
        )
    if config.get("task") not in ("classification", "regression"):
        raise ValueError(
            f"{where}: 'task' is {config.get('task')!r}, not classification/regression"
        )
    sizes = {}
    for key, (low, high) in LIMITS.items():
        value = config.get(key)
        if not _is_int(value) or not low <= value <= high:
            raise ValueError(f"{where}: {key} is {value!r}; DrugDesk builds {low} to {high:,}")
        sizes[key] = value
    if config.get("atom_featurizer") not in ATOM_FEATURIZERS:
        raise ValueError(
            f"{where}: atom_featurizer {config.get('atom_featurizer')!r} is not one of "
            f"{', '.join(ATOM_FEATURIZERS)}"
        )
    if (config.get("atom_fdim"), config.get("bond_fdim")) != (72, 14):
        raise ValueError(
            f"{where}: atom_fdim/bond_fdim {config.get('atom_fdim')!r}/{config.get('bond_fdim')!r} "
            "do not match the v2 featurizer (72/14)"
        )
    descriptors = config.get("descriptors")
    expected = {None: 0, DESCRIPTOR_FEATURIZER: N_DESCRIPTORS}
    if descriptors not in expected or config.get("n_descriptors") != expected[descriptors]:
        raise ValueError(
            f"{where}: descriptors {descriptors!r} with n_descriptors "
            f"{config.get('n_descriptors')!r}; DrugDesk knows none (0) or "
            f"{DESCRIPTOR_FEATURIZER!r} ({N_DESCRIPTORS})"
        )
    if config.get("aggregation") not in AGGREGATIONS:
        raise ValueError(
            f"{where}: aggregation {config.get('aggregation')!r} is not one of "
            f"{', '.join(AGGREGATIONS)}"
        )
    norm = config.get("aggregation_norm")
    if not _is_number(norm) or norm <= 0:
        raise ValueError(f"{where}: aggregation_norm is {norm!r}; expected a positive number")
    dropout = config.get("dropout")
    if not _is_number(dropout) or not 0 <= dropout < 1:
        raise ValueError(f"{where}: dropout is {dropout!r}; expected a number from 0 to 1")
    if not isinstance(config.get("batch_norm"), bool):
        raise ValueError(f"{where}: batch_norm must be true or false")
    for key in ("warmup_epochs",):
        if not _is_int(config.get(key)) or config[key] < 0:
            raise ValueError(f"{where}: {key} is {config.get(key)!r}; expected a whole number ≥ 0")
    for key in ("init_lr", "max_lr", "final_lr"):
        if not _is_number(config.get(key)) or config[key] <= 0:
            raise ValueError(f"{where}: {key} is {config.get(key)!r}; expected a positive number")
    h, f, t = sizes["hidden_size"], sizes["ffn_hidden_size"], sizes["n_tasks"]
    d_in = h + expected[descriptors]
    message = h * (72 + 14) + h * h + h * (72 + h) + h
    head = (
        d_in * f + f + (sizes["ffn_num_layers"] - 1) * (f * f + f) + f * t + t
        if sizes["ffn_num_layers"]
        else d_in * t + t
    )
    parameters = message + head
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"{where}: describes about {parameters:,} parameters, more than the "
            f"{MAX_PARAMETERS:,} DrugDesk loads"
        )
    return parameters


def build_model(config: dict, x_d_transform: Any = None, output_transform: Any = None) -> Any:
    """A chemprop ``MPNN`` (:func:`_model_class`) as ``config`` describes it.

    ``x_d_transform`` (descriptor scaling) and ``output_transform`` (regression targets back to
    their units) come from the training data; when loading a folder they are left out and
    placeholders of the right shape receive the values held in the weights."""
    import torch
    from chemprop import nn as cnn
    from chemprop.nn.agg import AggregationRegistry

    check_config(config)
    n_tasks, n_descriptors = config["n_tasks"], config["n_descriptors"]
    if n_descriptors and x_d_transform is None:
        x_d_transform = cnn.ScaleTransform(np.zeros(n_descriptors), np.ones(n_descriptors))
    if config["task"] == "regression" and output_transform is None:
        output_transform = cnn.UnscaleTransform(np.zeros(n_tasks), np.ones(n_tasks))
    message_passing = cnn.BondMessagePassing(
        config["atom_fdim"],
        config["bond_fdim"],
        d_h=config["hidden_size"],
        depth=config["depth"],
        dropout=config["dropout"],
    )
    aggregation = config["aggregation"]
    agg = (
        AggregationRegistry[aggregation](norm=float(config["aggregation_norm"]))
        if aggregation == "norm"
        else AggregationRegistry[aggregation]()
    )
    head = cnn.RegressionFFN if config["task"] == "regression" else cnn.BinaryClassificationFFN
    predictor = head(
        n_tasks=n_tasks,
        input_dim=message_passing.output_dim + n_descriptors,
        hidden_dim=config["ffn_hidden_size"],
        n_layers=config["ffn_num_layers"],
        dropout=config["dropout"],
        task_weights=torch.ones(n_tasks),
        output_transform=output_transform,
    )
    return _model_class()(
        message_passing,
        agg,
        predictor,
        batch_norm=config["batch_norm"],
        warmup_epochs=config["warmup_epochs"],
        init_lr=config["init_lr"],
        max_lr=config["max_lr"],
        final_lr=config["final_lr"],
        X_d_transform=x_d_transform,
    )


@functools.cache
def _model_class() -> type:
    """chemprop's ``MPNN`` whose validation keeps its outputs (for the validation metric of
    every epoch) and skips chemprop's own per-batch metrics (pooled over tasks; DrugDesk reports
    the mean over targets, as the transformer does). Defined on first use: it needs torch."""
    from chemprop.models import MPNN

    class DrugDeskMPNN(MPNN):
        def on_validation_epoch_start(self) -> None:
            self.valid_outputs = []

        def validation_step(self, batch: Any, batch_idx: int = 0) -> None:
            bmg, V_d, X_d, targets, weights, lt_mask, gt_mask = batch
            mask = targets.isfinite()
            # Training-mode transforms: outputs are logits or scaled targets, as the loss wants.
            preds = self.predictor.train_step(self.fingerprint(bmg, V_d, X_d))
            self.metrics[-1](preds, targets.nan_to_num(nan=0.0), mask, weights, lt_mask, gt_mask)
            self.log("val_loss", self.metrics[-1], batch_size=len(bmg), prog_bar=False)
            self.valid_outputs.append(preds.detach().float().cpu())

    return DrugDeskMPNN


def _lightning_callback(
    watch: Callable[[str, Any, Any], None],
) -> Any:
    """A Lightning callback that hands the trainer's events to ``watch(event, trainer, module)``."""
    from lightning.pytorch.callbacks import Callback

    class Watch(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            watch("batch", trainer, pl_module)

        def on_validation_epoch_end(self, trainer, pl_module) -> None:
            if not trainer.sanity_checking:
                watch("validated", trainer, pl_module)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            watch("epoch", trainer, pl_module)

    return Watch()


def _accelerator(device: str) -> tuple[str, Any]:
    if device.startswith("cuda"):
        index = device.partition(":")[2]
        return "gpu", [int(index)] if index.isdigit() else 1
    if device.startswith("mps"):
        return "mps", 1
    return "cpu", 1


def _quiet_lightning() -> None:
    """Lightning speaks to the terminal (GPU/TPU availability, tips, dataloader advice) on every
    fit; in a job that is noise. Its log goes to warnings and above, and its advice that does not
    apply here (worker processes, a missing validation set) is filtered."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (
        ".*does not have many workers.*",
        ".*LeafSpec.*",
        ".*no `val_dataloader`.*",
        ".*litlogger.*",
    ):
        warnings.filterwarnings("ignore", message=message)


# ----------------------------------------------------------------------------------------------
# Training


def _targets(values: Any, n: int, what: str) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or len(y) != n:
        raise ValueError(f"{what} targets must have one row per SMILES ({n}); got shape {y.shape}")
    return y


def _metric(task: str, y: np.ndarray, p: np.ndarray) -> float:
    """Mean over targets of ROC-AUC (classification) or RMSE (regression), missing labels and
    unscorable targets left out; NaN when none can be scored."""
    from core.models.metrics import evaluate

    if not len(y):
        return math.nan
    name = "roc_auc" if task == "classification" else "rmse"
    table = evaluate(y, p, task)
    values = table.loc[table["metric"] == name, "value"].to_numpy(dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


def _is_better(lower_is_better: bool, new: float, old: float) -> bool:
    if math.isnan(new):
        return False
    if math.isnan(old):
        return True
    return new < old if lower_is_better else new > old


def train_dmpnn(
    train_smiles: Sequence[str],
    train_targets: Any,
    valid_smiles: Sequence[str],
    valid_targets: Any,
    task: str,
    *,
    output_dir: str | Path,
    descriptors: bool = False,
    epochs: int = 40,
    seed: int = 0,
    options: DmpnnOptions | None = None,
    target_names: Sequence[str] | None = None,
    smiles_column: str = "smiles",
    split: dict | None = None,
    name: str = "",
    data_hash: str = "",
    device: str | None = None,
    warm_start: str | Path | None = None,
    report_partial: Callable[[Any], None] | None = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> DmpnnTrainResult:
    """Train a chemprop D-MPNN (an ensemble of seeds) and save it into ``output_dir``.

    Each member starts from its own seed, trains with chemprop's Adam and Noam-like schedule,
    is evaluated on the validation molecules after every epoch, keeps the weights of its best
    epoch (by validation loss, or metric: ``options.monitor``) and stops after
    ``options.patience`` epochs without improvement.

    Parameters
    ----------
    train_smiles, train_targets
        Training molecules and their labels, (n,) or (n, tasks); NaN is a missing label (left out
        of the loss). Classification labels are 0/1. SMILES RDKit cannot read are left out.
    valid_smiles, valid_targets
        Molecules for early stopping and the validation metric (may be empty: every epoch runs,
        the last is kept).
    task
        ``"classification"`` (binary per target) or ``"regression"`` (targets standardised on the
        training rows; predictions come back in their units).
    output_dir
        The model folder to write (created; files of the same names replaced).
    descriptors
        Add RDKit 2D descriptors (chemprop's ``v1_rdkit_2d_normalized``), standardised on the
        training rows, to the learned fingerprint.
    epochs, seed
        Most epochs per member; the first member's seed (member ``i`` uses ``seed + i``). On the
        CPU the same seed gives the same model.
    options
        Architecture, batch size, patience, ensemble size… (:class:`DmpnnOptions`).
    target_names, smiles_column, split, name, data_hash
        For the card (see ``core.models.registry.ModelCard``).
    device
        torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``); ``None``: CUDA, then MPS, then CPU.
    warm_start
        A D-MPNN folder of the same task and targets to continue from (learning from new
        measurements): member ``m`` starts from its member ``m % n_old``, and its architecture,
        descriptor choice (``descriptors`` is ignored), descriptor scaling and target scaling
        are kept, so that the old weights see the inputs and predict in the units they learned.
        The learning rates and warm-up come from ``options`` as for a new model (give lower ones
        to stay near the old weights). With validation molecules the starting weights are scored
        first and kept (best epoch 0) unless an epoch beats them. The card records
        ``warm_started_from``.
    report_partial
        Gets each finished epoch as a ``core.models.training.EpochPoint`` (member, epoch, mean
        training loss, validation ROC-AUC or RMSE), on the training thread.
    progress, is_cancelled
        Job callbacks: progress per epoch; cancel is checked before every batch (and so between
        epochs) and raises ``JobCancelled``; nothing is saved then.

    Returns
    -------
    DmpnnTrainResult
        The folder, validation metric, curves and validation predictions.

    Raises
    ------
    ValueError
        Unknown task, targets of the wrong shape, classification labels other than 0/1, a target
        with no training label, or no readable training molecule.
    core.jobs.JobCancelled
        When cancelled.
    """
    import torch

    from core.compute import choose_device
    from core.models.metrics import positive_rates
    from core.models.training import EpochPoint

    options = options or DmpnnOptions()
    progress = progress or no_progress
    started = time.monotonic()
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', not {task!r}")
    if options.monitor not in ("loss", "metric"):
        raise ValueError(f"options.monitor must be 'loss' or 'metric', not {options.monitor!r}")
    if not _is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a whole number ≥ 1, not {epochs!r}")
    if not 1 <= options.n_models <= MAX_MEMBERS:
        raise ValueError(f"options.n_models must be 1 to {MAX_MEMBERS}")
    train_smiles, valid_smiles = list(train_smiles), list(valid_smiles)
    y_train = _targets(train_targets, len(train_smiles), "training")
    y_valid = _targets(valid_targets, len(valid_smiles), "validation")
    n_tasks = y_train.shape[1]
    if len(valid_smiles) and y_valid.shape[1] != n_tasks:
        raise ValueError(f"{n_tasks} training targets but {y_valid.shape[1]} validation targets")
    if not len(valid_smiles):
        y_valid = np.zeros((0, n_tasks))
    names = (
        tuple(target_names)
        if target_names is not None
        else tuple(f"task_{i}" for i in range(n_tasks))
    )
    if len(names) != n_tasks:
        raise ValueError(f"{len(names)} target names for {n_tasks} target columns")
    if task == "classification":
        for y in (y_train, y_valid):
            known = y[~np.isnan(y)]
            if not np.isin(known, (0.0, 1.0)).all():
                raise ValueError("Classification targets must be 0, 1 or NaN")
    start = _warm_start(warm_start, task, names) if warm_start is not None else None
    if start is not None:
        # The old architecture and inputs; this run's learning rates and warm-up.
        config = {
            **start.config,
            **{k: getattr(options, k) for k in ("warmup_epochs", "init_lr", "max_lr", "final_lr")},
        }
        descriptors = bool(config["n_descriptors"])
    else:
        config = make_config(task, n_tasks, descriptors, options)
    check_config(config)
    device = device or choose_device("auto").device
    accelerator, devices = _accelerator(device)

    progress(0.0, "Reading the molecules")
    train_mols, train_xd = _parse(train_smiles, descriptors, progress, is_cancelled, "training")
    valid_mols, valid_xd = _parse(valid_smiles, descriptors, progress, is_cancelled, "validation")
    keep_train = np.array([m is not None for m in train_mols], dtype=bool)
    keep_valid = np.array([m is not None for m in valid_mols], dtype=bool)
    n_invalid = {"train": int((~keep_train).sum()), "valid": int((~keep_valid).sum())}
    if any(n_invalid.values()):
        message = (
            f"Left out SMILES that RDKit cannot read: {n_invalid['train']} training, "
            f"{n_invalid['valid']} validation"
        )
        log.warning(message)
        progress(-1.0, message)
    if not keep_train.any():
        raise ValueError("No training SMILES that RDKit can read")
    y_train, y_valid = y_train[keep_train], y_valid[keep_valid]
    labelled = (~np.isnan(y_train)).sum(axis=0)
    if (labelled == 0).any():
        empty = [names[t] for t in np.flatnonzero(labelled == 0)]
        raise ValueError(f"No training labels for {', '.join(empty)}")
    train_mols = [m for m in train_mols if m is not None]
    valid_mols = [m for m in valid_mols if m is not None]
    if train_xd is not None:
        train_xd, valid_xd = train_xd[keep_train], valid_xd[keep_valid]

    from chemprop import nn as cnn
    from chemprop.data import build_dataloader
    from lightning import pytorch as pl

    _quiet_lightning()
    featurizer = _featurizer(config)
    train_set = _dataset(train_mols, y_train, train_xd, featurizer)
    valid_set = _dataset(valid_mols, y_valid, valid_xd, featurizer) if valid_mols else None
    x_d_transform = output_transform = None
    if start is not None:
        # The old scalings, as the old weights learned them (the transforms come with them).
        if descriptors:
            train_set.normalize_inputs("X_d", start.descriptor_scaler)
            if valid_set is not None:
                valid_set.normalize_inputs("X_d", start.descriptor_scaler)
        if task == "regression":
            train_set.normalize_targets(start.target_scaler)
            if valid_set is not None:
                valid_set.normalize_targets(start.target_scaler)
    elif descriptors:
        scaler = train_set.normalize_inputs("X_d")
        if valid_set is not None:
            valid_set.normalize_inputs("X_d", scaler)
        x_d_transform = cnn.ScaleTransform.from_standard_scaler(scaler)
    target_mean, target_scale = np.zeros(n_tasks), np.ones(n_tasks)
    if start is not None and task == "regression":
        target_mean = np.asarray(start.target_scaler.mean_, dtype=np.float64)
        target_scale = np.asarray(start.target_scaler.scale_, dtype=np.float64)
    elif task == "regression":
        scaler = train_set.normalize_targets()
        if valid_set is not None:
            valid_set.normalize_targets(scaler)
        target_mean = np.asarray(scaler.mean_, dtype=np.float64)
        target_scale = np.asarray(scaler.scale_, dtype=np.float64)
        output_transform = cnn.UnscaleTransform.from_standard_scaler(scaler)
    train_set.cache = True  # featurise every graph once, not every epoch
    if valid_set is not None:
        valid_set.cache = True

    metric_name = "roc_auc" if task == "classification" else "rmse"
    lower_is_better = options.monitor == "loss" or task == "regression"
    members, member_metrics, best_epochs, seeds, curve, valid_outputs = [], [], [], [], [], []
    for m in range(options.n_models):
        member_seed = seed + m
        torch.manual_seed(member_seed)
        # Each member gets its own copies of the scalings: a module shared with a member already
        # put in eval mode would unscale this one's outputs inside its training loss.
        model = build_model(config, copy.deepcopy(x_d_transform), copy.deepcopy(output_transform))
        if start is not None:
            with torch.no_grad():
                model.load_state_dict(start.states[m % len(start.states)], strict=True)
        # drop_last=False always: chemprop drops a last batch of one (for batch norm) only when
        # batch_norm is on; without it every molecule should be seen.
        train_loader = build_dataloader(
            train_set,
            options.batch_size,
            seed=member_seed,
            shuffle=True,
            drop_last=options.batch_norm and len(train_set) % options.batch_size == 1,
        )
        valid_loader = (
            build_dataloader(valid_set, options.batch_size, shuffle=False, drop_last=False)
            if valid_set is not None
            else None
        )
        state = {"best": math.nan, "metric": math.nan, "epoch": 0, "weights": None, "stale": 0}
        if start is not None and valid_loader is not None:
            # Early stopping may keep the starting point (best epoch 0): no warm-started member
            # ends worse on the validation part than the one it started from.
            check_cancelled(is_cancelled)
            scored = pl.Trainer(
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                accelerator=accelerator,
                devices=devices,
            ).validate(model, valid_loader, verbose=False)
            raw = torch.cat(model.valid_outputs).numpy().astype(np.float64)
            metric = _metric(task, y_valid, _to_units(raw, task, target_mean, target_scale))
            loss = float(scored[0].get("val_loss", math.nan)) if scored else math.nan
            state.update(
                best=loss if options.monitor == "loss" else metric,
                best_metric=metric,
                weights={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            )

        def watch(event: str, trainer: Any, module: Any, m: int = m, state: dict = state) -> None:
            if event == "batch":
                check_cancelled(is_cancelled)
            elif event == "validated":
                raw = torch.cat(module.valid_outputs).numpy().astype(np.float64)
                state["metric"] = _metric(
                    task, y_valid, _to_units(raw, task, target_mean, target_scale)
                )
            elif event == "epoch":
                epoch = trainer.current_epoch + 1
                train_loss = float(trainer.callback_metrics.get("train_loss_epoch", math.nan))
                metric = state["metric"] if valid_set is not None else math.nan
                # Read here, once the validation loop has ended: its epoch values are final.
                loss = float(trainer.callback_metrics.get("val_loss", math.nan))
                score = loss if options.monitor == "loss" else metric
                if (
                    valid_set is None
                    or state["weights"] is None
                    or _is_better(lower_is_better, score, state["best"])
                ):
                    state.update(best=score, epoch=epoch, best_metric=metric, stale=0)
                    state["weights"] = {
                        k: v.detach().cpu().clone() for k, v in module.state_dict().items()
                    }
                else:
                    state["stale"] += 1
                point = EpochPoint(m, epoch, train_loss, metric)
                curve.append(point)
                if report_partial is not None:
                    report_partial(point)
                progress(
                    0.05 + 0.9 * (m + epoch / epochs) / options.n_models,
                    f"D-MPNN {m + 1}/{options.n_models}, epoch {epoch}: validation "
                    f"{'ROC-AUC' if task == 'classification' else 'RMSE'} {metric:.3f}",
                )
                if valid_set is not None and state["stale"] >= options.patience:
                    trainer.should_stop = True
                check_cancelled(is_cancelled)

        trainer = pl.Trainer(
            logger=False,
            enable_checkpointing=False,  # the best epoch is kept in memory, never torch.save'd
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator=accelerator,
            devices=devices,
            max_epochs=epochs,
            num_sanity_val_steps=0,
            callbacks=[_lightning_callback(watch)],
        )
        trainer.fit(model, train_loader, valid_loader)
        model.load_state_dict(state["weights"])
        model.to(device).eval()
        members.append(model)
        seeds.append(member_seed)
        best_epochs.append(int(state["epoch"]))
        member_metrics.append(float(state.get("best_metric", math.nan)))
        if valid_mols:
            valid_outputs.append(
                _run_members([model], valid_mols, valid_xd, device, options.batch_size)[0]
            )

    check_cancelled(is_cancelled)
    valid_mean = np.mean(valid_outputs, axis=0) if valid_outputs else np.zeros((0, n_tasks))
    valid_metric = _metric(task, y_valid, valid_mean)
    valid_predictions = np.full((len(valid_smiles), n_tasks), np.nan)
    valid_predictions[keep_valid] = valid_mean

    progress(0.97, "Saving the model")
    output = Path(output_dir)
    weights = [WEIGHTS_FILE] + [f"model_{i}.safetensors" for i in range(1, len(members))]
    seconds = time.monotonic() - started
    card_extra = {
        "weights": weights,
        "n_tasks": n_tasks,
        "target_names": list(names),
        "target_mean": target_mean.tolist(),
        "target_scale": target_scale.tolist(),
        **({"train_positive_rate": positive_rates(y_train)} if task == "classification" else {}),
        "descriptors": DESCRIPTOR_FEATURIZER if descriptors else None,
        "seeds": seeds,
        "best_epochs": best_epochs,
        "member_metrics": {metric_name: member_metrics},
        **({"warm_started_from": start.name} if start is not None else {}),
        "epochs": epochs,
        "options": asdict(options),
        "n_invalid": n_invalid,
        "hardware": _hardware(device),
        "seconds": round(seconds, 1),
    }
    card = {
        "name": name or output.name,
        "kind": KIND,
        "task": task,
        "smiles_column": smiles_column,
        "target_columns": list(names),
        "split": {
            **(split or {"kind": "given"}),
            "sizes": {"train": len(train_mols), "valid": len(valid_mols)},
        },
        "metrics": {"valid": {metric_name: valid_metric}},
        "data_hash": data_hash or _data_hash(train_smiles, y_train, valid_smiles),
        "created": _utc_now(),
        "versions": _versions(),
        "description": (
            f"chemprop D-MPNN{' with RDKit 2D descriptors' if descriptors else ''} for {task} "
            f"of {', '.join(names)}"
        ),
        **card_extra,
    }
    save_dmpnn(output, config, card, [member.state_dict() for member in members], curve)
    progress(1.0, f"D-MPNN trained: validation {metric_name} {valid_metric:.3f}")
    return DmpnnTrainResult(
        output_dir=output,
        task=task,
        target_names=names,
        metric_name=metric_name,
        valid_metric=valid_metric,
        member_metrics=tuple(member_metrics),
        best_epochs=tuple(best_epochs),
        curve=tuple(curve),
        valid_predictions=valid_predictions,
        n_invalid=n_invalid,
        seconds=seconds,
        device=device,
    )


@dataclass(slots=True, frozen=True)
class _WarmStart:
    """What a warm start takes from an old D-MPNN folder."""

    name: str
    config: dict
    states: list
    """Each old member's ``state_dict`` (CPU tensors)."""
    target_scaler: Any
    """A fitted ``StandardScaler`` of the old target standardisation (regression)."""
    descriptor_scaler: Any
    """A fitted ``StandardScaler`` of the old descriptor scaling (``None`` without descriptors)."""


def _scaler(mean: Any, scale: Any) -> Any:
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_ = np.asarray(mean, dtype=np.float64).reshape(-1)
    scaler.scale_ = np.asarray(scale, dtype=np.float64).reshape(-1)
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = scaler.mean_.size
    return scaler


def _warm_start(folder: str | Path, task: str, names: Sequence[str]) -> _WarmStart:
    """The old folder read and checked for a warm start of ``task`` on targets ``names``.

    Raises
    ------
    ValueError
        When it is not a readable D-MPNN folder, or its task or targets differ.
    """
    loaded = load_dmpnn(folder, "cpu")
    card = loaded.card
    differences = []
    if card.get("task") != task:
        differences.append(f"task {card.get('task')!r}, not {task!r}")
    if list(card.get("target_names") or []) != list(names):
        differences.append(f"targets {card.get('target_names')}, not {list(names)}")
    n_tasks = loaded.config["n_tasks"]
    mean, scale = card.get("target_mean"), card.get("target_scale")
    if task == "regression" and not (
        isinstance(mean, list)
        and isinstance(scale, list)
        and len(mean) == len(scale) == n_tasks
        and all(_is_number(v) for v in (*mean, *scale))
        and all(v > 0 for v in scale)
    ):
        differences.append("no target_mean/target_scale for every target on its card")
    if differences:
        raise ValueError(
            f"cannot warm-start from the D-MPNN {Path(folder).name}: {'; '.join(differences)}"
        )
    first = loaded.members[0]
    descriptor_scaler = None
    if loaded.config["n_descriptors"]:
        transform = first.X_d_transform
        descriptor_scaler = _scaler(transform.mean.cpu().numpy(), transform.scale.cpu().numpy())
    return _WarmStart(
        name=str(card.get("name") or Path(folder).name),
        config=dict(loaded.config),
        states=[
            {k: v.detach().cpu().clone() for k, v in member.state_dict().items()}
            for member in loaded.members
        ],
        target_scaler=_scaler(mean, scale) if task == "regression" else None,
        descriptor_scaler=descriptor_scaler,
    )


def _to_units(raw: np.ndarray, task: str, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Training-mode outputs (logits, or standardised values) to probabilities or units."""
    if task == "classification":
        return 1.0 / (1.0 + np.exp(-raw))
    return raw * scale + mean


def _hardware(device: str) -> str:
    from core.models.transformer.devices import hardware_description

    return hardware_description(device)


def _versions() -> dict[str, str]:
    from core.models.registry import package_versions

    versions = package_versions()
    from importlib import metadata

    for package in ("chemprop", "lightning", "descriptastorus"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _utc_now() -> str:
    from core.models.registry import utc_now

    return utc_now()


def _data_hash(train: Sequence[str], y: np.ndarray, valid: Sequence[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for text in (*train, "\x00", *valid):
        digest.update(f"{text}\n".encode())
    digest.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Folders


def save_dmpnn(
    directory: str | Path,
    config: dict,
    card: dict,
    states: Sequence[dict],
    curve: Sequence[Any] = (),
) -> Path:
    """Write a model folder: one float32 safetensors per member, the config, the curve, and the
    card last (a folder is a model once its card is there).

    Raises
    ------
    ValueError
        When the card does not name one weight file per member, or is not a valid model card.
    """
    import json

    from core.fileio import atomic_path, write_text_atomic
    from core.models.registry import ModelCard, model_file

    path = Path(directory)
    check_config(config)
    ModelCard.from_dict(card)  # the registry must be able to read it back
    weights = card.get("weights")
    if not isinstance(weights, list) or len(weights) != len(states):
        raise ValueError(f"the card must list one weight file per member ({len(states)})")
    path.mkdir(parents=True, exist_ok=True)
    for file, state in zip(weights, states, strict=True):
        _save_weights(state, model_file(path, file), atomic_path)
    write_text_atomic(path / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    lines = ["model_index,epoch,train_loss,valid_metric"]
    lines += [f"{p.model_index},{p.epoch},{p.train_loss!r},{p.valid_metric!r}" for p in curve]
    write_text_atomic(path / CURVE_FILE, "\n".join(lines) + "\n")
    write_text_atomic(path / CARD_FILE, json.dumps(_nan_to_none(card), indent=2) + "\n")
    return path


def _save_weights(state: dict, path: Path, atomic_path: Any) -> None:
    from safetensors.torch import save_file

    # float32 as trained (a D-MPNN is small): a folder read back predicts exactly the same.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata={"format": "pt"})


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def _folder_stamp(path: Path) -> int:
    """The newest modification time (ns) of the folder's files: a model retrained into the same
    folder must not be served from the model host's cache."""
    try:
        return max((f.stat().st_mtime_ns for f in path.iterdir() if f.is_file()), default=0)
    except OSError:
        return 0


def _check_card(path: Path, card: dict, config: dict) -> list[Path]:
    """The card's numbers and weight files, checked; the weight files' paths."""
    from core.models.registry import model_file

    where = f"model folder {path}: {CARD_FILE}"
    if card.get("kind") != KIND:
        raise ValueError(f"{where}: kind {card.get('kind')!r} is not a D-MPNN ({KIND!r})")
    if card.get("task") != config["task"]:
        raise ValueError(f"{where}: task {card.get('task')!r} differs from {CONFIG_FILE}'s")
    n_tasks = config["n_tasks"]
    if card.get("n_tasks") != n_tasks:
        raise ValueError(f"{where}: n_tasks {card.get('n_tasks')!r} differs from {CONFIG_FILE}'s")
    names = card.get("target_names")
    if (
        not isinstance(names, list)
        or len(names) != n_tasks
        or not all(isinstance(n, str) for n in names)
    ):
        raise ValueError(f"{where}: 'target_names' must be {n_tasks} name(s)")
    weights = card.get("weights")
    if not isinstance(weights, list) or not 1 <= len(weights) <= MAX_MEMBERS:
        raise ValueError(f"{where}: 'weights' must list 1 to {MAX_MEMBERS} weight files")
    files = [model_file(path, name) for name in weights]  # plain names inside, or ValueError
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"model folder {path}: weights missing: {', '.join(missing)}")
    return files


def _check_weights_size(file: Path, parameters: int) -> None:
    """Before any module is built: float32 is 4 bytes per parameter, so a file of far fewer or
    far more bytes cannot hold the model the config describes."""
    size = file.stat().st_size
    if size < parameters or size > 8 * parameters + 1_000_000:
        raise ValueError(
            f"Cannot read the weights {file}: its {size:,} bytes do not fit the about "
            f"{parameters:,} parameters its {CONFIG_FILE} describes"
        )


def _load_weights(file: Path, model: Any) -> None:
    """Read ``file`` into ``model`` after checking that it holds exactly the model's tensors."""
    import torch
    from safetensors import safe_open

    expected = model.state_dict()
    try:
        with safe_open(str(file), framework="pt") as handle:
            keys = set(handle.keys())
            if keys != set(expected):
                missing, unexpected = sorted(set(expected) - keys), sorted(keys - set(expected))
                raise ValueError(
                    f"The weights in {file} do not match its {CONFIG_FILE} (missing "
                    f"{missing[:3]}, unexpected {unexpected[:3]})"
                )
            for key, tensor in expected.items():
                shape = tuple(handle.get_slice(key).get_shape())
                if shape != tuple(tensor.shape):
                    raise ValueError(
                        f"The weights in {file} do not match its {CONFIG_FILE}: {key} has shape "
                        f"{shape}, the model {tuple(tensor.shape)}"
                    )
            state = {key: handle.get_tensor(key).to(expected[key].dtype) for key in expected}
    except ValueError:
        raise
    except Exception as exc:  # a truncated or foreign file: safetensors' own errors
        raise ValueError(f"Cannot read the weights {file}: {exc}") from exc
    with torch.no_grad():
        model.load_state_dict(state, strict=True)


def load_dmpnn(
    directory: str | Path, device: str | None = None, model_cache: Any = None
) -> LoadedDmpnn:
    """Read a D-MPNN folder: the card and config checked, the model rebuilt from the config and
    its weights read from safetensors (never ``torch.load``).

    Parameters
    ----------
    directory
        A folder written by :func:`train_dmpnn`.
    device
        torch device (default: the CPU).
    model_cache
        A ``core.compute.ModelCache``: the model is read once per (folder, device, file times).

    Raises
    ------
    ValueError
        A missing or unreadable file, a config outside :data:`LIMITS`, weight files outside the
        folder or not matching the config; the message names the folder.
    """
    from core.models.registry import read_model_json

    path = Path(directory)
    device = device or "cpu"
    if model_cache is not None:
        key = ("dmpnn", str(path.resolve()), device, _folder_stamp(path))
        return model_cache.get(key, lambda: load_dmpnn(path, device))
    if not path.is_dir():
        raise ValueError(f"Model folder not found: {path}")
    for file in (CARD_FILE, CONFIG_FILE):
        if not (path / file).is_file():
            raise ValueError(f"{path} holds no {file}: not a D-MPNN model folder")
    card = read_model_json(path, CARD_FILE)  # size, depth and where the file leads checked
    config = read_model_json(path, CONFIG_FILE)
    if not isinstance(card, dict):
        raise ValueError(f"model folder {path}: {CARD_FILE} must be a JSON object")
    parameters = check_config(config, f"model folder {path}: {CONFIG_FILE}")
    files = _check_card(path, card, config)
    for file in files:
        _check_weights_size(file, parameters)
    members = []
    for file in files:
        try:
            model = build_model(config)
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise ValueError(
                f"model folder {path}: cannot build the model its {CONFIG_FILE} describes "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        _load_weights(file, model)
        members.append(model.to(device).eval())
    return LoadedDmpnn(path, card, config, members, device)


# ----------------------------------------------------------------------------------------------
# Prediction


def _run_members(
    members: Sequence[Any],
    mols: list,
    x_d: np.ndarray | None,
    device: str,
    batch_size: int = 256,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """Outputs (members, n, tasks) of eval-mode members on readable molecules: probabilities or
    target units (the model's own transforms scale descriptors and unscale targets)."""
    import torch
    from chemprop.data import build_dataloader

    config_like = {"atom_featurizer": "v2"}
    dataset = _dataset(mols, None, x_d, _featurizer(config_like))
    loader = build_dataloader(dataset, batch_size, shuffle=False, drop_last=False)
    outputs = [[] for _ in members]
    with torch.inference_mode():
        for batch in loader:
            check_cancelled(is_cancelled)
            bmg, V_d, X_d, *_ = batch
            bmg.to(device)
            X_d = None if X_d is None else X_d.to(device)
            for out, member in zip(outputs, members, strict=True):
                out.append(member(bmg, V_d, X_d).float().cpu().numpy())
    return np.stack([np.concatenate(out).astype(np.float64) for out in outputs])


def predict_dmpnn(
    folder: str | Path,
    smiles: Sequence[str],
    *,
    batch_size: int = 256,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> DmpnnPrediction:
    """Predict with a D-MPNN folder: the mean and standard deviation over its members.

    Parameters
    ----------
    folder
        A folder written by :func:`train_dmpnn`.
    smiles
        SMILES to predict; those RDKit cannot read get NaN rows (listed in ``invalid``).
    device, model_cache, progress, is_cancelled
        Job arguments (the model host fills in ``device`` and ``model_cache``); cancel is
        checked between batches.

    Returns
    -------
    DmpnnPrediction
        ``mean``/``std`` of shape (n, tasks); unpacks as ``mean, std``.
    """
    from core.compute import choose_device

    progress = progress or no_progress
    device = device or choose_device("auto").device
    loaded = load_dmpnn(folder, device, model_cache)
    config = loaded.config
    smiles = list(smiles)
    n, n_tasks = len(smiles), config["n_tasks"]
    mean = np.full((n, n_tasks), np.nan)
    std = np.full((n, n_tasks), np.nan)
    invalid: list[int] = []
    descriptors = config["n_descriptors"] > 0
    for start in range(0, n, FEATURIZE_CHUNK):
        check_cancelled(is_cancelled)
        chunk = smiles[start : start + FEATURIZE_CHUNK]
        mols, x_d = _parse(chunk, descriptors, no_progress, is_cancelled, "")
        keep = np.array([m is not None for m in mols], dtype=bool)
        invalid.extend(int(start + i) for i in np.flatnonzero(~keep))
        if keep.any():
            outputs = _run_members(
                loaded.members,
                [m for m in mols if m is not None],
                None if x_d is None else x_d[keep],
                loaded.device,
                batch_size,
                is_cancelled,
            )
            rows = start + np.flatnonzero(keep)
            mean[rows] = outputs.mean(axis=0)
            std[rows] = outputs.std(axis=0)
        done = min(n, start + FEATURIZE_CHUNK)
        progress(done / n, f"D-MPNN: predicted {done:,} of {n:,}")
    if invalid:
        progress(-1.0, f"{len(invalid)} of {n} SMILES cannot be read: their rows are empty")
    return DmpnnPrediction(
        mean=mean,
        std=std,
        invalid=tuple(invalid),
        target_names=tuple(loaded.card["target_names"]),
        task=config["task"],
    )
