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
