from __future__ import annotations

import pytest
import torch

from bids_app.model.network import (
    GATE_SCALE,
    FoldedUNet,
    MultiSequenceUNet,
    init_encoder_from,
    skip_gates,
)
from bids_app.slots import SLOTS, Slot

Z, X, Y = 32, 16, 16  # the tiny patch of conftest, network layout


def _images(batch: int, n_slots: int = 6) -> torch.Tensor:
    return torch.randn(batch, n_slots, Z, X, Y)


def test_output_shapes_train_and_eval(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config())
    out = model(_images(2))
    assert [tuple(o.shape) for o in out.logits] == [
        (2, 2, Z, X, Y),
        (2, 2, Z // 2, X // 2, Y // 2),
    ]
    assert tuple(out.features.shape) == (2, 6, 8, 2, 2, 2)
    model.eval()
    with torch.no_grad():
        assert [tuple(o.shape) for o in model(_images(1)).logits] == [(1, 2, Z, X, Y)]


def test_absent_encoders_are_never_called(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config())
    seen: dict[str, list[int]] = {str(s): [] for s in SLOTS}
    for slot in SLOTS:
        model.encoders[str(slot)].register_forward_hook(
            lambda _m, args, _out, slot=slot: seen[str(slot)].append(args[0].shape[0])
        )
    presence = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1]], dtype=torch.bool)
    model(_images(2), presence)
    # each encoder runs once on the samples with that slot; absent slots never run
    assert seen == {
        'T2Sag': [2],
        'STIR': [1],
        'T2starAx': [],
        'T2Ax': [],
        'T1w': [],
        'MP2RAGE': [1],
    }


def test_mixed_batch_equals_samples_run_alone(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config()).eval()
    images = _images(2)
    presence = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 0, 1, 1, 0, 1]], dtype=torch.bool)
    with torch.no_grad():
        both = model(images, presence).logits[0]
        first = model(images[:1], presence[:1]).logits[0]
        second = model(images[1:], presence[1:]).logits[0]
    torch.testing.assert_close(both, torch.cat([first, second]), rtol=1e-5, atol=1e-5)


def test_absent_slot_values_do_not_matter(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config()).eval()
    images = _images(1)
    presence = torch.tensor([[1, 0, 1, 0, 0, 0]], dtype=torch.bool)
    other = images.clone()
    other[:, [1, 3, 4, 5]] = 100.0
    with torch.no_grad():
        assert torch.equal(model(images, presence).logits[0], model(other, presence).logits[0])


def test_t2sag_only_fusion_input_is_its_features_repeated(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config()).eval()
    captured = []
    model.fusion.register_forward_hook(lambda _m, args, _o: captured.append(args[0]))
    presence = torch.tensor([[1, 0, 0, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        out = model(_images(1), presence)
    fused_in = captured[0].reshape(1, 6, 8, 2, 2, 2)
    assert torch.equal(fused_in, out.features[:, :1].expand(-1, 6, -1, -1, -1, -1))


@pytest.mark.parametrize('present', [(0,), (0, 2), (0, 1, 3, 5), (0, 1, 2, 3, 4, 5)])
def test_folded_fusion_equals_unfolded(tiny_config, present: tuple[int, ...]) -> None:
    model = MultiSequenceUNet(tiny_config()).eval()
    images = _images(2)
    presence = torch.zeros(2, 6, dtype=torch.bool)
    presence[:, list(present)] = True
    folded = FoldedUNet(model, [SLOTS[i] for i in present])
    with torch.no_grad():
        reference = model(images, presence).logits[0]
        fast = folded(images[:, list(present)])
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
    assert folded.fusion.conv.in_channels == 8 * len(present)


def test_missing_t2sag_or_combination_slot_is_refused(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config())
    with pytest.raises(ValueError, match='T2Sag'):
        model(_images(1), torch.tensor([[0, 1, 0, 0, 0, 0]], dtype=torch.bool))
    combo = MultiSequenceUNet(tiny_config('combination', slots=['T2Sag', 'STIR']))
    with pytest.raises(ValueError, match='every one of its slots'):
        combo(_images(1, 2), torch.tensor([[1, 0]], dtype=torch.bool))


def test_frozen_encoder_gets_no_gradient(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config('frozen-encoder'))
    model(_images(2)).logits[0].sum().backward()
    assert all(p.grad is None for p in model.encoders['T2Sag'].parameters())
    assert all(p.grad is not None for p in model.encoders['STIR'].parameters())
    assert model.fusion.conv.weight.grad is not None


def test_init_encoder_from_baseline(tiny_config) -> None:
    baseline = MultiSequenceUNet(tiny_config('baseline'))
    model = MultiSequenceUNet(tiny_config('frozen-encoder'))
    init_encoder_from(model, baseline, Slot.T2Sag)
    for a, b in zip(
        model.encoders['T2Sag'].parameters(), baseline.encoders['T2Sag'].parameters(), strict=True
    ):
        assert torch.equal(a, b)


def test_latent_noise_only_in_training(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config('feature-augmentation'))
    images = _images(1, 1)
    torch.manual_seed(5)
    a = model(images).logits[0]
    torch.manual_seed(6)
    b = model(images).logits[0]
    assert not torch.equal(a, b)  # training: noise on the bottleneck
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(images).logits[0], model(images).logits[0])


def test_coverage_imputation_changes_only_uncovered_part(tiny_config) -> None:
    model = MultiSequenceUNet(tiny_config('coverage-imputation')).eval()
    images = _images(1)
    presence = torch.ones(1, 6, dtype=torch.bool)
    full_cov = torch.ones(1, 6, Z, dtype=torch.bool)
    with torch.no_grad():
        plain = model(images, presence).logits[0]
        same = model(images, presence, full_cov).logits[0]
        part = full_cov.clone()
        part[:, 2, Z // 2 :] = False  # T2starAx stops half-way
        cut = model(images, presence, part).logits[0]
    assert torch.equal(plain, same)
    assert not torch.allclose(plain, cut)


def test_block_norm_is_instance_norm() -> None:
    from bids_app.model.blocks import ConvNormAct

    block = ConvNormAct(2, 3)
    norm = block[1]
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 3, 4, 5, 6)
    expected = torch.nn.functional.instance_norm(x, weight=norm.weight, bias=norm.bias, eps=1e-5)
    torch.testing.assert_close(norm(x), expected)


def _fused_with_open_gates(tiny_config) -> MultiSequenceUNet:
    """A skip-fusion model whose gates are non-zero (as after training)."""
    model = MultiSequenceUNet(tiny_config('skip-fusion')).eval()
    with torch.no_grad():
        for gate in model.skip_gates:
            gate.uniform_(0.2 / GATE_SCALE, 1.0 / GATE_SCALE)
    return model


def test_skip_fusion_with_closed_gates_is_the_papers_network(tiny_config) -> None:
    plain = MultiSequenceUNet(tiny_config()).eval()
    fused = MultiSequenceUNet(tiny_config('skip-fusion')).eval()
    fused.load_state_dict({**fused.state_dict(), **plain.state_dict()})
    images, presence = _images(2), torch.tensor([[1, 1, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0]]).bool()
    with torch.no_grad():
        assert torch.equal(fused(images, presence).logits[0], plain(images, presence).logits[0])


def test_skip_fusion_mixes_the_present_slots_into_the_skips(tiny_config) -> None:
    model = _fused_with_open_gates(tiny_config)
    images = _images(1)
    t2sag_only = torch.tensor([[1, 0, 0, 0, 0, 0]], dtype=torch.bool)
    with_stir = torch.tensor([[1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    captured = []
    model.decoder.register_forward_hook(lambda _m, args, _o: captured.append(args[1]))
    with torch.no_grad():
        model(images, t2sag_only)
        model(images, with_stir)
        t2sag = model.encoders['T2Sag'](images[:, :1])
        stir = model.encoders['STIR'](images[:, 1:2])
    for level, gate in enumerate(skip_gates(model)):
        # T2Sag alone: its own skips whatever the gates
        torch.testing.assert_close(captured[0][level], t2sag[level])
        # with STIR: t2sag + gate * (mean - t2sag), the mean over the two present slots
        mean = (t2sag[level] + stir[level]) / 2
        expected = t2sag[level] + gate.view(1, -1, 1, 1, 1) * (mean - t2sag[level])
        torch.testing.assert_close(captured[1][level], expected)


def test_skip_fusion_mixed_batch_equals_samples_run_alone(tiny_config) -> None:
    model = _fused_with_open_gates(tiny_config)
    images = _images(3)
    presence = torch.tensor(
        [[1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 0, 1, 1, 0, 1]], dtype=torch.bool
    )
    with torch.no_grad():
        batch = model(images, presence).logits[0]
        alone = [model(images[i : i + 1], presence[i : i + 1]).logits[0] for i in range(3)]
    torch.testing.assert_close(batch, torch.cat(alone), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('present', [(0,), (0, 2), (0, 1, 3, 5)])
def test_skip_fusion_folded_equals_unfolded(tiny_config, present: tuple[int, ...]) -> None:
    model = _fused_with_open_gates(tiny_config)
    images = _images(2)
    presence = torch.zeros(2, 6, dtype=torch.bool)
    presence[:, list(present)] = True
    with torch.no_grad():
        reference = model(images, presence).logits[0]
        fast = FoldedUNet(model, [SLOTS[i] for i in present])(images[:, list(present)])
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)


def test_skip_fusion_mixes_a_slot_only_where_it_covers(tiny_config) -> None:
    model = _fused_with_open_gates(tiny_config)
    images = _images(1)
    presence = torch.tensor([[1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    coverage = torch.zeros(1, 6, Z, dtype=torch.bool)
    coverage[:, 1, : Z // 2] = True  # STIR covers the lower half of the patch only
    captured = []
    model.decoder.register_forward_hook(lambda _m, args, _o: captured.append(args[1]))
    with torch.no_grad():
        model(images, presence, coverage)
        t2sag = model.encoders['T2Sag'](images[:, :1])
    for level, skip in enumerate(captured[0]):
        half = skip.shape[2] // 2
        torch.testing.assert_close(skip[:, :, half:], t2sag[level][:, :, half:])
        assert not torch.allclose(skip[:, :, :half], t2sag[level][:, :, :half])
    # the folded network, given the same coverage, agrees
    folded = FoldedUNet(model, [Slot.T2Sag, Slot.STIR])
    with torch.no_grad():
        reference = model(images, presence, coverage).logits[0]
        fast = folded(images[:, :2], coverage[:, :2])
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
