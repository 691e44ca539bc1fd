"""2D structure pictures (SVG and PNG) drawn by RDKit, with a cache.

Pictures are keyed by SMILES and size, so scrolling back over rows already seen costs nothing.
Returns ``None`` for SMILES that do not parse instead of raising: a table cell has nothing to draw.
"""

from __future__ import annotations

from functools import lru_cache

from rdkit import Chem, rdBase
from rdkit.Chem import rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D

rdDepictor.SetPreferCoordGen(True)


def _mol_for_drawing(smiles: str) -> Chem.Mol | None:
    if not smiles:
        return None
    quiet = rdBase.BlockLogs()  # noqa: F841 (RDKit logs stay off while it lives)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    try:
        return rdMolDraw2D.PrepareMolForDrawing(mol)
    except (RuntimeError, ValueError):
        return None


def _draw(drawer: rdMolDraw2D.MolDraw2D, mol: Chem.Mol, highlight_atoms: tuple[int, ...]) -> None:
    options = drawer.drawOptions()
    options.clearBackground = True
    options.addStereoAnnotation = False
    options.fixedBondLength = 30
    drawer.DrawMolecule(mol, highlightAtoms=list(highlight_atoms) or None)
    drawer.FinishDrawing()


@lru_cache(maxsize=4096)
def molecule_png(smiles: str, width: int = 200, height: int = 150) -> bytes | None:
    """A PNG picture of ``smiles``, or ``None`` when it does not parse."""
    mol = _mol_for_drawing(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DCairo(width, height)
    _draw(drawer, mol, ())
    return drawer.GetDrawingText()


@lru_cache(maxsize=1024)
def molecule_svg(
    smiles: str, width: int = 300, height: int = 220, highlight_atoms: tuple[int, ...] = ()
) -> str | None:
    """An SVG picture of ``smiles`` (optionally with atoms highlighted), or ``None``."""
    mol = _mol_for_drawing(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    _draw(drawer, mol, highlight_atoms)
    return drawer.GetDrawingText()


def clear_cache() -> None:
    molecule_png.cache_clear()
    molecule_svg.cache_clear()
