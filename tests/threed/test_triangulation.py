"""Triangulation against synthetic scenes with known 3D points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threed.threed_scene import make_cameras, predictions_for, random_points

from posekit.errors import CalibrationError, LabelFileError
from posekit.io.predictions import Predictions, write_dlc_h5
from posekit.threed.calibfile import write_calibration
from posekit.threed.geometry import smooth_time, triangulate_dlt, triangulate_ransac
from posekit.threed.points3d import read_points3d
from posekit.threed.triangulation import TriangulateOptions, triangulate, triangulate_points

BODYPARTS = ["nose", "ear_l", "ear_r", "tail"]


def _rays_pixels(calib, pts):  # noqa: ANN001, ANN202
    pixels = np.stack([c.project(pts) for c in calib.cameras], axis=1)
    rays = np.stack([c.undistort(pixels[:, k]) for k, c in enumerate(calib.cameras)], axis=1)
    return rays, pixels


@pytest.mark.parametrize("fisheye", [False, True])
def test_noise_free_triangulation_is_exact(fisheye: bool) -> None:
    calib = make_cameras(4, fisheye=fisheye)
    pts = random_points(500)
    pixels = np.stack([c.project(pts) for c in calib.cameras], axis=1)
    got, errors, used = triangulate_points(calib, pixels, np.full((500, 4), 0.8))
    assert np.abs(got - pts).max() < 1e-6
    assert np.nanmax(errors) < 1e-6 and used.all()
    # every pair of cameras alone gives the same answer
    ext = np.stack([c.extrinsic_matrix for c in calib.cameras])
    rays, _ = _rays_pixels(calib, pts)
    for a, b in [(0, 1), (1, 3), (2, 3)]:
        w = np.zeros((500, 4))
        w[:, [a, b]] = 1
        assert np.abs(triangulate_dlt(ext, rays, w) - pts).max() < 1e-6


def test_fewer_than_two_cameras_give_nan() -> None:
    calib = make_cameras(3)
    pts = random_points(10)
    pixels = np.stack([c.project(pts) for c in calib.cameras], axis=1)
    weights = np.ones((10, 3))
    weights[:5, 1:] = 0
    pixels[5:, 0] = np.nan
    pixels[5:, 1] = np.nan
    got, _, used = triangulate_points(calib, pixels, weights)
    assert np.isnan(got).all()
    assert not used.any()


def test_ransac_rejects_a_camera_giving_garbage() -> None:
    calib = make_cameras(5)
    pts = random_points(300)
    rays, pixels = _rays_pixels(calib, pts)
    rng = np.random.default_rng(5)
    pixels[:, 2] += rng.uniform(40, 300, (300, 2)) * rng.choice([-1, 1], (300, 2))
    rays[:, 2] = calib.cameras[2].undistort(pixels[:, 2])
    weights = np.ones((300, 5))
    plain = triangulate_dlt(np.stack([c.extrinsic_matrix for c in calib.cameras]), rays,
                            weights)
    assert np.abs(plain - pts).max() > 1  # the garbage camera spoils plain DLT
    got, used = triangulate_ransac(calib.cameras, rays, pixels, weights, threshold=10)
    assert np.abs(got - pts).max() < 1e-6
    assert not used[:, 2].any() and used[:, [0, 1, 3, 4]].all()


def test_likelihood_weights_and_pcutoff() -> None:
    calib = make_cameras(3)
    pts = random_points(100)
    pixels = np.stack([c.project(pts) for c in calib.cameras], axis=1)
    pixels[:, 1] += 3.0  # a small bias in camera 1
    w_low = np.array([1.0, 0.01, 1.0])
    ext = np.stack([c.extrinsic_matrix for c in calib.cameras])
    rays = np.stack([c.undistort(pixels[:, k]) for k, c in enumerate(calib.cameras)], axis=1)
    low = triangulate_dlt(ext, rays, np.tile(w_low, (100, 1)))
    even = triangulate_dlt(ext, rays, np.ones((100, 3)))
    assert np.abs(low - pts).max() < np.abs(even - pts).max() / 5


def _write_scene(tmp_path: Path, calib, preds):  # noqa: ANN001, ANN202
    cal_path = write_calibration(calib, tmp_path / "calibration.toml")
    files = {}
    for name, pred in preds.items():
        files[name] = write_dlc_h5(pred, tmp_path / f"{name}.h5")
    return cal_path, files


def test_triangulate_files_end_to_end(tmp_path: Path) -> None:
    calib = make_cameras(names=["cam10", "cam2", "cam1"])
    truth = random_points(40 * 4).reshape(40, 4, 3)
    preds = predictions_for(calib, truth, BODYPARTS)
    cal_path, files = _write_scene(tmp_path, calib, preds)
    out = tmp_path / "points3d.h5"
    result = triangulate(cal_path, files, output=out)
    assert result.cameras == ["cam10", "cam2", "cam1"]
    assert np.nanmax(np.abs(result.data[:, 0] - truth)) < 1e-6
    df = pd.read_hdf(out, "df_with_missing")
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(df.columns.get_level_values("coords")[:3]) == ["x", "y", "z"]
    assert list(dict.fromkeys(df.columns.get_level_values("bodyparts"))) == BODYPARTS
    assert df.shape == (40, 12) and list(df.index) == list(range(40))
    quality = pd.read_hdf(out, "quality")
    assert set(quality.columns.get_level_values("coords")) == {"reprojection_error",
                                                               "n_cameras"}
    back = read_points3d(out)
    np.testing.assert_allclose(back.data, result.data)
    assert (back.n_cameras == 3).all() and back.cameras == result.cameras
    assert np.nanmax(back.reprojection_error) < 1e-6
    summary = back.camera_summary()
    assert summary["cam2"]["n_points"] == 160 and summary["cam2"]["median_px"] < 1e-6


def test_frame_offsets_and_unequal_lengths(tmp_path: Path) -> None:
    calib = make_cameras(3)
    truth = random_points(30 * 2).reshape(30, 2, 3)
    preds = predictions_for(calib, truth, ["a", "b"])
    late = preds["cam1"]
    late.data = np.concatenate([np.full((5, 1, 2, 3), np.nan), late.data])  # 5 extra frames
    with pytest.raises(LabelFileError, match="different frame counts"):
        triangulate(calib, preds)
    result = triangulate(calib, preds, options=TriangulateOptions(frame_offsets={"cam1": 5}))
    assert result.n_frames == 30
    assert np.nanmax(np.abs(result.data[:, 0] - truth)) < 1e-6
    shortest = triangulate(calib, preds, options=TriangulateOptions(length_mismatch="shortest"))
    assert shortest.n_frames == 30
    longest = triangulate(calib, preds, options=TriangulateOptions(length_mismatch="longest"))
    assert longest.n_frames == 35
    with pytest.raises(CalibrationError, match="frame_offsets names"):
        triangulate(calib, preds, options=TriangulateOptions(frame_offsets={"camX": 1}))


def test_camera_names_must_match_the_calibration() -> None:
    calib = make_cameras(3)
    preds = predictions_for(calib, random_points(6).reshape(3, 2, 3), ["a", "b"])
    renamed = {"left": preds["cam0"], "cam1": preds["cam1"]}
    with pytest.raises(CalibrationError, match=r"camera\(s\) \['left'\].*cameras are"):
        triangulate(calib, renamed)
    with pytest.raises(CalibrationError, match="at least 2 cameras"):
        triangulate(calib, {"cam0": preds["cam0"]})
    # a calibration camera without a 2D file is simply not used
    result = triangulate(calib, {"cam2": preds["cam2"], "cam0": preds["cam0"]})
    assert result.cameras == ["cam0", "cam2"]


def test_nan_only_and_low_likelihood_keypoints(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    calib = make_cameras(3)
    truth = random_points(20 * 3).reshape(20, 3, 3)
    preds = predictions_for(calib, truth, ["a", "b", "c"])
    for p in preds.values():
        p.data[:, 0, 1] = np.nan  # "b" never detected
    preds["cam0"].data[:, 0, 2, 2] = 0.1  # "c" below p-cutoff in two cameras
    preds["cam1"].data[:, 0, 2, 2] = 0.1
    result = triangulate(calib, preds)
    assert np.isnan(result.data[:, 0, 1]).all() and (result.n_cameras[:, 0, 1] == 0).all()
    assert np.isnan(result.data[:, 0, 2]).all()
    assert np.isfinite(result.data[:, 0, 0]).all()
    assert result.metadata["never_triangulated"] == ["b", "c"]
    assert "never seen by 2 cameras" in caplog.text
    low = triangulate(calib, preds, options=TriangulateOptions(pcutoff=0.05))
    assert np.isfinite(low.data[:, 0, 2]).all()
    write_path = tmp_path / "p.h5"
    triangulate(calib, preds, output=write_path)
    assert np.isnan(read_points3d(write_path).data[:, 0, 1]).all()


def test_bodyparts_and_individuals_must_agree() -> None:
    calib = make_cameras(2)
    preds = predictions_for(calib, random_points(6).reshape(3, 2, 3), ["a", "b"])
    other = preds["cam1"]
    preds["cam1"] = Predictions(other.data, ["a", "z"], other.individuals, "s")
    with pytest.raises(LabelFileError, match="Bodyparts differ"):
        triangulate(calib, preds)
    two = np.concatenate([other.data, other.data], axis=1)
    preds["cam0"] = Predictions(two, ["a", "b"], ["m1", "m2"], "s", True)
    preds["cam1"] = Predictions(two, ["a", "b"], ["m1", "m3"], "s", True)
    with pytest.raises(LabelFileError, match="Individuals differ"):
        triangulate(calib, preds)


def test_multi_animal_output_has_individuals_level(tmp_path: Path) -> None:
    calib = make_cameras(3)
    truth = random_points(10 * 2 * 2).reshape(10, 2, 2, 3)
    preds = {}
    for name, p in predictions_for(calib, truth.reshape(10, 4, 3), ["a", "b", "c", "d"]
                                   ).items():
        data = p.data.reshape(10, 2, 2, 3)  # bodyparts a,b of m1 then a,b of m2
        preds[name] = Predictions(data[:, ::-1] if name == "cam1" else data, ["a", "b"],
                                  ["m2", "m1"] if name == "cam1" else ["m1", "m2"], "s", True)
    out = tmp_path / "multi.h5"
    result = triangulate(calib, preds, output=out)
    assert np.nanmax(np.abs(result.data - truth)) < 1e-6
    df = pd.read_hdf(out, "df_with_missing")
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert read_points3d(out).individuals == ["m1", "m2"]


def test_smoothing_reduces_noise() -> None:
    calib = make_cameras(3)
    t = np.linspace(0, 2 * np.pi, 200)
    truth = np.stack([100 * np.cos(t), 100 * np.sin(t), 20 * t], axis=-1)[:, None]
    preds = predictions_for(calib, truth, ["a"], noise=2.0)
    raw = triangulate(calib, preds)
    smooth = triangulate(calib, preds, options=TriangulateOptions(smooth_window=7))
    err = lambda r: np.nanmean(np.linalg.norm(r.data[:, 0] - truth, axis=-1))  # noqa: E731
    assert err(smooth) < 0.8 * err(raw)
    with pytest.raises(CalibrationError, match="odd"):
        TriangulateOptions(smooth_window=4)
    gaps = np.arange(10.0)[:, None].repeat(3, 1)
    gaps[4] = np.nan
    out = smooth_time(gaps, 3)
    assert np.isnan(out[4]).all() and out[5, 0] == 5.5


@pytest.mark.parametrize("kwargs", [{"length_mismatch": "cut"}, {"min_cameras": 1},
                                    {"ransac_threshold": 0}])
def test_bad_options(kwargs: dict) -> None:
    with pytest.raises((CalibrationError, LabelFileError)):
        TriangulateOptions(**kwargs)
