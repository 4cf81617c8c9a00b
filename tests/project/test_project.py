"""Projects: creating, opening DeepLabCut projects as they are, moving, rewriting configs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fixture_paths import DLC_FIXTURES, OPENFIELD, OPENFIELD_VIDEO

from posekit.errors import LabelFileError, MissingFileError, ProjectError, VideoError
from posekit.io.labels import read_labels, write_labels
from posekit.project import add_videos, create_project, open_project
from posekit.project.labels import load_project_labels


def test_shipped_deeplabcut_project_opens_unedited(openfield_copy: Path) -> None:
    before = (openfield_copy / "config.yaml").read_bytes()
    project = open_project(openfield_copy)
    assert project.config.pose_bodyparts == ["snout", "leftear", "rightear", "tailbase"]
    assert project.scorer == "Pranav"
    assert not project.config.is_multi_animal
    assert project.missing_videos() == ["WILL BE AUTOMATICALLY UPDATED BY DEMO CODE"]
    labels = load_project_labels(project)
    assert len(labels) == 116 and labels.points.shape == (116, 1, 4, 2)
    assert (openfield_copy / "config.yaml").read_bytes() == before


def test_rewrite_keeps_comments_order_and_unknown_keys(openfield_copy: Path) -> None:
    project = open_project(openfield_copy)
    original = (openfield_copy / "config.yaml").read_text()
    project.save()
    assert (openfield_copy / "config.yaml").read_text() == original  # nothing changed
    project.config.numframes2pick = 33
    project.save()
    text = (openfield_copy / "config.yaml").read_text()
    assert "numframes2pick: 33" in text
    assert text.replace("numframes2pick: 33", "numframes2pick: 20") == original
    assert "SuperAnimalConversionTables" in text and "# Cropping Parameters" in text
    assert open_project(openfield_copy).config.model_extra["corner2move2"] == [50, 50]


def test_multi_animal_deeplabcut_config_with_windows_paths_opens(tmp_path: Path) -> None:
    shutil.copy(DLC_FIXTURES / "madlc_230_config.yaml", tmp_path / "config.yaml")
    project = open_project(tmp_path / "config.yaml")
    config = project.config
    assert config.is_multi_animal
    assert config.individual_names == ["individual1", "individual2", "individual3"]
    assert config.pose_bodyparts == ["A", "B", "C"] and config.unique_bodyparts == ["D", "E"]
    assert config.edges == [("A", "B"), ("B", "C"), ("A", "C")]
    (tmp_path / "videos").mkdir()
    shutil.copy(OPENFIELD_VIDEO, tmp_path / "videos" / "centered_pair_small.mp4")
    assert project.videos() == [tmp_path / "videos" / "centered_pair_small.mp4"]


def test_create_project_layout_and_config(tmp_path: Path) -> None:
    project = create_project("mouse", "ann", [OPENFIELD_VIDEO], working_directory=tmp_path,
                             bodyparts=["nose", "tail"])
    assert project.root.parent == tmp_path and project.root.name.startswith("mouse-ann-")
    for folder in ("videos", "labeled-data", "training-datasets", "posekit-models"):
        assert (project.root / folder).is_dir()
    again = open_project(project.root)
    assert again.config.pose_bodyparts == ["nose", "tail"]
    assert again.config.scorer == "ann" and again.config.Task == "mouse"
    assert again.videos() == [project.root / "videos" / "m3v1mp4.mp4"]
    crop = next(iter(again.config.video_sets.values()))["crop"]
    assert crop == "0, 640, 0, 480"
    assert "# Plotting" in again.config_path.read_text()


def test_create_multi_animal_project(tmp_path: Path) -> None:
    project = create_project("flies", "bo", [OPENFIELD_VIDEO], working_directory=tmp_path,
                             individuals=["female", "male"], bodyparts=["head", "thorax"],
                             copy_videos=True)
    assert project.config.is_multi_animal
    assert project.config.individual_names == ["female", "male"]
    assert project.config.bodyparts == "MULTI!"
    assert not (project.videos_dir / "m3v1mp4.mp4").is_symlink()


def test_moved_project_keeps_working(tmp_path: Path) -> None:
    project = create_project("m", "a", [OPENFIELD_VIDEO], working_directory=tmp_path / "one",
                             copy_videos=True)
    moved = tmp_path / "two" / "elsewhere"
    moved.parent.mkdir()
    shutil.move(str(project.root), moved)
    shutil.rmtree(tmp_path / "one")
    reopened = open_project(moved)
    assert reopened.videos() == [moved / "videos" / "m3v1mp4.mp4"]
    assert reopened.root == moved.resolve()


def test_create_refuses_existing_folder_and_bad_names(tmp_path: Path) -> None:
    create_project("m", "a", [OPENFIELD_VIDEO], working_directory=tmp_path)
    with pytest.raises(ProjectError, match="already exists"):
        create_project("m", "a", [OPENFIELD_VIDEO], working_directory=tmp_path)
    with pytest.raises(ProjectError, match="folder name"):
        create_project("m/x", "a", [OPENFIELD_VIDEO], working_directory=tmp_path)
    with pytest.raises(ProjectError, match="at least one individual"):
        create_project("z", "a", [OPENFIELD_VIDEO], working_directory=tmp_path, individuals=[])


def test_create_with_missing_or_bad_video_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nope.mp4"):
        create_project("m", "a", [tmp_path / "nope.mp4"], working_directory=tmp_path / "w")
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(VideoError, match="fake.mp4"):
        create_project("m", "a", [fake], working_directory=tmp_path / "w")
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())


def test_add_videos_refuses_name_clash(tmp_path: Path) -> None:
    project = create_project("m", "a", [OPENFIELD_VIDEO], working_directory=tmp_path)
    add_videos(project, [OPENFIELD_VIDEO])  # adding the same video again is harmless
    other = tmp_path / "other" / "m3v1mp4.mp4"
    other.parent.mkdir()
    shutil.copy(OPENFIELD_VIDEO, other)
    with pytest.raises(ProjectError, match="different video named m3v1mp4.mp4"):
        add_videos(project, [other])
    assert len(open_project(project.root).config.video_sets) == 1


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a project: it has no config.yaml"):
        open_project(tmp_path)
    with pytest.raises(MissingFileError, match="does not exist"):
        open_project(tmp_path / "missing")


def test_invalid_config_values_are_named(tmp_path: Path) -> None:
    text = (OPENFIELD / "config.yaml").read_text()
    (tmp_path / "config.yaml").write_text(text.replace("pcutoff: 0.4", "pcutoff: 4"))
    with pytest.raises(ProjectError, match="pcutoff"):
        open_project(tmp_path)
    (tmp_path / "config.yaml").write_text(text.replace("skeleton: []", "skeleton: [[snout, paw]]"))
    with pytest.raises(ProjectError, match="paw"):
        open_project(tmp_path)
    (tmp_path / "config.yaml").write_text("bodyparts: [a, b\n")
    with pytest.raises(ProjectError, match="not valid YAML"):
        open_project(tmp_path)


def test_label_file_bodyparts_must_match_config(openfield_copy: Path) -> None:
    text = (openfield_copy / "config.yaml").read_text()
    (openfield_copy / "config.yaml").write_text(text.replace("- tailbase", "- tailtip"))
    with pytest.raises(LabelFileError, match=r"CollectedData_Pranav.h5.*tailbase.*tailtip"):
        load_project_labels(open_project(openfield_copy))


def test_bodypart_order_follows_config(openfield_copy: Path) -> None:
    text = (openfield_copy / "config.yaml").read_text()
    (openfield_copy / "config.yaml").write_text(
        text.replace("- snout\n- leftear", "- leftear\n- snout"))
    labels = load_project_labels(open_project(openfield_copy))
    original = read_labels(OPENFIELD / "labeled-data/m4s1/CollectedData_Pranav.h5")
    assert labels.bodyparts[:2] == ["leftear", "snout"]
    np.testing.assert_array_equal(labels.points[:, :, 0], original.points[:, :, 1])


def test_missing_labeled_image_is_named(openfield_copy: Path) -> None:
    (openfield_copy / "labeled-data/m4s1/img0003.png").unlink()
    with pytest.raises(MissingFileError, match="img0003.png"):
        load_project_labels(open_project(openfield_copy))


def test_multi_animal_file_in_single_animal_project(openfield_copy: Path) -> None:
    labels = read_labels(DLC_FIXTURES / "labeled-data/video/madlc_testdata.csv")
    write_labels(labels, openfield_copy / "labeled-data/video/CollectedData_Pranav.h5")
    with pytest.raises(LabelFileError, match="multi-animal label file.*single-animal project"):
        load_project_labels(open_project(openfield_copy))
