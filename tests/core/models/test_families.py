"""Best of families, chosen honestly (issue 15, part 2): the choice looks at the validation part
only, weights sum to 1, the saved model predicts with the chosen family or mix (the weighted mean
of the families' own predictions), a folder without a choice predicts as before, and the D-MPNN
trains through ``train_and_evaluate`` on a tiny set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from core.models import families as fm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------------------------
# The choice


def _parts(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(6.0, 1.0, (n, 1)), rng.normal(6.0, 1.0, (n, 1))


def test_a_family_best_on_test_but_worse_on_validation_is_not_chosen():
    rng = np.random.default_rng(0)
    y_valid, y_test = _parts(rng)
    # The transformer errs little on validation and much on test; the forest the other way.
    valid = {
        "transformer": y_valid + rng.normal(0, 0.3, y_valid.shape),
        "rf": y_valid + rng.normal(0, 0.9, y_valid.shape),
    }
    test = {
        "transformer": y_test + rng.normal(0, 0.9, y_test.shape),
        "rf": y_test + rng.normal(0, 0.3, y_test.shape),
    }
    rmse = {f: float(np.sqrt(np.mean((p - y_test) ** 2))) for f, p in test.items()}
    assert rmse["rf"] < rmse["transformer"]  # the forest is the best on test...
    choice = fm.choose_families(valid, y_valid, "regression")
    assert "rf" not in choice.families or choice.weights[choice.families.index("rf")] < 0.5
    assert choice.main_family == "transformer"  # ...and the transformer is chosen
    assert choice.valid["transformer"] < choice.valid["rf"]
    assert choice.valid["chosen"] <= choice.valid["transformer"]
    assert "validation RMSE" in choice.why and "test" in choice.rule


def test_a_single_family_is_kept_when_no_mix_beats_it_on_validation():
    rng = np.random.default_rng(1)
    y_valid, _ = _parts(rng)
    good = y_valid + rng.normal(0, 0.1, y_valid.shape)
    # A family that predicts noise: any weight on it makes validation worse.
    valid = {"transformer": good, "dmpnn": rng.normal(6.0, 3.0, y_valid.shape)}
    choice = fm.choose_families(valid, y_valid, "regression")
    assert choice.families == ("transformer",) and choice.weights == (1.0,)
    assert choice.valid["chosen"] == choice.valid["transformer"]


def test_two_families_with_independent_errors_are_mixed_and_weights_sum_to_one():
    rng = np.random.default_rng(2)
    y_valid, _ = _parts(rng, 500)
    valid = {
        "transformer": y_valid + rng.normal(0, 0.5, y_valid.shape),
        "dmpnn": y_valid + rng.normal(0, 0.5, y_valid.shape),
        "rf": y_valid + rng.normal(0, 0.5, y_valid.shape),
    }
    choice = fm.choose_families(valid, y_valid, "regression")
    # Averaging independent errors beats every single family on validation.
    assert len(choice.families) >= 2
    assert sum(choice.weights) == pytest.approx(1.0, abs=1e-12)
    assert all(w > 0 for w in choice.weights)
    assert choice.valid["chosen"] < min(choice.valid[f] for f in valid)
    mixed = sum(w * valid[f] for f, w in zip(choice.families, choice.weights, strict=True))
    assert choice.valid["chosen"] == pytest.approx(float(np.sqrt(np.mean((mixed - y_valid) ** 2))))


def test_classification_is_chosen_by_validation_roc_auc():
    rng = np.random.default_rng(3)
    y = (rng.random((300, 1)) < 0.4).astype(float)
    valid = {
        "transformer": np.clip(0.5 + (y - 0.5) * 0.2 + rng.normal(0, 0.3, y.shape), 0, 1),
        "rf": np.clip(0.5 + (y - 0.5) * 0.8 + rng.normal(0, 0.1, y.shape), 0, 1),
    }
    choice = fm.choose_families(valid, y, "classification")
    assert choice.metric == "roc_auc" and choice.main_family == "rf"
    assert choice.valid["chosen"] >= choice.valid["rf"] > choice.valid["transformer"]


def test_every_grid_point_sums_to_one():
    for k in (1, 2, 3):
        grid = fm.simplex_grid(k)
        assert grid and all(abs(sum(w) - 1) < 1e-12 and min(w) >= 0 for w in grid)
    assert len(fm.simplex_grid(3)) == 66


def test_combine_is_the_weighted_mean_and_the_mixture_spread():
    a, b = np.array([[1.0], [2.0]]), np.array([[3.0], [np.nan]])
    mean, std = fm.combine([a, b], [None, np.array([[1.0], [1.0]])], [0.25, 0.75])
    assert mean[0, 0] == pytest.approx(2.5) and np.isnan(mean[1, 0])
    # Law of total variance: 0.25*(0 + 1.5^2) + 0.75*(1 + 0.5^2).
    assert std[0, 0] == pytest.approx(np.sqrt(0.25 * 2.25 + 0.75 * 1.25))
    single, spread = fm.combine([a], [np.array([[0.2], [0.3]])], [1.0])
    np.testing.assert_array_equal(single, a)
    np.testing.assert_allclose(spread, [[0.2], [0.3]])


def test_families_are_parsed_and_checked():
    assert fm.parse_families("rf, transformer,dmpnn") == ("transformer", "dmpnn", "rf")
    assert fm.parse_families(["transformer"]) == ("transformer",)
    for bad in ("transformer,gnn", "", "dmpnn,rf", "transformer,,rf"):
        with pytest.raises(ValueError):
            fm.parse_families(bad)


# ----------------------------------------------------------------------------------------------
# Through training, and prediction with the choice


@pytest.fixture(scope="module")
def trained(tiny_pretrained, tiny_smiles, tmp_path_factory):
    """A tiny model trained with all three families on heavy-atom counts."""
    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, train_and_evaluate

    work = tmp_path_factory.mktemp("families")
    counts = [Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in tiny_smiles]
    path = work / "assay.csv"
    pd.DataFrame({"smiles": tiny_smiles, "atoms": counts}).to_csv(path, index=False)
    dataset = load_assay_table(path, "smiles", ["atoms"], "regression", units="p")
    settings = TrainSettings(
        split="random",
        epochs=2,
        batch_size=16,
        n_trees=20,
        families=("transformer", "dmpnn", "rf"),
        dmpnn_epochs=3,
    )
    folder = work / "model"
    report = train_and_evaluate(dataset, folder, settings, tiny_pretrained, device="cpu")
    return folder, report, dataset


def test_the_dmpnn_trains_through_train_and_every_family_is_reported(trained):
    folder, report, _ = trained
    assert (folder / "dmpnn" / "model.safetensors").is_file()
    assert (folder / "dmpnn" / "dmpnn_config.json").is_file()
    assert (folder / "baseline" / "forests.skops").is_file()
    models = {"transformer", "dmpnn", "rf_ecfp4", "chosen"}
    for part in ("valid", "test"):
        rows = report.metrics[report.metrics["part"] == part]
        assert set(rows["model"]) == models
        assert set(report.predictions[report.predictions["part"] == part]["model"]) == models
    saved = pd.read_csv(folder / "metrics.csv")
    assert set(saved["model"]) == models
    card = json.loads((folder / "card.json").read_text())
    chosen = card["chosen"]
    assert set(chosen["families"]) <= {"transformer", "dmpnn", "rf"}
    assert sum(chosen["weights"]) == pytest.approx(1.0)
    assert set(chosen["valid"]) == {"transformer", "dmpnn", "rf", "chosen"}
    assert "validation RMSE" in chosen["why"] and chosen["rule"]
    assert set(card["metrics"]["test"]) == models
    # The chosen predictor's validation score is the best of what was compared.
    assert chosen["valid"]["chosen"] <= min(
        chosen["valid"][f] for f in ("transformer", "dmpnn", "rf")
    )
    assert card["family"] in chosen["families"]


def test_the_choice_never_reads_the_test_part(trained, monkeypatch):
    """Re-choosing with the test rows replaced by nonsense gives the same choice."""
    from core.models.metrics import evaluate
    from core.models.training import _choose, make_split

    folder, report, dataset = trained
    split = make_split(dataset, "random", 0)
    predictions = report.predictions
    wide = {}
    for part in ("valid", "test"):
        wide[part] = {}
        for family, model in fm.FAMILY_MODELS.items():
            rows = predictions[(predictions["part"] == part) & (predictions["model"] == model)]
            assert rows["row"].tolist() == list(getattr(split, part))  # in the split's order
            wide[part][family] = (rows["predicted"].to_numpy()[:, None], None)
    first, _ = _choose(dataset, split, wide, evaluate)
    for family in wide["test"]:
        wide["test"][family] = (np.full_like(wide["test"][family][0], 1e6), None)
    again, _ = _choose(dataset, split, wide, evaluate)
    assert (first.families, first.weights) == (again.families, again.weights)
    card = json.loads((folder / "card.json").read_text())["chosen"]
    assert tuple(card["families"]) == first.families


def _with_choice(folder, tmp_path, families, weights):
    import shutil

    copy = tmp_path / "mixed"
    shutil.copytree(folder, copy)
    card = json.loads((copy / "card.json").read_text())
    if families is None:
        card.pop("chosen", None)
        card.pop("family", None)
    else:
        card["chosen"] = {**card["chosen"], "families": families, "weights": weights}
    (copy / "card.json").write_text(json.dumps(card))
    return copy


SMILES = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CC"]


def _own_predictions(folder):
    from core.models.baselines import load_baseline, predict_baseline
    from core.models.dmpnn import predict_dmpnn
    from core.models.transformer import predict

    return {
        "transformer": predict(folder, SMILES, device="cpu").mean,
        "dmpnn": predict_dmpnn(folder / "dmpnn", SMILES, device="cpu").mean,
        "rf": predict_baseline(load_baseline(folder / "baseline"), SMILES).mean,
    }


def test_predict_and_apply_with_a_chosen_mix_give_the_weighted_mean(trained, tmp_path):
    from app.cli import main
    from core.models.apply import predict_library

    folder, _, _ = trained
    weights = [0.5, 0.3, 0.2]
    mixed = _with_choice(folder, tmp_path, ["transformer", "dmpnn", "rf"], weights)
    own = _own_predictions(mixed)
    expected = sum(w * own[f] for f, w in zip(("transformer", "dmpnn", "rf"), weights, strict=True))
    frame = predict_library(mixed, pd.Series(SMILES), device="cpu")
    np.testing.assert_allclose(frame["atoms"].to_numpy(), expected[:, 0], rtol=1e-6)
    assert (frame["atoms_std"] > 0).all()  # the families disagree: the mix has a spread
    source = tmp_path / "in.csv"
    pd.DataFrame({"smiles": SMILES}).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    assert main(["predict", str(mixed), str(source), "-o", str(output)]) == 0
    table = pd.read_csv(output)
    np.testing.assert_allclose(table["atoms"].to_numpy(), expected[:, 0], rtol=1e-6)
    np.testing.assert_allclose(table["atoms_std"], frame["atoms_std"], rtol=1e-6)
    # Domain and interval columns are there as for any model.
    assert {"nearest_train_similarity", "in_domain", "atoms_lower", "atoms_upper"} <= set(table)


def test_a_folder_without_a_choice_predicts_with_its_transformer_as_before(trained, tmp_path):
    from app.cli import main
    from core.models.apply import predict_library

    folder, _, _ = trained
    old = _with_choice(folder, tmp_path, None, None)
    assert fm.load_choice(old) is None
    transformer = _own_predictions(old)["transformer"]
    frame = predict_library(old, pd.Series(SMILES), device="cpu")
    np.testing.assert_array_equal(frame["atoms"].to_numpy(), transformer[:, 0])
    assert "atoms_std" not in frame  # one network: no spread column, as before
    source = tmp_path / "in.csv"
    pd.DataFrame({"smiles": SMILES}).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    assert main(["predict", str(old), str(source), "-o", str(output)]) == 0
    table = pd.read_csv(output)
    np.testing.assert_allclose(table["atoms"], transformer[:, 0], rtol=1e-12)
    assert "atoms_std" not in table


def test_a_malformed_choice_is_refused(trained, tmp_path):
    folder, _, _ = trained
    bad = _with_choice(folder, tmp_path, ["transformer", "rf"], [0.7, 0.7])
    with pytest.raises(ValueError, match="summing to 1"):
        fm.load_choice(bad)
    card = json.loads((bad / "card.json").read_text())
    card["chosen"] = {"families": ["gnn"], "weights": [1.0]}
    (bad / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="families"):
        fm.load_choice(bad)


def test_the_calibration_describes_the_chosen_predictor(trained):
    folder, _, _ = trained
    card = json.loads((folder / "card.json").read_text())
    calibration = card.get("calibration")
    assert calibration is not None
    if tuple(card["chosen"]["families"]) == ("transformer",):
        assert calibration["source"] == "rf_proxy"
    else:
        # The D-MPNN has no out-of-fold predictions: the forest's residuals stand in, said so;
        # a mix of forest and a crossfit-less transformer likewise.
        expected = "chosen_oof" if set(card["chosen"]["families"]) == {"rf"} else "rf_proxy"
        assert calibration["source"] == expected
        assert "chosen predictor" in calibration["method"]
        assert calibration["predictor"]


def test_the_calibration_plan_follows_the_chosen_families():
    """Own out-of-fold predictions when every chosen family has them; the forest's residuals as
    a stated proxy for a regression with a D-MPNN; nothing for such a classifier."""
    from types import SimpleNamespace

    from core.models.splits import Split
    from core.models.training import TrainSettings, _chosen_calibration_plan

    smiles = ["C" * (i % 7 + 1) + "O" * (i % 3) for i in range(30)]
    split = Split(np.arange(20), np.arange(20, 25), np.arange(25, 30))
    settings = TrainSettings(split="random")

    def plan(task, families, source=None):
        dataset = SimpleNamespace(smiles=smiles, task=task)
        choice = fm.FamilyChoice(families, (1 / len(families),) * len(families), "", "", "", {})
        return _chosen_calibration_plan(dataset, split, settings, choice, source, None)

    source, folds, note = plan("classification", ("rf",))
    assert source == "chosen_oof" and len(folds) == 20 and note == ""
    assert plan("regression", ("transformer", "rf"), "crossfit")[0] == "chosen_oof"
    assert plan("regression", ("transformer", "rf"), "rf_proxy")[0] == "rf_proxy"
    assert plan("regression", ("dmpnn",))[0] == "rf_proxy"
    source, _, note = plan("classification", ("transformer", "dmpnn"), "crossfit")
    assert source is None and "D-MPNN" in note
