"""The scoring job: pKa column on demand, cache reuse, duplicates, cancel, reports."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from core.chem.library import load_library
from core.jobs import JobCancelled
from core.ranking.desirability import Criterion, DesirabilityProfile, ProfileError
from core.ranking.presets import CNS_MPO, ORAL
from core.ranking.report import export_hit_list, hit_list_format
from core.ranking.scoring import ScoreCache, ScoringRequest, ranked, score_library

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
    import core.ranking.scoring as scoring

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


@pytest.mark.slow
def test_cancel_while_the_worker_predicts_stops_it_and_a_rerun_resumes(monkeypatch):
    import multiprocessing

    from core.models.registry import shipped_models
    from core.ranking import scoring

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1O", "CCN(CC)CC"]
    table = pd.DataFrame({"canonical_smiles": smiles, "valid": [True] * 3, "name": list("abc")})
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    request = ScoringRequest(profile, (folder,), device="cpu")
    cache = ScoreCache()
    asked: list[bool] = []
    stopped: list[bool] = []
    predict = scoring._ModelProcess.predict

    def predicting(self, directory, batch, is_cancelled=None):
        asked.append(True)  # the batch is sent to the worker, then cancelled
        try:
            return predict(self, directory, batch, is_cancelled)
        finally:
            # close(terminate=True) ran inside the call (it drops the process): the worker was
            # stopped mid-batch, its reply not waited for. Functional, not timed.
            stopped.append(self._process is None)

    monkeypatch.setattr(scoring._ModelProcess, "predict", predicting)
    with pytest.raises(JobCancelled):
        score_library(table, request, cache, is_cancelled=lambda: bool(asked))
    assert asked and stopped == [True]
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
    monkeypatch.setattr(scoring._ModelProcess, "predict", predict)
    result = score_library(table, request, cache)
    assert result.n_computed == 3 and np.isfinite(result.columns["Act"]).all()


@pytest.mark.slow
def test_the_model_worker_is_kept_between_scores_and_ends_on_shutdown():
    import multiprocessing

    from core.models.registry import shipped_models
    from core.ranking import scoring

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    table = pd.DataFrame({"canonical_smiles": ["CCO", "c1ccccc1O"], "valid": [True, True]})
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    request = ScoringRequest(profile, (folder,), device="cpu")
    first = score_library(table, request, ScoreCache())
    workers = [p.pid for p in multiprocessing.active_children()]
    second = score_library(table, request, ScoreCache())  # no cache: predicted again
    assert [p.pid for p in multiprocessing.active_children()] == workers and len(workers) == 1
    np.testing.assert_array_equal(first.columns["Act"], second.columns["Act"])
    scoring.shutdown_model_worker()
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.slow
def test_a_worker_that_dies_is_reported_and_replaced(monkeypatch):
    import os
    import signal

    from core.models.registry import shipped_models
    from core.ranking import scoring

    folder = next(e.path for e in shipped_models() if e.path.name == "potency-chembl2321810")
    table = pd.DataFrame({"canonical_smiles": ["CCO", "c1ccccc1O"], "valid": [True, True]})
    profile = DesirabilityProfile("potent", (Criterion("Act", good=7, bad=5),))
    request = ScoringRequest(profile, (folder,), device="cpu")
    predict = scoring._ModelProcess.predict

    def killed(self, directory, batch, is_cancelled=None):
        os.kill(self.pid, signal.SIGKILL)  # as the kernel does when memory runs out
        return predict(self, directory, batch, is_cancelled)

    monkeypatch.setattr(scoring._ModelProcess, "predict", killed)
    with pytest.raises(scoring.ModelWorkerError, match="out of memory"):
        score_library(table, request, ScoreCache())
    monkeypatch.setattr(scoring._ModelProcess, "predict", predict)
    result = score_library(table, request, ScoreCache())  # a new worker
    assert np.isfinite(result.columns["Act"]).all()


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path, library):
    with pytest.raises((ValueError, OSError)):
        score_library(library.table, ScoringRequest(ORAL, (tmp_path,)))
