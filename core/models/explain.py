"""Per-atom explanations of a trained model's prediction, relative to a reference a chemist knows,
drawn as a heat map with a colour bar.

:func:`explain_molecule` (an engine job; the command line's ``drugdesk explain``) explains one
molecule with one family of a model folder and returns an :class:`AtomExplanation`: one value per
heavy atom in the prediction's units (target units for a regression, probability of class 1 for a
classifier), relative to the training mean or the training base rate (:func:`model_reference`),
with a sum check where the method guarantees that the atoms add up to prediction minus reference.
The families: the SMILES transformer (integrated gradients, below), the random forest on ECFP4
(:mod:`core.models.explain_forest`: an exact tree-path decomposition) and chemprop's D-MPNN
(:mod:`core.models.explain_dmpnn`: integrated gradients on the graph's features).

The transformer: integrated gradients (Sundararajan et al., ICML 2017) integrates the gradient of
the model output along the straight path from a baseline input to the real one. The baseline here
keeps ``<s>`` and ``</s>`` and replaces every SMILES token by the ``<pad>`` (or ``<mask>``)
embedding, at the same positions, so it means "a molecule of this length with no atoms known".
The integral uses Gauss-Legendre nodes (exact for polynomials of degree ``2n-1``, so 32-64 steps
are plenty for this smooth network); attributions then add up to ``f(x) - f(baseline)``
(completeness), and the explanation reports the gap so a caller can check it.
:func:`rebase_integrated_gradients` restates them relative to the reference (the baseline's own
output is no average molecule: against it, every atom of bortezomib lowered the shipped potency
model's prediction).

:func:`integrated_gradients` explains the head's output before the final link by default: the
logit for a classifier (positive: towards class 1) and the value in target units for a regression;
``link="probability"`` explains the probability instead. Ensembles are explained as the mean of
their members (integrated gradients is linear in the model).

Tokens map to atoms through RDKit's parse of the same SMILES: RDKit numbers atoms in the order
they are written, and every atom is exactly one token (a bracket atom ``[nH]``, ``[C@@H]``,
``[O-]``; ``Cl``/``Br``; an organic-subset letter). Bonds, branches, ring closures (``1``,
``%10``) and dots get no atom of their own (:func:`spread_to_atoms` shares them between their
neighbouring atoms). Explicit hydrogens ``[H]`` give their attribution to the heavy atom they are
bonded to. Nothing here imports Qt: the picture is SVG text (or PNG bytes) for any viewer.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, rdBase

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress

DEFAULT_STEPS = 48
BASELINES = ("pad", "mask")
LINKS = ("logit", "probability")
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
    link: str = "logit",
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
    link
        For a classifier, what is explained: ``"logit"`` (the head's output) or
        ``"probability"`` (the sigmoid of it, the prediction's own units; completeness holds for
        either). Ignored for a regression.

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
    if link not in LINKS:
        raise ValueError(f"link must be one of {LINKS}, not {link!r}")
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
    probability = task == "classification" and link == "probability"
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
            if probability:
                end_values = end_values.sigmoid()
        path = (base + alpha * (real - base)).detach().requires_grad_(True)
        with torch.enable_grad():
            values = _member_forward(member, path, attention.expand(len(alphas), -1))
            explained = values[:, target_index]
            if probability:
                explained = explained.sigmoid()
            (gradient,) = torch.autograd.grad(explained.sum(), path)
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
    if probability:
        prediction = output
    elif task == "classification":
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
        output_name=(
            ("probability" if probability else "logit")
            if task == "classification"
            else names[target_index]
        ),
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
# Explanations a chemist reads: every family, relative to the training mean or base rate

FAMILIES = ("transformer", "rf", "dmpnn")
"""Model families that can be explained: the SMILES transformer, the random forest on ECFP4
(a trained model's ``baseline/`` or a forest folder) and chemprop's D-MPNN."""
FAMILY_FOLDERS = {"transformer": "transformer", "rf": "baseline", "dmpnn": "dmpnn"}
"""Where a family's model lies inside another family's folder (a forest is a trained model's
``baseline/``)."""
TOP_ATOMS = 3


@dataclass(slots=True, frozen=True)
class Reference:
    """What attributions are relative to, in the prediction's units.

    ``kind``: ``"training mean"`` (regression), ``"training base rate"`` (classification),
    ``"validation base rate"`` (a classifier whose card does not store the training one) or
    ``"model average"`` (a forest without a card: its trees' average training value).
    """

    value: float
    kind: str
    target: str
    task: str

    @property
    def text(self) -> str:
        """``"the training mean Act 6.68"``, ``"the training base rate of active 0.23"``."""
        if self.kind == "even odds":
            return f"P({self.target}) {self.value:.2f} (even odds: the folder stores no base rate)"
        if self.task == "classification":
            return f"the {self.kind} of {self.target} {self.value:.2f}"
        return f"the {self.kind} {self.target} {self.value:.2f}"


@dataclass(slots=True, frozen=True)
class AtomExplanation:
    """One prediction explained atom by atom, relative to a reference a chemist knows.

    ``atom_attributions[i]`` (prediction units: target units for a regression, probability of
    class 1 for a classifier) is how much atom ``i`` of ``mol`` moves the prediction away from
    ``reference``; ``unplaced`` is what the method cannot put on any atom (a forest's splits on
    substructures the molecule lacks, say), described in ``unplaced_text``. When ``additive``,
    the method guarantees ``atom_attributions.sum() + unplaced == prediction - reference``, and
    ``gap`` is how far the numbers are from it (numerical integration error; 0 for an exact
    method); otherwise ``gap`` is still computed but means nothing.
    """

    smiles: str
    target: str
    task: str
    family: str
    method: str
    """How the attributions were made, in a sentence."""
    mol: Any
    atom_attributions: np.ndarray
    unplaced: float
    unplaced_text: str
    prediction: float
    reference: Reference
    additive: bool
    gap: float
    notes: tuple[str, ...] = ()

    @property
    def units(self) -> str:
        """What the numbers measure: the target (regression) or ``P(target)``."""
        return f"P({self.target})" if self.task == "classification" else self.target

    @property
    def difference(self) -> float:
        """``prediction - reference``: what the attributions add up to (when ``additive``)."""
        return self.prediction - self.reference.value

    def sum_check(self, tolerance: float = 1e-3) -> bool:
        """Whether the attributions add up to ``prediction - reference`` within ``tolerance``
        (absolute, or relative to the difference when that is larger than 1)."""
        total = float(self.atom_attributions.sum()) + self.unplaced
        return bool(abs(total - self.difference) <= tolerance * max(1.0, abs(self.difference)))

    def atom_label(self, index: int) -> str:
        """``"N8"``: the element and the atom's number (from 1, as drawn beside strong atoms)."""
        return f"{self.mol.GetAtomWithIdx(int(index)).GetSymbol()}{int(index) + 1}"

    def top_atoms(self, n: int = TOP_ATOMS) -> tuple[list[int], list[int]]:
        """The ``n`` atoms that raise the prediction most and the ``n`` that lower it most
        (atoms with exactly 0 are in neither)."""
        values = self.atom_attributions
        order = np.argsort(values, kind="stable")
        raise_ = [int(i) for i in order[::-1][:n] if values[i] > 0]
        lower = [int(i) for i in order[:n] if values[i] < 0]
        return raise_, lower

    def colour_bar_caption(self) -> str:
        return f"change in {self.units} vs {self.reference.kind} {self.reference.value:.2f}"

    def _notes(self) -> dict[int, str]:
        limit = colour_limit(self.atom_attributions)
        raise_, lower = self.top_atoms()
        # Only atoms that show: a faint one labelled would draw the eye to nothing.
        return {
            i: f"{i + 1}: {format_value(float(self.atom_attributions[i]), limit)}"
            for i in (*raise_, *lower)
            if abs(self.atom_attributions[i]) >= 0.1 * limit
        }

    def svg(self, width: int = 460, height: int = 340) -> str:
        """The heat map with its colour bar; the strongest atoms carry their number and value."""
        return attribution_svg(
            self.mol,
            self.atom_attributions,
            width,
            height,
            notes=self._notes(),
            colour_bar=self.colour_bar_caption(),
        )

    def png(self, width: int = 460, height: int = 340) -> bytes:
        return attribution_png(
            self.mol,
            self.atom_attributions,
            width,
            height,
            notes=self._notes(),
            colour_bar=self.colour_bar_caption(),
        )

    def sum_text(self) -> str:
        """The sum check in words: what the atoms and the rest add up to, or that the method
        does not promise it."""
        atoms = float(self.atom_attributions.sum())
        text = (
            f"atoms {atoms:+.3f}"
            + (f" + {self.unplaced_text} {self.unplaced:+.3f}" if self.unplaced else "")
            + f" = {atoms + self.unplaced:+.3f}; prediction - reference = "
            f"{self.difference:+.3f}"
        )
        if self.additive:
            return f"Sum check ({'passed' if self.sum_check() else 'FAILED'}): {text}"
        return f"This method does not guarantee that the attributions add up ({text})."

    def summary_lines(self) -> list[str]:
        """What a chemist reads: the prediction against the reference, which atoms raise and
        lower it and by how much, the sum check and the method."""
        if self.task == "classification":
            prediction = f"P({self.target}) = {self.prediction:.3f}"
        else:
            prediction = f"{self.target} = {self.prediction:.3f}"
        raise_, lower = self.top_atoms()
        values = self.atom_attributions

        def listed(indices: list[int]) -> str:
            return ", ".join(f"{self.atom_label(i)} {values[i]:+.3f}" for i in indices) or "none"

        lines = [
            f"{prediction} ({self.family}), relative to {self.reference.text}: "
            f"{self.difference:+.3f}",
            f"Raise it most: {listed(raise_)}.",
            f"Lower it most: {listed(lower)}.",
            self.sum_text(),
            self.method,
        ]
        return lines + list(self.notes)


def _read_card(folder: Path) -> dict | None:
    from core.models.registry import read_model_json

    if not (folder / "card.json").is_file():
        return None
    try:
        card = read_model_json(folder, "card.json")
    except ValueError:
        return None
    return card if isinstance(card, dict) else None


def _measured_base_rate(folder: Path, file: str, target: str, part: str | None) -> float | None:
    """The share of class 1 among the measurements of ``target`` in one of a model folder's
    tidy tables (one value per dataset row), or ``None`` when the table is missing or holds
    none."""
    import pandas as pd

    path = folder / file
    if not path.is_file():
        return None
    columns = ["row", "target", "measured"] + (["part"] if part else [])
    try:
        frame = pd.read_csv(path, usecols=columns)
    except (OSError, ValueError):
        return None
    rows = frame[frame["target"] == target]
    if part:
        rows = rows[rows["part"] == part]
    measured = pd.to_numeric(rows.drop_duplicates("row")["measured"], errors="coerce").dropna()
    return float(measured.mean()) if len(measured) else None


def model_reference(
    folder: str | os.PathLike,
    target: str,
    task: str,
    fallback: float | None = None,
    fallback_kind: str | None = None,
) -> Reference:
    """The reference a prediction of ``target`` is explained against: the training mean
    (``target_mean`` on the card) for a regression; for a classifier the training base rate
    (``train_positive_rate`` on the card, or the training labels of
    ``calibration_predictions.csv``), else the validation molecules' base rate
    (``heldout_predictions.csv``). A folder without a card (a trained model's ``baseline/``
    forest) uses its parent's. ``fallback`` (the model's own average output) is used, and
    called ``fallback_kind`` (default ``model average``), when nothing else is known.

    Raises
    ------
    ValueError
        When no reference can be found and there is no ``fallback``.
    """
    folder = Path(folder)
    for place in (folder, folder.parent):
        card = _read_card(place) or {}
        names = list(card.get("target_names") or card.get("target_columns") or [])
        key = "target_mean" if task == "regression" else "train_positive_rate"
        values = card.get(key)
        if target in names and isinstance(values, list) and len(values) > names.index(target):
            value = values[names.index(target)]
            if isinstance(value, int | float) and math.isfinite(value):
                kind = "training mean" if task == "regression" else "training base rate"
                return Reference(float(value), kind, target, task)
        if task == "classification":
            # The training part's labels, as the calibration's out-of-fold table holds them;
            # else the validation molecules' (heldout_predictions.csv), said to be a stand-in.
            rate = _measured_base_rate(place, "calibration_predictions.csv", target, None)
            if rate is not None:
                return Reference(rate, "training base rate", target, task)
            rate = _measured_base_rate(place, "heldout_predictions.csv", target, "valid")
            if rate is not None:
                return Reference(rate, "validation base rate", target, task)
    if fallback is not None:
        return Reference(float(fallback), fallback_kind or "model average", target, task)
    raise ValueError(
        f"{folder}: no training mean or base rate for {target!r} on its card; cannot explain "
        "relative to it"
    )


def _is_forest(folder: Path) -> bool:
    from core.models.baselines import FORESTS_FILE, META_FILE

    return (folder / FORESTS_FILE).is_file() and (folder / META_FILE).is_file()


def _family_of(folder: Path) -> str | None:
    """The family a folder's own model belongs to (``None``: not a model folder)."""
    if _is_forest(folder):
        return "rf"
    card = _read_card(folder)
    if card is None:
        return None
    kind = str(card.get("kind", ""))
    if kind == "dmpnn":
        return "dmpnn"
    if kind.startswith("rf_"):
        return "rf"
    if kind == "transformer" and card.get("model_type") != "smiles-roberta-mlm":
        return "transformer"
    return None


def default_family(folder: str | os.PathLike) -> str:
    """The family a model folder predicts with: the card's ``family`` (chosen at training) when
    it names one, otherwise the folder's own model."""
    folder = Path(folder)
    card = _read_card(folder) or {}
    chosen = card.get("family")
    if isinstance(chosen, str) and chosen in FAMILIES:
        return chosen
    family = _family_of(folder)
    if family is None:
        raise ValueError(f"{folder}: not a trained model folder (no model card or forest)")
    return family


def available_families(folder: str | os.PathLike) -> list[str]:
    """Families that can explain with ``folder``: its own model and those in its sub-folders."""
    folder = Path(folder)
    found = []
    for family in FAMILIES:
        try:
            family_folder(folder, family)
        except ValueError:
            continue
        found.append(family)
    return found


def family_folder(folder: str | os.PathLike, family: str) -> Path:
    """The folder holding ``family``'s model: ``folder`` itself or its sub-folder
    (:data:`FAMILY_FOLDERS`).

    Raises
    ------
    ValueError
        Unknown family, or no model of that family in or under ``folder``.
    """
    folder = Path(folder)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    if not folder.is_dir():
        raise ValueError(f"Model folder not found: {folder}")
    if _family_of(folder) == family:
        return folder
    inner = folder / FAMILY_FOLDERS[family]
    if inner.is_dir() and _family_of(inner) == family:
        return inner
    have = [f for f in FAMILIES if f != family and _family_of(folder / FAMILY_FOLDERS[f]) == f]
    own = _family_of(folder)
    have = sorted({*have, *([own] if own else [])})
    raise ValueError(
        f"{folder} holds no {family} model"
        + (f" (it can explain with: {', '.join(have)})" if have else "")
    )


def spread_to_atoms(mapping: AtomMapping, token_values: Sequence[float]) -> np.ndarray:
    """Per-token values onto the atoms, bond, branch and ring-closure tokens included: each of
    those is shared equally by the nearest atom token before it and the nearest after it (the
    two atoms it joins for a bond symbol; the ring atom and its neighbour for a ring-closure
    digit), so the atoms add up to every token."""
    values = np.asarray(token_values, dtype=float)
    atoms = mapping.atom_of_token[: len(values)]
    out = np.zeros(mapping.n_atoms, dtype=np.float64)
    positions = [i for i, a in enumerate(atoms) if a >= 0]
    if not positions:
        return out
    for i, value in enumerate(values):
        if atoms[i] >= 0:
            out[atoms[i]] += value
            continue
        before = [p for p in positions if p < i]
        after = [p for p in positions if p > i]
        ends = ([before[-1]] if before else []) + ([after[0]] if after else [])
        for p in ends:
            out[atoms[p]] += value / len(ends)
    return out


def rebase_integrated_gradients(explanation: Explanation, reference: Reference) -> AtomExplanation:
    """Integrated gradients from the empty input, restated relative to ``reference``.

    Integrated gradients adds up to ``f(x) - f(empty)``, where the empty input (every SMILES
    token replaced by padding) is one the model never saw: its output is no average molecule
    (7.76 for the shipped potency model, whose training mean is 6.68), so against it every atom
    of a weaker-than-empty molecule looked negative. ``f(empty) - reference`` belongs to no atom
    in particular (it is what knowing that there are atoms at all is worth), so each atom gets
    an equal share of it; bond, branch and ring tokens are shared by their neighbouring atoms
    (:func:`spread_to_atoms`). The atoms then add up to ``prediction - reference`` up to the
    integration's gap."""
    mapping = explanation.mapping
    n = mapping.n_atoms
    share = (explanation.baseline_output - reference.value) / max(n, 1)
    atoms = spread_to_atoms(mapping, explanation.token_attributions) + share
    gap = float(atoms.sum() - (explanation.output - reference.value)) if n else 0.0
    method = (
        f"Integrated gradients ({explanation.steps} Gauss-Legendre steps) on the token "
        f"embeddings from an input with every atom replaced by {explanation.baseline!r} (output "
        f"{explanation.baseline_output:.3f}); the gap between that and the reference "
        f"({explanation.baseline_output - reference.value:+.3f}) is shared equally by the "
        f"{n} atoms ({share:+.3f} each), and bond/ring tokens by their neighbouring atoms."
    )
    notes = (
        ("The SMILES was truncated: its last tokens count as 0.",) if explanation.truncated else ()
    )
    return AtomExplanation(
        smiles=explanation.smiles,
        target=explanation.target,
        task=explanation.task,
        family="transformer",
        method=method,
        mol=mapping.mol,
        atom_attributions=atoms,
        unplaced=0.0,
        unplaced_text="",
        prediction=explanation.prediction,
        reference=reference,
        additive=True,
        gap=gap,
        notes=notes,
    )


def _target_name(names: Sequence[str], target: int | str) -> str:
    if isinstance(target, str):
        if target not in names:
            raise ValueError(f"The model has no target {target!r} (targets: {', '.join(names)})")
        return target
    index = int(target)
    if not 0 <= index < len(names):
        raise ValueError(f"Target index {target} out of range (the model has {len(names)})")
    return names[index]


def explain_transformer(
    model_dir: str | os.PathLike,
    smiles: str,
    target: int | str = 0,
    *,
    steps: int = DEFAULT_STEPS,
    baseline: str = "pad",
    device: str | None = None,
    model_cache: Any = None,
    is_cancelled: CancelCheck | None = None,
) -> AtomExplanation:
    """The transformer's explanation relative to the training mean or base rate (see
    :func:`rebase_integrated_gradients`); a classifier is explained in probability."""
    from core.models.transformer import FINETUNED_KIND, load_model

    model = load_model(Path(model_dir), device or "cpu", model_cache)
    if getattr(model, "kind", None) != FINETUNED_KIND:
        raise ValueError("Explanations need a fine-tuned model (this one is not)")
    names = list(model.card.get("target_names") or [])
    name = _target_name(names, target)
    task = str(model.card["task"])
    reference = model_reference(model_dir, name, task)
    raw = integrated_gradients(
        model,
        smiles,
        name,
        steps=steps,
        baseline=baseline,
        link="probability",
        is_cancelled=is_cancelled,
    )
    return rebase_integrated_gradients(raw, reference)


def explain_molecule(
    model_dir: str | os.PathLike,
    smiles: str,
    target: int | str = 0,
    family: str | None = None,
    *,
    steps: int = DEFAULT_STEPS,
    baseline: str = "pad",
    device: str | None = None,
    model_cache: Any = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> AtomExplanation:
    """Engine job: explain one molecule's prediction with one family of a model folder,
    relative to the training mean (regression) or base rate (classification).

    Parameters
    ----------
    model_dir
        A model folder written by ``train`` (the transformer, with its forest in ``baseline/``),
        a D-MPNN folder or a forest folder.
    smiles
        The molecule.
    target
        Index or name of the target.
    family
        ``"transformer"``, ``"rf"`` or ``"dmpnn"`` (default: :func:`default_family`). The
        transformer and the D-MPNN need torch (run them in the model host); the forest does not.
    steps
        Integration steps of the gradient methods.
    baseline
        The transformer's integrated-gradients input: ``"pad"`` or ``"mask"`` tokens.

    Raises
    ------
    ValueError
        No such family in the folder, unknown target, a SMILES RDKit cannot read.
    """
    family = family or default_family(model_dir)
    folder = family_folder(model_dir, family)
    progress(0.0, f"Explaining {smiles[:40]} ({family})")
    if family == "transformer":
        result = explain_transformer(
            folder,
            smiles,
            target,
            steps=steps,
            baseline=baseline,
            device=device,
            model_cache=model_cache,
            is_cancelled=is_cancelled,
        )
    elif family == "rf":
        from core.models.explain_forest import explain_forest

        result = explain_forest(folder, smiles, target, is_cancelled=is_cancelled)
    else:
        from core.models.explain_dmpnn import explain_dmpnn

        result = explain_dmpnn(
            folder,
            smiles,
            target,
            steps=steps,
            device=device,
            model_cache=model_cache,
            is_cancelled=is_cancelled,
        )
    progress(1.0, "Explained")
    return result


# ----------------------------------------------------------------------------------------------
# Drawing

EMPTY_SVG_PATH = re.compile(r"<path[^>]*\sd=''[^>]*/>\n?")
COLOUR_BAR_HEIGHT = 58
"""Pixels under the molecule for the colour bar, its tick labels and its caption."""


def attribution_colour(value: float, limit: float) -> tuple[float, float, float]:
    """Blue (negative) through white (0) to red (positive), saturating at ``|value| = limit``."""
    if not limit or not math.isfinite(value):
        return (1.0, 1.0, 1.0)
    a = max(-1.0, min(1.0, value / limit))
    fade = 1.0 - 0.75 * abs(a)
    return (1.0, fade, fade) if a >= 0 else (fade, fade, 1.0)


def colour_limit(values: Sequence[float]) -> float:
    """The magnitude where the colours saturate: the molecule's largest ``|value|`` (scaled per
    molecule, so its strongest atom is always fully coloured; 0 when every value is 0)."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    return float(np.max(np.abs(finite))) if len(finite) else 0.0


def format_value(value: float, limit: float) -> str:
    """A signed number with as many decimals as the scale needs (two significant digits of
    ``limit``, at least two decimals), so small attributions are not all printed as ``+0.00``.
    ASCII minus: RDKit's drawing font has no Unicode minus sign."""
    decimals = 2 if not limit else max(2, min(6, 1 - math.floor(math.log10(limit))))
    text = f"{value:+.{decimals}f}"
    return "0" if float(text) == 0 else text


def _draw_attributions(
    drawer: Any,
    mol: Any,
    weights: Sequence[float],
    annotate: bool,
    notes: dict[int, str] | None = None,
    colour_bar: str | None = None,
) -> None:
    from rdkit.Chem.Draw import rdMolDraw2D

    values = np.asarray(weights, dtype=float)
    if len(values) != mol.GetNumAtoms():
        raise ValueError(f"{len(values)} weights for {mol.GetNumAtoms()} atoms")
    limit = colour_limit(values)
    drawing = Chem.Mol(mol)
    if annotate:
        for atom, value in zip(drawing.GetAtoms(), values, strict=True):
            atom.SetProp("atomNote", f"{value:+.2f}")
    for index, note in (notes or {}).items():
        drawing.GetAtomWithIdx(int(index)).SetProp("atomNote", note)
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
    options.annotationFontScale = 0.7  # notes stay legible when the picture is shown small
    options.setHighlightColour((1.0, 1.0, 1.0))
    drawer.DrawMolecule(
        drawing,
        highlightAtoms=atoms,
        highlightAtomColors=colours,
        highlightAtomRadii=radii,
        highlightBonds=bonds,
        highlightBondColors=bond_colours,
    )
    if colour_bar is not None:
        _draw_colour_bar(drawer, limit, colour_bar)
    drawer.FinishDrawing()


def _draw_colour_bar(drawer: Any, limit: float, caption: str) -> None:
    """A horizontal bar under the molecule from ``-limit`` (blue) through 0 (white) to
    ``+limit`` (red), with its three values and a caption naming the units and the reference."""
    from rdkit.Geometry import Point2D

    width, height = drawer.Width(), drawer.Height()
    margin = max(12.0, 0.08 * width)
    top, bar = height - COLOUR_BAR_HEIGHT + 4.0, 14.0
    left, right = margin, width - margin
    n = 48
    step = (right - left) / n
    drawer.SetFillPolys(True)
    for k in range(n):
        middle = -1.0 + (2.0 * k + 1.0) / n
        drawer.SetColour(attribution_colour(middle, 1.0))
        # Overlap by half a pixel: anti-aliased edges would show as hairlines between cells.
        drawer.DrawRect(
            Point2D(left + k * step, top), Point2D(left + (k + 1) * step + 0.5, top + bar), True
        )
    drawer.SetFillPolys(False)
    drawer.SetColour((0.35, 0.35, 0.35))
    drawer.SetLineWidth(1)
    drawer.DrawRect(Point2D(left, top), Point2D(right, top + bar), True)
    drawer.DrawLine(
        Point2D((left + right) / 2, top + bar), Point2D((left + right) / 2, top + bar + 4), True
    )
    drawer.SetColour((0.0, 0.0, 0.0))
    drawer.SetFontSize(max(11.0, min(15.0, width / 32.0)))
    labels = top + bar + 12.0
    if limit:
        drawer.DrawString(format_value(-limit, limit), Point2D(left, labels), 1, True)
        drawer.DrawString(format_value(limit, limit), Point2D(right, labels), 2, True)
    drawer.DrawString("0", Point2D((left + right) / 2, labels), 0, True)
    drawer.DrawString(caption, Point2D(width / 2, labels + 17.0), 0, True)


def _drawer(kind: str, width: int, height: int, colour_bar: str | None) -> Any:
    from rdkit.Chem.Draw import rdMolDraw2D

    make = rdMolDraw2D.MolDraw2DCairo if kind == "png" else rdMolDraw2D.MolDraw2DSVG
    if colour_bar is None:
        return make(int(width), int(height))
    if height < COLOUR_BAR_HEIGHT + 80:
        raise ValueError(f"{height} pixels are too few for a molecule and its colour bar")
    # The molecule gets the panel above the bar; the bar is drawn in pixels below it.
    return make(int(width), int(height), int(width), int(height) - COLOUR_BAR_HEIGHT)


def attribution_svg(
    mol: Any,
    weights: Sequence[float],
    width: int = 460,
    height: int = 340,
    annotate: bool = False,
    *,
    notes: dict[int, str] | None = None,
    colour_bar: str | None = None,
) -> str:
    """SVG of ``mol`` with each atom shaded by its weight: red raises the output, blue lowers it,
    colours scaled to the largest magnitude. ``annotate`` writes each value beside its atom;
    ``notes`` writes the given text beside the given atoms; ``colour_bar`` (its caption: the
    units and the reference) draws the scale under the molecule."""
    drawer = _drawer("svg", width, height, colour_bar)
    _draw_attributions(drawer, mol, weights, annotate, notes, colour_bar)
    # RDKit writes a space in a label as an empty path, which Qt's SVG reader warns about.
    return EMPTY_SVG_PATH.sub("", drawer.GetDrawingText())


def attribution_png(
    mol: Any,
    weights: Sequence[float],
    width: int = 460,
    height: int = 340,
    annotate: bool = False,
    *,
    notes: dict[int, str] | None = None,
    colour_bar: str | None = None,
) -> bytes:
    """The same picture as :func:`attribution_svg`, as PNG bytes."""
    drawer = _drawer("png", width, height, colour_bar)
    _draw_attributions(drawer, mol, weights, annotate, notes, colour_bar)
    return drawer.GetDrawingText()
