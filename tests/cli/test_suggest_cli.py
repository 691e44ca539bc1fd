"""``drugdesk suggest``: picks from a potency forest (RDKit's CHEMBL2321810 data), the shipped
transformer ensemble through the model host, and one-line errors with the documented exit codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdkit
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from app.cli import main
from core.models.baselines import fit_baseline, save_baseline

DATA = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"


@pytest.fixture(scope="module")
def potency() -> pd.DataFrame:
    smiles = pd.read_csv(
        DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    return smiles.merge(pd.read_csv(DATA / "CHEMBL2321810_act.csv"), on="Name")


@pytest.fixture(scope="module")
def files(potency, tmp_path_factory) -> dict[str, Path]:
    """A forest fitted on 80 measured molecules, those measurements, and 120 candidates."""
    folder = tmp_path_factory.mktemp("suggest")
    order = np.random.default_rng(0).permutation(len(potency))
    measured = potency.iloc[order[:80]]
    library = potency.iloc[order[80:200]]
    model = fit_baseline(
        list(measured["smiles"]), measured["Act"].to_numpy(), "regression",
        target_names=["Act"], n_trees=40, seed=0,
    )  # fmt: skip
    save_baseline(model, folder / "forest")
    measured.to_csv(folder / "measured.csv", index=False)
    library[["smiles", "Name"]].to_csv(folder / "library.csv", index=False)
    return {
        "forest": folder / "forest",
        "measured": folder / "measured.csv",
        "library": folder / "library.csv",
        "folder": folder,
    }


def _run(capsys, *args: object) -> tuple[int, str]:
    code = main(["suggest", *map(str, args)])
    return code, capsys.readouterr().err


def test_picks_a_diverse_batch_from_a_forest(files, potency, capsys, tmp_path):
    out = tmp_path / "picks.csv"
    code, err = _run(
        capsys, files["forest"], files["library"], "--n", 8, "--measured", files["measured"],
        "--batch-diversity", 0.35, "--output", out,
    )  # fmt: skip
    assert code == 0, err
    picks = pd.read_csv(out)
    assert len(picks) == 8 and picks["suggest_rank"].tolist() == list(range(1, 9))
    library = pd.read_csv(files["library"])
    assert picks["name"].tolist() == library["Name"].iloc[picks["row"]].tolist()
    assert not set(picks["smiles"]) & set(pd.read_csv(files["measured"])["smiles"])
    best = pd.read_csv(files["measured"])["Act"].max()
    assert all(f"the best known {best:.2f}" in why for why in picks["why"])
    # Every two picks at least 0.35 apart, as RDKit counts Tanimoto on ECFP4.
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in picks["smiles"]]
    for i in range(len(fps)):
        assert max(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]) or [0]) <= 0.65 + 1e-9
    assert (
        f"8 picks of 120 candidates by expected improvement over the best known Act {best:.3g}"
        in err
    )
    assert f"wrote {out}" in err


def test_ucb_needs_no_measurements_and_minimize_turns_the_bound(files, capsys, tmp_path):
    out = tmp_path / "low.csv"
    code, err = _run(
        capsys, files["forest"], files["library"], "--n", 5, "--strategy", "ucb",
        "--objective", "minimize", "--batch-diversity", 0, "--kappa", 1, "--output", out,
    )  # fmt: skip
    assert code == 0, err
    picks = pd.read_csv(out)
    np.testing.assert_allclose(picks["acquisition"], picks["predicted"] - picks["std"])
    assert picks["acquisition"].is_monotonic_increasing  # the lowest bound first
    assert "optimistic lower bound" in picks["why"].iat[0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--n", "0"], "--n must be at least 1, not 0"),
        (["--batch-diversity", "1.5"], "--batch-diversity is a Tanimoto distance"),
        (["--kappa", "-1"], "--kappa must be 0 or more"),
        (["--best-known", "nan"], "--best-known must be a number"),
        (["--objective", "largest"], "invalid choice: 'largest'"),
    ],
)
def test_wrong_options_are_usage_errors(files, capsys, tmp_path, options, message):
    code, err = _run(
        capsys, files["forest"], files["library"], *options, "--output", tmp_path / "o.csv"
    )
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o.csv").exists()


def test_an_output_the_library_or_an_unknown_format_is_refused(files, capsys, tmp_path):
    code, err = _run(capsys, files["forest"], files["library"], "--output", files["library"])
    assert code == 2 and "suggest: error:" in err
    code, err = _run(capsys, files["forest"], files["library"], "--output", tmp_path / "o.xyz")
    assert code == 2 and "choose .csv" in err


def test_data_errors_exit_1_with_one_line(files, capsys, tmp_path):
    out = tmp_path / "o.csv"
    code, err = _run(capsys, files["forest"], files["library"], "--output", out)
    assert code == 1
    assert "keeps no measured values to improve on: give --best-known VALUE" in err
    code, err = _run(capsys, tmp_path / "nothing", files["library"], "--output", out)
    assert code == 1 and "no such model folder" in err
    code, err = _run(
        capsys, files["forest"], files["library"], "--target", "pIC50", "--best-known", "8",
        "--output", out,
    )  # fmt: skip
    assert code == 1 and "has no target 'pIC50'; its targets: Act" in err
    code, err = _run(
        capsys, files["forest"], tmp_path / "missing.csv", "--best-known", "8", "--output", out
    )
    assert code == 1 and "missing.csv" in err
    assert not out.exists() and all(line.startswith("drugdesk suggest: error:") for line in
                                    err.strip().splitlines())  # fmt: skip


def test_the_shipped_ensemble_suggests_through_the_model_host(potency, capsys, tmp_path):
    """The potency transformer (three members: a spread) predicts in the model host's process;
    the best known value is its held-out measurements'."""
    library = tmp_path / "candidates.csv"
    potency.iloc[:40][["smiles", "Name"]].to_csv(library, index=False)
    model = Path(__file__).parents[2] / "resources" / "models" / "potency-chembl2321810"
    heldout = pd.read_csv(model / "heldout_predictions.csv")
    out = tmp_path / "next.csv"
    code, err = _run(capsys, model, library, "--n", 4, "--output", out)
    assert code == 0, err
    picks = pd.read_csv(out)
    assert len(picks) == 4 and (picks["std"] > 0).all()
    best = heldout["measured"].max()
    assert f"best known Act {best:.3g} (held-out measurements" in err
    assert "transformer ensemble of 3" in err
