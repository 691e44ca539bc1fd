"""SMILES-transformer inference throughput: ``core.models.transformer.embed`` against a seed loop.

Molecules: the first ``--n`` MOSES training SMILES (CHEMBL2321810 from RDKit's wheel when molsets
is not installed). Model: the shipped ``resources/models/smiles-roberta-v1`` (or ``--model``).
Three timed runs in one process, same thread count, same molecules:

1. **ours**: ``embed(model, smiles, batch_size=B)``: batches of SMILES of similar length, each
   padded to its own longest SMILES, under ``torch.inference_mode``;
2. **seed-style**: batches of B in input order, every batch padded to 128 tokens, a plain forward
   (autograd on, as a loop without ``inference_mode``/``no_grad`` runs it);
3. **padded, no_grad**: as 2 under ``torch.no_grad``, to separate the padding from autograd.

All three give the same mean-pooled embeddings (checked; exits 1 if not). Progress to stderr, a
Markdown block to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common
import numpy as np
import torch

from core.models import transformer as tf

SHIPPED = _common.ROOT / "resources" / "models" / "smiles-roberta-v1"


def _smiles(n: int) -> tuple[list[str], str]:
    try:
        return _common.moses_smiles(n), "MOSES training set"
    except _common.MissingDataError:
        import rdkit

        path = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
        lines = [ln.split()[0] for ln in path.read_text().splitlines() if ln.strip()]
        return (lines * (n // len(lines) + 1))[:n], "CHEMBL2321810 (molsets not installed)"


def _padded_loop(model: tf.LoadedModel, smiles: list[str], batch_size: int) -> np.ndarray:
    encoder, tokenizer = model.encoder, model.tokenizer
    out = []
    for start in range(0, len(smiles), batch_size):
        batch = tokenizer(
            smiles[start : start + batch_size],
            padding="max_length",
            truncation=True,
            max_length=model.max_length,
            return_tensors="pt",
        )
        hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        pooled = tf._mean_pool(hidden.last_hidden_state, batch["attention_mask"])
        out.append(pooled.detach().numpy())
    return np.concatenate(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="molecules (default 2000)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--model", type=Path, default=SHIPPED)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = _common.machine_info()
    smiles, source = _smiles(args.n)
    model = tf.load_model(args.model, "cpu")
    model.encoder.eval()
    print(f"{len(smiles)} SMILES; warming up", file=sys.stderr)
    tf.embed(model, smiles[:64])

    timings: dict[str, float] = {}
    start = time.perf_counter()
    ours = tf.embed(model, smiles, batch_size=args.batch_size)
    timings["ours"] = time.perf_counter() - start
    print(f"ours: {timings['ours']:.1f} s", file=sys.stderr)
    start = time.perf_counter()
    seed = _padded_loop(model, smiles, args.batch_size)
    timings["seed"] = time.perf_counter() - start
    print(f"seed-style: {timings['seed']:.1f} s", file=sys.stderr)
    start = time.perf_counter()
    with torch.no_grad():
        no_grad = _padded_loop(model, smiles, args.batch_size)
    timings["no_grad"] = time.perf_counter() - start
    print(f"padded, no_grad: {timings['no_grad']:.1f} s", file=sys.stderr)

    difference = float(max(np.abs(ours - seed).max(), np.abs(ours - no_grad).max()))
    rate = {k: len(smiles) / v for k, v in timings.items()}
    mean_tokens = float(tf.token_lengths(model.tokenizer, smiles).mean())
    card = model.card
    print(
        "\n".join(
            [
                "### SMILES transformer inference (CPU)",
                "",
                f"- Command: `{_common.command_line()}`",
                _common.machine_markdown({**info, "code": _common.code_state()}),
                f"- torch {torch.__version__}, {torch.get_num_threads()} threads; model "
                f"{args.model.name}: {card.get('n_parameters', '?')} parameters, hidden "
                f"{model.config.hidden_size}, {model.config.num_hidden_layers} layers",
                f"- Data: {len(smiles)} SMILES from the {source}, mean {mean_tokens:.1f} tokens "
                f"(model maximum {model.max_length}); batch size {args.batch_size}",
                "",
                "| run | seconds | molecules/s |",
                "|---|---|---|",
                f"| ours: length buckets, own padding, inference_mode | {timings['ours']:.2f} | "
                f"{rate['ours']:.0f} |",
                f"| seed-style: pad to 128, autograd on | {timings['seed']:.2f} | "
                f"{rate['seed']:.0f} |",
                f"| pad to 128, no_grad | {timings['no_grad']:.2f} | {rate['no_grad']:.0f} |",
                "",
                f"Ratio ours / seed-style: **{rate['ours'] / rate['seed']:.1f}×** "
                f"(ours / padded no_grad: {rate['ours'] / rate['no_grad']:.1f}×). Largest "
                f"difference between the embeddings: {difference:.1e}.",
            ]
        )
    )
    return 0 if difference < 1e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
