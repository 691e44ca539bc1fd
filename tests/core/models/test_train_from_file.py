"""train_from_file reads the table as the form's record showed it: the units choice reaches the
reader, so bare nM numbers are trained on as pIC50."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.models import training


def test_units_choice_reaches_the_reader(tmp_path, monkeypatch, tiny_smiles):
    values_nm = np.geomspace(1, 10_000, len(tiny_smiles))
    path = tmp_path / "assay.csv"
    pd.DataFrame({"smiles": tiny_smiles, "IC50": values_nm}).to_csv(path, index=False)
    seen = {}

    def fake_train(dataset, output_dir, settings, pretrained_dir, **kwargs):
        seen["dataset"] = dataset
        return training.TrainReport(output_dir, {}, pd.DataFrame(), [])

    monkeypatch.setattr(training, "train_and_evaluate", fake_train)
    training.train_from_file(path, "smiles", ["IC50"], "regression", tmp_path / "out", units="nM")
    dataset = seen["dataset"]
    assert list(dataset.target_names) == ["pIC50"]
    order = np.argsort(values_nm)
    expected = 9 - np.log10(values_nm)
    # Rows keep their order unless replicates merged; tiny_smiles are distinct molecules.
    np.testing.assert_allclose(np.sort(dataset.targets[:, 0]), np.sort(expected))
    assert dataset.targets[:, 0].max() == np.float64(expected[order[0]])
