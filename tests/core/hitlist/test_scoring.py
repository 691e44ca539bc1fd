"""The scoring job: pKa column on demand, cache reuse, duplicates, cancel, reports."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from core.chem.library import load_library
from core.hitlist.desirability import Criterion, DesirabilityProfile, ProfileError
from core.hitlist.presets import CNS_MPO, ORAL
from core.hitlist.report import export_hit_list, hit_list_format
from core.hitlist.scoring import ScoreCache, ScoringRequest, ranked, score_library
from core.jobs import JobCancelled
from core.modelhost import ModelHost

SMILES = (
    "CC(=O)Oc1ccccc1C(=O)O aspirin\n"
    "C1CCNCC1 piperidine\n"
    "CC(=O)Oc1ccccc1C(=O)O aspirin_again\n"
    "C1CC broken\n"
    "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(=O)O greasy\n"
    "=cmd|calc evil\n"
)


@pytest.fixture
def library(write_text):
    return load_library(write_text("lib.smi", SMILES))


def test_oral_scores_rank_and_skip_invalid_and_repeats(library):
    result = score_library(library.table, ScoringRequest(ORAL))
    columns = result.columns
    assert list(columns.index) == list(library.table.index)
    rank = dict(zip(library.table["name"], columns["rank"], strict=True))
    assert rank["broken"] == 0 and rank["evil"] == 0  # invalid
    assert rank["aspirin_again"] == 0  # a repeat of aspirin
    assert sorted(v for v in rank.values() if v) == [1, 2, 3]
    assert rank["greasy"] == 3  # cLogP far above 5
    assert result.n_duplicates == 1 and result.n_unscored == 2
    assert math.isclose(columns["score"][0], columns["score"][2])  # same molecule, same score


def test_cns_adds_pka_once_and_the_cache_is_reused(library, monkeypatch):
    cache = ScoreCache()
    first = score_library(library.table, ScoringRequest(CNS_MPO), cache)
    assert "basic_pka" in first.columns
    pka = dict(zip(library.table["name"], first.columns["basic_pka"], strict=True))
    assert pka["piperidine"] == pytest.approx(10.5)
    assert math.isnan(pka["aspirin"])
    assert first.n_computed == 3  # unique valid molecules
    second = score_library(library.table, ScoringRequest(CNS_MPO), cache)
    assert second.n_computed == 0
    pd.testing.assert_frame_equal(first.columns, second.columns)


def test_cancel_keeps_what_was_computed_and_a_rerun_resumes(library, monkeypatch):
    import core.hitlist.scoring as scoring

    monkeypatch.setattr(scoring, "BATCH", 1)
    cache = ScoreCache()
    checks = iter([False, False, True])  # stop before the third molecule
    with pytest.raises(JobCancelled):
        score_library(
            library.table, ScoringRequest(CNS_MPO), cache, is_cancelled=lambda: next(checks, True)
        )
    assert len(cache) == 2
    resumed = score_library(library.table, ScoringRequest(CNS_MPO), cache)
    assert resumed.n_computed == 1


def test_profile_with_a_missing_column_is_refused(library):
    profile = DesirabilityProfile("p", (Criterion("solubility", good=-2, bad=-6),))
    with pytest.raises(ProfileError, match="solubility"):
        score_library(library.table, ScoringRequest(profile))


def test_hit_list_files(library, tmp_path):
    result = score_library(library.table, ScoringRequest(ORAL))
    table = ranked(library.table.join(result.columns))
    html_path = export_hit_list(table, tmp_path / "hits.html", ORAL, title="Test <hits>")
    text = html_path.read_text()
    assert "Test &lt;hits&gt;" in text and "<svg" in text
    assert "Oral drug-likeness" in text and "MW ≤ 500" in text
    assert text.index("aspirin") < text.index("greasy")
    xlsx = export_hit_list(table, tmp_path / "hits.xlsx", ORAL)
    sheet = load_workbook(xlsx).active
    assert sheet["A1"].value == "Structure"
    assert len(sheet._images) == len(table)
    header = [c.value for c in sheet[1]]
    assert header[1] == "name" or "rank" in header
    with pytest.raises(ValueError, match=r"\.html"):
        hit_list_format(tmp_path / "hits.pdf")


@pytest.mark.slow
def test_models_predict_in_a_worker_process_with_the_same_values():
    from core.models.registry import shipped_models
    from core.models.transformer import load_model, predict

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "N#Cc1cc(ccc1Oc1ccccc1)S(=O)(=O)Nc1nccs1", "C1CC"]
    table = pd.DataFrame(
        {"canonical_smiles": smiles, "valid": [True, True, False], "name": ["a", "b", "c"]}
    )
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    result = score_library(table, ScoringRequest(profile, (folder,), device="cpu"))
    expected = predict(load_model(folder, device="cpu"), smiles[:2], device="cpu")
    np.testing.assert_allclose(result.columns["Act"][:2], expected.mean[:, 0], rtol=1e-5)
    np.testing.assert_allclose(result.columns["Act_std"][:2], expected.std[:, 0], rtol=1e-4)
    assert math.isnan(result.columns["Act"][2])
    assert result.model_cards and result.model_cards[0]["task"] == "regression"
    assert list(result.columns["rank"]) in ([1, 2, 0], [2, 1, 0])


class RecordingHost(ModelHost):
    """A model host that notes which jobs it was asked to run."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.asked: list[str] = []

    def run(self, fn, *args, **kwargs):
        self.asked.append(fn.__name__)
        return super().run(fn, *args, **kwargs)


@pytest.mark.slow
def test_cancel_while_the_host_predicts_stops_the_job_not_the_host():
    from core.models.registry import shipped_models

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1O", "CCN(CC)CC"]
    table = pd.DataFrame({"canonical_smiles": smiles, "valid": [True] * 3, "name": list("abc")})
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    request = ScoringRequest(profile, (folder,), device="cpu")
    cache = ScoreCache()
    host = RecordingHost()
    try:
        with pytest.raises(JobCancelled):
            # Cancelled once the batch is on its way to the host.
            score_library(
                table,
                request,
                cache,
                model_host=host,
                is_cancelled=lambda: "predict_batch" in host.asked,
            )
        assert "predict_batch" in host.asked
        pid = host.pid
        assert pid is not None  # the host lives on, with its model loaded
        kept = len(cache)
        result = score_library(table, request, cache, model_host=host)
        assert result.n_computed == 3 - kept and np.isfinite(result.columns["Act"]).all()
        assert host.pid == pid
    finally:
        host.close()


@pytest.mark.slow
def test_the_shared_host_is_kept_between_scores_and_ends_when_closed():
    import multiprocessing

    from core.modelhost import close_shared_host, shared_host
    from core.models.registry import shipped_models

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    table = pd.DataFrame({"canonical_smiles": ["CCO", "c1ccccc1O"], "valid": [True, True]})
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    request = ScoringRequest(profile, (folder,), device="cpu")
    first = score_library(table, request, ScoreCache())
    pid = shared_host().pid
    assert pid is not None and [p.pid for p in multiprocessing.active_children()] == [pid]
    second = score_library(table, request, ScoreCache())  # no cache: predicted again
    assert shared_host().pid == pid
    np.testing.assert_array_equal(first.columns["Act"], second.columns["Act"])
    close_shared_host()
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.slow
def test_a_host_that_dies_is_reported_and_replaced():
    import os
    import signal

    from core.modelhost import ModelHostCrashed
    from core.models.registry import shipped_models

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    table = pd.DataFrame({"canonical_smiles": ["CCO", "c1ccccc1O"], "valid": [True, True]})
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    request = ScoringRequest(profile, (folder,), device="cpu")
    killed: list[int] = []
    host = RecordingHost()

    def kill_once() -> bool:
        # Polled while the host predicts: the worker dies in the middle of the job, as when the
        # kernel's out-of-memory killer picks it.
        if "predict_batch" in host.asked and not killed:
            killed.append(host.pid)
            os.kill(host.pid, signal.SIGKILL)
        return False

    try:
        with pytest.raises(ModelHostCrashed, match="out of memory"):
            score_library(table, request, ScoreCache(), model_host=host, is_cancelled=kill_once)
        result = score_library(table, request, ScoreCache(), model_host=host)  # a new worker
        assert np.isfinite(result.columns["Act"]).all()
        assert host.pid != killed[0]
    finally:
        host.close()


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path, library):
    with pytest.raises((ValueError, OSError)):
        score_library(library.table, ScoringRequest(ORAL, (tmp_path,)))
