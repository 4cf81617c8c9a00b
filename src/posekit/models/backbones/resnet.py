"""ResNet-50 (He et al., 2016; stride on the 3x3 convolution, "v1.5"), with torchvision's
parameter names.

Parameter names match torchvision's ``resnet50`` state dict (``conv1.weight``, ``bn1.*``,
``layer3.2.conv2.weight``, ``layer2.0.downsample.0.weight``, ...), the layout timm's
``resnet50`` uses too. The classifier (``fc.*``) is not part of the backbone. posekit ships
no weights for it: it starts from random initialisation or from a file the user names.

Feature maps (channels): stride 4 -> 256 (``layer1``), stride 8 -> 512 (``layer2``),
stride 16 -> 1024 (``layer3``), stride 32 -> 2048 (``layer4``).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from posekit.models.backbones.base import Backbone, init_conv_bn

_EXPANSION = 4
# (bottleneck width, number of blocks, stride of the first block) for layer1..layer4.
_LAYERS: tuple[tuple[int, int, int], ...] = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand, plus identity or projection."""

    def __init__(self, in_channels: int, width: int, *, stride: int) -> None:
        super().__init__()
        out_channels = width * _EXPANSION
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x: (B, C_in, H, W)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(Backbone):
    """ResNet-50 feature extractor returning maps at strides 4, 8, 16 and 32."""

    channels: ClassVar[dict[int, int]] = {4: 256, 8: 512, 16: 1024, 32: 2048}

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        for index, (width, blocks, stride) in enumerate(_LAYERS, start=1):
            layer = []
            for i in range(blocks):
                layer.append(Bottleneck(in_channels, width, stride=stride if i == 0 else 1))
                in_channels = width * _EXPANSION
            self.add_module(f"layer{index}", nn.Sequential(*layer))
        init_conv_bn(self)
        for module in self.modules():  # each residual branch starts as (almost) identity
            if isinstance(module, Bottleneck):
                nn.init.zeros_(module.bn3.weight)

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        """Map ``images: (B, 3, H, W)`` to feature maps.

        Returns ``{stride: (B, channels[stride], ceil(H/stride), ceil(W/stride))}``.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        out: dict[int, torch.Tensor] = {}
        for stride, name in zip((4, 8, 16, 32), ("layer1", "layer2", "layer3", "layer4"),
                                strict=True):
            x = getattr(self, name)(x)
            out[stride] = x
        return out
