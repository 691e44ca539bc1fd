"""Random-forest baselines on fingerprints, single- or multi-task, with uncertainty and safe saving.

One forest per task, each trained on the rows labelled for that task (multi-task tables have holes).
Forests grow in chunks of :data:`TREES_PER_CHUNK` trees (``warm_start``), so a job reports progress
and honours cancel between chunks. Models are saved with skops, never pickle: loading checks every
type in the file against an allow-list and refuses the file otherwise, because a pickle-like file
from elsewhere could run code.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.jobs import CancelCheck, ProgressCallback, check_cancelled
from core.models.featurize import featurize

TREES_PER_CHUNK = 50
TASKS = ("classification", "regression")
FORESTS_FILE = "forests.skops"
META_FILE = "baseline.json"

TRUSTED_TYPES = frozenset(
    {
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._tree.Tree",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.random.mtrand.RandomState",
        "builtins.list",
        "builtins.tuple",
        "builtins.dict",
        "builtins.NoneType",
    }
)
"""Types a saved baseline may contain; skops refuses to build anything else."""


@dataclass(slots=True, frozen=True)
class BaselineModel:
    """A fitted forest per task and how they were made.

    ``forests[t]`` is a scikit-learn ``RandomForestClassifier`` or ``RandomForestRegressor``.
    """

    task: str
    featurizer: str
    target_names: tuple[str, ...]
    forests: tuple[object, ...]
    n_trees: int
    seed: int
    class_weight: str | None


@dataclass(slots=True, frozen=True)
class BaselinePrediction:
    """Per molecule and task: the forest's mean and the spread across its trees (NaN if invalid).

    For classification ``mean`` is the probability of class 1 and ``std`` the standard deviation of
    the trees' probabilities; for regression, the mean and standard deviation of the trees' values.
    """

    mean: np.ndarray
    std: np.ndarray
    valid: np.ndarray
    target_names: tuple[str, ...]


def available_cores(requested: int | None = None, reserve: int = 1) -> int:
    """How many cores a forest may use: ``requested`` capped by the machine, keeping ``reserve``.

    ``None`` means all but ``reserve`` (one core stays for the window). Always at least 1.
    """
    total = os.cpu_count() or 1
    budget = max(1, total - reserve)
    return budget if requested is None else max(1, min(int(requested), total))


def _as_matrix(targets: np.ndarray | Sequence, n: int) -> np.ndarray:
    y = np.asarray(targets, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise ValueError(f"targets must have one row per SMILES ({n}), got shape {y.shape}")
    return y


def fit_baseline(
    smiles: Sequence[str],
    targets: np.ndarray | Sequence,
    task: str,
    *,
    featurizer: str = "ecfp4",
    target_names: Sequence[str] | None = None,
    n_trees: int = 500,
    class_weight: str | None = None,
    seed: int = 0,
    n_jobs: int | None = 1,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> BaselineModel:
    """Fit one random forest per task on the fingerprints of ``smiles``.

    Parameters
    ----------
    smiles
        Training SMILES; rows RDKit cannot parse are left out.
    targets
        ``n`` or ``n × T`` values; NaN marks a missing label (that row is left out for that task).
        Classification labels are 0/1.
    task
        ``"classification"`` or ``"regression"``.
    featurizer
        A name registered in :mod:`core.models.featurize`.
    n_trees
        Trees per forest, grown in chunks of 50 with a cancel check between chunks.
    class_weight
        ``None`` or ``"balanced"`` (classification only).
    seed
        ``random_state`` of every forest.
    n_jobs
        Cores per forest, capped by :func:`available_cores` (``None``: all but one).

    Raises
    ------
    ValueError
        Unknown task, bad shapes, a task with too few labels or a single class.
    core.jobs.JobCancelled
        When ``is_cancelled`` turns true.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    if n_trees < 1:
        raise ValueError(f"n_trees must be at least 1, got {n_trees}")
    y = _as_matrix(targets, len(smiles))
    names = (
        tuple(target_names)
        if target_names is not None
        else tuple(f"task{t}" for t in range(y.shape[1]))
    )
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} target names for {y.shape[1]} target columns")
    features = featurize(smiles, featurizer, is_cancelled=is_cancelled)
    X = features.matrix.astype(np.float32)
    jobs = available_cores(n_jobs)
    chunks = [
        min(n_trees, k) for k in range(TREES_PER_CHUNK, n_trees + TREES_PER_CHUNK, TREES_PER_CHUNK)
    ]
    steps = len(chunks) * y.shape[1]
    forests = []
    for t, name in enumerate(names):
        rows = features.valid & ~np.isnan(y[:, t])
        labels = y[rows, t]
        if task == "classification":
            classes = np.unique(labels)
            if not np.isin(classes, (0.0, 1.0)).all():
                raise ValueError(
                    f"task {name!r}: classification labels must be 0 or 1, got {classes}"
                )
            if len(classes) < 2:
                raise ValueError(
                    f"task {name!r}: the training rows hold only class {classes.tolist()}; "
                    "a classifier needs both classes"
                )
            forest = RandomForestClassifier(
                n_estimators=chunks[0],
                class_weight=class_weight,
                random_state=seed,
                n_jobs=jobs,
                warm_start=True,
            )
        else:
            if len(labels) < 2:
                raise ValueError(f"task {name!r}: {len(labels)} labelled rows; at least 2 needed")
            forest = RandomForestRegressor(
                n_estimators=chunks[0], random_state=seed, n_jobs=jobs, warm_start=True
            )
        for c, size in enumerate(chunks):
            check_cancelled(is_cancelled)
            forest.set_params(n_estimators=size)
            with warnings.catch_warnings():
                # Warm start refits on the very same rows, so "balanced" weights stay correct;
                # scikit-learn warns anyway.
                warnings.filterwarnings("ignore", message=".*class_weight presets.*")
                forest.fit(X[rows], labels)
            if progress is not None:
                done = t * len(chunks) + c + 1
                progress(done / steps, f"{name}: {size} of {n_trees} trees")
        forests.append(forest)
    return BaselineModel(
        task=task,
        featurizer=featurizer,
        target_names=names,
        forests=tuple(forests),
        n_trees=n_trees,
        seed=seed,
        class_weight=class_weight,
    )


def predict_baseline(
    model: BaselineModel,
    smiles: Sequence[str],
    *,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> BaselinePrediction:
    """Predict every task for ``smiles``: the forest's mean and the standard deviation over trees.

    Rows RDKit cannot parse get NaN. The mean equals scikit-learn's ``predict_proba[:, 1]``
    (classification) or ``predict`` (regression).
    """
    features = featurize(smiles, model.featurizer, is_cancelled=is_cancelled)
    X = features.matrix[features.valid].astype(np.float32)
    n, n_tasks = len(smiles), len(model.forests)
    mean = np.full((n, n_tasks), np.nan)
    std = np.full((n, n_tasks), np.nan)
    for t, forest in enumerate(model.forests):
        check_cancelled(is_cancelled)
        if len(X):
            per_tree = np.empty((len(forest.estimators_), len(X)))
            if model.task == "classification":
                # Trees are fitted on class positions, so column k is forest.classes_[k].
                column = int(np.flatnonzero(forest.classes_ == 1.0)[0])
                for k, tree in enumerate(forest.estimators_):
                    per_tree[k] = tree.predict_proba(X, check_input=False)[:, column]
            else:
                for k, tree in enumerate(forest.estimators_):
                    per_tree[k] = tree.predict(X, check_input=False)
            mean[features.valid, t] = per_tree.mean(axis=0)
            std[features.valid, t] = per_tree.std(axis=0)
        if progress is not None:
            progress((t + 1) / n_tasks, f"{model.target_names[t]}: predicted")
    return BaselinePrediction(mean, std, features.valid, model.target_names)


def save_baseline(model: BaselineModel, directory: str | os.PathLike) -> Path:
    """Write ``forests.skops`` (skops format, no pickle) and ``baseline.json`` into ``directory``.

    Returns the directory. Existing files are replaced.
    """
    import sklearn
    import skops.io as sio

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "task": model.task,
        "featurizer": model.featurizer,
        "target_names": list(model.target_names),
        "n_trees": model.n_trees,
        "seed": model.seed,
        "class_weight": model.class_weight,
        "sklearn_version": sklearn.__version__,
    }
    from core.fileio import atomic_path, write_text_atomic

    # Each file is written under a temporary name, then renamed: a crash never leaves half a
    # file behind.
    with atomic_path(folder / FORESTS_FILE) as temporary:
        sio.dump(list(model.forests), temporary)
    write_text_atomic(folder / META_FILE, json.dumps(meta, indent=2))
    return folder


MAX_ARCHIVE_BYTES = 16 * 1024**3
"""Most bytes a ``forests.skops`` archive may unpack to (a 500-tree forest on 10,000 molecules is
about 1 GB per task)."""
MAX_SCHEMA_BYTES = 64 * 1024**2
"""Most bytes of the archive's ``schema.json`` (its description of the objects: a few MB)."""
MAX_PACKING_RATIO = 100
"""skops stores members uncompressed; a member over 10 MB packed more tightly than this is a zip
bomb, refused before it is unpacked."""


def _check_archive_sizes(path: Path) -> None:
    """Refuse an archive whose members would unpack to more than the limits above, from its
    directory alone (``ZipFile`` reads a member no further than its declared size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a skops model file ({exc})") from None
    total = sum(member.file_size for member in members)
    for member in members:
        packed = max(member.compress_size, 1)
        if member.file_size > 10 * 1024**2 and member.file_size > MAX_PACKING_RATIO * packed:
            raise ValueError(
                f"{path}: refusing to load: {member.filename} unpacks {member.file_size:,} bytes "
                f"from {member.compress_size:,} (a zip bomb, not a saved model)"
            )
        if member.filename == "schema.json" and member.file_size > MAX_SCHEMA_BYTES:
            raise ValueError(f"{path}: refusing to load: its schema.json is too large")
    if total > MAX_ARCHIVE_BYTES:
        raise ValueError(
            f"{path}: refusing to load: it unpacks to {total:,} bytes (at most "
            f"{MAX_ARCHIVE_BYTES:,})"
        )


def load_baseline(directory: str | os.PathLike) -> BaselineModel:
    """Read a baseline written by :func:`save_baseline`, refusing any type outside the allow-list.

    Raises
    ------
    ValueError
        Missing files, a file that is not a skops archive, untrusted types in it, or bad metadata;
        the message names the file.
    """
    import skops.io as sio

    from core.models.featurize import FEATURIZERS
    from core.models.registry import model_file, read_model_json

    folder = Path(directory)
    # Plain names that must resolve inside the folder: a link to another model's file is refused.
    path = model_file(folder, FORESTS_FILE)
    meta_path = model_file(folder, META_FILE, "metadata")
    for needed in (path, meta_path):
        if not needed.is_file():
            raise ValueError(f"{folder}: {needed.name} is missing; not a saved baseline")
    meta = read_model_json(folder, META_FILE)  # size and depth limited
    try:
        task, featurizer = meta["task"], meta["featurizer"]
        target_names = tuple(meta["target_names"])
        if task not in TASKS or featurizer not in FEATURIZERS:
            raise ValueError(f"task {task!r} or featurizer {featurizer!r} is unknown")
        if (
            not isinstance(meta["target_names"], list)
            or not target_names
            or not all(isinstance(n, str) for n in target_names)
        ):
            raise ValueError("target_names must be a list of names")
        for key in ("n_trees", "seed"):
            if key in meta and (not isinstance(meta[key], int) or isinstance(meta[key], bool)):
                raise ValueError(f"{key} must be a whole number")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{meta_path}: unreadable baseline metadata ({exc})") from None
    _check_archive_sizes(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a skops model file ({exc})") from None
    refused = sorted(set(untrusted) - TRUSTED_TYPES)
    if refused:
        raise ValueError(
            f"{path}: refusing to load: it contains types that are not trusted: {', '.join(refused)}"
        )
    try:
        forests = sio.load(path, trusted=list(untrusted))
    except Exception as exc:  # skops raises many kinds on a damaged archive; all mean "unusable"
        raise ValueError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from exc
    expected = "Classifier" if task == "classification" else "Regressor"
    if (
        not isinstance(forests, list)
        or len(forests) != len(target_names)
        or not all(type(f).__name__ == f"RandomForest{expected}" for f in forests)
    ):
        raise ValueError(f"{path}: does not hold one random forest per target of {meta_path.name}")
    return BaselineModel(
        task=task,
        featurizer=featurizer,
        target_names=target_names,
        forests=tuple(forests),
        n_trees=int(meta.get("n_trees", len(forests[0].estimators_))),
        seed=int(meta.get("seed", 0)),
        class_weight=meta.get("class_weight"),
    )
