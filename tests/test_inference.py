from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from bids_app.device import bfloat16_supported, torch_threads
from bids_app.errors import InputImageError, ModelCardError
from bids_app.inference import LesionPredictor
from bids_app.model.config import variant_config
from bids_app.model.layout import from_network_layout, to_network_layout
from bids_app.model.network import MultiSequenceUNet
from bids_app.postprocess import (
    PostprocessOptions,
    near_centreline,
    near_cord,
    postprocess,
    remove_small_lesions,
)
from bids_app.sliding_window import (
    gaussian_weights,
    normalise_intensity,
    sliding_window,
    window_starts,
)
from bids_app.slots import Slot

PATCH = (16, 16, 32)  # (x, y, z)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread) -> None:
    """Tiny models run faster on one thread, and far faster on a busy shared machine."""
    torch.manual_seed(0)


def _save_tiny(tmp_path: Path, variant: str = 'mean-imputation', **kwargs) -> Path:
    from bids_app.model.card import save_model_dir

    config = variant_config(variant, widths=(4, 8, 8, 8, 8), patch_size=PATCH, **kwargs)
    path = tmp_path / variant
    save_model_dir(path, MultiSequenceUNet(config), config, {}, dtype=torch.float32)
    return path


# --- normalisation ---------------------------------------------------------------------------


def test_normalise_known_values() -> None:
    crop = np.array([1.0, 2.0, 3.0, 4.0, 100.0]).reshape(1, 1, 5)
    cover = np.array([True, True, True, True, False])
    out = normalise_intensity(crop, cover)
    std = np.sqrt(1.25)  # population std of 1..4
    np.testing.assert_allclose(out[0, 0], [-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std, 0.0])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(normalise_intensity(np.full((2, 2, 2), 7.0)), 0.0)
    with pytest.raises(InputImageError, match='covers no voxel'):
        normalise_intensity(crop, np.zeros(5, bool))


# --- sliding-window steps and weights --------------------------------------------------------


@pytest.mark.parametrize(
    ('length', 'expected'),
    [(20, [0]), (320, [0]), (321, [0, 1]), (480, [0, 160]), (1600, list(range(0, 1281, 160)))],
)
def test_window_starts(length: int, expected: list[int]) -> None:
    starts = window_starts(length, 320)
    assert starts.tolist() == expected
    steps = np.diff(starts)
    assert (steps <= 160).all()  # at least 50 % overlap


def test_gaussian_weights() -> None:
    w = gaussian_weights(320)
    assert w.shape == (320,)
    assert w.max() == 1.0
    np.testing.assert_allclose(w, w[::-1])
    # sigma = 40 voxels: z = i - 159.5
    i = np.array([0, 100, 199.5 - 0.5])
    np.testing.assert_allclose(w[i.astype(int)], np.exp(-((i - 159.5) ** 2 - 0.25) / 3200), 1e-5)


@pytest.mark.parametrize('length', [20, 32, 160])
@pytest.mark.parametrize('batch_size', [1, 3])
def test_constant_prediction_stays_constant(length: int, batch_size: int) -> None:
    volume = torch.randn(2, length, 4, 4)
    calls = []

    def forward(window: torch.Tensor) -> torch.Tensor:
        calls.append(window.shape[0])
        return torch.full((window.shape[0], 2, *window.shape[2:]), 3.25)

    out = sliding_window(forward, volume, 32, batch_size=batch_size)
    assert out.shape == (2, length, 4, 4)
    torch.testing.assert_close(out, torch.full_like(out, 3.25))
    assert sum(calls) == len(window_starts(max(length, 32), 32))


@pytest.mark.parametrize('length', [20, 32, 160])
def test_position_dependent_prediction_is_reassembled(length: int) -> None:
    volume = torch.randn(1, length, 3, 3)
    out = sliding_window(lambda w: w * 2, volume, 32, batch_size=2)
    torch.testing.assert_close(out, volume * 2)


# --- the predictor ---------------------------------------------------------------------------


def _crops(z: int, slots: tuple[str, ...]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {s: rng.normal(100, 20, (16, 16, z)) for s in slots}


def test_predict_equals_model_on_one_window(tmp_path: Path) -> None:
    predictor = LesionPredictor.from_model_dir(_save_tiny(tmp_path), 'cpu')
    crops = _crops(32, ('T2Sag', 'T2starAx'))
    probability = predictor.predict(crops)
    assert probability.shape == (16, 16, 32)
    assert probability.dtype == np.float32
    images = torch.zeros(1, 6, 32, 16, 16)
    for s, crop in crops.items():
        index = predictor.slots.index(Slot(s))
        images[0, index] = torch.from_numpy(to_network_layout(normalise_intensity(crop)))
    presence = torch.tensor([[1, 0, 1, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        logits = predictor.model(images, presence).logits[0]
    expected = from_network_layout(torch.softmax(logits, 1)[0, 1].numpy())
    np.testing.assert_allclose(probability, expected, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_cuda_prediction_equals_cpu(tmp_path: Path) -> None:
    """The same probabilities on a GPU as on the CPU, over several windows (run: -m gpu)."""
    path = _save_tiny(tmp_path)
    crops = _crops(80, ('T2Sag', 'STIR', 'T1w'))
    on_cpu = LesionPredictor.from_model_dir(path, 'cpu').predict(crops)
    on_gpu = LesionPredictor.from_model_dir(path, 'cuda').predict(crops)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-4)


def test_tta_averages_left_right_mirror(tmp_path: Path) -> None:
    path = _save_tiny(tmp_path)
    plain = LesionPredictor.from_model_dir(path, 'cpu')
    tta = LesionPredictor.from_model_dir(path, 'cpu', tta=True)
    crops = _crops(32, ('T2Sag',))
    images = torch.from_numpy(to_network_layout(normalise_intensity(crops['T2Sag'])))[None, None]
    folded = plain._forward((Slot.T2Sag,))
    with torch.no_grad():
        logits = (folded(images) + folded(images.flip(3)).flip(3)) / 2
    expected = from_network_layout(torch.softmax(logits, 1)[0, 1].numpy())
    np.testing.assert_allclose(tta.predict(crops), expected, atol=1e-5)
    assert not np.allclose(tta.predict(crops), plain.predict(crops), atol=1e-4)


@pytest.mark.parametrize('z', [20, 100])
def test_any_length(tmp_path: Path, z: int) -> None:
    predictor = LesionPredictor.from_model_dir(_save_tiny(tmp_path), 'cpu', n_threads=1)
    probability = predictor.predict(_crops(z, ('T2Sag', 'STIR')))
    assert probability.shape == (16, 16, z)
    assert ((probability >= 0) & (probability <= 1)).all()


def test_slot_errors(tmp_path: Path) -> None:
    predictor = LesionPredictor.from_model_dir(_save_tiny(tmp_path), 'cpu')
    with pytest.raises(InputImageError, match='no T2Sag'):
        predictor.predict(_crops(32, ('STIR',)))
    with pytest.raises(InputImageError, match='crop has shape'):
        predictor.predict({'T2Sag': np.ones((16, 16, 32)), 'STIR': np.ones((16, 16, 31))})
    combo = LesionPredictor.from_model_dir(
        _save_tiny(tmp_path, 'combination', slots=['T2Sag', 'STIR']), 'cpu'
    )
    with pytest.raises(InputImageError, match=r"trained without \['T1w'\]"):
        combo.predict(_crops(32, ('T2Sag', 'STIR', 'T1w')))
    with pytest.raises(InputImageError, match=r"missing \['STIR'\]"):
        combo.predict(_crops(32, ('T2Sag',)))


def test_coverage_model_with_full_coverage_equals_mean(tmp_path: Path) -> None:
    path = _save_tiny(tmp_path, 'coverage-imputation')
    predictor = LesionPredictor.from_model_dir(path, 'cpu')
    crops = _crops(40, ('T2Sag', 'T2Ax'))
    full = {'T2Sag': np.ones(40, bool), 'T2Ax': np.ones(40, bool)}
    with_cov = predictor.predict(crops, full)
    model = predictor.model
    model.config = variant_config('mean-imputation', widths=(4, 8, 8, 8, 8), patch_size=PATCH)
    np.testing.assert_allclose(with_cov, predictor.predict(crops), atol=1e-5)
    model.config = variant_config('coverage-imputation', widths=(4, 8, 8, 8, 8), patch_size=PATCH)
    half = {'T2Sag': np.ones(40, bool), 'T2Ax': np.arange(40) < 16}
    assert not np.allclose(predictor.predict(crops, half), with_cov, atol=1e-4)


def test_skip_fusion_predictor_mixes_slots_only_where_they_cover(tmp_path: Path) -> None:
    predictor = LesionPredictor.from_model_dir(_save_tiny(tmp_path, 'skip-fusion'), 'cpu')
    with torch.no_grad():
        for gate in predictor.model.skip_gates:
            gate.fill_(0.1)
    crops = _crops(32, ('T2Sag', 'T2starAx'))
    cover = {'T2Sag': np.ones(32, bool), 'T2starAx': np.arange(32) < 12}
    probability = predictor.predict(crops, cover)
    images = torch.zeros(1, 6, 32, 16, 16)
    coverage = torch.zeros(1, 6, 32, dtype=torch.bool)
    for s, crop in crops.items():
        index = predictor.slots.index(Slot(s))
        z_cover = np.broadcast_to(cover[s], crop.shape)
        images[0, index] = torch.from_numpy(to_network_layout(normalise_intensity(crop, z_cover)))
        coverage[0, index] = torch.from_numpy(cover[s])
    presence = torch.tensor([[1, 0, 1, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        logits = predictor.model(images, presence, coverage).logits[0]
    expected = from_network_layout(torch.softmax(logits, 1)[0, 1].numpy())
    np.testing.assert_allclose(probability, expected, atol=1e-5)
    assert not np.allclose(probability, predictor.predict(crops), atol=1e-4)


def test_bfloat16_falls_back_when_unsupported(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        predictor = LesionPredictor.from_model_dir(
            _save_tiny(tmp_path), 'cpu', precision='bfloat16'
        )
    if bfloat16_supported(torch.device('cpu')):
        assert predictor.precision == 'bfloat16'
        assert predictor.predict(_crops(32, ('T2Sag',))).dtype == np.float32
    else:
        assert predictor.precision == 'float32'
        assert 'bfloat16 is not supported' in caplog.text


def test_torch_threads_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


# --- post-processing -------------------------------------------------------------------------


def test_remove_small_lesions_counts_26_connected() -> None:
    mask = np.zeros((6, 6, 6), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # diagonal neighbours: one lesion of 2
    mask[4, 4, 4] = True
    out = remove_small_lesions(mask, 2)
    assert out.sum() == 2
    assert out[0, 0, 0]
    assert out[1, 1, 1]
    assert not out[4, 4, 4]


def test_near_cord_distance_in_mm() -> None:
    cord = np.zeros((1, 1, 20), bool)
    cord[0, 0, 10] = True
    near = near_cord(cord, margin_mm=1.0, voxel_mm=0.5)  # 2 voxels either side
    assert np.flatnonzero(near[0, 0]).tolist() == [8, 9, 10, 11, 12]
    assert not near_cord(np.zeros((2, 2, 2), bool), 3.0).any()


def test_near_centreline_radius() -> None:
    disk = near_centreline((48, 48, 2), 8.0)
    # centre at 23.5 voxels; 8 mm = 16 voxels: (23, 23) in, (7, 23) in (16.5 vox = 8.25 mm: out)
    assert disk[23, 23, 0]
    assert disk[8, 23, 1]
    assert not disk[7, 23, 0]
    assert not disk[0, 0, 0]


def test_postprocess_pipeline() -> None:
    prob = np.zeros((48, 48, 10), np.float32)
    prob[22:26, 22:26, 2:6] = 0.9  # 64 voxels = 8 mm3 at the centre: kept
    prob[30, 30, 2] = 0.9  # a 1-voxel speck: removed as too small
    prob[2:6, 2:6, 2:6] = 0.9  # far from the centreline: removed
    prob[22:26, 22:26, 8] = 0.4  # below threshold
    mask = postprocess(prob)
    assert mask.sum() == 64
    assert mask[22:26, 22:26, 2:6].all()
    cord = np.zeros_like(mask)
    cord[3, 3, 3] = True  # a cord mask there keeps the far lesion instead
    mask = postprocess(prob, PostprocessOptions(min_lesion_mm3=0.1), cord_mask=cord)
    assert mask.sum() == 64
    assert mask[2:6, 2:6, 2:6].all()
    assert postprocess(prob, PostprocessOptions(threshold=0.3)).sum() == 64 + 16


class _BlobPredictor:
    """Stands in for the model: a 2-voxel blob (0.25 mm^3) at the centre of the crop."""

    slots = (Slot.T2Sag,)
    precision = 'float32'

    def __init__(self) -> None:
        self.card = {'name': 'blob', 'weights': {'sha256': '0' * 64}}

    def predict(self, crops, coverage=None) -> np.ndarray:
        probability = np.zeros(crops[Slot.T2Sag].shape, np.float32)
        probability[23, 23:25, 8] = 0.9
        return probability


@pytest.mark.parametrize(
    ('voxel_mm', 'min_lesion_mm3', 'kept'),
    [
        (0.5, 0.0, 2),
        (0.5, 0.25, 2),
        (0.5, 0.3, 0),
        (0.5, None, 0),  # None: the interface default, 1 mm^3
        (1.0, 1.5, 2),  # a model's 1 mm frame: the blob is 2 mm^3
        (1.0, 2.5, 0),
    ],
)
def test_predict_interface_removes_lesions_below_the_minimum_size(
    tmp_path: Path, monkeypatch, voxel_mm, min_lesion_mm3, kept
) -> None:
    from bids_app.config import CordFrameConfig
    from bids_app.frame import CordFrame
    from bids_app.interfaces.inference import PredictLesions

    monkeypatch.setattr(LesionPredictor, 'from_model_dir', lambda *a, **k: _BlobPredictor())
    frame = CordFrame(z_mm=np.arange(16) * voxel_mm, config=CordFrameConfig(voxel_mm=voxel_mm))
    frame.crops[Slot.T2Sag] = np.ones((48, 48, 16), np.float32)
    frame.coverage[Slot.T2Sag] = np.ones((48, 48, 16), bool)
    frame.centerlines[Slot.T2Sag] = np.zeros((16, 3))
    node = PredictLesions(
        cordframe=str(frame.save(tmp_path / 'frame.npz')), model_dir=str(tmp_path)
    )
    if min_lesion_mm3 is not None:
        node.inputs.min_lesion_mm3 = min_lesion_mm3
    result = node.run(cwd=str(tmp_path))
    with np.load(result.outputs.out_file) as prediction:
        assert int(prediction['mask'].sum()) == kept


def test_predict_interface_reports_the_precision_it_used(tmp_path: Path) -> None:
    from bids_app.frame import CordFrame
    from bids_app.interfaces.inference import PredictLesions

    frame = CordFrame(z_mm=np.arange(32) * 0.5)
    frame.crops[Slot.T2Sag] = _crops(32, ('T2Sag',))['T2Sag'].astype(np.float32)
    frame.coverage[Slot.T2Sag] = np.ones((16, 16, 32), bool)
    frame.centerlines[Slot.T2Sag] = np.zeros((32, 3))
    node = PredictLesions(
        cordframe=str(frame.save(tmp_path / 'frame.npz')),
        model_dir=str(_save_tiny(tmp_path)),
        device='cpu',
        precision='bfloat16',
    )
    result = node.run(cwd=str(tmp_path))
    supported = bfloat16_supported(torch.device('cpu'))
    assert result.outputs.precision == ('bfloat16' if supported else 'float32')


def test_non_finite_probabilities_name_the_model_folder(tmp_path: Path) -> None:
    """Finite weights so large that the activations overflow: NaN out, an error naming it."""
    from bids_app.model.card import save_model_dir

    config = variant_config('mean-imputation', widths=(4, 8, 8, 8, 8), patch_size=PATCH)
    model = MultiSequenceUNet(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(3e38)
    path = tmp_path / 'overflowing'
    save_model_dir(path, model, config, {}, dtype=torch.float32)
    predictor = LesionPredictor.from_model_dir(path, 'cpu')
    with pytest.raises(ModelCardError) as caught:
        predictor.predict(_crops(32, ('T2Sag',)))
    assert str(caught.value).startswith(f'{path}: the model gave ')
    assert 'NaN or infinite lesion probabilities' in str(caught.value)
