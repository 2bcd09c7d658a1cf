"""The robustness battery of issue 11: one registry of bad inputs and what sclesion must do.

Each :class:`Case` says how its bad input is made, the exit code, the one line the user must see
(it names the file and says the fix), and whether the other subjects are still processed.
``docs/robustness.md`` holds :func:`markdown_table` of this registry (a test keeps them equal).

``Case.run`` says how a case runs:

``shared``
    Subject ``sub-<id>`` of one dataset run once for the whole module (``test_shared_run.py``)
    beside a good subject: a bad input costs one failing node, not a run of its own.
``own``
    A run of its own (``test_own_runs.py``), most stopped before any work or at ``--dry-run``.

Every case runs in the default suite (about a minute on two cores); none needs ``-m slow``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import robustness_inputs as inputs
import robustness_outputs as outputs
import robustness_scenarios as scenarios

CATEGORIES = ('file', 'dataset', 'environment', 'model', 'output')
OUTCOMES = {
    'failed': 'the subject fails, the others go on',
    'skipped': 'the subject is skipped (not a failure)',
    'processed': 'the subject is processed',
    'refused': 'the run stops before any work',
}


@dataclass(frozen=True)
class Case:
    """One bad input and the behaviour the user must get.

    Attributes
    ----------
    id : str
        Short name; for a shared case also the subject label, hence letters and digits only.
    category : {'file', 'dataset', 'environment', 'model', 'output'}
        ``output``: what OUTPUT_DIR holds (tables a group run reads, links, another dataset).
    how : str
        How the bad input is made (the docs table).
    exit_code : int
        What ``sclesion`` returns when this is the only problem beside a good subject.
    outcome : str
        A key of :data:`OUTCOMES`.
    problem, fix : str
        Regular expressions the user's one line must match: what is wrong, what to do ('' when
        there is nothing to do).
    sees : str
        What the user sees, in short (the docs table).
    run : {'shared', 'own'}
    make : callable
        ``shared``: ``make(root, label, good) -> str``; ``own``: a context manager
        ``make(tmp, good, model)`` yielding a :class:`robustness_scenarios.Scenario`. The string
        (``Scenario.names``) is what the user's line must name.
    during : callable, optional
        ``shared`` only: ``during(out, label)``, a context manager held while the run lasts.
    others : str
        What happens to the other subjects (the docs table).
    """

    id: str
    category: str
    how: str
    exit_code: int
    outcome: str
    problem: str
    fix: str
    sees: str
    run: str
    make: Callable
    during: Callable | None = None
    others: str = 'processed'


CASES: tuple[Case, ...] = (
    # -- files ---------------------------------------------------------------------------------
    Case(
        id='truncated',
        category='file',
        how='a .nii.gz cut to half its bytes (an interrupted copy)',
        exit_code=1,
        outcome='failed',
        problem=r'cannot be read as NIfTI \(Compressed file ended',
        fix='replace it with a valid image',
        sees='fails when its voxels are read: cannot be read as NIfTI, replace it',
        run='shared',
        make=inputs.make_truncated,
    ),
    Case(
        id='zerobyte',
        category='file',
        how='an empty (0-byte) T2Sag file',
        exit_code=1,
        outcome='failed',
        problem=r'cannot read the header of .* \(Empty file',
        fix='replace it with a valid NIfTI image',
        sees='fails at discovery: cannot read the header (Empty file), replace it',
        run='shared',
        make=inputs.make_zero_byte,
    ),
    Case(
        id='notnifti',
        category='file',
        how='an HTML error page, gzipped, under a .nii.gz name',
        exit_code=1,
        outcome='failed',
        problem='Cannot work out file type',
        fix='replace it with a valid NIfTI image',
        sees='fails at discovery: cannot read the header, replace it',
        run='shared',
        make=inputs.make_not_nifti,
    ),
    Case(
        id='brokenlink',
        category='file',
        how='a git-annex symlink whose content was never fetched (DataLad)',
        exit_code=1,
        outcome='failed',
        problem='is a broken link',
        fix='run `datalad get` on it',
        sees='fails at discovery: a broken link, run `datalad get`',
        run='shared',
        make=inputs.make_broken_link,
    ),
    Case(
        id='fourd',
        category='file',
        how='the T2Sag stacked three times along a 4th axis',
        exit_code=1,
        outcome='failed',
        problem=r'is 4D \(shape \(\d+, \d+, \d+, 3\)\)',
        fix='give one 3D volume',
        sees='fails at discovery: is 4D, give one 3D volume (fslroi)',
        run='shared',
        make=inputs.make_4d,
    ),
    Case(
        id='twod',
        category='file',
        how='one sagittal slice of the T2Sag',
        exit_code=1,
        outcome='failed',
        problem=r'is 2D \(shape',
        fix='give a 3D volume',
        sees='fails at discovery: is 2D, give a 3D volume',
        run='shared',
        make=inputs.make_2d,
    ),
    Case(
        id='naninf',
        category='file',
        how='float32 T2Sag with one NaN and one +Inf voxel',
        exit_code=1,
        outcome='failed',
        problem=r'2 of [\d,]+ voxels are NaN or infinite',
        fix=r'fix the image \(e\.g\. fslmaths -nan\)',
        sees='fails when read: counts the NaN/Inf voxels, fix the image (fslmaths -nan)',
        run='shared',
        make=inputs.make_nan_inf,
    ),
    Case(
        id='allzero',
        category='file',
        how='a T2Sag whose voxels are all 0',
        exit_code=1,
        outcome='failed',
        problem='every voxel is zero',
        fix='convert it again from the scanner files',
        sees='fails when read: holds no signal, convert it again or leave it out',
        run='shared',
        make=inputs.make_all_zero,
    ),
    Case(
        id='uint16max',
        category='file',
        how='the T2Sag as uint16 scaled up to 65535 (wraps if summed as uint16)',
        exit_code=0,
        outcome='processed',
        problem='',
        fix='',
        sees='processed like the good subject (read as float32)',
        run='shared',
        make=inputs.make_uint16_max,
    ),
    Case(
        id='singularaffine',
        category='file',
        how='sform whose slice column is 0, no qform',
        exit_code=1,
        outcome='failed',
        problem=r'singular affine \(voxel sizes [\d.]+, [\d.]+, 0 mm\)',
        fix='fix the qform/sform',
        sees='fails at discovery: singular affine, fix the qform/sform',
        run='shared',
        make=inputs.make_singular_affine,
    ),
    Case(
        id='nonfiniteaffine',
        category='file',
        how='sform with a NaN, no qform',
        exit_code=1,
        outcome='failed',
        problem='its affine holds NaN/Inf',
        fix='fix the qform/sform',
        sees='fails at discovery: affine holds NaN/Inf, fix the qform/sform',
        run='shared',
        make=inputs.make_nonfinite_affine,
    ),
    Case(
        id='qformsform',
        category='file',
        how='qform and sform both set, the sform 20 mm higher',
        exit_code=0,
        outcome='processed',
        problem=r'qform and sform disagree by up to 20\.0 mm; using the sform',
        fix='fslorient -copyqform2sform',
        sees='a warning: uses the sform (as nibabel, FSL, SCT), how to use the qform instead',
        run='own',
        make=scenarios.dry_run_beside_good(inputs.make_qform_sform, 'qformsform'),
        others='listed to run (--dry-run)',
    ),
    Case(
        id='anisotropic',
        category='file',
        how='the T2Sag resampled to 0.3 x 0.3 x 10 mm (10 mm slices L-R)',
        exit_code=0,
        outcome='processed',
        problem='',
        fix='',
        sees='processed',
        run='shared',
        make=inputs.make_anisotropic,
    ),
    Case(
        id='huge',
        category='file',
        how='an uncompressed 1024 x 1024 x 520 uint8 image (sparse file, 545 M voxels)',
        exit_code=1,
        outcome='failed',
        problem='has 545,259,520 voxels, more than the 536,870,912 accepted',
        fix='downsample or crop it',
        sees='fails at discovery from its header, never read (memory stays bounded)',
        run='shared',
        make=inputs.make_huge,
    ),
    # -- datasets ------------------------------------------------------------------------------
    Case(
        id='nodescription',
        category='dataset',
        how='the dataset without dataset_description.json',
        exit_code=2,
        outcome='refused',
        problem='is missing: .* is not a BIDS dataset',
        fix='add a dataset_description.json with at least Name and BIDSVersion',
        sees='names the missing dataset_description.json: add one (Name, BIDSVersion)',
        run='own',
        make=scenarios.no_description,
        others='none: the run is refused before any work',
    ),
    Case(
        id='emptydataset',
        category='dataset',
        how='a dataset_description.json and nothing else',
        exit_code=2,
        outcome='refused',
        problem=r'has no sub-\*/ folder with images',
        fix="put each subject's images in sub-<label>",
        sees='no sub-*/ folder with images: says where BIDS puts them',
        run='own',
        make=scenarios.empty_dataset,
        others='none: the run is refused before any work',
    ),
    Case(
        id='onlybrain',
        category='dataset',
        how='a subject with a 3D T1w and a FLAIR of the brain only',
        exit_code=0,
        outcome='skipped',
        problem=r'no sagittal T2w \(T2Sag\) among',
        fix='name it acq-sag_T2w, or select it',
        sees='a warning naming its images; skipped, not a failure',
        run='shared',
        make=inputs.make_only_brain,
    ),
    Case(
        id='unreadablenot2w',
        category='dataset',
        how='no T2w at all; the only image, a T1w, is an HTML page under a .nii.gz name',
        exit_code=0,
        outcome='skipped',
        problem=r'no sagittal T2w \(T2Sag\) among .*; sub-unreadablenot2w_T1w.nii.gz cannot be '
        'read either',
        fix='name it acq-sag_T2w, or select it',
        sees='skipped, not failed (it lacks the T2w); the warning says the T1w cannot be read',
        run='shared',
        make=inputs.make_unreadable_no_t2w,
    ),
    Case(
        id='labelspace',
        category='dataset',
        how='a folder sub-good b (a space in the label) with a sagittal T2w',
        exit_code=1,
        outcome='failed',
        problem="the label 'good b' is not a BIDS label",
        fix=r'rename the folder and its files \(e\.g\. sub-goodb\)',
        sees='its own failure line naming the folder (it was merged into sub-good before)',
        run='own',
        make=scenarios.bad_label('sub-good b'),
    ),
    Case(
        id='labelaccent',
        category='dataset',
        how='a folder sub-ü1 (a non-ASCII letter) with a sagittal T2w',
        exit_code=1,
        outcome='failed',
        problem="the label 'ü1' is not a BIDS label",
        fix=r'rename the folder and its files \(e\.g\. sub-u1\)',
        sees='its own failure line naming the folder (it vanished without a line before)',
        run='own',
        make=scenarios.bad_label('sub-ü1'),
    ),
    Case(
        id='tworuns',
        category='dataset',
        how='acq-sag_run-1_T2w and acq-sag_run-2_T2w',
        exit_code=0,
        outcome='processed',
        problem='using sub-tworuns_acq-sag_run-2_T2w.nii.gz, the last run; left out',
        fix=r'choose another with --bids-filter-file \{"T2Sag": \{"run": N\}\}',
        sees='run-2 is used; one line says run-1 was left out and how to choose it',
        run='own',
        make=scenarios.dry_run_beside_good(inputs.make_two_runs, 'tworuns'),
        others='listed to run (--dry-run)',
    ),
    Case(
        id='chunkgap',
        category='dataset',
        how='sagittal chunk-1 and chunk-2 with 20 mm between them',
        exit_code=1,
        outcome='failed',
        problem=r'sagittal slabs do not overlap \(gap of [\d.]+ mm along S-I\)',
        fix='keep one slab with --bids-filter-file',
        sees='fails at fusion: names both slabs and the gap, keep one slab',
        run='shared',
        make=inputs.make_chunk_gap,
    ),
    Case(
        id='sessionsdiffer',
        category='dataset',
        how='ses-01 with a sagittal T2w and a STIR, ses-02 without STIR',
        exit_code=0,
        outcome='processed',
        problem=r'ms\s+01\s+STIR',
        fix='',
        sees='two units; the --dry-run table shows each session with its own slots',
        run='own',
        make=scenarios.sessions_differ,
        others='listed to run (--dry-run)',
    ),
    Case(
        id='maskgrid',
        category='dataset',
        how='--cord-masks mask resampled to 1 mm, not on its T2Sag grid',
        exit_code=1,
        outcome='failed',
        problem=r'its grid \(shape .*\) differs from its image',
        fix='resample the label onto the image grid',
        sees='fails at fusion: the mask and image grids differ, resample the mask',
        run='shared',
        make=inputs.make_mask_other_grid,
    ),
    Case(
        id='unknownparticipant',
        category='dataset',
        how='--participant-label sub-99 (no such subject)',
        exit_code=2,
        outcome='refused',
        problem='none of the participants 99 exist in',
        fix='choose among good',
        sees='none of the participants 99 exist: lists the labels there are',
        run='own',
        make=scenarios.unknown_participant,
        others='none: the run is refused before any work',
    ),
    Case(
        id='filternothing',
        category='dataset',
        how='--bids-filter-file {"T2Sag": {"acquisition": "sagital"}}',
        exit_code=2,
        outcome='refused',
        problem='of --bids-filter-file matches no image',
        fix='fix its entities',
        sees='quotes the T2Sag query that matches no image: fix its entities',
        run='own',
        make=scenarios.filter_nothing,
        others='none: the run is refused before any work',
    ),
    # -- environment ---------------------------------------------------------------------------
    Case(
        id='outputreadonly',
        category='environment',
        how='OUTPUT_DIR read-only (chmod 555; chattr +i for root)',
        exit_code=2,
        outcome='refused',
        problem='is not writable',
        fix='make it writable or choose another folder',
        sees='OUTPUT_DIR is not writable: make it writable or choose another',
        run='own',
        make=scenarios.output_read_only,
        others='none: the run is refused before any work',
    ),
    Case(
        id='diskfull',
        category='environment',
        how='ENOSPC half-way through each NIfTI write of one subject',
        exit_code=1,
        outcome='failed',
        problem='cannot write .*: No space left on device',
        fix='free space on that disk',
        sees='cannot write <file>: No space left on device, free space; no partial file',
        run='shared',
        make=inputs.make_disk_full,
        during=inputs.disk_full,
    ),
    Case(
        id='diskfulltmpfs',
        category='environment',
        how='OUTPUT_DIR on a 256 KiB tmpfs (root only, else skipped)',
        exit_code=1,
        outcome='failed',
        problem='cannot write .*: No space left on device',
        fix='free space on that disk',
        sees='cannot write <file>: No space left on device, free space; no partial file',
        run='own',
        make=scenarios.disk_full_tmpfs,
        others='n/a: one subject (a full disk stops them all)',
    ),
    Case(
        id='killedrerun',
        category='environment',
        how='SIGKILL once the cord frame exists, then the same command',
        exit_code=0,
        outcome='processed',
        problem=r'1 of 1 subject/session\(s\) finished',
        fix='',
        sees='the rerun reuses the finished steps and finishes; no partial file',
        run='own',
        make=scenarios.killed_rerun,
        others='n/a: one subject',
    ),
    Case(
        id='locked',
        category='environment',
        how="another process holds the subject's lock during the run",
        exit_code=1,
        outcome='failed',
        problem='another sclesion process is working on sub-locked',
        fix='let it finish, then rerun',
        sees='another sclesion process is working on it (names the lock): let it finish',
        run='shared',
        make=inputs.make_locked,
        during=inputs.lock_held,
    ),
    Case(
        id='sharedwork',
        category='environment',
        how='another run, into another OUTPUT_DIR with the same -w, holds the subject',
        exit_code=1,
        outcome='failed',
        problem='another sclesion process is working on sub-sharedwork in the work folder',
        fix='let it finish, or give each run its own -w',
        sees="names the work folder's lock: give each run its own -w (Nipype crashed on "
        '_unfinished.json before)',
        run='shared',
        make=inputs.make_shared_work,
        during=inputs.work_lock_held,
    ),
    # -- model ---------------------------------------------------------------------------------
    Case(
        id='weightsmissing',
        category='model',
        how='model folder without model.safetensors',
        exit_code=2,
        outcome='refused',
        problem='is missing',
        fix='copy the weights next to card.json',
        sees='names model.safetensors: copy the weights next to card.json',
        run='own',
        make=scenarios.weights_missing,
        others='none: the run is refused before any work',
    ),
    Case(
        id='weightscorrupted',
        category='model',
        how='64 bytes of the weights inverted',
        exit_code=2,
        outcome='refused',
        problem='does not match the card; the file is corrupted',
        fix='download or copy it again',
        sees='sha256 mismatch: the file is corrupted, download or copy it again',
        run='own',
        make=scenarios.weights_corrupted,
        others='none: the run is refused before any work',
    ),
    Case(
        id='cardmismatch',
        category='model',
        how="the card's widths doubled (checksum still right)",
        exit_code=2,
        outcome='refused',
        problem='does not fit the card config',
        fix='put back the card.json saved with these weights',
        sees='the weights do not fit the card: put back the card saved with them',
        run='own',
        make=scenarios.card_mismatch,
        others='none: the run is refused before any work',
    ),
    Case(
        id='cardslot',
        category='model',
        how='the card names a slot sclesion does not know ("FLAIR")',
        exit_code=2,
        outcome='refused',
        problem=r"invalid model_config \(slots \['FLAIR'\] unknown; use T2Sag",
        fix='put back the card.json saved with these weights',
        sees='names card.json and the unknown slot, lists the known ones: put back the card',
        run='own',
        make=scenarios.card_unknown_slot,
        others='none: the run is refused before any work',
    ),
    Case(
        id='cardwidths',
        category='model',
        how='the card\'s widths are the text "abc"',
        exit_code=2,
        outcome='refused',
        problem="widths 'abc' must be a list of positive whole numbers",
        fix='put back the card.json saved with these weights',
        sees='names card.json and says what widths must be: put back the card',
        run='own',
        make=scenarios.card_widths_text,
        others='none: the run is refused before any work',
    ),
    Case(
        id='nanweights',
        category='model',
        how='one weight NaN, saved as usual (sha256 matches the card)',
        exit_code=2,
        outcome='refused',
        problem='tensors hold NaN or infinite values',
        fix='use another model folder or retrain it',
        sees='names model.safetensors: NaN weights give NaN probabilities, use another model',
        run='own',
        make=scenarios.nan_weights,
        others='none: the run is refused before any work',
    ),
    Case(
        id='otherslots',
        category='model',
        how='a T2Sag+STIR model without imputation; sub-good has no STIR',
        exit_code=1,
        outcome='failed',
        problem='no STIR, which model .* needs',
        fix='use a mean-imputation model',
        sees='sub-good fails before any work; sub-ms (with a STIR) is processed',
        run='own',
        make=scenarios.other_slots,
    ),
    # -- OUTPUT_DIR ------------------------------------------------------------------------------
    Case(
        id='groupnotutf8',
        category='output',
        how='group level over a summary TSV saved as Latin-1 (a spreadsheet)',
        exit_code=2,
        outcome='refused',
        problem=r'is not UTF-8 text \(byte 0xef at offset \d+\)',
        fix='rerun the participant level on sub-good with --overwrite',
        sees='names the summary TSV and the byte: rerun the participant level on the unit',
        run='own',
        make=outputs.group_not_utf8,
        others='none: the group run is refused',
    ),
    Case(
        id='grouplots',
        category='output',
        how='group level over a summary TSV whose total_volume_mm3 is "lots"',
        exit_code=2,
        outcome='refused',
        problem="line 2: total_volume_mm3 is 'lots', not a number",
        fix='rerun the participant level on sub-good with --overwrite',
        sees='names the summary TSV, the column and the value: rerun the participant level',
        run='own',
        make=outputs.group_volume_words,
        others='none: the group run is refused',
    ),
    Case(
        id='grouplesioncolumns',
        category='output',
        how="group level over a per-lesion TSV with another tool's columns (3 lesions)",
        exit_code=2,
        outcome='refused',
        problem=r'lacks the column\(s\) index, volume_mm3, .*distance_along_cord_mm',
        fix='rerun the participant level on sub-good with --overwrite',
        sees='names the lesion TSV and the missing columns (it gave n/a values before)',
        run='own',
        make=outputs.group_lesion_columns,
        others='none: the group run is refused',
    ),
    Case(
        id='outputlink',
        category='output',
        how="OUTPUT_DIR/sub-good is a symbolic link to the input dataset's sub-good",
        exit_code=2,
        outcome='refused',
        problem=r'is a symbolic link to .* \(in the input dataset\)',
        fix='replace the link by a real folder or file, or choose another OUTPUT_DIR',
        sees='names the link and its target: never writes through it (wrote 20 files into the '
        'input before)',
        run='own',
        make=outputs.unit_folder_links_into_input,
        others='none: the run is refused before any work',
    ),
    Case(
        id='otherpipeline',
        category='output',
        how='OUTPUT_DIR is BIDS_DIR/derivatives/labels (manual labels, their own description)',
        exit_code=2,
        outcome='refused',
        problem=r'is another dataset \(dataset_description.json: generated by Manual\)',
        fix='choose another OUTPUT_DIR, e.g. .*/derivatives/sclesion-',
        sees='names the folder and who made it: choose another (it overwrote a lesion mask '
        'before)',
        run='own',
        make=outputs.output_is_other_pipeline,
        others='none: the run is refused before any work',
    ),
    Case(
        id='staleoutputs',
        category='output',
        how='outputs of a default run in OUTPUT_DIR, rerun with --threshold 0.9 (no --overwrite)',
        exit_code=0,
        outcome='processed',
        problem=r'--threshold changed \(0\.5 -> 0\.9\), recomputing',
        fix='',
        sees='one line says what changed; recomputed (the old outputs were reused before)',
        run='own',
        make=outputs.outputs_of_other_options,
        others='n/a: one subject',
    ),
)

BY_ID = {case.id: case for case in CASES}


def markdown_table(cases: tuple[Case, ...] = CASES) -> str:
    """The docs table: one row per case."""
    rows = [
        '| case | kind | how it is made | what the user sees | exit | other subjects '
        '| input unchanged |',
        '|---|---|---|---|---:|---|---|',
    ]
    for case in cases:
        cells = [f'`{case.id}`', case.category, case.how, case.sees, str(case.exit_code)]
        cells += [case.others, 'yes (sha256 of every file)']
        rows.append('| ' + ' | '.join(c.replace('|', '\\|') for c in cells) + ' |')
    return '\n'.join(rows)


if __name__ == '__main__':  # python tests/robustness/robustness_cases.py: the docs table
    print(markdown_table())
