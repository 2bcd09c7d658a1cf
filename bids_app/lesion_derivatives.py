"""A unit's lesion derivatives on the native T2Sag grid: probability, mask, numbered lesions,
lesion table, per-vertebra table and summary, each with its sidecar (CONVENTIONS section 4).

The computation is :func:`bids_app.native.to_native` and :mod:`bids_app.lesions`; this module
names the files, builds the sidecars and writes them, the summary TSV last: its presence marks
the unit's outputs as complete. ``WriteLesionOutputs`` is a thin Nipype wrapper around
:func:`write_lesion_outputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bids_app import __version__
from bids_app.derivatives import (
    SUMMARY_COLUMNS,
    bids_uri,
    copy_file,
    derived_name,
    split_source,
    write_json,
    write_tsv,
)
from bids_app.frame import CordFrame
from bids_app.headers import load_nifti
from bids_app.interfaces.io import save_image
from bids_app.lesions import COLUMNS, lesion_table, number_superior_first
from bids_app.native import to_native
from bids_app.postprocess import field_of_view
from bids_app.vertebrae import (
    LEVEL_COLUMN,
    LEVEL_TABLE_COLUMNS,
    Discs,
    lesions_by_level,
    levels_of,
    read_discs,
)


@dataclass(frozen=True)
class LesionOutputRequest:
    """What one unit's lesion outputs are made from and what their sidecars record."""

    output_dir: Path
    bids_dir: Path
    folder: Path
    subject: str
    session: str
    slots: tuple[str, ...]
    sources: tuple[tuple[str, ...], ...]
    t2sag_file: Path
    cordframe: Path
    prediction: Path
    model_name: str
    model_sha256: str
    threshold: float
    grow_threshold: float
    min_lesion_mm3: float
    tta: bool
    precision: str = 'float32'
    discs_file: Path | None = None


def write_lesion_outputs(request: LesionOutputRequest) -> tuple[list[Path], Path]:
    """Write the unit's lesion derivatives; the files written and the summary TSV (last)."""
    names = UnitOutputNames(request)
    frame = CordFrame.load(request.cordframe)
    with np.load(request.prediction) as prediction:
        probability, mask = prediction['probability'], prediction['mask']
        slots_used = [str(s) for s in prediction['slots']]
    t2 = load_nifti(request.t2sag_file)
    affine = np.asarray(t2.affine, dtype=np.float64)
    native = to_native(frame, probability, mask, t2.shape[:3], affine)
    labels, n_lesions = number_superior_first(native.lesions, affine)
    table = lesion_table(
        labels,
        affine,
        probability=native.probability,
        coverage_by_slot={str(s): c for s, c in native.coverage.items()},
        centerline_xyz_mm=frame.centerlines[frame.slots[0]],
        field_of_view=field_of_view(c for s, c in native.coverage.items() if str(s) in slots_used),
    )
    written: list[Path] = []
    spatial = names.spatial_reference()
    if names.fused:
        save_image(t2.get_fdata(dtype=np.float32), affine, names.path('preproc'))
        write_json(
            names.path('preproc', '.json'),
            {
                'Sources': names.uris['T2Sag'],
                'Description': 'T2Sag fused from its chunks',
                'SkullStripped': False,
            },
        )
        written.append(names.path('preproc'))
    providers = ', '.join(f'{s}:{frame.providers[s]}' for s in frame.slots)
    model = {'Name': request.model_name, 'SHA256': request.model_sha256}
    common = {'SpatialReference': spatial, 'SoftwareVersion': names.version}
    save_image(native.probability, affine, names.path('probseg'), dtype=np.float32)
    write_json(
        names.path('probseg', '.json'),
        {
            **common,
            'Manual': False,
            'Description': 'MS lesion probability on the native T2Sag grid',
            'Sources': [u for slot in slots_used for u in names.uris[slot]],
            'Slots': {slot: names.uris[slot] for slot in slots_used},
            'SlotsFound': list(request.slots),
            'SlotsDropped': {str(s): why for s, why in frame.dropped.items()},
            'CenterlineProvider': {str(s): frame.providers[s] for s in frame.slots},
            'Model': model,
            'TestTimeAugmentation': request.tta,
            'Precision': request.precision,
        },
    )
    probseg_uri = bids_uri(names.path('probseg'), names.output_dir, '')
    save_image(native.mask.astype(np.uint8), affine, names.path('mask'), dtype=np.uint8)
    write_json(
        names.path('mask', '.json'),
        {
            **common,
            'Type': 'Lesion',
            'Manual': False,
            'Threshold': request.threshold,
            'GrowThreshold': request.grow_threshold,
            'MinLesionVolume': request.min_lesion_mm3,
            'Description': 'Binary MS lesion mask on the native T2Sag grid',
            'Sources': [probseg_uri],
        },
    )
    save_image(labels.astype(np.int16), affine, names.path('dseg'), dtype=np.int16)
    # One JSON for the dseg image and its same-name lesion table: the columns' descriptions,
    # but not ``index``, which BIDS defines for every dseg table (an integer).
    write_json(
        names.path('dseg', '.json'),
        {
            **common,
            'Manual': False,
            'Sources': [probseg_uri],
            'Description': 'Lesions numbered 1..N, superior-most first; a lesion is a '
            '26-connected component of the mask in the cord frame, where the model works (on '
            'this grid its voxels need not all touch)',
            **{column: info for column, info in COLUMNS.items() if column != 'index'},
            **LEVEL_COLUMN,
        },
    )
    discs = read_discs(request.discs_file) if request.discs_file else None
    rows = [
        {**m.to_row(), 'vertebral_levels': discs and levels_of(m.z_min_mm, m.z_max_mm, discs)}
        for m in table
    ]
    write_tsv(names.path('dseg', '.tsv'), rows, [*COLUMNS, *LEVEL_COLUMN])
    written += [names.path(k) for k in ('probseg', 'mask', 'dseg')]
    if discs is not None:
        written += write_levels(names, discs, labels, affine, request.discs_file)
    summary = {
        'participant_id': f'sub-{request.subject}',
        'session_id': f'ses-{request.session}' if request.session else None,
        'slots_used': ','.join(slots_used),
        'slots_dropped': '; '.join(f'{s}: {why}' for s, why in frame.dropped.items()) or None,
        'n_lesions': n_lesions,
        'total_volume_mm3': float(sum(m.volume_mm3 for m in table)),
        'centerline_provider': providers.replace(' ', ''),
        'model': f'{request.model_name}@{request.model_sha256[:12]}',
        'threshold': request.threshold,
        'grow_threshold': request.grow_threshold,
        'min_lesion_mm3': request.min_lesion_mm3,
        'tta': 'true' if request.tta else 'false',
    }
    dseg_uri = bids_uri(names.path('dseg', '.tsv'), names.output_dir, '')
    write_json(
        names.path('summary', '.json'),
        {
            'Description': 'Lesion load of the subject/session, one row',
            'Sources': [bids_uri(names.path('mask'), names.output_dir, ''), dseg_uri],
            **SUMMARY_COLUMNS,
        },
    )
    summary_path = write_tsv(names.path('summary', '.tsv'), [summary], list(SUMMARY_COLUMNS))
    return written, summary_path


def write_levels(
    names: UnitOutputNames, discs: Discs, labels: NDArray, affine: NDArray, discs_file: Path
) -> list[Path]:
    """The discs found and the lesion load per vertebra, with their sidecars."""
    discs_path = names.folder / derived_name(
        names.t2sag, suffix='', extension='.tsv', keep_suffix=True, desc='discs'
    )
    copy_file(discs_file, discs_path)
    copy_file(discs_file.with_suffix('.json'), discs_path.with_suffix('.json'))
    table = names.folder / f'{names.unit_stem}_desc-levels_summary.tsv'
    description = (
        'Lesions and lesion volume per vertebra'
        if discs.named
        else 'Empty: the intervertebral discs could not be found and named'
    )
    write_json(
        table.with_suffix('.json'),
        {'Description': description, 'DiscsProvider': discs.provider, **LEVEL_TABLE_COLUMNS},
    )
    write_tsv(table, lesions_by_level(labels, affine, discs), list(LEVEL_TABLE_COLUMNS))
    return [discs_path, table]


class UnitOutputNames:
    """File names of one unit's lesion outputs (CONVENTIONS section 4)."""

    def __init__(self, request: LesionOutputRequest) -> None:
        self.version = __version__
        self.output_dir = request.output_dir
        self.folder = self.output_dir / request.folder
        sources = dict(zip(request.slots, request.sources, strict=True))
        self.t2sag = Path(sources['T2Sag'][0])
        self.fused = len(sources['T2Sag']) > 1
        bids_dir = request.bids_dir
        self.uris = {s: [bids_uri(Path(p), bids_dir) for p in ps] for s, ps in sources.items()}
        self.suffix = split_source(self.t2sag)[1]
        self.unit_stem = f'sub-{request.subject}' + (
            f'_ses-{request.session}' if request.session else ''
        )

    def path(self, kind: str, extension: str = '.nii.gz') -> Path:
        """``kind``: preproc, probseg, mask, dseg or summary."""
        if kind == 'summary':
            return self.folder / f'{self.unit_stem}_desc-lesions_summary{extension}'
        entities = {
            'preproc': {'suffix': self.suffix, 'desc': 'preproc'},
            'probseg': {'suffix': 'probseg', 'label': 'lesion'},
            'mask': {'suffix': 'mask', 'label': 'lesion'},
            'dseg': {'suffix': 'dseg', 'desc': 'lesions'},
        }[kind]
        return self.folder / derived_name(self.t2sag, extension=extension, **entities)

    def spatial_reference(self) -> str:
        if self.fused:
            return bids_uri(self.path('preproc'), self.output_dir, '')
        return self.uris['T2Sag'][0]
