"""A VTK scene of RDKit molecules: the adapter between core molecules and VTK actors.

``MoleculeScene`` owns a ``vtkRenderer`` and one actor per molecule, keyed by a name, so the
conformer viewer (one molecule, the selected conformer) and later the protein viewer (a ligand
beside a protein) share it. It knows no widget or panel: whoever shows the renderer calls
:meth:`MoleculeScene.set_molecule` (or :meth:`add_molecule`) when its molecule changes, then renders.

The ``vtkMolecule`` is built from the RDKit molecule itself, hydrogens and bond orders included
(``vtkPDBReader`` drops the hydrogens and bonds of RDKit-written PDB files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import vtkPoints, vtkUnsignedShortArray
from vtkmodules.vtkCommonDataModel import vtkMolecule
from vtkmodules.vtkDomainsChemistry import vtkMoleculeMapper

# The OpenGL mapper draws atoms and bonds as impostors (fast for a protein's atoms); importing the
# module also registers it as vtkMoleculeMapper's implementation.
from vtkmodules.vtkDomainsChemistryOpenGL2 import vtkOpenGLMoleculeMapper
from vtkmodules.vtkRenderingCore import vtkActor, vtkRenderer

STYLES: dict[str, str] = {
    "ball_and_stick": "Ball and stick",
    "sticks": "Sticks",
    "spheres": "Spheres",
}
"""Drawing styles: key → label for menus."""

CURRENT = "current"
"""The key :meth:`MoleculeScene.set_molecule` uses."""

BACKGROUND_TOP = (0.80, 0.84, 0.89)
ATOM_MARGIN = 1.0
"""Å added around atom centres when fitting the view (atoms have a radius)."""
VIEW_ANGLE = 30.0
"""Degrees, VTK's default."""
FILL = 0.85
"""Share of the view's width or height the molecule fills after :meth:`MoleculeScene.reset_camera`."""
BACKGROUND_BOTTOM = (0.97, 0.97, 0.98)


def vtk_molecule(mol: Chem.Mol, conf_id: int = -1) -> vtkMolecule:
    """A ``vtkMolecule`` of ``mol``'s atoms (all of them, at conformer ``conf_id``) and bonds.

    Aromatic bonds are drawn as the Kekulé structure's single and double bonds.
    """
    if mol.GetNumConformers() == 0:
        raise ValueError("The molecule has no coordinates to draw.")
    positions = np.ascontiguousarray(mol.GetConformer(conf_id).GetPositions(), dtype=np.float64)
    points = vtkPoints()
    points.SetData(numpy_to_vtk(positions, deep=True))
    numbers = vtkUnsignedShortArray()
    numbers.SetName("Atomic Numbers")
    numbers.SetNumberOfTuples(mol.GetNumAtoms())
    for atom in mol.GetAtoms():
        numbers.SetValue(atom.GetIdx(), atom.GetAtomicNum())
    molecule = vtkMolecule()
    molecule.Initialize(points, numbers, None)
    for begin, end, order in _bond_orders(mol):
        molecule.AppendBond(begin, end, order)
    return molecule


def _bond_orders(mol: Chem.Mol) -> list[tuple[int, int, int]]:
    kekule = Chem.Mol(mol)
    try:
        Chem.Kekulize(kekule, clearAromaticFlags=True)
    except Exception:  # an aromatic system RDKit cannot kekulise: draw its bonds as single
        kekule = mol
    bonds = []
    for bond in kekule.GetBonds():
        order = round(bond.GetBondTypeAsDouble()) if not bond.GetIsAromatic() else 1
        bonds.append((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), min(max(order, 1), 3)))
    return bonds


def _apply_style(mapper: vtkMoleculeMapper, style: str) -> None:
    if style == "ball_and_stick":
        mapper.UseBallAndStickSettings()
    elif style == "sticks":
        mapper.UseLiquoriceStickSettings()
    elif style == "spheres":
        mapper.UseVDWSpheresSettings()
    else:
        raise ValueError(f"Unknown style {style!r}: choose one of {', '.join(STYLES)}.")


@dataclass(slots=True)
class _Entry:
    positions: np.ndarray
    molecule: vtkMolecule
    mapper: vtkMoleculeMapper
    actor: vtkActor
    style: str


class MoleculeScene:
    """Molecules drawn in one ``vtkRenderer``, each under a key, each in its own style.

    Parameters
    ----------
    renderer
        The renderer to fill; a new one with a light gradient background when omitted. Add it to a
        render window (``create_interactor(...).GetRenderWindow().AddRenderer(scene.renderer)``).
    """

    def __init__(self, renderer: vtkRenderer | None = None) -> None:
        if renderer is None:
            renderer = vtkRenderer()
            renderer.GradientBackgroundOn()
            renderer.SetBackground(*BACKGROUND_BOTTOM)
            renderer.SetBackground2(*BACKGROUND_TOP)
        self._renderer = renderer
        self._entries: dict[str, _Entry] = {}
        self._style = "ball_and_stick"

    @property
    def renderer(self) -> vtkRenderer:
        return self._renderer

    @property
    def style(self) -> str:
        """The style of :meth:`set_molecule` and of molecules added without one."""
        return self._style

    def keys(self) -> list[str]:
        return list(self._entries)

    def actor(self, key: str = CURRENT) -> vtkActor | None:
        entry = self._entries.get(key)
        return entry.actor if entry else None

    def set_molecule(self, mol: Chem.Mol | None, conf_id: int = -1) -> None:
        """Show ``mol`` at conformer ``conf_id`` as the scene's current molecule (``None`` hides it)."""
        if mol is None:
            self.remove(CURRENT)
        else:
            self.add_molecule(CURRENT, mol, conf_id, self._style)

    def add_molecule(
        self, key: str, mol: Chem.Mol, conf_id: int = -1, style: str | None = None
    ) -> vtkActor:
        """Draw ``mol`` under ``key``, replacing what was drawn there (its style is kept)."""
        style = style or (self._entries[key].style if key in self._entries else self._style)
        molecule = vtk_molecule(mol, conf_id)
        entry = self._entries.get(key)
        if entry is None:
            mapper = vtkOpenGLMoleculeMapper()
            actor = vtkActor()
            actor.SetMapper(mapper)
            entry = _Entry(np.empty((0, 3)), molecule, mapper, actor, style)
            self._entries[key] = entry
            self._renderer.AddActor(actor)
        entry.molecule = molecule
        entry.positions = mol.GetConformer(conf_id).GetPositions()
        entry.mapper.SetInputData(molecule)
        entry.style = style
        _apply_style(entry.mapper, style)
        return entry.actor

    def remove(self, key: str) -> bool:
        """Stop drawing ``key``; returns whether it was drawn."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._renderer.RemoveActor(entry.actor)
        return True

    def clear(self) -> None:
        """Remove every molecule."""
        for key in list(self._entries):
            self.remove(key)

    def set_style(self, style: str, key: str | None = None) -> None:
        """Draw ``key`` (or, when ``None``, every molecule and the ones to come) in ``style``."""
        if style not in STYLES:
            raise ValueError(f"Unknown style {style!r}: choose one of {', '.join(STYLES)}.")
        if key is None:
            self._style = style
            entries = list(self._entries.values())
        else:
            entries = [self._entries[key]]
        for entry in entries:
            entry.style = style
            _apply_style(entry.mapper, style)

    def reset_camera(self) -> None:
        """Look at everything drawn across its flattest side, its longest extent horizontal."""
        camera = self._renderer.GetActiveCamera()
        positions = [entry.positions for entry in self._entries.values()]
        if not positions:
            self._renderer.ResetCamera()
            return
        points = np.concatenate(positions)
        centre = points.mean(axis=0)
        # Principal axes, longest first: look along the shortest, with the second one upwards.
        if len(points) >= 2:
            _, _, axes = np.linalg.svd(points - centre, full_matrices=False)
            if len(axes) == 2:  # two atoms: any third axis across them does
                axes = np.vstack([axes, np.cross(axes[0], axes[1])])
        else:
            axes = np.eye(3)
        view_direction = np.cross(axes[0], axes[1])
        # Far enough that the projected extent fills FILL of the view's height or width.
        projected = (points - centre) @ axes.T
        half_width, half_height = np.abs(projected[:, :2]).max(axis=0) + ATOM_MARGIN
        width, height = self._renderer.GetSize()
        aspect = width / height if width > 0 and height > 0 else 1.0
        needed = max(half_height, half_width / aspect) / FILL
        half_angle = np.radians(VIEW_ANGLE / 2)
        depth = np.abs(projected[:, 2]).max() + ATOM_MARGIN
        distance = needed / np.tan(half_angle) + depth
        camera.SetViewAngle(VIEW_ANGLE)  # camera.Zoom narrows it
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre + distance * view_direction / np.linalg.norm(view_direction)))
        camera.SetViewUp(*axes[1])
        self._renderer.ResetCameraClippingRange()

    def render(self) -> None:
        """Render the window the renderer is in (nothing when it is in none)."""
        window = self._renderer.GetRenderWindow()
        if window is not None:
            window.Render()
