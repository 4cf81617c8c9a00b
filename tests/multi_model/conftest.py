"""Synthetic multi-animal data: small images of two three-part "animals" and a project of them.

An animal is a head (red disk), body (green disk) and tail (blue disk) on a gray line; two of
them are drawn at random places and orientations on a dark 96x128 image. The project adds a
unique bodypart ``corner`` (a white square at a fixed place of the scene).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.data.splits import create_dataset
from posekit.io.labels import Labels, write_labels
from posekit.io.video import VideoWriter
from posekit.project import Project
from posekit.project.create import create_project

HEIGHT, WIDTH = 96, 128
BODYPARTS = ["head", "body", "tail"]
INDIVIDUALS = ["a", "b"]
COLORS = [(255, 60, 60), (60, 255, 60), (60, 60, 255)]
CORNER = (112.0, 8.0)
N_IMAGES = 10


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One PyTorch thread in these tests: on a small shared CPU, small networks run several
    times faster without OpenMP threads waiting for each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_animals(rng: np.random.Generator, n: int = 2) -> np.ndarray:
    """Keypoints ``(n, 3, 2)`` of ``n`` animals that do not overlap (distinct places)."""
    animals = []
    while len(animals) < n:
        center = rng.uniform([24, 24], [WIDTH - 24, HEIGHT - 24])
        if any(np.linalg.norm(center - a[1]) < 30 for a in animals):
            continue
        angle = rng.uniform(0, 2 * np.pi)
        step = 10.0 * np.array([np.cos(angle), np.sin(angle)])
        animals.append(np.stack([center + step, center, center - step]))
    return np.round(np.array(animals) * 4) / 4


def draw_scene(animals: np.ndarray) -> np.ndarray:
    """A uint8 RGB ``(HEIGHT, WIDTH, 3)`` image of the animals and the corner marker."""
    image = np.full((HEIGHT, WIDTH, 3), 20, dtype=np.uint8)
    cx, cy = CORNER
    image[int(cy) - 2:int(cy) + 3, int(cx) - 2:int(cx) + 3] = 255
    shift = 4  # sub-pixel drawing
    scale = 1 << shift
    for animal in animals:
        pts = np.round(animal * scale).astype(np.int32)
        cv2.polylines(image, [pts], False, (128, 128, 128), 2, cv2.LINE_AA, shift)
        for point, color, radius in zip(pts, COLORS, (4, 5, 3), strict=True):
            cv2.circle(image, tuple(int(v) for v in point), radius * scale, color, -1,
                       cv2.LINE_AA, shift)
    return image


def _write_video(path: Path, n_frames: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with VideoWriter(path, 10.0, (WIDTH, HEIGHT)) as writer:
        animals = random_animals(rng)
        for _ in range(n_frames):
            animals = animals + rng.normal(0, 0.5, size=(animals.shape[0], 1, 2))
            writer.write(draw_scene(animals))


@pytest.fixture
def synthetic_project(tmp_path: Path) -> Project:
    """A multi-animal project (individuals a, b; bodyparts head, body, tail; unique corner)
    with 10 labeled synthetic images (8 train, 2 test) and a 6-frame video."""
    video = tmp_path / "scene.mp4"
    _write_video(video, 6, seed=1)
    project = create_project("synth", "me", [video], working_directory=tmp_path,
                             individuals=INDIVIDUALS, bodyparts=BODYPARTS, copy_videos=True)
    project.config.uniquebodyparts = ["corner"]
    project.config.skeleton = [["head", "body"], ["body", "tail"]]
    project.save()
    folder = project.labeled_data_dir / "scene"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images, points = [], []
    for n in range(N_IMAGES):
        animals = random_animals(rng)
        name = f"labeled-data/scene/img{n:03d}.png"
        cv2.imwrite(str(project.root / name), draw_scene(animals)[..., ::-1])
        images.append(name)
        points.append(animals)
    labels = Labels(images=images, points=np.array(points), bodyparts=BODYPARTS,
                    individuals=INDIVIDUALS, scorer="me", multi_animal=True,
                    unique_bodyparts=["corner"],
                    unique_points=np.tile(np.array(CORNER), (N_IMAGES, 1, 1)))
    write_labels(labels, project.labels_path("scene"))
    from posekit.project import open_project

    project = open_project(project.root)
    create_dataset(project, shuffles=1, train_fraction=0.8)
    return project


@pytest.fixture
def tiny_single_project(tmp_path: Path) -> Project:
    """The open-field (single-animal) config alone, in a folder of its own."""
    import shutil

    from fixture_paths import OPENFIELD

    from posekit.project import open_project

    root = tmp_path / "single"
    root.mkdir()
    shutil.copy(OPENFIELD / "config.yaml", root / "config.yaml")
    return open_project(root)
