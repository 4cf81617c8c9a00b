"""check_calibration: flags the camera whose parameters are wrong."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_paths import TEST_DATA
from threed.threed_scene import make_cameras, predictions_for, random_points

from posekit.errors import CalibrationError
from posekit.threed.calibfile import Calibration
from posekit.threed.cameras import Camera, matrix_to_rodrigues, rodrigues_to_matrix
from posekit.threed.check import CheckOptions, check_calibration

MOUSE = TEST_DATA / "threed" / "mouse"
CAMS = ["back", "mid", "side", "top"]


def _corrupt(calib: Calibration, index: int, degrees: float) -> Calibration:
    cams = list(calib.cameras)
    c = cams[index]
    turn = rodrigues_to_matrix(np.radians(degrees) * np.array([0.0, 1.0, 0.0]))
    rot = matrix_to_rodrigues(turn @ c.rotation_matrix)
    # the camera turned about its own center (bumped), so translation turns as well
    cams[index] = Camera(c.name, c.size, c.matrix, c.distortions, rot, turn @ c.translation)
    return Calibration(cams)


def test_synthetic_rig_with_one_moved_camera() -> None:
    truth = make_cameras(4)
    pts = random_points(300).reshape(100, 3, 3)
    preds = predictions_for(truth, pts, ["a", "b", "c"], noise=0.5)
    good = check_calibration(truth, preds)
    assert good.flagged == []
    assert all(c.median_px < 2 for c in good.cameras)
    bad = check_calibration(_corrupt(truth, 2, 2.0), preds)
    assert bad.flagged == ["cam2"]
    assert "cam2" in bad.table() and "FLAGGED" in bad.table()


def test_arrays_of_points_and_two_cameras() -> None:
    truth = make_cameras(2)
    pts = random_points(50)
    arrays = {c.name: c.project(pts) for c in truth.cameras}
    assert check_calibration(truth, arrays).flagged == []
    both = check_calibration(_corrupt(truth, 1, 3.0), arrays)
    assert both.flagged == ["cam0", "cam1"]  # a pair cannot tell which one is wrong
    assert "cannot tell" in both.cameras[0].reason


def test_reference_file_side_camera_flagged_from_board_corners() -> None:
    corners = np.load(MOUSE / "board_corners.npz")
    result = check_calibration(MOUSE / "calibration.toml", {c: corners[c] for c in CAMS})
    assert result.flagged == ["side"]
    side = result.cameras[2]
    assert side.median_px > 50
    assert max(c.median_px for c in result.cameras if c.name != "side") < 3


def test_reference_file_side_camera_flagged_from_keypoints() -> None:
    files = {c: MOUSE / f"{c}.analysis.h5" for c in CAMS}
    result = check_calibration(MOUSE / "calibration.toml", files,
                               options=CheckOptions(pcutoff=0.0))
    assert result.flagged == ["side"]


def test_no_usable_points_and_bad_inputs() -> None:
    truth = make_cameras(3)
    empty = {c.name: np.full((5, 2), np.nan) for c in truth.cameras}
    with pytest.raises(CalibrationError, match="No point was seen"):
        check_calibration(truth, empty)
    with pytest.raises(CalibrationError, match="share a shape"):
        check_calibration(truth, {"cam0": np.zeros((5, 2)), "cam1": np.zeros((4, 2)),
                                  "cam2": np.zeros((5, 2))})
    with pytest.raises(CalibrationError, match=r"camera\(s\) \['camX'\]"):
        check_calibration(truth, {"camX": np.zeros((5, 2)), "cam1": np.zeros((5, 2))})
    preds = predictions_for(truth, random_points(6).reshape(2, 3, 3), ["a", "b", "c"])
    with pytest.raises(CalibrationError, match="not a mix"):
        check_calibration(truth, {"cam0": preds["cam0"], "cam1": np.zeros((2, 3, 2))})
