"""PoseDataset and make_loader: cached decoding, normalized tensors, masked keypoints,
reproducible seeded batches, and clear errors for missing, corrupt or odd-sized images."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
import torch

from posekit.data.augment import AugmentationConfig, build_augmentation, build_eval_transform
from posekit.data.dataset import PoseDataset, SeededSampler, make_loader, read_image_rgb
from posekit.errors import LabelFileError, MissingFileError
from posekit.models.normalize import normalize_images
from posekit.project import open_project
from posekit.project.labels import load_project_labels

BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]


def synthetic_project(root: Path, sizes: list[tuple[int, int]]) -> tuple[list[str], np.ndarray]:
    """PNG frames of the given (H, W) under root/labeled-data/v/, with 4 keypoints each."""
    folder = root / "labeled-data" / "v"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, points = [], []
    for i, (h, w) in enumerate(sizes):
        image = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
        cv2.imwrite(str(folder / f"img{i:03d}.png"), image)
        images.append(f"labeled-data/v/img{i:03d}.png")
        points.append([[[w * 0.4, h * 0.4], [w * 0.35, h * 0.5], [w * 0.45, h * 0.5],
                        [w * 0.4, h * 0.6]]])
    return images, np.array(points, dtype=float)


def train_augment(crop=(64, 64)):
    return build_augmentation(AugmentationConfig(), crop_size=crop,
                              symmetric_pairs=[("leftear", "rightear")], bodyparts=BODYPARTS)


def test_samples_from_the_shipped_project(openfield_copy: Path) -> None:
    project = open_project(openfield_copy)
    labels = load_project_labels(project).select(range(6))
    dataset = PoseDataset(project.root, labels.images, labels.points,
                          augment=build_eval_transform())
    assert len(dataset) == 6
    assert dataset.cache_bytes == 6 * 480 * 640 * 3
    assert dataset.image_sizes == [(480, 640)] * 6
    sample = dataset[2]
    rgb = read_image_rgb(openfield_copy / labels.images[2])
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, 480, 640)
    torch.testing.assert_close(sample["image"], torch.from_numpy(normalize_images(rgb)[0]))
    torch.testing.assert_close(sample["keypoints"],
                               torch.from_numpy(labels.points[2].astype(np.float32)))
    assert sample["visible"].all() and sample["index"] == 2
    torch.testing.assert_close(sample["scale"], torch.tensor([1.0, 1.0]))
    # RGB, not BGR: the decoded image matches OpenCV's BGR decode reversed
    bgr = cv2.imread(str(openfield_copy / labels.images[2]))
    np.testing.assert_array_equal(rgb, bgr[..., ::-1])


def test_training_samples_are_crops_and_reproducible(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(120, 160)] * 4)
    dataset = PoseDataset(tmp_path, images, points, augment=train_augment())
    a, b = dataset[(1, 99)], dataset[(1, 99)]
    assert a["image"].shape == (3, 64, 64)
    torch.testing.assert_close(a["image"], b["image"])
    torch.testing.assert_close(a["keypoints"], b["keypoints"])
    torch.testing.assert_close(dataset[3]["image"], dataset[3]["image"])  # int index: seeded
    assert not torch.equal(dataset[(1, 99)]["image"], dataset[(1, 100)]["image"])
    uncached = PoseDataset(tmp_path, images, points, augment=train_augment(),
                           cache_images=False)
    assert uncached.cache_bytes == 0 and uncached.image_sizes == [(120, 160)] * 4
    torch.testing.assert_close(uncached[(1, 99)]["image"], a["image"])


def test_invisible_keypoints_are_masked(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(120, 160)] * 2)
    points[0, 0, 2] = np.nan
    dataset = PoseDataset(tmp_path, images, points, augment=build_eval_transform())
    sample = dataset[0]
    assert sample["visible"].tolist() == [[True, True, False, True]]
    assert sample["keypoints"][0, 2].tolist() == [0.0, 0.0]
    assert not torch.isnan(sample["keypoints"]).any()


def test_target_encoder_fields_are_added(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(120, 160)] * 2)

    class Targets(NamedTuple):
        heatmaps: np.ndarray
        size: np.ndarray

    seen = []

    def encoder(keypoints: np.ndarray, size: tuple[int, int]) -> Targets:
        seen.append((keypoints.shape, size))
        return Targets(np.zeros((4, size[0] // 8, size[1] // 8), np.float32), np.array(size))

    dataset = PoseDataset(tmp_path, images, points, augment=train_augment(),
                          target_encoder=encoder)
    batch = next(iter(make_loader(dataset, 2, shuffle=True, seed=0)))
    assert batch["heatmaps"].shape == (2, 4, 8, 8)
    assert batch["size"].tolist() == [[64, 64], [64, 64]]
    assert seen[0] == ((1, 4, 2), (64, 64))
    clash = PoseDataset(tmp_path, images, points, augment=train_augment(),
                        target_encoder=lambda k, s: {"image": np.zeros(1)})
    with pytest.raises(ValueError, match="image"):
        clash[0]


def test_loader_is_reproducible_and_replays_epochs(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(100, 120)] * 5)
    dataset = PoseDataset(tmp_path, images, points, augment=train_augment((48, 48)))

    def epochs(loader, n):
        return [[(b["index"].tolist(), b["image"].sum().item()) for b in loader]
                for _ in range(n)]

    first = epochs(make_loader(dataset, 2, shuffle=True, seed=3), 3)
    again = epochs(make_loader(dataset, 2, shuffle=True, seed=3), 3)
    assert first == again
    assert first[0] != first[1]  # a new order and new augmentation each epoch
    assert [len(batch[0]) for batch in first[0]] == [2, 2, 1]
    resumed = make_loader(dataset, 2, shuffle=True, seed=3)
    resumed.sampler.set_epoch(2)
    assert epochs(resumed, 1)[0] == first[2]
    other = epochs(make_loader(dataset, 2, shuffle=True, seed=4), 1)
    assert other[0] != first[0]
    ordered = make_loader(dataset, 2, shuffle=False, seed=3, drop_last=True)
    assert [b["index"].tolist() for b in ordered] == [[0, 1], [2, 3]]


def test_worker_processes_give_the_same_batches(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(100, 120)] * 4)
    dataset = PoseDataset(tmp_path, images, points, augment=train_augment((48, 48)))
    in_process = [b["image"] for b in make_loader(dataset, 2, shuffle=True, seed=1)]
    workers = [b["image"] for b in make_loader(dataset, 2, shuffle=True, seed=1,
                                               num_workers=1)]
    for a, b in zip(in_process, workers, strict=True):
        torch.testing.assert_close(a, b)


def test_sampler_yields_every_index_once() -> None:
    sampler = SeededSampler(7, shuffle=True, seed=0)
    pairs = list(sampler)
    assert sorted(i for i, _ in pairs) == list(range(7)) and len(sampler) == 7
    assert sampler.epoch == 1


def test_images_of_different_sizes(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(120, 160), (90, 200)])
    crops = PoseDataset(tmp_path, images, points, augment=train_augment())
    assert crops.image_sizes == [(120, 160), (90, 200)]
    batch = next(iter(make_loader(crops, 2, shuffle=False)))
    assert batch["image"].shape == (2, 3, 64, 64)
    full = PoseDataset(tmp_path, images, points, augment=build_eval_transform())
    with pytest.raises(ValueError, match=r"different shapes.*size=\(h, w\)"):
        next(iter(make_loader(full, 2, shuffle=False)))
    padded = PoseDataset(tmp_path, images, points,
                         augment=build_eval_transform(size=(128, 160)))
    batch = next(iter(make_loader(padded, 2, shuffle=False)))
    assert batch["image"].shape == (2, 3, 128, 160)
    assert batch["scale"][1].tolist() == pytest.approx([0.8, 0.8], abs=0.01)  # shrunk to fit


def test_labeled_image_file_missing(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(50, 60)] * 3)
    (tmp_path / images[1]).unlink()
    with pytest.raises(MissingFileError, match=r"1 of 3 labeled images.*img001.png"):
        PoseDataset(tmp_path, images, points, augment=build_eval_transform())
    with pytest.raises(MissingFileError, match="img001.png"):
        PoseDataset(tmp_path, images, points, augment=build_eval_transform(),
                    cache_images=False)


def test_corrupt_image_file(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(50, 60)] * 2)
    (tmp_path / images[0]).write_bytes(b"not a png at all")
    with pytest.raises(LabelFileError, match="img000.png cannot be decoded"):
        PoseDataset(tmp_path, images, points, augment=build_eval_transform())
    (tmp_path / images[0]).write_bytes(b"")
    with pytest.raises(LabelFileError, match="img000.png cannot be decoded"):
        read_image_rgb(tmp_path / images[0])


def test_points_that_do_not_match_the_images(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(50, 60)] * 2)
    with pytest.raises(LabelFileError, match="n_images = 2"):
        PoseDataset(tmp_path, images, points[:1], augment=build_eval_transform())
    with pytest.raises(LabelFileError, match="shape"):
        PoseDataset(tmp_path, images, points[:, 0], augment=build_eval_transform())


def test_bad_loader_arguments(tmp_path: Path) -> None:
    images, points = synthetic_project(tmp_path, [(50, 60)])
    dataset = PoseDataset(tmp_path, images, points, augment=build_eval_transform())
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(dataset, 0, shuffle=True)
    with pytest.raises(ValueError, match="num_workers"):
        make_loader(dataset, 1, shuffle=True, num_workers=-1)
    with pytest.raises(IndexError):
        dataset[5]
