"""One subject's cord frame: every slot's crop on shared reference slices, the model's input.

Puts together the pure pieces: smoothed centrelines (``centerline``), the reference z range and
the crops (``frame_geometry``). Reference labels and cord masks take the T2Sag path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bids_app.centerline.base import Centerline
from bids_app.centerline.smoothing import resample_centerline, smooth_centerline
from bids_app.config import CordFrameConfig
from bids_app.frame_geometry import reference_z_range, sample_crop
from bids_app.slots import SLOTS, Slot

Image = tuple[NDArray, NDArray]


@dataclass
class CordFrame:
    """Stacked crops of every available slot on shared reference slices.

    Attributes
    ----------
    z_mm : (Z,) float64
        World z (RAS+ mm) of the reference slices, ``frame.voxel_mm`` apart.
    crops : dict
        Slot -> (N, N, Z) float32 crop, axes LAS, 0 outside the image.
    coverage : dict
        Slot -> (N, N, Z) bool, True inside the image's field of view.
    centerlines : dict
        Slot -> (Z, 3) float64 world ``xyz_mm`` of that slot's smoothed, extended centreline.
    labels : (N, N, Z) uint8 or None
        Reference lesion labels on the T2Sag path.
    cord : (N, N, Z) uint8 or None
        T2Sag cord mask, when a mask-based provider gave one.
    providers : dict
        Slot -> centreline provider.
    dropped : dict
        Slot -> why it is left out of inference (its centreline cannot be trusted).
    config : CordFrameConfig
        The frame's voxel size, crop size and z margin (a model's card says which it needs).
    """

    z_mm: NDArray[np.float64]
    crops: dict[Slot, NDArray[np.float32]] = field(default_factory=dict)
    coverage: dict[Slot, NDArray[np.bool_]] = field(default_factory=dict)
    centerlines: dict[Slot, NDArray[np.float64]] = field(default_factory=dict)
    labels: NDArray[np.uint8] | None = None
    cord: NDArray[np.uint8] | None = None
    providers: dict[Slot, str] = field(default_factory=dict)
    dropped: dict[Slot, str] = field(default_factory=dict)
    config: CordFrameConfig = field(default_factory=CordFrameConfig)

    @property
    def slots(self) -> list[Slot]:
        return [s for s in SLOTS if s in self.crops]

    def save(self, path: Path) -> Path:
        """Write to ``.npz`` (uncompressed: it is read once, soon after)."""
        arrays: dict[str, NDArray] = {'z_mm': self.z_mm}
        arrays |= {f'config_{k}': np.asarray(v) for k, v in asdict(self.config).items()}
        for slot in self.slots:
            arrays[f'crop_{slot}'] = self.crops[slot]
            arrays[f'coverage_{slot}'] = self.coverage[slot]
            arrays[f'centerline_{slot}'] = self.centerlines[slot]
            arrays[f'provider_{slot}'] = np.asarray(self.providers.get(slot, ''))
        if self.labels is not None:
            arrays['labels'] = self.labels
        if self.cord is not None:
            arrays['cord'] = self.cord
        for slot, why in self.dropped.items():
            arrays[f'dropped_{slot}'] = np.asarray(why)
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CordFrame:
        with np.load(path) as data:
            frame = cls(z_mm=data['z_mm'], config=_config(data))
            for slot in SLOTS:
                if f'crop_{slot}' in data:
                    frame.crops[slot] = data[f'crop_{slot}']
                    frame.coverage[slot] = data[f'coverage_{slot}']
                    frame.centerlines[slot] = data[f'centerline_{slot}']
                    frame.providers[slot] = str(data[f'provider_{slot}'])
                if f'dropped_{slot}' in data:
                    frame.dropped[slot] = str(data[f'dropped_{slot}'])
            frame.labels = data['labels'] if 'labels' in data else None
            frame.cord = data['cord'] if 'cord' in data else None
        return frame


def _config(data: Mapping[str, NDArray]) -> CordFrameConfig:
    """The frame's config as saved (frames saved before it was: the default one)."""
    saved = {f.name: f'config_{f.name}' for f in fields(CordFrameConfig)}
    values = {name: data[key].item() for name, key in saved.items() if key in data}
    return CordFrameConfig(**values)


def build_cord_frame(
    images: Mapping[Slot, Image],
    centerlines: Mapping[Slot, Centerline],
    *,
    providers: Mapping[Slot, str] | None = None,
    labels: NDArray | None = None,
    cord_mask: NDArray | None = None,
    smoothing_mm: float = 8.0,
    config: CordFrameConfig | None = None,
) -> CordFrame:
    """Sample every slot into the cord frame.

    Parameters
    ----------
    images : mapping
        Slot -> (data (I, J, K), vox2world (4, 4) RAS+ mm); must contain T2Sag.
    centerlines : mapping
        Slot -> raw centreline of that image (smoothed and extended here).
    providers : mapping, optional
        Slot -> provider name, kept for the sidecars.
    labels, cord_mask : (I, J, K) arrays, optional
        On the T2Sag grid; sampled with linear interpolation then thresholded at 0.5.
    smoothing_mm : float
        Gaussian sigma along z of the centreline smoothing, in mm.
    config : CordFrameConfig, optional
        Voxel size, crop size and z margin (defaults: 0.5 mm, 48, 10 mm).
    """
    config = config or CordFrameConfig()
    smoothed = {slot: smooth_centerline(centerlines[slot], smoothing_mm) for slot in images}
    z_mm = reference_z_range([c.z_extent_mm for c in smoothed.values()], frame=config)
    frame = CordFrame(z_mm=z_mm, providers=dict(providers or {}), config=config)
    for slot in (s for s in SLOTS if s in images):
        data, affine = images[slot]
        xyz = resample_centerline(smoothed[slot], z_mm)
        crop, covered = sample_crop(data, affine, xyz[:, :2], z_mm, frame=config)
        frame.crops[slot], frame.coverage[slot], frame.centerlines[slot] = crop, covered, xyz
    _, t2_affine = images[Slot.T2Sag]
    t2_xy = frame.centerlines[Slot.T2Sag][:, :2]
    for name, volume in (('labels', labels), ('cord', cord_mask)):
        if volume is None:
            continue
        sampled, _ = sample_crop(
            np.asarray(volume, dtype=np.float32), t2_affine, t2_xy, z_mm, frame=config
        )
        setattr(frame, name, (sampled >= 0.5).astype(np.uint8))
    return frame
