"""A large file's previews in the window: longest GUI-thread stall as each one is shown.

While a file of 20,000 records or more loads, the window shows its first rows
(``load_library(on_preview=...)``: 5,000 rows, then each doubling up to 400,000) and finally the
whole library. This measures what the GUI thread pays for each step, as the window does it
(``LibraryPanel.show_preview`` then ``set_library``), with the user's sort by MW kept throughout.
Rows come from the first ``--unique`` MOSES molecules described by the loading pipeline, tiled to
``--rows`` (as in ``bench_gui_scale.py``). A 10 ms ``QTimer`` records the gaps. Goal: no gap over
100 ms.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_preview.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys

import _common

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_gui_scale import WindowBench, build_table

from core.chem.library import PREVIEW_FIRST, PREVIEW_MAX, Library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--unique", type=int, default=5_000)
    args = parser.parse_args()
    info = _common.machine_info()
    print("describing molecules…", file=sys.stderr)
    table = build_table(args.unique, args.rows)

    from core.project.annotations import ensure_annotations

    bench = WindowBench("large file")
    panel = bench.panel

    sizes = []
    size = PREVIEW_FIRST
    while size <= PREVIEW_MAX and size < args.rows:
        sizes.append(size)
        size *= 2
    results = []
    for rows in [*sizes, None]:
        part = table if rows is None else table.iloc[:rows].reset_index(drop=True)
        library = Library(table=part)
        # What the load job does off the GUI thread before handing a library over.
        ensure_annotations(library)
        library.n_duplicates  # noqa: B018
        if rows is None:
            _seconds, gap = bench.measure(lambda library=library: panel.set_library(library))
        else:
            _seconds, gap = bench.measure(lambda library=library: panel.show_preview(library))
        label = "whole library" if rows is None else f"preview of {rows:,} rows"
        results.append((label, len(part), gap))
        print(f"{label}: longest gap {results[-1][2]:.0f} ms", file=sys.stderr)
        if sizes and rows == sizes[0]:
            panel.sort_by("mw", descending=True)  # the chemist starts browsing
    bench.close()

    print("### A large file's previews in the window\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- Data: {args.unique:,} MOSES molecules described by the loading pipeline, tiled to "
        f"{args.rows:,} rows; sorted by MW (descending) after the first preview; window 1500×900, "
        "offscreen platform\n"
    )
    print("| step | rows | longest GUI gap ms | goal ≤ 100 ms |")
    print("|---|---:|---:|:---:|")
    for label, n, gap in results:
        print(f"| {label} | {n:,} | {gap:.0f} | {'yes' if gap <= 100 else 'no'} |")


if __name__ == "__main__":
    main()
