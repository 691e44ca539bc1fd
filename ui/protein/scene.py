"""The VTK scene of a protein structure: the adapter between ``core.protein`` and VTK actors.

``ProteinScene`` owns a ``vtkRenderer`` and draws a :class:`core.protein.structure.ProteinStructure`
as *layers*: a layer is a set of atoms in one representation (cartoon, lines, sticks,
ball-and-stick, spheres, surface) and one colour scheme, drawn from **one** ``vtkPolyData`` (not one
actor per atom), so 100,000 atoms stay fast. The default for a complex is protein cartoon + ligand
sticks + binding-pocket side chains as sticks (+ nucleic-acid bases as sticks with filled rings);
above :data:`LARGE_ATOMS` atoms only the cartoon (or lines), the ligands and the bases (lines and
filled rings) are drawn. Ligand–protein contacts (:mod:`core.protein.contacts`) are dashed tubes in their kind's
colour with their distance, and a clicked atom gets its residue's label beside it.

No Qt here: the panel shows :attr:`ProteinScene.renderer` in a QVTK widget, and the command line
renders it in an off-screen window (:func:`render_to_png`). Library molecules placed beside the
protein go through :class:`ui.molecules.scene.MoleculeScene` on the same renderer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Registers the OpenGL implementations of the mappers and text rendering.
import vtkmodules.vtkRenderingFreeType
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkTubeFilter
from vtkmodules.vtkFiltersSources import vtkLineSource, vtkSphereSource
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkBillboardTextActor3D,
    vtkGlyph3DMapper,
    vtkPointGaussianMapper,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkWorldPointPicker,
)

import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  isort: skip

from core.protein.cartoon import cached_cartoon_mesh
from core.protein.colors import LIGAND_CARBON, atom_colors, element_colors
from core.protein.structure import LIGAND, POLYMER, WATER, ProteinStructure
from core.protein.surface import density_grid
from ui.molecules.scene import BACKGROUND_BOTTOM, BACKGROUND_TOP, MoleculeScene

STYLES: dict[str, str] = {
    "cartoon": "Cartoon",
    "lines": "Lines",
    "sticks": "Sticks",
    "ball_and_stick": "Ball and stick",
    "spheres": "Spheres",
    "surface": "Surface",
}
LARGE_ATOMS = 30_000
"""Above this many atoms the default drawing is cartoon (or lines) and ligands only, and while the
user rotates or zooms a CA trace stands in for the big layers (:meth:`ProteinScene.begin_interaction`)."""
HEAVY_LAYER_ATOMS = 5_000
"""Layers with more atoms than this are swapped for the CA trace during interaction."""
VDW_RADII = {"H": 1.1, "C": 1.7, "N": 1.55, "O": 1.52, "S": 1.8, "P": 1.8}
PICK_RADIUS = 2.5
"""Å: a click counts on an atom when the surface point under the cursor lies this close."""
SELECTION_COLOR = (1.0, 0.9, 0.1)
MEASURE_COLOR = (0.95, 0.35, 0.9)
POCKET_CARBON = (0.72, 0.74, 0.78)
CONTACT_RADIUS = 0.06
DASH, GAP = 0.28, 0.2
"""Å: the dashes of a contact line and the gaps between them."""
BACKBONE_NAMES = frozenset({"N", "C", "O", "OXT"})
"""Main-chain atoms left out of pocket sticks (the cartoon draws the backbone; CA stays, so
each side chain meets the ribbon)."""
NUCLEOTIDES = frozenset(
    {"A", "C", "G", "U", "T", "I", "DA", "DC", "DG", "DT", "DU", "DI", "PSU", "5MC", "OMC",
     "OMG", "1MA", "2MG", "7MG", "M2G", "H2U", "5MU", "4SU"}
)  # fmt: skip
PHOSPHATE_OXYGENS = frozenset({"OP1", "OP2", "OP3", "O1P", "O2P", "O3P"})
BASE_RINGS = (("N1", "C2", "N3", "C4", "C5", "C6"), ("C4", "C5", "N7", "C8", "N9"))


@dataclass(slots=True)
class Layer:
    """Atoms drawn in one style and colour scheme; ``actors`` are what VTK draws."""

    key: str
    atoms: np.ndarray
    style: str
    color: str
    carbon: tuple[float, float, float] | None = None
    """Element colours with this carbon colour (ligands, pocket) instead of ``color``."""
    visible: bool = True
    slabs: bool = False
    """Also fill the nucleic-acid base rings of the layer's residues (a flat slab per ring)."""
    actors: list[vtkActor] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Polydata builders (numpy → one vtkPolyData each)


def _rgb_array(colors: np.ndarray):
    array = numpy_to_vtk(np.clip(colors * 255, 0, 255).astype(np.uint8), deep=True)
    array.SetName("colors")
    return array


def _cells(connectivity: np.ndarray, per_cell: int) -> vtkCellArray:
    cells = vtkCellArray()
    n = len(connectivity)
    offsets = np.arange(0, (n + 1) * per_cell, per_cell, dtype=np.int64)
    cells.SetData(
        numpy_to_vtkIdTypeArray(offsets, deep=True),
        numpy_to_vtkIdTypeArray(
            np.ascontiguousarray(connectivity.ravel(), dtype=np.int64), deep=True
        ),
    )
    return cells


def half_bond_polydata(coords: np.ndarray, colors: np.ndarray, bonds: np.ndarray) -> vtkPolyData:
    """Each bond as two segments meeting at its midpoint, each coloured as its atom."""
    a, b = bonds[:, 0], bonds[:, 1]
    middle = (coords[a] + coords[b]) / 2
    points = np.concatenate([coords[a], middle, middle, coords[b]]).astype(np.float64)
    point_colors = np.concatenate([colors[a], colors[a], colors[b], colors[b]])
    n = len(bonds)
    lines = np.concatenate(
        [np.stack([np.arange(n), n + np.arange(n)], axis=1),
         np.stack([2 * n + np.arange(n), 3 * n + np.arange(n)], axis=1)]
    )  # fmt: skip
    data = vtkPolyData()
    vtk_points = vtkPoints()
    vtk_points.SetData(numpy_to_vtk(points, deep=True))
    data.SetPoints(vtk_points)
    data.SetLines(_cells(lines, 2))
    data.GetPointData().SetScalars(_rgb_array(point_colors))
    return data


def point_polydata(coords: np.ndarray, colors: np.ndarray, scale: np.ndarray | None = None):
    data = vtkPolyData()
    vtk_points = vtkPoints()
    vtk_points.SetData(numpy_to_vtk(np.ascontiguousarray(coords, dtype=np.float64), deep=True))
    data.SetPoints(vtk_points)
    data.GetPointData().SetScalars(_rgb_array(colors))
    if scale is not None:
        radii = numpy_to_vtk(np.ascontiguousarray(scale, dtype=np.float64), deep=True)
        radii.SetName("radius")
        data.GetPointData().AddArray(radii)
    return data


def mesh_polydata(points, normals, triangles, colors) -> vtkPolyData:
    data = vtkPolyData()
    vtk_points = vtkPoints()
    vtk_points.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float32), deep=True))
    data.SetPoints(vtk_points)
    data.SetPolys(_cells(triangles, 3))
    if normals is not None:
        vtk_normals = numpy_to_vtk(np.ascontiguousarray(normals, dtype=np.float32), deep=True)
        vtk_normals.SetName("Normals")
        data.GetPointData().SetNormals(vtk_normals)
    data.GetPointData().SetScalars(_rgb_array(colors))
    return data


def _actor_for(data, mapper=None) -> vtkActor:
    if mapper is None:
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(data)
    mapper.SetScalarModeToUsePointData()
    mapper.SetColorModeToDirectScalars()
    actor = vtkActor()
    actor.SetMapper(mapper)
    return actor


IMPOSTOR_ATOMS = 1_500
"""Above this many spheres in one layer, draw them as shaded point sprites (one draw call;
about six times faster than instanced sphere meshes under software OpenGL)."""

_SPHERE_SPLAT = """//VTK::Color::Impl
  float dist = dot(offsetVCVSOutput.xy, offsetVCVSOutput.xy);
  if (dist > 1.0) {
    discard;
  } else {
    float scale = sqrt(1.0 - dist);
    ambientColor *= scale;
    diffuseColor *= scale;
  }
"""


def _sphere_actor(coords, colors, radii) -> vtkActor:
    """Spheres at ``coords``: instanced meshes for small sets, sprites for large ones."""
    data = point_polydata(coords, colors, radii)
    if len(coords) > IMPOSTOR_ATOMS:
        mapper = vtkPointGaussianMapper()
        mapper.SetInputData(data)
        mapper.SetScaleArray("radius")
        mapper.SetScaleFactor(1.0)
        mapper.EmissiveOff()
        mapper.SetSplatShaderCode(_SPHERE_SPLAT)
    else:
        sphere = vtkSphereSource()
        sphere.SetThetaResolution(12)
        sphere.SetPhiResolution(12)
        sphere.SetRadius(1.0)
        mapper = vtkGlyph3DMapper()
        mapper.SetInputData(data)
        mapper.SetSourceConnection(sphere.GetOutputPort())
        mapper.SetScaleArray("radius")
        mapper.SetScaleModeToScaleByMagnitude()
    mapper.SetScalarModeToUsePointData()
    mapper.SetColorModeToDirectScalars()
    actor = vtkActor()
    actor.SetMapper(mapper)
    return actor


def _tube_actor(data: vtkPolyData, radius: float, sides: int = 8) -> vtkActor:
    tubes = vtkTubeFilter()
    tubes.SetInputData(data)
    tubes.SetRadius(radius)
    tubes.SetNumberOfSides(sides)
    tubes.CappingOff()
    mapper = vtkPolyDataMapper()
    mapper.SetInputConnection(tubes.GetOutputPort())
    return _actor_for(None, mapper)


# ----------------------------------------------------------------------------------------------
# Molecules placed beside the protein


class PlacedMolecules(MoleculeScene):
    """The :class:`MoleculeScene` of a protein view that also keeps each molecule it draws, so
    that their contacts with the protein can be found; ``listeners`` are called (no arguments)
    after every change."""

    def __init__(self, renderer: vtkRenderer | None = None) -> None:
        super().__init__(renderer)
        self.mols: dict = {}
        self.listeners: list = []

    def add_molecule(self, key, mol, conf_id: int = -1, style: str | None = None):
        actor = super().add_molecule(key, mol, conf_id, style)
        self.mols[key] = (mol, conf_id)
        self._changed()
        return actor

    def remove(self, key: str) -> bool:
        removed = super().remove(key)
        if self.mols.pop(key, None) is not None:
            self._changed()
        return removed

    def molecule(self, key: str):
        """The RDKit molecule drawn under ``key`` with only the drawn conformer, or None."""
        from rdkit import Chem

        entry = self.mols.get(key)
        if entry is None:
            return None
        mol, conf_id = entry
        return Chem.Mol(mol, confId=mol.GetConformer(conf_id).GetId())

    def _changed(self) -> None:
        for listener in list(self.listeners):
            listener()


# ----------------------------------------------------------------------------------------------
# The scene


class ProteinScene:
    """A structure drawn in a ``vtkRenderer`` as layers, with selection, picking and distances."""

    def __init__(self, renderer: vtkRenderer | None = None) -> None:
        if renderer is None:
            renderer = vtkRenderer()
            renderer.GradientBackgroundOn()
            renderer.SetBackground(*BACKGROUND_BOTTOM)
            renderer.SetBackground2(*BACKGROUND_TOP)
        self._renderer = renderer
        self.structure: ProteinStructure | None = None
        self.layers: dict[str, Layer] = {}
        self.molecules = PlacedMolecules(renderer)
        self._selection_actors: list[vtkActor] = []
        self._measure_actors: list = []
        self._contact_actors: list = []
        self.contacts: list = []
        """The contacts drawn (``core.protein.contacts.Contact``), empty when none."""
        self.contacts_visible = True
        self._pick_label = None  # a vtkCaptionActor2D once an atom was picked
        self.selected_residues: list[int] = []
        self._tree = None
        self._picker = vtkWorldPointPicker()
        self.color_scheme = "chain"
        self._trace_actor: vtkActor | None = None
        self._interacting = False

    @property
    def renderer(self) -> vtkRenderer:
        return self._renderer

    # -- structure and layers --------------------------------------------------------------------
    def set_structure(self, structure: ProteinStructure | None, color: str | None = None) -> None:
        """Draw ``structure`` with the default layers (``None`` clears the scene)."""
        self.clear()
        self.structure = structure
        if structure is None:
            return
        if color is None:
            color = "plddt" if structure.looks_predicted() else "chain"
        self.color_scheme = color
        for layer in default_layers(structure, color):
            self.add_layer(layer)

    def clear(self) -> None:
        for key in list(self.layers):
            self.remove_layer(key)
        self.set_selection([])
        self.clear_measurements()
        self.clear_contacts()
        self.clear_pick_label()
        self.molecules.clear()
        self._tree = None
        self._remove_trace()

    def add_layer(self, layer: Layer) -> Layer:
        """Draw ``layer`` (replacing a layer with the same key)."""
        if layer.key in self.layers:
            self.remove_layer(layer.key)
        if layer.style not in STYLES:
            raise ValueError(f"Unknown style {layer.style!r}: choose one of {', '.join(STYLES)}.")
        self.layers[layer.key] = layer
        self._build(layer)
        self._tree = None
        return layer

    def remove_layer(self, key: str) -> bool:
        layer = self.layers.pop(key, None)
        if layer is None:
            return False
        for actor in layer.actors:
            self._renderer.RemoveActor(actor)
        self._tree = None
        return True

    def set_layer_style(self, key: str, style: str) -> None:
        layer = self.layers[key]
        if style not in STYLES:
            raise ValueError(f"Unknown style {style!r}: choose one of {', '.join(STYLES)}.")
        layer.style = style
        self._rebuild(layer)

    def set_layer_visible(self, key: str, visible: bool) -> None:
        layer = self.layers[key]
        layer.visible = visible
        for actor in layer.actors:
            actor.SetVisibility(visible)
        self._tree = None

    def set_color_scheme(self, scheme: str) -> None:
        """Colour the protein layers by ``scheme``; ligand and pocket layers keep element colours."""
        if self.structure is not None:
            atom_colors(self.structure, scheme)  # raises for unknown schemes
        self.color_scheme = scheme
        self._remove_trace()
        for layer in self.layers.values():
            if layer.carbon is None:
                layer.color = scheme
                self._rebuild(layer)

    def _rebuild(self, layer: Layer) -> None:
        for actor in layer.actors:
            self._renderer.RemoveActor(actor)
        layer.actors = []
        self._build(layer)
        self._tree = None

    def _layer_colors(self, layer: Layer) -> np.ndarray:
        s = self.structure
        if layer.carbon is not None:
            return element_colors(s.elements, layer.carbon)
        return atom_colors(s, layer.color)

    def _build(self, layer: Layer) -> None:
        s = self.structure
        if s is None or len(layer.atoms) == 0:
            return
        colors = self._layer_colors(layer)
        atoms = layer.atoms
        actors: list[vtkActor] = []
        if layer.style == "cartoon":
            residues = np.unique(s.atom_residue[atoms])
            mesh = cached_cartoon_mesh(s, residues)
            if mesh.n_triangles:
                residue_rgb = np.zeros((s.n_residues, 3))
                ca = s.ca_atoms()
                have = ca >= 0
                residue_rgb[have] = colors[ca[have]]
                actor = _actor_for(
                    mesh_polydata(
                        mesh.points, mesh.normals, mesh.triangles, residue_rgb[mesh.residues]
                    )
                )
                actor.GetProperty().SetSpecular(0.25)
                actor.GetProperty().SetSpecularPower(20)
                actors.append(actor)
            else:  # no backbone trace (a few residues, CA-less chains): fall back to lines
                layer.style = "lines"
        if layer.style in ("lines", "sticks", "ball_and_stick"):
            bonds = _bonds_within(s.bonds(), atoms, s.n_atoms)
            if len(bonds):
                data = half_bond_polydata(s.coords, colors, bonds)
                if layer.style == "lines":
                    actor = _actor_for(data)
                    actor.GetProperty().SetLineWidth(2.0)
                    actor.GetProperty().LightingOff()
                else:
                    radius = 0.2 if layer.style == "sticks" else 0.12
                    actor = _tube_actor(data, radius, 8 if len(atoms) <= IMPOSTOR_ATOMS else 5)
                actors.append(actor)
            if layer.style != "lines":
                radius = 0.2 if layer.style == "sticks" else 0.38
                actors.append(
                    _sphere_actor(s.coords[atoms], colors[atoms], np.full(len(atoms), radius))
                )
            lonely = _unbonded(atoms, bonds)
            if layer.style == "lines" and len(lonely):
                actors.append(
                    _sphere_actor(s.coords[lonely], colors[lonely], np.full(len(lonely), 0.3))
                )
        elif layer.style == "spheres":
            radii = np.array([VDW_RADII.get(e, 1.8) for e in s.elements[atoms]])
            actors.append(_sphere_actor(s.coords[atoms], colors[atoms], radii))
        elif layer.style == "surface":
            actors.append(_surface_actor(s.coords[atoms], colors[atoms]))
        if layer.slabs:
            slab = _base_slab_actor(s, np.unique(s.atom_residue[atoms]), colors)
            if slab is not None:
                actors.append(slab)
        for actor in actors:
            actor.SetVisibility(layer.visible)
            self._renderer.AddActor(actor)
        layer.actors = actors

    # -- level of detail during interaction -------------------------------------------------------
    def uses_interactive_lod(self) -> bool:
        return self.structure is not None and self.structure.n_atoms > LARGE_ATOMS

    def _remove_trace(self) -> None:
        if self._trace_actor is not None:
            self._renderer.RemoveActor(self._trace_actor)
            self._trace_actor = None

    def _build_trace(self) -> vtkActor | None:
        """Lines through the CA atoms of every chain, in the protein layer's colours."""
        s = self.structure
        from core.protein.structure import backbone_segments

        ca = s.ca_atoms()
        pairs = [np.stack([ca[seg[:-1]], ca[seg[1:]]], axis=1) for seg in backbone_segments(s)]
        if not pairs:
            return None
        bonds = np.concatenate(pairs)
        colors = atom_colors(s, self.color_scheme)
        actor = _actor_for(half_bond_polydata(s.coords, colors, bonds))
        actor.GetProperty().SetLineWidth(3.0)
        actor.GetProperty().LightingOff()
        return actor

    def begin_interaction(self) -> bool:
        """While rotating or zooming a large structure, draw a CA trace instead of its big layers
        (level of detail); returns whether anything was swapped."""
        if self._interacting or not self.uses_interactive_lod():
            return False
        heavy = [layer for layer in self.layers.values()
                 if layer.visible and len(layer.atoms) > HEAVY_LAYER_ATOMS]  # fmt: skip
        if not heavy:
            return False
        if self._trace_actor is None:
            self._trace_actor = self._build_trace()
            if self._trace_actor is None:
                return False
            self._renderer.AddActor(self._trace_actor)
        self._interacting = True
        for layer in heavy:
            for actor in layer.actors:
                actor.SetVisibility(False)
        self._trace_actor.SetVisibility(True)
        return True

    def end_interaction(self) -> bool:
        """Back to the full drawing; returns whether it had been swapped."""
        if not self._interacting:
            return False
        self._interacting = False
        for layer in self.layers.values():
            for actor in layer.actors:
                actor.SetVisibility(layer.visible)
        if self._trace_actor is not None:
            self._trace_actor.SetVisibility(False)
        return True

    # -- selection, picking, measuring ------------------------------------------------------------
    def set_selection(self, residues: list[int]) -> None:
        """Highlight ``residues`` (sticks in yellow over whatever else is drawn)."""
        for actor in self._selection_actors:
            self._renderer.RemoveActor(actor)
        self._selection_actors = []
        self.selected_residues = [int(r) for r in residues]
        s = self.structure
        if s is None or not residues:
            return
        atoms = np.concatenate([s.residue_atoms(int(r)) for r in residues])
        colors = np.tile(SELECTION_COLOR, (s.n_atoms, 1))
        bonds = _bonds_within(s.bonds(), atoms, s.n_atoms)
        if len(bonds):
            self._selection_actors.append(
                _tube_actor(half_bond_polydata(s.coords, colors, bonds), 0.26)
            )
        self._selection_actors.append(
            _sphere_actor(s.coords[atoms], colors[atoms], np.full(len(atoms), 0.3))
        )
        for actor in self._selection_actors:
            self._renderer.AddActor(actor)

    def visible_atoms(self) -> np.ndarray:
        """Atoms of visible layers (for cartoon layers: their CA atoms)."""
        s = self.structure
        if s is None:
            return np.empty(0, dtype=np.int64)
        parts = []
        for layer in self.layers.values():
            if not layer.visible:
                continue
            if layer.style == "cartoon":
                ca = s.ca_atoms()[np.unique(s.atom_residue[layer.atoms])]
                parts.append(ca[ca >= 0])
            else:
                parts.append(layer.atoms)
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def atom_near(self, point, max_distance: float = PICK_RADIUS) -> int | None:
        """The drawn atom closest to a world ``point``, if within ``max_distance`` Å."""
        from scipy.spatial import cKDTree

        if self.structure is None:
            return None
        if self._tree is None:
            atoms = self.visible_atoms()
            if len(atoms) == 0:
                return None
            self._tree = (cKDTree(self.structure.coords[atoms]), atoms)
        tree, atoms = self._tree
        distance, index = tree.query(np.asarray(point, dtype=np.float64))
        if not np.isfinite(distance) or distance > max_distance:
            return None
        return int(atoms[index])

    def pick(self, x: float, y: float) -> int | None:
        """The atom drawn at display position ``(x, y)`` (VTK's origin: bottom left), or ``None``."""
        if self.structure is None:
            return None
        self._picker.Pick(x, y, 0, self._renderer)
        point = np.array(self._picker.GetPickPosition())
        # Over the background the depth buffer is at the far plane: nothing there.
        return self.atom_near(point)

    def display_position(self, atom: int) -> tuple[float, float]:
        """Where ``atom`` appears in the render window (VTK display coordinates)."""
        self._renderer.SetWorldPoint(*self.structure.coords[atom], 1.0)
        self._renderer.WorldToDisplay()
        x, y, _ = self._renderer.GetDisplayPoint()
        return x, y

    def add_distance(self, a: int, b: int) -> float:
        """Draw a dashed-looking line between atoms ``a`` and ``b`` with its length; returns Å."""
        s = self.structure
        p, q = s.coords[a], s.coords[b]
        distance = float(np.linalg.norm(p - q))
        line = vtkLineSource()
        line.SetPoint1(*p)
        line.SetPoint2(*q)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(line.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*MEASURE_COLOR)
        actor.GetProperty().SetLineWidth(3)
        actor.GetProperty().SetLineStipplePattern(0xF0F0)
        label = vtkBillboardTextActor3D()
        label.SetInput(f"{distance:.2f} Å")
        label.SetPosition(*((p + q) / 2))
        label.GetTextProperty().SetFontSize(18)
        label.GetTextProperty().SetColor(0.2, 0.0, 0.25)
        label.GetTextProperty().BoldOn()
        for item in (actor, label):
            self._renderer.AddActor(item)
            self._measure_actors.append(item)
        return distance

    def clear_measurements(self) -> None:
        for item in self._measure_actors:
            self._renderer.RemoveActor(item)
        self._measure_actors = []

    # -- contacts, residue labels, the pocket ----------------------------------------------------
    def set_contacts(self, contacts: list) -> None:
        """Draw ``contacts`` (``core.protein.contacts.Contact``) as dashed tubes in their kind's
        colour, each polar one with its distance (hydrophobic ones thinner, unlabelled), and
        label each residue in contact once."""
        from core.protein.contacts import HYDROPHOBIC, KIND_COLORS, PI_STACKING

        self.clear_contacts()
        self.contacts = list(contacts)
        if not self.contacts:
            return
        starts = np.array([c.ligand_point for c in self.contacts], dtype=np.float64)
        ends = np.array([c.protein_point for c in self.contacts], dtype=np.float64)
        colors = np.array([KIND_COLORS[c.kind] for c in self.contacts], dtype=np.float64)
        # Hydrophobic contacts are many and weak: thinner dashes, their distance only in the
        # Site tab's table, so that the polar contacts read first.
        weak = np.array([c.kind == HYDROPHOBIC for c in self.contacts])
        items: list = []
        for mask, radius in ((~weak, CONTACT_RADIUS), (weak, 0.6 * CONTACT_RADIUS)):
            if mask.any():
                tubes = _tube_actor(
                    dashed_polydata(starts[mask], ends[mask], colors[mask]), radius, 6
                )
                tubes.GetProperty().SetAmbient(0.3)
                items.append(tubes)
        centroids = [c for c in self.contacts if c.kind == PI_STACKING]
        if centroids:  # the rings' centres, where π-stacking lines end
            points = np.array([p for c in centroids for p in (c.ligand_point, c.protein_point)])
            rgb = np.repeat(np.array([KIND_COLORS[PI_STACKING]]), len(points), axis=0)
            items.append(_sphere_actor(points, rgb, np.full(len(points), 0.18)))
        for contact, start, end in zip(self.contacts, starts, ends, strict=True):
            if contact.kind == HYDROPHOBIC:
                continue
            label = vtkBillboardTextActor3D()
            label.SetInput(f"{contact.distance:.1f}")
            label.SetPosition(*((start + end) / 2))
            text = label.GetTextProperty()
            text.SetFontSize(15)
            text.BoldOn()
            text.SetColor(*(0.75 * np.array(KIND_COLORS[contact.kind])))
            text.SetBackgroundColor(1.0, 1.0, 1.0)
            text.SetBackgroundOpacity(0.7)
            items.append(label)
        s = self.structure
        labelled: set[int] = set()
        for contact in self.contacts:
            if s is None or contact.residue in labelled:
                continue
            labelled.add(contact.residue)
            label = vtkBillboardTextActor3D()
            label.SetInput(contact.residue_label)
            label.SetPosition(*_label_position(s, contact.residue))
            text = label.GetTextProperty()
            text.SetFontSize(12)
            text.SetColor(0.1, 0.1, 0.12)
            text.SetBackgroundColor(1.0, 1.0, 1.0)
            text.SetBackgroundOpacity(0.5)
            items.append(label)
        for item in items:
            item.SetVisibility(self.contacts_visible)
            self._renderer.AddActor(item)
        self._contact_actors = items

    def set_contacts_visible(self, visible: bool) -> None:
        self.contacts_visible = visible
        for item in self._contact_actors:
            item.SetVisibility(visible)

    def clear_contacts(self) -> None:
        for item in self._contact_actors:
            self._renderer.RemoveActor(item)
        self._contact_actors = []
        self.contacts = []

    def contact_actors(self) -> list:
        """What draws the contacts (tubes, ring centres, distance and residue labels)."""
        return list(self._contact_actors)

    def show_pick_label(self, atom: int) -> str:
        """Label the residue of ``atom`` (``"ASP 25 A"``) beside it; returns the text.

        A caption drawn over the scene (never hidden behind a ribbon) with a leader line to the
        atom; it follows the atom as the view turns."""
        from vtkmodules.vtkRenderingAnnotation import vtkCaptionActor2D

        from core.protein.contacts import residue_label

        s = self.structure
        residue = int(s.atom_residue[atom])
        text = residue_label(s, residue)
        if self._pick_label is None:
            caption = vtkCaptionActor2D()
            caption.BorderOff()
            caption.LeaderOn()
            caption.ThreeDimensionalLeaderOff()
            caption.GetProperty().SetColor(0.15, 0.15, 0.2)
            caption.GetProperty().SetLineWidth(1.5)
            caption.GetTextActor().SetTextScaleModeToNone()
            prop = caption.GetCaptionTextProperty()
            prop.SetFontSize(16)
            prop.BoldOn()
            prop.ShadowOff()
            prop.ItalicOff()
            prop.SetColor(0.05, 0.05, 0.1)
            prop.SetBackgroundColor(1.0, 0.95, 0.6)
            prop.SetBackgroundOpacity(0.9)
            prop.SetFrame(True)
            prop.SetFrameColor(0.55, 0.5, 0.2)
            prop.SetJustificationToLeft()
            prop.SetVerticalJustificationToBottom()
            caption.SetPosition(18, 14)  # pixels from the atom, up and right
            caption.SetWidth(0.14)
            caption.SetHeight(0.045)
            self._pick_label = caption
            self._renderer.AddViewProp(caption)
        self._pick_label.SetCaption(text)
        self._pick_label.SetAttachmentPoint(*s.coords[atom])
        self._pick_label.SetVisibility(True)
        return text

    def pick_label_text(self) -> str:
        """The residue label shown for the last picked atom ("" when none)."""
        if self._pick_label is None or not self._pick_label.GetVisibility():
            return ""
        return self._pick_label.GetCaption() or ""

    def clear_pick_label(self) -> None:
        if self._pick_label is not None:
            self._renderer.RemoveViewProp(self._pick_label)
            self._pick_label = None

    def set_pocket(self, residues: list[int]) -> None:
        """Draw the side chains of ``residues`` as the pocket layer (its style and visibility
        kept), e.g. when another ligand is chosen; no residues removes the layer."""
        s = self.structure
        if s is None:
            return
        old = self.layers.get("pocket")
        if not residues:
            self.remove_layer("pocket")
            return
        atoms = pocket_atoms(s, residues)
        if old is not None and np.array_equal(old.atoms, atoms):
            return
        layer = Layer(
            "pocket",
            atoms,
            old.style if old is not None else "sticks",
            "element",
            carbon=POCKET_CARBON,
            visible=old.visible if old is not None else True,
        )
        self.add_layer(layer)

    # -- camera ----------------------------------------------------------------------------------
    def reset_camera(self) -> None:
        """Look at the whole structure across its flattest side."""
        s = self.structure
        if s is None or s.n_atoms == 0:
            self._renderer.ResetCamera()
            return
        self._look_at(s.coords[s.atom_kinds() != WATER] if s.n_waters < s.n_atoms else s.coords)

    def centre_on(self, residues: list[int], radius: float = 12.0) -> None:
        """Centre the view on ``residues`` (a ligand, a pocket), showing ``radius`` Å around them."""
        s = self.structure
        if s is None or not residues:
            return
        atoms = np.concatenate([s.residue_atoms(int(r)) for r in residues])
        centre = s.coords[atoms].mean(axis=0)
        camera = self._renderer.GetActiveCamera()
        direction = np.array(camera.GetPosition()) - np.array(camera.GetFocalPoint())
        norm = np.linalg.norm(direction)
        direction = direction / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
        extent = max(radius, float(np.abs(s.coords[atoms] - centre).max()) + 6.0)
        distance = extent / np.tan(np.radians(camera.GetViewAngle() / 2))
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre + distance * direction))
        self._renderer.ResetCameraClippingRange()

    def _look_at(self, points: np.ndarray) -> None:
        camera = self._renderer.GetActiveCamera()
        centre = points.mean(axis=0)
        if len(points) >= 3:
            sample = points[:: max(1, len(points) // 5000)]
            _, _, axes = np.linalg.svd(sample - centre, full_matrices=False)
        else:
            axes = np.eye(3)
        view = np.cross(axes[0], axes[1])
        projected = (points - centre) @ axes.T
        half_w, half_h = np.abs(projected[:, :2]).max(axis=0) + 2.0
        width, height = self._renderer.GetSize()
        aspect = width / height if width > 0 and height > 0 else 1.0
        needed = max(half_h, half_w / aspect) / 0.9
        camera.SetViewAngle(30.0)
        distance = needed / np.tan(np.radians(15.0)) + np.abs(projected[:, 2]).max() + 2.0
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre + distance * view / np.linalg.norm(view)))
        camera.SetViewUp(*axes[1])
        self._renderer.ResetCameraClippingRange()

    def render(self) -> None:
        window = self._renderer.GetRenderWindow()
        if window is not None:
            window.Render()


def _bonds_within(bonds: np.ndarray, atoms: np.ndarray, n_atoms: int) -> np.ndarray:
    inside = np.zeros(n_atoms, dtype=bool)
    inside[atoms] = True
    if len(bonds) == 0:
        return bonds
    return bonds[inside[bonds[:, 0]] & inside[bonds[:, 1]]]


def _unbonded(atoms: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    if len(bonds) == 0:
        return atoms
    return np.setdiff1d(atoms, bonds.ravel())


def _surface_actor(coords: np.ndarray, colors: np.ndarray) -> vtkActor:
    from scipy.spatial import cKDTree

    grid = density_grid(coords)
    image = vtkImageData()
    nx, ny, nz = grid.values.shape
    image.SetDimensions(nx, ny, nz)
    image.SetOrigin(*grid.origin)
    image.SetSpacing(grid.spacing, grid.spacing, grid.spacing)
    values = numpy_to_vtk(np.ascontiguousarray(grid.values.ravel(order="F")), deep=True)
    values.SetName("density")
    image.GetPointData().SetScalars(values)
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, grid.level)
    contour.ComputeNormalsOn()
    contour.Update()
    surface = contour.GetOutput()
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if surface.GetNumberOfPoints():
        points = vtk_to_numpy(surface.GetPoints().GetData())
        _, nearest = cKDTree(coords).query(points)
        surface.GetPointData().SetScalars(_rgb_array(colors[nearest]))
    actor = _actor_for(surface)
    actor.GetProperty().SetSpecular(0.2)
    return actor


def dashed_polydata(starts: np.ndarray, ends: np.ndarray, colors: np.ndarray) -> vtkPolyData:
    """Lines from each ``starts[i]`` to ``ends[i]`` cut into dashes (:data:`DASH` long,
    :data:`GAP` apart, centred on the line), coloured ``colors[i]``; one polydata for all."""
    points, point_colors, lines = [], [], []
    for start, end, rgb in zip(starts, ends, colors, strict=True):
        vector = end - start
        length = float(np.linalg.norm(vector))
        if length < 1e-6:
            continue
        unit = vector / length
        period = DASH + GAP
        n = max(1, int((length + GAP) // period))
        margin = (length - (n * period - GAP)) / 2
        for k in range(n):
            a = start + (margin + k * period) * unit
            b = a + min(DASH, length) * unit
            lines.append((len(points), len(points) + 1))
            points += [a, b]
            point_colors += [rgb, rgb]
    data = vtkPolyData()
    vtk_points = vtkPoints()
    array = np.array(points, dtype=np.float64).reshape(-1, 3)
    vtk_points.SetData(numpy_to_vtk(array, deep=True))
    data.SetPoints(vtk_points)
    data.SetLines(_cells(np.array(lines, dtype=np.int64).reshape(-1, 2), 2))
    data.GetPointData().SetScalars(_rgb_array(np.array(point_colors).reshape(-1, 3)))
    return data


def _label_position(structure: ProteinStructure, residue: int) -> np.ndarray:
    """Where a residue's label goes: its side chain's end (the atom farthest from CA), lifted
    a little, else its centre."""
    atoms = structure.residue_atoms(residue)
    names = structure.atom_names[atoms]
    ca = atoms[names == "CA"]
    side = atoms[~np.isin(names, list(BACKBONE_NAMES | {"CA"}))]
    if len(ca) and len(side):
        far = side[
            np.argmax(np.linalg.norm(structure.coords[side] - structure.coords[ca[0]], axis=1))
        ]
        return structure.coords[far] + np.array([0.0, 0.0, 0.4])
    return structure.coords[atoms].mean(axis=0)


def pocket_atoms(structure: ProteinStructure, residues) -> np.ndarray:
    """The atoms of ``residues`` drawn as pocket sticks: side chains with their CA (PRO keeps
    its N for the ring; nucleotides are drawn whole)."""
    parts = []
    for residue in residues:
        atoms = structure.residue_atoms(int(residue))
        names = structure.atom_names[atoms]
        drop = np.isin(names, list(BACKBONE_NAMES))
        if structure.res_names[int(residue)] == "PRO":
            drop &= names != "N"
        if "CA" not in names:  # not an amino acid: keep it all
            drop[:] = False
        parts.append(atoms[~drop])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def nucleotide_residues(structure: ProteinStructure) -> np.ndarray:
    """Polymer residues that are nucleotides (by name, or a C1' atom with a base N1/N9)."""
    polymer = structure.res_kinds == POLYMER
    named = np.isin(structure.res_names, list(NUCLEOTIDES))
    has_c1 = np.zeros(structure.n_residues, dtype=bool)
    has_c1[structure.atom_residue[structure.atom_names == "C1'"]] = True
    return np.flatnonzero(polymer & (named | has_c1))


def _base_slab_actor(structure: ProteinStructure, residues: np.ndarray, colors: np.ndarray):
    """The five- and six-membered rings of nucleotide bases among ``residues`` as filled
    polygons (triangle fans) in the colour of their C1' (else first) atom, lightened."""
    nucleotides = set(nucleotide_residues(structure).tolist())
    points, point_colors, triangles = [], [], []
    for residue in residues:
        if int(residue) not in nucleotides:
            continue
        atoms = structure.residue_atoms(int(residue))
        names = {str(n): int(a) for n, a in zip(structure.atom_names[atoms], atoms, strict=True)}
        rgb = colors[names.get("C1'", atoms[0])]
        rgb = 0.7 * rgb + 0.3
        for ring in BASE_RINGS:
            if not all(n in names for n in ring):
                continue
            base = len(points)
            points += [structure.coords[names[n]] for n in ring]
            point_colors += [rgb] * len(ring)
            triangles += [(base, base + k, base + k + 1) for k in range(1, len(ring) - 1)]
    if not triangles:
        return None
    actor = _actor_for(
        mesh_polydata(np.array(points), None, np.array(triangles), np.array(point_colors))
    )
    actor.GetProperty().SetAmbient(0.25)
    return actor


def default_layers(structure: ProteinStructure, color: str = "chain") -> list[Layer]:
    """Protein cartoon + ligand sticks + pocket side chains as sticks + nucleic-acid bases
    (sticks with filled rings; lines and rings when large)."""
    kinds = structure.atom_kinds()
    polymer = np.flatnonzero(kinds == POLYMER)
    ligand = np.flatnonzero(kinds == LIGAND)
    large = structure.n_atoms > LARGE_ATOMS
    layers = []
    if len(polymer):
        has_trace = (structure.ca_atoms() >= 0).sum() >= 2
        layers.append(Layer("protein", polymer, "cartoon" if has_trace else "lines", color))
        nucleotides = nucleotide_residues(structure)
        if len(nucleotides) and has_trace:
            atoms = np.concatenate([structure.residue_atoms(int(r)) for r in nucleotides])
            atoms = atoms[~np.isin(structure.atom_names[atoms], list(PHOSPHATE_OXYGENS))]
            style = "lines" if large else "sticks"
            layers.append(Layer("bases", atoms, style, color, slabs=True))
    if len(ligand):
        layers.append(Layer("ligands", ligand, "sticks", "element", carbon=LIGAND_CARBON))
        if not large and structure.ligands:
            main = max(structure.ligands, key=lambda lig: lig.atoms)
            pocket = structure.binding_site(main, 5.0)
            if pocket:
                layers.append(
                    Layer(
                        "pocket",
                        pocket_atoms(structure, pocket),
                        "sticks",
                        "element",
                        carbon=POCKET_CARBON,
                    )
                )
    waters = np.flatnonzero(kinds == WATER)
    if len(waters):
        layers.append(Layer("waters", waters, "spheres", "element", visible=False))
    return layers


# ----------------------------------------------------------------------------------------------
# Off-screen rendering (command line, benchmarks): no Qt


SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "swr")


def tune_for_software_rendering(window, renderer: vtkRenderer) -> bool:
    """Under a software OpenGL (Mesa llvmpipe: headless tests, CI, virtual machines) replace
    multisampling by FXAA: 4× multisampling alone costs about 60 ms per frame there, FXAA about 1.
    Call after the window has rendered once (it needs the GL context); returns whether it did."""
    capabilities = (window.ReportCapabilities() or "").lower()
    if not any(name in capabilities for name in SOFTWARE_RENDERERS):
        return False
    window.SetMultiSamples(0)
    renderer.UseFXAAOn()
    return True


def offscreen_render_window(width: int = 1000, height: int = 800):
    """A render window that draws off screen: EGL without a display, the default one with X."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
        from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow

        window = vtkEGLRenderWindow()
    else:
        from vtkmodules.vtkRenderingCore import vtkRenderWindow

        window = vtkRenderWindow()
    window.SetOffScreenRendering(True)
    window.SetSize(width, height)
    return window


def window_pixels(window) -> np.ndarray:
    """What ``window`` shows as a ``(height, width, 3)`` uint8 array, top row first."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

    grabber = vtkWindowToImageFilter()
    grabber.SetInput(window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.ShouldRerenderOn()
    grabber.Update()
    image = grabber.GetOutput()
    w, h, _ = image.GetDimensions()
    scalars = image.GetPointData().GetScalars()
    pixels = vtk_to_numpy(scalars).reshape(h, w, scalars.GetNumberOfComponents())
    return np.ascontiguousarray(pixels[::-1, :, :3])


def write_png(window, path: str | os.PathLike) -> Path:
    """Save what ``window`` shows as a PNG."""
    from vtkmodules.vtkIOImage import vtkPNGWriter
    from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

    grabber = vtkWindowToImageFilter()
    grabber.SetInput(window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.ShouldRerenderOn()
    grabber.Update()
    writer = vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputConnection(grabber.GetOutputPort())
    writer.Write()
    return Path(path)


def render_scene(
    structure: ProteinStructure,
    style: str | None = None,
    color: str | None = None,
    size: tuple[int, int] = (1000, 800),
):
    """An off-screen window showing ``structure`` (``style`` applies to the protein layer)."""
    window = offscreen_render_window(*size)
    scene = ProteinScene()
    window.AddRenderer(scene.renderer)
    scene.set_structure(structure, color)
    if style is not None and "protein" in scene.layers:
        scene.set_layer_style("protein", style)
    scene.reset_camera()
    window.Render()
    if tune_for_software_rendering(window, scene.renderer):
        window.Render()
    return window, scene


def render_to_png(
    structure: ProteinStructure,
    path: str | os.PathLike,
    style: str | None = None,
    color: str | None = None,
    size: tuple[int, int] = (1000, 800),
) -> Path:
    """Draw ``structure`` off screen and save the picture to ``path``."""
    window, _scene = render_scene(structure, style, color, size)
    try:
        return write_png(window, path)
    finally:
        window.Finalize()
