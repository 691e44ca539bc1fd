"""``power`` and ``km`` commands: JSON and CSV outputs checked against statsmodels and lifelines."""

from __future__ import annotations

import json

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
        (["--endpoint", "survival", "--hr", "0.7"], "needs --median-control"),
    ],
)
def test_power_bad_input_fails_with_message(args, message, capsys):
    assert main(["power", *args]) == 2
    assert message in capsys.readouterr().err


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
        "logrank_p",
    ]
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
    assert main(base) == 2
    assert "negative" in capsys.readouterr().err
    table.assign(t=[1, 2, 3, 4], e=[1, 0, 1, 0]).to_csv(path, index=False)
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "'b'" in err and "no events" in err
    table.assign(t=[1, 2, 3, 4], e=[1, 5, 1, 0]).to_csv(path, index=False)
    assert main(base) == 2
    assert "0 (censored) or 1" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
