"""Explanations: integrated gradients' completeness, the token-to-atom mapping, the heat map and
its colour bar, and every family (transformer, random forest, D-MPNN) relative to the training
mean or base rate, with the sum check where the method guarantees it."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdkit
import torch
from rdkit import Chem

from core.models import transformer as tf
from core.models.explain import (
    COLOUR_BAR_HEIGHT,
    Reference,
    attribution_png,
    attribution_svg,
    available_families,
    colour_limit,
    default_family,
    explain_molecule,
    explain_smiles,
    family_folder,
    format_value,
    integrated_gradients,
    map_tokens_to_atoms,
    model_reference,
    rebase_integrated_gradients,
    spread_to_atoms,
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


# ----------------------------------------------------------------------------------------------
# Explanations a chemist reads: every family, relative to the training mean or base rate

BORTEZOMIB = "CC(C)C[C@@H](NC(=O)[C@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O"
FREEWILSON = Path(rdkit.__path__[0]) / "Contrib" / "FreeWilson" / "data"


def _potency_table(n: int) -> pd.DataFrame:
    smi = pd.read_csv(
        FREEWILSON / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    return smi.merge(pd.read_csv(FREEWILSON / "CHEMBL2321810_act.csv"), on="Name").iloc[:n]


def _bar_pixels(png: bytes, height: int) -> np.ndarray:
    """The written PNG's pixel rows where the colour bar is drawn (RGB)."""
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    top = height - COLOUR_BAR_HEIGHT + 4
    return image[top + 3 : top + 11]


def test_bortezomib_on_the_shipped_potency_model_has_both_signs(tmp_path):
    from resources import resource_path

    folder = resource_path("models/potency-chembl2321810")
    card = json.loads((folder / "card.json").read_text())
    explanation = explain_molecule(folder, BORTEZOMIB, steps=32)
    assert explanation.family == "transformer"  # the family this folder predicts with
    assert explanation.reference.kind == "training mean"
    assert explanation.reference.value == pytest.approx(card["target_mean"][0])
    values = explanation.atom_attributions
    assert len(values) == Chem.MolFromSmiles(BORTEZOMIB).GetNumHeavyAtoms()
    # Against the empty input every atom lowered the prediction; against the training mean some
    # raise it and some lower it.
    assert (values > 0).any() and (values < 0).any()
    assert explanation.additive and explanation.sum_check(1e-3)
    assert values.sum() == pytest.approx(explanation.prediction - card["target_mean"][0], abs=5e-3)
    text = "\n".join(explanation.summary_lines())
    assert f"training mean Act {card['target_mean'][0]:.2f}" in text
    assert "Raise it most: " in text and "Lower it most: " in text
    # The picture carries the colour bar: blue at its left end, red at its right end.
    png = explanation.png(460, 340)
    bar = _bar_pixels(png, 340)
    left, right = bar[:, 40:50].mean(axis=(0, 1)), bar[:, -50:-40].mean(axis=(0, 1))
    assert left[2] > 200 and left[0] < 120, left  # blue
    assert right[0] > 200 and right[2] < 120, right  # red


def test_the_rebased_transformer_adds_up_for_every_family_of_task(models, tmp_path):
    regression, ensemble = models
    for model in (regression, ensemble):
        task = model.card["task"]
        reference = Reference(0.3 if task == "classification" else -0.5, "training mean", "t", task)
        raw = integrated_gradients(model, SMILES[0], link="probability", steps=32)
        rebased = rebase_integrated_gradients(raw, reference)
        assert rebased.sum_check(1e-3)
        assert rebased.atom_attributions.sum() == pytest.approx(
            raw.prediction - reference.value, abs=1e-3
        )
        if task == "classification":
            assert 0 <= raw.output <= 1 and raw.output == pytest.approx(
                float(tf.predict(model, [SMILES[0]]).mean[0, 0]), abs=1e-4
            )


def test_syntax_tokens_are_shared_by_their_neighbouring_atoms():
    mapping = map_tokens_to_atoms("C(=O)O")  # tokens C ( = O ) O
    values = spread_to_atoms(mapping, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    # "(" and "=" lie between C and the first O; ")" between that O and the last one.
    np.testing.assert_allclose(values, [1 + 1 + 2, 8 + 1 + 2 + 8, 32 + 8])
    assert values.sum() == pytest.approx(63.0)


@pytest.fixture(scope="module")
def forest_folders(tmp_path_factory):
    """A regression forest inside a trained-model-like folder (card with the training mean),
    and a balanced classification forest with held-out labels but no base rate on its card."""
    from core.models.baselines import fit_baseline, save_baseline

    root = tmp_path_factory.mktemp("forests")
    table = _potency_table(150)
    smiles, act = list(table["smiles"]), table["Act"].to_numpy()
    model = root / "potency"
    forest = fit_baseline(smiles, act, "regression", target_names=["Act"], n_trees=40, seed=0)
    save_baseline(forest, model / "baseline")
    card = {"name": "potency", "kind": "transformer", "task": "regression"}
    card |= {"target_names": ["Act"], "target_mean": [float(act.mean())]}
    (model / "card.json").write_text(json.dumps(card))
    labels = (act > np.median(act)).astype(float)
    classifier = fit_baseline(
        smiles, labels, "classification", target_names=["active"], n_trees=40,
        class_weight="balanced", seed=0,
    )  # fmt: skip
    save_baseline(classifier, root / "active")
    pd.DataFrame(
        {"part": "valid", "row": range(20), "target": "active", "measured": [1.0] * 5 + [0.0] * 15}
    ).to_csv(root / "active" / "heldout_predictions.csv", index=False)
    return model, root / "active", smiles


def test_the_forest_decomposition_is_exact_and_relative_to_the_training_mean(forest_folders):
    from core.models.baselines import load_baseline, predict_baseline

    model, _, smiles = forest_folders
    forest = load_baseline(model / "baseline")
    mean = json.loads((model / "card.json").read_text())["target_mean"][0]
    for molecule in (smiles[0], smiles[77], BORTEZOMIB):
        explanation = explain_molecule(model, molecule, family="rf")
        assert explanation.family == "rf"
        assert explanation.prediction == pytest.approx(
            float(predict_baseline(forest, [molecule]).mean[0, 0]), abs=1e-9
        )
        assert explanation.reference.kind == "training mean"
        assert explanation.reference.value == pytest.approx(mean)
        # Exact by construction: atoms plus what lies on no atom (absent substructures, the
        # forest's bootstrap average against the training mean) is prediction minus reference.
        total = explanation.atom_attributions.sum() + explanation.unplaced
        assert total == pytest.approx(explanation.prediction - mean, abs=1e-9)
        assert abs(explanation.gap) < 1e-9 and explanation.sum_check(1e-9)
        assert "lacks" in explanation.method
    # A molecule of the series has atoms of both signs.
    values = explain_molecule(model, smiles[0], family="rf").atom_attributions
    assert (values > 0).any() and (values < 0).any()


def test_forest_bits_land_on_the_atoms_that_set_them():
    from core.models.explain_forest import bits_to_atoms, morgan_atom_sets
    from core.models.featurize import ecfp4

    mol = Chem.MolFromSmiles("CCO")
    bits, environments = morgan_atom_sets(mol, 2, 2048)
    np.testing.assert_array_equal(bits, ecfp4(mol))
    oxygen_only = [b for b, places in environments.items() if places == [(2,)]]
    assert oxygen_only  # the radius-0 environment of the oxygen
    contributions = np.zeros(2048)
    contributions[oxygen_only[0]] = 0.6
    contributions[1 if 1 not in environments else 2047] = -0.25  # a bit the molecule lacks
    atoms, unplaced = bits_to_atoms(contributions, environments, 3)
    np.testing.assert_allclose(atoms, [0.0, 0.0, 0.6])
    assert unplaced == pytest.approx(-0.25)


def test_a_classifier_forest_is_explained_against_the_base_rate(forest_folders):
    from core.models.baselines import load_baseline, predict_baseline

    _, folder, smiles = forest_folders
    explanation = explain_molecule(folder, smiles[3])  # a forest folder: rf by default
    assert explanation.family == "rf" and explanation.task == "classification"
    # No base rate on a card: the validation molecules' (5 of 20).
    assert explanation.reference.kind == "validation base rate"
    assert explanation.reference.value == pytest.approx(0.25)
    probability = float(predict_baseline(load_baseline(folder), [smiles[3]]).mean[0, 0])
    assert explanation.prediction == pytest.approx(probability, abs=1e-9)
    assert explanation.sum_check(1e-9)
    assert explanation.units == "P(active)"
    # Balanced class weights: the forest's own average is near 0.5 (bootstrap samples move it).
    average = float(re.search(r"forest's own average \((\d\.\d+)", explanation.method)[1])
    assert average == pytest.approx(0.5, abs=0.03)


@pytest.fixture(scope="module")
def dmpnn_folder(tiny_smiles, tmp_path_factory):
    from core.models.dmpnn import DmpnnOptions, train_dmpnn

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("dmpnn") / "model"
    y = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in tiny_smiles], dtype=float)
    options = DmpnnOptions(hidden_size=32, ffn_hidden_size=32, batch_size=4, aggregation="mean")
    train_dmpnn(
        tiny_smiles[:30], y[:30], tiny_smiles[30:], y[30:], "regression", output_dir=folder,
        epochs=8, options=replace(options, n_models=2), target_names=["atoms"], device="cpu",
    )  # fmt: skip
    return folder, float(y[:30].mean())


def test_dmpnn_integrated_gradients_add_up_to_prediction_minus_training_mean(dmpnn_folder):
    from core.models.dmpnn import predict_dmpnn

    folder, train_mean = dmpnn_folder
    for molecule in ("CCO", "c1ccccc1O", "C", "OC(=O)c1ccc(Br)cc1Cl"):
        explanation = explain_molecule(folder, molecule, steps=48)
        assert explanation.family == "dmpnn"
        assert explanation.reference.kind == "training mean"
        assert explanation.reference.value == pytest.approx(train_mean)
        predicted = float(predict_dmpnn(folder, [molecule], device="cpu").mean[0, 0])
        assert explanation.prediction == pytest.approx(predicted, abs=1e-4)
        assert len(explanation.atom_attributions) == Chem.MolFromSmiles(molecule).GetNumAtoms()
        # Completeness of integrated gradients: a numerical integral, so a tolerance.
        assert explanation.sum_check(1e-3), explanation.gap
        assert explanation.atom_attributions.sum() == pytest.approx(
            predicted - train_mean, abs=2e-3
        )


def test_families_are_found_in_a_folder_and_refused_when_missing(forest_folders, dmpnn_folder):
    model, forest, _ = forest_folders
    assert available_families(forest) == ["rf"]
    assert available_families(dmpnn_folder[0]) == ["dmpnn"]
    assert default_family(dmpnn_folder[0]) == "dmpnn"
    assert family_folder(model, "rf") == model / "baseline"
    with pytest.raises(ValueError, match="no dmpnn model"):
        explain_molecule(forest, "CCO", family="dmpnn")
    with pytest.raises(ValueError, match="family must be"):
        family_folder(model, "svm")
    with pytest.raises(ValueError, match="cannot parse"):
        explain_molecule(forest, "C1CC(", family="rf")


def test_the_colour_bar_is_drawn_and_scaled_per_molecule():
    mol = Chem.MolFromSmiles("OC(=O)c1ccc(Br)cc1Cl")
    weights = np.linspace(-0.02, 0.05, mol.GetNumAtoms())
    png = attribution_png(mol, weights, 400, 300, colour_bar="change in logS vs training mean")
    bar = _bar_pixels(png, 300)
    assert bar[:, 40:48].mean(axis=(0, 1))[2] > 200  # blue end
    assert bar[:, -48:-40].mean(axis=(0, 1))[0] > 200  # red end
    plain = attribution_png(mol, weights, 400, 300)
    unbarred = _bar_pixels(plain, 300)  # no bar asked for: the molecule may be there, no scale
    assert not (
        unbarred[:, 40:48].mean(axis=(0, 1))[2] > 200
        and unbarred[:, 40:48].mean(axis=(0, 1))[0] < 120
    )
    svg = attribution_svg(mol, weights, 400, 300, colour_bar="change in logS")
    assert svg.count("fill:#") > 40  # the bar's cells
    # Scaled per molecule: the strongest atom saturates whatever its size.
    assert colour_limit(weights) == pytest.approx(0.05)
    assert format_value(0.003, 0.05) == "+0.003" and format_value(-0.2, 0.2) == "-0.20"


def test_a_dmpnn_explanation_comes_back_from_the_model_host(dmpnn_folder):
    from core.modelhost import shared_host

    folder, _ = dmpnn_folder
    here = explain_molecule(folder, "c1ccccc1O", steps=16, device="cpu")
    there = shared_host("cpu").run(explain_molecule, (folder, "c1ccccc1O"), {"steps": 16})
    assert there.family == "dmpnn" and there.reference == here.reference
    np.testing.assert_allclose(there.atom_attributions, here.atom_attributions, atol=1e-5)
    assert Chem.MolToSmiles(there.mol) == Chem.MolToSmiles(here.mol)


def test_a_classifiers_reference_prefers_the_training_labels(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    card = {"task": "classification", "target_names": ["active"]}
    (folder / "card.json").write_text(json.dumps(card))
    pd.DataFrame(
        {"part": "valid", "row": range(4), "target": "active", "measured": [1.0, 0, 0, 0]}
    ).to_csv(folder / "heldout_predictions.csv", index=False)
    assert model_reference(folder, "active", "classification").kind == "validation base rate"
    # The calibration's out-of-fold table holds the training part's labels (one per row).
    pd.DataFrame(
        {"row": [7, 8, 9, 9], "fold": 0, "target": "active", "measured": [1.0, 1, 0, 0],
         "predicted": 0.5}
    ).to_csv(folder / "calibration_predictions.csv", index=False)  # fmt: skip
    reference = model_reference(folder, "active", "classification")
    assert (reference.kind, reference.value) == ("training base rate", pytest.approx(2 / 3))
    (folder / "card.json").write_text(json.dumps(card | {"train_positive_rate": [0.1]}))
    assert model_reference(folder, "active", "classification").value == pytest.approx(0.1)
    assert (
        "training base rate of active 0.10"
        in model_reference(folder, "active", "classification").text
    )
    with pytest.raises(ValueError, match="no training mean"):
        model_reference(folder, "active", "regression")
