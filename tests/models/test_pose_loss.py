"""pose_loss: what it counts, what it ignores, and its checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posekit.data.targets import PoseTargets, TargetConfig, encode_batch
from posekit.errors import ModelError
from posekit.models.loss import pose_loss

SIZE = (32, 48)
CONFIG = TargetConfig(stride=8)


def _targets(points: np.ndarray, config: TargetConfig = CONFIG) -> PoseTargets:
    return encode_batch(points, SIZE, config)


def _outputs(batch: int, parts: int, *, fill: float = 0.0) -> dict[str, torch.Tensor]:
    rows, cols = 4, 6
    return {"heatmaps": torch.full((batch, parts, rows, cols), fill),
            "locref": torch.zeros((batch, 2 * parts, rows, cols))}


def test_known_value_for_constant_outputs() -> None:
    points = np.array([[[10.0, 12.0], [np.nan, np.nan]]])
    targets = _targets(points)
    loss = pose_loss(_outputs(1, 2), targets, locref_weight=0.5)
    # BCE with logit 0 is log(1 + e^0) - 0 * t = log 2 on every cell, whatever the target
    assert math.isclose(float(loss.heatmap), math.log(2.0), rel_tol=1e-6)
    mask = targets.locref_weights[0] > 0
    values = np.abs(targets.locref[0][mask])
    huber = np.where(values < 1, 0.5 * values ** 2, values - 0.5).mean()
    assert math.isclose(float(loss.locref), huber, rel_tol=1e-5)
    assert math.isclose(float(loss.total), math.log(2.0) + 0.5 * huber, rel_tol=1e-5)


def test_offsets_of_invisible_keypoints_and_far_cells_do_not_count() -> None:
    points = np.array([[[10.0, 12.0], [np.nan, np.nan]]])
    targets = _targets(points)
    outputs = _outputs(1, 2)
    base = pose_loss(outputs, targets)
    changed = {k: v.clone() for k, v in outputs.items()}
    changed["locref"][0, 2:] = 50.0  # bodypart 1 is not visible
    changed["locref"][0, :2][torch.from_numpy(targets.locref_weights[0, :2] == 0)] = -9.0
    again = pose_loss(changed, targets)
    assert float(again.locref) == pytest.approx(float(base.locref))
    changed["locref"][0, 0][torch.from_numpy(targets.locref_weights[0, 0] > 0)] = 3.0
    assert float(pose_loss(changed, targets).locref) > float(base.locref)


def test_absent_weight_zero_ignores_invisible_score_maps() -> None:
    points = np.array([[[10.0, 12.0], [np.nan, np.nan]]])
    ignore = TargetConfig(stride=8, absent_weight=0.0)
    outputs = _outputs(1, 2)
    changed = {k: v.clone() for k, v in outputs.items()}
    changed["heatmaps"][0, 1] = 7.0  # confident where nothing is labeled
    assert float(pose_loss(changed, _targets(points, ignore)).heatmap) == pytest.approx(
        float(pose_loss(outputs, _targets(points, ignore)).heatmap))
    assert float(pose_loss(changed, _targets(points)).heatmap) > float(
        pose_loss(outputs, _targets(points)).heatmap)


def test_nothing_visible_gives_zero_offset_loss_not_nan() -> None:
    points = np.full((2, 3, 2), np.nan)
    loss = pose_loss(_outputs(2, 3), _targets(points, TargetConfig(stride=8, absent_weight=0)))
    assert float(loss.locref) == 0.0 and float(loss.heatmap) == 0.0
    assert torch.isfinite(loss.total)


def test_gradients_reach_both_outputs() -> None:
    outputs = {k: v.requires_grad_() for k, v in _outputs(1, 1).items()}
    pose_loss(outputs, _targets(np.array([[[20.0, 9.0]]]))).total.backward()
    assert outputs["heatmaps"].grad.abs().sum() > 0
    assert outputs["locref"].grad.abs().sum() > 0


def test_collated_tensor_targets_work() -> None:
    from torch.utils.data import default_collate

    single = [encode_batch(np.array([[[5.0, 6.0]]]), SIZE, CONFIG) for _ in range(2)]
    per_image = [PoseTargets(*(field[0] for field in t)) for t in single]
    batch = default_collate(per_image)
    assert isinstance(batch, PoseTargets) and isinstance(batch.heatmaps, torch.Tensor)
    assert tuple(batch.heatmaps.shape) == (2, 1, 4, 6)
    assert torch.isfinite(pose_loss(_outputs(2, 1), batch).total)


def test_shape_mismatch_is_reported() -> None:
    targets = _targets(np.array([[[10.0, 12.0]]]))
    with pytest.raises(ModelError, match=r"targets.heatmaps has shape \(1, 1, 4, 6\), "
                                         r"expected \(1, 2, 4, 6\)"):
        pose_loss(_outputs(1, 2), targets)
