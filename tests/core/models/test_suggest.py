"""What to make next: expected improvement in closed form, the UCB's order, the diverse batch's
minimum distance, and the picks table from a tiny random forest."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from core.jobs import JobCancelled
from core.models.baselines import fit_baseline, save_baseline
from core.models.suggest import (
    INTERVAL_Z,
    PICK_COLUMNS,
    BestKnown,
    KnownMeasurements,
    NoBestKnown,
    SuggestSettings,
    expected_improvement,
    improvement_probability,
    known_from_model,
    model_targets,
    models_with_uncertainty,
    predict_with_uncertainty,
    rank_candidates,
    suggest_for_library,
    suggest_from_predictions,
    upper_confidence_bound,
    why_text,
)

CHAINS = ["C", "CC", "CCC", "CCCC", "CCCCC", "CCCCCC"]
GROUPS = ["O", "N", "Cl", "C(=O)O", "c1ccccc1", "c1ccncc1", "OC", "C#N"]
# Analogues of one molecule: close to each other, far from the rest.
SERIES = [
    "c1ccc(cc1)C(=O)Nc1ccccc1",
    "Cc1ccc(cc1)C(=O)Nc1ccccc1",
    "Clc1ccc(cc1)C(=O)Nc1ccccc1",
    "Fc1ccc(cc1)C(=O)Nc1ccccc1",
    "COc1ccc(cc1)C(=O)Nc1ccccc1",
    "c1ccc(cc1)C(=O)Nc1ccc(F)cc1",
]
OTHERS = ["CCO", "CCCCCCCCN", "C1CCNCC1", "OC(=O)CCC(=O)O", "c1ccc2ccccc2c1", "CS(=O)(=O)N"]


def _carbons(smiles: str) -> float:
    return float(sum(a.GetSymbol() == "C" for a in Chem.MolFromSmiles(smiles).GetAtoms()))


def _tanimoto(a: str, b: str) -> float:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fa, fb = (generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in (a, b))
    return DataStructs.TanimotoSimilarity(fa, fb)


# ----------------------------------------------------------------------------------------------
# Acquisition


def test_expected_improvement_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mean = np.array([5.0, 6.0, 7.0, 7.5, 9.0, 4.0])
    std = np.array([0.3, 1.0, 0.5, 2.0, 0.1, 1.5])
    best = 7.2
    closed = expected_improvement(mean, std, best)
    draws = rng.normal(mean, std, size=(400_000, len(mean)))
    gains = np.maximum(draws - best, 0.0)
    estimate = gains.mean(axis=0)
    error = gains.std(axis=0) / math.sqrt(len(draws))
    assert np.all(np.abs(closed - estimate) <= 4 * error + 1e-9)
    assert closed[4] == pytest.approx(1.8, abs=1e-6)  # far above the best: just the gain
    # Minimising mirrors it: improvement is best − Y.
    mirrored = expected_improvement(-mean, std, -best, maximize=False)
    np.testing.assert_allclose(mirrored, closed, rtol=1e-12)
    losses = np.maximum(best - draws, 0.0)
    minimized = expected_improvement(mean, std, best, maximize=False)
    error = losses.std(axis=0) / math.sqrt(len(draws))
    assert np.all(np.abs(minimized - losses.mean(axis=0)) <= 4 * error + 1e-9)


def test_expected_improvement_without_spread_is_the_plain_gain_and_nan_stays_nan():
    ei = expected_improvement([8.0, 6.0, np.nan, 7.0], [0.0, 0.0, 1.0, np.nan], 7.0)
    assert ei[0] == 1.0 and ei[1] == 0.0
    assert np.isnan(ei[2]) and np.isnan(ei[3])
    # ξ asks for more than any improvement.
    assert expected_improvement([8.0], [0.0], 7.0, xi=0.5)[0] == pytest.approx(0.5)
    assert (expected_improvement(np.linspace(0, 10, 50), np.full(50, 0.5), 20.0) >= 0).all()


def test_the_chance_to_beat_the_best_is_the_normal_tail():
    assert improvement_probability(8.0, 1.0, 7.0) == pytest.approx(0.841345, abs=1e-6)
    assert improvement_probability(8.0, 1.0, 7.0, maximize=False) == pytest.approx(
        0.158655, abs=1e-6
    )
    assert improvement_probability(8.0, 0.0, 7.0) == 1.0
    text = why_text("pIC50", 8.0, 1.0, 0.5, SuggestSettings(), BestKnown(7.0, "C", "lab"), 0.42)
    assert text == (
        "high predicted pIC50 8.00 ± 1.65, beyond the best known 7.00 (a 84% chance to beat it; "
        "EI 0.5); 0.42 similar to the best known"
    )


def test_the_upper_confidence_bound_orders_by_optimism():
    mean = np.array([7.0, 6.0, 6.5, 8.0])
    std = np.array([0.1, 1.0, 0.2, 0.0])
    bound = upper_confidence_bound(mean, std, kappa=2.0)
    np.testing.assert_allclose(bound, [7.2, 8.0, 6.9, 8.0])
    # Ties (8.0) go to the better mean; the uncertain 6.0 beats the sure 7.0.
    assert rank_candidates(bound, mean).tolist() == [3, 1, 0, 2]
    # kappa 0 is the greedy ranking.
    assert rank_candidates(upper_confidence_bound(mean, std, kappa=0.0), mean).tolist() == [
        3,
        0,
        2,
        1,
    ]
    # Minimising: the lower bound, smaller first.
    lower = upper_confidence_bound(mean, std, kappa=2.0, maximize=False)
    np.testing.assert_allclose(lower, [6.8, 4.0, 6.1, 8.0])
    assert rank_candidates(-lower, mean, maximize=False).tolist() == [1, 2, 0, 3]


def test_ucb_picks_come_in_order_of_the_bound():
    smiles = SERIES + OTHERS
    rng = np.random.default_rng(1)
    mean = rng.normal(6, 1, len(smiles))
    std = rng.uniform(0.1, 1.0, len(smiles))
    settings = SuggestSettings(n=5, strategy="ucb", kappa=1.5, batch_diversity=0.0)
    result = suggest_from_predictions(smiles, mean, std, settings)
    expected = np.argsort(-(mean + 1.5 * std))[:5]
    assert result.picks["row"].tolist() == expected.tolist()
    np.testing.assert_allclose(result.picks["acquisition"], (mean + 1.5 * std)[expected])
    assert "upper bound" in result.picks["why"].iat[0]


# ----------------------------------------------------------------------------------------------
# The diverse batch


def test_picks_keep_the_minimum_distance_and_zero_keeps_the_ranking():
    smiles = SERIES + OTHERS
    # The series is predicted best: a pure ranking takes only analogues.
    mean = np.array([9.0, 8.9, 8.8, 8.7, 8.6, 8.5, 6.0, 5.9, 5.8, 5.7, 5.6, 5.5])
    std = np.full(len(smiles), 0.5)
    ranked = suggest_from_predictions(
        smiles, mean, std, SuggestSettings(n=4, batch_diversity=0.0), best_value=8.0
    )
    assert ranked.picks["row"].tolist() == [0, 1, 2, 3]
    diverse = suggest_from_predictions(
        smiles,
        mean,
        std,
        SuggestSettings(n=4, batch_diversity=0.6, pool_factor=3),
        best_value=8.0,
    )
    rows = diverse.picks["row"].tolist()
    assert rows[0] == 0 and len(rows) == 4
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            assert 1.0 - _tanimoto(smiles[a], smiles[b]) >= 0.6, (smiles[a], smiles[b])
    # The nearest-pick column is what RDKit says for each pick's closest earlier pick.
    for k in range(1, 4):
        closest = max(_tanimoto(smiles[rows[k]], smiles[rows[j]]) for j in range(k))
        assert diverse.picks["nearest_pick_similarity"].iat[k] == pytest.approx(closest)
    assert np.isnan(diverse.picks["nearest_pick_similarity"].iat[0])


def test_too_few_diverse_candidates_give_fewer_picks_and_say_so():
    smiles = SERIES[:4]
    result = suggest_from_predictions(
        smiles,
        [9.0, 8.0, 7.0, 6.0],
        [1.0, 1.0, 1.0, 1.0],
        SuggestSettings(n=3, batch_diversity=0.95, pool_factor=1),
        best_value=5.0,
    )
    assert len(result.picks) < 3
    assert any("only" in note for note in result.notes)


def test_a_pick_from_below_the_pool_is_counted():
    smiles = SERIES + OTHERS
    mean = np.array([9.0, 8.9, 8.8, 8.7, 8.6, 8.5, 6.0, 5.9, 5.8, 5.7, 5.6, 5.5])
    result = suggest_from_predictions(
        smiles,
        mean,
        np.full(len(smiles), 0.5),
        SuggestSettings(n=2, batch_diversity=0.6, pool_factor=1),  # pool: the top 2 only
        best_value=8.0,
    )
    assert result.picks["row"].tolist()[0] == 0 and result.picks["row"].iat[1] >= 6
    assert result.n_beyond_pool == 1
    assert "below the top" in result.summary()


def test_measured_molecules_are_not_suggested_again_and_set_the_best():
    smiles = SERIES + OTHERS
    mean = np.linspace(9, 6, len(smiles))
    known = KnownMeasurements(
        (Chem.MolToSmiles(Chem.MolFromSmiles(SERIES[0])), "CCO"), (7.5, 8.25), "lab"
    )
    result = suggest_from_predictions(
        smiles, mean, np.full(len(smiles), 0.4), SuggestSettings(n=3, batch_diversity=0.0),
        known=known,
    )  # fmt: skip
    assert 0 not in result.picks["row"].tolist()  # SERIES[0] (written differently) is measured
    assert result.n_measured_skipped == 1
    assert result.best is not None and result.best.value == 8.25 and result.best.smiles == "CCO"
    np.testing.assert_allclose(
        result.picks["similarity_to_best"], [_tanimoto(smiles[r], "CCO") for r in result.picks.row]
    )
    minimized = suggest_from_predictions(
        smiles,
        mean,
        np.full(len(smiles), 0.4),
        SuggestSettings(n=3, objective="minimize", batch_diversity=0.0),
        known=known,
    )
    assert minimized.best.value == 7.5
    assert minimized.picks["row"].tolist() == [11, 10, 9]  # the lowest predicted first


def test_bad_inputs_are_refused_in_words():
    with pytest.raises(NoBestKnown, match="best measured value"):
        suggest_from_predictions(["CCO"], [1.0], [0.1], SuggestSettings(n=1))
    with pytest.raises(ValueError, match="one of each per molecule"):
        suggest_from_predictions(["CCO", "CCN"], [1.0], [0.1], best_value=0.0)
    with pytest.raises(ValueError, match="nothing to rank"):
        suggest_from_predictions(["CCO"], [1.0], [np.nan], best_value=0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        suggest_from_predictions(["CCO"], [1.0], [0.1], SuggestSettings(batch_diversity=2.0))
    assert SuggestSettings(n=0).problem().startswith("the number of picks")
    assert SuggestSettings(strategy="pi").problem().startswith("the strategy must be ei or ucb")
    assert SuggestSettings().problem() is None


def test_a_cancelled_walk_stops():
    with pytest.raises(JobCancelled):
        suggest_from_predictions(
            SERIES, np.arange(6.0), np.ones(6), best_value=1.0, is_cancelled=lambda: True
        )


# ----------------------------------------------------------------------------------------------
# From a model folder


@pytest.fixture(scope="module")
def forest_dir(tmp_path_factory):
    """A tiny forest predicting the number of carbons, saved as a trained model's baseline/,
    with the held-out measurements its parent keeps."""
    smiles = [f"{chain}{group}" for chain in CHAINS for group in GROUPS]
    folder = tmp_path_factory.mktemp("model")
    model = fit_baseline(
        smiles[::2],
        np.array([_carbons(s) for s in smiles[::2]]),
        "regression",
        target_names=["carbons"],
        n_trees=30,
        seed=0,
    )
    save_baseline(model, folder / "baseline")
    held_out = ["CN", "CCCl", "CCCCC(=O)O", "CCCCCCc1ccncc1", "CCOC", "CCCCCC#N"]
    rows = []
    for name in ("transformer", "rf_ecfp4"):  # each held-out row once per model
        for i, s in enumerate(held_out):
            rows.append(
                {
                    "part": "test",
                    "row": i,
                    "smiles": s,
                    "target": "carbons",
                    "measured": _carbons(s),
                    "model": name,
                    "predicted": 0.0,
                    "std": 0.0,
                }
            )
    pd.DataFrame(rows).to_csv(folder / "heldout_predictions.csv", index=False)
    return folder / "baseline"


LIBRARY = ["CCCCCCCO", "CCCCCCCCN", "c1ccccc1CCCCC", "CO", "CCCCCCC(=O)O", "not a smiles", ""]


def test_a_picks_table_from_a_tiny_forest(forest_dir):
    known = known_from_model(forest_dir, "carbons")
    assert known is not None and len(known) == 6  # duplicates per model dropped
    assert max(known.values) == 11.0  # CCCCCCc1ccncc1, the most carbons held out
    settings = SuggestSettings(n=3, batch_diversity=0.0)
    result = suggest_for_library(forest_dir, LIBRARY, [f"m{i}" for i in range(7)], settings)
    picks = result.picks
    assert list(picks.columns) == PICK_COLUMNS
    assert picks["suggest_rank"].tolist() == [1, 2, 3]
    assert not set(picks["row"]) & {5, 6}  # no structure, no pick
    assert picks["name"].tolist() == [f"m{r}" for r in picks["row"]]
    np.testing.assert_allclose(picks["lower"], picks["predicted"] - INTERVAL_Z * picks["std"])
    np.testing.assert_allclose(picks["upper"], picks["predicted"] + INTERVAL_Z * picks["std"])
    assert (picks["std"] > 0).all()
    assert picks["acquisition"].is_monotonic_decreasing
    np.testing.assert_allclose(
        picks["acquisition"], expected_improvement(picks["predicted"], picks["std"], 11.0)
    )
    assert result.best.value == 11.0 and "baseline" not in result.best.source
    for why, similarity in zip(picks["why"], picks["similarity_to_best"], strict=True):
        assert why.startswith("predicted carbons") or why.startswith("high predicted carbons")
        assert f"{similarity:.2f} similar to the best known" in why
    assert "random forest" in result.summary() and "best known carbons 11" in result.summary()
    # "CO" has one carbon: a forest of chains cannot expect it to beat 11.
    assert 3 not in picks["row"].tolist()


def test_a_given_best_value_replaces_the_models(forest_dir):
    result = suggest_for_library(
        forest_dir, LIBRARY, settings=SuggestSettings(n=2, batch_diversity=0.0), best_value=2.0
    )
    assert result.best.value == 2.0 and result.best.source == "given"
    assert "high predicted carbons" in result.picks["why"].iat[0]


def test_model_targets_and_refusals(forest_dir, tmp_path):
    assert model_targets(forest_dir) == ("regression", ["carbons"])
    with pytest.raises(ValueError, match="no such model folder"):
        model_targets(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"no card\.json"):
        model_targets(tmp_path)
    with pytest.raises(ValueError, match="no target 'pIC50'"):
        predict_with_uncertainty(forest_dir, ["CCO"], "pIC50")
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "card.json").write_text(
        json.dumps({"task": "classification", "target_names": ["active"]})
    )
    with pytest.raises(ValueError, match="use the upper confidence bound"):
        suggest_for_library(classifier, ["CCO"])  # refused before any prediction


def _transformer_folder(folder, weights):
    folder.mkdir()
    card = {"kind": "transformer", "task": "regression", "target_names": ["Act"]}
    (folder / "card.json").write_text(json.dumps({**card, "weights": weights}))
    return folder


class RecordingHost:
    """Stands in for the model host: runs the job here and records it."""

    def __init__(self) -> None:
        self.calls = []

    def run(self, fn, args=(), kwargs=None, **_):
        self.calls.append(fn.__name__)
        _folder, smiles = args
        frame = pd.DataFrame(index=smiles.index)
        frame["Act"] = [float(len(s)) for s in smiles]
        frame["Act_std"] = 0.5
        frame["Act_nearest_train_similarity"] = 0.3
        frame["Act_in_domain"] = pd.array([True, False, True], dtype="boolean")
        return frame


def test_a_transformer_ensemble_predicts_through_the_host(tmp_path):
    folder = _transformer_folder(tmp_path / "ensemble", ["a", "b", "c"])
    host = RecordingHost()
    predictions = predict_with_uncertainty(folder, ["CCO", "CCCCN", "CC"], model_host=host)
    assert host.calls == ["predict_library"]
    assert predictions.std.tolist() == [0.5, 0.5, 0.5]
    assert predictions.model.startswith("transformer ensemble of 3")
    result = suggest_for_library(
        folder,
        ["CCO", "CCCCN", "CC"],
        settings=SuggestSettings(n=2, batch_diversity=0.0),
        best_value=3.0,
        model_host=host,
    )
    assert result.picks["row"].tolist() == [1, 0]
    assert list(result.picks.columns[-2:]) == ["nearest_train_similarity", "in_domain"]
    assert "outside the model's applicability domain" in result.picks["why"].iat[0]
    assert "applicability" not in result.picks["why"].iat[1]


def test_a_single_transformer_is_refused_with_its_forest_named(tmp_path, monkeypatch, forest_dir):
    import shutil

    folder = _transformer_folder(tmp_path / "single", ["model.safetensors"])
    shutil.copytree(forest_dir, folder / "baseline")

    def no_spread(model_dir, smiles, **_):
        return pd.DataFrame({"Act": np.ones(len(smiles))}, index=smiles.index)

    monkeypatch.setattr("core.models.apply.predict_library", no_spread)
    with pytest.raises(ValueError, match="no uncertainty") as refused:
        predict_with_uncertainty(folder, ["CCO"])
    assert str(folder / "baseline") in str(refused.value)


def test_models_with_uncertainty_lists_ensembles_and_forests(tmp_path, forest_dir):
    import shutil

    ensemble = _transformer_folder(tmp_path / "ensemble", ["a", "b"])
    single = _transformer_folder(tmp_path / "single", ["a"])
    shutil.copytree(forest_dir, single / "baseline")
    listed = models_with_uncertainty([ensemble, single, forest_dir, tmp_path / "missing"])
    assert [(m.path, m.label) for m in listed] == [
        (ensemble, "ensemble (ensemble of 2)"),
        (single / "baseline", "single: its random forest"),
        (forest_dir, "baseline (random forest)"),
    ]
    assert listed[1].targets == ("carbons",)
