"""``drugdesk score``: ranked hit lists from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from core.hitlist.desirability import Criterion, DesirabilityProfile, save_profile

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_inputs"

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
    assert list(table.columns[:6]) == [
        "rank",
        "score",
        "name",
        "canonical_smiles",
        "duplicate_of",
        "problem",
    ]
    for column in ("mw", "clogp", "hbd", "hba", "tpsa", "rotb"):
        assert column in table.columns
    assert len(table) == 6  # every input row
    ranked = table[table["rank"].notna()]
    assert list(ranked["rank"]) == [1, 2, 3, 4]
    assert np.all(np.diff(ranked["score"]) <= 0)
    assert ranked["score"].between(0, 1).all()
    assert ranked["name"].iloc[-1] == "greasy"
    assert table["name"].tolist()[4:] == ["caffeine_again", "broken"]
    err = capsys.readouterr().err
    assert "invalid: broken" in err and "Ranked 4 of 6" in err


def test_every_row_is_written_ranked_then_repeats_then_invalid(tmp_path):
    # 5 unique valid molecules, 2 repeats written otherwise (same InChIKey), 1 invalid SMILES.
    source = CORPUS / "tables" / "score_repeats_and_invalid.csv"
    out = tmp_path / "all.csv"
    args = ["score", str(source), "--profile", "oral", "--workers", "1"]
    assert main([*args, "-o", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 8
    # Ranked rows first (1..5, best first), then the repeats in input order, then invalid rows.
    assert table["rank"].tolist() == ["1", "2", "3", "4", "5", "", "", ""]
    assert set(table["name"][:5]) == {"aspirin", "piperidine", "caffeine", "ethanol", "phenol"}
    assert table["name"].tolist()[5:] == ["aspirin_again", "ethanol_again", "broken"]
    assert table["duplicate_of"].tolist()[5:] == ["aspirin", "ethanol", ""]
    assert (table["duplicate_of"][:5] == "").all() and (table["problem"][:5] == "").all()
    assert table["problem"].tolist()[5:7] == ["repeats aspirin", "repeats ethanol"]
    assert "SMILES" in table["problem"].iloc[7]  # the reason it is invalid
    # A repeat carries its first copy's computed values to the last digit, and its own inputs.
    by_name = table.set_index("name")
    for copy, first in (("aspirin_again", "aspirin"), ("ethanol_again", "ethanol")):
        for column in ("score", "mw", "clogp", "tpsa", "qed", "canonical_smiles", "inchikey"):
            assert by_name.loc[copy, column] == by_name.loc[first, column], column
    assert by_name.loc["aspirin_again", "pIC50"] == 5.2
    assert by_name.loc["aspirin_again", "smiles"] == "OC(=O)c1ccccc1OC(C)=O"
    assert by_name.loc["broken", "score"] == "" and by_name.loc["broken", "mw"] == ""

    short = tmp_path / "ranked.csv"
    assert main([*args, "--ranked-only", "-o", str(short)]) == 0
    ranked = pd.read_csv(short)
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]
    assert ranked["name"].tolist() == table["name"].tolist()[:5]
    top = tmp_path / "top.csv"
    assert main([*args, "--top", "2", "-o", str(top)]) == 0
    assert pd.read_csv(top)["name"].tolist() == table["name"].tolist()[:2]


def test_valid_rows_without_a_value_are_kept_with_the_reason(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("smiles,id,pIC50\nCCO,a,5\nCCN,b,\nC1CC,c,6\nCCCl,d,7\n")
    profile = tmp_path / "potency.json"
    save_profile(DesirabilityProfile("potency", (Criterion("pIC50", good=7, bad=5),)), profile)
    out = tmp_path / "o.csv"
    args = ["score", str(source), "--profile", str(profile), "--workers", "1", "-o", str(out)]
    assert main(args) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["name"].tolist() == ["d", "a", "b", "c"]
    assert table["rank"].tolist() == ["1", "2", "", ""]
    assert table["problem"].tolist()[2] == "no value for pIC50"


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
        (["--output", "x.pdf"], ".html"),
        (["--top", "0"], "--top"),
        (["--top", "two"], "invalid int value"),
        (["--workers", "-1"], "--workers"),
        (["--admet", "yes"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2_in_one_line(source, tmp_path, capsys, arguments, message):
    args = ["score", str(source), "--output", str(tmp_path / "o.csv"), *arguments]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("drugdesk score: error: ")
    assert not (tmp_path / "o.csv").exists()


def test_output_over_the_input_is_refused(source, capsys):
    before = source.read_text()
    assert main(["score", str(source), "--output", str(source)]) == 2
    assert "input file" in capsys.readouterr().err
    assert source.read_text() == before


def test_data_errors_exit_1(source, tmp_path, capsys):
    out = str(tmp_path / "o.csv")
    assert main(["score", str(source), "--profile", str(tmp_path / "{bad}.json"), "-o", out]) == 1
    assert "cannot read profile" in capsys.readouterr().err
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"criteria": [{"column": "logS", "good": -2, "bad": -6}]}))
    assert main(["score", str(source), "--profile", str(profile), "-o", out]) == 1
    assert "logS" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "missing.csv"), "-o", out]) == 1
    assert "missing.csv" in capsys.readouterr().err


def test_precision_bfloat16_predicts_close_to_float32(source, tmp_path):
    model = Path(__file__).resolve().parents[2] / "resources/models/potency-chembl2321810"
    tables = {}
    for precision in ("float32", "bfloat16"):
        out = tmp_path / f"{precision}.csv"
        arguments = ["score", str(source), "--model", str(model), "--output", str(out)]
        assert main([*arguments, "--precision", precision]) == 0
        tables[precision] = pd.read_csv(out).set_index("name")
    exact, fast = tables["float32"]["Act"], tables["bfloat16"]["Act"].loc[tables["float32"].index]
    assert exact.notna().sum() == 5  # every valid row, the repeat too
    assert (exact - fast).abs().max() < 0.05
    assert not exact.equals(fast), "bf16 is another computation, not float32's cached values"


def test_an_unknown_precision_is_a_usage_error(source, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["score", str(source), "--output", str(out), "--precision", "fp16"]) == 2
    assert "fp16" in capsys.readouterr().err and not out.exists()
