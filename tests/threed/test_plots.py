"""3D skeleton plot, 3D video, and reprojections drawn on a camera's video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from threed.threed_scene import make_cameras, predictions_for, random_points

from posekit.errors import CalibrationError, VideoError
from posekit.threed.plots import (
    ReprojectionOptions,
    Video3DOptions,
    plot_pose_3d,
    write_reprojection_video,
    write_video_3d,
)
from posekit.threed.points3d import write_points3d
from posekit.threed.triangulation import triangulate

BODYPARTS = ["nose", "neck", "tail"]
EDGES = [("nose", "neck"), ("neck", "tail")]


@pytest.fixture
def scene(tmp_path: Path):  # noqa: ANN201
    calib = make_cameras(3, size=(320, 240), focal=300)
    truth = random_points(6 * 3, spread=60).reshape(6, 3, 3)
    points = triangulate(calib, predictions_for(calib, truth, BODYPARTS))
    return calib, points, truth


def test_plot_pose_3d_draws_points_and_edges(scene, tmp_path: Path) -> None:  # noqa: ANN001
    _, points, _ = scene
    fig = plot_pose_3d(points, 2, edges=EDGES)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 1
    path = write_points3d(points, tmp_path / "p.h5")
    assert plot_pose_3d(path, 0, edges=[]).axes[0].get_title() == "frame 0"
    with pytest.raises(CalibrationError, match="out of range"):
        plot_pose_3d(points, 6)
    with pytest.raises(CalibrationError, match="bodyparts"):
        plot_pose_3d(points, 0, edges=[("nose", "paw")])


def test_write_video_3d(scene, tmp_path: Path) -> None:  # noqa: ANN001
    _, points, _ = scene
    out = write_video_3d(points, tmp_path / "v.mp4", edges=EDGES,
                         options=Video3DOptions(size=(200, 160), fps=10, rotate=5))
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) \
        == (200, 160)
    cap.release()
    assert list(tmp_path.glob(".v.mp4*")) == []  # no temporary file left behind
    with pytest.raises(CalibrationError, match="out of range"):
        write_video_3d(points, tmp_path / "w.mp4", frames=[0, 9])


def test_reprojection_video_marks_projected_points(scene, tmp_path: Path) -> None:  # noqa: ANN001
    calib, points, truth = scene
    video = tmp_path / "cam1.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(8):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    preds = predictions_for(calib, truth, BODYPARTS)["cam1"]
    out = write_reprojection_video(calib, points, video, tmp_path / "r.mp4", camera="cam1",
                                   points2d=preds, edges=EDGES,
                                   options=ReprojectionOptions(frame_offset=1))
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == 8
    assert frames[0].max() < 40  # frame 0 has no 3D frame (offset 1): left black
    xy = calib.camera("cam1").project(points.data[0, 0])
    green = frames[1][..., 1].astype(int) - frames[1][..., 2].astype(int)
    for x, y in np.round(xy).astype(int):
        if 2 <= x < 318 and 2 <= y < 238:
            assert green[y - 1:y + 2, x - 1:x + 2].max() > 100
    with pytest.raises(VideoError, match="Cannot open video"):
        write_reprojection_video(calib, points, tmp_path / "none.mp4", tmp_path / "x.mp4",
                                 camera="cam1")
    with pytest.raises(CalibrationError, match="No camera"):
        write_reprojection_video(calib, points, video, tmp_path / "x.mp4", camera="camZ")
