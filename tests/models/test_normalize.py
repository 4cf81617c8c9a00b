"""The shared input normalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.errors import ModelError
from posekit.models.normalize import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    denormalize_images,
    normalize_images,
)


def test_known_values_numpy_and_torch_agree() -> None:
    frames = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    frames[0, 0, 0] = (255, 0, 128)
    out = normalize_images(frames)
    assert out.dtype == np.float32 and out.shape == (2, 3, 3, 4) and out.flags.c_contiguous
    expected = [(1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], -IMAGENET_MEAN[1] / IMAGENET_STD[1],
                (128 / 255 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]]
    np.testing.assert_allclose(out[0, :, 0, 0], expected, rtol=1e-6)
    black = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    np.testing.assert_allclose(out[1, :, 2, 3], black, rtol=1e-6)
    out_torch = normalize_images(torch.from_numpy(frames))
    assert isinstance(out_torch, torch.Tensor) and out_torch.is_contiguous()
    np.testing.assert_allclose(out_torch.numpy(), out, rtol=1e-6)


def test_single_frame_gets_a_batch_axis_and_round_trips() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = normalize_images(frame)
    assert out.shape == (1, 3, 5, 7)
    np.testing.assert_array_equal(denormalize_images(out)[0], frame)
    np.testing.assert_array_equal(denormalize_images(torch.from_numpy(out))[0], frame)


@pytest.mark.parametrize("bad", [np.zeros((2, 4, 4, 3), np.float32), torch.zeros(1, 4, 4, 3)])
def test_non_uint8_frames_are_rejected(bad) -> None:
    with pytest.raises(ModelError, match="must be uint8"):
        normalize_images(bad)


@pytest.mark.parametrize("shape", [(4, 4), (1, 3, 4, 4), (2, 4, 4, 4), (1, 1, 4, 4, 3)])
def test_wrong_shapes_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ModelError, match=r"\(B, H, W, 3\)"):
        normalize_images(np.zeros(shape, np.uint8))


def test_not_an_array_is_rejected() -> None:
    with pytest.raises(ModelError, match="numpy array or torch tensor"):
        normalize_images([[1, 2, 3]])  # type: ignore[arg-type]


def test_denormalize_rejects_wrong_shape() -> None:
    with pytest.raises(ModelError, match=r"\(B, 3, H, W\)"):
        denormalize_images(np.zeros((1, 4, 4, 3), np.float32))
