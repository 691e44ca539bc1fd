"""``drugdesk esmfold-weights`` and ``drugdesk fold``: get the ESMFold weights, fold a sequence.

Thin layers over :mod:`core.protein.esm_weights` (download into the Hugging Face cache, with
resume and checksums), :mod:`core.protein.esm_atlas` (the ESM Atlas web fold) and
:mod:`core.protein.prediction` (ESMFold on this computer).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_weights_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "esmfold-weights",
        help="download the ESMFold weights into the Hugging Face cache (--check: what is there)",
        description=(
            "Download facebook/esmfold_v1 (about 8.4 GB) into the Hugging Face cache, where "
            "'drugdesk fold' and the Proteins area find it. Sizes come from the hub's file "
            "list before anything is fetched; each file is checked against the hub's sha256 "
            "before it is put in place; an interrupted download (Ctrl+C, a cut connection) "
            "resumes where it stopped when run again. Honours HF_ENDPOINT, HF_HOME, "
            "HF_HUB_CACHE and HF_HUB_OFFLINE. --check only reports what the cache holds "
            "(no network): exit status 0 when the weights are there, 1 when not."
        ),
    )
    parser.add_argument(
        "--check", action="store_true", help="report what the cache holds; download nothing"
    )
    parser.set_defaults(handler=run_weights)


def add_fold_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "fold",
        help="fold a protein sequence with ESMFold (here, or --web on ESM Atlas) into a PDB file",
        description=(
            "Predict the structure of SEQUENCE (one-letter codes, or a FASTA file) with ESMFold "
            "and write a PDB file with pLDDT (0-100) in the B-factor column. By default it runs "
            "here, with the weights of the Hugging Face cache (see 'drugdesk esmfold-weights') "
            "or --weights. --web sends the sequence to the ESM Atlas fold service instead "
            "(DRUGDESK_ESMATLAS_URL, default https://api.esmatlas.com; at most 400 residues): "
            "the sequence leaves this computer."
        ),
    )
    parser.add_argument("sequence", help="amino-acid sequence, or a FASTA file holding one")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT.pdb", help="PDB file to write"
    )
    parser.add_argument(
        "--web", action="store_true", help="fold on the ESM Atlas web service (sends the sequence)"
    )
    parser.add_argument(
        "--weights", type=Path, help="ESMFold weights folder (none: the Hugging Face cache)"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device for folding here (cpu, cuda, mps)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="axial-attention chunk size (e.g. 64) to save memory on long sequences; 0 is off",
    )
    parser.set_defaults(handler=run_fold)


def run_weights(args: argparse.Namespace) -> int:
    from app.commands.common import GracefulCancel, cancelled, fail, terminal_progress
    from core.jobs import JobCancelled
    from core.protein.esm_weights import WeightsError, download_weights, weights_status

    status = weights_status()
    if args.check:
        print(status.describe())
        return 0 if status.complete else 1
    if status.complete:
        print(status.describe())
        return 0
    with GracefulCancel() as stop:
        try:
            snapshot = download_weights(
                progress=terminal_progress(sys.stderr.isatty()), is_cancelled=stop.is_set
            )
        except (JobCancelled, KeyboardInterrupt) as exc:
            interrupt = stop.interrupt or (exc if isinstance(exc, KeyboardInterrupt) else None)
            return cancelled(
                "esmfold-weights",
                interrupt or KeyboardInterrupt(),
                "the part downloaded is kept: run again to resume",
            )
        except WeightsError as exc:
            return fail("esmfold-weights", str(exc))
        except OSError as exc:
            from app.commands.common import os_error_text

            return fail("esmfold-weights", os_error_text(exc))
    print(snapshot)
    return 0


def run_fold(args: argparse.Namespace) -> int:
    from app.commands.common import fail, os_error_text, terminal_progress, usage_error
    from core.fileio import write_text_atomic

    if args.output.suffix.lower() not in (".pdb", ".ent"):
        return usage_error("fold", f"-o writes a PDB file; {args.output.name} is not .pdb")
    if args.chunk_size < 0:
        return usage_error("fold", "--chunk-size must be 0 (off) or more")
    if args.web and args.weights is not None:
        return usage_error("fold", "--web folds on ESM Atlas; --weights is for folding here")
    text = args.sequence
    path = Path(text)
    if len(text) < 4096 and path.suffix.lower() in (".fasta", ".fa", ".faa", ".txt", ".seq"):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return fail("fold", os_error_text(exc))
    progress = terminal_progress(sys.stderr.isatty())
    try:
        if args.web:
            from core.protein.esm_atlas import fold_online_result

            result = fold_online_result(text, progress=progress)
        else:
            from core.protein.prediction import predict_structure

            result = predict_structure(
                text, args.weights, args.chunk_size or None, progress=progress, device=args.device
            )
    except ValueError as exc:  # WebFoldError, PredictionError: one line each
        return fail("fold", str(exc))
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.output, result.pdb_text)
    except OSError as exc:
        return fail("fold", os_error_text(exc))
    where = "ESM Atlas" if args.web else args.device
    print(
        f"Wrote {args.output}: {len(result.sequence)} residues, mean pLDDT "
        f"{result.mean_plddt:.1f} ({where})",
        file=sys.stderr,
    )
    return 0
