"""Checking a calibration against 2D detections: ``posekit check-calibration``.

For each camera, every point it sees is triangulated from the *other* cameras (outlier
views rejected by consensus when three or more others see it) and reprojected into it; the
pixel distance is that camera's held-out error. A camera whose parameters are wrong (moved,
copied from another camera) has held-out errors far above the others, while the good
cameras stay low because the consensus rejects the bad one. A camera is flagged when its
median held-out error exceeds ``ratio`` times the median of the other cameras' medians and
``min_error_px``. With only two cameras the error cannot be attributed to one of them: both
get the plain reprojection error and are flagged together.

Points can be board corners (:func:`board_points` detects them in calibration images),
keypoints (2D prediction files) or arrays.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from posekit.errors import CalibrationError
from posekit.io.predictions import Predictions
from posekit.threed.boards import Board, read_board
from posekit.threed.calibfile import Calibration, read_calibration
from posekit.threed.geometry import reprojection_errors, triangulate_dlt, triangulate_ransac
from posekit.threed.sources import detect_views, find_calibration_media
from posekit.threed.triangulation import (
    _frame_range,
    _load_views,
    _match_cameras,
    _match_names,
    _stack,
)

logger = logging.getLogger(__name__)

PointsInput = str | os.PathLike[str] | Predictions | np.ndarray


@dataclass
class CheckOptions:
    """Options of :func:`check_calibration`.

    Attributes
    ----------
    pcutoff : float
        Keypoints below this likelihood are ignored (prediction files and (..., 3) arrays).
    ratio : float
        Flag a camera whose median error exceeds this multiple of the others' median.
    min_error_px : float
        ... and exceeds this many pixels.
    ransac_threshold : float
        Inlier distance (pixels) of the consensus among the other cameras.
    """

    pcutoff: float = 0.6
    ratio: float = 3.0
    min_error_px: float = 5.0
    ransac_threshold: float = 15.0


@dataclass
class CameraCheck:
    """Held-out reprojection error of one camera (pixels)."""

    name: str
    n_points: int
    median_px: float
    mean_px: float
    p90_px: float
    flagged: bool
    reason: str = ""


@dataclass
class CalibrationCheck:
    """Result of :func:`check_calibration`."""

    cameras: list[CameraCheck]

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged cameras."""
        return [c.name for c in self.cameras if c.flagged]

    def table(self) -> str:
        """Plain-text table, one camera per row."""
        head = f"{'camera':<12}{'points':>8}{'median px':>11}{'mean px':>10}{'p90 px':>9}  flag"
        rows = [f"{c.name:<12}{c.n_points:>8}{c.median_px:>11.2f}{c.mean_px:>10.2f}"
                f"{c.p90_px:>9.2f}  {'FLAGGED: ' + c.reason if c.flagged else 'ok'}"
                for c in self.cameras]
        return "\n".join([head, *rows])


def board_points(calib_dir: str | os.PathLike[str], board: Board | str | os.PathLike[str], *,
                 cameras: Sequence[str] | None = None, media: str = "auto",
                 video_frames: int = 200) -> dict[str, np.ndarray]:
    """Board corners detected in each camera's calibration images, matched by frame.

    Returns
    -------
    dict
        Camera -> array (n_views, n_corners, 2), NaN where a corner was not found.
    """
    board = board if isinstance(board, Board) else read_board(board)
    media_files = find_calibration_media(calib_dir, cameras, media=media)  # type: ignore[arg-type]
    views = detect_views(board, media_files, video_frames=video_frames)
    return views.as_points(board.n_corners)[1]


def _arrays(calib: Calibration, points: Mapping[str, PointsInput], pcutoff: float
            ) -> tuple[Calibration, np.ndarray, np.ndarray]:
    """Pixels (N, C, 2) and weights (N, C) from arrays or prediction files."""
    calib = _match_cameras(calib, [str(k) for k in points])
    if all(isinstance(v, np.ndarray) for v in points.values()):
        arrays = {str(k): np.asarray(v, dtype=np.float64) for k, v in points.items()}
        shapes = {k: a.shape for k, a in arrays.items()}
        if any(a.shape[-1] not in (2, 3) for a in arrays.values()) \
                or len({a.shape[:-1] for a in arrays.values()}) != 1:
            raise CalibrationError(f"Point arrays must share a shape (..., 2) or (..., 3) "
                                   f"across cameras, found {shapes}.")
        pix = np.stack([arrays[n][..., :2].reshape(-1, 2) for n in calib.names], axis=1)
        like = np.stack([arrays[n][..., 2].reshape(-1) if arrays[n].shape[-1] == 3
                         else np.ones(pix.shape[0]) for n in calib.names], axis=1)
        ok = np.isfinite(pix).all(axis=-1) & (like >= pcutoff)
        return calib, np.where(ok[..., None], pix, np.nan), np.where(ok, 1.0, 0.0)
    if any(isinstance(v, np.ndarray) for v in points.values()):
        raise CalibrationError("Give either arrays for every camera or files/Predictions for "
                               "every camera, not a mix.")
    preds = _load_views({n: points[n] for n in calib.names})  # type: ignore[misc]
    bodyparts, individuals = _match_names(preds)
    n_frames = _frame_range(preds, {}, "shortest")
    pix, w = _stack(preds, bodyparts, individuals, n_frames, {}, pcutoff)
    c = len(calib.names)
    return calib, pix.reshape(-1, c, 2), np.where(w.reshape(-1, c) > 0, 1.0, 0.0)


def held_out_errors(calib: Calibration, pixels: np.ndarray, weights: np.ndarray, *,
                    ransac_threshold: float = 15.0) -> np.ndarray:
    """Error of each camera's observation against the point triangulated without it.

    Parameters
    ----------
    calib : Calibration
        C cameras.
    pixels : ndarray, shape (N, C, 2)
    weights : ndarray, shape (N, C)
        > 0 where observed.
    ransac_threshold : float
        Consensus inlier distance among the other cameras.

    Returns
    -------
    ndarray, shape (N, C)
        NaN where the camera did not see the point or fewer than 2 others did.
    """
    cams = calib.cameras
    n, c = weights.shape
    rays = np.stack([cam.undistort(pixels[:, k]) for k, cam in enumerate(cams)], axis=1)
    out = np.full((n, c), np.nan)
    if c == 2:
        ext = np.stack([cam.extrinsic_matrix for cam in cams])
        pts = triangulate_dlt(ext, rays, weights)
        return reprojection_errors(cams, pts, pixels)
    for k in range(c):
        others = [j for j in range(c) if j != k]
        w = weights[:, others]
        sel = (weights[:, k] > 0) & ((w > 0).sum(axis=1) >= 2)
        if not sel.any():
            continue
        sub = [cams[j] for j in others]
        pts, _ = triangulate_ransac(sub, rays[sel][:, others], pixels[sel][:, others], w[sel],
                                    threshold=ransac_threshold)
        out[sel, k] = np.linalg.norm(cams[k].project(pts) - pixels[sel, k], axis=1)
    return out


def check_calibration(calibration: str | os.PathLike[str] | Calibration,
                      points: Mapping[str, PointsInput], *,
                      options: CheckOptions | None = None) -> CalibrationCheck:
    """Flag cameras whose calibration disagrees with the others.

    Parameters
    ----------
    calibration : path-like or Calibration
        The ``calibration.toml`` to check.
    points : mapping
        Camera name -> 2D points of the same physical points in every camera: an array
        (..., 2) or (..., 3) with likelihood (same shape for all cameras; e.g. board corners
        from :func:`board_points`, shape (n_views, n_corners, 2)), or 2D prediction files /
        :class:`Predictions` (matched by frame, individual and bodypart).
    options : CheckOptions, optional

    Returns
    -------
    CalibrationCheck
        Per-camera held-out error and flags.
    """
    opts = options or CheckOptions()
    calib = calibration if isinstance(calibration, Calibration) else read_calibration(
        calibration)
    calib, pixels, weights = _arrays(calib, points, opts.pcutoff)
    errors = held_out_errors(calib, pixels, weights, ransac_threshold=opts.ransac_threshold)
    stats = []
    for k, name in enumerate(calib.names):
        e = errors[:, k][np.isfinite(errors[:, k])]
        stats.append((name, e.size, *(np.percentile(e, [50, 90]) if e.size else
                                      (np.nan, np.nan)), float(e.mean()) if e.size else np.nan))
    if all(s[1] == 0 for s in stats):
        raise CalibrationError(
            f"No point was seen by enough cameras to check the calibration (cameras "
            f"{calib.names}); each point must be seen above the p-cutoff ({opts.pcutoff}) by "
            "the camera checked and at least 2 others (both cameras for a pair).")
    medians = np.array([s[2] for s in stats])
    checks = []
    for k, (name, n, med, p90, mean) in enumerate(stats):
        others = np.delete(medians, k) if len(stats) > 2 else medians
        ref = float(np.nanmedian(others)) if np.isfinite(others).any() else np.nan
        flagged = bool(n > 0 and med > opts.min_error_px
                       and (not np.isfinite(ref) or med > opts.ratio * ref
                            or len(stats) == 2))
        reason = (f"median {med:.1f} px vs {ref:.1f} px for the other cameras"
                  if flagged and len(stats) > 2 else
                  f"pair error {med:.1f} px (2 cameras: cannot tell which)" if flagged else "")
        checks.append(CameraCheck(name, int(n), float(med), float(mean), float(p90), flagged,
                                  reason))
    result = CalibrationCheck(checks)
    logger.debug("calibration check\n%s", result.table())
    return result
