"""Interfaces that write into the output folder: names, sidecars, atomic writes."""

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

CENTERLINE_COLUMNS = {
    axis: {
        'Description': f'{axis} of the cord centreline, world (scanner RAS+) coordinates',
        'Units': 'mm',
    }
    for axis in ('x', 'y', 'z')
}


class _WritePreprocInputSpec(BaseInterfaceInputSpec):
    output_dir = Directory(mandatory=True, desc='the derivatives dataset')
    bids_dir = Directory(exists=True, mandatory=True, desc='the raw dataset')
    folder = traits.Str(mandatory=True, desc='sub-<s>[/ses-<t>]/anat')
    slots = traits.List(traits.Str, mandatory=True, desc='slots, in the order of the files')
    sources = traits.List(traits.List(traits.Str), mandatory=True, desc='raw files per slot')
    cordframe = File(exists=True, mandatory=True, desc='the cord frame (.npz)')
    centerline_tsvs = InputMultiObject(File(exists=True), mandatory=True)
    crop_files = InputMultiObject(File(exists=True), mandatory=True)


class _WriteOutputsOutputSpec(TraitedSpec):
    out_files = OutputMultiObject(File(exists=True), desc='files written')


class WritePreprocOutputs(SimpleInterface):
    """Each slot's centreline TSV and cord-frame crop, with their sidecars."""

    input_spec = _WritePreprocInputSpec
    output_spec = _WriteOutputsOutputSpec

    def _run_interface(self, runtime):
        from bids_app.derivatives import (
            bids_uri,
            centerline_name,
            copy_file,
            derived_name,
            split_source,
            write_json,
        )
        from bids_app.frame import CordFrame

        bids_dir, out_dir = Path(self.inputs.bids_dir), Path(self.inputs.output_dir)
        folder = out_dir / self.inputs.folder
        frame = CordFrame.load(self.inputs.cordframe)
        config = frame.config
        written = []
        items = zip(
            self.inputs.slots,
            self.inputs.sources,
            self.inputs.centerline_tsvs,
            self.inputs.crop_files,
            strict=True,
        )
        for slot, sources, tsv, crop in items:
            first = Path(sources[0])
            uris = [bids_uri(Path(s), bids_dir) for s in sources]
            tsv_path = copy_file(Path(tsv), folder / centerline_name(first))
            write_json(
                tsv_path.with_suffix('.json'),
                {
                    'Slot': slot,
                    'CenterlineProvider': frame.providers[slot],
                    'Sources': uris,
                    'Description': 'Smoothed cord centreline, one row per cord-frame slice',
                    **CENTERLINE_COLUMNS,
                },
            )
            suffix = split_source(first)[1]
            crop_name = derived_name(
                first, suffix=suffix, extension='.nii.gz', space='cord', desc='crop'
            )
            crop_path = copy_file(Path(crop), folder / crop_name)
            write_json(
                folder / crop_name.replace('.nii.gz', '.json'),
                {
                    'Sources': uris,
                    'SpatialReference': bids_uri(tsv_path, out_dir, ''),
                    'Description': f'{slot} resampled into the cord frame (QC)',
                    'SkullStripped': False,
                    'CordFrame': {
                        'VoxelSize': config.voxel_mm,
                        'CropSize': [config.crop_size, config.crop_size],
                        'Z0': float(frame.z_mm[0]),
                    },
                },
            )
            written += [str(tsv_path), str(crop_path)]
        self._results['out_files'] = written
        return runtime


class _CopyFileInputSpec(BaseInterfaceInputSpec):
    in_file = File(exists=True, mandatory=True, desc='file to copy')
    destination = traits.Str(mandatory=True, desc='where it goes')


class _CopyFileOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='the copy')


class CopyFile(SimpleInterface):
    """Copy a file atomically to a fixed place outside the node's folder."""

    input_spec = _CopyFileInputSpec
    output_spec = _CopyFileOutputSpec

    def _run_interface(self, runtime):
        from bids_app.derivatives import copy_file

        out = copy_file(Path(self.inputs.in_file), Path(self.inputs.destination))
        self._results['out_file'] = str(out)
        return runtime
