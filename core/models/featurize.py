"""Fingerprint featurizers: SMILES in, a ``uint8`` matrix and a mask of parseable rows out.

Featurizers are registered by name (:data:`FEATURIZERS`), so a model card, the baselines and the
benchmarks refer to ``"ecfp4"`` or ``"maccs"`` rather than to functions. Each registered function
turns one RDKit molecule into a 1-D ``uint8`` array of fixed length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

from core.jobs import CancelCheck, ProgressCallback, check_cancelled

ECFP_RADIUS = 2
ECFP_BITS = 2048
MACCS_BITS = 167  # RDKit's MACCS keys: bit 0 is unused, keys 1–166 follow the MDL numbering.

MolFeaturizer = Callable[[Chem.Mol], np.ndarray]


@dataclass(slots=True, frozen=True)
class FeaturizerSpec:
    """A registered featurizer: its name, the length of its vectors and the function."""

    name: str
    n_bits: int
    fn: MolFeaturizer


FEATURIZERS: dict[str, FeaturizerSpec] = {}


def register_featurizer(name: str, n_bits: int) -> Callable[[MolFeaturizer], MolFeaturizer]:
    """Decorator registering ``fn(mol) -> uint8 array of length n_bits`` under ``name``."""

    def add(fn: MolFeaturizer) -> MolFeaturizer:
        if name in FEATURIZERS:
            raise ValueError(f"a featurizer named {name!r} is already registered")
        FEATURIZERS[name] = FeaturizerSpec(name, n_bits, fn)
        return fn

    return add


def get_featurizer(name: str) -> FeaturizerSpec:
    """The featurizer registered as ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return FEATURIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown featurizer {name!r}; known: {', '.join(sorted(FEATURIZERS))}"
        ) from None


@register_featurizer("ecfp4", ECFP_BITS)
def ecfp4(mol: Chem.Mol) -> np.ndarray:
    """ECFP4: Morgan fingerprint of radius 2 folded to 2048 bits (``rdFingerprintGenerator``)."""
    # A generator per call: they are cheap to make and not documented as thread-safe.
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=ECFP_RADIUS, fpSize=ECFP_BITS)
    return generator.GetFingerprintAsNumPy(mol).astype(np.uint8, copy=False)


@register_featurizer("maccs", MACCS_BITS)
def maccs(mol: Chem.Mol) -> np.ndarray:
    """The 166 MACCS structural keys (167 bits, RDKit's layout)."""
    bits = np.zeros(MACCS_BITS, dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(mol), bits)
    return bits


@dataclass(slots=True, frozen=True)
class Features:
    """A featurized set: ``matrix`` (n × bits, ``uint8``; zero rows where invalid) and ``valid``."""

    name: str
    matrix: np.ndarray
    valid: np.ndarray

    @property
    def n_invalid(self) -> int:
        return int((~self.valid).sum())


def parse_smiles(smiles: str) -> Chem.Mol | None:
    """``Chem.MolFromSmiles`` without RDKit's log noise; ``None`` when it does not parse."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(smiles)


def featurize(
    smiles: Sequence[str],
    name: str = "ecfp4",
    *,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> Features:
    """Featurize every SMILES with the featurizer registered as ``name``.

    Rows that RDKit cannot parse stay in place as zero rows with ``valid`` false, so row ``i`` of the
    matrix is always molecule ``i``; callers drop or mask them.

    Raises
    ------
    ValueError
        Unknown featurizer name.
    core.jobs.JobCancelled
        When ``is_cancelled`` turns true (checked every 500 molecules).
    """
    spec = get_featurizer(name)
    n = len(smiles)
    matrix = np.zeros((n, spec.n_bits), dtype=np.uint8)
    valid = np.zeros(n, dtype=bool)
    for i, text in enumerate(smiles):
        if i % 500 == 0:
            check_cancelled(is_cancelled)
            if progress is not None and n:
                progress(i / n, f"{spec.name}: {i:,} of {n:,} molecules")
        mol = parse_smiles(text)
        if mol is not None:
            matrix[i] = spec.fn(mol)
            valid[i] = True
    if progress is not None:
        progress(1.0, f"{spec.name}: {n:,} molecules")
    return Features(spec.name, matrix, valid)
