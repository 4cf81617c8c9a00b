"""extract_outlier_frames: PNGs + machinelabels-iter<N>.h5, never touching labeled frames."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from frames.video_factory import decode_index, write_indexed_video

from posekit.errors import LabelFileError, MissingFileError, VideoError
from posekit.frames.outliers import extract_outlier_frames, write_machine_labels
from posekit.io.labels import Labels
from posekit.io.predictions import Predictions, read_predictions, write_dlc_h5
from posekit.label.layout import Layout
from posekit.label.machine import read_machine_labels
from posekit.postprocess import OutlierOptions, PostprocessError
from posekit.project import Project, open_project
from posekit.project.labels import write_folder_labels

N_FRAMES = 40
BODYPARTS = ["a", "b", "c"]
SCORER = "DLC_resnet50_testJan1shuffle1_100"
JUMPS = (10, 20, 30)  # single-frame spikes of bodypart b: jump flags t and t + 1


@pytest.fixture(scope="module")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_indexed_video(tmp_path_factory.mktemp("v") / "vid.avi", N_FRAMES, codec="MJPG")


def make_pred(n_frames: int = N_FRAMES, bodyparts: list[str] = BODYPARTS) -> Predictions:
    t = np.arange(n_frames, dtype=float)
    data = np.empty((n_frames, 1, len(bodyparts), 3))
    for k in range(len(bodyparts)):
        data[:, 0, k, 0] = 20 + 2 * t + 10 * k
        data[:, 0, k, 1] = 30 + t
    data[..., 2] = 0.9
    for frame in JUMPS:
        if frame < n_frames:
            data[frame, 0, 1, :2] += 50.0
    return Predictions(data=data, bodyparts=bodyparts, scorer=SCORER, metadata={"fps": 30.0})


def write_analysis(video: Path, pred: Predictions) -> Path:
    h5 = write_dlc_h5(pred, video.with_name(f"{video.stem}{SCORER}.h5"))
    meta = h5.with_name(h5.stem + "_meta.json")
    meta.write_text(json.dumps({"scorer": SCORER, "complete": True}), encoding="utf-8")
    return h5


@pytest.fixture
def project(tmp_path: Path, video_file: Path) -> Project:
    root = tmp_path / "proj"
    (root / "videos").mkdir(parents=True)
    (root / "labeled-data").mkdir()
    video = root / "videos" / "vid.avi"
    video.write_bytes(video_file.read_bytes())
    (root / "config.yaml").write_text(
        f"Task: t\nscorer: tester\ndate: Jan1\nmultianimalproject: false\nproject_path: {root}"
        f"\nvideo_sets:\n  {video}:\n    crop: 0, 160, 0, 120\nbodyparts: {BODYPARTS}\n"
        "skeleton: []\npcutoff: 0.5\nnumframes2pick: 4\niteration: 2\n", encoding="utf-8")
    write_analysis(video, make_pred())
    return open_project(root)


def video_of(project: Project) -> Path:
    return project.videos_dir / "vid.avi"


def folder_of(project: Project) -> Path:
    return project.labeled_data_dir / "vid"


def read_png_index(path: Path) -> int:
    return decode_index(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def test_jump_frames_are_extracted_with_machine_labels(project: Project) -> None:
    written = extract_outlier_frames(project, video_of(project), method="jump", n=3)
    candidates = {10, 11, 20, 21, 30, 31}
    frames = [int(p.stem[3:]) for p in written]
    assert len(written) == 3 and set(frames) <= candidates and frames == sorted(frames)
    assert all(p.parent == folder_of(project) and p.name == f"img{f:02d}.png"
               for p, f in zip(written, frames, strict=True))
    assert [read_png_index(p) for p in written] == frames  # the right pixels
    machine = folder_of(project) / "machinelabels-iter2.h5"
    table = pd.read_hdf(machine, "df_with_missing")
    assert list(table.index) == [("labeled-data", "vid", p.name) for p in written]
    assert table.columns.names == ["scorer", "bodyparts", "coords"]
    assert set(table.columns.get_level_values(0)) == {SCORER}
    pred = make_pred()
    for row, frame in enumerate(frames):
        np.testing.assert_array_equal(table.iloc[row].to_numpy().reshape(3, 3),
                                      pred.data[frame, 0])
    assert machine.with_suffix(".csv").is_file()
    # the labeling app reads it
    app = read_machine_labels(machine, Layout.from_config(project.config))
    np.testing.assert_array_equal(app.frame(written[0].name), pred.data[frames[0], 0])


def test_thinning_is_reproducible_and_picks_candidates(project: Project, tmp_path: Path) -> None:
    options = OutlierOptions(frames=tuple(range(0, 40, 2)), seed=3)
    first = extract_outlier_frames(project, video_of(project), method="list", n=5,
                                   options=options)
    assert len(first) == 5 and all(int(p.stem[3:]) % 2 == 0 for p in first)
    for path in first:  # start over: the same seed picks the same frames
        path.unlink()
    (folder_of(project) / "machinelabels-iter2.h5").unlink()
    again = extract_outlier_frames(project, video_of(project), method="list", n=5,
                                   options=options)
    assert [p.name for p in again] == [p.name for p in first]


def test_default_n_is_numframes2pick(project: Project) -> None:
    written = extract_outlier_frames(project, video_of(project), method="jump")
    assert len(written) == 4


def test_labeled_frames_are_never_overwritten_nor_given_machine_labels(project: Project) -> None:
    folder = folder_of(project)
    folder.mkdir()
    sentinel = np.full((120, 160, 3), 77, np.uint8)
    cv2.imwrite(str(folder / "img10.png"), sentinel)
    labels = Labels(images=["labeled-data/vid/img10.png", "labeled-data/vid/img12.png"],
                    points=np.full((2, 1, 3, 2), 5.0), bodyparts=BODYPARTS,
                    individuals=["animal"], scorer="tester")
    write_folder_labels(project, "vid", labels)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    written = extract_outlier_frames(project, video_of(project), method="list", n=5,
                                     options=OutlierOptions(frames=(10, 11, 12, 13)))
    assert [p.name for p in written] == ["img11.png", "img13.png"]
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    table = pd.read_hdf(folder / "machinelabels-iter2.h5", "df_with_missing")
    assert [key[-1] for key in table.index] == ["img11.png", "img13.png"]
    assert not (folder / "img12.png").exists()


def test_second_run_adds_new_frames_and_keeps_earlier_rows(project: Project) -> None:
    first = extract_outlier_frames(project, video_of(project), method="list", n=2,
                                   options=OutlierOptions(frames=(3, 4)))
    second = extract_outlier_frames(project, video_of(project), method="list", n=3,
                                    options=OutlierOptions(frames=(4, 5, 6)))
    assert [p.name for p in first] == ["img03.png", "img04.png"]
    assert [p.name for p in second] == ["img05.png", "img06.png"]  # img04 already extracted
    table = pd.read_hdf(folder_of(project) / "machinelabels-iter2.h5", "df_with_missing")
    assert [key[-1] for key in table.index] == [f"img0{i}.png" for i in (3, 4, 5, 6)]


def test_machine_labels_merge_replaces_rows_of_the_same_image(tmp_path: Path) -> None:
    folder = tmp_path / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    old = make_pred()
    old.scorer = "older_model"
    write_machine_labels(old, [5, 6], ["img05.png", "img06.png"], folder, iteration=0)
    new = make_pred()
    new.data[..., :2] += 1000.0
    path = write_machine_labels(new, [5, 7], ["img05.png", "img07.png"], folder, iteration=0)
    table = pd.read_hdf(path, "df_with_missing")
    assert [key[-1] for key in table.index] == ["img05.png", "img06.png", "img07.png"]
    assert set(table.columns.get_level_values(0)) == {SCORER}  # one scorer in the file
    assert table.iloc[0, 0] == new.data[5, 0, 0, 0] and table.iloc[1, 0] == old.data[6, 0, 0, 0]
    other = make_pred(bodyparts=["x", "y", "z"])
    with pytest.raises(LabelFileError, match="other columns"):
        write_machine_labels(other, [1], ["img01.png"], folder, iteration=0)
    assert len(pd.read_hdf(path, "df_with_missing")) == 3  # the good file is kept


def test_multi_animal_machine_labels_have_an_individuals_level(tmp_path: Path) -> None:
    data = np.random.default_rng(0).random((5, 3, 2, 3))
    pred = Predictions(data=data, bodyparts=["A", "U"], individuals=["m1", "m2", "single"],
                       multi_animal=True, scorer="net", metadata={"unique_bodyparts": ["U"]})
    path = write_machine_labels(pred, [2], ["img2.png"], tmp_path / "v", iteration=1)
    table = pd.read_hdf(path, "df_with_missing")
    assert table.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert ("net", "single", "U", "likelihood") in table.columns
    assert ("net", "m1", "U", "x") not in table.columns
    frame = read_machine_labels(path, Layout(("m1", "m2"), ("A",), ("U",), True)).frame("img2.png")
    np.testing.assert_array_equal(frame, [data[2, 0, 0], data[2, 1, 0], data[2, 2, 1]])


# --------------------------------------------------------------------------- bad input


def test_analysis_of_another_project_is_refused(project: Project, tmp_path: Path) -> None:
    other = write_dlc_h5(make_pred(bodyparts=["nose", "ear", "tail"]), tmp_path / "other.h5")
    with pytest.raises(LabelFileError, match=r"\['nose', 'ear', 'tail'\].*\['a', 'b', 'c'\]"):
        extract_outlier_frames(project, video_of(project), analysis=other)
    assert not folder_of(project).exists()


def test_video_shorter_than_the_analysis_is_refused(project: Project, tmp_path: Path) -> None:
    longer = write_dlc_h5(make_pred(n_frames=60), tmp_path / "long.h5")
    with pytest.raises(VideoError, match="60 frames.*only 40"):
        extract_outlier_frames(project, video_of(project), analysis=longer)
    assert not folder_of(project).exists()


def test_video_longer_than_the_analysis_is_searched_where_analyzed(project: Project,
                                                                   tmp_path: Path,
                                                                   caplog) -> None:
    shorter = write_dlc_h5(make_pred(n_frames=25), tmp_path / "short.h5")
    with caplog.at_level(logging.WARNING):
        written = extract_outlier_frames(project, video_of(project), analysis=shorter, n=10)
    assert [p.name for p in written] == ["img10.png", "img11.png", "img20.png", "img21.png"]
    assert "covers 25 frames" in caplog.text


def test_more_outliers_asked_than_found_takes_all_with_a_warning(project: Project,
                                                                caplog) -> None:
    with caplog.at_level(logging.WARNING):
        written = extract_outlier_frames(project, video_of(project), method="jump", n=50)
    assert [int(p.stem[3:]) for p in written] == [10, 11, 20, 21, 30, 31]
    assert "Only 6 outlier frames were found (50 asked for)" in caplog.text


def test_no_candidates_writes_nothing(project: Project, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        written = extract_outlier_frames(project, video_of(project), method="uncertain")
    assert written == []
    assert "No outlier frames to extract from vid.avi with method 'uncertain'" in caplog.text
    assert "no frame is an outlier" in caplog.text
    assert not folder_of(project).exists()


def test_candidates_all_taken_writes_nothing(project: Project, caplog) -> None:
    options = OutlierOptions(frames=(3,))
    extract_outlier_frames(project, video_of(project), method="list", options=options)
    machine = folder_of(project) / "machinelabels-iter2.h5"
    before = machine.read_bytes()
    with caplog.at_level(logging.WARNING):
        assert extract_outlier_frames(project, video_of(project), method="list",
                                      options=options) == []
    assert "all 1 candidate frames are already extracted or labeled" in caplog.text
    assert machine.read_bytes() == before


def test_missing_analysis_and_bad_n_are_explained(project: Project, tmp_path: Path) -> None:
    with pytest.raises(PostprocessError, match="integer >= 1"):
        extract_outlier_frames(project, video_of(project), n=0)
    for path in project.videos_dir.glob("*.h5"):
        path.unlink()
    with pytest.raises(MissingFileError, match="posekit analyze"):
        extract_outlier_frames(project, video_of(project))


def test_default_analysis_is_the_newest_beside_the_video(project: Project) -> None:
    found = read_predictions(project.videos_dir / f"vid{SCORER}.h5")
    assert found.n_frames == N_FRAMES  # the fixture's analysis is what extraction reads
    written = extract_outlier_frames(project, video_of(project), method="list",
                                     options=OutlierOptions(frames=(39,)))
    assert [p.name for p in written] == ["img39.png"]


def test_analysis_of_another_recording_is_warned_about(project: Project, tmp_path: Path,
                                                       caplog) -> None:
    pred = make_pred()
    pred.metadata["video_sha1_head"] = "0" * 40
    analysis = write_dlc_h5(pred, tmp_path / "other_recording.h5")
    with caplog.at_level(logging.WARNING):
        written = extract_outlier_frames(project, video_of(project), analysis=analysis, n=1)
    assert len(written) == 1
    assert "first MiB differs" in caplog.text
