"""``drugdesk train`` and ``drugdesk predict``: fit the SMILES transformer, chemprop's D-MPNN and the
random-forest baseline on assay data on the same split, choose the predictor on the validation part,
and apply a trained model (its chosen predictor) to a compound file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fit model families on assay data, choose on validation; prints the metrics",
        description=(
            "Fine-tune the shipped SMILES transformer on DATA (.csv, .tsv, .xlsx, .sdf) and, on the "
            "same split, chemprop's D-MPNN and a random forest on ECFP4 (--families); choose the "
            "predictor on the validation molecules only (the best family, or a weighted mean of "
            "families when that is better there); print every family's validation and test "
            "metrics and the chosen one's (held-out molecules only) as JSON and write the model "
            "with its card (which says what was chosen and why) to OUTPUT."
        ),
    )
    parser.add_argument("data", type=Path, help="assay table")
    parser.add_argument("--smiles-col", help="column holding SMILES (detected if omitted)")
    parser.add_argument(
        "--target-col",
        action="append",
        required=True,
        dest="target_cols",
        help="target column (repeat for several tasks)",
    )
    parser.add_argument(
        "--task",
        choices=["classification", "regression"],
        required=True,
        help="classification (0/1 labels) or regression (numbers)",
    )
    parser.add_argument(
        "--units",
        choices=["auto", "p", "nM", "uM", "mM", "M"],
        default="auto",
        help=(
            "regression: what bare numbers are (p: pIC50/pKi…; nM, uM, mM, M: concentrations, "
            "converted to pXC50 = -log10(molar)). auto: a unit in the cell ('10 uM'), a unit "
            "column ('IC50 units', 'Standard Units'), the column name ('IC50 (nM)', 'pIC50'); "
            "otherwise numbers are used as given. Censored values ('>10 uM') are left out of "
            "training and metrics and counted; replicates (same InChIKey) are averaged"
        ),
    )
    parser.add_argument(
        "--split",
        default="scaffold",
        choices=["scaffold", "scaffold_balanced", "random", "stratified"],
        help="how molecules are split into train/validation/test (scaffold: held-out chemotypes)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (split and training)")
    parser.add_argument("--epochs", type=int, default=30, help="most passes over the training part")
    parser.add_argument("--ensemble", type=int, default=1, help="models with different seeds (std)")
    parser.add_argument("--learning-rate", type=float, default=2e-4, help="peak learning rate")
    parser.add_argument("--batch-size", type=int, default=32, help="molecules per step")
    parser.add_argument("--patience", type=int, default=5, help="epochs without improvement")
    parser.add_argument(
        "--augment",
        type=float,
        default=0.0,
        metavar="P",
        help="chance a training SMILES is replaced by a random spelling each epoch",
    )
    parser.add_argument("--dropout", type=float, default=0.1, help="of the prediction head")
    parser.add_argument(
        "--calibration-folds",
        type=int,
        default=0,
        metavar="K",
        help=(
            "calibrate a single transformer (or a pair) with K refits on K-1 folds of the "
            "training part (K times the training time; needed for a calibrated classifier "
            "without an ensemble of 3 or more). Default: an ensemble of 3 or more is "
            "cross-fitted (no extra time); a single regression model is calibrated on random-"
            "forest out-of-fold residuals"
        ),
    )
    parser.add_argument(
        "--families",
        default="transformer,dmpnn,rf",
        help=(
            "model families fitted on the same split and chosen among on the validation part: "
            "transformer (always), dmpnn (chemprop D-MPNN), rf (random forest on ECFP4); "
            "default all three"
        ),
    )
    parser.add_argument(
        "--dmpnn-epochs", type=int, default=50, help="most D-MPNN epochs (it stops early)"
    )
    parser.add_argument(
        "--dmpnn-descriptors",
        action="store_true",
        help="give the D-MPNN RDKit 2D descriptors too (about 0.1 s per molecule to compute)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the random forest (rf in --families)"
    )
    parser.add_argument(
        "--pretrained", type=Path, help="pretrained model folder (default: shipped)"
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="model folder to write")
    parser.set_defaults(handler=run_train)


def _train_option_problem(args: argparse.Namespace) -> str | None:
    """The first option out of range, in words (``TrainSettings`` takes any number)."""
    checks = (
        (args.epochs >= 1, "--epochs must be at least 1"),
        (args.dmpnn_epochs >= 1, "--dmpnn-epochs must be at least 1"),
        (args.ensemble >= 1, "--ensemble must be at least 1"),
        (args.batch_size >= 1, "--batch-size must be at least 1"),
        (args.patience >= 1, "--patience must be at least 1"),
        (args.learning_rate > 0, "--learning-rate must be more than 0"),
        (0 <= args.augment <= 1, "--augment is a chance: between 0 and 1"),
        (0 <= args.dropout < 1, "--dropout must be at least 0 and less than 1"),
        (
            args.calibration_folds == 0 or args.calibration_folds >= 2,
            "--calibration-folds must be 0 (automatic) or at least 2",
        ),
    )
    return next((message for ok, message in checks if not ok), None)


def run_train(args: argparse.Namespace) -> int:
    from app.commands.common import (
        cancelled,
        fail,
        os_error_text,
        output_over_input,
        terminal_progress,
        usage_error,
    )
    from core.chem.readers import LibraryReadError
    from core.models.datasets import load_assay_table
    from core.models.families import parse_families
    from core.models.training import TrainSettings, train_and_evaluate

    if problem := _train_option_problem(args):
        return usage_error("train", problem)
    try:
        families = parse_families(args.families)
    except ValueError as exc:
        return usage_error("train", f"--families: {exc}")
    if refused := output_over_input(args.output, [args.data, args.pretrained]):
        return usage_error("train", refused)
    existed = args.output.exists()
    try:
        dataset = load_assay_table(
            args.data, args.smiles_col, args.target_cols, args.task, units=args.units
        )
        # What was read, converted, left out and merged: shown before hours of training.
        if dataset.record is not None:
            print(dataset.record.text(), file=sys.stderr, flush=True)
        settings = TrainSettings(
            split=args.split,
            seed=args.seed,
            epochs=args.epochs,
            n_models=args.ensemble,
            baseline=not args.no_baseline,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            patience=args.patience,
            augment_probability=args.augment,
            dropout=args.dropout,
            calibration_folds=args.calibration_folds,
            families=families,
            dmpnn_epochs=args.dmpnn_epochs,
            dmpnn_descriptors=args.dmpnn_descriptors,
        )
        report = train_and_evaluate(
            dataset,
            args.output,
            settings,
            args.pretrained,
            progress=terminal_progress(sys.stderr.isatty()),
        )
    except (LibraryReadError, ValueError) as exc:
        return fail("train", str(exc))
    except OSError as exc:
        return fail("train", os_error_text(exc))
    except KeyboardInterrupt as interrupt:
        if not existed and args.output.exists():
            return cancelled("train", interrupt, f"{args.output} is incomplete: delete it")
        return cancelled("train", interrupt)
    print(json.dumps(report.as_json()))
    return 0


def add_predict_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="apply a trained model to a compound file",
        description=(
            "Write the input rows plus one column per target of MODEL_DIR, named as the target "
            "(the probability of class 1 for classification) from the predictor chosen at "
            "training (the family, or weighted mean of families, best on the validation part; "
            "the transformer for models trained before), <target>_std for ensembles, forests and "
            "mixes (the spread within and between families), "
            "nearest_train_similarity (the largest ECFP4 Tanimoto similarity to the model's "
            "training molecules) and in_domain (that similarity reaches the threshold on the "
            "model card, chosen on the validation molecules; empty when the model stores no "
            "domain). Calibrated uncertainty: <target>_lower and <target>_upper (regression: "
            "an interval holding the measured value with probability --coverage, as wide as the "
            "prediction's spread where the card says 'scaled by the ensemble spread', else of "
            "constant width), or "
            "<target>_calibrated (the calibrated probability) and <target>_set (the conformal "
            "prediction set: {0}, {1}, {0,1} or {}) for classification; empty when the model "
            "stores no calibration. Rows whose SMILES do not parse get empty predictions."
        ),
    )
    parser.add_argument("model_dir", type=Path, help="a model folder written by train")
    parser.add_argument("input", type=Path, help="compound file (.smi, .csv, .tsv, .sdf, .xlsx)")
    parser.add_argument("--smiles-col", help="column holding SMILES (detected if omitted)")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="output .csv/.tsv/.xlsx/.sdf"
    )
    parser.add_argument(
        "--coverage",
        type=float,
        default=0.9,
        help="of the intervals and prediction sets, between 0 and 1 (default 0.9)",
    )
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from app.commands.common import fail, os_error_text, output_over_input, usage_error
    from core.chem.export import ExportError, export_format, export_table
    from core.chem.readers import LibraryReadError, ReadOptions, iter_record_chunks
    from core.models.calibration_store import calibration_columns, load_calibration
    from core.models.domain import check_domain, load_domain
    from core.models.families import load_choice, predict_with_choice
    from core.models.transformer import load_model

    try:
        export_format(args.output)
    except ValueError as exc:
        return usage_error("predict", str(exc))
    if refused := output_over_input(args.output, [args.input]):
        return usage_error("predict", refused)
    if not 0.0 < args.coverage < 1.0:
        return usage_error("predict", f"--coverage must lie between 0 and 1, not {args.coverage}")
    try:
        model = load_model(args.model_dir)
        if model.kind == "pretrained" or not model.card.get("target_names"):
            return fail("predict", f"{args.model_dir} is not a fine-tuned model (no targets).")
        load_domain(args.model_dir)  # a malformed domain is refused before reading the input
        calibration = load_calibration(args.model_dir)
        # The chosen family or mix (core.models.families); None: the transformer, as before.
        choice = load_choice(args.model_dir, model.card)
        task = str(model.card.get("task", ""))
        records = [
            r
            for chunk in iter_record_chunks(args.input, ReadOptions(smiles_column=args.smiles_col))
            for r in chunk
        ]
        table = pd.DataFrame(
            {"name": [r.name for r in records], "smiles": [r.text for r in records]}
        )
        extra = pd.DataFrame([r.extra for r in records], index=table.index)
        if not extra.empty:
            table = pd.concat(
                [table, extra.drop(columns=[c for c in extra if c in table], errors="ignore")],
                axis=1,
            )
        from rdkit import Chem, rdBase

        with rdBase.BlockLogs():
            valid = np.array(
                [
                    bool(r.text) and r.error is None and Chem.MolFromSmiles(r.text) is not None
                    for r in records
                ]
            )
        names = list(model.card["target_names"])
        mean = np.full((len(records), len(names)), np.nan)
        std = np.full_like(mean, np.nan)
        chosen = [r.text for r, ok in zip(records, valid, strict=True) if ok]
        ensemble = len(model.members) > 1
        if valid.any():
            result = predict_with_choice(args.model_dir, chosen, transformer=model, choice=choice)
            mean[valid], std[valid] = result.mean, result.std
            ensemble = result.has_spread
        elif choice is not None and (len(choice.families) > 1 or "rf" in choice.families):
            ensemble = True  # a mix or a forest has a spread, even with nothing to predict
        # The domain is the model's, not a target's: one pair of columns for every target.
        domain = check_domain(args.model_dir, chosen)
        similarity = np.full(len(records), np.nan)
        similarity[valid] = domain.similarity
        in_domain = pd.array([pd.NA] * len(records), dtype="boolean")
        in_domain[valid] = domain.in_domain
        uncertainty = {
            # The chosen predictor's spread scales an interval calibrated per molecule.
            name: calibration_columns(
                calibration, task, name, mean[:, i], args.coverage, std=std[:, i]
            )
            for i, name in enumerate(names)
        }
        added = [
            *names,
            *(column for columns in uncertainty.values() for column in columns),
            SIMILARITY_COLUMN,
            IN_DOMAIN_COLUMN,
        ]
        # The input often holds the measured target: keep it beside the prediction, renamed.
        table = table.rename(columns={n: f"{n} (input)" for n in added if n in table.columns})
        for i, name in enumerate(names):
            table[name] = mean[:, i]
            if ensemble:
                table[f"{name}_std"] = std[:, i]
            for column, values in uncertainty[name].items():
                table[column] = values
        table[SIMILARITY_COLUMN] = similarity
        table[IN_DOMAIN_COLUMN] = in_domain
        export_table(table, args.output, smiles_column="smiles")
    except (LibraryReadError, ValueError, ExportError) as exc:
        return fail("predict", str(exc))
    except OSError as exc:
        return fail("predict", os_error_text(exc))
    print(
        f"Predicted {int(valid.sum())} of {len(records)} molecules; wrote {args.output}",
        file=sys.stderr,
    )
    if choice is not None and not choice.is_transformer_only:
        print(
            f"Predicted with {choice.describe()} (chosen on the validation part); <target>_std "
            "is the spread of the mix: within each family and between families.",
            file=sys.stderr,
        )
    print(_calibration_line(calibration, task, args.coverage), file=sys.stderr)
    print(_domain_line(domain), file=sys.stderr)
    return 0


def _calibration_line(calibration, task: str, coverage: float) -> str:
    """What the uncertainty columns hold, in one line for the terminal."""
    columns = "_lower/_upper" if task == "regression" else "_calibrated/_set"
    if calibration is None:
        return (
            f"No calibration stored with this model (trained before calibration was stored, or "
            f"a single classifier): the {columns} columns are empty."
        )
    what = "intervals" if task == "regression" else "prediction sets"
    if task == "regression":
        # Each target's entry says whether its intervals follow the prediction's spread.
        kinds = {
            str(entry.get("interval", "constant width"))
            for entry in calibration.summary.get("targets", {}).values()
            if isinstance(entry, dict) and entry.get("scores")
        }
        if kinds:
            what += f", {' / '.join(sorted(kinds))}"
    return (
        f"Uncertainty: {coverage:.0%} conformal {what} ({calibration.summary.get('method', '')})."
    )


SIMILARITY_COLUMN = "nearest_train_similarity"
IN_DOMAIN_COLUMN = "in_domain"


def _domain_line(domain) -> str:
    """What the domain check found, in one line for the terminal."""
    if not domain.known:
        return (
            "Applicability domain unknown: the model folder stores no training fingerprints "
            "(in_domain left empty)."
        )
    if domain.threshold is None:
        return "Applicability domain: the model card has no threshold (in_domain left empty)."
    return (
        f"{domain.n_outside} of {domain.n_checked} predicted molecules are "
        f"outside the model's domain (nearest training molecule less than {domain.threshold:.2f} "
        "similar): their predictions are extrapolations."
    )


def add_explain_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="per-atom attributions of a trained model's prediction, as a heat map",
        description=(
            "Explain MODEL_DIR's prediction for one SMILES atom by atom, relative to the "
            "training mean (regression) or base rate (classification): prints the reference, "
            "the atoms that raise and lower the prediction most and the sum check to stderr, "
            "the prediction and one attribution per heavy atom as JSON to stdout, and writes "
            "the heat map with its colour bar (red raises the prediction, blue lowers it) as "
            "SVG or PNG. Families: transformer (integrated gradients on the token embeddings), "
            "rf (the forest's exact tree-path decomposition, bits put on their atoms), dmpnn "
            "(integrated gradients on the graph's features)."
        ),
    )
    parser.add_argument("model_dir", type=Path, help="a model folder written by train")
    parser.add_argument("smiles", help="the molecule to explain")
    parser.add_argument("--target", help="target name (default: the first)")
    parser.add_argument(
        "--family",
        choices=["transformer", "rf", "dmpnn"],
        help="which model explains (default: the one the folder predicts with)",
    )
    parser.add_argument("--steps", type=int, default=48, help="integration steps (32-64)")
    parser.add_argument(
        "--baseline",
        choices=["pad", "mask"],
        default="pad",
        help="the transformer's integrated-gradients input: padding or mask tokens",
    )
    parser.add_argument("--output", "-o", type=Path, help="heat map file (.svg or .png)")
    parser.set_defaults(handler=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    from app.commands.common import fail, os_error_text, usage_error
    from core.fileio import write_bytes_atomic, write_text_atomic
    from core.models.explain import explain_molecule

    if args.output is not None and args.output.suffix.lower() not in (".svg", ".png"):
        return usage_error("explain", f"{args.output}: write the heat map as .svg or .png")
    if not 2 <= args.steps <= 512:
        return usage_error("explain", f"--steps must be between 2 and 512, not {args.steps}")
    try:
        explanation = explain_molecule(
            args.model_dir,
            args.smiles,
            args.target or 0,
            args.family,
            steps=args.steps,
            baseline=args.baseline,
        )
        if args.output is not None:
            if args.output.suffix.lower() == ".png":
                write_bytes_atomic(args.output, explanation.png())
            else:
                write_text_atomic(args.output, explanation.svg())
    except ValueError as exc:
        return fail("explain", str(exc))
    except OSError as exc:
        return fail("explain", os_error_text(exc))
    for line in explanation.summary_lines():
        print(line, file=sys.stderr)
    mol, values = explanation.mol, explanation.atom_attributions.tolist()
    raise_, lower = explanation.top_atoms()
    print(
        json.dumps(
            {
                "smiles": explanation.smiles,
                "target": explanation.target,
                "family": explanation.family,
                "units": explanation.units,
                "prediction": explanation.prediction,
                "reference": explanation.reference.value,
                "reference_kind": explanation.reference.kind,
                "not_on_atoms": explanation.unplaced,
                "additive": explanation.additive,
                "sum_check_passed": explanation.sum_check() if explanation.additive else None,
                "gap": explanation.gap,
                "raise": [explanation.atom_label(i) for i in raise_],
                "lower": [explanation.atom_label(i) for i in lower],
                "method": explanation.method,
                "atoms": [
                    {"index": i, "symbol": mol.GetAtomWithIdx(i).GetSymbol(), "attribution": w}
                    for i, w in enumerate(values)
                ],
            }
        )
    )
    return 0
