"""Calibrating several cameras from views of a board: ``posekit calibrate``.

Steps: find each camera's images or videos (:mod:`posekit.threed.sources`), detect the board
(:mod:`posekit.threed.boards`), fit each camera's intrinsics
(:mod:`posekit.threed.intrinsics`), chain pairwise relative poses over the camera graph
(:mod:`posekit.threed.graph`), then refine everything by bundle adjustment
(:mod:`posekit.threed.bundle`) and write ``calibration.toml``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from posekit._version import __version__
from posekit.errors import CalibrationError
from posekit.progress import status
from posekit.threed.boards import Board, board_to_dict, read_board
from posekit.threed.bundle import BundleResult, Observations, bundle_adjust
from posekit.threed.calibfile import Calibration, read_calibration, write_calibration
from posekit.threed.cameras import Camera
from posekit.threed.graph import board_world_poses, initial_extrinsics, pose_to_vectors
from posekit.threed.intrinsics import BoardPose, board_poses, calibrate_intrinsics
from posekit.threed.sources import BoardViews, detect_views, find_calibration_media

logger = logging.getLogger(__name__)

_LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")


@dataclass
class CalibrationOptions:
    """Options of :func:`calibrate`.

    Attributes
    ----------
    fisheye : bool
        Fisheye lens model for every camera.
    distortion : {"none", "radial", "standard", "full"}
        Pinhole distortion terms: none; k1 k2; k1 k2 p1 p2 (default); k1 k2 p1 p2 k3.
    media : {"auto", "images", "videos"}
        Which calibration files to use (auto: images when present, else videos).
    video_frames : int
        Frames sampled evenly from each calibration video.
    min_corners : int
        Fewest board corners for a detection to count.
    min_views : int
        Fewest board detections per camera; cameras with fewer are named in the error.
    min_shared_views : int
        Fewest views two cameras must share to link them in the camera graph.
    max_intrinsic_views : int
        At most this many views per camera enter the intrinsic calibration.
    refine_intrinsics : bool
        Let bundle adjustment also refine fx, fy, cx, cy, k1, k2.
    intrinsics : path or None
        Take (and keep) the intrinsics from this calibration.toml instead of fitting them.
    loss : str
        Robust loss of bundle adjustment ("linear", "soft_l1", "huber", "cauchy", "arctan").
    f_scale : float
        Pixels where the robust loss starts to down-weight.
    outlier_px : float
        Corners farther off than this after a first bundle adjustment are dropped.
    pose_max_error : float
        Board views whose single-camera pose fits worse than this (pixels) are dropped.
    """

    fisheye: bool = False
    distortion: str = "standard"
    media: str = "auto"
    video_frames: int = 200
    min_corners: int = 6
    min_views: int = 5
    min_shared_views: int = 2
    max_intrinsic_views: int = 60
    refine_intrinsics: bool = False
    intrinsics: str | os.PathLike[str] | None = None
    loss: str = "soft_l1"
    f_scale: float = 2.0
    outlier_px: float = 8.0
    pose_max_error: float = 10.0

    def __post_init__(self) -> None:
        if self.distortion not in ("none", "radial", "standard", "full"):
            raise CalibrationError(f"distortion must be none, radial, standard or full, found "
                                   f"{self.distortion!r}.")
        if self.loss not in _LOSSES:
            raise CalibrationError(f"loss must be one of {_LOSSES}, found {self.loss!r}.")
        for name in ("video_frames", "min_corners", "min_views", "min_shared_views",
                     "max_intrinsic_views"):
            if int(getattr(self, name)) < 1:
                raise CalibrationError(f"{name} must be >= 1, found {getattr(self, name)}.")
        for name in ("f_scale", "outlier_px", "pose_max_error"):
            if not float(getattr(self, name)) > 0:
                raise CalibrationError(f"{name} must be > 0, found {getattr(self, name)}.")


@dataclass
class CameraReport:
    """How one camera's calibration went (errors in pixels)."""

    name: str
    n_frames: int
    n_detected: int
    n_views_used: int
    intrinsics_rms: float
    median_error: float
    mean_error: float
    p95_error: float
    n_outliers: int


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns."""

    calibration: Calibration
    cameras: list[CameraReport]
    path: Path | None = None
    views: BoardViews | None = field(default=None, repr=False)

    def table(self) -> str:
        """Per-camera report as a plain-text table."""
        head = (f"{'camera':<12}{'frames':>7}{'boards':>7}{'used':>6}{'intr rms':>10}"
                f"{'median px':>11}{'mean px':>9}{'p95 px':>8}")
        rows = [f"{r.name:<12}{r.n_frames:>7}{r.n_detected:>7}{r.n_views_used:>6}"
                f"{r.intrinsics_rms:>10.3f}{r.median_error:>11.3f}{r.mean_error:>9.3f}"
                f"{r.p95_error:>8.3f}" for r in self.cameras]
        return "\n".join([head, *rows])


def calibrate(calib_dir: str | os.PathLike[str], board: Board | str | os.PathLike[str], *,
              cameras: Sequence[str] | None = None,
              output: str | os.PathLike[str] | None = None,
              options: CalibrationOptions | None = None) -> CalibrationResult:
    """Calibrate cameras from images or videos of a board and write ``calibration.toml``.

    Parameters
    ----------
    calib_dir : path-like
        One sub-folder per camera, or a flat folder of files named after the cameras.
    board : Board or path-like
        The board, or its TOML file.
    cameras : sequence of str, optional
        Camera names in the order wanted in the output (inferred when omitted).
    output : path-like, optional
        Where to write; default ``calib_dir/calibration.toml``.
    options : CalibrationOptions, optional

    Returns
    -------
    CalibrationResult
        Cameras (in the given order), per-camera report and the written path.

    Raises
    ------
    CalibrationError
        Naming cameras where the board was never or too rarely found, or which share too
        few views with the others.
    """
    opts = options or CalibrationOptions()
    board = board if isinstance(board, Board) else read_board(board)
    media = find_calibration_media(calib_dir, cameras, media=opts.media)  # type: ignore[arg-type]
    views = detect_views(board, media, min_corners=opts.min_corners,
                         video_frames=opts.video_frames)
    result = calibrate_views(views, board, options=opts)
    target = Path(output) if output is not None else Path(calib_dir) / "calibration.toml"
    result.calibration.metadata["calib_dir"] = str(Path(calib_dir))
    result.path = write_calibration(result.calibration, target)
    logger.debug("calibration written to %s\n%s", target, result.table())
    return result


def _check_counts(views: BoardViews, counts: dict[str, int], opts: CalibrationOptions) -> None:
    """Raise naming every camera with fewer than ``min_views`` usable board views."""
    few = {c: n for c, n in counts.items() if n < opts.min_views}
    if few:
        frames = {c: views.n_frames.get(c, 0) for c in few}
        raise CalibrationError(
            "Too few usable board views in camera(s) "
            + ", ".join(f"{c!r} ({n} of {frames[c]} frames)" for c, n in few.items())
            + f"; each camera needs at least {opts.min_views} board views. Check the board "
            "description (rows, columns, dictionary) and that these cameras see the board.")


def _intrinsics(views: BoardViews, board: Board, opts: CalibrationOptions
                ) -> tuple[list[Camera], dict[str, float]]:
    given = read_calibration(opts.intrinsics) if opts.intrinsics is not None else None
    cams, rms = [], {}
    for name in views.cameras:
        if given is not None:
            cam = given.camera(name)
            cams.append(Camera(name, cam.size, cam.matrix, cam.distortions, fisheye=cam.fisheye))
            rms[name] = float("nan")
            continue
        dets = [views.detections[name][k] for k in sorted(views.detections[name], key=str)]
        with status(f"intrinsics of {name}"):
            cam, err = calibrate_intrinsics(
                board, dets, views.image_sizes[name], name=name, fisheye=opts.fisheye,
                model=opts.distortion, max_views=opts.max_intrinsic_views)  # type: ignore[arg-type]
        logger.info("camera %s: intrinsics RMS %.3f px, f = %.1f, %.1f", name, err,
                    cam.matrix[0, 0], cam.matrix[1, 1])
        cams.append(cam)
        rms[name] = err
    return cams, rms


def _observations(views: BoardViews, board: Board, poses: dict[str, dict[Hashable, BoardPose]],
                  keys: list[Hashable]) -> Observations:
    index = {k: i for i, k in enumerate(keys)}
    cam, view, obj, pix = [], [], [], []
    for c, name in enumerate(views.cameras):
        for key in poses[name]:
            det = views.detections[name][key]
            cam.append(np.full(len(det), c))
            view.append(np.full(len(det), index[key]))
            obj.append(board.object_points[det.ids])
            pix.append(det.corners)
    return Observations(np.concatenate(cam), np.concatenate(view), np.concatenate(obj),
                        np.concatenate(pix))


def calibrate_views(views: BoardViews, board: Board, *,
                    options: CalibrationOptions | None = None) -> CalibrationResult:
    """Calibrate from board detections already made (see :func:`calibrate`).

    Parameters
    ----------
    views : BoardViews
        Detections per camera and frame key.
    board : Board
    options : CalibrationOptions, optional

    Returns
    -------
    CalibrationResult
        Not written to disk.
    """
    opts = options or CalibrationOptions()
    if len(views.cameras) < 2:
        raise CalibrationError(f"Calibration needs at least 2 cameras, found {views.cameras}.")
    _check_counts(views, {c: len(views.detections[c]) for c in views.cameras}, opts)
    cams, rms = _intrinsics(views, board, opts)
    poses = {c.name: board_poses(board, views.detections[c.name], c,
                                 max_error=opts.pose_max_error) for c in cams}
    _check_counts(views, {n: len(p) for n, p in poses.items()}, opts)  # after pose checks
    with status("initial camera poses"):
        cam_poses = initial_extrinsics(views.cameras, poses, min_shared=opts.min_shared_views)
    for i, pose in enumerate(cam_poses):
        rvec, tvec = pose_to_vectors(pose)
        cams[i] = Camera(cams[i].name, cams[i].size, cams[i].matrix, cams[i].distortions,
                         rvec, tvec, cams[i].fisheye)
    world = board_world_poses(views.cameras, cam_poses, poses)
    keys = sorted(world, key=str)
    vecs = [pose_to_vectors(world[k]) for k in keys]
    obs = _observations(views, board, poses, keys)
    with status("bundle adjustment"):
        result = bundle_adjust(cams, obs, np.array([v[0] for v in vecs]),
                               np.array([v[1] for v in vecs]),
                               refine_intrinsics=opts.refine_intrinsics, loss=opts.loss,
                               f_scale=opts.f_scale, outlier_px=opts.outlier_px)
    reports = _reports(views, poses, obs, result, rms)
    meta = {
        "posekit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "board": board_to_dict(board),
        "n_board_views": len(keys),
        "reprojection_error_px": {r.name: round(r.median_error, 4) for r in reports},
        "options": {k: (str(v) if isinstance(v, os.PathLike) else v)
                    for k, v in asdict(opts).items()},
    }
    return CalibrationResult(Calibration(result.cameras, meta), reports, None, views)


def _reports(views: BoardViews, poses: dict[str, dict[Hashable, BoardPose]], obs: Observations,
             result: BundleResult, rms: dict[str, float]) -> list[CameraReport]:
    reports = []
    for c, name in enumerate(views.cameras):
        mask = obs.camera == c
        err = result.errors[mask & result.inliers]
        used = len(np.unique(obs.view[mask & result.inliers]))
        reports.append(CameraReport(
            name=name, n_frames=int(views.n_frames.get(name, len(views.detections[name]))),
            n_detected=len(views.detections[name]), n_views_used=used,
            intrinsics_rms=rms[name],
            median_error=float(np.median(err)) if err.size else float("nan"),
            mean_error=float(np.mean(err)) if err.size else float("nan"),
            p95_error=float(np.percentile(err, 95)) if err.size else float("nan"),
            n_outliers=int((mask & ~result.inliers).sum())))
    return reports
