"""A briefly trained open-field model (shared by this folder's tests) and synthetic videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_paths import OPENFIELD, OPENFIELD_VIDEO

from posekit.data.splits import create_dataset
from posekit.io.labels import read_labels, write_labels
from posekit.io.video import VideoReader, VideoWriter
from posekit.project import Project, open_project
from posekit.train.loop import train
from posekit.train.options import TrainOptions


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Open-field project (10 labeled frames, a 12-frame clip) with a model trained 1 epoch,
    whose output layers are then re-drawn large (seeded) in its checkpoints, so that its
    score maps vary across the frame as a well-trained model's do (one epoch leaves them
    nearly flat, which would make keypoint comparisons meaningless)."""
    torch_threads()
    root = tmp_path_factory.mktemp("fast") / "openfield"
    (root / "labeled-data" / "m4s1").mkdir(parents=True)
    shutil.copy(OPENFIELD / "config.yaml", root / "config.yaml")
    labels = read_labels(OPENFIELD / "labeled-data/m4s1/CollectedData_Pranav.h5").select(range(10))
    for image in labels.images:
        shutil.copy(OPENFIELD / image, root / image)
    write_labels(labels, root / "labeled-data/m4s1/CollectedData_Pranav.h5")
    (root / "videos").mkdir()
    with VideoReader(OPENFIELD_VIDEO) as reader, \
            VideoWriter(root / "videos" / "clip.mp4", reader.fps, (640, 480)) as writer:
        for index, frame in reader:
            if index >= 12:
                break
            writer.write(frame)
    project = open_project(root)
    create_dataset(project, shuffles=1, train_fraction=0.8)
    result = train(project, options=TrainOptions(epochs=1, batch_size=4, crop_size=(64, 64),
                                                 checkpoint_every=1, threads=2, device="cpu"))
    _sharpen(result.folder.best, result.folder.last)
    return project


def _sharpen(*checkpoints: Path) -> None:
    import torch

    from posekit.train.checkpoint import load_checkpoint, save_checkpoint

    generator = torch.Generator().manual_seed(0)
    state = load_checkpoint(checkpoints[0])
    for key, value in state["model"].items():
        if key.startswith(("head.heatmap.", "head.locref.")) and key.endswith("weight"):
            state["model"][key] = torch.randn(value.shape, generator=generator) * 0.5
    for path in checkpoints:
        save_checkpoint(path, {k: v for k, v in state.items() if k != "format"})


def torch_threads() -> None:
    import torch

    torch.set_num_threads(2)


def square_video(path: Path, centers: list[tuple[int, int]], *, size: tuple[int, int] = (128, 96),
                 side: int = 4, fps: float = 30.0) -> Path:
    """A lossless (FFV1) video whose frame i shows a white ``side`` x ``side`` square whose
    top-left pixel is ``centers[i]`` (x, y); its center is at ``x + (side - 1) / 2``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, size)
    for x, y in centers:
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[y:y + side, x:x + side] = 255
        writer.write(frame)
    writer.release()
    return path


class SquareFinder:
    """A stand-in predictor: the brightness-weighted centroid of the bright pixels of each
    frame it is given, likelihood 1 when the square is wholly inside the frame (no bright
    pixel on the frame's border) and 0 when it is cut or absent; records the shapes it saw."""

    scorer = "SquareFindershuffle1"
    bodyparts = ["square", "twin"]
    model_info = {"backbone": "none"}

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, frames: np.ndarray) -> np.ndarray:
        self.shapes.append(frames.shape)
        brightness = frames[..., 0].astype(np.float64) / 255.0
        rows, cols = np.indices(brightness.shape[1:])
        mass = brightness.sum(axis=(1, 2))
        safe = np.where(mass > 0, mass, 1.0)
        x = (brightness * cols).sum(axis=(1, 2)) / safe
        y = (brightness * rows).sum(axis=(1, 2)) / safe
        border = np.concatenate([brightness[:, 0], brightness[:, -1], brightness[:, :, 0],
                                 brightness[:, :, -1]], axis=1).max(axis=1)
        seen = ((mass > 0) & (border == 0)).astype(float)
        one = np.stack([x, y, seen], axis=1)
        return np.stack([one, one], axis=1)


@pytest.fixture
def make_square_video():
    """``square_video(path, corners, size=(128, 96), side=4, fps=30.0)``."""
    return square_video


@pytest.fixture
def square_finder():
    """The :class:`SquareFinder` class."""
    return SquareFinder
