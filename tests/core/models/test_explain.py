"""Integrated-gradients explanations: completeness, the token-to-atom mapping, the heat map."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from core.models import transformer as tf
from core.models.explain import (
    attribution_png,
    attribution_svg,
    explain_smiles,
    integrated_gradients,
    map_tokens_to_atoms,
)

SMILES = [
    "CCOc1ccc2nc(S(N)(=O)=O)sc2c1",
    "OC(=O)c1ccc(Br)cc1Cl",
    "C[NH3+].[Cl-]",
    "c1ccc2c(c1)CC%10CCCCC%10C2",
    "[O-][n+]1ccccc1C(F)(F)F",
    "C[C@@H](N)C(=O)O",
    "Cc1cc(NC(=O)c2ccc[nH]2)n[nH]1",
    "CN1CCN(CC1)c1ccc(I)cc1",
    "O=C1CCCN1",
    "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_pretrained(pretrain_tiny):
    """Pretrained on these molecules (three times over): their tokens are in its vocabulary."""
    return pretrain_tiny(SMILES * 3)


@pytest.fixture(scope="module")
def models(tiny_pretrained):
    rng = np.random.default_rng(0)
    smiles = SMILES * 2
    values = rng.normal(size=len(smiles))
    labels = (np.arange(len(smiles)) % 2).astype(float)
    options = tf.FinetuneOptions(epochs=2, batch_size=8, learning_rate=1e-3, device="cpu")
    train, valid = np.arange(14), np.arange(14, 20)
    regression = tf.finetune(
        tiny_pretrained, smiles, values, "regression", train, valid, options, device="cpu"
    ).model
    ensemble = tf.finetune(
        tiny_pretrained,
        smiles,
        labels,
        "classification",
        train,
        valid,
        tf.FinetuneOptions(epochs=1, batch_size=8, n_models=2, device="cpu"),
        target_names=["active"],
        device="cpu",
    ).model
    return regression, ensemble


@pytest.mark.parametrize(
    "smiles",
    [
        *SMILES,
        "[H]OC([H])([H])C",  # explicit hydrogens give their share to the heavy atom
        "C1CC2CCC3CCC4CCC5CCC6CCC7CCC8CCC9CCC%10CCC%11CC%11C%10C9C8C7C6C5C4C3C2C1",
        "[Na+].[O-]C(=O)c1ccccc1",
        "N#C/C=C/C#N",
    ],
)
def test_every_heavy_atom_gets_one_value(smiles):
    mapping = map_tokens_to_atoms(smiles)
    reference = Chem.MolFromSmiles(smiles)
    assert mapping.n_atoms == reference.GetNumHeavyAtoms()
    values = mapping.atom_values(np.ones(len(mapping.tokens)))
    assert values.shape == (reference.GetNumHeavyAtoms(),)
    # Every heavy atom has its own token; no bond, branch or ring-closure token maps to an atom.
    assert (values >= 1).all()
    for token, atom in zip(mapping.tokens, mapping.atom_of_token, strict=True):
        if token[0] in "()=#-/\\.%" or token.isdigit():
            assert atom == -1, token
        elif token != "[H]":
            symbol = mapping.mol.GetAtomWithIdx(atom).GetSymbol()
            assert symbol.lower() in token.lower(), (token, symbol)


def test_ring_closure_and_charges_map_to_the_right_atoms():
    mapping = map_tokens_to_atoms("[O-][n+]1ccccc1Cl")
    assert mapping.tokens[:3] == ("[O-]", "[n+]", "1")
    assert mapping.atom_of_token[:3] == (0, 1, -1)
    assert mapping.mol.GetAtomWithIdx(0).GetFormalCharge() == -1
    assert mapping.mol.GetAtomWithIdx(1).GetFormalCharge() == 1
    assert mapping.mol.GetAtomWithIdx(mapping.atom_of_token[-1]).GetSymbol() == "Cl"


def test_an_unparsable_smiles_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot parse"):
        map_tokens_to_atoms("C1CC(")


@pytest.mark.parametrize("steps", [32, 64])
def test_attributions_add_up_to_the_output_difference(models, steps):
    regression, ensemble = models
    for model in (regression, ensemble):
        for smiles in SMILES[:4]:
            explanation = integrated_gradients(model, smiles, steps=steps)
            delta = explanation.output - explanation.baseline_output
            total = explanation.token_attributions.sum()
            assert total == pytest.approx(delta, abs=1e-4 + 1e-3 * abs(delta))
            # Per atom the same total: only bond/ring tokens (and none here are lost) are left out.
            assert (
                len(explanation.atom_attributions) == Chem.MolFromSmiles(smiles).GetNumHeavyAtoms()
            )
            assert explanation.relative_gap() < 1e-2


def test_the_explained_output_is_the_prediction(models):
    regression, ensemble = models
    smiles = SMILES[1]
    explanation = integrated_gradients(regression, smiles)
    assert explanation.prediction == pytest.approx(
        float(tf.predict(regression, [smiles]).mean[0, 0]), abs=1e-4
    )
    explanation = integrated_gradients(ensemble, smiles, target="active", baseline="mask")
    assert explanation.output_name == "logit"
    assert explanation.prediction == pytest.approx(
        float(tf.predict(ensemble, [smiles]).mean[0, 0]), abs=1e-4
    )


def test_bad_requests_are_value_errors(models, tiny_pretrained):
    regression, _ = models
    with pytest.raises(ValueError, match="no target"):
        integrated_gradients(regression, "CCO", target="missing")
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(regression, "CCO", baseline="zeros")
    with pytest.raises(ValueError, match="fine-tuned"):
        explain_smiles(tiny_pretrained, "CCO", device="cpu")


def test_the_heat_map_is_drawn_as_svg_and_png(models):
    regression, _ = models
    explanation = integrated_gradients(regression, SMILES[0], steps=16)
    svg = explanation.svg(300, 200)
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    # Atoms that raise the output are drawn red, those that lower it blue: both colours appear
    # when the attributions have both signs.
    weights = np.linspace(-1, 1, explanation.mapping.n_atoms)
    svg = attribution_svg(explanation.mapping.mol, weights)
    assert "#FF3F3F" in svg.upper() and "#3F3FFF" in svg.upper()
    png = attribution_png(explanation.mapping.mol, weights, 200, 150)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="weights"):
        attribution_svg(explanation.mapping.mol, [1.0])
