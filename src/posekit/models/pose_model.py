"""PoseModel (backbone + fusion head) and :func:`build_model`, the one way to make one."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from posekit.data.targets import TargetConfig
from posekit.errors import ModelError
from posekit.models.backbones import Backbone, build_backbone
from posekit.models.config import ModelConfig
from posekit.models.head import FusionHead

logger = logging.getLogger(__name__)


class PoseModel(nn.Module):
    """Single-animal pose network: images in, score maps and location refinement out.

    Build it with :func:`build_model`. ``model.config`` keeps the :class:`ModelConfig` it was
    built from (store ``config.model_dump(mode="json")`` beside a checkpoint to rebuild it).

    Parameters
    ----------
    config : ModelConfig
        The architecture.
    backbone : Backbone
        Feature extractor (see :mod:`posekit.models.backbones`).
    head : FusionHead
        The head matching ``config``.
    """

    def __init__(self, config: ModelConfig, backbone: Backbone, head: FusionHead) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.head = head

    @property
    def output_stride(self) -> int:
        """Input pixels per output cell along each axis."""
        return self.config.output_stride

    def output_shape(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """Output map size ``(ceil(H / stride), ceil(W / stride))`` for ``image_size=(H, W)``."""
        height, width = image_size
        return math.ceil(height / self.output_stride), math.ceil(width / self.output_stride)

    def target_config(self, **overrides: object) -> TargetConfig:
        """The :class:`~posekit.data.targets.TargetConfig` matching this model.

        ``stride`` and ``locref_stdev`` come from the model; ``overrides`` set the others
        (``kind``, ``sigma``, ``disk_radius``, ``locref_radius``, ``absent_weight``).
        """
        return TargetConfig(stride=self.output_stride, locref_stdev=self.config.locref_stdev,
                            **overrides)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        images : Tensor, float
            ``(B, 3, H, W)`` images normalized by
            :func:`posekit.models.normalize.normalize_images`.

        Returns
        -------
        dict of str to Tensor
            ``"heatmaps"``: ``(B, K, h, w)`` score-map logits (``h = ceil(H / stride)``,
            ``w = ceil(W / stride)``; apply a sigmoid for probabilities).
            ``"locref"``: ``(B, 2K, h, w)`` offsets from each cell's center to the keypoint,
            channels ``x_0, y_0, x_1, y_1, ...``, in units of ``config.locref_stdev`` pixels.

        Raises
        ------
        ModelError
            If ``images`` is not a floating-point ``(B, 3, H, W)`` tensor.
        """
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            found = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise ModelError(f"PoseModel expects images of shape (B, 3, H, W), got {found}; "
                             "normalize frames with posekit.models.normalize_images.")
        if not images.is_floating_point():
            raise ModelError(f"PoseModel expects float images, got {images.dtype}; "
                             "normalize frames with posekit.models.normalize_images.")
        heatmaps, locref = self.head(self.backbone(images))
        return {"heatmaps": heatmaps, "locref": locref}


def build_model(config: ModelConfig) -> PoseModel:
    """Build the pose network described by ``config``, loading backbone weights.

    Parameters
    ----------
    config : ModelConfig
        The architecture; ``pretrained``/``weights`` choose the backbone's starting weights
        (the head always starts from random initialisation).

    Returns
    -------
    PoseModel
        In training mode, on the CPU, float32.

    Raises
    ------
    ModelError
        Unknown backbone, missing weight package, unreadable or non-matching weight file.
    MissingFileError
        If ``config.weights`` does not exist.
    """
    if not isinstance(config, ModelConfig):
        raise ModelError(f"build_model expects a ModelConfig, got {type(config).__name__}; "
                         "make one with ModelConfig(n_bodyparts=..., ...).")
    backbone = build_backbone(config.backbone, pretrained=config.pretrained,
                              weights=config.weights)
    head = FusionHead(backbone.channels, n_bodyparts=config.n_bodyparts,
                      output_stride=config.output_stride, channels=config.head_channels,
                      blocks=config.head_blocks)
    logger.info("built %s pose model: %d bodyparts, output stride %d",
                config.backbone, config.n_bodyparts, config.output_stride)
    return PoseModel(config, backbone, head)
