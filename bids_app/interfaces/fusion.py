"""``FuseChunks``: one image per slot from its ``chunk-`` slabs, with their masks and labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    File,
    InputMultiObject,
    SimpleInterface,
    TraitedSpec,
    traits,
)


class _FuseChunksInputSpec(BaseInterfaceInputSpec):
    in_files = InputMultiObject(File(exists=True), mandatory=True, desc='chunks of one sequence')
    register = traits.Bool(mandatory=True, desc='register lower slabs onto upper (sagittal)')
    mask_files = InputMultiObject(File(exists=True), desc='cord mask per chunk (same order)')
    label_files = InputMultiObject(File(exists=True), desc='lesion label per chunk (same order)')
    out_name = traits.Str('fused', usedefault=True, desc='output file name stem')
    num_threads = traits.Int(1, usedefault=True, desc='threads for the registration (ITK)')


class _FuseChunksOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='fused image (float32)')
    out_mask = File(desc='fused cord mask (uint8), when masks were given')
    out_labels = File(desc='fused lesion labels (uint8), when labels were given')


class FuseChunks(SimpleInterface):
    """Check every chunk and fuse them (a single chunk is only checked and rewritten as float32).

    Masks and labels follow their images through the same registration, nearest neighbour and
    union where chunks overlap (CONVENTIONS section 3).
    """

    input_spec = _FuseChunksInputSpec
    output_spec = _FuseChunksOutputSpec

    def _run_interface(self, runtime):
        import SimpleITK as sitk

        from bids_app.fusion import fuse_chunks, fuse_label_chunks
        from bids_app.interfaces.io import check_same_grid, load_image, load_mask, save_image

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(self.inputs.num_threads)
        names = [Path(f).name for f in self.inputs.in_files]
        chunks = [load_image(f) for f in self.inputs.in_files]
        fused = fuse_chunks(chunks, register=self.inputs.register, names=names)
        cwd = Path(runtime.cwd)
        stem = self.inputs.out_name
        self._results['out_file'] = str(
            save_image(fused.data, fused.affine, cwd / f'{stem}.nii.gz', dtype=np.float32)
        )
        for key, files in (
            ('out_mask', self.inputs.mask_files),
            ('out_labels', self.inputs.label_files),
        ):
            if not files:
                continue
            masks = [load_mask(f) for f in files]
            for (mask, affine), (image, image_affine), path, name in zip(
                masks, chunks, files, names, strict=True
            ):
                check_same_grid(mask.shape, affine, image.shape, image_affine, Path(path), name)
            merged = fuse_label_chunks(masks, fused, names=[Path(f).name for f in files])
            path = cwd / f'{stem}_{key.removeprefix("out_")}.nii.gz'
            self._results[key] = str(save_image(merged, fused.affine, path, dtype=np.uint8))
        return runtime
