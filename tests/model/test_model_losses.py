from __future__ import annotations

import math

import pytest
import torch

from bids_app.model.losses import (
    ce_dice_loss,
    deep_supervision_loss,
    distillation_loss,
    downsample_target,
    lesion_components,
    lesion_wise_dice_loss,
    soft_dice_loss,
    training_loss,
)
from bids_app.model.network import UNetOutput


def _logits_for(probs_lesion: torch.Tensor) -> torch.Tensor:
    """Two-class logits whose softmax gives ``probs_lesion`` for class 1."""
    p = probs_lesion.double()
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))], dim=1)


def test_soft_dice_known_answer() -> None:
    # p = [0.8, 0.8, 0.2, 0.2], t = [1, 0, 1, 0]: dice = 2*1.0 / (2.0 + 2) = 0.5
    probs = torch.tensor([[0.8, 0.8, 0.2, 0.2]])
    target = torch.tensor([[1, 0, 1, 0]])
    loss = soft_dice_loss(_logits_for(probs), target, smooth=0.0)
    assert float(loss) == pytest.approx(0.5, abs=1e-6)


def test_dice_batch_versus_per_sample() -> None:
    probs = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    target = torch.tensor([[1, 1], [0, 0]])
    # per sample: dice 2*1/(1+2) = 2/3 and 0/(1+0) = 0 -> loss 1 - 1/3
    assert float(soft_dice_loss(_logits_for(probs), target, smooth=0.0)) == pytest.approx(2 / 3)
    # pooled: 2*1/(2+2) = 0.5
    loss = soft_dice_loss(_logits_for(probs), target, smooth=0.0, batch_dice=True)
    assert float(loss) == pytest.approx(0.5)


def test_ce_dice_known_answer() -> None:
    probs = torch.tensor([[0.8, 0.8, 0.2, 0.2]])
    target = torch.tensor([[1, 0, 1, 0]])
    ce = -(2 * math.log(0.8) + 2 * math.log(0.2)) / 4
    assert float(ce_dice_loss(_logits_for(probs), target)) == pytest.approx(ce + 0.5, abs=1e-4)


def test_downsample_target_keeps_small_lesions() -> None:
    target = torch.zeros(1, 4, 4, 4, dtype=torch.long)
    target[0, 3, 0, 1] = 1
    small = downsample_target(target, (2, 2, 2))
    assert small.shape == (1, 2, 2, 2)
    assert small.sum() == 1
    assert small[0, 1, 0, 0] == 1


def test_deep_supervision_weights() -> None:
    target = torch.zeros(1, 4, 4, 4, dtype=torch.long)
    full = torch.randn(1, 2, 4, 4, 4)
    half = torch.randn(1, 2, 2, 2, 2)
    expected = 2 / 3 * ce_dice_loss(full, target) + 1 / 3 * ce_dice_loss(
        half, downsample_target(target, (2, 2, 2))
    )
    torch.testing.assert_close(deep_supervision_loss([full, half], target), expected)
    torch.testing.assert_close(deep_supervision_loss([full], target), ce_dice_loss(full, target))


def _certain(lesion: torch.Tensor) -> torch.Tensor:
    """Logits that predict exactly ``lesion`` (probability 1 inside, 0 outside)."""
    return torch.stack([torch.zeros(lesion.shape), torch.where(lesion > 0, 50.0, -50.0)], dim=1)


def test_lesion_components_corner_touch_is_one_lesion() -> None:
    target = torch.zeros(2, 4, 4, 4, dtype=torch.long)
    target[0, 0, 0, 0] = target[0, 1, 1, 1] = 1  # corners touch: one 26-connected lesion
    target[0, 3, 3, 3] = 1
    target[1, 2, 2, 2] = 1  # numbering restarts per sample
    numbered = lesion_components(target)
    assert numbered[0].unique().tolist() == [0, 1, 2]
    assert numbered[0, 0, 0, 0] == numbered[0, 1, 1, 1] != numbered[0, 3, 3, 3]
    assert numbered[1].unique().tolist() == [0, 1]


def test_lesion_wise_dice_weighs_a_small_lesion_as_a_large_one() -> None:
    target = torch.zeros(1, 6, 6, 6, dtype=torch.long)
    target[0, :3, :3, :3] = 1  # 27 voxels, found exactly
    target[0, 5, 5, 5] = 1  # 1 voxel, missed
    found = target.clone()
    found[0, 5, 5, 5] = 0
    # per lesion: 1 and 0 -> loss 1/2; the patch's soft Dice would be 1 - 54/55
    assert float(lesion_wise_dice_loss(_certain(found), target)) == pytest.approx(0.5, abs=1e-6)
    assert float(soft_dice_loss(_certain(found), target)) == pytest.approx(1 / 55, abs=1e-4)


def test_lesion_wise_dice_masks_other_lesions_but_not_false_positives() -> None:
    target = torch.zeros(1, 6, 6, 6, dtype=torch.long)
    target[0, 0, 0, 0] = target[0, 5, 5, 5] = 1
    assert float(lesion_wise_dice_loss(_certain(target), target)) == pytest.approx(0, abs=1e-6)
    spurious = target.clone()
    spurious[0, 3, 0, 5] = 1  # one false voxel: each lesion 2 * 1 / (1 + 1 + 1)
    loss = lesion_wise_dice_loss(_certain(spurious), target)
    assert float(loss) == pytest.approx(1 / 3, abs=1e-6)


def test_lesion_wise_dice_without_lesions_is_zero_with_a_gradient() -> None:
    logits = torch.randn(2, 2, 3, 3, 3, requires_grad=True)
    loss = lesion_wise_dice_loss(logits, torch.zeros(2, 3, 3, 3, dtype=torch.long))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert logits.grad is not None


def test_distillation_is_equation_2() -> None:
    features = torch.zeros(3, 3, 1, 1, 1, 2)
    features[:, 0] = torch.tensor([0.0, 0.0])
    features[:, 1] = torch.tensor([1.0, 3.0])  # mean |diff| = 2
    features[:, 2] = torch.tensor([-4.0, 0.0])  # mean |diff| = 2
    features[2, 2] = torch.tensor([-8.0, 0.0])  # sample 2: mean |diff| = 4
    presence = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.bool)
    # sample 0: slot 1 -> 2; sample 1: (2 + 2) / 2 = 2; sample 2: slot 2 -> 4; mean = 8 / 3
    assert float(distillation_loss(features, presence)) == pytest.approx(8 / 3)
    alone = torch.tensor([[1, 0, 0]], dtype=torch.bool)
    assert float(distillation_loss(features[:1], alone)) == 0.0


def test_training_loss_adds_weighted_distillation(tiny_config) -> None:
    config = tiny_config('distillation')
    target = torch.zeros(1, 4, 4, 4, dtype=torch.long)
    logits = [torch.randn(1, 2, 4, 4, 4)]
    features = torch.zeros(1, 6, 1, 1, 1, 1)
    features[0, 1] = 5.0
    presence = torch.tensor([[1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    total, parts = training_loss(UNetOutput(logits, features, presence), target, config)
    assert parts['distillation'] == pytest.approx(5.0)
    assert float(total) == pytest.approx(parts['segmentation'] + 0.5, rel=1e-5)
    plain, parts = training_loss(
        UNetOutput(logits, features, presence), target, tiny_config('mean-imputation')
    )
    assert parts['distillation'] == 0.0
    assert float(plain) == pytest.approx(parts['segmentation'])


def test_training_loss_adds_weighted_lesion_wise_dice(tiny_config) -> None:
    target = torch.zeros(1, 4, 4, 4, dtype=torch.long)
    target[0, 0, 0, 0] = target[0, 3, 3, 3] = 1
    found = target.clone()
    found[0, 3, 3, 3] = 0
    output = UNetOutput([_certain(found)], torch.zeros(1, 6, 1, 1, 1, 1), torch.ones(1, 6).bool())
    config = tiny_config('mean-imputation')
    total, parts = training_loss(output, target, config, lesion_weight=2.0)
    assert parts['lesion_wise'] == pytest.approx(0.5, abs=1e-6)
    assert float(total) == pytest.approx(parts['segmentation'] + 1.0, rel=1e-5)
    _, parts = training_loss(output, target, config)
    assert parts['lesion_wise'] == 0.0
