"""Per-atom explanations of a SMILES-transformer prediction: integrated gradients on the token
embeddings, mapped from tokens to atoms and drawn as a heat map on the 2D structure.

Integrated gradients (Sundararajan et al., ICML 2017) integrates the gradient of the model output
along the straight path from a baseline input to the real one. The baseline here keeps ``<s>`` and
``</s>`` and replaces every SMILES token by the ``<pad>`` (or ``<mask>``) embedding, at the same
positions, so it means "a molecule of this length with no atoms known". The integral uses
Gauss-Legendre nodes (exact for polynomials of degree ``2n-1``, so 32-64 steps are plenty for this
smooth network); attributions then add up to ``f(x) - f(baseline)`` (completeness), and the
explanation reports the gap so a caller can check it.

The output explained is the head's output before the final link: the logit for a classifier
(positive: towards class 1) and the value in target units for a regression (the prediction minus
the baseline's). Ensembles are explained as the mean of their members (integrated gradients is
linear in the model).

Tokens map to atoms through RDKit's parse of the same SMILES: RDKit numbers atoms in the order
they are written, and every atom is exactly one token (a bracket atom ``[nH]``, ``[C@@H]``,
``[O-]``; ``Cl``/``Br``; an organic-subset letter). Bonds, branches, ring closures (``1``,
``%10``) and dots get no atom. Explicit hydrogens ``[H]`` give their attribution to the heavy atom
they are bonded to. Nothing here imports Qt: the picture is SVG text (or PNG bytes) for any viewer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, rdBase

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

DEFAULT_STEPS = 48
BASELINES = ("pad", "mask")
ORGANIC_ATOM_TOKENS = frozenset(
    {"B", "C", "N", "O", "P", "S", "F", "I", "Cl", "Br", "b", "c", "n", "o", "s", "p", "*"}
)


def is_atom_token(token: str) -> bool:
    """Whether a SMILES token is one atom (bracket atom, organic-subset atom or ``*``)."""
    return token.startswith("[") or token in ORGANIC_ATOM_TOKENS


@dataclass(slots=True, frozen=True)
class AtomMapping:
    """How the tokens of one SMILES relate to the atoms RDKit parses from it.

    ``mol`` holds the heavy atoms (explicit hydrogens removed; RDKit's order otherwise);
    ``atom_of_token[i]`` is the atom of ``mol`` token ``i`` stands for (a hydrogen token: the heavy
    atom it is bonded to), or -1 for bonds, branches, ring closures and dots.
    """

    smiles: str
    tokens: tuple[str, ...]
    atom_of_token: tuple[int, ...]
    mol: Any

    @property
    def n_atoms(self) -> int:
        return self.mol.GetNumAtoms()

    def atom_values(self, token_values: Sequence[float]) -> np.ndarray:
        """Sum per-token values onto the atoms (one value per atom of ``mol``).

        ``token_values`` may be shorter than ``tokens`` (a truncated SMILES): the missing tokens
        count as 0.
        """
        out = np.zeros(self.n_atoms, dtype=np.float64)
        for atom, value in zip(self.atom_of_token, token_values, strict=False):
            if atom >= 0:
                out[atom] += float(value)
        return out


def map_tokens_to_atoms(smiles: str, tokens: Sequence[str] | None = None) -> AtomMapping:
    """Map the tokens of ``smiles`` to the atoms of RDKit's molecule for it.

    Parameters
    ----------
    smiles
        The SMILES the model read.
    tokens
        Its tokens as the model's tokenizer split it (default: ``core.models.tokenizer.tokenize``).

    Raises
    ------
    ValueError
        When RDKit cannot parse ``smiles`` or the atom tokens do not match its atoms.
    """
    from core.models.tokenizer import tokenize

    tokens = tuple(tokenize(smiles) if tokens is None else tokens)
    params = Chem.SmilesParserParams()
    params.removeHs = False
    with rdBase.BlockLogs():
        full = Chem.MolFromSmiles(smiles, params)
    if full is None:
        raise ValueError(f"RDKit cannot parse the SMILES {smiles!r}")
    token_atoms = [i for i, t in enumerate(tokens) if is_atom_token(t)]
    if len(token_atoms) != full.GetNumAtoms():
        raise ValueError(
            f"{smiles!r}: {len(token_atoms)} atom tokens but RDKit reads "
            f"{full.GetNumAtoms()} atoms; cannot map tokens to atoms"
        )
    for index, atom in enumerate(full.GetAtoms()):
        atom.SetIntProp("_parsed_index", index)
    with rdBase.BlockLogs():
        heavy = Chem.RemoveHs(full, sanitize=False)
    new_index = {atom.GetIntProp("_parsed_index"): atom.GetIdx() for atom in heavy.GetAtoms()}
    atom_of_token = [-1] * len(tokens)
    for parsed, token_index in enumerate(token_atoms):
        if parsed in new_index:
            atom_of_token[token_index] = new_index[parsed]
            continue
        # A removed hydrogen: its heavy neighbour takes its share.
        neighbours = [n.GetIdx() for n in full.GetAtomWithIdx(parsed).GetNeighbors()]
        kept = [new_index[n] for n in neighbours if n in new_index]
        atom_of_token[token_index] = kept[0] if kept else -1
    for atom in heavy.GetAtoms():
        atom.ClearProp("_parsed_index")
    with rdBase.BlockLogs():
        try:
            heavy.UpdatePropertyCache(strict=False)
            Chem.SanitizeMol(heavy)
        except (RuntimeError, ValueError):
            pass  # drawing works on the parsed molecule; sanitising only improves aromaticity
    return AtomMapping(smiles, tokens, tuple(atom_of_token), heavy)


@dataclass(slots=True, frozen=True)
class Explanation:
    """Integrated-gradients attributions of one prediction (see the module docstring).

    ``token_attributions`` cover ``tokens`` (``<s>``/``</s>`` excluded; a truncated SMILES has
    fewer values than tokens); ``atom_attributions`` has one value per atom of ``mapping.mol``.
    ``output``/``baseline_output`` are the explained outputs (logit or target units) of the real
    input and of the baseline; completeness: the sum of the token attributions is
    ``output - baseline_output`` up to ``completeness_gap``.
    """

    smiles: str
    target: str
    task: str
    mapping: AtomMapping
    token_attributions: np.ndarray
    atom_attributions: np.ndarray
    output: float
    baseline_output: float
    prediction: float
    """The model's prediction for the molecule: probability (classification) or value."""
    completeness_gap: float
    steps: int
    baseline: str
    truncated: bool
    output_name: str
    """``"logit"`` (classification) or the target's name (regression)."""

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.mapping.tokens

    @property
    def non_atom_attribution(self) -> float:
        """What bond, branch, ring-closure and dot tokens carry (no atom to draw it on):
        ``atom_attributions.sum() + non_atom_attribution`` is the sum over all tokens."""
        return float(self.token_attributions.sum() - self.atom_attributions.sum())

    def relative_gap(self) -> float:
        """``|sum - (f(x) - f(baseline))| / max(|f(x) - f(baseline)|, 1e-6)``."""
        delta = abs(self.output - self.baseline_output)
        return abs(self.completeness_gap) / max(delta, 1e-6)

    def svg(self, width: int = 460, height: int = 340) -> str:
        """The heat map on the 2D structure (see :func:`attribution_svg`)."""
        return attribution_svg(self.mapping.mol, self.atom_attributions, width, height)


def _gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _member_forward(member: Any, embeddings: Any, attention_mask: Any) -> Any:
    """The predictor's head outputs from word embeddings instead of token ids."""
    from core.models.transformer import _mean_pool

    states = member.encoder(inputs_embeds=embeddings, attention_mask=attention_mask)
    return member.head(_mean_pool(states.last_hidden_state, attention_mask))


def integrated_gradients(
    model: Any,
    smiles: str,
    target: int | str = 0,
    *,
    steps: int = DEFAULT_STEPS,
    baseline: str = "pad",
    is_cancelled: CancelCheck | None = None,
) -> Explanation:
    """Explain one prediction of a fine-tuned model with integrated gradients.

    Parameters
    ----------
    model
        A fine-tuned ``core.models.transformer.LoadedModel`` (an ensemble is averaged).
    smiles
        The molecule (any valid SMILES; it is read as written, not canonicalised).
    target
        Index or name of the target to explain.
    steps
        Gauss-Legendre nodes along the path (32-64 give completeness gaps well under 1%).
    baseline
        ``"pad"`` or ``"mask"``: the embedding that replaces every SMILES token in the baseline.

    Raises
    ------
    ValueError
        Not a fine-tuned model, unknown target, bad ``steps``/``baseline``, or a SMILES RDKit
        cannot parse.
    """
    import torch

    from core.models.transformer import FINETUNED_KIND

    if getattr(model, "kind", None) != FINETUNED_KIND:
        raise ValueError("Explanations need a fine-tuned model (this one is not)")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, not {baseline!r}")
    if not 2 <= int(steps) <= 512:
        raise ValueError(f"steps must be between 2 and 512, not {steps}")
    card = model.card
    names = list(card.get("target_names") or [])
    if isinstance(target, str):
        if target not in names:
            raise ValueError(f"The model has no target {target!r} (targets: {', '.join(names)})")
        target_index = names.index(target)
    else:
        target_index = int(target)
        if not 0 <= target_index < len(names):
            raise ValueError(f"Target index {target} out of range (the model has {len(names)})")
    task = str(card["task"])
    scale = float(card["target_scale"][target_index]) if task == "regression" else 1.0
    offset = float(card["target_mean"][target_index]) if task == "regression" else 0.0

    tokenizer = model.tokenizer
    encoded = tokenizer(
        smiles,
        truncation=True,
        max_length=model.max_length,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    ids = encoded["input_ids"]
    special = torch.tensor(
        [int(i) in set(tokenizer.all_special_ids) and i != tokenizer.unk_token_id for i in ids[0]]
    )
    pieces = tuple(
        smiles[a:b]
        for (a, b), is_special in zip(
            encoded["offset_mapping"][0].tolist(), special.tolist(), strict=True
        )
        if not is_special
    )
    full_tokens = tokenizer(smiles, add_special_tokens=False, return_offsets_mapping=True)
    all_pieces = tuple(smiles[a:b] for a, b in full_tokens["offset_mapping"])
    mapping = map_tokens_to_atoms(smiles, all_pieces)
    truncated = len(pieces) < len(all_pieces)

    device = model.device
    ids = ids.to(device)
    attention = encoded["attention_mask"].to(device)
    replace = tokenizer.pad_token_id if baseline == "pad" else tokenizer.mask_token_id
    baseline_ids = ids.clone()
    baseline_ids[0, ~special.to(device)] = replace
    alphas, weights = _gauss_legendre(int(steps))
    alpha = torch.tensor(alphas, dtype=torch.float32, device=device)[:, None, None]
    weight = torch.tensor(weights, dtype=torch.float32, device=device)[:, None, None]

    totals = np.zeros(ids.shape[1], dtype=np.float64)
    outputs, baseline_outputs = [], []
    for member in model.members:
        check_cancelled(is_cancelled)
        member.eval()
        layer = member.encoder.embeddings.word_embeddings
        with torch.no_grad():
            real = layer(ids).float()
            base = layer(baseline_ids).float()
            ends = torch.cat([base, real])
            end_values = _member_forward(member, ends, attention.expand(2, -1))[:, target_index]
        path = (base + alpha * (real - base)).detach().requires_grad_(True)
        with torch.enable_grad():
            values = _member_forward(member, path, attention.expand(len(alphas), -1))
            (gradient,) = torch.autograd.grad(values[:, target_index].sum(), path)
        average = (gradient * weight).sum(dim=0)  # ∫ ∂f/∂e dα
        totals += ((real - base)[0] * average).sum(dim=-1).detach().cpu().double().numpy()
        baseline_outputs.append(float(end_values[0]))
        outputs.append(float(end_values[1]))
    n = len(model.members)
    token_values = totals / n * scale
    keep = ~special.numpy()
    token_attributions = token_values[keep]
    output = float(np.mean(outputs)) * scale + offset
    baseline_output = float(np.mean(baseline_outputs)) * scale + offset
    gap = float(token_values.sum() - (output - baseline_output))
    if task == "classification":
        prediction = float(np.mean([1.0 / (1.0 + math.exp(-v)) for v in outputs]))
    else:
        prediction = output
    return Explanation(
        smiles=smiles,
        target=names[target_index],
        task=task,
        mapping=mapping,
        token_attributions=token_attributions,
        atom_attributions=mapping.atom_values(token_attributions),
        output=output,
        baseline_output=baseline_output,
        prediction=prediction,
        completeness_gap=gap,
        steps=int(steps),
        baseline=baseline,
        truncated=truncated,
        output_name="logit" if task == "classification" else names[target_index],
    )


def explain_smiles(
    model_dir: str | os.PathLike,
    smiles: str,
    target: int | str = 0,
    steps: int = DEFAULT_STEPS,
    baseline: str = "pad",
    *,
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> Explanation:
    """Engine job: load the model (through the engine's cache) and explain one molecule."""
    from core.models.transformer import load_model

    progress(0.0, f"Explaining {smiles[:40]}")
    model = load_model(Path(model_dir), device or "cpu", model_cache)
    explanation = integrated_gradients(
        model, smiles, target, steps=steps, baseline=baseline, is_cancelled=is_cancelled
    )
    progress(1.0, "Explained")
    return explanation


# ----------------------------------------------------------------------------------------------
# Drawing


def attribution_colour(value: float, limit: float) -> tuple[float, float, float]:
    """Blue (negative) through white (0) to red (positive), saturating at ``|value| = limit``."""
    if not limit or not math.isfinite(value):
        return (1.0, 1.0, 1.0)
    a = max(-1.0, min(1.0, value / limit))
    fade = 1.0 - 0.75 * abs(a)
    return (1.0, fade, fade) if a >= 0 else (fade, fade, 1.0)


def _draw_attributions(drawer: Any, mol: Any, weights: Sequence[float], annotate: bool) -> None:
    from rdkit.Chem.Draw import rdMolDraw2D

    values = np.asarray(weights, dtype=float)
    if len(values) != mol.GetNumAtoms():
        raise ValueError(f"{len(values)} weights for {mol.GetNumAtoms()} atoms")
    finite = values[np.isfinite(values)]
    limit = float(np.max(np.abs(finite))) if len(finite) else 0.0
    drawing = Chem.Mol(mol)
    if annotate:
        for atom, value in zip(drawing.GetAtoms(), values, strict=True):
            atom.SetProp("atomNote", f"{value:+.2f}")
    with rdBase.BlockLogs():
        try:
            drawing = rdMolDraw2D.PrepareMolForDrawing(drawing, kekulize=True)
        except (RuntimeError, ValueError):
            drawing = rdMolDraw2D.PrepareMolForDrawing(drawing, kekulize=False)
    atoms = list(range(drawing.GetNumAtoms()))
    colours = {i: attribution_colour(float(values[i]), limit) for i in atoms}
    radii = {i: 0.3 + 0.25 * (abs(float(values[i])) / limit if limit else 0.0) for i in atoms}
    bonds, bond_colours = [], {}
    for bond in drawing.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonds.append(bond.GetIdx())
        bond_colours[bond.GetIdx()] = attribution_colour((values[a] + values[b]) / 2.0, limit)
    options = drawer.drawOptions()
    options.clearBackground = True
    options.addStereoAnnotation = False
    options.fillHighlights = True
    options.continuousHighlight = True
    options.setHighlightColour((1.0, 1.0, 1.0))
    drawer.DrawMolecule(
        drawing,
        highlightAtoms=atoms,
        highlightAtomColors=colours,
        highlightAtomRadii=radii,
        highlightBonds=bonds,
        highlightBondColors=bond_colours,
    )
    drawer.FinishDrawing()


def attribution_svg(
    mol: Any, weights: Sequence[float], width: int = 460, height: int = 340, annotate: bool = False
) -> str:
    """SVG of ``mol`` with each atom shaded by its weight: red raises the output, blue lowers it,
    colours scaled to the largest magnitude. ``annotate`` writes each value beside its atom."""
    from rdkit.Chem.Draw import rdMolDraw2D

    drawer = rdMolDraw2D.MolDraw2DSVG(int(width), int(height))
    _draw_attributions(drawer, mol, weights, annotate)
    return drawer.GetDrawingText()


def attribution_png(
    mol: Any, weights: Sequence[float], width: int = 460, height: int = 340, annotate: bool = False
) -> bytes:
    """The same picture as :func:`attribution_svg`, as PNG bytes."""
    from rdkit.Chem.Draw import rdMolDraw2D

    drawer = rdMolDraw2D.MolDraw2DCairo(int(width), int(height))
    _draw_attributions(drawer, mol, weights, annotate)
    return drawer.GetDrawingText()
