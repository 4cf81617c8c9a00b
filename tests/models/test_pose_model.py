"""ModelConfig, build_model and PoseModel: shapes, bad inputs, and learning a known pose."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest
import torch

from posekit.data.targets import TargetConfig, encode_batch
from posekit.errors import ModelError
from posekit.models import ModelConfig, build_model, pose_loss
from posekit.predict.decode import decode_outputs


def test_config_defaults_and_json_round_trip() -> None:
    config = ModelConfig(n_bodyparts=4)
    assert (config.backbone, config.output_stride, config.pretrained) == ("mobilenet_v2", 8, True)
    assert ModelConfig.model_validate_json(config.model_dump_json()) == config
    with_file = ModelConfig(n_bodyparts=2, weights="some/file.pth")
    assert ModelConfig.model_validate(with_file.model_dump(mode="json")) == with_file


@pytest.mark.parametrize("fields, message", [
    ({"n_bodyparts": 4, "backbone": "vgg16"},
     "unknown backbone 'vgg16'; registered backbones are: mobilenet_v2, efficientnet_lite0, "
     "resnet_50"),
    ({"n_bodyparts": 4, "output_stride": 32}, "output_stride"),
    ({"n_bodyparts": 0}, "n_bodyparts"),
    ({}, "n_bodyparts"),
    ({"n_bodyparts": 4, "stride": 8}, "Extra inputs are not permitted"),
    ({"n_bodyparts": 4, "locref_stdev": 0}, "locref_stdev"),
])
def test_config_rejects_bad_fields(fields: dict, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        ModelConfig(**fields)


def test_config_is_frozen() -> None:
    config = ModelConfig(n_bodyparts=3)
    with pytest.raises(pydantic.ValidationError):
        config.n_bodyparts = 5  # type: ignore[misc]


def test_build_model_wants_a_config() -> None:
    with pytest.raises(ModelError, match="expects a ModelConfig, got dict"):
        build_model({"n_bodyparts": 3})  # type: ignore[arg-type]


@pytest.mark.parametrize("backbone, stride", [("mobilenet_v2", 4), ("mobilenet_v2", 8),
                                              ("mobilenet_v2", 16), ("efficientnet_lite0", 8),
                                              ("resnet_50", 8)])
def test_output_shapes(backbone: str, stride: int) -> None:
    model = build_model(ModelConfig(backbone=backbone, n_bodyparts=5, output_stride=stride,
                                    pretrained=False)).eval()
    for height, width in [(64, 96), (77, 51)]:
        with torch.no_grad():
            out = model(torch.randn(2, 3, height, width))
        rows, cols = math.ceil(height / stride), math.ceil(width / stride)
        assert model.output_shape((height, width)) == (rows, cols)
        assert tuple(out["heatmaps"].shape) == (2, 5, rows, cols)
        assert tuple(out["locref"].shape) == (2, 10, rows, cols)


def test_score_maps_start_near_the_prior() -> None:
    model = build_model(ModelConfig(n_bodyparts=3)).eval()
    with torch.no_grad():
        probabilities = torch.sigmoid(model(torch.randn(1, 3, 64, 64))["heatmaps"])
    assert 0.003 < float(probabilities.mean()) < 0.03


@pytest.mark.parametrize("images, message", [
    (torch.zeros(3, 32, 32), r"\(B, 3, H, W\), got \(3, 32, 32\)"),
    (torch.zeros(1, 1, 32, 32), r"got \(1, 1, 32, 32\)"),
    (torch.zeros(1, 32, 32, 3), r"got \(1, 32, 32, 3\)"),
    (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "float images, got torch.uint8"),
    (np.zeros((1, 3, 32, 32), np.float32), "got <class 'numpy.ndarray'>"),
])
def test_forward_rejects_bad_images(images, message: str) -> None:
    model = build_model(ModelConfig(n_bodyparts=2, pretrained=False))
    with pytest.raises(ModelError, match=message):
        model(images)


def test_target_config_follows_the_model() -> None:
    model = build_model(ModelConfig(n_bodyparts=2, output_stride=4, locref_stdev=5.0,
                                    pretrained=False))
    target = model.target_config(kind="disk", disk_radius=6.0)
    assert isinstance(target, TargetConfig)
    assert (target.stride, target.locref_stdev, target.kind) == (4, 5.0, "disk")


def _blob_image(points: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """A textured background with a differently coloured disk at each keypoint."""
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 0.3, (3, *size)).astype(np.float32)
    rows, cols = np.mgrid[0:size[0], 0:size[1]]
    for k, (x, y) in enumerate(points):
        disk = (cols - x) ** 2 + (rows - y) ** 2 <= 9
        image[k % 3][disk] = 2.5
        image[(k + 1) % 3][disk] = -2.0 if k < 3 else 2.5
    return torch.from_numpy(image)[None]


def test_model_learns_a_pose_that_the_decoder_reads_back() -> None:
    """Targets, loss, network and decoder agree: overfitting one image recovers its pose."""
    torch.manual_seed(0)
    size = (48, 64)
    points = np.array([[12.3, 10.7], [50.6, 30.2], [30.1, 40.9], [60.0, 5.4]])
    model = build_model(ModelConfig(n_bodyparts=4)).eval()  # eval: fixed batch-norm statistics
    targets = encode_batch(points[None], size, model.target_config())
    image = _blob_image(points, size)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = pose_loss(model(image), targets, locref_weight=1.0)
        first = float(loss.total.detach()) if first is None else first
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()
    assert float(loss.total.detach()) < 0.5 * first
    with torch.no_grad():
        poses = decode_outputs(model(image), model.config)
    errors = np.linalg.norm(poses[0, :, :2].numpy() - points, axis=1)
    assert errors.max() < 2.0, errors
    assert float(poses[0, :, 2].min()) > 0.5
