"""Reading image headers: what nibabel says about a header names the file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.headers import Plane, load_nifti, read_header
from bids_app.interfaces.io import load_image


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """The warnings of ``bids_app.headers``, whatever the ``bids_app`` logger's set-up."""
    found: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record.getMessage())

    handler, headers_logger = Keep(level=logging.WARNING), logging.getLogger('bids_app.headers')
    headers_logger.addHandler(handler)
    yield found
    headers_logger.removeHandler(handler)


def _zero_pixdim(path: Path) -> Path:
    """A sagittal image whose header says its slices are 0 mm thick."""
    data = np.zeros((4, 8, 8), np.int16)
    data[1:3, 2:6, 2:6] = 100
    img = nib.Nifti1Image(data, np.diag([3.0, 0.7, 0.7, 1.0]))
    img.header['pixdim'][1] = 0
    img.to_filename(path)
    return path


def test_a_header_nibabel_fixes_is_named_in_one_warning(tmp_path, warnings):
    path = _zero_pixdim(tmp_path / 'sub-01_acq-sag_T2w.nii.gz')
    nibabel_logger = logging.getLogger('nibabel.global')
    handlers = nibabel_logger.handlers[:]
    load_nifti(path)
    assert warnings == [
        f'{path}: pixdim[1,2,3] should be non-zero; setting 0 dims to 1 (nibabel, reading the '
        'header)'
    ]
    assert nibabel_logger.handlers == handlers
    warnings.clear()
    assert read_header(path)[0] is Plane.sagittal
    load_image(path)
    assert len(warnings) == 2
    assert all(w.startswith(f'{path}: pixdim[1,2,3]') for w in warnings)


def test_a_clean_header_says_nothing(tmp_path, warnings):
    path = tmp_path / 'clean.nii.gz'
    nib.Nifti1Image(np.ones((4, 4, 4), np.int16), np.eye(4)).to_filename(path)
    load_nifti(path)
    assert warnings == []
