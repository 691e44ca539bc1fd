"""``drugdesk structure FILE``: summarise a protein structure as JSON, or draw it to a PNG.

A thin layer over :mod:`core.protein.structure` (reading) and :mod:`ui.protein.scene` (drawing
in an off-screen VTK window, no Qt).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "structure",
        help="summarise a PDB/mmCIF structure (--info) or draw it to a PNG (--render)",
        description=(
            "Read a PDB or mmCIF file (gzipped too) with gemmi. --info prints JSON: chains "
            "(polymer residues and sequence), ligands (non-water, non-polymer groups with their "
            "heavy atoms), waters and models. --render draws the structure off screen (VTK, no "
            "window) and saves a PNG: protein cartoon, ligand and pocket sticks by default."
        ),
    )
    parser.add_argument(
        "input", type=Path, help="structure file (.pdb, .cif, .ent, optionally .gz)"
    )
    parser.add_argument("--info", action="store_true", help="print a JSON summary")
    parser.add_argument("--render", type=Path, metavar="OUT.png", help="draw to this PNG file")
    parser.add_argument(
        "--style",
        choices=["cartoon", "lines", "sticks", "ball_and_stick", "spheres", "surface"],
        help="representation of the protein (default: cartoon; lines for chains without CA)",
    )
    parser.add_argument(
        "--color",
        choices=["chain", "ss", "element", "bfactor", "plddt"],
        help="colour scheme (default: chain; plddt for predicted models)",
    )
    parser.add_argument(
        "--model", type=int, default=1, help="model to use from a multi-model file (from 1; 1)"
    )
    parser.add_argument("--width", type=int, default=1000, help="picture width in pixels")
    parser.add_argument("--height", type=int, default=800, help="picture height in pixels")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import fail, os_error_text, output_over_input, usage_error
    from core.protein.structure import StructureError, read_structure

    if not args.info and args.render is None:
        return usage_error("structure", "give --info, --render OUT.png or both")
    if args.render is not None and args.render.suffix.lower() != ".png":
        return usage_error(
            "structure", f"--render writes PNG pictures; {args.render.name} is not .png"
        )
    if args.model < 1:
        return usage_error("structure", "--model counts from 1")
    if not (16 <= args.width <= 8000 and 16 <= args.height <= 8000):
        return usage_error("structure", "--width and --height must lie between 16 and 8000 pixels")
    if args.render is not None and (refused := output_over_input(args.render, [args.input])):
        return usage_error("structure", refused)
    try:
        structure = read_structure(args.input, model=args.model - 1)
    except StructureError as exc:
        return fail("structure", str(exc))
    except OSError as exc:
        return fail("structure", os_error_text(exc))
    if args.info:
        json.dump(structure.info(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    if args.render is not None:
        from ui.protein.scene import render_to_png

        try:
            args.render.parent.mkdir(parents=True, exist_ok=True)
            render_to_png(structure, args.render, args.style, args.color, (args.width, args.height))
        except ValueError as exc:
            return fail("structure", str(exc))
        except OSError as exc:
            return fail("structure", os_error_text(exc))
        if not args.render.is_file():
            return fail("structure", f"could not write {args.render}")
        print(f"Wrote {args.render}", file=sys.stderr)
    return 0
