"""The pose head: a light top-down fusion of backbone features, then score maps and offsets.

Starting from the coarsest map (stride 32), each step upsamples (bilinear) to the next finer
map's size and adds that map after a 1x1 projection, down to the output stride
(32 -> 16 -> 8 by default; -> 4 for output stride 4; stops at 16 for output stride 16).
``head_blocks`` depthwise-separable 3x3 blocks then refine the fused map, and two 1x1
convolutions give

- ``heatmaps``: ``(B, K, h, w)`` score-map logits, one map per bodypart;
- ``locref``: ``(B, 2K, h, w)`` location-refinement offsets, channels ordered
  ``x_0, y_0, x_1, y_1, ...`` (``locref.view(B, K, 2, h, w)`` splits them), in units of
  ``locref_stdev`` pixels, measured from the center of the cell to the keypoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from posekit.models.backbones.base import ConvBNAct

#: Initial probability of the score maps (bias of the last layer), as in focal-loss papers:
#: training starts from "nothing here" instead of a coin flip on every cell.
_PRIOR_PROBABILITY = 0.01


class SeparableBlock(nn.Sequential):
    """Depthwise 3x3 conv + BN + ReLU, then pointwise 1x1 conv + BN + ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__(
            ConvBNAct(channels, channels, kernel_size=3, groups=channels, activation=nn.ReLU),
            ConvBNAct(channels, channels, kernel_size=1, activation=nn.ReLU),
        )


class FusionHead(nn.Module):
    """Fuse backbone maps top-down to ``output_stride`` and predict score maps and offsets.

    Parameters
    ----------
    in_channels : mapping of int to int
        Channels of the backbone's feature map at each stride (must hold 32 down to
        ``output_stride``).
    n_bodyparts : int
        Number of keypoints K.
    output_stride : int
        4, 8 or 16.
    channels : int
        Width of the fused maps.
    blocks : int
        Number of :class:`SeparableBlock` after the fusion.
    """

    def __init__(self, in_channels: Mapping[int, int], *, n_bodyparts: int,
                 output_stride: int, channels: int = 96, blocks: int = 2) -> None:
        super().__init__()
        self.strides = [s for s in (32, 16, 8, 4) if s >= output_stride]
        self.n_bodyparts = n_bodyparts
        self.lateral = nn.ModuleDict({
            str(s): nn.Conv2d(in_channels[s], channels, 1) for s in self.strides})
        self.refine = nn.Sequential(*[SeparableBlock(channels) for _ in range(blocks)])
        self.heatmap = nn.Conv2d(channels, n_bodyparts, 1)
        self.locref = nn.Conv2d(channels, 2 * n_bodyparts, 1)
        self._init_outputs()

    def _init_outputs(self) -> None:
        nn.init.normal_(self.heatmap.weight, std=0.01)
        nn.init.constant_(self.heatmap.bias, -math.log((1 - _PRIOR_PROBABILITY)
                                                       / _PRIOR_PROBABILITY))
        nn.init.normal_(self.locref.weight, std=0.001)
        nn.init.zeros_(self.locref.bias)

    def forward(self, features: Mapping[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(heatmaps: (B, K, h, w), locref: (B, 2K, h, w))`` at the output stride."""
        fused = self.lateral[str(self.strides[0])](features[self.strides[0]])
        for stride in self.strides[1:]:
            finer = features[stride]
            fused = F.interpolate(fused, size=finer.shape[-2:], mode="bilinear",
                                  align_corners=False)
            fused = fused + self.lateral[str(stride)](finer)
        fused = self.refine(fused)
        return self.heatmap(fused), self.locref(fused)
