"""Per-atom explanations of a chemprop D-MPNN prediction: integrated gradients on the graph's atom
and bond features, restated relative to the training mean or base rate.

Integrated gradients (Sundararajan et al., 2017) integrates the gradient of the prediction along
the straight path from a baseline input to the molecule. Here the baseline is the same graph with
every atom and bond feature set to 0 ("these atoms and bonds, of no known kind"); the path scales
all features together, so the attributions add up to ``f(molecule) - f(baseline)``
(completeness), up to the Gauss-Legendre integration's error, which is reported. A bond's
attribution is shared by its two atoms. As for the transformer
(:func:`core.models.explain.rebase_integrated_gradients`), the baseline's distance from the
reference belongs to no atom and is shared equally by all of them, so the atoms add up to
``prediction - reference``. A classifier is explained in probability, the model's output.

The model's RDKit descriptors (when it uses them) describe the whole molecule: they stay at the
molecule's values along the path, so their effect is inside the baseline's output and reaches the
atoms only through the equal share (the output says so).

Runs where torch runs (the model host): :func:`core.models.explain.explain_molecule` imports this
module inside the job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.jobs import CancelCheck, check_cancelled
from core.models.explain import (
    DEFAULT_STEPS,
    AtomExplanation,
    _gauss_legendre,
    _target_name,
    model_reference,
)

MAX_BATCH_POINTS = 64
"""Path points per forward pass (each a copy of the molecule's graph)."""


def _member_integrated_gradients(
    member: Any, graph: Any, x_d: Any, target_index: int, steps: int, device: str
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(atom attributions, directed-bond attributions, f(molecule), f(baseline))`` of one
    member: the path's points are copies of the molecule's graph in one batch, their features
    scaled by the path position."""
    import torch
    from chemprop.data import BatchMolGraph

    alphas, weights = _gauss_legendre(steps)
    V = torch.as_tensor(np.asarray(graph.V), dtype=torch.float32, device=device)
    E = torch.as_tensor(np.asarray(graph.E), dtype=torch.float32, device=device)
    atoms = np.zeros(V.shape[0], dtype=np.float64)
    edges = np.zeros(E.shape[0], dtype=np.float64)
    ends: list[float] = []
    positions = [*alphas.tolist(), 1.0, 0.0]  # the path, then the molecule and the baseline
    weight = [*weights.tolist(), 0.0, 0.0]
    for start in range(0, len(positions), MAX_BATCH_POINTS):
        chunk = positions[start : start + MAX_BATCH_POINTS]
        k = len(chunk)
        scale = torch.tensor(chunk, dtype=torch.float32, device=device)[:, None, None]
        batch = BatchMolGraph([graph] * k)
        batch.to(device)
        points_v = (scale * V[None]).reshape(-1, V.shape[1]).detach().requires_grad_(True)
        points_e = (scale * E[None]).reshape(-1, E.shape[1]).detach().requires_grad_(True)
        batch.V, batch.E = points_v, points_e
        descriptors = None if x_d is None else x_d.expand(k, -1)
        with torch.enable_grad():
            out = member(batch, None, descriptors)[:, target_index]
            w = torch.tensor(weight[start : start + k], dtype=torch.float32, device=device)
            # A molecule of one atom has no bonds: its bond features get no gradient.
            grad_v, grad_e = torch.autograd.grad(
                (out * w).sum(), (points_v, points_e), allow_unused=True
            )
        atoms += (grad_v.reshape(k, *V.shape).sum(dim=0) * V).sum(dim=-1).cpu().double().numpy()
        if grad_e is not None and E.numel():
            summed = grad_e.reshape(k, *E.shape).sum(dim=0)
            edges += (summed * E).sum(dim=-1).cpu().double().numpy()
        values = out.detach().cpu().double().tolist()
        ends += [v for i, v in enumerate(values) if start + i >= len(alphas)]
    return atoms, edges, ends[0], ends[1]


def explain_dmpnn(
    folder: str | os.PathLike,
    smiles: str,
    target: int | str = 0,
    *,
    steps: int = DEFAULT_STEPS,
    device: str | None = None,
    model_cache: Any = None,
    is_cancelled: CancelCheck | None = None,
) -> AtomExplanation:
    """Explain a D-MPNN folder's prediction for ``smiles`` atom by atom (see the module
    docstring); an ensemble is explained as the mean of its members.

    Raises
    ------
    ValueError
        Not a D-MPNN folder, unknown target, bad ``steps``, or a SMILES RDKit cannot read.
    """
    import torch

    from core.jobs import no_progress
    from core.models.dmpnn import _featurizer, _parse, load_dmpnn

    if not 2 <= int(steps) <= 512:
        raise ValueError(f"steps must be between 2 and 512, not {steps}")
    folder = Path(folder)
    device = device or "cpu"
    loaded = load_dmpnn(folder, device, model_cache)
    config, card = loaded.config, loaded.card
    names = list(card.get("target_names") or [])
    name = _target_name(names, target)
    index = names.index(name)
    task = str(config["task"])
    descriptors = config["n_descriptors"] > 0
    mols, x_d = _parse([smiles], descriptors, no_progress, is_cancelled, "explained")
    mol = mols[0]
    if mol is None:
        raise ValueError(f"RDKit cannot parse the SMILES {smiles!r}")
    graph = _featurizer(config)(mol)
    descriptor_row = (
        None if x_d is None else torch.as_tensor(x_d[:1], dtype=torch.float32, device=device)
    )
    n_atoms = mol.GetNumAtoms()
    atoms = np.zeros(n_atoms, dtype=np.float64)
    outputs, baselines = [], []
    for member in loaded.members:
        check_cancelled(is_cancelled)
        member.eval()
        member_atoms, member_edges, output, baseline = _member_integrated_gradients(
            member, graph, descriptor_row, index, int(steps), device
        )
        atoms += member_atoms
        # A directed bond's share goes half to each of its atoms.
        for e, (a, b) in enumerate(np.asarray(graph.edge_index).T):
            atoms[int(a)] += member_edges[e] / 2.0
            atoms[int(b)] += member_edges[e] / 2.0
        outputs.append(output)
        baselines.append(baseline)
    n = len(loaded.members)
    atoms /= n
    prediction = float(np.mean(outputs))
    baseline_output = float(np.mean(baselines))
    integrated_gap = float(atoms.sum() - (prediction - baseline_output))
    fallback_kind = "even odds" if task == "classification" else None
    reference = model_reference(
        folder,
        name,
        task,
        fallback=0.5 if task == "classification" else None,
        fallback_kind=fallback_kind,
    )
    share = (baseline_output - reference.value) / n_atoms
    atoms += share
    method = (
        f"Integrated gradients ({int(steps)} Gauss-Legendre steps, {n} member"
        f"{'s' if n != 1 else ''}) on the D-MPNN's atom and bond features from the same graph "
        f"with every feature 0 (output {baseline_output:.3f}); bonds are shared by their two "
        f"atoms, and the gap between the baseline and the reference "
        f"({baseline_output - reference.value:+.3f}) equally by the {n_atoms} atoms "
        f"({share:+.3f} each)."
    )
    notes = (
        (
            "The model's RDKit descriptors stay at this molecule's values along the path: "
            "their effect reaches the atoms only through the equal share.",
        )
        if descriptors
        else ()
    )
    return AtomExplanation(
        smiles=smiles,
        target=name,
        task=task,
        family="dmpnn",
        method=method,
        mol=mol,
        atom_attributions=atoms,
        unplaced=0.0,
        unplaced_text="",
        prediction=prediction,
        reference=reference,
        additive=True,
        gap=integrated_gap,
        notes=notes,
    )
