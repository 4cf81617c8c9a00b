"""Peak decoding, including the known-answer round trip through the target encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.data.targets import TargetConfig, encode_batch
from posekit.errors import ModelError
from posekit.models.config import ModelConfig
from posekit.predict.decode import decode_heatmaps, decode_outputs


def _border_and_random_points(size: tuple[int, int], n_random: int, seed: int) -> np.ndarray:
    height, width = size
    edges = [[-0.5, -0.5], [width - 0.5, height - 0.5], [0.0, height - 1.0],
             [width - 1.0, 0.0], [-0.5, height / 2], [width / 2, height - 0.5]]
    rng = np.random.default_rng(seed)
    inside = np.column_stack([rng.uniform(-0.5, width - 0.5, n_random),
                              rng.uniform(-0.5, height - 0.5, n_random)])
    return np.vstack([edges, inside])


@pytest.mark.parametrize("kind", ["gaussian", "disk"])
@pytest.mark.parametrize("stride", [4, 8, 16])
@pytest.mark.parametrize("size", [(480, 640), (97, 131), (33, 17)])
def test_decoding_targets_recovers_the_keypoints(kind: str, stride: int,
                                                 size: tuple[int, int]) -> None:
    """Targets treated as a perfect score map decode to the keypoints within 0.05 px."""
    points = _border_and_random_points(size, 20, seed=stride)[None]  # (1, 26, 2)
    config = TargetConfig(stride=stride, kind=kind, disk_radius=max(17.0, stride))
    targets = encode_batch(points, size, config)
    for heatmaps, locref in [(targets.heatmaps, targets.locref),
                             (torch.from_numpy(targets.heatmaps),
                              torch.from_numpy(targets.locref))]:
        poses = decode_heatmaps(heatmaps, locref, stride=stride,
                                locref_stdev=config.locref_stdev, logits=False)
        poses = np.asarray(poses)
        assert poses.shape == (1, points.shape[1], 3)
        assert np.abs(poses[..., :2] - points).max() < 0.05
        assert (poses[..., 2] > 0).all()


def test_logit_maps_decode_the_same_with_sigmoid_likelihoods() -> None:
    points = np.array([[[3.2, 4.9], [40.0, 20.0]], [[10.0, 30.0], [0.0, 0.0]]])
    config = TargetConfig(stride=8)
    targets = encode_batch(points, (36, 44), config)
    probabilities = np.clip(targets.heatmaps, 1e-6, 1 - 1e-6)
    logits = np.log(probabilities / (1 - probabilities))
    poses = decode_heatmaps(logits, targets.locref, stride=8, locref_stdev=config.locref_stdev)
    np.testing.assert_allclose(poses[..., :2], points, atol=0.05)
    np.testing.assert_allclose(poses[..., 2], probabilities.reshape(2, 2, -1).max(axis=2),
                               rtol=1e-4)


def test_extreme_logits_give_finite_likelihoods() -> None:
    heatmaps = np.full((1, 2, 3, 3), -1e4, np.float32)
    heatmaps[0, 1, 1, 1] = 1e4
    poses = decode_heatmaps(heatmaps, stride=8, locref_stdev=1.0)
    assert np.isfinite(poses).all()
    np.testing.assert_allclose(poses[0, :, 2], [0.0, 1.0])


def test_without_locref_the_cell_center_is_returned() -> None:
    heatmaps = np.zeros((1, 1, 4, 5), np.float32)
    heatmaps[0, 0, 2, 3] = 5.0
    poses = decode_heatmaps(heatmaps, stride=8, locref_stdev=7.0)
    np.testing.assert_allclose(poses[0, 0, :2], [3 * 8 + 3.5, 2 * 8 + 3.5])


def test_five_dimensional_locref_and_torch_agree_with_numpy() -> None:
    rng = np.random.default_rng(0)
    heatmaps = rng.normal(size=(3, 4, 6, 7)).astype(np.float32)
    locref = rng.normal(size=(3, 8, 6, 7)).astype(np.float32)
    flat = decode_heatmaps(heatmaps, locref, stride=4, locref_stdev=7.2801)
    split = decode_heatmaps(heatmaps, locref.reshape(3, 4, 2, 6, 7), stride=4,
                            locref_stdev=7.2801)
    on_torch = decode_heatmaps(torch.from_numpy(heatmaps), torch.from_numpy(locref), stride=4,
                               locref_stdev=7.2801)
    assert isinstance(on_torch, torch.Tensor) and on_torch.dtype == torch.float32
    np.testing.assert_array_equal(flat, split)
    np.testing.assert_allclose(on_torch.numpy(), flat, rtol=1e-6, atol=1e-5)


def test_decode_outputs_uses_the_model_config() -> None:
    config = ModelConfig(n_bodyparts=1, output_stride=4, locref_stdev=2.0, pretrained=False)
    heatmaps = torch.zeros(1, 1, 3, 3)
    heatmaps[0, 0, 1, 2] = 1.0
    locref = torch.zeros(1, 2, 3, 3)
    locref[0, :, 1, 2] = torch.tensor([0.5, -0.25])
    poses = decode_outputs({"heatmaps": heatmaps, "locref": locref}, config)
    np.testing.assert_allclose(poses[0, 0, :2].numpy(), [2 * 4 + 1.5 + 1.0, 1 * 4 + 1.5 - 0.5])
    with pytest.raises(ModelError, match="outputs lack 'locref'"):
        decode_outputs({"heatmaps": heatmaps}, config)


@pytest.mark.parametrize("heatmaps, locref, message", [
    (np.zeros((2, 3, 4)), None, r"heatmaps must have shape \(B, K, h, w\), got \(2, 3, 4\)"),
    (np.zeros((1, 2, 0, 4)), None, r"\(B, K, h, w\)"),
    ([[0.0]], None, "numpy array or torch tensor"),
    (np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 4, 4)), r"locref must have shape \(1, 4, 4, 4\)"),
    (np.zeros((1, 2, 4, 4)), np.zeros((1, 4, 4, 5)), r"got \(1, 4, 4, 5\)"),
    (np.zeros((1, 2, 4, 4)), torch.zeros(1, 4, 4, 4), "both be numpy arrays or both torch"),
])
def test_bad_inputs_are_rejected(heatmaps, locref, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        decode_heatmaps(heatmaps, locref, stride=8, locref_stdev=7.0)


@pytest.mark.parametrize("stride, stdev", [(0, 7.0), (8.0, 7.0), (True, 7.0), (8, 0.0),
                                           (8, float("nan"))])
def test_bad_stride_or_scale_is_rejected(stride, stdev) -> None:
    with pytest.raises(ModelError, match="stride|locref_stdev"):
        decode_heatmaps(np.zeros((1, 1, 2, 2)), stride=stride, locref_stdev=stdev)
