"""``core.hitlist.cluster_score`` without a cluster: parts scored on their own and joined give the
single-machine library (columns, dtypes, duplicates across parts, input columns typed over the
whole file) and the values the model gives the whole table; scoring the joined parts loads no
model here. A real ``local:2`` cluster is tested in tests/cli/test_score_cluster.py."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from core.chem.library import LoadOptions, load_library
from core.chem.readers import ReadOptions, iter_record_chunks
from core.chem.standardize import StandardizeOptions
from core.hitlist import cluster_score
from core.hitlist.cluster_score import INPUT_PREFIX, PartTally, _join, score_part
from core.hitlist.presets import preset
from core.hitlist.scoring import ScoringRequest, prediction_values, score_library
from core.models import transformer as tf

TRAIN = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "OCCO", "CCBr"] * 2

# Row 4 repeats row 0 written otherwise (a duplicate across the parts cut below); "assay" is
# numeric in the first part only (text in the whole file); "batch" is numeric throughout.
TABLE = (
    "smiles,id,assay,batch\n"
    "CC(=O)Oc1ccccc1C(=O)O,aspirin,5.1,1\n"
    "C1CCNCC1,piperidine,4.0,2\n"
    "C1CC,broken,6.0,3\n"
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C,caffeine,,4\n"
    "O=C(O)c1ccccc1OC(C)=O,aspirin_again,n.d.,5\n"
    "c1ccccc1O,phenol,7.2,6\n"
    "CCO,ethanol,>10,7\n"
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, make_tiny_regression_model):
    return make_tiny_regression_model(tmp_path_factory.mktemp("cluster_score"), TRAIN)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(TABLE)
    return path


def _parts(source, model_dir, cuts=(2, 4)):
    records = [r for chunk in iter_record_chunks(source, ReadOptions()) for r in chunk]
    bounds = [0, *cuts, len(records)]
    done = [
        score_part(records[a:b], StandardizeOptions(), (str(model_dir),), False, "cpu")
        for a, b in itertools.pairwise(bounds)
    ]
    return [table for table, _ in done], [tally for _, tally in done]


def test_joined_parts_are_the_single_machine_library_with_the_models_values(source, model_dir):
    frames, tallies = _parts(source, model_dir)
    assert torch.get_num_threads() == 1  # one torch thread per worker
    assert [t.input_columns for t in tallies] == [("assay", "batch")] * 3
    kind, card, members = tallies[0].described[0]
    assert kind == tf.FINETUNED_KIND and card["target_names"] == ["logS"] and members >= 1
    assert all(INPUT_PREFIX + "assay" in f.columns for f in frames)
    request = ScoringRequest(preset("oral"), (model_dir,))
    library, cache, described = _join(frames, tallies, source.resolve(), request)
    single = load_library(source, LoadOptions(workers=1))
    pd.testing.assert_frame_equal(library.table, single.table, check_exact=True)
    assert library.extra_columns == single.extra_columns == ["assay", "batch"]
    assert library.table["duplicate_of"].tolist()[4] == "aspirin"  # across parts
    assert library.table["assay"].dtype == object and library.table["batch"].dtype == np.float64
    # The cache holds, for every valid molecule, what the model gives the whole table.
    whole, _, _ = prediction_values(single.table, (model_dir,), False, device="cpu")
    (source_name,) = [s for s in cache._values if s.startswith("model:")]
    valid = single.table["valid"].to_numpy()
    for smiles, row in zip(single.table["canonical_smiles"][valid], whole[0][valid], strict=True):
        np.testing.assert_allclose(cache.get(source_name)[smiles], row, rtol=1e-6)
    assert described == {str(model_dir): tallies[0].described[0]}


def test_scoring_the_joined_parts_loads_no_model_here(source, model_dir, monkeypatch):
    frames, tallies = _parts(source, model_dir, cuts=(3,))
    request = ScoringRequest(preset("oral"), (model_dir,))
    library, cache, described = _join(frames, tallies, source.resolve(), request)

    def no_host(*_args, **_kwargs):
        raise AssertionError("the model host was started")

    monkeypatch.setattr("core.modelhost.shared_host", no_host)
    result = score_library(library.table, request, cache, described=described)
    assert result.n_computed == 0
    assert result.model_cards[0]["target_names"] == ["logS"]
    assert np.isfinite(result.columns["logS"].to_numpy()[library.table["valid"]]).all()
    assert result.n_duplicates == 1 and (result.columns["rank"] > 0).sum() == 5


def test_a_part_without_models_has_no_values_and_loads_no_torch_model(source, monkeypatch):
    monkeypatch.setattr(cluster_score, "_MODELS", None)
    records = [r for chunk in iter_record_chunks(source, ReadOptions()) for r in chunk]
    table, tally = score_part(records, StandardizeOptions(), (), False, "auto")
    assert tally == PartTally(("assay", "batch"), ())
    assert not [c for c in table.columns if c.startswith("value:")]
    assert cluster_score._MODELS is None
