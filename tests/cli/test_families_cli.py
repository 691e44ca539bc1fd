"""``drugdesk train --families``: which model families are fitted and chosen among; unknown names,
a list without the transformer and a D-MPNN epoch count below 1 are usage errors (exit 2) before
anything is read or written."""

from __future__ import annotations

import pandas as pd
import pytest

from app.cli import main


@pytest.fixture
def assay(tmp_path):
    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"], "y": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--families", "transformer,gnn"], "unknown model family 'gnn'"),
        (["--families", "dmpnn,rf"], "must include transformer"),
        (["--families", ""], "comma-separated"),
        (["--dmpnn-epochs", "0"], "--dmpnn-epochs must be at least 1"),
    ],
)
def test_bad_families_are_usage_errors(assay, tmp_path, capsys, extra, message):
    output = tmp_path / "model"
    args = ["train", str(assay), "--target-col", "y", "--task", "regression", "-o", str(output)]
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main([*args, *extra]))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_train_help_names_the_families(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--families" in out and "dmpnn" in out and "validation" in out


@pytest.mark.usefixtures("one_torch_thread")
def test_train_prints_every_family_and_the_choice(tmp_path, capsys, tiny_pretrained, tiny_smiles):
    import json

    from rdkit import Chem

    path = tmp_path / "atoms.csv"
    counts = [Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in tiny_smiles]
    pd.DataFrame({"smiles": tiny_smiles, "atoms": counts}).to_csv(path, index=False)
    output = tmp_path / "model"
    args = ["train", str(path), "--target-col", "atoms", "--task", "regression", "--units", "p"]
    args += ["--split", "random", "--epochs", "1", "--batch-size", "16", "-o", str(output)]
    args += ["--pretrained", str(tiny_pretrained), "--families", "transformer,rf"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary["test"]) == {"transformer", "rf_ecfp4", "chosen"}
    assert set(summary["chosen"]["families"]) <= {"transformer", "rf"}
    assert not (output / "dmpnn").exists()  # not asked for
    card = json.loads((output / "card.json").read_text())
    assert card["chosen"] == summary["chosen"]
