"""The participant workflow of one unit: built (not run) with the post-processing it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from bids_app.discovery import Unit
from bids_app.postprocess import PostprocessOptions
from bids_app.slots import Slot
from bids_app.workflows.base import InferenceOptions, UnitPlan, init_unit_wf


@pytest.mark.parametrize(
    'postprocess',
    [
        PostprocessOptions(),
        PostprocessOptions(threshold=0.3, min_lesion_mm3=0.0),
        PostprocessOptions(threshold=0.7, min_lesion_mm3=20.0, grow_threshold=0.3),
    ],
)
def test_predict_and_sidecars_get_the_resolved_post_processing(tmp_path: Path, postprocess):
    unit = Unit('01', None, {Slot.T2Sag: [tmp_path / 'sub-01_acq-sag_T2w.nii.gz']})
    plan = UnitPlan(unit, {Slot.T2Sag: 'builtin'})
    workflow = init_unit_wf(
        plan,
        bids_dir=tmp_path,
        output_dir=tmp_path / 'out',
        crashdump_dir=tmp_path / 'log',
        inference=InferenceOptions(model_dir=tmp_path, postprocess=postprocess),
    )
    expected = (postprocess.threshold, postprocess.grow_threshold, postprocess.min_lesion_mm3)
    for name in ('predict', 'write_lesions'):  # the mask, and the sidecar and summary of it
        inputs = workflow.get_node(name).inputs
        assert (inputs.threshold, inputs.grow_threshold, inputs.min_lesion_mm3) == expected, name
