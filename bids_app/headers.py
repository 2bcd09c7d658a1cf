"""Image headers at discovery: each image's acquisition plane, and its checks before any work.

Only headers are read here, never voxels: a broken link, an unreadable or oversized image, a
singular affine fail their unit at discovery (:mod:`bids_app.discovery`), before any work.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError

from bids_app.errors import InputImageError
from bids_app.image_checks import check_shape, qform_sform_distance

logger = logging.getLogger(__name__)

#: Voxel sizes within this fraction of each other make an image 3D (isotropic).
ISOTROPY_TOLERANCE = 0.10

#: A qform and an sform further apart than this (any corner voxel, mm) earn a warning.
QFORM_SFORM_TOLERANCE_MM = 1.0


class Plane(StrEnum):
    """How an image was acquired, from its header."""

    sagittal = 'sagittal'
    axial = 'axial'
    coronal = 'coronal'
    isotropic = 'isotropic'


def classify_plane(affine: np.ndarray, zooms: Sequence[float]) -> Plane:
    """Acquisition plane from a header: the world axis of the largest voxel dimension.

    Parameters
    ----------
    affine : (4, 4) array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).
    zooms : sequence of 3 floats
        Voxel sizes in mm along ``i, j, k``.

    Examples
    --------
    >>> classify_plane(np.diag([0.5, 0.5, 3.0, 1.0]), (0.5, 0.5, 3.0)).value
    'axial'
    >>> classify_plane(np.diag([1.0, 1.05, 1.0, 1.0]), (1.0, 1.05, 1.0)).value
    'isotropic'
    """
    zooms = np.asarray(zooms[:3], dtype=float)
    if zooms.max() <= zooms.min() * (1 + ISOTROPY_TOLERANCE):
        return Plane.isotropic
    thick_axis = int(np.argmax(zooms))
    world_axis = int(np.argmax(np.abs(np.asarray(affine)[:3, thick_axis])))
    return (Plane.sagittal, Plane.coronal, Plane.axial)[world_axis]


class _Collect(logging.Handler):
    """Keeps the messages of the records it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _nibabel_messages_naming(path: Path) -> Iterator[None]:
    """Log what nibabel says while reading ``path`` as warnings that name it.

    nibabel prints the header fixes it makes (``pixdim[1,2,3] should be non-zero; setting 0
    dims to 1``) through its own logger, without the file.
    """
    nibabel_logger = logging.getLogger('nibabel.global')
    collect = _Collect()
    handlers, propagate = nibabel_logger.handlers[:], nibabel_logger.propagate
    nibabel_logger.handlers[:], nibabel_logger.propagate = [collect], False
    try:
        yield
    finally:
        nibabel_logger.handlers[:], nibabel_logger.propagate = handlers, propagate
        for message in dict.fromkeys(collect.messages):
            logger.warning('%s: %s (nibabel, reading the header)', path, message)


def load_nifti(path: str | Path) -> nib.spatialimages.SpatialImage:
    """``nibabel.load``, its messages naming the file (see :func:`_nibabel_messages_naming`)."""
    with _nibabel_messages_naming(Path(path)):
        return nib.load(str(path))


def read_header(path: Path) -> tuple[Plane, str | None]:
    """Check an image's header without reading its voxels; return its plane and any doubt.

    Raises ``InputImageError`` for a header sclesion cannot use (singular or non-finite affine,
    not 3D, oversized; see :func:`~bids_app.image_checks.check_shape`), ``OSError`` or
    ``ValueError`` for a file that is not NIfTI. The doubt is a qform and an sform that place
    the image more than ``QFORM_SFORM_TOLERANCE_MM`` apart.
    """
    img = load_nifti(path)
    check_shape(img.shape, img.affine, str(path))
    plane = classify_plane(img.affine, img.header.get_zooms()[:3])
    qform, qform_code = img.get_qform(coded=True)
    sform, sform_code = img.get_sform(coded=True)
    if not (qform_code and sform_code):
        return plane, None
    distance = qform_sform_distance(img.shape, qform, sform)
    if distance <= QFORM_SFORM_TOLERANCE_MM:
        return plane, None
    return plane, (
        f'{path}: its qform and sform disagree by up to {distance:.1f} mm; using the sform (as '
        'nibabel, FSL and SCT do); if the qform is right, copy it over the sform '
        '(fslorient -copyqform2sform) and rerun'
    )


class PlaneReader:
    """Reads each header at most once, and remembers which ones could not be read."""

    def __init__(self) -> None:
        self.planes: dict[Path, Plane] = {}
        self.errors: dict[Path, str] = {}
        self.warnings: dict[Path, str] = {}

    def __call__(self, path: Path) -> Plane | None:
        if path in self.errors:
            return None
        if path not in self.planes:
            try:
                self.planes[path], warning = read_header(path)
            except InputImageError as exc:
                self.errors[path] = str(exc)
                return None
            except (OSError, ValueError, EOFError, zlib.error, ImageFileError) as exc:
                self.errors[path] = missing_file(path) or (
                    f'cannot read the header of {path} ({exc}); replace it with a valid NIfTI '
                    'image'
                )
                return None
            if warning:
                self.warnings[path] = warning
        return self.planes[path]


def missing_file(path: Path) -> str | None:
    """Why ``path`` cannot be opened at all (a broken link, a vanished file), or None.

    pybids indexes broken links, and a missing file would stop the whole Nipype graph: such a
    unit must fail at discovery.
    """
    if path.is_symlink() and not path.exists():
        return f'{path} is a broken link (a DataLad file never fetched?); run `datalad get` on it'
    if not path.is_file():
        return f'{path} is not a file that can be read; restore it or leave it out'
    return None
