"""The oneDNN convolution gives PyTorch's answer on the shapes PyTorch sends to its slow kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bids_app.device import inference_layout
from bids_app.model.blocks import Conv3d, Encoder

# (in channels, out channels, input z x y, stride): 1-channel first convolutions and a coarse
# level at batch 1, all under PyTorch's N * C * D * H <= 20480 slow-kernel rule.
SHAPES = [
    (1, 4, (12, 8, 8), (1, 1, 1)),
    (1, 4, (12, 8, 8), (2, 2, 2)),
    (6, 5, (4, 6, 6), (1, 2, 2)),
]


@pytest.mark.parametrize(('c_in', 'c_out', 'size', 'stride'), SHAPES)
def test_values_and_gradients_equal_pytorch_conv3d(c_in, c_out, size, stride):
    torch.manual_seed(0)
    conv = Conv3d(c_in, c_out, 3, stride=stride, padding=1)
    weight = conv.weight.detach().clone().requires_grad_(True)
    x = torch.randn(1, c_in, *size, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    ours = conv(x)
    reference = F.conv3d(x_ref, weight, conv.bias.detach(), stride=stride, padding=1)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    ours.square().sum().backward()
    reference.square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(conv.weight.grad, weight.grad, rtol=1e-4, atol=1e-4)


def test_channels_last_weights_give_channels_last_outputs():
    conv = Conv3d(1, 4, 3, padding=1).to(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        out = conv(torch.randn(1, 1, 12, 8, 8))
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    assert not out.is_contiguous()


def test_autocast_still_runs_in_bfloat16():
    conv = Conv3d(1, 4, 3, padding=1)
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(torch.randn(1, 1, 12, 8, 8))
    assert out.dtype == torch.bfloat16


def test_inference_layout_keeps_an_encoders_output():
    torch.manual_seed(0)
    encoder = Encoder([4, 8], [(1, 1, 1), (2, 2, 2)]).eval()
    x = torch.randn(1, 1, 16, 8, 8)
    with torch.inference_mode():
        plain = encoder(x)
        fast = inference_layout(encoder)(x)
    assert encoder.stages[0][0].conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    for a, b in zip(plain, fast, strict=True):
        torch.testing.assert_close(a, b.contiguous(), rtol=1e-5, atol=1e-5)
