"""``drugdesk score``: ranked hit lists from the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from core.ranking.desirability import Criterion, DesirabilityProfile, save_profile

INPUT = (
    "smiles,id,pIC50\n"
    "CC(=O)Oc1ccccc1C(=O)O,aspirin,5.1\n"
    "C1CCNCC1,piperidine,4.0\n"
    "C1CC,broken,6.0\n"
    "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(=O)O,greasy,7.5\n"
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C,caffeine,6.2\n"
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C,caffeine_again,6.2\n"
)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(INPUT)
    return path


def test_oral_ranking_csv(source, tmp_path, capsys):
    out = tmp_path / "hits.csv"
    assert main(["score", str(source), "--profile", "oral", "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns[:4]) == ["rank", "score", "name", "canonical_smiles"]
    for column in ("mw", "clogp", "hbd", "hba", "tpsa", "rotb"):
        assert column in table.columns
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert np.all(np.diff(table["score"]) <= 0)
    assert table["score"].between(0, 1).all()
    assert "broken" not in set(table["name"]) and "caffeine_again" not in set(table["name"])
    assert table["name"].iloc[-1] == "greasy"
    err = capsys.readouterr().err
    assert "invalid: broken" in err and "Ranked 4 of 6" in err


def test_custom_profile_top_and_html(source, tmp_path):
    profile = tmp_path / "potency.json"
    save_profile(DesirabilityProfile("potency", (Criterion("pIC50", good=7, bad=5),)), profile)
    out = tmp_path / "hits.html"
    assert (
        main(["score", str(source), "--profile", str(profile), "--top", "2", "--output", str(out)])
        == 0
    )
    text = out.read_text()
    assert text.index("greasy") < text.index("caffeine") and "aspirin" not in text
    csv = tmp_path / "hits.csv"
    assert (
        main(["score", str(source), "--profile", str(profile), "-o", str(csv), "--top", "2"]) == 0
    )
    assert list(pd.read_csv(csv)["name"]) == ["greasy", "caffeine"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--profile", "kinase"], "unknown profile preset"),
        (["--profile", "{bad}.json"], "cannot read profile"),
        (["--output", "x.pdf"], ".html"),
        (["--top", "0"], "--top"),
    ],
)
def test_bad_arguments_are_clear(source, tmp_path, capsys, arguments, message):
    args = ["score", str(source), "--output", str(tmp_path / "o.csv"), *arguments]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_profile_naming_a_missing_column(source, tmp_path, capsys):
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"criteria": [{"column": "logS", "good": -2, "bad": -6}]}))
    assert (
        main(["score", str(source), "--profile", str(profile), "-o", str(tmp_path / "o.csv")]) == 2
    )
    assert "logS" in capsys.readouterr().err
