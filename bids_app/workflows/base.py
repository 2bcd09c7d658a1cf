"""The top-level workflow: one sub-workflow per subject/session."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nipype.interfaces import utility as niu
from nipype.pipeline import engine as pe

from bids_app import __version__
from bids_app.config import CordFrameConfig
from bids_app.derivatives import unit_folder
from bids_app.discovery import Unit
from bids_app.interfaces.inference import PredictLesions
from bids_app.interfaces.lesion_outputs import WriteLesionOutputs
from bids_app.interfaces.outputs import CopyFile, WritePreprocOutputs
from bids_app.interfaces.vertebrae import FindDiscs
from bids_app.postprocess import PostprocessOptions
from bids_app.slots import Slot
from bids_app.workflows.preproc import init_preproc_wf


@dataclass(frozen=True)
class UnitPlan:
    """What one subject/session's workflow needs, decided before it is built.

    Attributes
    ----------
    unit : Unit
        The discovered images per slot.
    providers : dict
        Slot -> centreline provider (see :data:`bids_app.workflows.preproc.PROVIDERS`).
    masks : dict
        Slot -> cord mask per chunk, for slots whose provider is ``masks``.
    labels : list of Path
        Reference lesion labels per T2Sag chunk (empty when there are none).
    keep_untrusted : bool
        Use slots whose centreline cannot be trusted (``--force-sequences``).
    disc_labels : Path or None
        The user's intervertebral disc labels on the T2Sag grid (SCT's values), if any.
    sct_vertebrae : bool
        Label the discs with SCT's ``sct_label_vertebrae`` (on PATH, and the T2Sag has a cord
        mask); the built-in finder stays the fallback.
    """

    unit: Unit
    providers: dict[Slot, str]
    masks: dict[Slot, list[Path]] = field(default_factory=dict)
    labels: list[Path] = field(default_factory=list)
    keep_untrusted: bool = False
    disc_labels: Path | None = None
    sct_vertebrae: bool = False

    @property
    def workflow_name(self) -> str:
        """``sub_<s>[_ses_<t>]_wf`` (Nipype names allow no dashes)."""
        return self.unit.name.replace('-', '_') + '_wf'


def workflow_name() -> str:
    """``sclesion_<major>_<minor>_wf``: a new minor version never reuses an older cache."""
    major, minor = __version__.split('.')[:2]
    return f'sclesion_{major}_{minor}_wf'


def set_crashdump_dir(workflow: pe.Workflow, crashdump_dir: Path) -> pe.Workflow:
    """Send the crash files of every node of ``workflow`` to ``crashdump_dir``.

    Nipype merges only the top-level workflow's config into its nodes, so a sub-workflow's own
    setting would be ignored: it goes on each node.
    """
    for name in workflow.list_node_names():
        node = workflow.get_node(name)
        node.config = {'execution': {'crashdump_dir': str(crashdump_dir)}}
    return workflow


# Nodes that write outside their own folder (outputs, caches) carry ``overwrite=True``: Nipype
# would otherwise skip them on a rerun whose inputs did not change, and a deleted output would
# never come back.


def _preproc_for(plan: UnitPlan, frame: CordFrameConfig | None = None) -> pe.Workflow:
    """The unit's pre-processing workflow with its inputs filled in."""
    unit = plan.unit
    slots = [s for s in Slot if s in unit.slots]
    preproc = init_preproc_wf(
        slots=slots,
        providers=plan.providers,
        with_labels=bool(plan.labels),
        keep_untrusted=plan.keep_untrusted,
        frame=frame,
    )
    for slot in slots:
        setattr(preproc.inputs.inputnode, f'{slot}_files', [str(p) for p in unit.slots[slot]])
        if slot in plan.masks:
            setattr(preproc.inputs.inputnode, f'{slot}_masks', [str(p) for p in plan.masks[slot]])
    if plan.labels:
        preproc.inputs.inputnode.labels = [str(p) for p in plan.labels]
    return preproc


def init_frames_wf(plan: UnitPlan, *, cache_dir: Path, crashdump_dir: Path) -> pe.Workflow:
    """Pre-process one subject/session for training: its cord frame, copied to ``cache_dir``.

    Workflow Graph
        preproc_wf -> cache_frame
    """
    workflow = pe.Workflow(name=plan.workflow_name)
    cache = pe.Node(
        CopyFile(destination=str(cache_dir / f'{plan.unit.name}.npz')),
        name='cache_frame',
        run_without_submitting=True,
        overwrite=True,
    )
    workflow.connect([(_preproc_for(plan), cache, [('outputnode.cordframe', 'in_file')])])
    return set_crashdump_dir(workflow, crashdump_dir)


@dataclass(frozen=True)
class InferenceOptions:
    """How the participant level runs the model (recorded in the sidecars).

    ``model_sha256`` is the weights' checksum as checked before the run ('' for none): the
    prediction node reruns when it changes, and fails if the folder holds other weights by then.
    ``frame`` is the cord frame the model was trained on (its card's), which pre-processing builds.
    """

    model_dir: Path
    model_sha256: str = ''
    device: str = 'auto'
    tta: bool = False
    precision: str = 'float32'
    num_threads: int = 1
    postprocess: PostprocessOptions = field(default_factory=PostprocessOptions)
    frame: CordFrameConfig = field(default_factory=CordFrameConfig)


def init_unit_wf(
    plan: UnitPlan,
    *,
    bids_dir: Path,
    output_dir: Path,
    crashdump_dir: Path,
    inference: InferenceOptions,
    name: str | None = None,
) -> pe.Workflow:
    """The participant level for one subject/session.

    Workflow Graph
        preproc_wf -> predict -> write_lesions
        preproc_wf -> find_discs -> write_lesions (vertebral levels)
        preproc_wf -> write_preproc -> write_lesions (which writes the summary last)
        write_preproc, write_lesions -> outputnode

    The unit's images, masks and labels come from ``plan`` into ``preproc_wf``'s inputnode
    (:func:`bids_app.workflows.preproc.init_preproc_wf`).

    Parameters
    ----------
    plan : UnitPlan
        Images, providers, masks and labels of the unit.
    bids_dir, output_dir : Path
        The raw dataset and the derivatives folder.
    crashdump_dir : Path
        Where Nipype writes this unit's crash files.
    inference : InferenceOptions
        Model folder, device, test-time augmentation, precision, threads, the cord frame and
        the post-processing (thresholds, minimum lesion size) as resolved from the command line
        and the model card.
    name : str, optional
        Workflow name (default: ``sub_<s>[_ses_<t>]_wf``).

    Outputs
    -------
    summary : str
        The summary TSV, written last: the mark of complete outputs.
    lesion_files, preproc_files : list of str
        The lesion derivatives, and the centrelines and crops, as written.
    """
    unit = plan.unit
    slots = [s for s in Slot if s in unit.slots]
    workflow = pe.Workflow(name=name or plan.workflow_name)
    outputnode = pe.Node(
        niu.IdentityInterface(fields=['summary', 'lesion_files', 'preproc_files']),
        name='outputnode',
    )
    preproc = _preproc_for(plan, inference.frame)
    describe = {
        'output_dir': str(output_dir),
        'bids_dir': str(bids_dir),
        'folder': str(unit_folder(unit.subject, unit.session)),
        'slots': [s.value for s in slots],
        'sources': [[str(p) for p in unit.slots[s]] for s in slots],
    }
    write_preproc = pe.Node(
        WritePreprocOutputs(**describe),
        name='write_preproc',
        run_without_submitting=True,
        overwrite=True,
    )
    predict = pe.Node(
        PredictLesions(
            model_dir=str(inference.model_dir),
            model_sha256=inference.model_sha256,
            device=inference.device,
            tta=inference.tta,
            precision=inference.precision,
            num_threads=inference.num_threads,
            threshold=inference.postprocess.threshold,
            grow_threshold=inference.postprocess.grow_threshold,
            min_lesion_mm3=inference.postprocess.min_lesion_mm3,
        ),
        name='predict',
        n_procs=inference.num_threads,
    )
    find_discs = pe.Node(FindDiscs(use_sct=plan.sct_vertebrae), name='find_discs')
    if plan.disc_labels:
        find_discs.inputs.disc_labels = str(plan.disc_labels)
    write_lesions = pe.Node(
        WriteLesionOutputs(
            **describe,
            subject=unit.subject,
            session=unit.session or '',
            threshold=inference.postprocess.threshold,
            grow_threshold=inference.postprocess.grow_threshold,
            min_lesion_mm3=inference.postprocess.min_lesion_mm3,
            tta=inference.tta,
        ),
        name='write_lesions',
        overwrite=True,
    )
    workflow.connect(
        [
            (
                preproc,
                write_preproc,
                [
                    ('outputnode.cordframe', 'cordframe'),
                    ('outputnode.centerline_tsvs', 'centerline_tsvs'),
                    ('outputnode.crop_files', 'crop_files'),
                ],
            ),
            (preproc, predict, [('outputnode.cordframe', 'cordframe')]),
            (
                preproc,
                write_lesions,
                [('outputnode.cordframe', 'cordframe'), ('outputnode.t2sag_file', 't2sag_file')],
            ),
            (
                preproc,
                find_discs,
                [
                    ('outputnode.cordframe', 'cordframe'),
                    ('outputnode.t2sag_file', 't2sag_file'),
                    ('outputnode.t2sag_cord', 'cord_mask'),
                ],
            ),
            (find_discs, write_lesions, [('out_file', 'discs_file')]),
            (write_preproc, outputnode, [('out_files', 'preproc_files')]),
            (write_lesions, outputnode, [('summary', 'summary'), ('out_files', 'lesion_files')]),
            # The summary (the mark of complete outputs) waits for every other output.
            (write_preproc, write_lesions, [('out_files', 'preproc_outputs')]),
            (
                predict,
                write_lesions,
                [
                    ('out_file', 'prediction'),
                    ('model_name', 'model_name'),
                    ('model_sha256', 'model_sha256'),
                    ('precision', 'precision'),
                ],
            ),
        ]
    )
    return set_crashdump_dir(workflow, crashdump_dir)


def init_sclesion_wf(
    plans: Sequence[UnitPlan],
    build_unit: Callable[[UnitPlan, Path], pe.Workflow],
    *,
    work_dir: Path,
    log_dir: Callable[[UnitPlan], Path],
) -> pe.Workflow:
    """One sub-workflow per subject/session, cached under ``work_dir``.

    Parameters
    ----------
    plans : sequence of UnitPlan
        The units to run.
    build_unit : callable
        ``build_unit(plan, crashdump_dir)`` returns the unit's workflow.
    work_dir : Path
        Nipype's cache.
    log_dir : callable
        ``log_dir(plan)``: where the unit's crash files go.
    """
    workflow = pe.Workflow(name=workflow_name(), base_dir=str(work_dir))
    workflow.add_nodes([build_unit(plan, log_dir(plan)) for plan in plans])
    return workflow
