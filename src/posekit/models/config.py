"""ModelConfig: everything needed to rebuild a pose network, validated strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from posekit.models.backbones import DEFAULT_BACKBONE, list_backbones

#: DeepLabCut's scale of location-refinement targets, in pixels (so files stay comparable).
DEFAULT_LOCREF_STDEV = 7.2801


class ModelConfig(BaseModel):
    """The architecture of a single-animal pose network (strict: unknown keys are rejected).

    Attributes
    ----------
    backbone : str
        A registered backbone name (``posekit.models.list_backbones()``): ``"mobilenet_v2"``
        (default), ``"efficientnet_lite0"`` or ``"resnet_50"``.
    n_bodyparts : int
        Number of keypoints K; the network outputs K score maps and 2K offset maps.
    output_stride : {4, 8, 16}
        Input pixels per output cell along each axis (8 by default). Output maps have
        ``ceil(H / output_stride)`` x ``ceil(W / output_stride)`` cells.
    pretrained : bool
        Start the backbone from its packaged ImageNet weights (``weights`` wins when set).
    weights : Path or None
        A backbone weight file in the backbone's layout (torchvision or efficientnet_pytorch);
        overrides ``pretrained``.
    head_channels : int
        Width of the fusion head.
    head_blocks : int
        Number of depthwise-separable 3x3 blocks at the output resolution.
    locref_stdev : float
        Pixels per unit of the location-refinement output: an offset of ``o`` in the
        network's ``locref`` output means ``o * locref_stdev`` pixels.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backbone: str = DEFAULT_BACKBONE
    n_bodyparts: int = Field(ge=1, le=1024)
    output_stride: Literal[4, 8, 16] = 8
    pretrained: bool = True
    weights: Path | None = None
    head_channels: int = Field(default=96, ge=8, le=1024)
    head_blocks: int = Field(default=2, ge=0, le=8)
    locref_stdev: float = Field(default=DEFAULT_LOCREF_STDEV, gt=0.0)

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, name: str) -> str:
        if name not in list_backbones():
            raise ValueError(f"unknown backbone '{name}'; registered backbones are: "
                             f"{', '.join(list_backbones())}")
        return name
