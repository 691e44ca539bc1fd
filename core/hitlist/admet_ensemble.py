"""admet-ai's Chemprop models evaluated together, each molecule featurised once.

``admet_ai.ADMETModel.predict`` runs one Lightning ``Trainer`` per model (ten: a 5-model
classification ensemble and a 5-model regression ensemble). Each run walks a data loader that
builds every molecule's graph again (ten featurisations per molecule), and each model's message
passing sums bond messages with ``scatter_reduce_`` over an index repeated to the hidden width. It
also computes RDKit physicochemical properties and PAINS/Brenk/NIH alerts (which DrugDesk takes
from its own columns) and places each value among DrugBank's approved drugs with one
``scipy.stats.percentileofscore`` call per value.

Here each batch of molecules is featurised once (chemprop's own featuriser, the one admet-ai's
data set uses) and the ten models' message passing runs as one batched computation: their weight
matrices are stacked, so each step is one batched matrix product (``bmm``) over all ten models and
one ``index_add_`` (the same sums in the same order as ``scatter_reduce_``). Each model's own
feed-forward head (with its sigmoid or output transform) then reads its fingerprints, and each
ensemble is averaged as admet-ai averages it (a float32 mean over its models). Percentiles use
``searchsorted`` on the sorted reference, the same counts as ``percentileofscore(kind="rank")``.

A model whose architecture this does not know (another message passing, aggregation, extra
descriptors) runs through its own ``forward`` on the shared graph instead: still featurised once.

Values equal admet-ai's to float32 rounding. With batches of the same molecules (64 per forward
pass, as admet-ai's data loader makes them) every value came out bit for bit the same in the
benchmark's runs; a molecule at another place in a batch can differ in its last bits (up to about
2e-7 absolute, as it would in admet-ai), and a percentile then by at most one reference drug.
torch and chemprop are imported by this module, so only the model host's worker (or a script)
imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from chemprop.data.collate import BatchMolGraph
from chemprop.featurizers.molgraph import SimpleMoleculeMolGraphFeaturizer
from chemprop.nn.agg import NormAggregation, SumAggregation
from chemprop.nn.message_passing import BondMessagePassing
from rdkit import Chem, rdBase

FORWARD_BATCH = 64
"""Molecules per forward pass: admet-ai's data-loader batch. The ten models' activations of a
batch (ten × edges × 300 floats, about 45 MB for 64 drug-like molecules) still fit the caches
better than larger batches do, and the rows of a batch then see the same matrix shapes as in
admet-ai (the products round alike)."""


@dataclass(frozen=True, slots=True)
class _Group:
    """One admet-ai ensemble: its task names and the positions of its models in the stack."""

    tasks: tuple[str, ...]
    first: int
    count: int


def _fusable(models: Sequence[torch.nn.Module]) -> bool:
    """Whether every model is the plain bond message passing the batched path reproduces."""
    first = models[0].message_passing
    for model in models:
        mp = model.message_passing
        if type(mp) is not BondMessagePassing or mp.undirected or mp.W_d is not None:
            return False
        if not isinstance(mp.tau, torch.nn.ReLU) or mp.W_i.bias is not None:
            return False
        if mp.W_h.bias is not None or mp.W_o.bias is None:
            return False
        if not all(
            isinstance(t, torch.nn.Identity)
            for t in (
                mp.V_d_transform,
                mp.graph_transform.V_transform,
                mp.graph_transform.E_transform,
            )
        ):
            return False
        if mp.depth != first.depth or mp.W_h.weight.shape != first.W_h.weight.shape:
            return False
        if mp.W_i.weight.shape != first.W_i.weight.shape:
            return False
        if type(model.agg) not in (SumAggregation, NormAggregation):
            return False
        if type(model.agg) is not type(models[0].agg):
            return False
        if isinstance(model.agg, NormAggregation) and model.agg.norm != models[0].agg.norm:
            return False
        if not isinstance(model.bn, torch.nn.Identity):
            return False
    return True


class AdmetEnsembles:
    """The models of an ``admet_ai.ADMETModel``, run together on featurised molecules.

    Parameters
    ----------
    model
        A loaded ``ADMETModel`` (its ``task_lists``, ``model_lists`` and DrugBank reference).
    device
        Where to run (``"cpu"`` or ``"cuda"``).
    """

    def __init__(self, model, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.featurizer = SimpleMoleculeMolGraphFeaturizer()
        self.models = [m.to(self.device).eval() for group in model.model_lists for m in group]
        groups, first = [], 0
        for tasks, group in zip(model.task_lists, model.model_lists, strict=True):
            groups.append(_Group(tuple(tasks), first, len(group)))
            first += len(group)
        self.groups = tuple(groups)
        self.tasks: tuple[str, ...] = tuple(t for g in self.groups for t in g.tasks)
        self.fused = _fusable(self.models)
        if self.fused:
            mps = [m.message_passing for m in self.models]
            with torch.no_grad():
                # (models, in, out): x @ W.T for every model in one bmm.
                self._w_i = torch.stack([mp.W_i.weight.T for mp in mps]).contiguous()
                self._w_h = torch.stack([mp.W_h.weight.T for mp in mps]).contiguous()
                self._w_o = torch.stack([mp.W_o.weight.T for mp in mps]).contiguous()
                self._b_o = torch.stack([mp.W_o.bias for mp in mps])[:, None, :].contiguous()
            self._depth = mps[0].depth
            agg = self.models[0].agg
            self._agg = type(agg)
            self._norm = float(getattr(agg, "norm", 1.0))
        reference = model.drugbank_atc_filtered
        self._reference = (
            None
            if reference is None
            else {
                task: np.sort(reference[task].to_numpy(dtype=np.float64))
                for task in self.tasks
                if task in reference.columns
            }
        )

    # ------------------------------------------------------------------------------------------
    # Molecules

    @staticmethod
    def parse(smiles: Sequence[str]) -> list[Chem.Mol | None]:
        """RDKit molecules as admet-ai reads them (``Chem.MolFromSmiles``), ``None`` where a SMILES
        is empty or unreadable."""
        with rdBase.BlockLogs():  # one warning per unreadable SMILES is noise in a job
            return [Chem.MolFromSmiles(s) if isinstance(s, str) and s else None for s in smiles]

    def featurise(self, mols: Sequence[Chem.Mol]) -> list:
        """Each molecule's chemprop graph, computed once for all the models."""
        return [self.featurizer(mol) for mol in mols]

    # ------------------------------------------------------------------------------------------
    # Models

    def predict_graphs(self, graphs: Sequence) -> np.ndarray:
        """Ensemble means, shape (molecules, :attr:`tasks`), float32 as admet-ai returns them."""
        if not graphs:
            return np.zeros((0, len(self.tasks)), dtype=np.float32)
        per_model: list[list[torch.Tensor]] = [[] for _ in self.models]
        with torch.inference_mode():
            for start in range(0, len(graphs), FORWARD_BATCH):
                bmg = BatchMolGraph(list(graphs[start : start + FORWARD_BATCH]))
                bmg.to(self.device)
                outputs = self._forward_fused(bmg) if self.fused else self._forward_each(bmg)
                for k, output in enumerate(outputs):
                    per_model[k].append(output)
            means = []
            for group in self.groups:
                stacked = torch.stack(
                    [
                        torch.cat(per_model[k], dim=0)
                        for k in range(group.first, group.first + group.count)
                    ]
                )
                means.append(stacked.mean(dim=0).cpu().numpy())
        return np.concatenate(means, axis=1)

    def _forward_each(self, bmg: BatchMolGraph) -> list[torch.Tensor]:
        return [model(bmg) for model in self.models]

    def _forward_fused(self, bmg: BatchMolGraph) -> list[torch.Tensor]:
        """chemprop's ``BondMessagePassing.forward`` + aggregation for every model at once.

        Tensors are (models, rows, hidden); each operation is the one chemprop applies to each
        model's (rows, hidden) slice, in the same order, so each element rounds as there."""
        count = len(self.models)
        src, dst = bmg.edge_index[0], bmg.edge_index[1]
        n_atoms, hidden = bmg.V.shape[0], self._w_h.shape[1]
        h_0 = torch.matmul(torch.cat([bmg.V[src], bmg.E], dim=1), self._w_i)
        h = torch.relu(h_0)
        # chemprop stores each bond as two consecutive directed edges, so the reverse of edge 2i
        # is 2i + 1: subtract through strided views instead of gathering H[reverse].
        n_edges = src.shape[0]
        paired = n_edges % 2 == 0 and torch.equal(
            bmg.rev_edge_index,
            torch.arange(n_edges, device=src.device).view(-1, 2).flip(1).reshape(-1),
        )
        for _ in range(1, self._depth):
            # chemprop: M_all = scatter-sum of H onto each bond's head atom, M = M_all[tail] - H[reverse].
            m_all = h.new_zeros((count, n_atoms, hidden)).index_add_(1, dst, h)
            m = torch.index_select(m_all, 1, src)
            if paired:
                m_pairs, h_pairs = m.view(count, -1, 2, hidden), h.view(count, -1, 2, hidden)
                m_pairs[:, :, 0].sub_(h_pairs[:, :, 1])
                m_pairs[:, :, 1].sub_(h_pairs[:, :, 0])
            else:
                m.sub_(torch.index_select(h, 1, bmg.rev_edge_index))
            h = torch.bmm(m, self._w_h).add_(h_0).relu_()  # relu(H_0 + W_h M): + commutes
        m = h.new_zeros((count, n_atoms, hidden)).index_add_(1, dst, h)
        v = bmg.V.unsqueeze(0).expand(count, n_atoms, bmg.V.shape[1])
        h_v = torch.baddbmm(self._b_o, torch.cat([v, m], dim=2), self._w_o).relu_()
        n_molecules = len(bmg)
        z = h_v.new_zeros((count, n_molecules, hidden)).index_add_(1, bmg.batch, h_v)
        if self._agg is NormAggregation:
            z = z / self._norm
        return [model.predictor(z[k]) for k, model in enumerate(self.models)]

    # ------------------------------------------------------------------------------------------
    # DrugBank percentiles

    def percentiles(self, values: np.ndarray) -> np.ndarray:
        """Percentile of each value among DrugBank's approved drugs, per task (columns as
        :attr:`tasks`): ``scipy.stats.percentileofscore(reference, value, kind="rank")``, which
        admet-ai calls once per value. NaN where a value is NaN or a task has no reference."""
        out = np.full(values.shape, np.nan)
        if self._reference is None:
            return out
        for j, task in enumerate(self.tasks):
            reference = self._reference.get(task)
            if reference is None or reference.size == 0 or np.isnan(reference).any():
                continue  # percentileofscore gives NaN then (nan_policy "propagate")
            column = values[:, j].astype(np.float64)
            below = np.searchsorted(reference, column, side="left")
            at_most = np.searchsorted(reference, column, side="right")
            pct = (below + at_most + (below < at_most)) * (50.0 / reference.size)
            out[:, j] = np.where(np.isnan(column), np.nan, pct)
        return out
