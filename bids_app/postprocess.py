"""From lesion probabilities in the cord frame to a mask: threshold (with hysteresis), inside the
field of view, near the cord, minimum size.

Pure functions on cord-frame arrays (48 x 48 x Z, axes LAS, 0.5 mm); the options are recorded in
the outputs' sidecars. :func:`resolve_options` picks the thresholds and minimum lesion size, and
:func:`resolve_tta` whether probabilities average the left-right mirror (a threshold is chosen for
one way of making probabilities, so the card states both): the command line's, else the model
card's ``"postprocess"`` entry, else the built-in defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.errors import ModelCardError


@dataclass(frozen=True)
class PostprocessOptions:
    """How lesion probabilities become a mask (recorded in the sidecars).

    Parameters
    ----------
    threshold : float
        A lesion holds at least one voxel of at least this probability.
    grow_threshold : float, optional
        Hysteresis: a lesion extends over the voxels of at least this probability connected
        (26-connectivity) to one of at least ``threshold``, so that a confident core keeps the
        fainter rim the network gives its border. Never above ``threshold``; None (the default)
        or ``threshold`` itself: plain thresholding. After construction it always holds a number.
    min_lesion_mm3 : float
        Connected lesions (26-connectivity) smaller than this are removed.
    cord_margin_mm : float
        Where a cord mask is known, keep voxels within this distance of it.
    centreline_radius_mm : float
        Without a cord mask, keep voxels within this in-plane distance of the crop's centre
        column (the centreline).
    """

    threshold: float = 0.5
    min_lesion_mm3: float = 1.0
    cord_margin_mm: float = 3.0
    centreline_radius_mm: float = 8.0
    grow_threshold: float | None = None

    def __post_init__(self) -> None:
        grow = self.threshold if self.grow_threshold is None else self.grow_threshold
        # A command-line --threshold below the card's grow threshold simply thresholds there.
        object.__setattr__(self, 'grow_threshold', min(grow, self.threshold))

    @property
    def grows(self) -> bool:
        """Whether lesions extend below the threshold (hysteresis), not plain thresholding."""
        return self.grow_threshold < self.threshold


#: The model card's optional ``"postprocess"`` keys and the values each may take.
CARD_KEYS = {
    'threshold': 'strictly between 0 and 1',
    'grow_threshold': 'strictly between 0 and 1',
    'min_lesion_mm3': 'a finite number of at least 0',
    'tta': 'true or false',
}


def _valid(key: str, value: Any) -> bool:
    if key == 'tta':
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if key in ('threshold', 'grow_threshold'):
        return 0.0 < value < 1.0
    return 0.0 <= value < math.inf


def card_defaults(card: Mapping[str, Any] | None) -> dict[str, float | bool]:
    """The card's ``"postprocess"`` entry, checked: key -> value, absent keys left out.

    Cards without the entry (all cards written before it existed) give ``{}``.

    Raises
    ------
    ModelCardError
        The entry is not an object, has an unknown key, or a value out of range (the message
        names the key, not the file: :func:`bids_app.model.card.read_card` adds the file).

    Examples
    --------
    >>> card_defaults({'postprocess': {'min_lesion_mm3': 0, 'tta': True}})
    {'min_lesion_mm3': 0.0, 'tta': True}
    >>> card_defaults({'name': 'old card'})
    {}
    """
    entry = (card or {}).get('postprocess', {})
    if not isinstance(entry, Mapping):
        raise ModelCardError(
            f'"postprocess" is {entry!r}; make it an object such as '
            '{"threshold": 0.5, "min_lesion_mm3": 1.0} or remove it'
        )
    unknown = sorted(set(entry) - set(CARD_KEYS))
    if unknown:
        raise ModelCardError(
            f'"postprocess" has unknown key(s) {unknown}; the known ones are {list(CARD_KEYS)}'
        )
    for key, value in entry.items():
        if not _valid(key, value):
            raise ModelCardError(
                f'"postprocess" {key} is {value!r}, it must be {CARD_KEYS[key]}; '
                'correct or remove it'
            )
    return {key: value if key == 'tta' else float(value) for key, value in entry.items()}


def resolve_options(
    card: Mapping[str, Any] | None,
    threshold: float | None = None,
    min_lesion_mm3: float | None = None,
    grow_threshold: float | None = None,
) -> PostprocessOptions:
    """The post-processing to use: each value given here, else the card's, else the default.

    Parameters
    ----------
    card : mapping or None
        The model card (``card.json``); its optional ``"postprocess"`` entry holds
        ``threshold``, ``grow_threshold`` and/or ``min_lesion_mm3``. None: no card.
    threshold : float, optional
        ``--threshold``, when given.
    min_lesion_mm3 : float, optional
        ``--min-lesion-mm3`` in mm^3, when given.
    grow_threshold : float, optional
        ``--grow-threshold``, when given.

    Raises
    ------
    ModelCardError
        See :func:`card_defaults`.

    Examples
    --------
    >>> card = {'postprocess': {'threshold': 0.3, 'min_lesion_mm3': 2.0}}
    >>> options = resolve_options(card, min_lesion_mm3=0.0)
    >>> options.threshold, options.min_lesion_mm3, options.grow_threshold
    (0.3, 0.0, 0.3)
    >>> resolve_options({'postprocess': {'threshold': 0.7, 'grow_threshold': 0.3}}).grow_threshold
    0.3
    """
    given = {
        'threshold': threshold,
        'min_lesion_mm3': min_lesion_mm3,
        'grow_threshold': grow_threshold,
    }
    chosen = {**card_defaults(card), **{k: v for k, v in given.items() if v is not None}}
    chosen.pop('tta', None)
    return PostprocessOptions(**chosen)


def resolve_tta(card: Mapping[str, Any] | None, tta: bool | None = None) -> bool:
    """Mirroring test-time augmentation: ``--tta``/``--no-tta``, else the card's, else off.

    Examples
    --------
    >>> card = {'postprocess': {'threshold': 0.5, 'tta': True}}
    >>> resolve_tta(card), resolve_tta(card, False), resolve_tta({'name': 'old card'})
    (True, False, False)
    """
    if tta is not None:
        return tta
    return bool(card_defaults(card).get('tta', False))


def hysteresis(
    probability: NDArray[np.floating], threshold: float, grow_threshold: float
) -> NDArray[np.bool_]:
    """Voxels of at least ``grow_threshold`` 26-connected to a voxel of at least ``threshold``.

    scipy.ndimage does the labelling; scikit-image's ``apply_hysteresis_threshold`` would add a
    dependency for these lines and uses strict inequalities and 6-connectivity, where our
    thresholds are inclusive and lesions 26-connected.

    Examples
    --------
    >>> p = np.array([0.2, 0.4, 0.9, 0.4, 0.1, 0.4, 0.4])[:, None, None]
    >>> hysteresis(p, 0.7, 0.3)[:, 0, 0].astype(int).tolist()
    [0, 1, 1, 1, 0, 0, 0]
    """
    probability = np.asarray(probability)
    seeds = probability >= threshold
    if grow_threshold >= threshold:
        return seeds
    labels, n = ndimage.label(probability >= grow_threshold, structure=np.ones((3, 3, 3)))
    keep = np.zeros(n + 1, bool)
    keep[labels[seeds]] = True
    keep[0] = False
    return keep[labels]


def remove_small_lesions(mask: NDArray[np.bool_], min_voxels: int) -> NDArray[np.bool_]:
    """Drop 26-connected components with fewer than ``min_voxels`` voxels.

    Examples
    --------
    >>> m = np.zeros((5, 1, 1), bool); m[0] = m[2:5] = True
    >>> remove_small_lesions(m, 2)[:, 0, 0].tolist()
    [False, False, True, True, True]
    """
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if n == 0:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_voxels
    keep[0] = False
    return keep[labels]


def near_cord(
    cord_mask: NDArray[np.bool_], margin_mm: float, voxel_mm: float = 0.5
) -> NDArray[np.bool_]:
    """Voxels within ``margin_mm`` (Euclidean, in mm) of a cord mask in the cord frame."""
    if not cord_mask.any():
        return np.zeros(cord_mask.shape, bool)
    distance = ndimage.distance_transform_edt(~cord_mask, sampling=voxel_mm)
    return distance <= margin_mm


def near_centreline(
    shape: tuple[int, int, int], radius_mm: float, voxel_mm: float = 0.5
) -> NDArray[np.bool_]:
    """Voxels within ``radius_mm`` in-plane of the crop's centre column, shape ``(X, Y, Z)``.

    The crop is centred on the centreline: voxel ``(i, j)`` is ``((i - (X - 1) / 2) * voxel_mm,
    (j - (Y - 1) / 2) * voxel_mm)`` from it.

    Examples
    --------
    >>> near_centreline((4, 4, 1), 0.75)[:, :, 0].astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    i = (np.arange(shape[0]) - (shape[0] - 1) / 2) * voxel_mm
    j = (np.arange(shape[1]) - (shape[1] - 1) / 2) * voxel_mm
    disk = i[:, None] ** 2 + j[None, :] ** 2 <= radius_mm**2
    return np.broadcast_to(disk[:, :, None], shape).copy()


def field_of_view(coverages: Iterable[NDArray[np.bool_]]) -> NDArray[np.bool_] | None:
    """Where at least one of the given sequences has image data (None: no coverage given).

    Examples
    --------
    >>> field_of_view([np.array([1, 1, 0, 0], bool), np.array([0, 1, 1, 0], bool)]).tolist()
    [True, True, True, False]
    >>> field_of_view([]) is None
    True
    """
    seen = None
    for coverage in coverages:
        seen = np.asarray(coverage, bool) if seen is None else seen | np.asarray(coverage, bool)
    return seen


def postprocess(
    probability: NDArray[np.floating],
    options: PostprocessOptions = PostprocessOptions(),
    cord_mask: NDArray[np.bool_] | None = None,
    voxel_mm: float = 0.5,
    seen: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Threshold (with hysteresis) inside the field of view, keep what lies near the cord, then
    drop lesions below the minimum size.

    Parameters
    ----------
    probability : ndarray, shape (X, Y, Z)
        Lesion probability in the cord frame.
    options : PostprocessOptions
    cord_mask : ndarray of bool, shape (X, Y, Z), optional
        Cord mask in the same frame; without it the centreline distance applies.
    voxel_mm : float
        Isotropic voxel size of the frame.
    seen : ndarray of bool, shape (X, Y, Z), optional
        Where some sequence the probability came from has image data
        (:func:`field_of_view`). The network paints confident lesions into the empty frame
        beyond a short field of view, where no image shows anything; no lesion is reported
        there, and none grows into it. Default: everywhere.

    Returns
    -------
    ndarray of bool, shape (X, Y, Z)
    """
    probability = np.asarray(probability)
    if seen is not None:
        probability = np.where(seen, probability, 0.0)
    mask = hysteresis(probability, options.threshold, options.grow_threshold)
    if cord_mask is not None:
        mask &= near_cord(np.asarray(cord_mask, bool), options.cord_margin_mm, voxel_mm)
    else:
        mask &= near_centreline(mask.shape, options.centreline_radius_mm, voxel_mm)
    min_voxels = math.ceil(options.min_lesion_mm3 / voxel_mm**3 - 1e-9)
    return remove_small_lesions(mask, min_voxels)
