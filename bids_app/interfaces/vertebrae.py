"""``FindDiscs``: the intervertebral discs along the T2Sag's cord, for vertebral levels.

Three providers, first that applies: the user's disc labels, SCT's ``sct_label_vertebrae`` (when
it is on PATH and the T2Sag has a cord mask, from the user or from SCT), the built-in finder
(:func:`bids_app.vertebrae.detect_discs`). SCT failing (it does on short fields of view) falls
back to the built-in finder with a warning: levels never fail a subject.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from nipype.interfaces.base import (
    BaseInterfaceInputSpec,
    File,
    SimpleInterface,
    TraitedSpec,
    traits,
)

from bids_app.labels import source_stem

logger = logging.getLogger('nipype.interface')

SCT_LABEL_VERTEBRAE = 'sct_label_vertebrae'
#: Seconds SCT may take (straightening a long spine takes minutes on one core).
SCT_TIMEOUT_S = 1800


def sct_vertebrae_available() -> bool:
    """Whether ``sct_label_vertebrae`` is on PATH."""
    return shutil.which(SCT_LABEL_VERTEBRAE) is not None


def run_sct_label_vertebrae(image: Path, cord_mask: Path, folder: Path) -> Path:
    """``sct_label_vertebrae -i IMAGE -s MASK -c t2 -ofolder FOLDER``: its disc label image.

    Raises ``RuntimeError`` with SCT's last output line when it fails or writes no discs.
    """
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        SCT_LABEL_VERTEBRAE, '-i', str(image), '-s', str(cord_mask), '-c', 't2',
        '-ofolder', str(folder),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=SCT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(str(error)) from error
    discs = folder / f'{source_stem(cord_mask)}_labeled_discs.nii.gz'
    if done.returncode != 0 or not discs.exists():
        lines = (done.stderr or done.stdout or '').strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f'exit {done.returncode}, no {discs.name}')
    return discs


class _FindDiscsInputSpec(BaseInterfaceInputSpec):
    t2sag_file = File(exists=True, mandatory=True, desc='the (fused) T2Sag image')
    cordframe = File(exists=True, mandatory=True, desc='the cord frame (.npz)')
    disc_labels = File(exists=True, desc="the user's disc labels on the T2Sag grid (SCT values)")
    cord_mask = File(exists=True, desc="the T2Sag's cord mask (user's or SCT's), for SCT")
    use_sct = traits.Bool(False, usedefault=True, desc='try sct_label_vertebrae first')


class _FindDiscsOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='discs TSV (z_mm, name) with its JSON sidecar')


class FindDiscs(SimpleInterface):
    """Discs from the user's labels, else SCT's labelling, else the built-in finder."""

    input_spec = _FindDiscsInputSpec
    output_spec = _FindDiscsOutputSpec

    def _run_interface(self, runtime):
        from dataclasses import replace

        from bids_app.frame import CordFrame
        from bids_app.interfaces.io import load_image
        from bids_app.slots import Slot
        from bids_app.vertebrae import detect_discs, discs_from_labels, write_discs

        frame = CordFrame.load(self.inputs.cordframe)
        centerline = frame.centerlines[Slot.T2Sag]
        covered = frame.coverage[Slot.T2Sag].any(axis=(0, 1))
        top = float(centerline[covered, 2].max()) if covered.any() else float('nan')
        labels_file = self.inputs.disc_labels or None
        provider = 'labels'
        if not labels_file and self.inputs.use_sct and self.inputs.cord_mask:
            labels_file, provider = self._sct_labels(Path(runtime.cwd)), 'sct'
        if labels_file:
            labels, affine = load_image(labels_file, allow_constant=True)
            discs = replace(discs_from_labels(labels, affine, top), provider=provider)
        else:
            data, affine = load_image(self.inputs.t2sag_file)
            discs = detect_discs(data, affine, centerline, covered)
        out = write_discs(discs, Path(runtime.cwd) / 'discs.tsv')
        self._results['out_file'] = str(out)
        return runtime

    def _sct_labels(self, cwd: Path) -> str | None:
        """SCT's disc labels, or None (with a warning) when SCT fails."""
        image = Path(self.inputs.t2sag_file)
        try:
            return str(run_sct_label_vertebrae(image, Path(self.inputs.cord_mask), cwd / 'sct'))
        except RuntimeError as error:
            logger.warning(
                '%s: sct_label_vertebrae failed (%s); vertebral levels from the built-in finder',
                image.name,
                error,
            )
            return None
