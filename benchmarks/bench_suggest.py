"""What to make next, replayed on measured data: does expected improvement with a diverse batch
find the most potent molecules sooner than greedy or random picks?

RDKit's CHEMBL2321810 potency set (1,017 compounds, pIC50 ``Act``) stands in for a project: every
value is known, but a strategy sees only what it has "measured". Each run starts from 50 random
measured molecules and adds 10 per round for 10 rounds; before each round the random forest on
ECFP4 (``core.models.baselines``: mean and spread over the trees) is refitted on the measured
molecules and predicts the rest. Strategies, each from the same random starts:

- ``random``: 10 unmeasured molecules at random;
- ``greedy``: the 10 best predicted means (no uncertainty, no diversity);
- ``ei``: expected improvement over the best measured value, no diversity;
- ``ei+diversity``: expected improvement, picks at least ``--diversity`` apart (Tanimoto distance,
  ECFP4) among the top 5 × 10 (``core.models.suggest``, what ``drugdesk suggest`` runs).

The score is how many of the top 5% molecules (the 51 most potent) each has measured after each
round. Prints a Markdown table (mean ± standard deviation over the starts) and writes a PNG plot
(matplotlib) or, without matplotlib, a CSV of the curves.

    python benchmarks/bench_suggest.py [--starts 5] [--rounds 10] [--batch 10] [--initial 50]
        [--trees 200] [--diversity 0.4] [--plot benchmarks/suggest_retrospective.png]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import _common
import numpy as np
import pandas as pd
import rdkit

from core.models.baselines import fit_baseline, predict_baseline
from core.models.suggest import KnownMeasurements, SuggestSettings, suggest_from_predictions

DATA = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
STRATEGIES = ("random", "greedy", "ei", "ei+diversity")


def potency_set() -> pd.DataFrame:
    smiles = pd.read_csv(
        DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "name"]
    )
    activity = pd.read_csv(DATA / "CHEMBL2321810_act.csv").rename(columns={"Name": "name"})
    return smiles.merge(activity, on="name").reset_index(drop=True)


def pick(
    strategy: str,
    table: pd.DataFrame,
    measured: np.ndarray,
    batch: int,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> np.ndarray:
    """Positions (into ``table``) of the next batch for ``strategy``."""
    pool = np.flatnonzero(~measured)
    if strategy == "random":
        return rng.choice(pool, size=batch, replace=False)
    smiles = table["smiles"].tolist()
    train = np.flatnonzero(measured)
    # The model is refitted on what has been measured so far, each round, as a project would.
    model = fit_baseline(
        [smiles[i] for i in train],
        table["Act"].to_numpy()[train],
        "regression",
        n_trees=args.trees,
        seed=int(rng.integers(1 << 31)),
        n_jobs=1,
    )
    prediction = predict_baseline(model, [smiles[i] for i in pool])
    mean, std = prediction.mean[:, 0], prediction.std[:, 0]
    if strategy == "greedy":
        return pool[np.argsort(-mean, kind="stable")[:batch]]
    known = KnownMeasurements(
        tuple(smiles[i] for i in train), tuple(table["Act"].to_numpy()[train]), "measured"
    )
    settings = SuggestSettings(
        n=batch,
        objective="maximize",
        strategy="ei",
        batch_diversity=args.diversity if strategy == "ei+diversity" else 0.0,
    )
    result = suggest_from_predictions(
        [smiles[i] for i in pool], mean, std, settings, target="Act", known=known
    )
    return pool[result.picks["row"].to_numpy()]


def run(args: argparse.Namespace) -> tuple[dict[str, np.ndarray], int, float]:
    table = potency_set()
    n = len(table)
    n_top = math.ceil(0.05 * n)
    # The top 5%: the n_top most potent (ties at the cut count as top as well).
    cut = np.sort(table["Act"].to_numpy())[::-1][n_top - 1]
    top = table["Act"].to_numpy() >= cut
    found = {s: np.zeros((args.starts, args.rounds + 1), dtype=int) for s in STRATEGIES}
    start_time = time.perf_counter()
    for start in range(args.starts):
        first = np.random.default_rng(1000 + start).choice(n, size=args.initial, replace=False)
        for strategy in STRATEGIES:
            rng = np.random.default_rng(start)
            measured = np.zeros(n, dtype=bool)
            measured[first] = True
            found[strategy][start, 0] = int((measured & top).sum())
            for r in range(1, args.rounds + 1):
                chosen = pick(strategy, table, measured, args.batch, args, rng)
                assert not measured[chosen].any() and len(set(chosen)) == args.batch
                measured[chosen] = True
                found[strategy][start, r] = int((measured & top).sum())
            print(
                f"start {start + 1}/{args.starts} {strategy}: {found[strategy][start].tolist()}",
                file=sys.stderr,
            )
    return found, int(top.sum()), time.perf_counter() - start_time


def markdown(found: dict[str, np.ndarray], n_top: int, args: argparse.Namespace) -> str:
    lines = [
        "| round | measured | " + " | ".join(STRATEGIES) + " |",
        "|---:|---:|" + "---:|" * len(STRATEGIES),
    ]
    for r in range(args.rounds + 1):
        cells = []
        for s in STRATEGIES:
            values = found[s][:, r]
            cells.append(
                f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0:.1f}"
            )
        lines.append(f"| {r} | {args.initial + r * args.batch} | " + " | ".join(cells) + " |")
    final = {s: found[s][:, -1] for s in STRATEGIES}
    paired = final["ei+diversity"] - final["random"]
    wins = int((paired > 0).sum())
    lines.append("")
    lines.append(
        f"Top-5% molecules ({n_top} of 1017) found after {args.rounds} rounds, per start: "
        + "; ".join(f"{s} {final[s].tolist()}" for s in STRATEGIES)
        + "."
    )
    verdict = "beats" if paired.mean() > 0 and wins == len(paired) else "does not clearly beat"
    lines.append(
        f"EI with diversity {verdict} random: {paired.mean():+.1f} top-5% molecules on average "
        f"(better in {wins} of {len(paired)} starts)."
    )
    return "\n".join(lines)


def plot(found: dict[str, np.ndarray], n_top: int, args: argparse.Namespace) -> Path:
    """The curves as a PNG (matplotlib), or as a CSV when matplotlib is missing."""
    measured = args.initial + np.arange(args.rounds + 1) * args.batch
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        path = args.plot.with_suffix(".csv")
        frame = pd.DataFrame({"measured": measured})
        for s in STRATEGIES:
            frame[f"{s}_mean"] = found[s].mean(axis=0)
            frame[f"{s}_std"] = found[s].std(axis=0, ddof=1)
        frame.to_csv(path, index=False)
        return path
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for s in STRATEGIES:
        mean = found[s].mean(axis=0)
        spread = found[s].std(axis=0, ddof=1) if args.starts > 1 else np.zeros_like(mean)
        axes.plot(measured, mean, marker="o", markersize=3, label=s)
        axes.fill_between(measured, mean - spread, mean + spread, alpha=0.15)
    axes.set_xlabel("molecules measured")
    axes.set_ylabel(f"top-5% molecules found (of {n_top})")
    axes.set_title(
        f"CHEMBL2321810 retrospective: {args.starts} random starts, mean ± sd", fontsize=10
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.plot)
    plt.close(figure)
    return args.plot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="random starting sets")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10, help="molecules measured per round")
    parser.add_argument("--initial", type=int, default=50, help="molecules measured at the start")
    parser.add_argument("--trees", type=int, default=200, help="trees of each forest")
    parser.add_argument("--diversity", type=float, default=0.4, help="least Tanimoto distance")
    parser.add_argument(
        "--plot", type=Path, default=_common.ROOT / "benchmarks" / "suggest_retrospective.png"
    )
    args = parser.parse_args()
    info = _common.machine_info()
    load = _common.OtherLoad()
    found, n_top, seconds = run(args)
    path = plot(found, n_top, args)
    print(f"### What to make next: retrospective loop on CHEMBL2321810 ({info['date']})\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- {seconds / 60:.1f} min in all; other processes used {load.cores():.2f} cores; "
        f"plot: `{path.relative_to(_common.ROOT) if path.is_relative_to(_common.ROOT) else path}`\n"
    )
    print(f"Top-5% molecules found (of {n_top}), mean ± sd over {args.starts} starts:\n")
    print(markdown(found, n_top, args))


if __name__ == "__main__":
    main()
