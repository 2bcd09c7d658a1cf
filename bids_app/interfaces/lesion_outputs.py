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
    """Probability, mask, numbered lesions, lesion table and summary, with their sidecars.

    The summary TSV is written last: its presence marks the unit's outputs as complete.
    """

    input_spec = _WriteLesionInputSpec
    output_spec = _WriteLesionOutputSpec

    def _run_interface(self, runtime):
        import numpy as np

        from bids_app.derivatives import SUMMARY_COLUMNS, bids_uri, write_json, write_tsv
        from bids_app.frame import CordFrame
        from bids_app.headers import load_nifti
        from bids_app.interfaces.io import save_image
        from bids_app.lesions import COLUMNS, label_lesions, lesion_table
        from bids_app.native import to_native
        from bids_app.vertebrae import LEVEL_COLUMN, levels_of, read_discs

        inputs = self.inputs
        names = _OutputNames(inputs)
        frame = CordFrame.load(inputs.cordframe)
        with np.load(inputs.prediction) as prediction:
            probability, mask = prediction['probability'], prediction['mask']
            slots_used = [str(s) for s in prediction['slots']]
        t2 = load_nifti(inputs.t2sag_file)
        affine = np.asarray(t2.affine, dtype=np.float64)
        native = to_native(frame, probability, mask, t2.shape[:3], affine)
        labels, n_lesions = label_lesions(native.mask, affine)
        table = lesion_table(
            labels,
            affine,
            probability=native.probability,
            coverage_by_slot={str(s): c for s, c in native.coverage.items()},
            centerline_xyz_mm=frame.centerlines[frame.slots[0]],
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
        model = {'Name': inputs.model_name, 'SHA256': inputs.model_sha256}
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
                'SlotsFound': list(inputs.slots),
                'SlotsDropped': {str(s): why for s, why in frame.dropped.items()},
                'CenterlineProvider': {str(s): frame.providers[s] for s in frame.slots},
                'Model': model,
                'TestTimeAugmentation': bool(inputs.tta),
                'Precision': inputs.precision,
            },
        )
        probseg_uri = bids_uri(names.path('probseg'), Path(inputs.output_dir), '')
        save_image(native.mask.astype(np.uint8), affine, names.path('mask'), dtype=np.uint8)
        write_json(
            names.path('mask', '.json'),
            {
                **common,
                'Type': 'Lesion',
                'Manual': False,
                'Threshold': inputs.threshold,
                'MinLesionVolume': inputs.min_lesion_mm3,
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
                'Description': 'Lesions numbered 1..N, superior-most first (26-connectivity)',
                **{column: info for column, info in COLUMNS.items() if column != 'index'},
                **LEVEL_COLUMN,
            },
        )
        discs = read_discs(Path(inputs.discs_file)) if inputs.discs_file else None
        rows = [
            {**m.to_row(), 'vertebral_levels': discs and levels_of(m.z_min_mm, m.z_max_mm, discs)}
            for m in table
        ]
        write_tsv(names.path('dseg', '.tsv'), rows, [*COLUMNS, *LEVEL_COLUMN])
        written += [names.path(k) for k in ('probseg', 'mask', 'dseg')]
        if discs is not None:
            written += _write_levels(names, discs, labels, affine, Path(inputs.discs_file))
        summary = {
            'participant_id': f'sub-{inputs.subject}',
            'session_id': f'ses-{inputs.session}' if inputs.session else None,
            'slots_used': ','.join(slots_used),
            'slots_dropped': '; '.join(f'{s}: {why}' for s, why in frame.dropped.items()) or None,
            'n_lesions': n_lesions,
            'total_volume_mm3': float(sum(m.volume_mm3 for m in table)),
            'centerline_provider': providers.replace(' ', ''),
            'model': f'{inputs.model_name}@{inputs.model_sha256[:12]}',
            'threshold': inputs.threshold,
            'min_lesion_mm3': inputs.min_lesion_mm3,
        }
        dseg_uri = bids_uri(names.path('dseg', '.tsv'), Path(inputs.output_dir), '')
        write_json(
            names.path('summary', '.json'),
            {
                'Description': 'Lesion load of the subject/session, one row',
                'Sources': [bids_uri(names.path('mask'), Path(inputs.output_dir), ''), dseg_uri],
                **SUMMARY_COLUMNS,
            },
        )
        summary_path = write_tsv(names.path('summary', '.tsv'), [summary], list(SUMMARY_COLUMNS))
        self._results.update(out_files=[str(p) for p in written], summary=str(summary_path))
        return runtime


def _write_levels(names, discs, labels, affine, discs_file: Path) -> list[Path]:
    """The discs found and the lesion load per vertebra, with their sidecars."""
    from bids_app.derivatives import copy_file, derived_name, write_json, write_tsv
    from bids_app.vertebrae import LEVEL_TABLE_COLUMNS, lesions_by_level

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


class _OutputNames:
    """File names of one unit's lesion outputs (CONVENTIONS section 4)."""

    def __init__(self, inputs) -> None:
        from bids_app import __version__
        from bids_app.derivatives import bids_uri, split_source

        self.version = __version__
        self.output_dir = Path(inputs.output_dir)
        self.folder = self.output_dir / inputs.folder
        sources = dict(zip(inputs.slots, inputs.sources, strict=True))
        self.t2sag = Path(sources['T2Sag'][0])
        self.fused = len(sources['T2Sag']) > 1
        bids_dir = Path(inputs.bids_dir)
        self.uris = {s: [bids_uri(Path(p), bids_dir) for p in ps] for s, ps in sources.items()}
        self.suffix = split_source(self.t2sag)[1]
        self.unit_stem = f'sub-{inputs.subject}' + (
            f'_ses-{inputs.session}' if inputs.session else ''
        )

    def path(self, kind: str, extension: str = '.nii.gz') -> Path:
        """``kind``: preproc, probseg, mask, dseg or summary."""
        from bids_app.derivatives import derived_name

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
        from bids_app.derivatives import bids_uri

        if self.fused:
            return bids_uri(self.path('preproc'), self.output_dir, '')
        return self.uris['T2Sag'][0]
