"""Desirability functions, profiles, scoring and ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.hitlist.desirability import (
    Criterion,
    DesirabilityProfile,
    ProfileError,
    load_profile,
    rank_scores,
    save_profile,
    score_table,
)
from core.hitlist.presets import CNS_MPO, ORAL, preset


def test_logistic_passes_thresholds_and_midpoint():
    lower_better = Criterion("mw", good=450, bad=550)
    d = lower_better.desirability(np.array([450.0, 500.0, 550.0, 300.0, 900.0]))
    np.testing.assert_allclose(d[:3], [0.95, 0.5, 0.05], atol=1e-12)
    assert d[3] > 0.999 and d[4] < 1e-3
    higher_better = Criterion("qed", good=0.7, bad=0.3)
    np.testing.assert_allclose(
        higher_better.desirability(np.array([0.7, 0.5, 0.3])), [0.95, 0.5, 0.05]
    )


def test_uncertainty_pulls_towards_half_and_matches_expectation():
    criterion = Criterion("pic50", good=7, bad=5)
    mean = np.array([7.5, 7.5, 4.0])
    sure = criterion.desirability(mean, np.zeros(3))
    unsure = criterion.desirability(mean, np.array([2.0, 2.0, 2.0]))
    assert unsure[0] < sure[0] and unsure[2] > sure[2]
    # MacKay's approximation against a Monte Carlo expectation of the logistic.
    rng = np.random.default_rng(0)
    samples = rng.normal(7.5, 2.0, 400_000)
    expected = criterion.desirability(samples).mean()
    assert unsure[0] == pytest.approx(expected, abs=0.01)
    assert Criterion("pic50", good=7, bad=5, use_uncertainty=False).desirability(
        mean, np.full(3, 2.0)
    )[0] == pytest.approx(sure[0])


def test_piecewise_curve_is_flat_outside_and_linear_inside():
    tpsa = Criterion("tpsa", "piecewise", points=((20, 0), (40, 1), (90, 1), (120, 0)))
    np.testing.assert_allclose(
        tpsa.desirability(np.array([0, 20, 30, 60, 105, 120, 200, np.nan])),
        [0, 0, 0.5, 1, 0.5, 0, 0, np.nan],
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"good": 1, "bad": 1}, "must differ"),
        ({"good": "x", "bad": 1}, "'good' must be a number"),
        ({"good": 1, "bad": 2, "weight": 0}, "weight"),
        ({"shape": "piecewise", "points": ((1, 0),)}, "at least two points"),
        ({"shape": "piecewise", "points": ((2, 0), (1, 1))}, "must increase"),
        ({"shape": "piecewise", "points": ((1, 0), (2, 3))}, "in \\[0, 1\\]"),
        ({"shape": "sigmoid"}, "shape must be"),
    ],
)
def test_malformed_criteria_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ProfileError, match=message):
        Criterion("x", **kwargs)


def table():
    return pd.DataFrame(
        {
            "mw": [300.0, 480.0, 700.0, 350.0, np.nan],
            "clogp": [2.0, 4.5, 3.0, 2.0, 1.0],
            "valid": [True, True, True, False, True],
        }
    )


def test_geometric_mean_lets_one_bad_value_drag_the_score_down():
    profile = DesirabilityProfile(
        "t", (Criterion("mw", good=450, bad=550), Criterion("clogp", good=4, bad=6))
    )
    result = score_table(table(), profile)
    d_mw = Criterion("mw", good=450, bad=550).desirability(table()["mw"].to_numpy())
    d_logp = Criterion("clogp", good=4, bad=6).desirability(table()["clogp"].to_numpy())
    expected = np.sqrt(d_mw * d_logp)
    np.testing.assert_allclose(result.score[:3], expected[:3])
    assert math.isnan(result.score[3])  # invalid row
    assert math.isnan(result.score[4])  # missing MW
    assert result.score[2] < 0.01  # MW 700 alone sinks it although cLogP is fine
    assert list(result.rank) == [1, 2, 3, 0, 0]
    assert result.unscored == 2
    assert list(result.desirabilities.columns) == ["d_mw", "d_clogp"]


def test_weights_and_arithmetic_combination():
    profile = DesirabilityProfile(
        "t",
        (Criterion("mw", good=450, bad=550, weight=3), Criterion("clogp", good=4, bad=6)),
        combine="arithmetic",
    )
    frame = table()
    result = score_table(frame, profile)
    d_mw = Criterion("mw", good=450, bad=550).desirability(frame["mw"].to_numpy())
    d_logp = Criterion("clogp", good=4, bad=6).desirability(frame["clogp"].to_numpy())
    np.testing.assert_allclose(result.score[:3], (0.75 * d_mw + 0.25 * d_logp)[:3])


def test_std_column_is_used_when_present():
    frame = pd.DataFrame({"pic50": [7.5, 7.5], "pic50_std": [0.0, 2.0]})
    result = score_table(frame, DesirabilityProfile("p", (Criterion("pic50", good=7, bad=5),)))
    assert result.score[0] > result.score[1]
    assert list(result.rank) == [1, 2]


def test_missing_column_is_named():
    profile = DesirabilityProfile("needs", (Criterion("solubility", good=1, bad=0),))
    with pytest.raises(ProfileError, match="solubility"):
        score_table(table(), profile)


def test_rank_ties_keep_input_order():
    assert list(rank_scores(np.array([0.5, 0.9, 0.5, np.nan, 0.9]))) == [3, 1, 4, 0, 2]


def test_profile_json_round_trip(tmp_path):
    for profile in (ORAL, CNS_MPO):
        path = save_profile(profile, tmp_path / "p.json")
        assert load_profile(path) == profile


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"name": "x"}', "non-empty 'criteria'"),
        ('{"criteria": [{"column": "mw", "good": 1}]}', "'bad' must be a number"),
        ('{"criteria": [{"column": "mw", "good": 1, "bad": 2, "colour": 3}]}', "unknown keys"),
        ('{"criteria": [{"column": "mw", "shape": "piecewise", "points": [1, 2]}]}', "pairs"),
    ],
)
def test_malformed_profile_files_give_clear_messages(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.json")


def test_oral_preset_limits_score_half():
    at_limits = pd.DataFrame(
        {"mw": [500.0], "clogp": [5.0], "hbd": [5], "hba": [10], "tpsa": [140.0], "rotb": [10]}
    )
    result = score_table(at_limits, ORAL)
    np.testing.assert_allclose(result.desirabilities.iloc[0].to_numpy(), 0.5)
    assert result.score[0] == pytest.approx(0.5)


def test_cns_mpo_matches_the_published_definition():
    # Wager 2010 scores, by hand: ClogP 4 -> 0.5; ClogD (= cLogP here) 4 -> 0; MW 430 -> 0.5;
    # TPSA 30 -> 0.5; HBD 2 -> 0.5; pKa 9 -> 0.5. Sum 2.5 of 6.
    row = pd.DataFrame(
        {"clogp": [4.0], "mw": [430.0], "tpsa": [30.0], "hbd": [2], "basic_pka": [9.0]}
    )
    assert score_table(row, CNS_MPO).score[0] * 6 == pytest.approx(2.5)
    no_base = row.assign(basic_pka=[np.nan])
    assert score_table(no_base, CNS_MPO).score[0] * 6 == pytest.approx(3.0)


def test_unknown_preset():
    assert preset("oral") is ORAL
    with pytest.raises(ProfileError, match="oral, cns"):
        preset("kinase")


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    import errno
    import os

    import core.hitlist.desirability as module

    path = save_profile(ORAL, tmp_path / "p.json")
    before = path.read_text()

    def full_disk(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(module.os, "replace", full_disk)
    with pytest.raises(ProfileError, match=r"p\.json: no space left on device$"):
        save_profile(CNS_MPO, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # no temporary file left behind
