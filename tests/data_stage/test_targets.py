"""Score-map and location-refinement targets."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest

from posekit.data.targets import (
    PoseTargets,
    TargetConfig,
    cell_centers,
    encode_batch,
    encode_targets,
    output_shape,
    visible_mask,
)
from posekit.errors import ModelError


def test_grid_convention() -> None:
    np.testing.assert_array_equal(cell_centers(3, 8), [3.5, 11.5, 19.5])
    np.testing.assert_array_equal(cell_centers(2, 1), [0.0, 1.0])
    assert output_shape((480, 640), 8) == (60, 80)
    assert output_shape((481, 641), 8) == (61, 81)
    assert output_shape((7, 5), 16) == (1, 1)


def test_shapes_and_dtypes() -> None:
    targets = encode_targets(np.array([[10.0, 20.0], [30.0, 5.0], [np.nan, np.nan]]),
                             (50, 70), TargetConfig(stride=8))
    assert isinstance(targets, PoseTargets)
    assert targets.heatmaps.shape == (3, 7, 9)
    assert targets.heatmap_weights.shape == (3,)
    assert targets.locref.shape == targets.locref_weights.shape == (6, 7, 9)
    assert all(field.dtype == np.float32 for field in targets)


def test_gaussian_values_at_known_cells() -> None:
    config = TargetConfig(stride=8, sigma=6.0)
    targets = encode_targets(np.array([[11.5, 3.5]]), (32, 32), config)  # center of cell (0, 1)
    assert targets.heatmaps[0, 0, 1] == pytest.approx(1.0)
    assert targets.heatmaps[0, 1, 1] == pytest.approx(math.exp(-64 / 72), rel=1e-6)
    assert targets.heatmaps[0, 1, 2] == pytest.approx(math.exp(-128 / 72), rel=1e-6)
    assert int(np.argmax(targets.heatmaps[0])) == 1


def test_default_sigma_is_the_stride() -> None:
    assert TargetConfig(stride=4).sigma_px == 4.0
    assert TargetConfig(stride=8, sigma=3.0).sigma_px == 3.0


def test_disk_target() -> None:
    config = TargetConfig(stride=4, kind="disk", disk_radius=6.0)
    targets = encode_targets(np.array([[9.5, 9.5]]), (24, 24), config)  # center of cell (2, 2)
    centers = cell_centers(6, 4)
    dist = np.hypot(centers[None, :] - 9.5, centers[:, None] - 9.5)
    np.testing.assert_array_equal(targets.heatmaps[0], (dist <= 6.0).astype(np.float32))
    assert set(np.unique(targets.heatmaps)) == {0.0, 1.0}


def test_locref_values_and_mask() -> None:
    config = TargetConfig(stride=8, locref_stdev=2.0, locref_radius=12.0)
    x, y = 13.0, 6.0
    targets = encode_targets(np.array([[x, y]]), (32, 40), config)
    centers_x, centers_y = cell_centers(5, 8), cell_centers(4, 8)
    dist = np.hypot(centers_x[None, :] - x, centers_y[:, None] - y)
    near = dist <= 12.0
    np.testing.assert_array_equal(targets.locref_weights[0], near)
    np.testing.assert_array_equal(targets.locref_weights[1], near)
    expected_x = np.broadcast_to((x - centers_x[None, :]) / 2.0, near.shape) * near
    expected_y = np.broadcast_to((y - centers_y[:, None]) / 2.0, near.shape) * near
    np.testing.assert_allclose(targets.locref[0], expected_x, rtol=1e-6)
    np.testing.assert_allclose(targets.locref[1], expected_y, rtol=1e-6)


@pytest.mark.parametrize("point", [[np.nan, 5.0], [5.0, np.inf], [-0.6, 5.0], [5.0, 31.6],
                                   [40.0, 40.0]])
def test_invisible_keypoints_have_empty_targets(point: list[float]) -> None:
    points = np.array([[10.0, 10.0], point])
    targets = encode_targets(points, (32, 32), TargetConfig(stride=8, absent_weight=0.25))
    assert targets.heatmaps[1].max() == 0.0
    assert targets.locref_weights[2:].max() == 0.0 and targets.locref[2:].max() == 0.0
    np.testing.assert_array_equal(targets.heatmap_weights, [1.0, 0.25])
    assert targets.heatmaps[0].max() > 0.5


def test_image_edges_are_inside() -> None:
    mask = visible_mask(np.array([[-0.5, -0.5], [31.5, 15.5], [31.51, 0.0]]), (16, 32))
    np.testing.assert_array_equal(mask, [True, True, False])


def test_batch_equals_per_image() -> None:
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 40, (3, 4, 2))
    points[1, 2] = np.nan
    config = TargetConfig(stride=4)
    batch = encode_batch(points, (41, 43), config)
    for i in range(3):
        single = encode_targets(points[i], (41, 43), config)
        for got, expected in zip(batch, single, strict=True):
            np.testing.assert_array_equal(got[i], expected)
    assert batch.heatmaps.shape == (3, 4, 11, 11) and batch.heatmap_weights.shape == (3, 4)


@pytest.mark.parametrize("fields, message", [
    ({"stride": 8, "locref_radius": 5.0}, "locref_radius=5.0 px is smaller"),
    ({"stride": 16, "kind": "disk", "disk_radius": 10.0}, "disk_radius=10.0 px is smaller"),
    ({"kind": "square"}, "kind"),
    ({"sigma": 0.0}, "sigma"),
    ({"absent_weight": 2.0}, "absent_weight"),
    ({"radius": 3.0}, "Extra inputs are not permitted"),
])
def test_config_validation(fields: dict, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        TargetConfig(**fields)


@pytest.mark.parametrize("keypoints", [np.zeros((4,)), np.zeros((4, 3)), np.zeros((0, 2)),
                                       np.zeros((1, 4, 2)), [["a", "b"]]])
def test_bad_keypoints_are_rejected(keypoints) -> None:
    with pytest.raises(ModelError, match=r"keypoints must"):
        encode_targets(keypoints, (32, 32), TargetConfig())


def test_bad_batch_keypoints_are_rejected() -> None:
    with pytest.raises(ModelError, match=r"\(B, K, 2\)"):
        encode_batch(np.zeros((4, 2)), (32, 32), TargetConfig())


@pytest.mark.parametrize("size", [(32,), (0, 32), (32.0, 32), (True, 32), "32x32", None])
def test_bad_image_size_is_rejected(size) -> None:
    with pytest.raises(ModelError, match="image_size"):
        encode_targets(np.zeros((1, 2)), size, TargetConfig())


def test_config_must_be_a_target_config() -> None:
    with pytest.raises(ModelError, match="TargetConfig"):
        encode_targets(np.zeros((1, 2)), (8, 8), {"stride": 8})  # type: ignore[arg-type]
