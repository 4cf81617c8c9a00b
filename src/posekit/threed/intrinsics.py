"""One camera's intrinsics from its board views, and board poses seen from a camera."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from posekit.errors import CalibrationError
from posekit.threed.boards import Board, Detection
from posekit.threed.cameras import Camera, rodrigues_to_matrix

logger = logging.getLogger(__name__)

DistortionModel = Literal["none", "radial", "standard", "full"]


@dataclass
class BoardPose:
    """Where the board was, seen from one camera: ``X_cam = R(rvec) X_board + tvec``."""

    rvec: np.ndarray
    tvec: np.ndarray
    error: float  # RMS reprojection error of this view, pixels


def _cv_points(board: Board, det: Detection) -> tuple[np.ndarray, np.ndarray]:
    obj = board.object_points[det.ids].astype(np.float32)
    img = det.corners.astype(np.float32)
    return obj, img


def _pinhole_flags(model: DistortionModel) -> int:
    import cv2

    flags = 0
    if model in ("none", "radial", "standard"):
        flags |= cv2.CALIB_FIX_K3
    if model in ("none", "radial"):
        flags |= cv2.CALIB_ZERO_TANGENT_DIST
    if model == "none":
        flags |= cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2
    return flags


def plausible_view(board: Board, det: Detection, *, tolerance: float = 0.05) -> bool:
    """Whether the corners fit a plane seen in perspective (a homography of the board).

    Lens distortion bends the grid a little; a wrong or garbled detection does not fit at
    all. The median misfit must stay under ``tolerance`` times the detection's extent.
    """
    import cv2

    obj = board.object_points[det.ids, :2]
    if len(obj) < 4:
        return False
    homography, _ = cv2.findHomography(obj, det.corners, 0)
    if homography is None:
        return False
    fitted = cv2.perspectiveTransform(obj.reshape(-1, 1, 2), homography).reshape(-1, 2)
    misfit = np.median(np.linalg.norm(fitted - det.corners, axis=1))
    extent = np.linalg.norm(det.corners.max(axis=0) - det.corners.min(axis=0))
    return bool(np.isfinite(misfit) and misfit <= tolerance * max(extent, 1.0))


def _select(views: list[Detection], max_views: int) -> list[int]:
    if len(views) <= max_views:
        return list(range(len(views)))
    return np.unique(np.linspace(0, len(views) - 1, max_views).round().astype(int)).tolist()


def _run_opencv(board: Board, views: list[Detection], size: tuple[int, int], *,
                fisheye: bool, model: DistortionModel) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    pairs = [_cv_points(board, v) for v in views]
    obj = [p[0] for p in pairs]
    img = [p[1] for p in pairs]
    if fisheye:
        flags = 0
        for flag in ("CALIB_RECOMPUTE_EXTRINSIC", "CALIB_FIX_SKEW", "CALIB_CHECK_COND"):
            # OpenCV 4 keeps the fisheye flags in cv2.fisheye, OpenCV 5 shares cv2's
            flags |= getattr(cv2.fisheye, flag, None) or getattr(cv2, flag)
        obj64 = [o.reshape(1, -1, 3).astype(np.float64) for o in obj]  # 1 x N, 3 channels
        img64 = [i.reshape(1, -1, 2).astype(np.float64) for i in img]
        criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-9)
        _, k, d, _, _ = cv2.fisheye.calibrate(obj64, img64, size, np.eye(3), np.zeros(4),
                                              flags=flags, criteria=criteria)
        return np.asarray(k, dtype=np.float64), np.asarray(d, dtype=np.float64).ravel()[:4]
    _, k, d, _, _ = cv2.calibrateCamera(obj, img, size, None, None,
                                        flags=_pinhole_flags(model))
    dist = np.zeros(5)
    dist[: min(5, d.size)] = np.asarray(d, dtype=np.float64).ravel()[:5]
    return np.asarray(k, dtype=np.float64), dist


def calibrate_intrinsics(board: Board, views: list[Detection], size: tuple[int, int], *,
                         name: str = "camera", fisheye: bool = False,
                         model: DistortionModel = "standard", max_views: int = 60,
                         outlier_px: float = 3.0) -> tuple[Camera, float]:
    """Camera matrix and distortion of one camera from its board detections.

    Views whose own reprojection error is more than ``outlier_px`` and 3 times the median
    are dropped once and the calibration repeated (a wrong detection spoils the lens model).

    Parameters
    ----------
    board : Board
    views : list of Detection
        At least 3 views at different angles.
    size : tuple of int
        Image (width, height).
    name : str
        Camera name, for messages and the result.
    fisheye : bool
        Fisheye lens model (4 coefficients) instead of pinhole.
    model : {"none", "radial", "standard", "full"}
        Pinhole distortion: none, k1 k2, k1 k2 p1 p2 (default), or k1 k2 p1 p2 k3.
    max_views : int
        At most this many views (evenly chosen) enter OpenCV's calibration.
    outlier_px : float
        See above.

    Returns
    -------
    camera : Camera
        Intrinsics set, at the origin (rotation and translation zero).
    rms : float
        RMS reprojection error (pixels) over the views used.
    """
    import cv2

    plausible = [v for v in views if plausible_view(board, v)]
    if len(plausible) < len(views):
        logger.info("camera %s: %d board views that do not fit a plane left out", name,
                    len(views) - len(plausible))
    if len(plausible) < 3:
        raise CalibrationError(f"Camera {name!r}: intrinsics need the board in at least 3 "
                               f"images, found {len(plausible)} usable of {len(views)}.")
    views = plausible
    chosen = [views[i] for i in _select(views, max_views)]
    for attempt in range(2):
        try:
            k, d = _run_opencv(board, chosen, size, fisheye=fisheye, model=model)
        except cv2.error as err:
            raise CalibrationError(
                f"Camera {name!r}: OpenCV could not calibrate from {len(chosen)} board views "
                f"({str(err).strip().splitlines()[-1]}); use more views at varied angles and "
                "distances, or another lens model.") from err
        camera = Camera(name, size, k, d, fisheye=fisheye)
        errors = np.array([_pose(board, v, camera).error for v in chosen])
        bad = (errors > outlier_px) & (errors > 3 * np.median(errors))
        if attempt == 1 or not bad.any() or len(chosen) - bad.sum() < 3:
            break
        logger.info("camera %s: %d board views with error > %.1f px left out of intrinsics",
                    name, int(bad.sum()), outlier_px)
        chosen = [v for v, b in zip(chosen, bad, strict=True) if not b]
    rms = float(np.sqrt(np.mean(errors**2)))
    return camera, rms


def _pose(board: Board, det: Detection, camera: Camera) -> BoardPose:
    import cv2

    obj = board.object_points[det.ids]
    norm = camera.undistort(det.corners)
    ok, rvec, tvec = cv2.solvePnP(obj, norm.reshape(-1, 1, 2), np.eye(3), None,
                                  flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        ok, rvec, tvec = cv2.solvePnP(obj, norm.reshape(-1, 1, 2), np.eye(3), None)
    if not ok:
        return BoardPose(np.zeros(3), np.zeros(3), float("inf"))
    rvec, tvec = rvec.ravel(), tvec.ravel()
    cam_pts = obj @ rodrigues_to_matrix(rvec).T + tvec
    if np.any(cam_pts[:, 2] <= 0):
        return BoardPose(rvec, tvec, float("inf"))
    err = camera.normalized_to_pixels(cam_pts[:, :2] / cam_pts[:, 2:]) - det.corners
    return BoardPose(rvec, tvec, float(np.sqrt(np.mean(np.sum(err**2, axis=1)))))


def board_poses(board: Board, detections: dict[Hashable, Detection], camera: Camera, *,
                max_error: float = 10.0) -> dict[Hashable, BoardPose]:
    """Board pose in every view of one camera (PnP on undistorted corners).

    Parameters
    ----------
    board : Board
    detections : dict
        Frame key -> Detection.
    camera : Camera
        With intrinsics.
    max_error : float
        Views whose RMS reprojection error exceeds this (pixels) are left out.

    Returns
    -------
    dict
        Frame key -> BoardPose, for the views that passed.
    """
    poses = {}
    for key, det in detections.items():
        pose = _pose(board, det, camera)
        if pose.error <= max_error:
            poses[key] = pose
        else:
            logger.info("camera %s: board pose of view %s rejected (%.1f px)", camera.name,
                        key, pose.error)
    return poses
