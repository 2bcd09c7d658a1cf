"""The detector's working grid: axial-ish slices in the image's own rotation, about 1 mm in-plane.

The grid's axes are the image's voxel axes, reordered and flipped to point towards world R, A,
S, made exactly orthonormal. For an image whose voxel axes are orthogonal (every MR image), the
grid's slices are therefore the image's own slices when its slice axis is the superior one (axial
images keep their thick slices, with no interpolation across them), and world-axial-ish planes
otherwise (sagittal and 3D images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel.orientations import io_orientation
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.errors import GeometryError


@dataclass(frozen=True)
class WorkingGrid:
    """A regular grid of axial-ish slices.

    Parameters
    ----------
    vox2world : (4, 4) array
        Grid index ``(u, v, w)`` to world ``xyz_mm`` (RAS+); u is closest to R, v to A, w to S.
    shape : tuple of int
        ``(nu, nv, nw)``: in-plane size and number of slices.
    spacing_mm : tuple of float
        ``(hu, hv, hw)``: grid steps in mm.
    """

    vox2world: NDArray[np.float64]
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]


def working_grid(
    affine: NDArray[np.float64],
    shape: tuple[int, ...],
    *,
    inplane_mm: float = 1.0,
    min_slice_mm: float = 1.0,
    max_slices: int = 400,
) -> WorkingGrid:
    """The working grid that covers an image.

    Parameters
    ----------
    affine : (4, 4) array
        The image's voxel ``ijk`` to world ``xyz_mm``.
    shape : tuple of int
        The image's shape ``(I, J, K)``.
    inplane_mm : float
        In-plane step of the grid, in mm.
    min_slice_mm : float
        Smallest slice step. The image's own step along its superior axis is kept when it is at
        least this (thick axial slices are then sampled at their centres).
    max_slices : int
        Most slices; the step grows for very long images.

    Returns
    -------
    WorkingGrid

    Examples
    --------
    >>> g = working_grid(np.diag([0.5, 0.5, 5.0, 1.0]), (40, 20, 6))
    >>> g.shape, g.spacing_mm
    ((20, 10, 6), (1.0, 1.0, 5.0))
    >>> g.vox2world[:3, 3].tolist()
    [0.25, 0.25, 0.0]
    """
    if affine.shape != (4, 4) or len(shape) != 3:
        raise GeometryError(f'need a 4x4 affine and a 3D shape, got {affine.shape} and {shape}')
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    if np.any(sizes <= 0) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise GeometryError('affine is singular: the image header is broken')
    ornt = io_orientation(affine)
    axis_of = np.argsort(ornt[:, 0])  # voxel axis that points along world x, y, z
    flips = ornt[axis_of, 1]
    directions = affine[:3, :3][:, axis_of] / sizes[axis_of] * flips
    left, _, right = np.linalg.svd(directions)
    rotation = left @ right
    native_w = float(sizes[axis_of[2]])
    corners = np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in shape], indexing='ij'))
    corners = corners.reshape(3, -1).T @ affine[:3, :3].T + affine[:3, 3]
    in_grid = corners @ rotation  # working-frame coordinates (rotation is orthonormal)
    lo = in_grid.min(axis=0)
    hi = in_grid.max(axis=0)
    n_uv = np.maximum(np.ceil((hi[:2] - lo[:2]) / inplane_mm).astype(int), 1)
    start = lo.copy()
    start[:2] += 0.5 * ((hi[:2] - lo[:2]) - (n_uv - 1) * inplane_mm)
    if native_w >= min_slice_mm and shape[axis_of[2]] <= max_slices:
        step_w = native_w
        n_w = shape[axis_of[2]]
        centre = (np.asarray(shape, dtype=np.float64) - 1) / 2
        first = centre.copy()
        first[axis_of[2]] = 0.0 if flips[2] > 0 else shape[axis_of[2]] - 1
        start[2] = (affine[:3, :3] @ first + affine[:3, 3]) @ rotation[:, 2]
    else:
        step_w = max(min_slice_mm, (hi[2] - lo[2]) / max_slices)
        n_w = max(int(np.floor((hi[2] - lo[2]) / step_w)), 1)
        start[2] = lo[2] + 0.5 * ((hi[2] - lo[2]) - (n_w - 1) * step_w)
    steps = np.array([inplane_mm, inplane_mm, step_w])
    vox2world = np.eye(4)
    vox2world[:3, :3] = rotation * steps
    vox2world[:3, 3] = rotation @ start
    return WorkingGrid(vox2world, (int(n_uv[0]), int(n_uv[1]), int(n_w)), tuple(steps.tolist()))


def sample_on_grid(
    image: NDArray, affine: NDArray[np.float64], grid: WorkingGrid
) -> NDArray[np.float32]:
    """Resample an image onto a working grid (linear, anti-aliased), NaN outside its coverage.

    Parameters
    ----------
    image : (I, J, K) array
        Intensities on the grid of ``affine``.
    affine : (4, 4) array
        The image's voxel ``ijk`` to world ``xyz_mm``.
    grid : WorkingGrid
        Where to sample.

    Returns
    -------
    (nu, nv, nw) array of float32
        Intensities on the working grid; NaN where the grid leaves the image.
    """
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    grid_to_vox = np.linalg.inv(affine) @ grid.vox2world
    # Smooth each image axis only where the grid axis it maps to is coarser (anti-aliasing).
    rotation = grid.vox2world[:3, :3] / np.asarray(grid.spacing_mm)
    matching = np.argmax(np.abs(rotation.T @ (affine[:3, :3] / sizes)), axis=0)
    coarse = np.asarray(grid.spacing_mm)[matching]
    sigma = 0.4 * np.sqrt(np.clip(coarse**2 - sizes**2, 0.0, None)) / sizes
    data = np.asarray(image, dtype=np.float32)
    if np.any(sigma > 0.3):
        data = ndimage.gaussian_filter(data, sigma, mode='nearest')
    nu, nv, nw = grid.shape
    uu, vv = np.meshgrid(np.arange(nu), np.arange(nv), indexing='ij')
    out = np.empty(grid.shape, dtype=np.float32)
    upper = np.asarray(image.shape) - 0.5
    for w in range(nw):
        pts = np.stack([uu.ravel(), vv.ravel(), np.full(uu.size, w), np.ones(uu.size)])
        ijk = (grid_to_vox @ pts)[:3]
        inside = np.all((ijk >= -0.5) & (ijk <= upper[:, None]), axis=0)
        values = ndimage.map_coordinates(data, ijk, order=1, mode='nearest')
        out[:, :, w] = np.where(inside, values, np.nan).reshape(nu, nv)
    return out
