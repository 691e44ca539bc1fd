"""``drugdesk project FILE.drugdesk``: summarise a project, add compound files to it, export a
library with its flags, tags and notes, or check the file.

A thin layer over :mod:`core.project.store` (the file the window's File > Save project as…
writes and autosaves).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "project",
        help="summarise a DrugDesk project, add compound files to it, export a library",
        description=(
            "A project (.drugdesk, one SQLite file) holds libraries with their computed columns, "
            "each library's ranking profile and your flags, tags and notes. Without options, "
            "print a JSON summary. --add loads compound files into the project (creating it "
            "when missing). --export writes one library (--library: number from 1 or title) "
            "with its flag/tags/notes columns; --flagged keeps flagged rows only. --check runs "
            "SQLite's integrity check and decodes every library's columns, listing each "
            "problem. --report writes the campaign report (HTML): the hit list's best molecules "
            "with structures, the targets with a picture of each structure, the chosen genes with "
            "their statistics and the trial design. A project holding anything DrugDesk does not "
            "write (a trigger, a view, another table) is refused before it is read or changed."
        ),
    )
    parser.add_argument("project", type=Path, help="project file (.drugdesk)")
    parser.add_argument("--add", type=Path, nargs="+", metavar="FILE", help="compound files")
    parser.add_argument("--export", type=Path, metavar="OUT", help=".csv, .tsv, .xlsx or .sdf")
    parser.add_argument("--library", default="1", help="library to export: number or title")
    parser.add_argument("--flagged", action="store_true", help="export flagged rows only")
    parser.add_argument("--check", action="store_true", help="check the file and its content")
    parser.add_argument(
        "--report", type=Path, metavar="OUT.html", help="write the campaign report (HTML)"
    )
    parser.set_defaults(handler=run)


def _summary(contents) -> dict:
    libraries = []
    for number, stored in enumerate(contents.libraries, start=1):
        table = stored.library.table
        libraries.append(
            {
                "number": number,
                "title": stored.title,
                "source": None if stored.library.source is None else str(stored.library.source),
                "rows": len(table),
                "flagged": int(table["flag"].sum()),
                "tagged": int((table["tags"] != "").sum()),
                "with_notes": int((table["notes"] != "").sum()),
                "computed_columns": stored.library.computed_columns,
                "profile": None if stored.profile is None else stored.profile.get("name"),
                "modified": stored.modified,
            }
        )
    from core.campaign import campaign_inputs, campaign_steps

    areas = {
        name: {"format": stored.format, "modified": stored.modified, "tables": list(stored.tables)}
        for name, stored in contents.areas.items()
    }
    steps = [
        {"step": step.title, "area": step.area, "started": step.started, "holds": step.lines}
        for step in campaign_steps(*campaign_inputs(contents))
    ]
    summary = {"project": str(contents.path), "libraries": libraries, "areas": areas}
    summary["campaign"] = steps
    if contents.problems:
        summary["problems"] = contents.problems
    return summary


def run(args: argparse.Namespace) -> int:
    from app.commands.common import fail, output_over_input, terminal_progress, usage_error
    from core.chem.export import ExportError, export_format, export_table
    from core.chem.library import LoadOptions, load_library
    from core.chem.readers import LibraryReadError
    from core.project.store import (
        ProjectError,
        ProjectState,
        ProjectStore,
        library_state,
        read_project,
        save_project_as,
    )

    if args.export is not None:
        try:
            export_format(args.export)
        except ValueError as exc:
            return usage_error("project", str(exc))
        if refused := output_over_input(args.export, [args.project, *(args.add or [])]):
            return usage_error("project", refused)
    if args.report is not None:
        if args.report.suffix.lower() not in (".html", ".htm"):
            return usage_error("project", "--report writes HTML: name a file ending in .html")
        if refused := output_over_input(args.report, [args.project, *(args.add or [])]):
            return usage_error("project", refused)
    try:
        if args.add:
            if args.project.exists():
                # A project we cannot trust is refused before the (slow) loading of the files.
                ProjectStore(args.project, read_only=True).close()
            states = []
            for file in args.add:
                library = load_library(
                    file, LoadOptions(), progress=terminal_progress(sys.stderr.isatty())
                )
                states.append(library_state(uuid.uuid4().hex, file.name, library))
            if args.project.exists():
                with ProjectStore(args.project) as store:
                    store.write(ProjectState(states), prune=False)
            else:
                save_project_as(args.project, ProjectState(states))
            noun = "library" if len(states) == 1 else "libraries"
            print(f"Added {len(states)} {noun} to {args.project}", file=sys.stderr)
        if args.check:
            with ProjectStore(args.project, read_only=True) as store:
                # The content is decoded only when SQLite finds the file itself sound.
                problems = store.integrity_errors() or store.content_errors()
            if len(problems) > 1:
                for problem in problems:
                    print(f"{args.project}: {problem}", file=sys.stderr)
                return fail(
                    "project", f"{args.project} is damaged: {len(problems)} problems (listed above)"
                )
            if problems:
                return fail("project", f"{args.project} is damaged: {problems[0]}")
            print(f"{args.project}: check passed (file and content)", file=sys.stderr)
        contents = read_project(args.project)
    except (ProjectError, LibraryReadError) as exc:
        return fail("project", str(exc))
    for problem in contents.problems:
        print(f"{args.project}: {problem} (left out)", file=sys.stderr)
    if args.report is not None:
        from core.campaign import campaign_inputs, write_campaign_report
        from core.fileio import OutputError

        try:
            write_campaign_report(args.report, args.project.name, *campaign_inputs(contents))
        except OutputError as exc:
            return fail("project", str(exc))
        print(f"Wrote the campaign report to {args.report}", file=sys.stderr)
        if args.export is None:
            return 0
    if args.export is None:
        print(json.dumps(_summary(contents), indent=2))
        return 0
    chosen = None
    for number, stored in enumerate(contents.libraries, start=1):
        if args.library in (str(number), stored.title):
            chosen = stored
            break
    if chosen is None:
        titles = ", ".join(f"{n} ({s.title})" for n, s in enumerate(contents.libraries, 1))
        return usage_error(
            "project", f"no library '{args.library}' in the project; it has {titles}"
        )
    table = chosen.library.table
    if args.flagged:
        table = table[table["flag"]].reset_index(drop=True)
    try:
        export_table(table, args.export)
    except (ExportError, ValueError) as exc:
        return fail("project", str(exc))
    print(f"Wrote {len(table):,} rows of {chosen.title} to {args.export}", file=sys.stderr)
    return 0
