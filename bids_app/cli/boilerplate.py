"""``logs/CITATION.md`` and ``.bib``: the methods text a paper can use (``--boilerplate-only``)."""

from __future__ import annotations

import logging
from pathlib import Path

from bids_app import __version__
from bids_app.derivatives import write_text

logger = logging.getLogger(__name__)

CITATION_MD = f"""\
Spinal-cord multiple-sclerosis lesions were segmented with sclesion {__version__}, an
implementation of the multi-sequence method of Walsh et al. (MICCAI 2024). For each
subject/session, the chunks of each available sequence (sagittal T2w, and where present sagittal
STIR, axial T2*w, axial T2w, 3D T1w and MP2RAGE) were fused into one image, the spinal-cord
centreline was found in each sequence independently, and every sequence was resampled at 0.5 mm
into 48 x 48 voxel axial crops centred on its own centreline, stacked along the cord. A 3D U-Net
with one encoder per sequence predicted lesions; the bottleneck features of missing sequences
were replaced by the mean of those present (mean imputation). Predictions were mapped back onto
the native sagittal T2w grid; lesions were the 26-connected components of the mask in the cord
frame.

References: Walsh et al., Multi-sequence learning for multiple sclerosis lesion segmentation in
spinal cord MRI, MICCAI 2024. Gorgolewski et al., Nipype, Front. Neuroinform. 2011.
"""

CITATION_BIB = """\
@inproceedings{walsh2024multisequence,
  title = {Multi-sequence learning for multiple sclerosis lesion segmentation in spinal cord MRI},
  author = {Walsh, Ricky and others},
  booktitle = {Medical Image Computing and Computer Assisted Intervention (MICCAI)},
  year = {2024}
}
@article{gorgolewski2011nipype,
  title = {Nipype: a flexible, lightweight and extensible neuroimaging data processing framework},
  author = {Gorgolewski, Krzysztof and others},
  journal = {Frontiers in Neuroinformatics},
  volume = {5},
  pages = {13},
  year = {2011}
}
"""


def write_boilerplate(output_dir: Path) -> int:
    """Write the citation files into ``output_dir/logs``; returns exit code 0."""
    logs = output_dir / 'logs'
    write_text(logs / 'CITATION.md', CITATION_MD)
    write_text(logs / 'CITATION.bib', CITATION_BIB)
    logger.log(25, 'citation boilerplate written to %s', logs)
    return 0
