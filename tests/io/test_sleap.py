"""Importing SLEAP .slp labels into a project (posekit.io.sleap)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import sleap_io as sio
from fixture_paths import TEST_DATA

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.labels import read_labels, write_labels
from posekit.io.sleap import import_slp
from posekit.io.video import VideoReader
from posekit.project import create_project, open_project

SLEAP = TEST_DATA / "sleap"
CLIP_SLP = SLEAP / "clip.slp"
CLIP_MP4 = SLEAP / "clip.mp4"
NODES = ["head", "thorax", "abdomen", "wingL", "wingR", "forelegL4", "forelegR4", "midlegL4",
         "midlegR4", "hindlegL4", "hindlegR4", "eyeL", "eyeR"]


@pytest.fixture(scope="module")
def clip() -> sio.Labels:
    """The fixture's labels, read by sleap-io directly (the reference for values)."""
    return sio.load_slp(str(CLIP_SLP), open_videos=False)


def reference(clip: sio.Labels, frame: int) -> dict[str, np.ndarray]:
    """Track name -> (13, 2) points of the user instances of ``frame``."""
    labeled = next(lf for lf in clip.labeled_frames if lf.frame_idx == frame)
    return {inst.track.name: inst.numpy() for inst in labeled.user_instances}


def new_project(tmp_path: Path, **kwargs):
    return create_project("flies", "ann", [], working_directory=tmp_path, **kwargs)


def write_slp(path: Path, frames: dict[int, list[tuple[np.ndarray, str | None, bool]]], *,
              video: str = str(CLIP_MP4), nodes: list[str] | None = None) -> Path:
    """A small .slp: frame index -> [(points (K, 2), track name or None, predicted?)]."""
    skeleton = sio.Skeleton(nodes=nodes or NODES)
    sleap_video = sio.Video(filename=video, open_backend=False)
    tracks: dict[str, sio.Track] = {}
    labeled = []
    for index, instances in frames.items():
        made = []
        for points, track, predicted in instances:
            track_obj = tracks.setdefault(track, sio.Track(name=track)) if track else None
            if predicted:
                made.append(sio.PredictedInstance.from_numpy(points, skeleton=skeleton,
                                                             score=0.9, track=track_obj))
            else:
                made.append(sio.Instance.from_numpy(points, skeleton=skeleton, track=track_obj))
        labeled.append(sio.LabeledFrame(video=sleap_video, frame_idx=index, instances=made))
    labels = sio.Labels(labeled_frames=labeled, videos=[sleap_video], skeletons=[skeleton],
                        tracks=list(tracks.values()))
    sio.save_slp(labels, str(path), verbose=False)
    return path


def points(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(10, 1000, (len(NODES), 2)).round(2)


def test_imports_user_labels_with_tracks_as_individuals(tmp_path: Path, clip) -> None:
    project = new_project(tmp_path, individuals=["female", "male"])
    written = import_slp(project, CLIP_SLP, frames=range(5))
    folder = project.labeled_data_dir / "clip"
    assert written == [folder / "CollectedData_ann.h5"]
    config = open_project(project.root).config
    assert config.pose_bodyparts == NODES
    assert ("head", "eyeL") in config.edges and len(config.edges) == 12
    labels = read_labels(written[0])
    assert labels.images == [f"labeled-data/clip/img{i:04d}.png" for i in range(5)]
    for row, frame in enumerate(range(5)):
        expected = reference(clip, frame)
        np.testing.assert_array_equal(labels.points[row, 0], expected["female"])
        np.testing.assert_array_equal(labels.points[row, 1], expected["male"])
    with VideoReader(CLIP_MP4) as reader:
        video_frame = reader.read(3)
    png = cv2.cvtColor(cv2.imread(str(folder / "img0003.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(png, video_frame)


def test_max_frames_spreads_over_the_labeled_frames(tmp_path: Path) -> None:
    project = new_project(tmp_path, individuals=["female", "male"])
    labels = read_labels(import_slp(project, CLIP_SLP, frames=range(20), max_frames=3)[0])
    assert labels.images == ["labeled-data/clip/img0000.png", "labeled-data/clip/img0010.png",
                             "labeled-data/clip/img0019.png"]
    assert sorted(p.name for p in (project.labeled_data_dir / "clip").glob("*.png")) == \
        ["img0000.png", "img0010.png", "img0019.png"]


def test_predicted_instances_are_left_out_and_untracked_get_a_free_individual(
        tmp_path: Path) -> None:
    slp = write_slp(tmp_path / "mixed.slp", {
        2: [(points(1), None, False), (points(2), "female", False), (points(3), None, True)],
        4: [(points(4), None, False)],
        6: [(points(5), "male", True)],  # predictions only: not imported
    })
    project = new_project(tmp_path, individuals=["female", "male", "third"])
    labels = read_labels(import_slp(project, slp)[0])
    assert labels.images == ["labeled-data/clip/img0002.png", "labeled-data/clip/img0004.png"]
    np.testing.assert_array_equal(labels.points[0, 0], points(2))  # tracked female
    np.testing.assert_array_equal(labels.points[0, 1], points(1))  # untracked: first free
    assert np.isnan(labels.points[0, 2]).all()
    np.testing.assert_array_equal(labels.points[1, 0], points(4))
    assert not (project.labeled_data_dir / "clip" / "img0006.png").exists()


def test_single_animal_project(tmp_path: Path) -> None:
    one = write_slp(tmp_path / "one.slp", {1: [(points(1), "female", False)]})
    project = new_project(tmp_path)
    labels = read_labels(import_slp(project, one)[0])
    assert not labels.multi_animal
    np.testing.assert_array_equal(labels.points[0, 0], points(1))
    two = write_slp(tmp_path / "two.slp", {0: [(points(1), "female", False),
                                                (points(2), "male", False)]})
    with pytest.raises(LabelFileError, match=r"img0000\.png holds 2 .*multi-animal"):
        import_slp(open_project(project.root), two)


def test_tracks_must_be_individuals_of_the_config(tmp_path: Path) -> None:
    slp = write_slp(tmp_path / "two.slp", {0: [(points(1), "female", False),
                                                (points(2), "male", False)]})
    project = new_project(tmp_path, individuals=["fly1", "fly2"])
    with pytest.raises(LabelFileError, match=r"tracks \['female', 'male'\] are not individuals"):
        import_slp(project, slp)
    assert not (project.labeled_data_dir / "clip").exists()


def test_skeleton_must_match_the_config_bodyparts(tmp_path: Path) -> None:
    slp = write_slp(tmp_path / "one.slp", {0: [(points(1), "female", False)]})
    project = new_project(tmp_path, bodyparts=["nose", "tail"], individuals=["female", "male"])
    with pytest.raises(LabelFileError, match="wingL"):
        import_slp(project, slp)


def test_existing_frames_and_labels_are_kept(tmp_path: Path, clip,
                                             caplog: pytest.LogCaptureFixture) -> None:
    project = new_project(tmp_path, individuals=["female", "male"])
    h5 = import_slp(project, CLIP_SLP, frames=[0, 1])[0]
    edited = read_labels(h5)
    edited.points[1, 0, 0] = [1.5, 2.5]  # a person moved female's head in frame 1
    write_labels(edited, h5)
    folder = project.labeled_data_dir / "clip"
    marker = np.zeros((1024, 1024, 3), np.uint8)
    cv2.imwrite(str(folder / "img0003.png"), marker)  # extracted earlier, unlabeled
    before = (folder / "img0003.png").read_bytes()
    with caplog.at_level(logging.WARNING):
        import_slp(open_project(project.root), CLIP_SLP, frames=[1, 2, 3])
    labels = read_labels(h5)
    assert labels.images == [f"labeled-data/clip/img{i:04d}.png" for i in range(4)]
    np.testing.assert_array_equal(labels.points[1, 0, 0], [1.5, 2.5])
    np.testing.assert_array_equal(labels.points[3, 1], reference(clip, 3)["male"])
    assert (folder / "img0003.png").read_bytes() == before
    assert "img0001.png" in caplog.text and "existing labels are kept" in caplog.text


def test_frames_keep_the_names_of_frames_extracted_with_other_padding(tmp_path: Path) -> None:
    project = new_project(tmp_path, individuals=["female", "male"])
    folder = project.labeled_data_dir / "clip"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "img002.png"), np.zeros((8, 8, 3), np.uint8))
    labels = read_labels(import_slp(project, CLIP_SLP, frames=[2, 3])[0])
    assert labels.images == ["labeled-data/clip/img002.png", "labeled-data/clip/img0003.png"]


def test_video_is_found_beside_the_slp_or_given(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy(CLIP_MP4, tmp_path / "data" / "clip.mp4")
    slp = write_slp(tmp_path / "data" / "moved.slp", {1: [(points(1), "female", False)]},
                    video="/old/machine/videos/clip.mp4")
    project = new_project(tmp_path, individuals=["female", "male"])
    assert import_slp(project, slp)[0].parent.name == "clip"
    elsewhere = write_slp(tmp_path / "elsewhere.slp", {1: [(points(1), "female", False)]},
                          video="/old/machine/videos/clip.mp4")
    with pytest.raises(MissingFileError, match="video="):
        import_slp(project, elsewhere)
    other = new_project(tmp_path / "other", individuals=["female", "male"])
    assert import_slp(other, elsewhere, video=tmp_path / "data" / "clip.mp4")


def test_missing_slp_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.slp does not exist"):
        import_slp(new_project(tmp_path), tmp_path / "nothere.slp")


def test_a_file_that_is_not_sleap(tmp_path: Path) -> None:
    text = tmp_path / "notes.slp"
    text.write_text("hello")
    with pytest.raises(LabelFileError, match="not a SLEAP .slp file"):
        import_slp(new_project(tmp_path), text)
    import h5py

    with h5py.File(tmp_path / "other.slp", "w") as handle:
        handle["data"] = [1, 2, 3]
    with pytest.raises(LabelFileError, match="cannot be read as a SLEAP"):
        import_slp(new_project(tmp_path / "p2"), tmp_path / "other.slp")


def test_bad_frame_choices(tmp_path: Path) -> None:
    project = new_project(tmp_path, individuals=["female", "male"])
    only_predictions = write_slp(tmp_path / "pred.slp", {1: [(points(1), "female", True)]})
    with pytest.raises(LabelFileError, match="no user-labeled instances"):
        import_slp(project, only_predictions)
    beyond = write_slp(tmp_path / "beyond.slp", {5000: [(points(1), "female", False)]})
    with pytest.raises(LabelFileError, match=r"frames \[5000\].*only 1500 frames"):
        import_slp(project, beyond)
    with pytest.raises(LabelFileError, match="max_frames must be a positive integer"):
        import_slp(project, beyond, max_frames=0)
    sparse = write_slp(tmp_path / "sparse.slp", {1: [(points(1), "female", False)]})
    with pytest.raises(LabelFileError, match=r"frames \[7\] of clip.mp4 have no user labels"):
        import_slp(project, sparse, frames=[7])
    assert not project.labeled_data_dir.joinpath("clip").exists()


def test_video_option_picks_one_video_of_several(tmp_path: Path) -> None:
    skeleton = sio.Skeleton(nodes=NODES)
    videos = [sio.Video(filename=str(CLIP_MP4), open_backend=False),
              sio.Video(filename="/missing/other.mp4", open_backend=False)]
    frames = [sio.LabeledFrame(video=video, frame_idx=1, instances=[
        sio.Instance.from_numpy(points(k), skeleton=skeleton)]) for k, video in enumerate(videos)]
    slp = tmp_path / "two_videos.slp"
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=videos, skeletons=[skeleton]),
                 str(slp), verbose=False)
    project = new_project(tmp_path, individuals=["female", "male"])
    with pytest.raises(MissingFileError, match="other.mp4"):
        import_slp(project, slp)
    assert not project.labeled_data_dir.joinpath("clip").exists()  # nothing written
    labels = read_labels(import_slp(project, slp, video=CLIP_MP4)[0])
    assert labels.images == ["labeled-data/clip/img0001.png"]
    np.testing.assert_array_equal(labels.points[0, 0], points(0))
    with pytest.raises(LabelFileError, match="no video named nope.mp4"):
        import_slp(project, slp, video=tmp_path / "nope.mp4")
