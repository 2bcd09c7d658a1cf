"""``BuildCordFrame``: every slot's crop around its centreline, plus QC files."""

from __future__ import annotations

from pathlib import Path

from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    File,
    InputMultiObject,
    OutputMultiObject,
    SimpleInterface,
    TraitedSpec,
    traits,
)

from bids_app.config import CordFrameConfig

_FRAME = CordFrameConfig()


class _BuildCordFrameInputSpec(BaseInterfaceInputSpec):
    slots = traits.List(traits.Str, mandatory=True, desc='slot of each image')
    in_files = InputMultiObject(File(exists=True), mandatory=True, desc='fused image per slot')
    centerlines = InputMultiObject(File(exists=True), mandatory=True, desc='centreline per slot')
    labels_file = File(exists=True, desc='reference lesion labels on the T2Sag grid')
    cord_mask = File(exists=True, desc='cord mask on the T2Sag grid')
    keep_untrusted = traits.Bool(
        False, usedefault=True, desc='use slots whose centreline cannot be trusted'
    )
    voxel_mm = traits.Float(_FRAME.voxel_mm, usedefault=True, desc="the frame's voxel (mm)")
    crop_size = traits.Int(_FRAME.crop_size, usedefault=True, desc='crop side (voxels)')
    z_margin_mm = traits.Float(_FRAME.z_margin_mm, usedefault=True, desc='z margin (mm)')


class _BuildCordFrameOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='the cord frame (.npz)')
    centerline_tsvs = OutputMultiObject(File(exists=True), desc='x y z per reference slice')
    crop_files = OutputMultiObject(File(exists=True), desc='crop per slot, NIfTI for QC')


class BuildCordFrame(SimpleInterface):
    """Smooth and extend the centrelines, then sample each slot into the cord frame."""

    input_spec = _BuildCordFrameInputSpec
    output_spec = _BuildCordFrameOutputSpec

    def _run_interface(self, runtime):
        import numpy as np

        from bids_app.frame import build_cord_frame
        from bids_app.frame_geometry import crop_affine
        from bids_app.interfaces.centerline import load_centerline
        from bids_app.interfaces.io import load_image, load_mask, save_image
        from bids_app.slots import Slot

        slots = [Slot(s) for s in self.inputs.slots]
        images = {s: load_image(f) for s, f in zip(slots, self.inputs.in_files, strict=True)}
        loaded = {
            s: load_centerline(f) for s, f in zip(slots, self.inputs.centerlines, strict=True)
        }
        optional = {}
        for name in ('labels_file', 'cord_mask'):
            path = getattr(self.inputs, name)
            optional[name] = load_mask(path)[0] if path else None
        frame = build_cord_frame(
            images,
            {s: c for s, (c, _) in loaded.items()},
            providers={s: p for s, (_, p) in loaded.items()},
            labels=optional['labels_file'],
            cord_mask=optional['cord_mask'],
            config=CordFrameConfig(
                self.inputs.voxel_mm, self.inputs.crop_size, self.inputs.z_margin_mm
            ),
        )
        if not self.inputs.keep_untrusted:
            from bids_app.centerline.trust import untrusted_slots

            confidence = {s: float(np.mean(c.confidence)) for s, (c, _) in loaded.items()}
            frame.dropped = untrusted_slots(frame.centerlines, frame.coverage, confidence)
        cwd = Path(runtime.cwd)
        self._results['out_file'] = str(frame.save(cwd / 'cordframe.npz'))
        tsvs, crops = [], []
        for slot in frame.slots:
            xyz = frame.centerlines[slot]
            tsv = cwd / f'{slot}_desc-centerline.tsv'
            np.savetxt(tsv, xyz, fmt='%.3f', delimiter='\t', header='x\ty\tz', comments='')
            tsvs.append(str(tsv))
            affine = crop_affine(xyz[:, :2], frame.z_mm, frame=frame.config)
            crop = save_image(frame.crops[slot], affine, cwd / f'{slot}_desc-crop.nii.gz')
            crops.append(str(crop))
        self._results.update(centerline_tsvs=tsvs, crop_files=crops)
        return runtime
