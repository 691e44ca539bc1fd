"""Protein viewer: load + first frame and frame time, for a small complex and a ≥100,000-atom
structure.

Structures: the synthetic demo complex (``core.protein.synthetic``, about 300 atoms) and copies of
it on a grid (``replicate_pdb``) until ``--atoms`` atoms (default 100,000), written to PDB files
first so that loading includes gemmi's parse. Each run, in one process, off screen (EGL without a
display):

1. **load**: ``load_for_display``, the panel's engine job (gemmi parse, classification, secondary
   structure, bonds, the cartoon mesh);
2. **first frame**: on the GUI thread, ``ProteinScene.set_structure`` with the default layers
   (cartoon + ligand and pocket sticks; above 30,000 atoms cartoon and ligands only), camera
   reset, one ``Render()``;
3. **frame time**: median of ``--frames`` renders while the camera turns 3° per frame (what a
   drag-rotation costs), in a 1000×800 window.

4. **while rotating**: for structures over 30,000 atoms, the median frame with the level of detail
   the panel uses during a drag or zoom (a CA trace instead of the cartoon).

Also times the large structure drawn as lines. A Markdown block goes to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common  # puts the repository on sys.path

from core.protein.structure import load_for_display
from core.protein.synthetic import replicate_pdb, synthetic_complex_pdb
from ui.protein.scene import ProteinScene, offscreen_render_window, tune_for_software_rendering


def measure(path: Path, frames: int, style: str | None = None) -> dict:
    started = time.perf_counter()
    structure = load_for_display(path)  # as the panel's job does: parse, bonds, cartoon mesh
    loaded = time.perf_counter()
    window = offscreen_render_window(1000, 800)
    scene = ProteinScene()
    window.AddRenderer(scene.renderer)
    scene.set_structure(structure)
    if style is not None:
        scene.set_layer_style("protein", style)
    scene.reset_camera()
    window.Render()
    tune_for_software_rendering(window, scene.renderer)  # as the panel does
    window.Render()
    first = time.perf_counter()
    camera = scene.renderer.GetActiveCamera()

    def frame_times() -> list[float]:
        times = []
        for _ in range(frames):
            camera.Azimuth(3.0)
            tick = time.perf_counter()
            window.Render()
            times.append(time.perf_counter() - tick)
        return times

    times = frame_times()
    lod_ms = float("nan")
    if scene.begin_interaction():  # what a drag shows on large structures: the CA trace
        window.Render()
        lod_ms = 1000 * statistics.median(frame_times())
        scene.end_interaction()
    window.Finalize()
    return {
        "atoms": structure.n_atoms,
        "layers": ", ".join(f"{k}: {v.style}" for k, v in scene.layers.items() if v.visible),
        "load_s": loaded - started,
        "first_frame_s": first - loaded,
        "frame_ms": 1000 * statistics.median(times),
        "fps": 1.0 / statistics.median(times),
        "lod_ms": lod_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--atoms", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    machine = _common.machine_info()  # the load average before the run
    folder = Path(tempfile.mkdtemp(prefix="bench-protein-"))
    small = folder / "complex.pdb"
    small.write_text(synthetic_complex_pdb())
    large = folder / "large.pdb"
    large.write_text(replicate_pdb(synthetic_complex_pdb(), args.atoms))
    rows = []
    for label, path, style in (
        ("small complex", small, None),
        ("large (default)", large, None),
        ("large as lines", large, "lines"),
    ):
        print(f"measuring {label}…", file=sys.stderr)
        rows.append((label, measure(path, args.frames, style)))
    print("### Protein viewer: load, first frame, frame time\n")
    print(f"- Command: `python benchmarks/bench_protein.py --atoms {args.atoms} "
          f"--frames {args.frames}` (off screen, 1000×800, Mesa llvmpipe through EGL)\n")  # fmt: skip
    print("| structure | atoms | drawn | load s | first frame s | frame ms, full (fps) "
          "| frame ms while rotating (LOD trace) |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|")
    for label, r in rows:
        lod = "–" if r["lod_ms"] != r["lod_ms"] else f"{r['lod_ms']:.1f}"
        print(f"| {label} | {r['atoms']:,} | {r['layers']} | {r['load_s']:.2f} | "
              f"{r['first_frame_s']:.2f} | {r['frame_ms']:.1f} ({r['fps']:.0f}) | {lod} |")  # fmt: skip
    print()
    print(_common.machine_markdown(machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
