"""``drugdesk pretrain``: pretrain the SMILES RoBERTa on a corpus and write a model folder.

A thin layer over :func:`core.models.transformer.pretrain`; the lead registers :func:`add_parser`
in ``app.cli.COMMAND_PARSERS``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain the SMILES transformer (masked-language model) on a SMILES corpus",
        description=(
            "Pretrain a RoBERTa masked-language model on SMILES (atom-level tokens, random-SMILES "
            "augmentation, length-bucketed batches) and write OUTPUT: float16 safetensors, "
            "config.json, tokenizer files, card.json, MODEL_CARD.md and training_curve.csv. "
            "The best checkpoint (validation loss on held-out SMILES) is kept, also on Ctrl+C."
        ),
    )
    parser.add_argument(
        "--corpus",
        default="moses",
        help="'moses' (MOSES training set from the molsets package; the default), a .csv/.csv.gz "
        "with a SMILES column, or a .smi/.txt file",
    )
    parser.add_argument("--max-molecules", type=int, help="random subset of the corpus (seeded)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="optimiser steps (default 10000)")
    budget.add_argument("--minutes", type=float, help="wall-time budget in minutes")
    parser.add_argument("--hidden", type=int, default=192, help="hidden size (default 192)")
    parser.add_argument("--layers", type=int, default=4, help="encoder layers (default 4)")
    parser.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    parser.add_argument("--intermediate", type=int, help="feed-forward size (default 2 × hidden)")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per SMILES")
    parser.add_argument("--batch-size", type=int, default=64, help="SMILES per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--eval-every", type=int, default=200, help="steps between validations")
    parser.add_argument("--n-valid", type=int, default=2000, help="held-out SMILES")
    parser.add_argument(
        "--augment", type=float, default=0.5, help="chance of a random SMILES spelling"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="where to train: auto takes a GPU when there is one",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="model folder to write")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import (
        GracefulCancel,
        cancelled,
        fail,
        os_error_text,
        output_over_input,
        terminal_progress,
        usage_error,
    )
    from core.jobs import JobCancelled
    from core.models.transformer import ModelSize, PretrainOptions, pretrain, read_corpus

    try:
        size = ModelSize(
            hidden=args.hidden,
            layers=args.layers,
            heads=args.heads,
            intermediate=args.intermediate or 2 * args.hidden,
            max_length=args.max_length,
        )
    except ValueError as exc:
        return usage_error("pretrain", str(exc))
    for flag, value in (
        ("--batch-size", args.batch_size),
        ("--eval-every", args.eval_every),
        ("--n-valid", args.n_valid),
        ("--steps", args.steps),
        ("--max-molecules", args.max_molecules),
    ):
        if value is not None and value < 1:
            return usage_error("pretrain", f"{flag} must be at least 1")
    if args.minutes is not None and not args.minutes > 0:
        return usage_error("pretrain", "--minutes must be more than 0")
    if not args.lr > 0:
        return usage_error("pretrain", "--lr must be more than 0")
    if not 0 <= args.augment <= 1:
        return usage_error("pretrain", "--augment is a chance: between 0 and 1")
    if refused := output_over_input(args.output, [None if args.corpus == "moses" else args.corpus]):
        return usage_error("pretrain", refused)
    try:
        corpus = read_corpus(args.corpus, args.max_molecules, args.seed)
    except ValueError as exc:
        return fail("pretrain", str(exc))
    except OSError as exc:
        return fail("pretrain", os_error_text(exc))
    try:
        options = PretrainOptions(
            size=size,
            steps=args.steps or (10**9 if args.minutes else 10_000),
            minutes=args.minutes,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            eval_every=args.eval_every,
            n_valid=args.n_valid,
            augment_probability=args.augment,
            seed=args.seed,
            device=args.device,
            threads=args.threads,
        )
    except ValueError as exc:
        return usage_error("pretrain", str(exc))
    source = "MOSES training set (molsets 0.3.1)" if args.corpus == "moses" else str(args.corpus)
    description = f"{len(corpus)} SMILES from {source}" + (
        f", a seeded random subset (seed {args.seed})" if args.max_molecules else ""
    )
    command = (
        "python main.py " + shlex.join(["pretrain", *sys.argv[2:]])
        if len(sys.argv) > 1 and sys.argv[1] == "pretrain"
        else "python main.py pretrain " + shlex.join(_argv_from(args))
    )
    with GracefulCancel() as stop:
        try:
            result = pretrain(
                corpus,
                args.output,
                options,
                data_description=description,
                command=command,
                progress=terminal_progress(True),
                is_cancelled=stop.is_set,
            )
        except (JobCancelled, KeyboardInterrupt) as exc:
            interrupt = stop.interrupt or (exc if isinstance(exc, KeyboardInterrupt) else None)
            if (args.output / "model.safetensors").exists():
                what = f"the best checkpoint so far is in {args.output}"
            else:
                what = "stopped before the first checkpoint"
            if interrupt is None:
                return fail("pretrain", f"cancelled; {what}")
            return cancelled("pretrain", interrupt, what)
        except ValueError as exc:
            return fail("pretrain", str(exc))
        except OSError as exc:
            return fail("pretrain", os_error_text(exc))
    print(
        f"Pretrained {result.n_parameters:,} parameters for {result.steps} steps in "
        f"{result.seconds / 60:.1f} min: held-out loss {result.valid_loss:.4f}, masked-token "
        f"accuracy {result.valid_accuracy:.4f} (best at step {result.best_step}); "
        f"wrote {result.output_dir}",
        file=sys.stderr,
    )
    return 0


def _argv_from(args: argparse.Namespace) -> list[str]:
    """The options as a command line (when not run from main.py, e.g. from a test)."""
    out = ["--corpus", str(args.corpus)]
    for flag in ("max_molecules", "steps", "minutes", "hidden", "layers", "heads", "intermediate"):
        value = getattr(args, flag)
        if value is not None:
            out += ["--" + flag.replace("_", "-"), str(value)]
    out += ["--batch-size", str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed)]
    out += ["--device", args.device, "--output", str(args.output)]
    return out
