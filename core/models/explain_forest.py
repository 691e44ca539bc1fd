"""Per-atom explanations of a random forest on Morgan fingerprints: the forest's prediction split
exactly into one contribution per fingerprint bit, and each bit's share put on the atoms of the
substructures that set it.

Method: the tree-path decomposition (Saabas; the ``treeinterpreter`` package): in every tree the
prediction is the root's value plus, along the molecule's path, each child's value minus its
parent's, credited to the feature the parent split on. Averaged over the trees,
``prediction = bias + sum of contributions`` exactly, where ``bias`` is the trees' average root
value (the training mean, or base rate, as each tree's bootstrap sample saw it). It is chosen over
the two alternatives because it is signed, local (this molecule's own path, not the forest's
global ``feature_importances_``, which have no sign) and exact in one pass; removing each atom's
bits and predicting again (RDKit's ``SimilarityMaps.GetAtomicWeightsForModel``) needs one forest
evaluation per atom and its differences do not add up to anything.

Bits to atoms: RDKit's bit information gives, for every set bit, each (centre atom, radius)
environment that sets it; a bit's contribution is shared equally by its environments and, within
one, equally by its atoms (the centre and every atom within ``radius`` bonds). Splits on bits the
molecule does *not* have (it lacks a substructure) and on whole-molecule features (descriptors)
are real parts of the prediction but sit on no atom: they are reported as ``unplaced``, so the
atoms plus that remainder still add up to ``prediction - reference``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from core.jobs import CancelCheck, check_cancelled
from core.models.explain import AtomExplanation, model_reference
from core.models.featurize import ECFP_BITS, ECFP_RADIUS, parse_smiles

MORGAN_FEATURIZERS = {"ecfp4": (ECFP_RADIUS, ECFP_BITS)}
"""Featurizers whose first ``n_bits`` columns are Morgan bits of ``radius`` (the rest, if any,
are whole-molecule features), by name: only these can be put on atoms."""


def tree_path_contributions(forest, x: np.ndarray, positive_column: int | None = None):
    """``(bias, contributions)`` of one sample ``x`` (1-D features) for a fitted scikit-learn
    forest: ``bias + contributions.sum()`` equals the forest's prediction (``predict`` for a
    regressor; ``predict_proba[:, positive_column]`` for a classifier).

    Node ids grow from parent to child in scikit-learn's trees, so a path's nodes in id order
    are in depth order."""
    row = np.asarray(x, dtype=np.float32).reshape(1, -1)
    contributions = np.zeros(row.shape[1], dtype=np.float64)
    bias = 0.0
    trees = forest.estimators_
    for tree in trees:
        structure = tree.tree_
        value = structure.value[:, 0, :]
        if positive_column is None:
            node_values = value[:, 0].astype(np.float64)
        else:
            # A classifier's node values are class weights (or already fractions): normalise
            # them, as predict_proba does.
            totals = value.sum(axis=1)
            node_values = value[:, positive_column] / np.where(totals > 0, totals, 1.0)
        path = np.sort(tree.decision_path(row).indices)
        bias += node_values[path[0]]
        parents, children = path[:-1], path[1:]
        np.add.at(
            contributions,
            structure.feature[parents],
            node_values[children] - node_values[parents],
        )
    return bias / len(trees), contributions / len(trees)


def morgan_atom_sets(mol, radius: int, n_bits: int) -> tuple[np.ndarray, dict[int, list[tuple]]]:
    """The Morgan bits of ``mol`` (as ``core.models.featurize`` computes them) and, per set bit,
    the atoms of each environment that sets it."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    output = rdFingerprintGenerator.AdditionalOutput()
    output.AllocateBitInfoMap()
    bits = generator.GetFingerprintAsNumPy(mol, additionalOutput=output)
    environments: dict[int, list[tuple]] = {}
    for bit, places in output.GetBitInfoMap().items():
        for centre, r in places:
            atoms = {int(centre)}
            if r > 0:
                for bond in Chem.FindAtomEnvironmentOfRadiusN(mol, int(r), int(centre)):
                    b = mol.GetBondWithIdx(bond)
                    atoms.update((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
            environments.setdefault(int(bit), []).append(tuple(sorted(atoms)))
    return bits, environments


def bits_to_atoms(
    contributions: Sequence[float], environments: dict[int, list[tuple]], n_atoms: int
) -> tuple[np.ndarray, float]:
    """Put each set bit's contribution on its atoms (shared equally by its environments, then by
    each environment's atoms); returns ``(per atom, what is left on no atom)``."""
    values = np.asarray(contributions, dtype=np.float64)
    atoms = np.zeros(n_atoms, dtype=np.float64)
    placed = 0.0
    for bit, places in environments.items():
        if bit >= len(values) or not values[bit]:
            continue
        placed += values[bit]
        for members in places:
            share = values[bit] / len(places) / len(members)
            for atom in members:
                atoms[atom] += share
    return atoms, float(values.sum() - placed)


def explain_forest(
    folder: str | os.PathLike,
    smiles: str,
    target: int | str = 0,
    *,
    is_cancelled: CancelCheck | None = None,
) -> AtomExplanation:
    """Explain a random forest's prediction for ``smiles`` atom by atom, relative to the
    training mean or base rate (see the module docstring).

    Raises
    ------
    ValueError
        Not a forest folder, a featurizer whose features are not Morgan bits, unknown target,
        or a SMILES RDKit cannot read.
    """
    from core.models.baselines import load_baseline
    from core.models.featurize import get_featurizer

    folder = Path(folder)
    model = load_baseline(folder)
    if model.featurizer not in MORGAN_FEATURIZERS:
        raise ValueError(
            f"{folder}: a forest on {model.featurizer!r} features cannot be drawn on atoms "
            f"(explainable: {', '.join(MORGAN_FEATURIZERS)})"
        )
    names = list(model.target_names)
    if isinstance(target, str):
        if target not in names:
            raise ValueError(f"The model has no target {target!r} (targets: {', '.join(names)})")
        index = names.index(target)
    else:
        index = int(target)
        if not 0 <= index < len(names):
            raise ValueError(f"Target index {target} out of range (the model has {len(names)})")
    mol = parse_smiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        raise ValueError(f"RDKit cannot parse the SMILES {smiles!r}")
    check_cancelled(is_cancelled)
    radius, n_bits = MORGAN_FEATURIZERS[model.featurizer]
    features = get_featurizer(model.featurizer).fn(mol).astype(np.float32)
    bits, environments = morgan_atom_sets(mol, radius, n_bits)
    if not np.array_equal(features[:n_bits] > 0, bits > 0):
        raise ValueError(f"{model.featurizer}: the bit information does not match the features")
    forest = model.forests[index]
    column = None
    if model.task == "classification":
        column = int(np.flatnonzero(forest.classes_ == 1.0)[0])
    bias, contributions = tree_path_contributions(forest, features, column)
    prediction = bias + float(contributions.sum())
    name = names[index]
    reference = model_reference(folder, name, model.task, fallback=bias)
    atoms, absent = bits_to_atoms(contributions[:n_bits], environments, mol.GetNumAtoms())
    whole_molecule = float(contributions[n_bits:].sum())
    offset = bias - reference.value
    unplaced = absent + whole_molecule + offset
    parts = [f"substructures the molecule lacks {absent:+.3f}"]
    if len(contributions) > n_bits:
        parts.append(f"whole-molecule features {whole_molecule:+.3f}")
    if reference.kind != "model average":
        parts.append(
            f"the forest's own average ({bias:.3f}, as its bootstrap samples"
            f"{' and class weights' if model.task == 'classification' else ''} saw the training "
            f"data) minus the reference {offset:+.3f}"
        )
    method = (
        f"Random forest ({len(forest.estimators_)} trees, {model.featurizer}): the tree-path "
        "decomposition splits the prediction exactly into one contribution per fingerprint "
        "bit; each set bit's share goes to the atoms of the substructures that set it. "
        "Not on atoms: " + "; ".join(parts) + "."
    )
    return AtomExplanation(
        smiles=smiles,
        target=name,
        task=model.task,
        family="rf",
        method=method,
        mol=mol,
        atom_attributions=atoms,
        unplaced=unplaced,
        unplaced_text="not on atoms",
        prediction=prediction,
        reference=reference,
        additive=True,
        gap=float(atoms.sum() + unplaced - (prediction - reference.value)),
    )
