"""One subject's CordFrame on disk: its arrays and the frame it was built on."""

from __future__ import annotations

import numpy as np

from bids_app.config import CordFrameConfig
from bids_app.frame import CordFrame
from bids_app.slots import Slot


def test_the_frame_config_survives_save_and_load(tmp_path):
    config = CordFrameConfig(voxel_mm=0.4, crop_size=8, z_margin_mm=5.0)
    frame = CordFrame(z_mm=np.arange(4) * 0.4, config=config)
    frame.crops[Slot.T2Sag] = np.ones((8, 8, 4), np.float32)
    frame.coverage[Slot.T2Sag] = np.ones((8, 8, 4), bool)
    frame.centerlines[Slot.T2Sag] = np.zeros((4, 3))
    again = CordFrame.load(frame.save(tmp_path / 'f.npz'))
    assert again.config == config
    assert isinstance(again.config.crop_size, int)


def test_a_frame_saved_before_configs_were_is_the_default_one(tmp_path):
    np.savez(tmp_path / 'old.npz', z_mm=np.arange(3) * 0.5)
    assert CordFrame.load(tmp_path / 'old.npz').config == CordFrameConfig()
