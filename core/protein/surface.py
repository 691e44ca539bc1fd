"""A molecular surface as a Gaussian density on a grid (the iso-surface is drawn by VTK).

Each atom adds a Gaussian of width ``sigma``; the level is chosen so that a lone atom's surface
lies at ``radius`` Å from its centre, about its van der Waals radius plus a small probe. Close
atoms merge into one smooth envelope, close to a solvent-excluded surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_VOXELS = 6_000_000


@dataclass(slots=True, frozen=True)
class DensityGrid:
    values: np.ndarray  # (nx, ny, nz) float32, x fastest when flattened in Fortran order
    origin: np.ndarray  # (3,)
    spacing: float
    level: float


def density_grid(
    coords: np.ndarray, spacing: float = 0.8, sigma: float = 1.1, radius: float = 2.0
) -> DensityGrid:
    """A Gaussian density of ``coords`` and the level of its surface; coarser for large sets."""
    from scipy.ndimage import gaussian_filter

    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) == 0:
        raise ValueError("No atoms to wrap in a surface.")
    pad = radius + 3 * sigma
    low = coords.min(axis=0) - pad
    extent = coords.max(axis=0) + pad - low
    while np.prod(np.ceil(extent / spacing) + 1) > MAX_VOXELS:
        spacing *= 1.25
    shape = (np.ceil(extent / spacing) + 1).astype(int)
    grid = np.zeros(shape, dtype=np.float32)
    index = np.rint((coords - low) / spacing).astype(int)
    np.add.at(grid, (index[:, 0], index[:, 1], index[:, 2]), 1.0)
    values = gaussian_filter(grid, sigma / spacing, mode="constant")
    # The level: a lone atom's blurred value at ``radius`` Å from its centre.
    impulse_size = int(2 * np.ceil((radius + 3 * sigma) / spacing) + 1)
    impulse = np.zeros((impulse_size,) * 3, dtype=np.float32)
    middle = impulse_size // 2
    impulse[middle, middle, middle] = 1.0
    blurred = gaussian_filter(impulse, sigma / spacing, mode="constant")
    peak = float(blurred[middle, middle, middle])
    level = peak * float(np.exp(-(radius**2) / (2 * sigma**2)))
    return DensityGrid(values, low, spacing, level)
