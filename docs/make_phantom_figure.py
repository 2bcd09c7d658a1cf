"""Draw synthetic phantom slices beside the matching real images of sct-example/sub-errsm30.

Usage: ``python docs/make_phantom_figure.py [--seed S] [--out docs/figures/phantoms_vs_real.png]``.
Rows: real (top) and phantom (bottom); columns: mid-sagittal T2w, axial T2*w, axial T1w. Every
panel shows the same physical field of view around the cord, in radiological convention for axial
slices (subject's left on the right) and anterior to the right for sagittal slices.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.phantoms import make_subject, subject_seed
from bids_app.slots import Slot

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / 'shared' / 'data' / 'sct-example'
FOV_MM = 36.0  # width of every panel (mm)
SAG_HEIGHT_MM = 60.0  # height of the sagittal panels (mm)
STEP_MM = 0.25  # sampling step of the panels (mm)


def _sample(data: NDArray, affine: NDArray, world: NDArray) -> NDArray[np.float32]:
    """Linear interpolation of ``data`` at world points ``(..., 3)`` mm; 0 outside the image."""
    pts = world.reshape(-1, 3)
    ijk = np.linalg.solve(affine, np.column_stack([pts, np.ones(len(pts))]).T)
    values = ndimage.map_coordinates(np.asarray(data, np.float32), ijk[:3], order=1, cval=0.0)
    return values.reshape(world.shape[:-1])


def _window(values: NDArray) -> tuple[float, float]:
    """Display range: 1st to 99.5th percentile."""
    return float(np.percentile(values, 1)), float(np.percentile(values, 99.5))


def _cord_centre(cord: NDArray, affine: NDArray) -> NDArray[np.float64]:
    """World centroid (mm) of a cord mask."""
    return affine[:3, :3] @ np.argwhere(cord > 0).mean(axis=0) + affine[:3, 3]


def _sagittal(data: NDArray, affine: NDArray, centre: NDArray) -> tuple:
    """Sagittal panel (rows: superior up; columns: anterior to the right) through ``centre``."""
    a = np.arange(-FOV_MM / 2, FOV_MM / 2, STEP_MM)
    z = np.arange(-SAG_HEIGHT_MM / 2, SAG_HEIGHT_MM / 2, STEP_MM)
    zz, aa = np.meshgrid(z, a, indexing='ij')
    world = np.stack([np.full(zz.shape, centre[0]), centre[1] + aa, centre[2] + zz], -1)
    extent = [-FOV_MM / 2, FOV_MM / 2, -SAG_HEIGHT_MM / 2, SAG_HEIGHT_MM / 2]
    return _sample(data, affine, world), extent


def _axial(data: NDArray, affine: NDArray, centre: NDArray) -> tuple:
    """Axial panel in radiological view (subject's left on the right, anterior up)."""
    r = np.arange(-FOV_MM / 2, FOV_MM / 2, STEP_MM)
    yy, xx = np.meshgrid(r, -r, indexing='ij')
    world = np.stack([centre[0] + xx, centre[1] + yy, np.full(xx.shape, centre[2])], -1)
    return _sample(data, affine, world), [-FOV_MM / 2, FOV_MM / 2, -FOV_MM / 2, FOV_MM / 2]


def _real_panels() -> list[tuple]:
    anat = REAL / 'sub-errsm30' / 'anat'
    labels = REAL / 'derivatives' / 'labels' / 'sub-errsm30' / 'anat'
    out = []
    for stem, kind in (
        ('sub-errsm30_T2w', 'sag'),
        ('sub-errsm30_acq-ax_T2starw', 'ax'),
        ('sub-errsm30_T1w', 'ax'),
    ):
        img = nib.load(anat / f'{stem}.nii.gz')
        cord = np.asarray(nib.load(labels / f'{stem}_label-SC_seg.nii.gz').dataobj)
        centre = _cord_centre(cord, img.affine)
        draw = _sagittal if kind == 'sag' else _axial
        out.append(draw(np.asarray(img.dataobj), img.affine, centre))
    return out


def _phantom_panels(seed: int) -> list[tuple]:
    subject = make_subject(subject_seed(seed, 0), slots=[Slot.T2Sag, Slot.T2starAx, Slot.T1w])
    out = []
    for slot, draw in ((Slot.T2Sag, _sagittal), (Slot.T2starAx, _axial), (Slot.T1w, _axial)):
        # Every panel at the middle of C4, through the cord's centre there, from the image
        # (chunk) whose field of view holds that point.
        for image in (im for im in subject.images.values() if im.slot == slot):
            z = float((image.body_to_world @ [0, 0, subject.anatomy.level_z('C4'), 1])[2])
            centre = np.array([*image.centerline_at(np.array([z]))[0], z])
            ijk = np.linalg.solve(image.affine, [*centre, 1.0])[:3]
            if np.all((ijk > 0) & (ijk < np.array(image.data.shape) - 1)):
                out.append(draw(image.data, image.affine, centre))
                break
    return out


def make_figure(out: Path, seed: int) -> None:
    """Draw the 2 x 3 comparison and save it as a PNG."""
    titles = ('sagittal T2w', 'axial T2*w', 'axial T1w')
    rows = (('real (sct-example sub-errsm30)', _real_panels()), ('phantom', _phantom_panels(seed)))
    fig, axes = plt.subplots(2, 3, figsize=(9.0, 6.6))
    for r, (row_name, panels) in enumerate(rows):
        for c, (panel, extent) in enumerate(panels):
            ax = axes[r, c]
            lo, hi = _window(panel[panel > 0]) if (panel > 0).any() else (0.0, 1.0)
            ax.imshow(panel, cmap='gray', origin='lower', extent=extent, vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f'{row_name}\n{titles[c]}', fontsize=8)
    fig.suptitle(
        f'Synthetic phantom (seed {seed}) vs real images, same field of view (mm)', fontsize=9
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    logger.info('wrote %s', out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument(
        '--out', type=Path, default=REPO / 'docs' / 'figures' / 'phantoms_vs_real.png'
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    make_figure(args.out, args.seed)


if __name__ == '__main__':
    main()
