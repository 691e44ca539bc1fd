"""Scoring with the shipped transformer: ensemble predictions per second, and a million's time.

Model: the shipped ``resources/models/potency-chembl2321810`` (a fine-tuned ensemble of three
members, as ``drugdesk score --model`` runs it). Molecules: the first ``--n`` MOSES training
SMILES. One process, the same molecules and threads on every side, run in alternating blocks of
``--block`` molecules so that other work on the machine weighs on each side alike:

1. **before**: the code before issue 18's inference work, kept here verbatim: each member
   tokenises the SMILES again and runs its batches with torch's threads inside each operation;
2. **float32**: :func:`core.models.transformer.predict`: one tokenisation, every member on each
   encoded batch, whole batches on separate threads (one torch thread each);
3. **bfloat16**: the same with ``precision="bfloat16"`` (bf16 weights; AMX / AVX-512 BF16 on
   CPUs that have them).

Prints molecules/s, the time a million molecules would take, and how far each side's
predictions are from ``before`` (target units; Spearman correlation; the top 1 % kept). Exits 1
when float32 differs from ``before`` by more than 1e-4. Progress to stderr, Markdown to stdout.

With ``--score N``, then the scoring step as ``drugdesk score --model`` runs it after loading:
:func:`core.hitlist.scoring.score_library` on a loaded library of N molecules (loading not
timed), the model in the command line's model host, with ``--precision`` float32 and bfloat16:
the "scored in ≤ 15 minutes more" figure of issue 18.
"""

from __future__ import annotations

import argparse
import sys
import time

import _common
import numpy as np
import torch

from core.models.transformer import inference as inf
from core.models.transformer.batching import encode, length_bucketed_batches, token_lengths
from core.models.transformer.devices import cpu_has_native_bf16
from core.models.transformer.folders import load_model

SHIPPED = _common.ROOT / "resources" / "models" / "potency-chembl2321810"


def _before(model, smiles: list[str], batch_size: int) -> np.ndarray:
    """The ensemble mean as the code of commit 963213e computed it (CPU path)."""
    card = model.card
    mean = np.asarray(card["target_mean"], dtype=np.float64)
    scale = np.asarray(card["target_scale"], dtype=np.float64)
    tokenizer, max_length = model.tokenizer, model.max_length
    np.flatnonzero(token_lengths(tokenizer, smiles) > max_length)  # report_truncated's count
    outputs = []
    for member in model.members:
        lengths = token_lengths(tokenizer, smiles)
        out = np.empty((len(smiles), int(card["n_tasks"])), dtype=np.float64)
        member.eval()
        with torch.inference_mode():
            for index in length_bucketed_batches(lengths, batch_size):
                encoded = encode(tokenizer, [smiles[i] for i in index], max_length, "cpu")
                out[index] = member(**encoded).float().cpu().numpy()
        outputs.append(out * scale + mean)
    return np.mean(outputs, axis=0)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a))
    rb = np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _top_kept(reference: np.ndarray, other: np.ndarray, fraction: float = 0.01) -> float:
    k = max(1, int(len(reference) * fraction))
    top = set(np.argsort(-reference)[:k])
    return len(top & set(np.argsort(-other)[:k])) / k


def _score_step(smiles: list[str] | None, n: int) -> list[str]:
    """``score_library`` of N loaded molecules with the shipped model, float32 then bfloat16."""
    import tempfile
    from pathlib import Path

    from core.chem.library import LoadOptions, load_library
    from core.hitlist.presets import PRESETS
    from core.hitlist.scoring import ScoringRequest, score_library
    from core.modelhost import close_shared_host

    smiles = smiles or _common.moses_smiles(n)
    with tempfile.TemporaryDirectory() as work:
        print(f"loading {n} molecules for the scoring step", file=sys.stderr)
        table = load_library(_common.write_smi(smiles, Path(work) / "library.smi"), LoadOptions())
        table = table.table
    rows = [
        "Scoring step after loading (`score_library`, model host of the command line, oral "
        f"profile), {n:,} molecules:",
        "",
        "| precision | seconds | molecules/s | a million molecules |",
        "|---|---:|---:|---:|",
    ]
    try:
        for precision in ("float32", "bfloat16"):
            request = ScoringRequest(PRESETS["oral"], (SHIPPED,), precision=precision)
            score_library(table.head(64), request)  # the host starts, the model loads
            began = time.perf_counter()
            score_library(table, request)
            took = time.perf_counter() - began
            rows.append(
                f"| {precision} | {took:.1f} | {n / took:.0f} | {1e6 / (n / took) / 60:.1f} min |"
            )
            print(f"scoring step, {precision}: {took:.1f} s", file=sys.stderr)
    finally:
        close_shared_host()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="molecules (default 20000)")
    parser.add_argument("--block", type=int, default=2000, help="molecules per alternating block")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument(
        "--score", type=int, default=0, help="also time the scoring step on this many molecules"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = _common.machine_info()
    smiles = _common.moses_smiles(args.n)
    model = load_model(SHIPPED, "cpu")
    sides = {
        "before": lambda chunk: _before(model, chunk, args.batch_size),
        "float32": lambda chunk: inf.predict(model, chunk, precision="float32").mean[:, 0],
        "bfloat16": lambda chunk: inf.predict(model, chunk, precision="bfloat16").mean[:, 0],
    }
    print(f"{len(smiles)} SMILES; warming up", file=sys.stderr)
    for run in sides.values():
        run(smiles[:256])
    seconds = dict.fromkeys(sides, 0.0)
    values: dict[str, list[np.ndarray]] = {name: [] for name in sides}
    for start in range(0, len(smiles), args.block):
        chunk = smiles[start : start + args.block]
        for name, run in sides.items():
            began = time.perf_counter()
            result = np.asarray(run(chunk)).reshape(-1)
            seconds[name] += time.perf_counter() - began
            values[name].append(result)
        print(f"{start + len(chunk)} of {len(smiles)}", file=sys.stderr)
    predicted = {name: np.concatenate(parts) for name, parts in values.items()}
    rate = {name: len(smiles) / s for name, s in seconds.items()}
    reference = predicted["before"]
    lines = [
        "### Scoring with the shipped transformer ensemble (CPU)",
        "",
        f"- Command: `{_common.command_line()}`",
        _common.machine_markdown(info),
        f"- torch {torch.__version__}, {torch.get_num_threads()} threads; native bf16 on this "
        f"CPU (AMX or AVX-512 BF16): {'yes' if cpu_has_native_bf16() else 'no'}",
        f"- Model: {SHIPPED.name} ({len(model.members)} members, hidden "
        f"{model.config.hidden_size}, {model.config.num_hidden_layers} layers); data: "
        f"{len(smiles):,} MOSES SMILES, sides alternating in blocks of {args.block:,}",
        "",
        "| run | seconds | molecules/s | vs before | a million molecules | max abs. difference "
        "from before (pIC50) | Spearman vs before | top 1 % kept |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sides:
        diff = float(np.abs(predicted[name] - reference).max())
        lines.append(
            f"| {name} | {seconds[name]:.1f} | {rate[name]:.0f} | "
            f"{rate[name] / rate['before']:.2f}× | {1e6 / rate[name] / 60:.1f} min | "
            f"{diff:.1e} | {_spearman(reference, predicted[name]):.5f} | "
            f"{_top_kept(reference, predicted[name]):.1%} |"
        )
    if args.score:
        lines += [
            "",
            *_score_step(smiles[: args.score] if args.score <= len(smiles) else None, args.score),
        ]
    print("\n".join(lines))
    return 0 if float(np.abs(predicted["float32"] - reference).max()) < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
