"""``drugdesk update``: learn from new measurements: warm-start a trained model on new rows, keeping
its held-out molecules held out, and compare with training from scratch
(``core.models.update``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

UNITS = ("auto", "p", "nM", "uM", "mM", "M")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "update",
        help="update a trained model with new measurements (warm start); compare with scratch",
        description=(
            "Update MODEL_DIR with the new measurements of --new, writing a new model to "
            "--output. --old must be the table the model was trained on (refused unless its "
            "content matches the model card's data hash; for a model made by update, its "
            "training_data.csv). New molecules already in the old data are counted and not used; "
            "a new molecule whose scaffold is in the old data joins that scaffold's part "
            "(train, validation or test), and new scaffolds are split 80/10/10, so no held-out "
            "molecule is trained on. The transformer, and the D-MPNN when the model has one, start "
            "from the old weights (fewer epochs, half the learning rate), the random forest is "
            "refitted, and the predictor is chosen again among them on the validation part. The "
            "calibration is fitted again on out-of-fold predictions of the training part: a "
            "classifier's from --calibration-folds refits of its chosen families (the old "
            "members saw the old training molecules), so that predict gives <target>_calibrated "
            "and <target>_set. Prints what was read to "
            "stderr, then one JSON line: test metrics and seconds of the warm starts (and, with "
            "--compare, of training from scratch) beside the forest's."
        ),
    )
    parser.add_argument("model_dir", type=Path, help="a fine-tuned model folder")
    parser.add_argument("--old", type=Path, required=True, help="the table it was trained on")
    parser.add_argument("--new", type=Path, required=True, help="new measurements, same columns")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="the updated model's folder"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help=(
            "also fine-tune from the pretrained model (and train the D-MPNN from scratch) on "
            "the same split, to compare"
        ),
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=(
            "most epochs of the warm start (default: the old members' latest best epoch, at "
            "least 3)"
        ),
    )
    parser.add_argument(
        "--learning-rate", type=float, help="peak learning rate (default: half the old one)"
    )
    parser.add_argument(
        "--calibration-folds",
        type=int,
        default=3,
        help=(
            "classifier: refits (each on all folds of the training part but one) of the chosen "
            "transformer/D-MPNN that calibrate its probabilities; 0: none (default 3)"
        ),
    )
    parser.add_argument(
        "--units",
        choices=UNITS,
        default="auto",
        help="regression: what bare numbers are in both tables (as train --units)",
    )
    parser.add_argument(
        "--smiles-col", help="both tables' SMILES column (default: the card's, else detected)"
    )
    parser.add_argument(
        "--target-col",
        action="append",
        dest="target_cols",
        help="measured column (repeat for several; default: the model's target names)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import (
        cancelled,
        fail,
        os_error_text,
        output_over_input,
        terminal_progress,
        usage_error,
    )
    from core.chem.readers import LibraryReadError
    from core.models.update import plan_update, update_model

    if args.epochs is not None and args.epochs < 1:
        return usage_error("update", "--epochs must be at least 1")
    if args.learning_rate is not None and not args.learning_rate > 0:
        return usage_error("update", "--learning-rate must be more than 0")
    if args.calibration_folds == 1 or args.calibration_folds < 0:
        return usage_error("update", "--calibration-folds must be 0 or at least 2")
    if refused := output_over_input(args.output, [args.old, args.new]):
        return usage_error("update", refused)
    existed = args.output.exists()
    try:
        plan = plan_update(
            args.model_dir,
            args.old,
            args.new,
            smiles_column=args.smiles_col,
            target_columns=args.target_cols,
            units=args.units,
        )
        # What was read and where the new molecules went: shown before training starts.
        print(plan.reading.text(), file=sys.stderr, flush=True)
        report = update_model(
            args.model_dir,
            args.old,
            args.new,
            args.output,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            compare=args.compare,
            calibration_folds=args.calibration_folds,
            plan=plan,
            progress=terminal_progress(sys.stderr.isatty()),
        )
    except (LibraryReadError, ValueError) as exc:
        return fail("update", str(exc))
    except OSError as exc:
        return fail("update", os_error_text(exc))
    except KeyboardInterrupt as interrupt:
        if not existed and args.output.exists():
            return cancelled("update", interrupt, f"{args.output} is incomplete: delete it")
        return cancelled("update", interrupt)
    print(json.dumps(report.as_json()))
    return 0
