"""``drugdesk power`` (sample size of a two-arm trial) and ``drugdesk km`` (Kaplan–Meier by arm).

Thin layers over :mod:`core.trials.design` and :mod:`core.trials.survival`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def add_power_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "power",
        help="sample size of a two-arm trial (two proportions, two means, time to event)",
        description=(
            "Compute patients per arm (and events, for time to event) for a two-sided test. "
            "binary: textbook pooled-variance normal formula (Fleiss, no continuity correction) "
            "or --method arcsine (statsmodels NormalIndPower with Cohen's h); continuous: "
            "statsmodels TTestIndPower or --method normal; survival: Schoenfeld or Freedman "
            "events from --hr alone, then, when --median-control, --accrual and --follow-up "
            "are given, patients from exponential survival, uniform accrual and follow-up. "
            "Prints one JSON line."
        ),
    )
    parser.add_argument(
        "--endpoint",
        required=True,
        choices=["binary", "continuous", "survival"],
        help="what the trial measures: a proportion, a mean, or time to an event",
    )
    parser.add_argument("--p1", type=float, help="binary: event proportion in arm 1 (control)")
    parser.add_argument("--p2", type=float, help="binary: event proportion in arm 2")
    parser.add_argument("--delta", type=float, help="continuous: difference in means")
    parser.add_argument("--sd", type=float, help="continuous: common standard deviation")
    parser.add_argument("--hr", type=float, help="survival: hazard ratio (arm 2 / arm 1)")
    parser.add_argument(
        "--median-control", type=float, help="survival: median survival in arm 1 (time units)"
    )
    parser.add_argument("--accrual", type=float, help="survival: accrual duration (time units)")
    parser.add_argument(
        "--follow-up", type=float, help="survival: follow-up after the last patient enters"
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level")
    parser.add_argument(
        "--power", type=float, default=0.8, help="power: chance of detecting the effect"
    )
    parser.add_argument(
        "--ratio", type=float, default=1.0, help="allocation ratio n2/n1 (1 = equal arms)"
    )
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="fraction lost to follow-up (0); inflates n"
    )
    parser.add_argument(
        "--method",
        help="binary: pooled (default) | arcsine; continuous: t (default) | normal; "
        "survival: schoenfeld (default) | freedman",
    )
    parser.set_defaults(handler=run_power)


_REQUIRED = {
    "binary": ("p1", "p2"),
    "continuous": ("delta", "sd"),
    "survival": ("hr",),
}
# Survival: these turn the events into patients; all three or none (events only).
_ACCRUAL = ("median_control", "accrual", "follow_up")
_DEFAULT_METHOD = {"binary": "pooled", "continuous": "t", "survival": "schoenfeld"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run_power(args: argparse.Namespace) -> int:
    from app.commands.common import usage_error
    from core.trials.design import design

    missing = [_flag(name) for name in _REQUIRED[args.endpoint] if getattr(args, name) is None]
    if missing:
        return usage_error("power", f"--endpoint {args.endpoint} needs {', '.join(missing)}")
    parameters = {name: getattr(args, name) for name in _REQUIRED[args.endpoint]}
    if args.endpoint == "survival":
        given = [name for name in _ACCRUAL if getattr(args, name) is not None]
        if given and len(given) < len(_ACCRUAL):
            absent = [_flag(name) for name in _ACCRUAL if name not in given]
            return usage_error(
                "power",
                f"patients need --median-control, --accrual and --follow-up together: "
                f"{', '.join(absent)} missing (leave all three out for the events only)",
            )
        if not given and args.dropout:
            print(
                "drugdesk power: --dropout changes patients, not events: not used without "
                "--median-control, --accrual and --follow-up",
                file=sys.stderr,
            )
        parameters.update({name: getattr(args, name) for name in _ACCRUAL})
    parameters.update(
        alpha=args.alpha,
        power=args.power,
        ratio=args.ratio,
        dropout=args.dropout,
        method=(args.method or _DEFAULT_METHOD[args.endpoint]).lower(),
    )
    try:
        result = design(args.endpoint, **parameters)
    except ValueError as exc:  # every input is an option: a value out of range is a usage error
        return usage_error("power", str(exc))
    print(json.dumps(result.to_dict()))
    return 0


def add_km_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "km",
        help="Kaplan–Meier medians by arm with 95%% CI and the log-rank test",
        description=(
            "Read a trial table (.csv, .tsv, .xlsx), fit a Kaplan–Meier curve per group "
            "(lifelines) and write one row per group: group, n, events, median, ci_lower, "
            "ci_upper, ci_method, logrank_p (the log-rank test across all groups). The median's "
            "confidence interval is read off the curve's pointwise band, from Greenwood's "
            "variance: log-log (the default, as lifelines and SAS), log (R survfit's default) "
            "or plain (--ci). An empty median or bound means the curve or its band does not "
            "reach 0.5. Rows with no time, event or group are left out, and counted on stderr."
        ),
    )
    parser.add_argument("table", type=Path, help="trial table (.csv, .tsv or .xlsx)")
    parser.add_argument("--time", required=True, help="follow-up time column")
    parser.add_argument("--event", required=True, help="event column (1 = event, 0 = censored)")
    parser.add_argument("--group", required=True, help="arm column")
    parser.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level")
    parser.add_argument(
        "--ci",
        choices=["log-log", "log", "plain"],
        default="log-log",
        help="confidence band of the curve and its median: log-log (default; lifelines, SAS), "
        "log (R survfit's default) or plain (linear, clipped to 0-1)",
    )
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="output table (.csv, .tsv or .xlsx)"
    )
    parser.set_defaults(handler=run_km)


def run_km(args: argparse.Namespace) -> int:
    from app.commands.common import fail, os_error_text, output_over_input, usage_error
    from core.chem.export import ExportError
    from core.trials.data import export_table, read_trial_table, survival_frame
    from core.trials.survival import analyse_survival

    if args.output.suffix.lower() not in (".csv", ".tsv", ".xlsx"):
        return usage_error("km", f"Cannot write {args.output.name}: choose .csv, .tsv or .xlsx")
    if not 0 < args.alpha < 1:
        return usage_error("km", f"--alpha must be between 0 and 1, not {args.alpha}")
    if refused := output_over_input(args.output, [args.table]):
        return usage_error("km", refused)
    try:
        frame = read_trial_table(args.table)
        survival_frame(frame, args.time, args.event, args.group, require_events_per_group=True)
        result = analyse_survival(
            frame,
            args.time,
            args.event,
            args.group,
            alpha=args.alpha,
            require_events_per_group=True,
            ci=args.ci,
        )
        summary = result.summary()
        summary.insert(summary.columns.get_loc("ci_upper") + 1, "ci_method", result.ci_method)
        export_table(summary, args.output)
    except (ValueError, ExportError) as exc:
        return fail("km", str(exc))
    except OSError as exc:
        return fail("km", os_error_text(exc))
    if note := result.left_out_message():
        print(f"drugdesk km: {note}", file=sys.stderr)
    level = f"{100 * (1 - args.alpha):g}%"
    groups = ", ".join(
        f"{row.group}: median {'not reached' if math.isnan(row.median) else f'{row.median:g}'}"
        for row in summary.itertuples()
    )
    print(
        f"{groups} ({level} CI, {result.ci_method}); log-rank p = {result.logrank_p:.3g}; "
        f"wrote {args.output}",
        file=sys.stderr,
    )
    return 0
