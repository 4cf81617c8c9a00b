"""A tiny trainable project: 10 labeled open-field frames and a 12-frame clip of the video."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixture_paths import OPENFIELD, OPENFIELD_VIDEO

from posekit.data.splits import create_dataset
from posekit.io.labels import read_labels, write_labels
from posekit.io.video import VideoReader, VideoWriter
from posekit.project import Project, open_project
from posekit.train.options import TrainOptions

N_IMAGES = 10


@pytest.fixture
def tiny_project(tmp_path: Path) -> Project:
    """Open-field project with 10 labeled frames (8 train, 2 test) and a short video."""
    root = tmp_path / "tiny"
    (root / "labeled-data" / "m4s1").mkdir(parents=True)
    shutil.copy(OPENFIELD / "config.yaml", root / "config.yaml")
    labels = read_labels(OPENFIELD / "labeled-data/m4s1/CollectedData_Pranav.h5")
    labels = labels.select(range(N_IMAGES))
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
    return project


def _quick(**changes: object) -> TrainOptions:
    base = {"epochs": 2, "batch_size": 4, "crop_size": (64, 64), "checkpoint_every": 1,
            "threads": 2, "device": "cpu"}
    return TrainOptions(**{**base, **changes})


@pytest.fixture
def quick_options():
    """Makes TrainOptions for a schedule that trains in seconds: 64x64 crops, batch 4."""
    return _quick
