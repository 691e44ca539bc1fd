"""``power`` and ``km`` commands: JSON and CSV outputs checked against statsmodels and lifelines."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from statsmodels.stats.power import TTestIndPower

from app.cli import main
from core.trials.data import demo_path


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_power_binary_continuous_survival(capsys):
    assert main(["power", "--endpoint", "binary", "--p1", "0.5", "--p2", "0.3"]) == 0
    binary = _json(capsys)
    assert binary["n_per_arm"] == [93, 93] and binary["total"] == 186 and "events" not in binary

    assert (
        main(["power", "--endpoint", "continuous", "--delta", "5", "--sd", "10", "--ratio", "2"])
        == 0
    )
    continuous = _json(capsys)
    n1 = TTestIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8, ratio=2)
    assert continuous["n_per_arm"][0] == int(-(-n1 // 1))

    args = ["power", "--endpoint", "survival", "--hr", "0.7", "--median-control", "12"]
    assert main([*args, "--accrual", "24", "--follow-up", "12", "--power", "0.8"]) == 0
    survival = _json(capsys)
    assert survival["events"] == 247 and survival["n_per_arm"] == [185, 185]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "binary", "--p1", "0.5", "--p2", "1.3"], "p2 must be a proportion"),
        (["--endpoint", "binary", "--p1", "0.5", "--p2", "0.3", "--power", "1"], "power"),
        (["--endpoint", "binary", "--p1", "0.5", "--p2", "0.3", "--alpha", "0"], "alpha"),
        (["--endpoint", "survival"], "needs --hr"),
        (["--endpoint", "survival", "--hr", "1"], "no effect"),
        (
            ["--endpoint", "survival", "--hr", "0.7", "--median-control", "12"],
            "--accrual, --follow-up missing",
        ),
    ],
)
def test_power_bad_input_is_a_usage_error_in_one_line(args, message, capsys):
    # Every input of power is an option: a wrong value is a usage error (2), said in one line.
    assert main(["power", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("drugdesk power: error: ")


def test_power_survival_with_the_hazard_ratio_alone_gives_events(capsys):
    assert main(["power", "--endpoint", "survival", "--hr", "0.7"]) == 0
    result = _json(capsys)
    # Schoenfeld: (z 0.975 + z 0.8)^2 (1 + 1)^2 / (1 * log(0.7)^2) = 246.79 -> 247 events.
    assert result["events"] == 247
    assert result["details"]["events_exact"] == pytest.approx(246.787, abs=1e-3)
    assert "n_per_arm" not in result and "total" not in result
    assert main(["power", "--endpoint", "survival", "--hr", "0.7", "--method", "freedman"]) == 0
    # Freedman: (z 0.975 + z 0.8)^2 (1 + 0.7)^2 / 0.3^2 = 252.04 -> 253 events.
    assert _json(capsys)["events"] == 253


def test_km_on_gbsg2_writes_one_row_per_arm(tmp_path, capsys):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    out = tmp_path / "km.csv"
    path = demo_path("GBSG2")
    args = ["km", str(path), "--time", "time", "--event", "cens", "--group", "horTh"]
    assert main([*args, "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "group",
        "n",
        "events",
        "median",
        "ci_lower",
        "ci_upper",
        "ci_method",
        "logrank_p",
    ]
    assert table["ci_method"].tolist() == ["log-log", "log-log"]
    assert "95% CI, log-log" in capsys.readouterr().err
    assert table["group"].tolist() == ["no", "yes"]
    data = pd.read_csv(path)
    no, yes = data[data["horTh"] == "no"], data[data["horTh"] == "yes"]
    assert (
        table.loc[0, "median"]
        == KaplanMeierFitter().fit(no["time"], no["cens"]).median_survival_time_
    )
    p = logrank_test(no["time"], yes["time"], no["cens"], yes["cens"]).p_value
    assert table["logrank_p"].tolist() == pytest.approx([p, p])


def test_km_bad_input(tmp_path, capsys):
    table = pd.DataFrame({"t": [1, 2, -3, 4], "e": [1, 0, 1, 1], "g": list("abab")})
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    base = [
        "km",
        str(path),
        "--time",
        "t",
        "--event",
        "e",
        "--group",
        "g",
        "--output",
        str(tmp_path / "o.csv"),
    ]
    # Bad data: exit 1, one line naming the problem.
    assert main(base) == 1
    assert "negative" in capsys.readouterr().err
    table.assign(t=[1, 2, 3, 4], e=[1, 0, 1, 0]).to_csv(path, index=False)
    assert main(base) == 1
    err = capsys.readouterr().err
    assert "'b'" in err and "no events" in err
    table.assign(t=[1, 2, 3, 4], e=[1, 5, 1, 0]).to_csv(path, index=False)
    assert main(base) == 1
    assert "0 (censored) or 1" in capsys.readouterr().err
    assert main([*base[:2], "--time", "days", *base[4:]]) == 1
    assert "No time column 'days'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    # Wrong options: exit 2.
    assert main([*base, "--alpha", "1.5"]) == 2
    assert "--alpha" in capsys.readouterr().err
    assert main([*base, "--ci", "arcsine"]) == 2
    assert "invalid choice: 'arcsine'" in capsys.readouterr().err
    assert main([*base[:-1], str(path)]) == 2  # the output is the input
    assert "input file" in capsys.readouterr().err
    assert main([*base[:-1], str(tmp_path / "o.pdf")]) == 2
    assert ".xlsx" in capsys.readouterr().err


def test_km_says_how_many_rows_it_left_out_and_why(tmp_path, capsys):
    # Nine rows: one with no time, two with no group.
    path = Path(__file__).resolve().parents[1] / "corpus/bad_inputs/trials/km_missing_values.csv"
    out = tmp_path / "km.csv"
    args = ["km", str(path), "--time", "t", "--event", "e", "--group", "g", "-o", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "3 of 9 rows left out: 1 with no time, 2 with no group" in err
    assert pd.read_csv(out)["n"].sum() == 6


@pytest.mark.parametrize("ci", ["log", "plain", "log-log"])
def test_km_ci_option_is_used_and_named(tmp_path, capsys, ci):
    from core.trials.data import read_trial_table
    from core.trials.survival import analyse_survival

    out = tmp_path / "km.csv"
    path = demo_path("GBSG2")
    args = ["km", str(path), "--time", "time", "--event", "cens", "--group", "horTh"]
    assert main([*args, "--ci", ci, "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert set(table["ci_method"]) == {ci}
    assert f"95% CI, {ci}" in capsys.readouterr().err
    expected = analyse_survival(read_trial_table(path), "time", "cens", "horTh", ci=ci).summary()
    assert table["ci_lower"].tolist() == pytest.approx(expected["ci_lower"].tolist(), nan_ok=True)
    assert table["ci_upper"].tolist() == pytest.approx(expected["ci_upper"].tolist(), nan_ok=True)
