from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from bids_app.model.imputation import (
    fold_fusion_weight,
    impute_mean,
    sample_latent_noise,
    voxel_presence,
)


def test_imputed_features_equal_mean_of_present_exactly() -> None:
    features = torch.randint(-8, 8, (2, 4, 3, 2, 2, 2)).double()
    presence = torch.tensor([[1, 0, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    out = impute_mean(features, presence)
    mean0 = (features[0, 0] + features[0, 2]) / 2
    assert torch.equal(out[0, 1], mean0)
    assert torch.equal(out[0, 3], mean0)
    assert torch.equal(out[0, [0, 2]], features[0, [0, 2]])
    assert torch.equal(out[1], features[1])


def test_t2sag_only_repeats_its_features() -> None:
    features = torch.randn(1, 6, 5, 2, 3, 3)
    out = impute_mean(features, torch.tensor([[1, 0, 0, 0, 0, 0]], dtype=torch.bool))
    assert torch.equal(out[0], features[0, :1].expand(6, -1, -1, -1, -1))


def test_voxelwise_presence_imputes_per_voxel() -> None:
    features = torch.zeros(1, 2, 1, 2, 1, 1)
    features[0, 0] = 1.0
    features[0, 1] = 3.0
    presence = torch.tensor([[[True, True], [True, False]]]).reshape(1, 2, 2, 1, 1)
    out = impute_mean(features, presence)
    # voxel 0: both present; voxel 1: slot 1 imputed from slot 0 alone
    assert out[0, 1, 0, :, 0, 0].tolist() == [3.0, 1.0]


def test_voxel_presence_from_z_coverage() -> None:
    presence = torch.tensor([[True, True, False]])
    coverage = torch.zeros(1, 3, 32, dtype=torch.bool)
    coverage[0, 1, :20] = True  # slot 1 covers 20 of 32 slices
    coverage[0, 2] = True  # slot 2 absent anyway
    voxel = voxel_presence(presence, coverage, (4, 2, 2))
    assert voxel.shape == (1, 3, 4, 2, 2)
    assert voxel[0, 0].all()  # T2Sag always present
    # 8-slice blocks: fully, fully, half (16..23 has 4 covered -> 0.5), not covered
    assert voxel[0, 1, :, 0, 0].tolist() == [True, True, True, False]
    assert not voxel[0, 2].any()


def test_folded_weight_matches_imputed_convolution() -> None:
    n_slots, channels = 4, 3
    weight = torch.randn(5, n_slots * channels, 3, 3, 3, dtype=torch.float64)
    features = torch.randn(1, n_slots, channels, 4, 4, 4, dtype=torch.float64)
    present = [0, 2]
    presence = torch.zeros(1, n_slots, dtype=torch.bool)
    presence[0, present] = True
    full = torch.nn.functional.conv3d(
        impute_mean(features, presence).flatten(1, 2), weight, padding=1
    )
    folded = fold_fusion_weight(weight, present, n_slots)
    assert folded.shape == (5, 2 * channels, 3, 3, 3)
    fast = torch.nn.functional.conv3d(features[:, present].flatten(1, 2), folded, padding=1)
    torch.testing.assert_close(fast, full, rtol=1e-12, atol=1e-12)


def test_fold_with_every_slot_present_is_identity() -> None:
    weight = torch.randn(2, 6, 1, 1, 1)
    assert torch.equal(fold_fusion_weight(weight, [0, 1, 2], 3), weight)


def test_latent_noise_matches_the_mixture() -> None:
    n = 100_000
    drawn = sample_latent_noise((n,), generator=torch.Generator().manual_seed(1)).numpy()
    rng = np.random.default_rng(2)
    pick = rng.random(n) < 0.25
    reference = np.where(pick, rng.logistic(0, 0.002, n), rng.normal(0, 0.4, n))
    assert stats.ks_2samp(drawn, reference).pvalue > 0.01
    # closed form: variance 0.25 * pi^2 s^2 / 3 + 0.75 * 0.4^2 = 0.1200033
    assert drawn.var() == pytest.approx(0.12, rel=0.02)
    # a quarter of the draws sit within 0.02 of zero from the logistic part alone (|x| < 10 s),
    # plus 0.75 * P(|N(0, 0.4)| < 0.02) = 0.75 * 0.0399 from the normal part
    near = np.mean(np.abs(drawn) < 0.02)
    expected = 0.25 * (1 - 2 / (1 + np.exp(10))) + 0.75 * (2 * stats.norm.cdf(0.05) - 1)
    assert near == pytest.approx(expected, abs=0.005)


def test_latent_noise_differs_from_a_normal_alone() -> None:
    n = 100_000
    drawn = sample_latent_noise((n,), generator=torch.Generator().manual_seed(3)).numpy()
    normal = np.random.default_rng(4).normal(0, np.sqrt(0.12), n)
    assert stats.ks_2samp(drawn, normal).pvalue < 1e-6
