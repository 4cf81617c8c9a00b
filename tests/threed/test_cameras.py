"""Camera model: projection against OpenCV, undistortion round trips, bad parameters."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from threed.threed_scene import make_cameras, random_points

from posekit.errors import CalibrationError
from posekit.threed.cameras import Camera, matrix_to_rodrigues, rodrigues_to_matrix


def test_rodrigues_matches_opencv_including_tiny_angles() -> None:
    rng = np.random.default_rng(0)
    for rvec in [*rng.normal(0, 1.5, (20, 3)), np.zeros(3), np.array([1e-10, -2e-10, 0])]:
        expected, _ = cv2.Rodrigues(rvec)
        np.testing.assert_allclose(rodrigues_to_matrix(rvec), expected, atol=1e-12)
    batch = rng.normal(0, 1, (5, 3))
    assert rodrigues_to_matrix(batch).shape == (5, 3, 3)
    np.testing.assert_allclose(matrix_to_rodrigues(rodrigues_to_matrix(batch[0])), batch[0],
                               atol=1e-10)


@pytest.mark.parametrize("dist", [np.zeros(5), np.array([-0.2, 0.08, 0.002, -0.001, 0.01]),
                                  np.array([-0.2, 0.08, 0.002, -0.001]),
                                  np.array([0.1, 0.01, 0.001, 0.002, 0.0, 0.05, 0.01, 0.0])])
def test_pinhole_projection_matches_opencv(dist: np.ndarray) -> None:
    cam = make_cameras(1, names=["a"]).cameras[0]
    cam = Camera("a", cam.size, cam.matrix, dist, cam.rotation, cam.translation)
    pts = random_points(50)
    expected, _ = cv2.projectPoints(pts, cam.rotation, cam.translation, cam.matrix, dist)
    np.testing.assert_allclose(cam.project(pts), expected.reshape(-1, 2), atol=1e-8)


def test_fisheye_projection_matches_opencv() -> None:
    cam = make_cameras(2, fisheye=True).cameras[1]
    pts = random_points(50)
    expected, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), cam.rotation,
                                            cam.translation, cam.matrix, cam.distortions)
    np.testing.assert_allclose(cam.project(pts), expected.reshape(-1, 2), atol=1e-8)


@pytest.mark.parametrize("fisheye", [False, True])
def test_undistort_inverts_projection(fisheye: bool) -> None:
    cam = make_cameras(3, fisheye=fisheye).cameras[2]
    pts = random_points(200, spread=300)
    in_cam = cam.to_camera(pts)
    ideal = in_cam[:, :2] / in_cam[:, 2:]
    pixels = cam.project(pts)
    np.testing.assert_allclose(cam.undistort(pixels), ideal, atol=1e-11)
    pixels[3] = np.nan
    assert np.isnan(cam.undistort(pixels)[3]).all()
    assert cam.undistort(pixels.reshape(10, 20, 2)).shape == (10, 20, 2)


def test_points_behind_the_camera_project_to_nan() -> None:
    cam = make_cameras(1, names=["a"]).cameras[0]
    behind = cam.center + 2 * (cam.center - np.zeros(3))
    assert np.isnan(cam.project(behind[None])).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"matrix": np.eye(2)}, "matrix must have shape"),
    ({"matrix": [[0, 0, 1], [0, 1, 1], [0, 0, 1]]}, "positive focal"),
    ({"distortions": np.zeros(3)}, "distortion coefficients"),
    ({"rotation": [0, np.nan, 0]}, "NaN"),
    ({"translation": "abc"}, "must be numbers"),
    ({"distortions": np.zeros(5), "fisheye": True}, "expected 4 distortion"),
])
def test_bad_camera_parameters_raise(kwargs: dict, message: str) -> None:
    args = {"name": "cam", "size": (640, 480), "matrix": np.array(
        [[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])}
    args.update(kwargs)
    with pytest.raises(CalibrationError, match=message):
        Camera(**args)
