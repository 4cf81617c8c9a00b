"""MobileNetV2 (Sandler et al., 2018), width 1.0, with torchvision's parameter names.

Parameter names match torchvision's ``mobilenet_v2`` state dict (``features.0.0.weight``,
``features.2.conv.1.0.weight``, ...), so its ImageNet file loads key by key. The classifier
(``classifier.1.*``) is not part of the backbone.

Feature maps (channels): stride 4 -> 24 (``features.3``), stride 8 -> 32 (``features.6``),
stride 16 -> 96 (``features.13``), stride 32 -> 1280 (``features.18``, the last 1x1 conv).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from posekit.models.backbones.base import Backbone, ConvBNAct, init_conv_bn

# (expansion t, output channels c, repeats n, first stride s), as in the paper's table 2.
_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# Index in ``features`` of the last layer at each stride.
_TAPS: dict[int, int] = {4: 3, 8: 6, 16: 13, 32: 18}


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3) -> project (1x1, linear); residual when shapes allow.

    ``conv`` holds, in torchvision's order: [expand ConvBNAct], depthwise ConvBNAct,
    projection conv, projection batch norm.
    """

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNAct(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNAct(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x: (B, C_in, H, W)``."""
        out = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(Backbone):
    """MobileNetV2 feature extractor returning maps at strides 4, 8, 16 and 32."""

    channels: ClassVar[dict[int, int]] = {4: 24, 8: 32, 16: 96, 32: 1280}

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, 32, stride=2)]
        in_channels = 32
        for expansion, out_channels, repeats, first_stride in _SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(
                    in_channels, out_channels,
                    stride=first_stride if i == 0 else 1, expansion=expansion))
                in_channels = out_channels
        layers.append(ConvBNAct(in_channels, 1280, kernel_size=1))
        self.features = nn.Sequential(*layers)
        init_conv_bn(self)

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        """Map ``images: (B, 3, H, W)`` to feature maps.

        Returns ``{stride: (B, channels[stride], ceil(H/stride), ceil(W/stride))}``.
        """
        out: dict[int, torch.Tensor] = {}
        x = images
        taps = {index: stride for stride, index in _TAPS.items()}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in taps:
                out[taps[index]] = x
        return out
