"""Centreline interfaces: the built-in detector, and centroids of a cord mask.

Centrelines travel between nodes as ``.npz`` files (:func:`save_centerline`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    File,
    SimpleInterface,
    TraitedSpec,
    traits,
)

from bids_app.centerline.base import Centerline


def save_centerline(centerline: Centerline, provider: str, path: Path) -> Path:
    """Write a centreline and the name of its provider to ``path`` (``.npz``)."""
    np.savez(
        path,
        xyz_mm=centerline.xyz_mm,
        confidence=centerline.confidence,
        z_extent_mm=np.asarray(centerline.z_extent_mm),
        provider=np.asarray(provider),
    )
    return path


def load_centerline(path: str | Path) -> tuple[Centerline, str]:
    """Read what :func:`save_centerline` wrote."""
    with np.load(path) as data:
        centerline = Centerline(
            data['xyz_mm'], data['confidence'], tuple(data['z_extent_mm'].tolist())
        )
        return centerline, str(data['provider'])


class _DetectInputSpec(BaseInterfaceInputSpec):
    in_file = File(exists=True, mandatory=True, desc='image of one slot')
    slot = traits.Str(mandatory=True, desc='its slot (a registered Slot name)')
    prior_file = File(exists=True, desc="centreline to search near (the T2Sag's, .npz)")


class _CenterlineOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='centreline (.npz)')
    provider = traits.Str(desc='what found it')


class DetectCenterline(SimpleInterface):
    """The built-in detector (numpy/scipy only), with the slot's contrast, near a prior.

    The contrast (CSF brighter or darker than the cord) is the slot's ``builtin_contrast``.
    """

    input_spec = _DetectInputSpec
    output_spec = _CenterlineOutputSpec

    def _run_interface(self, runtime):
        from bids_app.centerline.builtin import detect_centerline
        from bids_app.interfaces.io import load_image
        from bids_app.slots import Slot

        data, affine = load_image(self.inputs.in_file)
        prior = load_centerline(self.inputs.prior_file)[0] if self.inputs.prior_file else None
        contrast = Slot(self.inputs.slot).spec.builtin_contrast
        centerline = detect_centerline(data, affine, contrast, prior=prior)
        out = save_centerline(centerline, 'builtin', Path(runtime.cwd) / 'centerline.npz')
        self._results.update(out_file=str(out), provider='builtin')
        return runtime


class _FromMaskInputSpec(BaseInterfaceInputSpec):
    mask_file = File(exists=True, mandatory=True, desc='cord mask (binary or soft)')
    provider = traits.Str('masks', usedefault=True, desc='where the mask came from')


class CenterlineFromMask(SimpleInterface):
    """The centroid of a cord mask in each axial world slice."""

    input_spec = _FromMaskInputSpec
    output_spec = _CenterlineOutputSpec

    def _run_interface(self, runtime):
        from bids_app.centerline.from_mask import centerline_from_mask
        from bids_app.errors import InputImageError
        from bids_app.interfaces.io import load_mask

        mask, affine = load_mask(self.inputs.mask_file)
        if not mask.any():
            raise InputImageError(
                f'{self.inputs.mask_file}: the cord mask is empty; label the cord in it or use '
                '--centerline builtin'
            )
        centerline = centerline_from_mask(mask, affine)
        out = save_centerline(
            centerline, self.inputs.provider, Path(runtime.cwd) / 'centerline.npz'
        )
        self._results.update(out_file=str(out), provider=self.inputs.provider)
        return runtime
