"""The default run on sct-example's sub-errsm30 (no known lesion): what the shipped model paints.

Usage: ``python docs/make_default_run_figure.py [--out docs/figures/sct_example_default_run.png]``.
Runs ``sclesion ../shared/data/sct-example OUT participant`` with default options in a temporary
folder, then draws three sagittal T2w slices through the cord with the predicted lesions (red)
and the manual cord mask (yellow); the title gives the lesion count and volume.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np

from bids_app.cli.run import main as sclesion

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / 'shared' / 'data' / 'sct-example'
STEM = 'sub-errsm30_T2w'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out', type=Path, default=REPO / 'docs/figures/sct_example_default_run.png'
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'out'
        sclesion([str(REAL), str(out), 'participant', '-w', str(Path(tmp) / 'w')])
        folder = out / 'sub-errsm30' / 'anat'
        mask = np.asarray(nib.load(folder / 'sub-errsm30_label-lesion_mask.nii.gz').dataobj)
        with (folder / 'sub-errsm30_desc-lesions_summary.tsv').open() as handle:
            (summary,) = list(csv.DictReader(handle, delimiter='\t'))
    image = nib.load(REAL / 'sub-errsm30' / 'anat' / f'{STEM}.nii.gz')
    cord = nib.load(REAL / 'derivatives' / 'labels' / 'sub-errsm30' / 'anat' /
                    f'{STEM}_label-SC_seg.nii.gz').get_fdata() > 0.5  # fmt: skip
    data = image.get_fdata()  # stored P-S-R: axis 2 is left-right, sagittal slices
    middle = int(np.round(np.argwhere(cord)[:, 2].mean()))
    figure, axes = plt.subplots(1, 3, figsize=(11, 4.5))
    for ax, k in zip(axes, (middle - 2, middle, middle + 2), strict=True):
        ax.imshow(data[:, :, k].T, cmap='gray', origin='upper')
        ax.contour(cord[:, :, k].T, [0.5], colors='yellow', linewidths=0.8)
        if mask[:, :, k].any():
            ax.contour(mask[:, :, k].T, [0.5], colors='red', linewidths=1.0)
        ax.set_title(f'sagittal slice {k}')
        ax.axis('off')
    figure.suptitle(
        f'sct-example sub-errsm30 (no known lesion), default run: {summary["n_lesions"]} lesions, '
        f'{float(summary["total_volume_mm3"]):.0f} mm3 predicted (red); manual cord mask (yellow)'
    )
    figure.tight_layout()
    figure.savefig(args.out, dpi=70)


if __name__ == '__main__':
    main()
