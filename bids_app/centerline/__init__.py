"""Centreline of the spinal cord: from a cord mask or a built-in detector, smoothed and extended.

Every function works on arrays and 4x4 affines (voxel ``ijk`` to world ``xyz_mm``, RAS+) and
returns a :class:`Centerline` in world millimetres, which :func:`resample_centerline` evaluates at
the cord frame's reference slices.
"""

from __future__ import annotations

from bids_app.centerline.base import Centerline
from bids_app.centerline.builtin import detect_centerline
from bids_app.centerline.from_mask import centerline_from_mask
from bids_app.centerline.smoothing import resample_centerline, smooth_centerline

__all__ = [
    'Centerline',
    'centerline_from_mask',
    'detect_centerline',
    'resample_centerline',
    'smooth_centerline',
]
