"""Pre-processing of one subject/session: fuse chunks, centreline per slot, cord frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

from nipype.interfaces import utility as niu
from nipype.pipeline import engine as pe

from bids_app.config import CordFrameConfig
from bids_app.interfaces.centerline import CenterlineFromMask, DetectCenterline
from bids_app.interfaces.cordframe import BuildCordFrame
from bids_app.interfaces.fusion import FuseChunks
from bids_app.interfaces.sct import SCTDeepseg, SCTDeepsegSC
from bids_app.slots import Slot

#: Centreline providers a slot can get from the command-line layer.
PROVIDERS = ('masks', 'sct_deepseg', 'sct_deepseg_sc', 'builtin')


def _centerline_node(slot: Slot, provider: str) -> tuple[pe.Node | None, pe.Node]:
    """(segmentation node or None, centreline node) for one slot and provider."""
    if provider == 'builtin':
        return None, pe.Node(DetectCenterline(slot=slot.value), name=f'centerline_{slot}')
    from_mask = pe.Node(
        CenterlineFromMask(provider='masks' if provider == 'masks' else 'sct'),
        name=f'centerline_{slot}',
    )
    if provider == 'masks':
        return None, from_mask
    if provider == 'sct_deepseg':
        return pe.Node(SCTDeepseg(), name=f'sct_seg_{slot}'), from_mask
    seg = pe.Node(SCTDeepsegSC(contrast=slot.spec.sct_contrast), name=f'sct_seg_{slot}')
    return seg, from_mask


def init_preproc_wf(
    *,
    slots: Sequence[Slot],
    providers: Mapping[Slot, str],
    with_labels: bool = False,
    keep_untrusted: bool = False,
    frame: CordFrameConfig | None = None,
    name: str = 'preproc_wf',
) -> pe.Workflow:
    """Build the pre-processing workflow of one subject/session.

    Workflow Graph
        inputnode -> fuse_<slot> -> [sct_seg_<slot>] -> centerline_<slot> -> cordframe
        -> outputnode; the built-in detector of every other slot searches near
        centerline_T2Sag's result.

    Parameters
    ----------
    slots : sequence of Slot
        The slots this unit has; must include T2Sag.
    providers : mapping
        Slot -> centreline provider, one of :data:`PROVIDERS`.
    with_labels : bool
        Whether reference lesion labels (per T2Sag chunk) come in and follow the T2Sag path.
    keep_untrusted : bool
        Use every slot even when its centreline cannot be trusted (``--keep-sequences``);
        otherwise such slots are left out of inference (:mod:`bids_app.centerline.trust`).
    frame : CordFrameConfig, optional
        The cord frame to build (a model's card says which; default: the default frame).
    name : str
        Workflow name.

    Inputs
    ------
    <slot>_files : list of str
        The chunks of each slot, in slab order.
    <slot>_masks : list of str
        Cord mask per chunk (slots whose provider is ``masks``).
    labels : list of str
        Lesion labels per T2Sag chunk (``with_labels``).

    Outputs
    -------
    cordframe : str
        The cord frame (``.npz``, see :class:`bids_app.frame.CordFrame`).
    t2sag_file : str
        The (fused) T2Sag image: the native grid the outputs go back to.
    t2sag_cord : str
        Its cord mask, when the user or SCT gave one (undefined with the built-in centreline).
    centerline_tsvs, crop_files : list of str
        Per slot, in slot order: centreline TSV and QC crop NIfTI.
    """
    slots = [s for s in Slot if s in set(slots)]
    frame = frame or CordFrameConfig()
    workflow = pe.Workflow(name=name)
    fields = [f'{s}_files' for s in slots] + [f'{s}_masks' for s in slots] + ['labels']
    inputnode = pe.Node(niu.IdentityInterface(fields=fields), name='inputnode')
    outputnode = pe.Node(
        niu.IdentityInterface(
            fields=['cordframe', 't2sag_file', 't2sag_cord', 'centerline_tsvs', 'crop_files']
        ),
        name='outputnode',
    )
    images = pe.Node(niu.Merge(len(slots)), name='merge_images', run_without_submitting=True)
    centerlines = pe.Node(
        niu.Merge(len(slots)), name='merge_centerlines', run_without_submitting=True
    )
    frame = pe.Node(
        BuildCordFrame(
            slots=[s.value for s in slots], keep_untrusted=keep_untrusted, **asdict(frame)
        ),
        name='cordframe',
    )
    t2sag_centerline = None
    connections = [
        (images, frame, [('out', 'in_files')]),
        (centerlines, frame, [('out', 'centerlines')]),
        (
            frame,
            outputnode,
            [
                ('out_file', 'cordframe'),
                ('centerline_tsvs', 'centerline_tsvs'),
                ('crop_files', 'crop_files'),
            ],
        ),
    ]
    for index, slot in enumerate(slots, start=1):
        provider = providers[slot]
        # Sagittal slabs: their chunks are registered before fusion (the paper's step 1).
        sagittal = slot.spec.acquisition == 'sagittal'
        fuse = pe.Node(FuseChunks(register=sagittal, out_name=slot.value), name=f'fuse_{slot}')
        seg, centerline = _centerline_node(slot, provider)
        connections += [
            (inputnode, fuse, [(f'{slot}_files', 'in_files')]),
            (fuse, images, [('out_file', f'in{index}')]),
            (centerline, centerlines, [('out_file', f'in{index}')]),
        ]
        if slot is Slot.T2Sag:
            t2sag_centerline = centerline
        elif provider == 'builtin':
            connections.append((t2sag_centerline, centerline, [('out_file', 'prior_file')]))
        if provider == 'builtin':
            connections.append((fuse, centerline, [('out_file', 'in_file')]))
        elif provider == 'masks':
            connections += [
                (inputnode, fuse, [(f'{slot}_masks', 'mask_files')]),
                (fuse, centerline, [('out_mask', 'mask_file')]),
            ]
        else:
            connections += [
                (fuse, seg, [('out_file', 'in_file')]),
                (seg, centerline, [('out_file', 'mask_file')]),
            ]
        if slot is Slot.T2Sag:
            connections.append((fuse, outputnode, [('out_file', 't2sag_file')]))
            if with_labels:
                connections += [
                    (inputnode, fuse, [('labels', 'label_files')]),
                    (fuse, frame, [('out_labels', 'labels_file')]),
                ]
            if provider == 'masks':
                connections += [
                    (fuse, frame, [('out_mask', 'cord_mask')]),
                    (fuse, outputnode, [('out_mask', 't2sag_cord')]),
                ]
            elif seg is not None:
                connections += [
                    (seg, frame, [('out_file', 'cord_mask')]),
                    (seg, outputnode, [('out_file', 't2sag_cord')]),
                ]
    workflow.connect(connections)
    return workflow
