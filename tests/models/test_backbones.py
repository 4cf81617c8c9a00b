"""Backbone registry and feature-map shapes."""

from __future__ import annotations

import math

import pytest
import torch

from posekit.errors import ModelError
from posekit.models.backbones import (
    BackboneSpec,
    build_backbone,
    get_backbone_spec,
    list_backbones,
    register_backbone,
)
from posekit.models.backbones.mobilenet_v2 import MobileNetV2


def test_registry_lists_the_three_backbones_default_first() -> None:
    assert list_backbones()[:3] == ["mobilenet_v2", "efficientnet_lite0", "resnet_50"]


def test_unknown_backbone_names_the_registered_ones() -> None:
    with pytest.raises(ModelError, match="unknown backbone 'mobilenetv3'.*mobilenet_v2, "
                                         "efficientnet_lite0, resnet_50"):
        build_backbone("mobilenetv3", pretrained=False)


def test_register_rejects_a_taken_name_and_incomplete_channels() -> None:
    with pytest.raises(ModelError, match="already registered"):
        register_backbone(get_backbone_spec("mobilenet_v2"))
    spec = BackboneSpec(name="half", factory=MobileNetV2, channels={8: 32, 16: 96})
    with pytest.raises(ModelError, match=r"expected exactly \[4, 8, 16, 32\]"):
        register_backbone(spec)
    assert "half" not in list_backbones()


@pytest.fixture(scope="module", params=["mobilenet_v2", "efficientnet_lite0", "resnet_50"])
def random_backbone(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    return request.param, build_backbone(request.param, pretrained=False).eval()


def test_feature_maps_have_ceil_sizes_and_declared_channels(random_backbone) -> None:
    name, backbone = random_backbone
    for size in [(64, 96), (101, 67), (33, 31)]:
        with torch.no_grad():
            features = backbone(torch.randn(1, 3, *size))
        assert sorted(features) == [4, 8, 16, 32]
        for stride, fmap in features.items():
            expected = (1, backbone.channels[stride], math.ceil(size[0] / stride),
                        math.ceil(size[1] / stride))
            assert tuple(fmap.shape) == expected, (name, size, stride)
            assert get_backbone_spec(name).channels[stride] == backbone.channels[stride]


def test_random_init_gives_finite_varied_features(random_backbone) -> None:
    _, backbone = random_backbone
    with torch.no_grad():
        deep = backbone(torch.randn(1, 3, 64, 64))[32]
    assert torch.isfinite(deep).all()
    assert deep.std() > 0
