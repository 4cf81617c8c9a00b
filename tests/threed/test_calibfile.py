"""calibration.toml: anipose layout, camera order, round trips and malformed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tomli_w
from fixture_paths import TEST_DATA
from threed.threed_scene import make_cameras

from posekit.errors import CalibrationError, MissingFileError
from posekit.threed.calibfile import Calibration, read_calibration, write_calibration

MOUSE = TEST_DATA / "threed" / "mouse"


def test_round_trip_keeps_camera_order_and_values(tmp_path: Path) -> None:
    names = ["cam10", "cam2", "cam1", "top"]
    calib = make_cameras(names=names, fisheye=False)
    calib.cameras[1] = make_cameras(2, fisheye=True).cameras[1]
    calib.cameras[1].name = "cam2"
    calib.metadata = {"error": {"cam10": 0.5}, "n": np.int64(3), "skip": None}
    path = write_calibration(calib, tmp_path / "calibration.toml")
    text = path.read_text()
    assert text.index("[cam_0]") < text.index("[cam_1]")
    back = read_calibration(path)
    assert back.names == names
    for a, b in zip(calib.cameras, back.cameras, strict=True):
        np.testing.assert_array_equal(a.matrix, b.matrix)
        np.testing.assert_array_equal(a.distortions, b.distortions)
        np.testing.assert_array_equal(a.rotation, b.rotation)
        np.testing.assert_array_equal(a.translation, b.translation)
        assert a.size == b.size and a.fisheye == b.fisheye
    assert back.metadata == {"error": {"cam10": 0.5}, "n": 3}
    assert "fisheye = true" in text


def test_cam_tables_are_ordered_by_number_not_string(tmp_path: Path) -> None:
    calib = make_cameras(12)
    doc = {}
    for i in [10, 2, 11, 0, 1, 3, 4, 5, 6, 7, 8, 9]:
        cam = calib.cameras[i]
        doc[f"cam_{i}"] = {"name": cam.name, "size": list(cam.size),
                           "matrix": cam.matrix.tolist(),
                           "distortions": cam.distortions.tolist(),
                           "rotation": cam.rotation.tolist(),
                           "translation": cam.translation.tolist()}
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(doc))
    assert read_calibration(path).names == [f"cam{i}" for i in range(12)]


def test_reads_anipose_reference_file() -> None:
    calib = read_calibration(MOUSE / "calibration.toml")
    assert calib.names == ["back", "mid", "side", "top"]
    back = calib.camera("back")
    assert back.size == (1280, 1024)
    assert back.matrix[0, 0] == pytest.approx(769.8864926727645)
    assert back.distortions.shape == (5,)
    assert calib.subset(["top", "back"]).names == ["top", "back"]
    with pytest.raises(CalibrationError, match="No camera 'front'"):
        calib.camera("front")


def test_malformed_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        read_calibration(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[cam_0\nname = 1")
    with pytest.raises(CalibrationError, match="not valid TOML"):
        read_calibration(bad)
    bad.write_text("[metadata]\nx = 1\n")
    with pytest.raises(CalibrationError, match="no camera tables"):
        read_calibration(bad)
    bad.write_text('[cam_0]\nname = "a"\nsize = [640, 480]\n')
    with pytest.raises(CalibrationError, match=r"lacks \['matrix'"):
        read_calibration(bad)
    bad.write_text(
        '[cam_0]\nname = "a"\nsize = [640, 480]\nmatrix = [[1, 0], [0, 1]]\n'
        'distortions = [0, 0, 0, 0, 0]\nrotation = [0, 0, 0]\ntranslation = [0, 0, 0]\n')
    with pytest.raises(CalibrationError, match=r"\[cam_0\].*matrix must have shape"):
        read_calibration(bad)


def test_duplicate_or_no_cameras_rejected() -> None:
    cams = make_cameras(2).cameras
    cams[1].name = cams[0].name
    with pytest.raises(CalibrationError, match="unique"):
        Calibration(cams)
    with pytest.raises(CalibrationError, match="at least one camera"):
        Calibration([])
