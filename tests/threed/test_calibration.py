"""Calibration: bundle adjustment and the full pipeline recover known cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threed.threed_scene import (
    board_views,
    facing_board_poses,
    make_cameras,
    render_calibration_folder,
)

from posekit.errors import CalibrationError, MissingFileError
from posekit.threed.boards import Board, Detection
from posekit.threed.bundle import Observations, bundle_adjust
from posekit.threed.calibfile import Calibration, read_calibration
from posekit.threed.calibration import CalibrationOptions, calibrate, calibrate_views
from posekit.threed.cameras import Camera, rodrigues_to_matrix

BOARD = Board("charuco", 6, 8, 30.0, 22.0, "DICT_4X4_50")
BIG = Board("charuco", 8, 11, 40.0, 30.0, "DICT_4X4_100")  # covers more of the image


def _relative(calib: Calibration, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    ca, cb = calib.cameras[a], calib.cameras[b]
    rot = cb.rotation_matrix @ ca.rotation_matrix.T
    return rot, cb.translation - rot @ ca.translation


def _assert_same_rig(got: Calibration, truth: Calibration, *, deg: float, rel: float) -> None:
    for k in range(1, len(truth.cameras)):
        r1, t1 = _relative(got, 0, k)
        r2, t2 = _relative(truth, 0, k)
        angle = np.degrees(np.arccos(np.clip((np.trace(r1.T @ r2) - 1) / 2, -1, 1)))
        assert angle < deg, (truth.cameras[k].name, angle)
        assert np.linalg.norm(t1 - t2) < rel * np.linalg.norm(t2), (t1, t2)


def _observations(views, board: Board):  # noqa: ANN001, ANN202
    cam, view, obj, pix = [], [], [], []
    for c, name in enumerate(views.cameras):
        for key, det in views.detections[name].items():
            cam += [c] * len(det)
            view += [key] * len(det)
            obj.append(board.object_points[det.ids])
            pix.append(det.corners)
    return Observations(np.array(cam), np.array(view), np.concatenate(obj),
                        np.concatenate(pix))


def test_bundle_adjustment_recovers_known_extrinsics() -> None:
    truth = make_cameras(4)
    views, poses = board_views(BOARD, truth, 12, noise=0.3)
    rng = np.random.default_rng(7)
    start = [truth.cameras[0]] + [
        Camera(c.name, c.size, c.matrix, c.distortions, c.rotation + rng.normal(0, 0.05, 3),
               c.translation * rng.uniform(0.9, 1.1, 3)) for c in truth.cameras[1:]]
    view_r = np.array([p[0] for p in poses]) + rng.normal(0, 0.05, (12, 3))
    view_t = np.array([p[1] for p in poses]) + rng.normal(0, 20, (12, 3))
    result = bundle_adjust(start, _observations(views, BOARD), view_r, view_t)
    for got, want in zip(result.cameras, truth.cameras, strict=True):
        angle = np.degrees(np.linalg.norm(got.rotation - want.rotation))
        assert angle < 0.05
        assert np.linalg.norm(got.translation - want.translation) < 0.5  # mm, of ~1000
    assert np.median(result.errors) < 0.5 and result.inliers.all()


def test_calibrate_views_end_to_end_with_noise() -> None:
    names = ["cam10", "cam2", "cam1"]
    truth = make_cameras(names=names)
    views, _ = board_views(BIG, truth, 25, noise=0.2, spread=250)
    result = calibrate_views(views, BIG)
    assert result.calibration.names == names
    np.testing.assert_allclose(result.calibration.cameras[0].rotation, 0, atol=1e-12)
    _assert_same_rig(result.calibration, truth, deg=0.2, rel=0.01)
    for got, want in zip(result.calibration.cameras, truth.cameras, strict=True):
        np.testing.assert_allclose(got.matrix[[0, 1], [0, 1]], want.matrix[[0, 1], [0, 1]],
                                   rtol=0.01)
    for report in result.cameras:
        assert report.median_error < 0.5 and report.n_views_used >= 20
    assert "cam10" in result.table()


def test_calibration_survives_a_camera_giving_garbage() -> None:
    truth = make_cameras(4)
    views, _ = board_views(BIG, truth, 25, noise=0.2, spread=250)
    rng = np.random.default_rng(3)
    dets = views.detections["cam3"]
    for key in list(dets)[:4]:  # board seen upside down: ids reversed (PnP still fits)
        det = dets[key]
        dets[key] = Detection(BIG.n_corners - 1 - det.ids, det.corners)
    key = list(dets)[5]  # and one view of pure noise
    dets[key] = Detection(dets[key].ids, rng.uniform(0, 1000, dets[key].corners.shape))
    result = calibrate_views(views, BIG, options=CalibrationOptions(refine_intrinsics=True))
    _assert_same_rig(result.calibration, truth, deg=0.3, rel=0.01)
    assert all(r.median_error < 0.5 for r in result.cameras)


def test_cameras_with_too_few_or_no_boards_are_named() -> None:
    truth = make_cameras(3)
    views, _ = board_views(BOARD, truth, 8)
    views.detections["cam1"] = {}
    views.detections["cam2"] = dict(list(views.detections["cam2"].items())[:3])
    with pytest.raises(CalibrationError,
                       match=r"camera\(s\) 'cam1' \(0 of 8 frames\), 'cam2' \(3 of 8"):
        calibrate_views(views, BOARD)


def test_camera_not_connected_to_the_others_is_named() -> None:
    truth = make_cameras(3)
    views, _ = board_views(BOARD, truth, 16)
    views.detections["cam2"] = {k + 100: d for k, d in views.detections["cam2"].items()}
    with pytest.raises(CalibrationError, match=r"Camera\(s\) \['cam2'\] share fewer"):
        calibrate_views(views, BOARD)


def test_calibrate_from_rendered_images(tmp_path: Path) -> None:
    truth = make_cameras(names=["top", "side", "front"], size=(800, 600), focal=900,
                         radius=500, height=(700, 900), distortion=False)
    poses = facing_board_poses(BIG, 9, spread=120)
    render_calibration_folder(tmp_path / "calib", BIG, truth, poses)
    (tmp_path / "calib" / "side" / "notes.txt").write_text("not an image")
    board_file = tmp_path / "board.toml"
    board_file.write_text('type = "charuco"\ncolumns = 8\nrows = 11\nsquare_size = 40.0\n'
                          'marker_size = 30.0\ndictionary = "DICT_4X4_100"\n')
    result = calibrate(tmp_path / "calib", board_file, cameras=["top", "side", "front"],
                       options=CalibrationOptions(distortion="none"))
    assert result.path == tmp_path / "calib" / "calibration.toml"
    written = read_calibration(result.path)
    assert written.names == ["top", "side", "front"]
    _assert_same_rig(written, truth, deg=0.3, rel=0.01)
    assert all(r.median_error < 0.3 and r.n_detected >= 8 for r in result.cameras)
    assert written.metadata["board"]["dictionary"] == "DICT_4X4_100"


def test_calibrate_flat_folder_and_bad_folders(tmp_path: Path) -> None:
    truth = make_cameras(names=["left", "right"], size=(800, 600), focal=900, radius=400,
                         height=(700, 800), distortion=False)
    render_calibration_folder(tmp_path / "flat", BIG, truth,
                              facing_board_poses(BIG, 8, spread=120), flat=True)
    result = calibrate(tmp_path / "flat", BIG, output=tmp_path / "out" / "c.toml",
                       options=CalibrationOptions(distortion="none"))
    assert result.calibration.names == ["left", "right"]
    _assert_same_rig(result.calibration, truth, deg=0.3, rel=0.01)
    with pytest.raises(MissingFileError, match="does not exist"):
        calibrate(tmp_path / "nowhere", BOARD)
    with pytest.raises(CalibrationError, match=r"camera\(s\) \['middle'\]"):
        calibrate(tmp_path / "flat", BOARD, cameras=["left", "middle"])
    wrong = Board("charuco", 8, 11, 40.0, 30.0, "DICT_5X5_100")  # boards never detected
    with pytest.raises(CalibrationError, match=r"'left' \(0 of 8 frames\)"):
        calibrate(tmp_path / "flat", wrong)


@pytest.mark.parametrize("kwargs", [{"distortion": "wavy"}, {"loss": "l0"}, {"min_views": 0},
                                    {"f_scale": 0}])
def test_bad_calibration_options(kwargs: dict) -> None:
    with pytest.raises(CalibrationError):
        CalibrationOptions(**kwargs)


def test_rodrigues_world_frame_is_first_camera() -> None:
    truth = make_cameras(3, seed=5)
    views, _ = board_views(BOARD, truth, 15, noise=0.1)
    calib = calibrate_views(views, BOARD).calibration
    assert np.allclose(rodrigues_to_matrix(calib.cameras[0].rotation), np.eye(3))
    assert np.allclose(calib.cameras[0].translation, 0)


def test_fisheye_cameras() -> None:
    truth = make_cameras(3, fisheye=True)
    views, _ = board_views(BIG, truth, 20, noise=0.2, spread=250)
    result = calibrate_views(views, BIG, options=CalibrationOptions(fisheye=True))
    assert all(c.fisheye and c.distortions.shape == (4,) for c in result.calibration.cameras)
    _assert_same_rig(result.calibration, truth, deg=0.3, rel=0.01)
    assert all(r.median_error < 0.5 for r in result.cameras)


def test_intrinsics_taken_from_an_existing_calibration(tmp_path: Path) -> None:
    from posekit.threed.calibfile import write_calibration

    truth = make_cameras(3)
    views, _ = board_views(BIG, truth, 12, noise=0.2, spread=250)
    path = write_calibration(truth, tmp_path / "intrinsics.toml")
    result = calibrate_views(views, BIG, options=CalibrationOptions(intrinsics=path))
    for got, want in zip(result.calibration.cameras, truth.cameras, strict=True):
        np.testing.assert_array_equal(got.matrix, want.matrix)
        np.testing.assert_array_equal(got.distortions, want.distortions)
    _assert_same_rig(result.calibration, truth, deg=0.1, rel=0.005)
    views.cameras[2] = "camX"
    views.detections["camX"] = views.detections.pop("cam2")
    with pytest.raises(CalibrationError, match="No camera 'camX'"):
        calibrate_views(views, BIG, options=CalibrationOptions(intrinsics=path))
