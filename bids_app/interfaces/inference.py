"""``PredictLesions``: the model on one cord frame, with whichever slots the unit has."""

from __future__ import annotations

from pathlib import Path

from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    Directory,
    File,
    SimpleInterface,
    TraitedSpec,
    isdefined,
    traits,
)

from bids_app.postprocess import PostprocessOptions


class _PredictInputSpec(BaseInterfaceInputSpec):
    cordframe = File(exists=True, mandatory=True, desc='the cord frame (.npz)')
    model_dir = Directory(exists=True, mandatory=True, desc='model folder')
    model_sha256 = traits.Str(
        '', usedefault=True, desc='weights checksum checked before the run; other weights fail'
    )
    device = traits.Str('auto', usedefault=True, desc='auto, cpu, cuda[:N]')
    tta = traits.Bool(False, usedefault=True, desc='mirroring test-time augmentation')
    precision = traits.Enum(
        'float32', 'bfloat16', usedefault=True, desc='bfloat16: autocast where supported'
    )
    num_threads = traits.Int(1, usedefault=True, desc='torch intra-op threads')
    threshold = traits.Float(
        PostprocessOptions.threshold, usedefault=True, desc='probability threshold'
    )
    min_lesion_mm3 = traits.Float(
        PostprocessOptions.min_lesion_mm3,
        usedefault=True,
        desc='lesions (26-connected) smaller than this, in mm^3, are removed',
    )
    grow_threshold = traits.Float(
        desc='hysteresis: lesions extend over connected voxels of at least this probability '
        '(not set: the threshold, plain thresholding)'
    )


class _PredictOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='probability and mask in the cord frame (.npz)')
    model_name = traits.Str(desc='model name from its card')
    model_sha256 = traits.Str(desc='sha256 of the weights')
    runtime_s = traits.Float(desc='seconds of inference')
    precision = traits.Str(desc='precision used (float32 where bfloat16 is unsupported)')


class PredictLesions(SimpleInterface):
    """Probabilities from the slots present (the others mean-imputed), then post-processing."""

    input_spec = _PredictInputSpec
    output_spec = _PredictOutputSpec

    def _run_interface(self, runtime):
        import time

        import numpy as np

        from bids_app.errors import ModelCardError
        from bids_app.frame import CordFrame
        from bids_app.inference import LesionPredictor
        from bids_app.postprocess import field_of_view, postprocess

        started = time.perf_counter()
        frame = CordFrame.load(self.inputs.cordframe)
        predictor = LesionPredictor.from_model_dir(
            Path(self.inputs.model_dir),
            self.inputs.device,
            tta=self.inputs.tta,
            precision=self.inputs.precision,
            n_threads=self.inputs.num_threads,
        )
        expected, found = self.inputs.model_sha256, predictor.card['weights']['sha256']
        if expected and found != expected:
            raise ModelCardError(
                f'{self.inputs.model_dir} changed during the run (weights sha256 {found[:12]}, '
                f'checked as {expected[:12]}); rerun with the model folder left as it is'
            )
        usable = [s for s in frame.slots if s in predictor.slots and s not in frame.dropped]
        probability = predictor.predict(
            {s: frame.crops[s] for s in usable}, {s: frame.coverage[s] for s in usable}
        )
        grow = self.inputs.grow_threshold
        options = PostprocessOptions(
            threshold=self.inputs.threshold,
            min_lesion_mm3=self.inputs.min_lesion_mm3,
            grow_threshold=grow if isdefined(grow) else None,
        )
        cord = frame.cord.astype(bool) if frame.cord is not None else None
        seen = field_of_view(frame.coverage[s] for s in usable)
        mask = postprocess(
            probability, options, cord_mask=cord, voxel_mm=frame.config.voxel_mm, seen=seen
        )
        out = Path(runtime.cwd) / 'prediction.npz'
        np.savez(
            out, probability=probability, mask=mask, slots=np.asarray([str(s) for s in usable])
        )
        card = predictor.card
        self._results.update(
            out_file=str(out),
            model_name=str(card.get('name', '')),
            model_sha256=str(card['weights']['sha256']),
            runtime_s=time.perf_counter() - started,
            precision=predictor.precision,
        )
        return runtime
