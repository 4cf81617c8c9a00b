"""Labeled videos and trajectory plots."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from posekit.io.predictions import Predictions
from posekit.io.video import VideoReader
from posekit.viz.colors import bodypart_colors
from posekit.viz.labeled_video import DrawStyle, create_labeled_video, draw_keypoints
from posekit.viz.plots import frame_jumps, plot_trajectories


def test_keypoints_drawn_in_their_color_and_hidden_below_cutoff() -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    points = np.array([[[10, 20, 0.9], [40, 20, 0.1], [np.nan, np.nan, np.nan]]])
    drawn = draw_keypoints(frame, points, ["a", "b", "c"], DrawStyle(pcutoff=0.5, dot_radius=3))
    colors = bodypart_colors(3, "rainbow")
    np.testing.assert_array_equal(drawn[20, 10], colors[0])
    assert not drawn[17:24, 37:44].any()  # below the cutoff: hidden
    assert not frame.any()  # the input is untouched
    faded = draw_keypoints(frame, points, ["a", "b", "c"],
                           DrawStyle(pcutoff=0.5, dot_radius=3, fade_below_cutoff=True))
    assert faded[17:24, 37:44].any() and not faded[20, 40].any()  # hollow circle


def test_skeleton_edge_drawn_between_visible_points() -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    points = np.array([[[10, 20, 0.9], [50, 20, 0.9]]])
    drawn = draw_keypoints(frame, points, ["a", "b"], DrawStyle(dot_radius=2,
                                                                skeleton=(("a", "b"),)))
    assert drawn[20, 30].any()


def test_labeled_video_has_every_frame(tmp_path: Path) -> None:
    source = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 24))
    for _ in range(7):
        writer.write(np.full((24, 32, 3), 40, np.uint8))
    writer.release()
    data = np.tile(np.array([16.0, 12.0, 0.95]), (7, 1, 1, 1))
    pred = Predictions(data=data, bodyparts=["nose"])
    out = create_labeled_video(source, pred, tmp_path / "out.mp4", style=DrawStyle(dot_radius=3))
    with VideoReader(out) as reader:
        frames = [frame for _, frame in reader]
    assert len(frames) == 7
    assert frames[3][12, 16].max() > 120 and frames[3][2, 2].max() < 80


def test_trajectory_plots_written(tmp_path: Path) -> None:
    t = np.linspace(0, 6, 100)
    data = np.stack([np.stack([100 + 50 * np.cos(t), 100 + 50 * np.sin(t),
                               np.full_like(t, 0.9)], axis=1)] * 2, axis=1)[:, None]
    paths = plot_trajectories(Predictions(data=data, bodyparts=["a", "b"]), tmp_path / "plots")
    assert [p.name for p in paths] == ["trajectories.png", "likelihood.png", "jumps.png"]
    assert all(cv2.imread(str(p)) is not None for p in paths)


def test_frame_jumps() -> None:
    data = np.zeros((3, 1, 1, 3))
    data[1, 0, 0, :2] = [3, 4]
    data[2, 0, 0, :2] = np.nan
    jumps = frame_jumps(data)
    assert jumps.shape == (2, 1, 1) and jumps[0, 0, 0] == 5 and np.isnan(jumps[1, 0, 0])
