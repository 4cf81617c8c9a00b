"""Training sets: seeded train/test splits recorded per shuffle, reused exactly, never
overwritten."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from posekit._version import __version__
from posekit.data.splits import (
    NO_KEYPOINTS,
    create_dataset,
    create_dataset_from_images,
    list_shuffles,
    load_split,
    split_labels,
)
from posekit.errors import LabelFileError, MissingFileError, ProjectError
from posekit.project import open_project
from posekit.project.labels import load_project_labels, read_folder_labels, write_folder_labels

ITERATION0 = Path("training-datasets") / "iteration-0"


def test_three_shuffles_recorded_with_deeplabcut_names(openfield_copy: Path) -> None:
    paths = create_dataset(openfield_copy, shuffles=3)
    assert [p.relative_to(openfield_copy) for p in paths] == [
        ITERATION0 / f"openfieldOct30-trainset95shuffle{s}" / "split.json" for s in (1, 2, 3)]
    labels = load_project_labels(open_project(openfield_copy))
    tests = []
    for shuffle in (1, 2, 3):
        split = load_split(openfield_copy, shuffle)
        assert (split.shuffle, split.iteration, split.fraction, split.seed) == (shuffle, 0,
                                                                                0.95, shuffle)
        assert len(split.train_images) == 110 and len(split.test_images) == 6  # round(.95*116)
        assert set(split.train_images).isdisjoint(split.test_images)
        assert set(split.train_images) | set(split.test_images) == set(labels.images)
        assert split.excluded_images == {}
        tests.append(tuple(split.test_images))
    assert len(set(tests)) == 3  # different seeds, different splits
    assert sorted(list_shuffles(openfield_copy)) == [1, 2, 3]
    # no temporary files left behind by the atomic writes
    assert [p.name for p in paths[0].parent.iterdir()] == ["split.json"]


def test_split_file_records_provenance(openfield_copy: Path) -> None:
    path = create_dataset(openfield_copy, train_fraction=0.8, seed=42)[0]
    record = json.loads(path.read_text())
    assert path.parent.name == "openfieldOct30-trainset80shuffle1"
    assert record["train_fraction"] == 0.8 and record["seed"] == 42
    assert record["posekit_version"] == __version__
    h5 = "labeled-data/m4s1/CollectedData_Pranav.h5"
    expected = hashlib.sha256((openfield_copy / h5).read_bytes()).hexdigest()
    assert record["label_files_sha256"][h5] == expected
    assert "labeled-data/m4s1/CollectedData_Pranav.csv" in record["label_files_sha256"]
    assert len(record["labels_sha256"]) == 64
    assert record["n_train"] == round(0.8 * 116) == len(record["train_images"])
    assert record["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]


def test_same_seed_same_split_on_another_copy(openfield_copy: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(openfield_copy, other)
    create_dataset(openfield_copy, shuffles=2, seed=7)
    create_dataset(other, shuffles=2, seed=7)
    for shuffle in (1, 2):
        a, b = load_split(openfield_copy, shuffle), load_split(other, shuffle)
        assert a.train_images == b.train_images and a.test_images == b.test_images
    assert load_split(other, 2).seed == 8


def test_existing_shuffle_is_never_overwritten(openfield_copy: Path) -> None:
    first = create_dataset(openfield_copy, shuffles=2)
    before = first[0].read_bytes()
    with pytest.raises(ProjectError, match=r"already exists.*existing shuffles: \[1, 2\]"):
        create_dataset(openfield_copy, shuffles=1, seed=99)
    assert first[0].read_bytes() == before
    added = create_dataset(openfield_copy, shuffles=2, append=True)
    assert [load_split(openfield_copy, s).seed for s in (3, 4)] == [3, 4]
    assert len(added) == 2
    create_dataset(openfield_copy, shuffles=[7])
    assert sorted(list_shuffles(openfield_copy)) == [1, 2, 3, 4, 7]
    with pytest.raises(ProjectError, match="already exists"):
        create_dataset(openfield_copy, shuffles=[5, 7])
    assert 5 not in list_shuffles(openfield_copy)  # nothing written when one index is taken


def test_from_shuffle_copies_the_split_exactly(openfield_copy: Path) -> None:
    create_dataset(openfield_copy, shuffles=1, train_fraction=0.7, seed=5)
    create_dataset(openfield_copy, shuffles=1, from_shuffle=1, append=True)
    source, copy = load_split(openfield_copy, 1), load_split(openfield_copy, 2)
    assert copy.train_images == source.train_images
    assert copy.test_images == source.test_images
    assert (copy.fraction, copy.seed, copy.from_shuffle) == (0.7, 5, 1)
    assert copy.path.parent.name == "openfieldOct30-trainset70shuffle2"
    with pytest.raises(ProjectError, match="disagrees with shuffle 1"):
        create_dataset(openfield_copy, from_shuffle=1, train_fraction=0.95, append=True)


def test_from_shuffle_that_does_not_exist(openfield_copy: Path) -> None:
    create_dataset(openfield_copy, shuffles=2)
    with pytest.raises(MissingFileError, match=r"Shuffle 9 .*shuffles that exist are \[1, 2\]"):
        create_dataset(openfield_copy, from_shuffle=9, append=True)


def test_from_shuffle_leaves_out_images_labeled_later(openfield_copy: Path) -> None:
    project = open_project(openfield_copy)
    folder = project.labeled_folders()[0]
    full = read_folder_labels(project, folder)
    write_folder_labels(project, folder, full.select(range(100)))
    create_dataset(openfield_copy)
    write_folder_labels(project, folder, full)  # 16 frames labeled since
    create_dataset(openfield_copy, from_shuffle=1, append=True)
    copy = load_split(openfield_copy, 2)
    assert len(copy.train_images) + len(copy.test_images) == 100
    assert len(copy.excluded_images) == 16
    assert all("not in shuffle 1" in why for why in copy.excluded_images.values())
    write_folder_labels(project, folder, full.select(range(50)))  # frames removed since
    with pytest.raises(ProjectError, match="cannot be copied"):
        create_dataset(openfield_copy, from_shuffle=1, append=True)


def test_missing_shuffle_names_the_existing_ones(openfield_copy: Path) -> None:
    with pytest.raises(MissingFileError, match="Shuffle 1 .*no shuffle exists yet"):
        load_split(openfield_copy, 1)
    create_dataset(openfield_copy, shuffles=[1, 3])
    with pytest.raises(MissingFileError, match=r"Shuffle 2 of iteration 0.*\[1, 3\]"):
        load_split(openfield_copy, 2)
    with pytest.raises(MissingFileError, match="iteration 4"):
        load_split(openfield_copy, 1, iteration=4)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2, float("nan")])
def test_fraction_out_of_range(openfield_copy: Path, fraction: float) -> None:
    with pytest.raises(ProjectError, match="strictly between 0 and 1"):
        create_dataset(openfield_copy, train_fraction=fraction)
    assert list_shuffles(openfield_copy) == {}


@pytest.mark.parametrize(("fraction", "empty"), [(0.999, "test"), (0.002, "train")])
def test_fraction_leaving_a_set_empty(openfield_copy: Path, fraction: float, empty: str) -> None:
    with pytest.raises(ProjectError, match=f"leaves the {empty} set empty.*116 labeled images"):
        create_dataset(openfield_copy, train_fraction=fraction)


def test_bad_shuffle_arguments(openfield_copy: Path) -> None:
    with pytest.raises(ProjectError, match="at least 1"):
        create_dataset(openfield_copy, shuffles=0)
    with pytest.raises(ProjectError, match="distinct integers"):
        create_dataset(openfield_copy, shuffles=[0, 1])
    with pytest.raises(ProjectError, match="distinct integers"):
        create_dataset(openfield_copy, shuffles=[2, 2])
    with pytest.raises(ProjectError, match="append"):
        create_dataset(openfield_copy, shuffles=[2], append=True)


def test_frames_without_any_keypoint_are_excluded(openfield_copy: Path, caplog) -> None:
    project = open_project(openfield_copy)
    folder = project.labeled_folders()[0]
    labels = read_folder_labels(project, folder)
    labels.points[[3, 10, 11]] = np.nan
    labels.points[12, 0, :3] = np.nan  # one keypoint left: kept
    write_folder_labels(project, folder, labels)
    with caplog.at_level(logging.WARNING, logger="posekit.data.splits"):
        create_dataset(openfield_copy)
    assert "3 labeled images have no visible keypoint" in caplog.text
    split = load_split(openfield_copy, 1)
    dropped = {labels.images[i] for i in (3, 10, 11)}
    assert split.excluded_images == {image: NO_KEYPOINTS for image in dropped}
    used = set(split.train_images) | set(split.test_images)
    assert used.isdisjoint(dropped) and labels.images[12] in used
    assert len(used) == 113


def test_labeled_image_file_missing(openfield_copy: Path) -> None:
    (openfield_copy / "labeled-data" / "m4s1" / "img0005.png").unlink()
    with pytest.raises(MissingFileError, match="img0005.png"):
        create_dataset(openfield_copy)


def test_corrupt_split_file(openfield_copy: Path) -> None:
    path = create_dataset(openfield_copy)[0]
    path.write_text("{not json")
    with pytest.raises(ProjectError, match="not a valid posekit split file"):
        load_split(openfield_copy, 1)
    record = {"format": "posekit-split", "train_images": ["a"], "test_images": ["a"],
              "train_fraction": 0.5, "seed": 1, "shuffle": 1, "iteration": 0}
    path.write_text(json.dumps(record))
    with pytest.raises(ProjectError, match="both the train and the test"):
        load_split(openfield_copy, 1)


def test_split_labels_uses_current_labels(openfield_copy: Path) -> None:
    create_dataset(openfield_copy)
    split = load_split(openfield_copy, 1)
    train, test = split_labels(openfield_copy, split)
    assert train.images == split.train_images and test.images == split.test_images
    assert train.points.shape == (110, 1, 4, 2) and test.points.shape == (6, 1, 4, 2)
    project = open_project(openfield_copy)
    folder = project.labeled_folders()[0]
    labels = read_folder_labels(project, folder)
    keep = [i for i, image in enumerate(labels.images) if image != split.test_images[0]]
    write_folder_labels(project, folder, labels.select(keep))
    with pytest.raises(LabelFileError, match="no longer in the project's label files"):
        split_labels(openfield_copy, split)


def test_split_from_chosen_images(openfield_copy: Path) -> None:
    images = [f"labeled-data/m4s1/img{i:04d}.png" for i in range(116)]
    path = create_dataset_from_images(openfield_copy, images[:12], images[100:], shuffle=4)
    split = load_split(openfield_copy, 4)
    assert split.path == path and split.shuffle == 4
    assert (split.train_images, split.test_images) == (images[:12], images[100:])
    assert split.fraction == 12 / 28 and len(split.excluded_images) == 116 - 28
    with pytest.raises(ProjectError, match="already exists"):
        create_dataset_from_images(openfield_copy, images[:2], images[3:4], shuffle=4)
    with pytest.raises(ProjectError, match="in both"):
        create_dataset_from_images(openfield_copy, images[:2], images[1:3], shuffle=5)
    with pytest.raises(ProjectError, match="not labeled"):
        create_dataset_from_images(openfield_copy, ["labeled-data/m4s1/img9999.png"],
                                   images[:1], shuffle=5)
    assert sorted(list_shuffles(openfield_copy)) == [4]
