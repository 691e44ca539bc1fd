"""``drugdesk structure FILE --info / --render``: the JSON summary and an off-screen picture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.protein.synthetic import synthetic_complex_pdb

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def complex_pdb(tmp_path) -> Path:
    path = tmp_path / "complex.pdb"
    path.write_text(synthetic_complex_pdb())
    return path


def _png_pixels(path: Path) -> np.ndarray:
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOImage import vtkPNGReader

    reader = vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    width, height, _ = image.GetDimensions()
    scalars = image.GetPointData().GetScalars()
    return vtk_to_numpy(scalars).reshape(height, width, -1)[:, :, :3].astype(int)


def _blue(p):  # chain A (Tableau blue), shaded
    return (p[..., 2] - p[..., 0] > 60) & (p[..., 2] > p[..., 1])


def _orange(p):  # chain B (Tableau orange), shaded
    return (p[..., 0] - p[..., 2] > 90) & (p[..., 0] > p[..., 1] + 30) & (p[..., 1] > 40)


def test_info_prints_chains_ligands_waters_models(complex_pdb):
    done = subprocess.run(
        [sys.executable, "main.py", "structure", str(complex_pdb), "--info"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert [(c["id"], c["residues"]) for c in info["chains"]] == [("A", 29), ("B", 29)]
    assert info["ligands"] == [{"name": "LIG", "chain": "A", "resnum": 101, "atoms": 9}]
    assert info["waters"] == 4
    assert info["models"] == 1


def test_render_draws_the_chain_colours(complex_pdb, tmp_path):
    out = tmp_path / "pictures" / "complex.png"
    assert main(["structure", str(complex_pdb), "--render", str(out), "--width", "480",
                 "--height", "360"]) == 0  # fmt: skip
    pixels = _png_pixels(out)
    assert pixels.shape == (360, 480, 3)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # shaded, not one flat colour
    assert _blue(pixels).mean() > 0.01
    assert _orange(pixels).mean() > 0.01


def test_render_styles_and_colours_differ(complex_pdb, tmp_path):
    pictures = {}
    for style, color in (("cartoon", "ss"), ("sticks", "chain"), ("surface", "chain")):
        out = tmp_path / f"{style}-{color}.png"
        assert main(["structure", str(complex_pdb), "--render", str(out), "--style", style,
                     "--color", color, "--width", "320", "--height", "240"]) == 0  # fmt: skip
        pictures[style] = _png_pixels(out)
    ss = pictures["cartoon"]
    magenta = (ss[..., 0] > 120) & (ss[..., 2] > ss[..., 1] + 25) & (ss[..., 0] > ss[..., 2] + 30)
    assert magenta.mean() > 0.005  # helices in the secondary-structure colour
    assert _blue(ss).mean() < 0.001  # and no chain colour left
    covered = {k: (np.abs(v - v[0:1, 0:1]).max(axis=2) > 30).mean() for k, v in pictures.items()}
    assert covered["surface"] > covered["sticks"]  # the surface covers more of the picture


def test_errors_exit_with_1_for_data_and_2_for_usage(tmp_path, capsys):
    bad = tmp_path / "bad.pdb"
    bad.write_text("not a structure\n")
    assert main(["structure", str(bad), "--info"]) == 1
    assert "bad.pdb" in capsys.readouterr().err
    good = tmp_path / "good.pdb"
    good.write_text(synthetic_complex_pdb())
    assert main(["structure", str(good)]) == 2
    assert "--info" in capsys.readouterr().err
    assert main(["structure", str(good), "--render", str(tmp_path / "x.jpg")]) == 2
    assert main(["structure", str(good), "--info", "--model", "0"]) == 2
    assert main(["structure", str(good), "--info", "--width", "9"]) == 2
    assert main(["structure", str(good), "--info", "--colour", "chain"]) == 2  # argparse
    capsys.readouterr()
    assert main(["structure", str(tmp_path / "missing.pdb"), "--info"]) == 1
    assert main(["structure", str(good), "--info", "--model", "2"]) == 1  # the file has one
    err = capsys.readouterr().err
    assert "model 2 does not exist" in err
    assert all(line.startswith("drugdesk structure: error: ") for line in err.splitlines())


def test_a_closed_pipe_ends_quietly(complex_pdb):
    # `drugdesk structure FILE --info | head -1`: the reader goes away before the JSON is written.
    process = subprocess.Popen(
        [sys.executable, "main.py", "structure", str(complex_pdb), "--info"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    process.stdout.close()  # closed before the command can have written anything
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 141  # 128 + SIGPIPE, as a shell reports for `cat`
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
