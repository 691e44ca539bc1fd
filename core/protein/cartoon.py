"""Cartoon geometry: a smooth ribbon through the CA atoms, widened by secondary structure.

:func:`cartoon_mesh` returns plain arrays (vertices, normals, triangles and the residue of each
vertex) that the VTK scene wraps in one ``vtkPolyData``: helices and strands are flat ribbons
(strands end in an arrow), coil is a thin tube. The ribbon's broad side follows the peptide C=O
direction, as in PyMOL and Mol*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.protein.structure import HELIX, STRAND, ProteinStructure, backbone_segments

SAMPLES_PER_RESIDUE = 6
RING = 8
HALF_WIDTH = {HELIX: 1.3, STRAND: 1.1, "C": 0.3}
HALF_THICKNESS = {HELIX: 0.25, STRAND: 0.25, "C": 0.3}
ARROW_HALF_WIDTH = 1.8


@dataclass(slots=True, frozen=True)
class CartoonMesh:
    points: np.ndarray  # (n, 3) float32
    normals: np.ndarray  # (n, 3) float32
    triangles: np.ndarray  # (m, 3) int64
    residues: np.ndarray  # (n,) int64: residue of each vertex

    @property
    def n_triangles(self) -> int:
        return len(self.triangles)


def _residue_atoms_named(structure: ProteinStructure, name: str) -> np.ndarray:
    result = np.full(structure.n_residues, -1, dtype=np.int64)
    atoms = np.flatnonzero(structure.atom_names == name)
    result[structure.atom_residue[atoms][::-1]] = atoms[::-1]
    return result


def _guides(
    structure: ProteinStructure,
    segment: np.ndarray,
    points: np.ndarray,
    oxygen_of: np.ndarray,
    carbon_of: np.ndarray,
) -> np.ndarray:
    n = len(points)
    oxygen = oxygen_of[segment]
    carbon = carbon_of[segment]
    guides = np.zeros((n, 3))
    have = (oxygen >= 0) & (carbon >= 0)
    guides[have] = structure.coords[oxygen[have]] - structure.coords[carbon[have]]
    if n >= 3:  # curvature where the carbonyl is missing
        curvature = np.zeros((n, 3))
        curvature[1:-1] = (points[:-2] + points[2:]) / 2 - points[1:-1]
        curvature[0], curvature[-1] = curvature[1], curvature[-2]
        guides[~have] = curvature[~have]
    small = np.linalg.norm(guides, axis=1) < 1e-6
    guides[small] = np.cross(points[min(1, n - 1)] - points[0] + 1e-3, [0.0, 0.0, 1.0])
    # Keep neighbouring guides on the same side (no twisted ribbon): flipping guide i flips the
    # sign of its dot product with guide i+1, so the flips are a running product of signs.
    signs = np.ones(n)
    signs[1:] = np.where((guides[1:] * guides[:-1]).sum(axis=1) < 0, -1.0, 1.0)
    return guides * np.cumprod(signs)[:, None]


def _spline(values: np.ndarray, t_out: np.ndarray) -> np.ndarray:
    """A Catmull-Rom spline through ``values`` (one per integer t), sampled at ``t_out``."""
    n = len(values)
    padded = np.concatenate([2 * values[:1] - values[1:2], values, 2 * values[-1:] - values[-2:-1]])
    i = np.clip(np.floor(t_out).astype(int), 0, n - 2)
    u = (t_out - i)[:, None]
    p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
    return 0.5 * (
        2 * p1
        + (p2 - p0) * u
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
        + (3 * p1 - p0 - 3 * p2 + p3) * u**3
    )


def detail_for(n_residues: int) -> tuple[int, int]:
    """Spline samples per residue and vertices per cross-section: fewer for large structures,
    so that a 100,000-atom cartoon stays a few hundred thousand triangles."""
    if n_residues <= 2_000:
        return SAMPLES_PER_RESIDUE, RING
    if n_residues <= 6_000:
        return 4, 6
    return 2, 4


def _segment_mesh(
    structure: ProteinStructure,
    segment: np.ndarray,
    ca: np.ndarray,
    samples: int,
    ring: int,
    oxygen_of: np.ndarray,
    carbon_of: np.ndarray,
):
    points = structure.coords[ca[segment]]
    n = len(points)
    t_out = np.linspace(0, n - 1, (n - 1) * samples + 1)
    centre = _spline(points, t_out)
    guide = _spline(_guides(structure, segment, points, oxygen_of, carbon_of), t_out)
    tangent = np.gradient(centre, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = guide - (guide * tangent).sum(axis=1, keepdims=True) * tangent
    bad = np.linalg.norm(normal, axis=1) < 1e-6
    normal[bad] = np.cross(tangent[bad], [0.3, 0.5, 0.8])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    binormal = np.cross(tangent, normal)

    which = np.clip(np.rint(t_out).astype(int), 0, n - 1)
    residues = segment[which]
    ss = structure.res_ss[residues]
    width = np.array([HALF_WIDTH.get(s, 0.3) for s in ss])
    thickness = np.array([HALF_THICKNESS.get(s, 0.3) for s in ss])
    # Strand arrows: widen at the start of a strand's last residue, narrow to a point at its end.
    seg_ss = structure.res_ss[segment]
    for i in range(n):
        if seg_ss[i] == STRAND and (i == n - 1 or seg_ss[i + 1] != STRAND):
            inside = (t_out >= i - 0.5) & (t_out <= i + 0.5)
            fraction = (t_out[inside] - (i - 0.5)) / 1.0
            width[inside] = ARROW_HALF_WIDTH * (1 - fraction) + 0.3 * fraction
    # Smooth the steps between coil and ribbon.
    kernel = np.ones(3) / 3
    if len(width) >= 3:
        width = np.convolve(np.pad(width, 1, mode="edge"), kernel, mode="valid")
        thickness = np.convolve(np.pad(thickness, 1, mode="edge"), kernel, mode="valid")

    angles = np.linspace(0, 2 * np.pi, ring, endpoint=False) + (np.pi / ring if ring == 4 else 0)
    cos, sin = np.cos(angles), np.sin(angles)
    offsets = (
        width[:, None, None] * cos[None, :, None] * normal[:, None, :]
        + thickness[:, None, None] * sin[None, :, None] * binormal[:, None, :]
    )
    vertices = centre[:, None, :] + offsets
    normals = (cos / 1.0)[None, :, None] * thickness[:, None, None] * normal[:, None, :] + (
        sin / 1.0
    )[None, :, None] * width[:, None, None] * binormal[:, None, :]
    normals /= np.maximum(np.linalg.norm(normals, axis=2, keepdims=True), 1e-9)
    m = len(centre)
    ring_index = np.arange(m - 1)[:, None] * ring
    k = np.arange(ring)[None, :]
    a = ring_index + k
    b = ring_index + (k + 1) % ring
    c = a + ring
    d = b + ring
    triangles = np.concatenate(
        [np.stack([a, b, d], axis=-1).reshape(-1, 3), np.stack([a, d, c], axis=-1).reshape(-1, 3)]
    )
    return (
        vertices.reshape(-1, 3),
        normals.reshape(-1, 3),
        triangles,
        np.repeat(residues, ring),
    )


def cartoon_mesh(
    structure: ProteinStructure,
    residues: np.ndarray | None = None,
    detail: tuple[int, int] | None = None,
) -> CartoonMesh:
    """The cartoon of the polymer chains (only ``residues`` when given) as one triangle mesh.

    ``detail``: (spline samples per residue, vertices per cross-section); by default from
    :func:`detail_for` the number of residues drawn.
    """
    ca = structure.ca_atoms()
    oxygen_of = _residue_atoms_named(structure, "O")
    carbon_of = _residue_atoms_named(structure, "C")
    keep = None
    if residues is not None:
        keep = np.zeros(structure.n_residues, dtype=bool)
        keep[np.asarray(residues, dtype=np.int64)] = True
    count = structure.n_residues if keep is None else int(keep.sum())
    samples, ring = detail or detail_for(count)
    parts = []
    offset = 0
    for segment in backbone_segments(structure):
        if keep is not None:
            segment = segment[keep[segment]]
            if len(segment) < 2:
                continue
        vertices, normals, triangles, owner = _segment_mesh(
            structure, segment, ca, samples, ring, oxygen_of, carbon_of
        )
        parts.append((vertices, normals, triangles + offset, owner))
        offset += len(vertices)
    if not parts:
        empty = np.empty((0, 3), dtype=np.float32)
        return CartoonMesh(empty, empty, np.empty((0, 3), np.int64), np.empty(0, np.int64))
    return CartoonMesh(
        np.concatenate([p[0] for p in parts]).astype(np.float32),
        np.concatenate([p[1] for p in parts]).astype(np.float32),
        np.concatenate([p[2] for p in parts]).astype(np.int64),
        np.concatenate([p[3] for p in parts]).astype(np.int64),
    )


def cached_cartoon_mesh(
    structure: ProteinStructure, residues: np.ndarray | None = None
) -> CartoonMesh:
    """:func:`cartoon_mesh` at the default detail, kept in ``structure.cache``."""
    import hashlib

    chosen = b"all" if residues is None else np.asarray(residues, dtype=np.int64).tobytes()
    key = ("cartoon", hashlib.blake2b(chosen, digest_size=16).hexdigest())
    mesh = structure.cache.get(key)
    if mesh is None:
        mesh = cartoon_mesh(structure, residues)
        structure.cache[key] = mesh
    return mesh
