"""The bottom-up multi-animal network: score maps, offsets and part affinity fields.

:class:`MultiPoseModel` is :class:`~posekit.models.pose_model.PoseModel`'s backbone and fusion
head with one more branch: after the top-down fusion, the score-map/offset outputs are computed
as in :class:`~posekit.models.head.FusionHead`, and a second stack of depthwise-separable
blocks (its own, since grouping needs context along limbs, not peaks) predicts

- ``paf``: ``(B, 2E, h, w)``, one part affinity field per edge of the model's edge list,
  channels ``x_0, y_0, x_1, y_1, ...`` (``paf.view(B, E, 2, h, w)`` splits them), unit
  vectors from bodypart a to bodypart b on the limb, zero elsewhere (see
  :mod:`posekit.data.multi_targets`).

:func:`multi_pose_loss` adds a masked Huber loss on the fields to :func:`pose_loss`;
:func:`export_multi_onnx` writes the three outputs to an ONNX graph.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from posekit.data.multi_targets import MultiPoseTargets, MultiTargetConfig
from posekit.data.targets import PoseTargets
from posekit.errors import ModelError
from posekit.io.atomic import write_bytes_atomic
from posekit.models.backbones import Backbone, build_backbone
from posekit.models.config import ModelConfig
from posekit.models.head import FusionHead, SeparableBlock
from posekit.models.loss import DEFAULT_LOCREF_WEIGHT, pose_loss
from posekit.models.normalize import IMAGENET_MEAN, IMAGENET_STD

logger = logging.getLogger(__name__)

#: Weight of the part-affinity-field term in the total loss.
DEFAULT_PAF_WEIGHT = 0.1
#: Extra weight of cells on a limb (where the field is non-zero) relative to the background.
DEFAULT_LIMB_WEIGHT = 5.0
MULTI_OUTPUT_NAMES = ("heatmaps", "locref", "paf")


class MultiModelConfig(ModelConfig):
    """A :class:`~posekit.models.config.ModelConfig` with part affinity fields (strict).

    Attributes
    ----------
    n_edges : int
        Number of edges E; the network outputs 2E field maps.
    paf_blocks : int
        Depthwise-separable 3x3 blocks of the field branch (each widens its view by 2 cells).
    """

    n_edges: int = Field(ge=1, le=4096)
    paf_blocks: int = Field(default=3, ge=0, le=8)


class MultiFusionHead(FusionHead):
    """:class:`FusionHead` plus a part-affinity-field branch on the same fused map.

    Parameters
    ----------
    in_channels, n_bodyparts, output_stride, channels, blocks
        As for :class:`FusionHead`.
    n_edges : int
        Number of fields.
    paf_blocks : int
        Blocks of the field branch.
    """

    def __init__(self, in_channels: Mapping[int, int], *, n_bodyparts: int, n_edges: int,
                 output_stride: int, channels: int = 96, blocks: int = 2,
                 paf_blocks: int = 3) -> None:
        super().__init__(in_channels, n_bodyparts=n_bodyparts, output_stride=output_stride,
                         channels=channels, blocks=blocks)
        self.n_edges = n_edges
        self.paf_refine = nn.Sequential(*[SeparableBlock(channels) for _ in range(paf_blocks)])
        self.paf = nn.Conv2d(channels, 2 * n_edges, 1)
        nn.init.normal_(self.paf.weight, std=0.001)
        nn.init.zeros_(self.paf.bias)

    def fuse(self, features: Mapping[int, torch.Tensor]) -> torch.Tensor:
        """The top-down fused map at the output stride, ``(B, channels, h, w)``."""
        fused = self.lateral[str(self.strides[0])](features[self.strides[0]])
        for stride in self.strides[1:]:
            finer = features[stride]
            fused = F.interpolate(fused, size=finer.shape[-2:], mode="bilinear",
                                  align_corners=False)
            fused = fused + self.lateral[str(stride)](finer)
        return fused

    def forward(self, features: Mapping[int, torch.Tensor]  # type: ignore[override]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(heatmaps (B, K, h, w), locref (B, 2K, h, w), paf (B, 2E, h, w))``."""
        fused = self.fuse(features)
        refined = self.refine(fused)
        return self.heatmap(refined), self.locref(refined), self.paf(self.paf_refine(fused))


class MultiPoseModel(nn.Module):
    """Bottom-up multi-animal pose network: images in; score maps, offsets and fields out.

    Build it with :func:`build_multi_model`; ``model.config`` is its :class:`MultiModelConfig`.

    Parameters
    ----------
    config : MultiModelConfig
    backbone : Backbone
    head : MultiFusionHead
    """

    def __init__(self, config: MultiModelConfig, backbone: Backbone,
                 head: MultiFusionHead) -> None:
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

    def target_config(self, **overrides: object) -> MultiTargetConfig:
        """The :class:`MultiTargetConfig` matching this model (stride, offset scale).

        ``overrides`` set the other fields (``sigma``, ``paf_half_width``, ...).
        """
        return MultiTargetConfig(stride=self.output_stride,
                                 locref_stdev=self.config.locref_stdev, **overrides)

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
            ``"heatmaps" (B, K, h, w)`` logits, ``"locref" (B, 2K, h, w)`` offsets in
            ``locref_stdev`` units and ``"paf" (B, 2E, h, w)`` fields, at
            ``h = ceil(H / stride)``, ``w = ceil(W / stride)``.

        Raises
        ------
        ModelError
            If ``images`` is not a floating-point ``(B, 3, H, W)`` tensor.
        """
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            found = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise ModelError(f"MultiPoseModel expects images of shape (B, 3, H, W), got "
                             f"{found}; normalize frames with posekit.models.normalize_images.")
        if not images.is_floating_point():
            raise ModelError(f"MultiPoseModel expects float images, got {images.dtype}; "
                             "normalize frames with posekit.models.normalize_images.")
        heatmaps, locref, paf = self.head(self.backbone(images))
        return {"heatmaps": heatmaps, "locref": locref, "paf": paf}


def build_multi_model(config: MultiModelConfig) -> MultiPoseModel:
    """Build the multi-animal network described by ``config``, loading backbone weights.

    Returns
    -------
    MultiPoseModel
        In training mode, on the CPU, float32.

    Raises
    ------
    ModelError
        If ``config`` is not a MultiModelConfig, or the backbone or its weights are unusable.
    """
    if not isinstance(config, MultiModelConfig):
        raise ModelError(f"build_multi_model expects a MultiModelConfig, got "
                         f"{type(config).__name__}; make one with "
                         "MultiModelConfig(n_bodyparts=..., n_edges=...).")
    backbone = build_backbone(config.backbone, pretrained=config.pretrained,
                              weights=config.weights)
    head = MultiFusionHead(backbone.channels, n_bodyparts=config.n_bodyparts,
                           n_edges=config.n_edges, output_stride=config.output_stride,
                           channels=config.head_channels, blocks=config.head_blocks,
                           paf_blocks=config.paf_blocks)
    logger.info("built %s multi-animal model: %d bodyparts, %d edges, output stride %d",
                config.backbone, config.n_bodyparts, config.n_edges, config.output_stride)
    return MultiPoseModel(config, backbone, head)


# --------------------------------------------------------------------------- loss


class MultiPoseLoss(NamedTuple):
    """The total loss and its terms.

    Attributes
    ----------
    total : Tensor, scalar
        ``heatmap + locref_weight * locref + paf_weight * paf``.
    heatmap, locref : Tensor, scalar
        The :func:`~posekit.models.loss.pose_loss` terms.
    paf : Tensor, scalar
        Weighted mean Huber loss (delta 1) of the fields over known cells, limb cells
        weighted ``limb_weight`` times the background.
    """

    total: torch.Tensor
    heatmap: torch.Tensor
    locref: torch.Tensor
    paf: torch.Tensor


def multi_pose_loss(outputs: Mapping[str, torch.Tensor], targets: MultiPoseTargets, *,
                    locref_weight: float = DEFAULT_LOCREF_WEIGHT,
                    paf_weight: float = DEFAULT_PAF_WEIGHT,
                    limb_weight: float = DEFAULT_LIMB_WEIGHT) -> MultiPoseLoss:
    """Loss of a :class:`MultiPoseModel`'s outputs against batched targets.

    Parameters
    ----------
    outputs : mapping
        ``"heatmaps" (B, K, h, w)``, ``"locref" (B, 2K, h, w)``, ``"paf" (B, 2E, h, w)``.
    targets : MultiPoseTargets
        Batched targets (leading ``B`` axis), e.g. collated
        :func:`~posekit.data.multi_targets.encode_multi_targets` results.
    locref_weight : float
        Weight of the offset term.
    paf_weight : float
        Weight of the field term.
    limb_weight : float
        Weight of a cell on a limb (non-zero target) relative to a background cell (>= 1
        counters the background's much larger area).

    Returns
    -------
    MultiPoseLoss

    Raises
    ------
    ModelError
        If output and target shapes disagree.
    """
    base = pose_loss(outputs, PoseTargets(*targets[:4]), locref_weight=locref_weight)
    if "paf" not in outputs:
        raise ModelError(f"outputs lack 'paf'; got keys {sorted(outputs)}: use a "
                         "MultiPoseModel.")
    paf = outputs["paf"]
    target = torch.as_tensor(targets.paf).to(device=paf.device, dtype=paf.dtype)
    mask = torch.as_tensor(targets.paf_weights).to(device=paf.device, dtype=paf.dtype)
    for name, found in (("targets.paf", target.shape), ("targets.paf_weights", mask.shape)):
        if tuple(found) != tuple(paf.shape):
            raise ModelError(f"{name} has shape {tuple(found)}, expected {tuple(paf.shape)}; "
                             "encode targets with the model's stride and edges.")
    limb = target.reshape(paf.shape[0], -1, 2, *paf.shape[2:]).abs().sum(dim=2) > 0
    weights = mask * (1.0 + (limb_weight - 1.0) * limb.repeat_interleave(2, dim=1).to(paf.dtype))
    huber = F.huber_loss(paf, target, reduction="none", delta=1.0)
    paf_term = (huber * weights).sum() / weights.sum().clamp(min=1.0)
    return MultiPoseLoss(base.total + paf_weight * paf_term, base.heatmap, base.locref,
                         paf_term)


# --------------------------------------------------------------------------- ONNX


class _TupleOutputs(nn.Module):
    def __init__(self, model: MultiPoseModel) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.head = model.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(images))


def export_multi_onnx(model: MultiPoseModel, path: str | Path, *, input_size: tuple[int, int],
                      dynamic_size: bool = True,
                      extra_metadata: dict[str, str] | None = None) -> Path:
    """Write a :class:`MultiPoseModel` as an ONNX graph (atomically).

    The graph has input ``images`` ``(B, 3, H, W)`` and outputs ``heatmaps``, ``locref``
    and ``paf`` as :meth:`MultiPoseModel.forward`; its ``metadata_props`` hold those of
    :func:`posekit.models.export.export_onnx` plus ``n_edges``.

    Parameters
    ----------
    model : MultiPoseModel
        Exported from an eval-mode CPU copy (the model itself is left untouched).
    path : str or Path
        The ``.onnx`` file.
    input_size : (H, W)
        Size used to trace the graph.
    dynamic_size : bool
        Let height and width vary (batch size always does).
    extra_metadata : dict of str to str, optional
        More metadata entries (e.g. bodyparts and edges as JSON).

    Returns
    -------
    Path

    Raises
    ------
    ModelError
        If ``model`` is not a MultiPoseModel or ``input_size`` is not two positive integers.
    """
    import onnx

    from posekit._version import __version__
    from posekit.models.export import INPUT_NAME, ONNX_OPSET, _check_size

    if not isinstance(model, MultiPoseModel):
        raise ModelError(f"export_multi_onnx expects a MultiPoseModel, got "
                         f"{type(model).__name__}.")
    height, width = _check_size(input_size)
    wrapper = _TupleOutputs(copy.deepcopy(model)).cpu().eval()
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}
    out_axes = {0: "batch", 2: "out_height", 3: "out_width"} if dynamic_size else {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper, (torch.zeros(1, 3, height, width),), buffer, dynamo=False,
            opset_version=ONNX_OPSET, input_names=[INPUT_NAME],
            output_names=list(MULTI_OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: axes, **{n: out_axes for n in MULTI_OUTPUT_NAMES}},
            do_constant_folding=True)
    graph = onnx.load_from_string(buffer.getvalue())
    entries = {
        "posekit_version": str(__version__),
        "model_config": model.config.model_dump_json(),
        "output_stride": str(model.output_stride),
        "locref_stdev": repr(model.config.locref_stdev),
        "n_bodyparts": str(model.config.n_bodyparts),
        "n_edges": str(model.config.n_edges),
        "input_mean": json.dumps(list(IMAGENET_MEAN)),
        "input_std": json.dumps(list(IMAGENET_STD)),
        "input_size": json.dumps([height, width]),
        **{str(k): str(v) for k, v in (extra_metadata or {}).items()},
    }
    onnx.helper.set_model_props(graph, entries)
    write_bytes_atomic(path, graph.SerializeToString())
    logger.info("exported %s multi-animal model to %s", model.config.backbone, path)
    return Path(path)
