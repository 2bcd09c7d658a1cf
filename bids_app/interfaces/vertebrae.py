"""``FindDiscs``: the intervertebral discs along the T2Sag's cord, for vertebral levels."""

from __future__ import annotations

from pathlib import Path

from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    File,
    SimpleInterface,
    TraitedSpec,
)


class _FindDiscsInputSpec(BaseInterfaceInputSpec):
    t2sag_file = File(exists=True, mandatory=True, desc='the (fused) T2Sag image')
    cordframe = File(exists=True, mandatory=True, desc='the cord frame (.npz)')
    disc_labels = File(exists=True, desc="the user's disc labels on the T2Sag grid (SCT values)")


class _FindDiscsOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='discs TSV (z_mm, name) with its JSON sidecar')


class FindDiscs(SimpleInterface):
    """Discs from the user's labels when given, else the built-in finder."""

    input_spec = _FindDiscsInputSpec
    output_spec = _FindDiscsOutputSpec

    def _run_interface(self, runtime):
        from bids_app.config import Slot
        from bids_app.frame import CordFrame
        from bids_app.interfaces.io import load_image
        from bids_app.vertebrae import detect_discs, discs_from_labels, write_discs

        frame = CordFrame.load(self.inputs.cordframe)
        centerline = frame.centerlines[Slot.T2Sag]
        covered = frame.coverage[Slot.T2Sag].any(axis=(0, 1))
        if self.inputs.disc_labels:
            labels, affine = load_image(self.inputs.disc_labels, allow_constant=True)
            top = float(centerline[covered, 2].max()) if covered.any() else float('nan')
            discs = discs_from_labels(labels, affine, top)
        else:
            data, affine = load_image(self.inputs.t2sag_file)
            discs = detect_discs(data, affine, centerline, covered)
        out = write_discs(discs, Path(runtime.cwd) / 'discs.tsv')
        self._results['out_file'] = str(out)
        return runtime
