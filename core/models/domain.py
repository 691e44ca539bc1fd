"""The applicability domain of a trained model: how similar a new molecule is to the molecules the
model learned from, and whether that is similar enough for the card's held-out metrics to speak
for its prediction.

* **Similarity**: the largest Tanimoto similarity of ECFP4 fingerprints (Morgan radius 2,
  2048 bits, RDKit's generator: the bits ``DataStructs.BulkTanimotoSimilarity`` compares) between
  a molecule and the model's training molecules (``nearest_train_similarity``).
* **Threshold rule** (:func:`choose_threshold`): the 5th percentile (numpy's ``"lower"`` method,
  so an observed value) of the *validation* molecules' nearest-training similarity. The card's
  validation and test metrics were measured on molecules like those; a molecule less similar to
  the training set than 95 % of the validation molecules lies where the model was never checked,
  so its prediction is flagged ``in_domain = False``. The rule needs no labels (multi-task data
  with missing labels works alike) and is stable on a hundred validation molecules, where an
  error-based threshold (the similarity below which the validation error grows) is mostly noise.
  The test part is never used to choose: the card reports, after the fact, how many test
  molecules fall inside and their error inside and outside.
* **Storage**: the training molecules' fingerprints are kept in the model folder as packed bits
  (:data:`FINGERPRINTS_FILE`: a ``uint8`` array of shape ``(n, 256)``, read with
  ``allow_pickle=False`` after its header is checked against :data:`MAX_TRAIN_MOLECULES`), and
  the threshold and how it was chosen go on the card (``card.json`` key ``"domain"``).

A model folder without them (trained before this module, or by other tools) has an unknown
domain: :func:`load_domain` returns ``None`` and predictions get missing values, never an error.
The domain of such a model is rebuilt from its training data with :func:`rebuild_domain` when the
data can be rebuilt (the card's ``data_hash`` and split must match).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

if TYPE_CHECKING:
    from core.chem.search import FingerprintIndex
    from core.models.datasets import AssayDataset
    from core.models.splits import Split

DOMAIN_KEY = "domain"
"""The card's key holding the domain summary (threshold, rule, sizes, test check)."""
FINGERPRINTS_FILE = "train_fingerprints.npy"
FP_RADIUS = 2
FP_BITS = 2048
FP_BYTES = FP_BITS // 8
FINGERPRINT_NAME = "ECFP4 (Morgan radius 2, 2048 bits)"
DEFAULT_QUANTILE = 0.05
"""The share of validation molecules allowed below the threshold."""
MAX_TRAIN_MOLECULES = 2_000_000
"""Most training fingerprints a model folder may hold (512 MB packed): a larger file is refused."""
_NPY_HEADER_SLACK = 64 * 1024
SIMILARITY_SUFFIX = "_nearest_train_similarity"
IN_DOMAIN_SUFFIX = "_in_domain"


def rule_text(quantile: float = DEFAULT_QUANTILE) -> str:
    """The threshold rule in words, as the card states it."""
    return (
        "in domain when the nearest training molecule (ECFP4 Tanimoto) is at least as similar as "
        f"the threshold: the {_percentile_text(quantile)} of the validation molecules' "
        f"nearest-training similarity ({100 * (1 - quantile):g}% of the molecules the model was "
        "validated on are at least this similar; the test part was not used to choose)"
    )


@dataclass(slots=True, frozen=True)
class DomainCheck:
    """Where a set of molecules lies relative to a model's training molecules.

    ``similarity``: the nearest-training Tanimoto similarity (NaN for a molecule not checked or
    unreadable, or for every molecule when the domain is unknown); ``in_domain``: a pandas
    nullable ``boolean`` array, missing where ``similarity`` is missing or no threshold is known.
    """

    similarity: np.ndarray
    in_domain: pd.arrays.BooleanArray
    threshold: float | None
    known: bool
    """Whether the model has a stored domain (False: "domain unknown", everything missing)."""

    @property
    def n_checked(self) -> int:
        """Molecules with an in-domain flag (read, and the model's threshold known)."""
        return int((~self.in_domain.isna()).sum())

    @property
    def n_outside(self) -> int:
        """Molecules checked and found outside the domain."""
        return int((~self.in_domain.fillna(True)).sum())


@dataclass(slots=True, frozen=True)
class ApplicabilityDomain:
    """A model's stored domain: its training fingerprints and the card's ``domain`` summary."""

    words: np.ndarray
    """``(n, 32)`` uint64: the packed training fingerprints, as :mod:`core.chem.search` scans."""
    counts: np.ndarray
    """``(n,)`` int32: bits set per training fingerprint."""
    threshold: float | None
    summary: dict[str, Any]

    def check(
        self,
        smiles: Sequence[str],
        *,
        progress: ProgressCallback = no_progress,
        is_cancelled: CancelCheck | None = None,
    ) -> DomainCheck:
        """Nearest-training similarity and ``in_domain`` of every SMILES (unreadable: missing)."""
        similarity = nearest_similarity(
            self.words, self.counts, smiles, progress=progress, is_cancelled=is_cancelled
        )
        return DomainCheck(
            similarity, in_domain_flags(similarity, self.threshold), self.threshold, True
        )


# ----------------------------------------------------------------------------------------------
# Fingerprints and similarity


def fingerprint_index(
    smiles: Sequence[str],
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> FingerprintIndex:
    """ECFP4 fingerprints of ``smiles`` as :mod:`core.chem.search` packs them (unreadable SMILES
    get none; ``rows`` says which were read)."""
    from core.chem.search import FP_BITS as SEARCH_BITS
    from core.chem.search import FP_RADIUS as SEARCH_RADIUS
    from core.chem.search import build_fingerprint_index

    # The stored files and the search module must mean the same bits.
    assert (SEARCH_BITS, SEARCH_RADIUS) == (FP_BITS, FP_RADIUS)
    texts = [s if isinstance(s, str) else "" for s in smiles]
    return build_fingerprint_index(texts, progress=progress, is_cancelled=is_cancelled)


def pack_fingerprints(index: FingerprintIndex) -> np.ndarray:
    """The index's fingerprints as ``(n, 256)`` uint8 packed bits (the stored form: the byte
    order of the machine that wrote it does not matter, unlike 64-bit words)."""
    return np.ascontiguousarray(index.words).view(np.uint8).reshape(len(index), FP_BYTES)


def unpack_fingerprints(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(words, counts)`` from packed bits: ``(n, 32)`` uint64 words and bits set per row."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    words = packed.view(np.uint64).reshape(len(packed), FP_BYTES // 8)
    counts = np.bitwise_count(packed).sum(axis=1, dtype=np.int32)
    return words, counts


def nearest_similarity(
    train_words: np.ndarray,
    train_counts: np.ndarray,
    smiles: Sequence[str],
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> np.ndarray:
    """The largest Tanimoto similarity of each SMILES to the training fingerprints.

    Uses :func:`core.chem.search.tanimoto` (numba when installed), looping over whichever set is
    smaller, so a million-molecule library against a thousand training molecules is a thousand
    scans. Equal to the maximum of RDKit's ``BulkTanimotoSimilarity`` on the same fingerprints.

    Returns
    -------
    numpy.ndarray
        float64, one per SMILES; NaN for an empty or unreadable SMILES, or when there are no
        training fingerprints.
    """
    from core.chem.search import FingerprintIndex, tanimoto

    n = len(smiles)
    best = np.full(n, np.nan)
    if n == 0 or len(train_words) == 0:
        progress(1.0, "No training fingerprints: domain unknown")
        return best
    progress(0.0, f"Fingerprinting {n:,} molecules for the applicability domain")
    query = fingerprint_index(
        smiles,
        progress=lambda f, m="": progress(0.5 * max(f, 0.0), m),
        is_cancelled=is_cancelled,
    )
    train = FingerprintIndex(
        np.ascontiguousarray(train_words, dtype=np.uint64),
        np.asarray(train_counts, dtype=np.int32),
        np.arange(len(train_words), dtype=np.int64),
        len(train_words),
    )
    m = len(query)
    found = np.zeros(m)
    # Loop over the smaller set: each scan is one compiled pass over the larger one.
    if m <= len(train):
        for i in range(m):
            if i % 256 == 0:
                check_cancelled(is_cancelled)
                progress(0.5 + 0.5 * i / max(m, 1), "Nearest training molecule")
            found[i] = tanimoto(train, query.words[i]).max()
    else:
        for j in range(len(train)):
            if j % 32 == 0:
                check_cancelled(is_cancelled)
                progress(0.5 + 0.5 * j / len(train), "Nearest training molecule")
            np.maximum(found, tanimoto(query, train.words[j]), out=found)
    best[query.rows] = found
    progress(1.0, f"Nearest training similarity of {m:,} molecules")
    return best


def choose_threshold(
    valid_similarity: Sequence[float] | np.ndarray, quantile: float = DEFAULT_QUANTILE
) -> float | None:
    """The domain threshold from the validation molecules' nearest-training similarities.

    The ``quantile`` (default 5th percentile) with numpy's ``"lower"`` method: an observed
    similarity, with at least ``1 - quantile`` of the validation molecules at or above it (they
    are in domain). Missing values are ignored; ``None`` when no validation molecule is left.
    """
    if not 0 <= quantile < 1:
        raise ValueError(f"the domain quantile must be in [0, 1), not {quantile}")
    values = np.asarray(valid_similarity, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return float(np.quantile(values, quantile, method="lower"))


def in_domain_flags(similarity: np.ndarray, threshold: float | None) -> pd.arrays.BooleanArray:
    """``similarity >= threshold`` as a nullable boolean array (missing where unknown)."""
    similarity = np.asarray(similarity, dtype=float)
    missing = ~np.isfinite(similarity)
    if threshold is None:
        missing[:] = True
    with np.errstate(invalid="ignore"):
        flags = similarity >= (threshold if threshold is not None else np.inf)
    return pd.arrays.BooleanArray(flags & ~missing, missing)


# ----------------------------------------------------------------------------------------------
# Fitting and storing a domain


def fit_domain(
    model_dir: str | os.PathLike,
    smiles: Sequence[str],
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    test_rows: np.ndarray | None = None,
    predictions: pd.DataFrame | None = None,
    task: str = "regression",
    *,
    quantile: float = DEFAULT_QUANTILE,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> dict[str, Any]:
    """Store a model's domain: fingerprint its training molecules, choose the threshold on the
    validation molecules (:func:`choose_threshold`), write :data:`FINGERPRINTS_FILE` and the
    card's ``"domain"`` summary into ``model_dir``; return the summary.

    ``predictions`` (tidy: ``part, row, target, measured, model, predicted``, rows indexing
    ``smiles``) lets the summary say, per model, the test error inside and outside the domain
    (mean absolute error for regression, Brier score for classification): a check reported after
    the choice, never used for it.
    """
    smiles = list(smiles)
    train_rows = np.asarray(train_rows, dtype=np.int64)
    valid_rows = np.asarray(valid_rows, dtype=np.int64)
    progress(0.0, "Applicability domain: fingerprinting the training molecules")
    index = fingerprint_index(
        [smiles[i] for i in train_rows],
        progress=lambda f, m="": progress(0.4 * max(f, 0.0), m),
        is_cancelled=is_cancelled,
    )
    packed = pack_fingerprints(index)
    words, counts = unpack_fingerprints(packed)
    valid_similarity = nearest_similarity(
        words,
        counts,
        [smiles[i] for i in valid_rows],
        progress=lambda f, m="": progress(0.4 + 0.3 * max(f, 0.0), m),
        is_cancelled=is_cancelled,
    )
    threshold = choose_threshold(valid_similarity, quantile)
    finite = valid_similarity[np.isfinite(valid_similarity)]
    summary: dict[str, Any] = {
        "fingerprint": FINGERPRINT_NAME,
        "radius": FP_RADIUS,
        "n_bits": FP_BITS,
        "fingerprints_file": FINGERPRINTS_FILE,
        "n_train": len(index),
        "threshold": threshold,
        "quantile": quantile,
        "rule": rule_text(quantile),
        "n_valid": int(finite.size),
        "valid_similarity": {
            "min": float(finite.min()) if finite.size else None,
            "median": float(np.median(finite)) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
        },
    }
    if test_rows is not None and len(test_rows):
        test_rows = np.asarray(test_rows, dtype=np.int64)
        test_similarity = nearest_similarity(
            words,
            counts,
            [smiles[i] for i in test_rows],
            progress=lambda f, m="": progress(0.7 + 0.3 * max(f, 0.0), m),
            is_cancelled=is_cancelled,
        )
        summary["test"] = _test_check(test_rows, test_similarity, threshold, predictions, task)
    save_domain(model_dir, packed, summary)
    progress(1.0, "Applicability domain stored")
    return summary


def _test_check(
    rows: np.ndarray,
    similarity: np.ndarray,
    threshold: float | None,
    predictions: pd.DataFrame | None,
    task: str,
) -> dict[str, Any]:
    """How many test molecules fall inside, and each model's test error inside and outside."""
    flags = in_domain_flags(similarity, threshold)
    known = ~flags.isna()
    inside = flags.fillna(False).to_numpy(dtype=bool)
    check: dict[str, Any] = {
        "n": int(known.sum()),
        "in_domain": int(inside.sum()),
        "error": "mae" if task != "classification" else "brier",
    }
    if predictions is None or predictions.empty or threshold is None:
        return check
    test = predictions[predictions["part"] == "test"].dropna(subset=["measured", "predicted"])
    where = dict(zip(rows.tolist(), inside.tolist(), strict=True))
    errors: dict[str, dict[str, Any]] = {}
    for model, group in test.groupby("model", sort=False):
        difference = group["measured"].to_numpy(float) - group["predicted"].to_numpy(float)
        error = np.abs(difference) if task != "classification" else difference**2
        located = group["row"].map(where)
        entry: dict[str, Any] = {}
        for name, mask in (("in_domain", located.eq(True)), ("outside", located.eq(False))):
            mask = mask.to_numpy(dtype=bool)
            entry[name] = float(error[mask].mean()) if mask.any() else None
            entry[f"n_{name}"] = int(group["row"][mask].nunique())
        errors[str(model)] = entry
    check["by_model"] = errors
    return check


def save_domain(model_dir: str | os.PathLike, packed: np.ndarray, summary: dict[str, Any]) -> None:
    """Write the packed training fingerprints and put ``summary`` on the card (``"domain"``).

    Raises
    ------
    ValueError
        When the folder holds no readable ``card.json`` or the fingerprints are not ``(n, 256)``
        uint8.
    """
    from core.fileio import atomic_output, write_text_atomic
    from core.models.registry import CARD_FILE, read_model_json

    folder = Path(model_dir)
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != FP_BYTES:
        raise ValueError(
            f"fingerprints must be (n, {FP_BYTES}) uint8, not {packed.dtype} {packed.shape}"
        )
    card = read_model_json(folder, CARD_FILE)
    if not isinstance(card, dict):
        raise ValueError(f"model folder {folder}: {CARD_FILE} is not a JSON object")
    with atomic_output(folder / FINGERPRINTS_FILE, "wb") as handle:
        np.save(handle, np.ascontiguousarray(packed), allow_pickle=False)
    card[DOMAIN_KEY] = summary
    write_text_atomic(folder / CARD_FILE, json.dumps(_finite_or_none(card), indent=2))


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def domain_summary(model_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The card's ``"domain"`` summary, or ``None`` when the card has none (domain unknown).

    Raises ``ValueError`` when the card cannot be read or its ``"domain"`` is not an object.
    """
    from core.models.registry import CARD_FILE, read_model_json

    folder = Path(model_dir)
    card = read_model_json(folder, CARD_FILE)
    summary = card.get(DOMAIN_KEY) if isinstance(card, dict) else None
    if summary is None:
        return None
    if not isinstance(summary, dict):
        raise ValueError(f"model folder {folder}: the card's {DOMAIN_KEY!r} must be an object")
    return summary


def read_fingerprints(path: str | os.PathLike, max_rows: int = MAX_TRAIN_MOLECULES) -> np.ndarray:
    """Read a packed fingerprint file, checked before and after loading.

    The ``.npy`` header must describe a C-ordered ``uint8`` array of shape ``(n, 256)`` with
    ``n <= max_rows``, the file must be no longer than that array, and it is read with
    ``allow_pickle=False`` (a file holding Python objects cannot run code).

    Raises
    ------
    ValueError
        Naming the file and what is wrong with it.
    """
    path = Path(path)
    limit = max_rows * FP_BYTES + _NPY_HEADER_SLACK
    try:
        size = path.stat().st_size
        if size > limit:
            raise ValueError(
                f"{path}: {size:,} bytes, more than the {limit:,} that {max_rows:,} training "
                "fingerprints take; refusing to read it"
            )
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = header(handle, max_header_size=10_000)
            if dtype != np.dtype(np.uint8) or fortran or len(shape) != 2 or shape[1] != FP_BYTES:
                raise ValueError(
                    f"{path}: not packed ECFP4 fingerprints (expected an (n, {FP_BYTES}) uint8 "
                    f"array, found {dtype} {shape})"
                )
            if shape[0] > max_rows:
                raise ValueError(
                    f"{path}: {shape[0]:,} fingerprints, more than the {max_rows:,} allowed"
                )
        packed = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read the training fingerprints ({exc})") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read the training fingerprints ({exc})") from None
    if packed.shape != shape or packed.dtype != np.uint8:  # pragma: no cover - np.load checks
        raise ValueError(f"{path}: the fingerprints do not match their header")
    return packed


def load_domain(model_dir: str | os.PathLike) -> ApplicabilityDomain | None:
    """A model folder's stored domain, or ``None`` when it has none (an older model: the domain
    is unknown, which is not an error).

    Raises
    ------
    ValueError
        When the card's domain is malformed or its fingerprint file is missing, leads out of the
        folder, is malformed, too large, or holds another number of molecules than the card says.
    """
    from core.models.registry import model_file

    folder = Path(model_dir)
    summary = domain_summary(folder)
    if summary is None:
        return None
    where = f"model folder {folder}: the card's {DOMAIN_KEY!r}"
    if summary.get("radius") != FP_RADIUS or summary.get("n_bits") != FP_BITS:
        raise ValueError(f"{where} uses fingerprints this version cannot compute")
    threshold = summary.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise ValueError(f"{where} has a threshold that is not a similarity: {threshold!r}")
    n_train = summary.get("n_train")
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 0:
        raise ValueError(f"{where} lacks the number of training molecules")
    if n_train > MAX_TRAIN_MOLECULES:
        raise ValueError(
            f"{where} says {n_train:,} training molecules, more than the "
            f"{MAX_TRAIN_MOLECULES:,} allowed"
        )
    path = model_file(folder, summary.get("fingerprints_file", FINGERPRINTS_FILE), "fingerprints")
    if not path.is_file():
        raise ValueError(f"{where} names {path.name}, which is missing")
    packed = read_fingerprints(path, max_rows=n_train)
    if len(packed) != n_train:
        raise ValueError(
            f"{path}: {len(packed):,} fingerprints, but the card says {n_train:,} training molecules"
        )
    words, counts = unpack_fingerprints(packed)
    return ApplicabilityDomain(
        words, counts, None if threshold is None else float(threshold), summary
    )


def check_domain(
    model_dir: str | os.PathLike,
    smiles: Sequence[str],
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> DomainCheck:
    """Where ``smiles`` lie relative to a model's training molecules; for a model without a
    stored domain everything is missing (``known`` False: "domain unknown").

    Raises ``ValueError`` for a malformed stored domain (see :func:`load_domain`)."""
    domain = load_domain(model_dir)
    if domain is None:
        n = len(smiles)
        similarity = np.full(n, np.nan)
        progress(1.0, "Domain unknown: the model folder holds no training fingerprints")
        return DomainCheck(similarity, in_domain_flags(similarity, None), None, False)
    return domain.check(smiles, progress=progress, is_cancelled=is_cancelled)


def describe_domain(summary: dict[str, Any] | None) -> str:
    """One paragraph for a model card: the threshold, how it was chosen, the test check."""
    if not summary:
        return (
            "Applicability domain: unknown (the model folder holds no training fingerprints; "
            "predictions carry no in-domain flag)."
        )
    threshold = summary.get("threshold")
    if threshold is None:
        return "Applicability domain: no threshold (no validation molecule could be read)."
    text = (
        f"Applicability domain: a molecule is in domain when its nearest training molecule is at "
        f"least {threshold:.2f} similar ({summary.get('fingerprint', FINGERPRINT_NAME)} "
        f"Tanimoto, {summary.get('n_train', '?')} training molecules); the threshold is the "
        f"{_percentile_text(summary.get('quantile', DEFAULT_QUANTILE))} of the "
        f"{summary.get('n_valid', '?')} validation molecules' nearest similarity."
    )
    test = summary.get("test")
    if isinstance(test, dict) and test.get("n"):
        text += f" Test: {test.get('in_domain')} of {test['n']} in domain"
        by_model = test.get("by_model") or {}
        parts = []
        for model, entry in by_model.items():
            if not isinstance(entry, dict):
                continue
            inside, outside = entry.get("in_domain"), entry.get("outside")
            if inside is None:
                continue
            error = str(test.get("error", "error")).upper()
            parts.append(
                f"{model} {error} {inside:.3f} inside"
                + (f", {outside:.3f} outside" if outside is not None else "")
            )
        text += " (" + "; ".join(parts) + ")." if parts else "."
    return text


def _percentile_text(quantile: Any) -> str:
    try:
        value = 100 * float(quantile)
    except (TypeError, ValueError):
        return "low percentile"
    number = f"{value:g}"
    suffix = "th"
    if number.endswith("1") and not number.endswith("11"):
        suffix = "st"
    elif number.endswith("2") and not number.endswith("12"):
        suffix = "nd"
    elif number.endswith("3") and not number.endswith("13"):
        suffix = "rd"
    return f"{number}{suffix} percentile"


# ----------------------------------------------------------------------------------------------
# Older models


def rebuild_domain(
    model_dir: str | os.PathLike,
    dataset: AssayDataset,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> dict[str, Any]:
    """Store the domain of a model trained before domains were stored, from its training data.

    ``dataset`` must be the data the model was trained on (its ``data_hash`` equals the card's)
    and the card's split (kind, seed) must give the sizes the card states; the training part is
    then the one the model learned from. The held-out predictions beside the card
    (``heldout_predictions.csv``), when present, give the test check.

    Raises
    ------
    ValueError
        When the card is unreadable, the data are not the model's, or the split differs.
    """
    from core.models.registry import CARD_FILE, read_model_json
    from core.models.training import PREDICTIONS_FILE, make_split

    folder = Path(model_dir)
    card = read_model_json(folder, CARD_FILE)
    if not isinstance(card, dict):
        raise ValueError(f"model folder {folder}: {CARD_FILE} is not a JSON object")
    if card.get("data_hash") != dataset.data_hash:
        raise ValueError(
            f"model folder {folder}: these are not the data the model was trained on (data hash "
            f"{dataset.data_hash[:12]}… against the card's {str(card.get('data_hash'))[:12]}…)"
        )
    split_info = card.get("split") or {}
    split: Split = make_split(
        dataset, split_info.get("kind", "scaffold"), split_info.get("seed", 0)
    )
    sizes = [len(split.train), len(split.valid), len(split.test)]
    if split_info.get("sizes") is not None and list(split_info["sizes"]) != sizes:
        raise ValueError(
            f"model folder {folder}: the split gives parts of {sizes}, the card states "
            f"{split_info['sizes']}"
        )
    predictions = None
    if (folder / PREDICTIONS_FILE).is_file():
        predictions = pd.read_csv(folder / PREDICTIONS_FILE, float_precision="round_trip")
    return fit_domain(
        folder,
        list(dataset.smiles),
        split.train,
        split.valid,
        split.test,
        predictions,
        str(card.get("task", dataset.task)),
        progress=progress,
        is_cancelled=is_cancelled,
    )
