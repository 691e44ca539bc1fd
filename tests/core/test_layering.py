"""core/ never imports the GUI layers (Qt, VTK, pyqtgraph) nor ``ui`` or ``app``.

Two checks: every import statement in core/ (top level or inside functions, absolute or relative),
and what actually lands in ``sys.modules`` when every core module is imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE = REPO_ROOT / "core"
FORBIDDEN = ("PySide6", "shiboken6", "vtk", "vtkmodules", "pyqtgraph", "ui", "app")


def _is_forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, path: Path) -> list[str]:
    """Absolute names of the modules an ``from … import …`` may load."""
    if node.level == 0:
        base = node.module or ""
    else:
        package = _module_name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        base = ".".join([*package, *([node.module] if node.module else [])])
    names = [base] if base else []
    # "from . import ui" or "from .. import app" name modules in the imported names.
    names += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return names


def forbidden_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = _resolve(node, path)
            if node.level == 0:
                modules = modules[:1]  # "from rdkit import Chem": only the module matters
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules = [node.args[0].value]
        for module in modules:
            if _is_forbidden(module):
                found.append(
                    (node.lineno, f"{path.relative_to(REPO_ROOT)}:{node.lineno}: imports {module}")
                )
    return [text for _, text in sorted(found)]


def test_core_has_python_files():
    files = sorted(CORE.rglob("*.py"))
    assert CORE / "chem" / "library.py" in files
    assert len(files) >= 12


def test_no_forbidden_import_statement_in_core():
    problems = [p for path in sorted(CORE.rglob("*.py")) for p in forbidden_imports(path)]
    assert problems == [], "core/ must not import GUI layers:\n" + "\n".join(problems)


def test_the_checker_finds_forbidden_imports(tmp_path, monkeypatch):
    fake_root = tmp_path
    package = fake_root / "core" / "chem"
    package.mkdir(parents=True)
    source = package / "bad.py"
    source.write_text(
        "import os\n"
        "from rdkit import Chem\n"
        "import PySide6.QtCore\n"
        "def f():\n"
        "    from vtkmodules.vtkRenderingCore import vtkActor\n"
        "    import pyqtgraph as pg\n"
        "from ... import app\n"
        "from ...ui.tables import x\n"
        "import importlib\n"
        "importlib.import_module('shiboken6')\n"
        "import uikit\n"
        "import apptools\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", fake_root)
    assert forbidden_imports(source) == [
        "core/chem/bad.py:3: imports PySide6.QtCore",
        "core/chem/bad.py:5: imports vtkmodules.vtkRenderingCore",
        "core/chem/bad.py:6: imports pyqtgraph",
        "core/chem/bad.py:7: imports app",
        "core/chem/bad.py:8: imports ui.tables",
        "core/chem/bad.py:8: imports ui.tables.x",
        "core/chem/bad.py:10: imports shiboken6",
    ]


IMPORT_ALL = """
import importlib, json, pkgutil, sys
import core
names = ["core"]
for info in pkgutil.walk_packages(core.__path__, "core."):
    importlib.import_module(info.name)
    names.append(info.name)
forbidden = {forbidden!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({{"imported": names, "forbidden_loaded": loaded}}))
"""


def test_importing_every_core_module_loads_no_gui_module():
    code = IMPORT_ALL.format(forbidden=FORBIDDEN)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "core.chem.library" in report["imported"]
    assert "core.compute" in report["imported"]
    expected = {_module_name(p) for p in CORE.rglob("*.py")}
    assert set(report["imported"]) == expected
    assert report["forbidden_loaded"] == []


def test_the_version_is_said_once():
    """``core.__version__`` (About box, ``--version``) and ``pyproject.toml`` agree."""
    import tomllib

    import core

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["version"] == core.__version__
