"""Spinal Cord Toolbox wrappers: cord segmentation whose mask gives the centreline.

Two commands, whichever the installed SCT has (the container pins SCT 6.5, which has both):
``sct_deepseg -task seg_sc_contrast_agnostic`` (any contrast, preferred) and ``sct_deepseg_sc``
(per-contrast models).
"""

from __future__ import annotations

import shutil

from nipype.interfaces.base import (
    CommandLine,
    CommandLineInputSpec,
    File,
    TraitedSpec,
    traits,
)

SCT_COMMANDS = ('sct_deepseg', 'sct_deepseg_sc')


def available_sct_command() -> str | None:
    """The SCT segmentation command to use, or None when SCT is not on PATH."""
    for command in SCT_COMMANDS:
        if shutil.which(command):
            return command
    return None


class _SegOutputSpec(TraitedSpec):
    out_file = File(exists=True, desc='cord mask')


class _SegInputSpec(CommandLineInputSpec):
    """``-i IN`` first and ``-o OUT`` (default ``<in>_seg``) last, in both SCT commands."""

    in_file = File(exists=True, mandatory=True, argstr='-i %s', position=0, desc='input image')
    out_file = File(
        argstr='-o %s',
        position=2,
        name_source=['in_file'],
        name_template='%s_seg',
        keep_extension=True,
        desc='output mask',
    )


class _DeepsegInputSpec(_SegInputSpec):
    task = traits.Str(
        'seg_sc_contrast_agnostic', usedefault=True, argstr='-task %s', position=1, desc='model'
    )


class SCTDeepseg(CommandLine):
    """``sct_deepseg -i IN -task seg_sc_contrast_agnostic -o OUT``."""

    _cmd = 'sct_deepseg'
    input_spec = _DeepsegInputSpec
    output_spec = _SegOutputSpec


class _DeepsegSCInputSpec(_SegInputSpec):
    contrast = traits.Enum('t1', 't2', 't2s', 'dwi', mandatory=True, argstr='-c %s', position=1)


class SCTDeepsegSC(CommandLine):
    """``sct_deepseg_sc -i IN -c CONTRAST -o OUT``; a slot's contrast is its ``sct_contrast``."""

    _cmd = 'sct_deepseg_sc'
    input_spec = _DeepsegSCInputSpec
    output_spec = _SegOutputSpec
