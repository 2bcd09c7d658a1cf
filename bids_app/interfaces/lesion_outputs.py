"""``WriteLesionOutputs``: the participant's lesion derivatives on the native T2Sag grid."""

from __future__ import annotations

from pathlib import Path

from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    Directory,
    File,
    InputMultiObject,
    OutputMultiObject,
    SimpleInterface,
    TraitedSpec,
    traits,
)


class _WriteLesionInputSpec(BaseInterfaceInputSpec):
    output_dir = Directory(mandatory=True, desc='the derivatives dataset')
    bids_dir = Directory(exists=True, mandatory=True, desc='the raw dataset')
    folder = traits.Str(mandatory=True, desc='sub-<s>[/ses-<t>]/anat')
    subject = traits.Str(mandatory=True)
    session = traits.Str('', usedefault=True)
    slots = traits.List(traits.Str, mandatory=True, desc='slots of the unit, in file order')
    sources = traits.List(traits.List(traits.Str), mandatory=True, desc='raw files per slot')
    t2sag_file = File(exists=True, mandatory=True, desc='the (fused) T2Sag image')
    cordframe = File(exists=True, mandatory=True, desc='the cord frame (.npz)')
    prediction = File(exists=True, mandatory=True, desc='probability and mask (.npz)')
    model_name = traits.Str(mandatory=True)
    model_sha256 = traits.Str(mandatory=True)
    threshold = traits.Float(mandatory=True, desc='probability threshold of the mask')
    grow_threshold = traits.Float(
        mandatory=True, desc='hysteresis: lesions extend over connected voxels of at least this'
    )
    min_lesion_mm3 = traits.Float(mandatory=True, desc='smallest lesion kept in the mask, mm^3')
    tta = traits.Bool(mandatory=True)
    precision = traits.Str('float32', usedefault=True, desc='precision of the forward pass')
    discs_file = File(exists=True, desc='intervertebral discs along the cord (TSV + JSON)')
    preproc_outputs = InputMultiObject(
        File(exists=True), desc='what write_preproc wrote: waiting for it keeps the summary last'
    )


class _WriteLesionOutputSpec(TraitedSpec):
    out_files = OutputMultiObject(File(exists=True), desc='files written')
    summary = File(exists=True, desc='the summary TSV, written last')


class WriteLesionOutputs(SimpleInterface):
    """:func:`bids_app.lesion_derivatives.write_lesion_outputs` as a node (summary last)."""

    input_spec = _WriteLesionInputSpec
    output_spec = _WriteLesionOutputSpec

    def _run_interface(self, runtime):
        from bids_app.lesion_derivatives import LesionOutputRequest, write_lesion_outputs

        inputs = self.inputs
        written, summary = write_lesion_outputs(
            LesionOutputRequest(
                output_dir=Path(inputs.output_dir),
                bids_dir=Path(inputs.bids_dir),
                folder=Path(inputs.folder),
                subject=inputs.subject,
                session=inputs.session,
                slots=tuple(inputs.slots),
                sources=tuple(tuple(s) for s in inputs.sources),
                t2sag_file=Path(inputs.t2sag_file),
                cordframe=Path(inputs.cordframe),
                prediction=Path(inputs.prediction),
                model_name=inputs.model_name,
                model_sha256=inputs.model_sha256,
                threshold=inputs.threshold,
                grow_threshold=inputs.grow_threshold,
                min_lesion_mm3=inputs.min_lesion_mm3,
                tta=bool(inputs.tta),
                precision=inputs.precision,
                discs_file=Path(inputs.discs_file) if inputs.discs_file else None,
            )
        )
        self._results.update(out_files=[str(p) for p in written], summary=str(summary))
        return runtime
