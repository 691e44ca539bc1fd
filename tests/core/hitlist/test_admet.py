"""admet-ai endpoints: aligned by SMILES, equal to the package called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.hitlist.admet import admet_frame, column_notes, endpoints, predict_admet
from core.hitlist.desirability import Criterion, DesirabilityProfile
from core.hitlist.scoring import ScoringRequest, score_library

pytest.importorskip("admet_ai")

SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "", "not a smiles", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"]


def test_endpoints_are_the_41_models_with_descriptions():
    points = endpoints()
    assert len(points) == 41
    assert {p.task for p in points} == {"classification", "regression"}
    notes = column_notes()
    assert "Human Intestinal Absorption" in notes["admet_HIA_Hou"]
    assert "approved drugs" in notes["admet_HIA_Hou_pct"]


@pytest.mark.slow
def test_predictions_match_admet_ai_and_skip_unreadable_rows():
    from admet_ai import ADMETModel

    values = predict_admet(SMILES)
    frame = admet_frame(values, pd.RangeIndex(len(SMILES)))
    assert frame.iloc[1:3].isna().all().all()
    direct = ADMETModel(num_workers=0).predict(smiles=[SMILES[0], SMILES[3]])
    for endpoint in endpoints():
        np.testing.assert_allclose(
            frame[endpoint.column].iloc[[0, 3]], direct[endpoint.id], rtol=1e-6
        )
        percentiles = frame[endpoint.percentile_column].iloc[[0, 3]]
        assert percentiles.between(0, 100).all()
    # A profile can rank on an ADMET endpoint: low hERG blocking probability is good.
    table = pd.DataFrame({"canonical_smiles": [SMILES[0], SMILES[3]], "valid": [True, True]})
    profile = DesirabilityProfile("safe", (Criterion("admet_hERG", good=0.2, bad=0.6),))
    result = score_library(table, ScoringRequest(profile, admet=True))
    assert result.columns["rank"].tolist() in ([1, 2], [2, 1])
