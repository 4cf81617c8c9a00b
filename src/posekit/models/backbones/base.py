"""The contract every backbone fulfils, and the small layers the backbones share.

A backbone is an ``nn.Module`` that maps normalized images ``(B, 3, H, W)`` to a dict of
feature maps keyed by their stride: ``{4: (B, C4, ceil(H/4), ceil(W/4)), 8: ..., 16: ...,
32: ...}``. Every stride-2 layer pads so that a map at stride ``s`` has exactly
``ceil(H / s)`` rows and ``ceil(W / s)`` columns, for any input size (odd ones included).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

#: The strides every backbone exposes, finest first.
FEATURE_STRIDES: tuple[int, ...] = (4, 8, 16, 32)


class Backbone(nn.Module):
    """Base class of posekit's backbones.

    Subclasses set :attr:`channels` (stride -> number of channels of that feature map) and
    implement :meth:`forward`. Their parameter names follow the layout of the weight files
    they load (torchvision or efficientnet_pytorch), so a state dict maps onto them key by key.
    """

    #: Number of channels of the feature map at each stride in :data:`FEATURE_STRIDES`.
    channels: ClassVar[dict[int, int]] = {}

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:  # pragma: no cover
        """Return the feature maps ``{stride: (B, channels[stride], ceil(H/s), ceil(W/s))}``."""
        raise NotImplementedError


class ConvBNAct(nn.Sequential):
    """Convolution (no bias), batch norm, optional activation: keys ``0`` (conv), ``1`` (bn).

    Padding is ``kernel_size // 2`` on every side, so a stride-2 layer gives ``ceil(n / 2)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: type[nn.Module] | None = nn.ReLU6,
        bn_eps: float = 1e-5,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels, eps=bn_eps),
        ]
        if activation is not None:
            layers.append(activation(inplace=True))
        super().__init__(*layers)


def init_conv_bn(module: nn.Module) -> None:
    """Initialise convolutions (Kaiming, fan-out) and batch norms (1, 0) of ``module`` in place."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
