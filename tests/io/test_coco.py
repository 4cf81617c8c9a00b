"""Importing COCO keypoint files into a project (posekit.io.coco)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_paths import TEST_DATA

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.coco import flat_image_names, import_coco, read_coco
from posekit.io.labels import read_labels, write_labels
from posekit.project import create_project, open_project
from posekit.project.labels import load_project_labels

COCO = TEST_DATA / "coco"
SAMPLES = sorted(COCO.glob("*/test_*.json"))
# Skeleton index base of each sample, read by eye from the files (ak and atrw count from 0).
ZERO_BASED = {"test_animalkingdom", "test_atrw"}


def new_project(tmp_path: Path, **kwargs):
    """A fresh project with placeholder bodyparts (no videos needed)."""
    return create_project("coco", "ann", [], working_directory=tmp_path, **kwargs)


def write_image(path: Path, height: int = 40, width: int = 60, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), value, np.uint8))
    return path


def write_coco(folder: Path, annotations: list[tuple[str, list[float]]], *,
               keypoints: tuple[str, ...] = ("nose", "ear", "tail"),
               skeleton: list[list[int]] | None = None, name: str = "anno.json",
               write_images: bool = True) -> Path:
    """A COCO file: one entry per (image file, [x, y, v] * K) annotation."""
    files = list(dict.fromkeys(file for file, _ in annotations))
    data = {
        "images": [{"id": 10 + i, "file_name": f, "width": 60, "height": 40}
                   for i, f in enumerate(files)],
        "categories": [{"id": 1, "name": "mouse", "keypoints": list(keypoints),
                        "skeleton": skeleton if skeleton is not None else [[1, 2], [2, 3]]}],
        "annotations": [{"id": 100 + k, "image_id": 10 + files.index(f), "category_id": 1,
                         "keypoints": kp} for k, (f, kp) in enumerate(annotations)],
    }
    folder.mkdir(parents=True, exist_ok=True)
    if write_images:
        for f in files:
            write_image(folder / f)
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def expected_points(json_path: Path) -> dict[str, np.ndarray]:
    """Base file name -> (n_annotations, K, 2) with NaN where v == 0, read straight from json."""
    data = json.loads(json_path.read_text())
    names = {image["id"]: Path(image["file_name"]).name for image in data["images"]}
    out: dict[str, list[np.ndarray]] = {}
    for annotation in data["annotations"]:
        values = np.asarray(annotation["keypoints"], float).reshape(-1, 3)
        points = np.where(values[:, 2:] > 0, values[:, :2], np.nan)
        out.setdefault(names[annotation["image_id"]], []).append(points)
    return {name: np.stack(points) for name, points in out.items()}


@pytest.mark.parametrize("json_path", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_every_sample_imports_with_its_bodyparts_skeleton_and_values(tmp_path: Path,
                                                                     json_path: Path) -> None:
    project = new_project(tmp_path)
    h5 = import_coco(project, json_path)
    data = json.loads(json_path.read_text())
    category = next(c for c in data["categories"] if c.get("keypoints"))
    names = [name.strip() for name in category["keypoints"]]
    base = 0 if json_path.stem in ZERO_BASED else 1
    edges = [(names[a - base], names[b - base]) for a, b in category.get("skeleton", [])]

    reopened = open_project(project.root)
    assert reopened.config.pose_bodyparts == names
    assert reopened.config.edges == edges
    assert h5 == project.root / "labeled-data" / json_path.stem / "CollectedData_ann.h5"
    labels = load_project_labels(reopened)  # also checks every image exists
    expected = expected_points(json_path)
    assert len(labels) == len(expected) == len(data["images"])
    for image, points in zip(labels.images, labels.points, strict=True):
        np.testing.assert_array_equal(points, expected[Path(image).name])
        assert (project.root / image).read_bytes() != b""
    assert read_labels(h5.with_suffix(".csv")).images == labels.images


def test_coordinates_are_kept_as_pixel_centers(tmp_path: Path) -> None:
    """COCO keypoints are pixel indices (origin at the top-left pixel's center), like posekit."""
    json_path = write_coco(tmp_path / "in", [("a.png", [0, 0, 2, 59, 39, 1, 12.25, 7.5, 2])])
    labels = read_labels(import_coco(new_project(tmp_path), json_path))
    np.testing.assert_array_equal(labels.points[0, 0], [[0, 0], [59, 39], [12.25, 7.5]])


def test_unlabeled_keypoints_are_nan_and_empty_annotations_are_skipped(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [5, 6, 0, 7, 8, 2, 9, 10, 1]),
                                             ("b.png", [1, 1, 0, 2, 2, 0, 3, 3, 0])])
    labels = read_labels(import_coco(new_project(tmp_path), json_path))
    assert labels.images == ["labeled-data/anno/a.png"]
    np.testing.assert_array_equal(labels.points[0, 0], [[np.nan, np.nan], [7, 8], [9, 10]])


def test_several_animals_become_individuals_of_a_multi_animal_project(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                                             ("a.png", [11, 12, 2, 13, 14, 2, 15, 16, 0]),
                                             ("b.png", [21, 22, 2, 23, 24, 2, 25, 26, 2])])
    project = new_project(tmp_path, individuals=["mouse1", "mouse2", "mouse3"])
    labels = read_labels(import_coco(project, json_path))
    assert labels.multi_animal and labels.individuals == ["mouse1", "mouse2", "mouse3"]
    assert open_project(project.root).config.pose_bodyparts == ["nose", "ear", "tail"]
    np.testing.assert_array_equal(labels.points[0, 1], [[11, 12], [13, 14], [np.nan, np.nan]])
    assert np.isnan(labels.points[0, 2]).all() and np.isnan(labels.points[1, 1:]).all()
    np.testing.assert_array_equal(labels.points[1, 0, 2], [25, 26])


def test_several_animals_in_a_single_animal_project_is_an_error(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                                             ("pair.png", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                                             ("pair.png", [7, 8, 2, 3, 4, 2, 5, 6, 2])])
    project = new_project(tmp_path)
    with pytest.raises(LabelFileError, match=r"pair\.png holds 2 .*single-animal.*multi-animal"):
        import_coco(project, json_path)
    assert not (project.labeled_data_dir / "anno").exists()
    assert open_project(project.root).config.pose_bodyparts[0] == "bodypart1"  # unchanged


def test_more_animals_than_individuals_is_an_error(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                                             ("a.png", [7, 8, 2, 3, 4, 2, 5, 6, 2])])
    with pytest.raises(LabelFileError, match=r"only 1 individuals \['solo'\]"):
        import_coco(new_project(tmp_path, individuals=["solo"]), json_path)


def test_keypoints_must_match_the_config_bodyparts(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    project = new_project(tmp_path, bodyparts=["snout", "ear", "tail"])
    with pytest.raises(LabelFileError) as error:
        import_coco(project, json_path)
    message = str(error.value)
    assert "['nose', 'ear', 'tail']" in message and "['snout', 'ear', 'tail']" in message


def test_matching_keypoints_are_reordered_to_the_config(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    project = new_project(tmp_path, bodyparts=["tail", "nose", "ear"])
    labels = read_labels(import_coco(project, json_path))
    assert labels.bodyparts == ["tail", "nose", "ear"]
    np.testing.assert_array_equal(labels.points[0, 0], [[5, 6], [1, 2], [3, 4]])


def test_a_labeled_project_does_not_adopt_other_bodyparts(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    import_coco(project, COCO / "zebra" / "test_zebra.json")
    with pytest.raises(LabelFileError, match="snout"):
        import_coco(open_project(project.root), COCO / "fly" / "test_fly.json")


def test_categories_with_different_keypoints_are_an_error(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    data = json.loads(json_path.read_text())
    data["categories"].append({"id": 2, "name": "bird", "keypoints": ["beak", "tail"]})
    json_path.write_text(json.dumps(data))
    with pytest.raises(LabelFileError, match="different keypoint sets.*beak"):
        import_coco(new_project(tmp_path), json_path)


def test_missing_json_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.json does not exist"):
        import_coco(new_project(tmp_path), tmp_path / "nothere.json")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a json file"),
    ("[1, 2, 3]", "not a COCO keypoint file"),
    ('{"images": [], "annotations": []}', "not a COCO keypoint file"),
    ('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "car"}]}',
     "no category lists 'keypoints'"),
])
def test_a_json_that_is_not_coco_keypoints(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LabelFileError, match=message):
        import_coco(new_project(tmp_path), path)


def test_malformed_annotations(tmp_path: Path) -> None:
    short = write_coco(tmp_path / "short", [("a.png", [1, 2, 2, 3, 4, 2])])
    with pytest.raises(LabelFileError, match="annotation 100 has keypoints 6 values; expected 9"):
        read_coco(short)
    flags = write_coco(tmp_path / "flags", [("a.png", [1, 2, 2, 3, 4, 7, 5, 6, 2])])
    with pytest.raises(LabelFileError, match=r"visibility flags \[7\.0\]"):
        read_coco(flags)
    skeleton = write_coco(tmp_path / "skel", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])],
                          skeleton=[[1, 5]])
    with pytest.raises(LabelFileError, match="skeleton indices"):
        read_coco(skeleton)
    orphan = write_coco(tmp_path / "orphan", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    data = json.loads(orphan.read_text())
    data["annotations"][0]["image_id"] = 999
    orphan.write_text(json.dumps(data))
    with pytest.raises(LabelFileError, match="image_id 999"):
        read_coco(orphan)


def test_images_referenced_but_missing_write_nothing(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                                             ("gone.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    (tmp_path / "in" / "gone.png").unlink()
    project = new_project(tmp_path)
    config_before = project.config_path.read_bytes()
    with pytest.raises(MissingFileError, match=r"1 of the 2 images .*gone\.png.*--images"):
        import_coco(project, json_path)
    assert project.config_path.read_bytes() == config_before
    assert not (project.labeled_data_dir / "anno").exists()


def test_image_dir_and_folder_options(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "ann", [("frames/a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])],
                           write_images=False)
    write_image(tmp_path / "pictures" / "frames" / "a.png")
    project = new_project(tmp_path)
    h5 = import_coco(project, json_path, image_dir=tmp_path / "pictures", folder="session1")
    assert h5.parent == project.labeled_data_dir / "session1"
    assert read_labels(h5).images == ["labeled-data/session1/a.png"]
    assert (h5.parent / "a.png").is_file()
    with pytest.raises(LabelFileError, match="one plain folder name"):
        import_coco(project, json_path, image_dir=tmp_path / "pictures", folder="a/b")


def test_clashing_base_names_are_flattened() -> None:
    assert flat_image_names(["v1/f1.jpg", "v2/f1.jpg", "v1/f2.jpg"]) == \
        ["v1_f1.jpg", "v2_f1.jpg", "f2.jpg"]


def test_reimport_keeps_existing_labels_and_adds_new_images(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    first = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    project = new_project(tmp_path)
    h5 = import_coco(project, first)
    edited = read_labels(h5)
    edited.points[0, 0, 0] = [30, 31]  # a person corrected the nose
    write_labels(edited, h5)
    second = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                                          ("b.png", [7, 8, 2, 9, 10, 2, 11, 12, 2])])
    with caplog.at_level(logging.WARNING, logger="posekit.io.coco"):
        import_coco(open_project(project.root), second)
    labels = read_labels(h5)
    assert labels.images == ["labeled-data/anno/a.png", "labeled-data/anno/b.png"]
    np.testing.assert_array_equal(labels.points[0, 0, 0], [30, 31])
    np.testing.assert_array_equal(labels.points[1, 0, 0], [7, 8])
    assert "existing labels are kept" in caplog.text


def test_a_different_image_of_the_same_name_is_never_overwritten(tmp_path: Path) -> None:
    json_path = write_coco(tmp_path / "in", [("a.png", [1, 2, 2, 3, 4, 2, 5, 6, 2])])
    project = new_project(tmp_path)
    existing = write_image(project.labeled_data_dir / "anno" / "a.png", value=7)
    before = existing.read_bytes()
    with pytest.raises(LabelFileError, match="differs from"):
        import_coco(project, json_path)
    assert existing.read_bytes() == before
