"""Triangulating 2D predictions of several calibrated cameras: ``posekit triangulate``.

For every frame, individual and bodypart: the cameras whose likelihood is at least the
p-cutoff are undistorted to rays, outlier views are rejected by consensus over camera pairs
(RANSAC), and the point is triangulated by likelihood-weighted linear DLT. Optionally the
3D tracks are smoothed over time (running median). Reprojection errors are computed for
every camera that saw the point.

Handling of awkward inputs:

* a 2D file for a camera the calibration does not know: :class:`CalibrationError` naming
  both lists; calibration cameras without a 2D file are simply not used;
* 2D files with different bodyparts: :class:`LabelFileError` listing the differences;
* cameras with different frame counts (after the per-camera frame offsets): an error by
  default; ``length_mismatch="shortest"`` keeps the frames all cameras have, ``"longest"``
  keeps every frame (cameras without it do not contribute);
* keypoints that are NaN or below the p-cutoff in all but one camera: NaN in the output,
  ``n_cameras`` 0; bodyparts never triangulated are logged and listed in
  ``metadata["never_triangulated"]``.

Frames are matched by index: output frame ``f`` uses frame ``f + frame_offsets[camera]`` of
each camera.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from posekit._version import __version__
from posekit.errors import CalibrationError, LabelFileError
from posekit.io.predictions import Predictions, read_predictions
from posekit.progress import track
from posekit.threed.calibfile import Calibration, read_calibration
from posekit.threed.geometry import (
    reprojection_errors,
    smooth_time,
    triangulate_dlt,
    triangulate_ransac,
)
from posekit.threed.points3d import Points3D, write_points3d

logger = logging.getLogger(__name__)


@dataclass
class TriangulateOptions:
    """Options of :func:`triangulate`.

    Attributes
    ----------
    pcutoff : float
        Keypoints with a lower likelihood are not used.
    ransac : bool
        Reject outlier views by consensus over camera pairs (needs 3+ cameras on a point).
    ransac_threshold : float
        Pixel distance for a camera to agree with a proposal.
    min_cameras : int
        Fewest cameras (after outlier rejection) for a 3D point; at least 2.
    smooth_window : int
        Running-median window in frames (odd; 0 or 1 = no smoothing).
    frame_offsets : dict
        Camera -> offset; output frame f uses that camera's frame f + offset.
    length_mismatch : {"error", "shortest", "longest"}
        What to do when cameras have different frame counts.
    scorer : str
        Top column level of the output.
    chunk_size : int
        Points triangulated per batch (memory bound).
    """

    pcutoff: float = 0.6
    ransac: bool = True
    ransac_threshold: float = 15.0
    min_cameras: int = 2
    smooth_window: int = 0
    frame_offsets: dict[str, int] = field(default_factory=dict)
    length_mismatch: str = "error"
    scorer: str = "posekit"
    chunk_size: int = 100_000

    def __post_init__(self) -> None:
        if self.length_mismatch not in ("error", "shortest", "longest"):
            raise LabelFileError(f"length_mismatch must be 'error', 'shortest' or 'longest', "
                                 f"found {self.length_mismatch!r}.")
        if self.min_cameras < 2:
            raise CalibrationError(f"min_cameras must be >= 2, found {self.min_cameras}.")
        if not self.ransac_threshold > 0 or self.chunk_size < 1:
            raise CalibrationError("ransac_threshold must be > 0 and chunk_size >= 1, found "
                                   f"{self.ransac_threshold}, {self.chunk_size}.")
        if self.smooth_window > 1 and self.smooth_window % 2 == 0:
            raise CalibrationError(f"smooth_window must be odd, found {self.smooth_window}.")


def _load_views(views: Mapping[str, str | os.PathLike[str] | Predictions]
                ) -> dict[str, Predictions]:
    return {str(name): v if isinstance(v, Predictions) else read_predictions(v)
            for name, v in views.items()}


def _match_cameras(calib: Calibration, names: list[str]) -> Calibration:
    unknown = [n for n in names if n not in calib.names]
    if unknown:
        raise CalibrationError(
            f"2D files were given for camera(s) {unknown}, which the calibration does not have; "
            f"its cameras are {calib.names}. Name each 2D file after its calibration camera "
            "(e.g. --views back=back.h5).")
    if len(names) < 2:
        raise CalibrationError(f"Triangulation needs 2D files from at least 2 cameras, found "
                               f"{names}.")
    unused = [n for n in calib.names if n not in names]
    if unused:
        logger.info("calibration cameras without 2D files (not used): %s", unused)
    return calib.subset([n for n in calib.names if n in names])


def _match_names(preds: dict[str, Predictions]) -> tuple[list[str], list[str]]:
    """Common bodyparts (first view's order) and individuals."""
    first_cam, first = next(iter(preds.items()))
    for cam, p in preds.items():
        if set(p.bodyparts) != set(first.bodyparts):
            raise LabelFileError(
                f"Bodyparts differ between cameras: {first_cam!r} has "
                f"{sorted(set(first.bodyparts) - set(p.bodyparts))} that {cam!r} lacks, and "
                f"{cam!r} has {sorted(set(p.bodyparts) - set(first.bodyparts))} that "
                f"{first_cam!r} lacks. Use 2D files from the same model.")
    if all(len(p.individuals) == 1 for p in preds.values()):
        return list(first.bodyparts), list(first.individuals)
    for cam, p in preds.items():
        if set(p.individuals) != set(first.individuals):
            raise LabelFileError(
                f"Individuals differ between cameras: {first_cam!r} has {first.individuals},"
                f" {cam!r} has {p.individuals}; identities must match across cameras.")
    return list(first.bodyparts), list(first.individuals)


def _frame_range(preds: dict[str, Predictions], offsets: dict[str, int], mode: str) -> int:
    unknown = [c for c in offsets if c not in preds]
    if unknown:
        raise CalibrationError(f"frame_offsets names camera(s) {unknown} without 2D files; "
                               f"cameras: {list(preds)}.")
    lengths = {c: p.n_frames - int(offsets.get(c, 0)) for c, p in preds.items()}
    if len(set(lengths.values())) > 1 and mode == "error":
        raw = {c: p.n_frames for c, p in preds.items()}
        raise LabelFileError(
            f"Cameras have different frame counts {raw} (with offsets {dict(offsets)}: "
            f"{lengths}). Check the videos are synchronised, set per-camera frame offsets, or "
            "choose length_mismatch='shortest' or 'longest'.")
    n = min(lengths.values()) if mode != "longest" else max(lengths.values())
    return max(n, 0)


def _stack(preds: dict[str, Predictions], bodyparts: list[str], individuals: list[str],
           n_frames: int, offsets: dict[str, int], pcutoff: float) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """Pixels (F, I, B, C, 2) and weights (F, I, B, C), aligned over cameras."""
    cams = list(preds)
    pixels = np.full((n_frames, len(individuals), len(bodyparts), len(cams), 2), np.nan)
    weights = np.zeros(pixels.shape[:-1])
    single = all(len(p.individuals) == 1 for p in preds.values())
    for c, cam in enumerate(cams):
        p = preds[cam]
        b_idx = [p.bodyparts.index(b) for b in bodyparts]
        i_idx = [0] if single else [p.individuals.index(i) for i in individuals]
        src = np.arange(n_frames) + int(offsets.get(cam, 0))
        ok = (src >= 0) & (src < p.n_frames)
        block = p.data[src[ok]][:, i_idx][:, :, b_idx]
        like = block[..., 2]
        good = np.isfinite(block).all(axis=-1) & (like >= pcutoff)
        pixels[ok, :, :, c] = np.where(good[..., None], block[..., :2], np.nan)
        weights[ok, :, :, c] = np.where(good, np.clip(like, 1e-6, None), 0.0)
    return pixels, weights


def triangulate_points(calib: Calibration, pixels: np.ndarray, weights: np.ndarray, *,
                       options: TriangulateOptions | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate observations of the calibration's cameras.

    Parameters
    ----------
    calib : Calibration
        C cameras, in the order of the last axis below.
    pixels : ndarray, shape (N, C, 2)
        Observed pixels; NaN where unseen.
    weights : ndarray, shape (N, C)
        Likelihood weights; 0 where not to use.
    options : TriangulateOptions, optional

    Returns
    -------
    points : ndarray, shape (N, 3)
    errors : ndarray, shape (N, C)
        Pixel error in every camera with an observation (NaN elsewhere or if no point).
    used : ndarray, shape (N, C), bool
    """
    opts = options or TriangulateOptions()
    cams = calib.cameras
    n, c = weights.shape
    weights = np.where(np.isfinite(pixels).all(axis=-1), weights, 0.0)
    rays = np.stack([cam.undistort(pixels[:, k]) for k, cam in enumerate(cams)], axis=1)
    points = np.full((n, 3), np.nan)
    used = np.zeros((n, c), bool)
    ext = np.stack([cam.extrinsic_matrix for cam in cams])
    starts = range(0, n, opts.chunk_size)
    for s in track(starts, total=len(starts), description="triangulating"):
        sl = slice(s, s + opts.chunk_size)
        if opts.ransac and c >= 3:
            points[sl], used[sl] = triangulate_ransac(cams, rays[sl], pixels[sl], weights[sl],
                                                      threshold=opts.ransac_threshold)
        else:
            points[sl] = triangulate_dlt(ext, rays[sl], weights[sl])
            used[sl] = (weights[sl] > 0) & np.isfinite(points[sl]).all(axis=1, keepdims=True)
    few = used.sum(axis=1) < opts.min_cameras
    points[few], used[few] = np.nan, False
    errors = reprojection_errors(cams, points, pixels)
    return points, errors, used


def triangulate(calibration: str | os.PathLike[str] | Calibration,
                views: Mapping[str, str | os.PathLike[str] | Predictions], *,
                output: str | os.PathLike[str] | None = None,
                options: TriangulateOptions | None = None) -> Points3D:
    """Triangulate 2D predictions of several cameras into 3D poses.

    Parameters
    ----------
    calibration : path-like or Calibration
        ``calibration.toml`` (anipose layout) or a loaded calibration.
    views : mapping
        Camera name -> 2D predictions (DeepLabCut analysis .h5/.csv, SLEAP analysis .h5,
        or a :class:`Predictions`).
    output : path-like, optional
        Write the 3D h5 file here (see :mod:`posekit.threed.points3d`).
    options : TriangulateOptions, optional

    Returns
    -------
    Points3D
        data (n_frames, n_individuals, n_bodyparts, 3) and per-point quality.
    """
    opts = options or TriangulateOptions()
    calib = calibration if isinstance(calibration, Calibration) else read_calibration(
        calibration)
    preds = _load_views(views)
    calib = _match_cameras(calib, list(preds))
    preds = {name: preds[name] for name in calib.names}
    bodyparts, individuals = _match_names(preds)
    n_frames = _frame_range(preds, opts.frame_offsets, opts.length_mismatch)
    pixels, weights = _stack(preds, bodyparts, individuals, n_frames, opts.frame_offsets,
                             opts.pcutoff)
    shape = pixels.shape[:3]
    c = len(calib.cameras)
    points, errors, used = triangulate_points(calib, pixels.reshape(-1, c, 2),
                                              weights.reshape(-1, c), options=opts)
    points = points.reshape(*shape, 3)
    if opts.smooth_window > 1:
        points = smooth_time(points, opts.smooth_window)
        errors = reprojection_errors(calib.cameras, points.reshape(-1, 3),
                                     pixels.reshape(-1, c, 2))
    errors = errors.reshape(*shape, c)
    used = used.reshape(*shape, c) & np.isfinite(points).all(axis=-1, keepdims=True)
    sources = {k: (str(v) if not isinstance(v, Predictions)
                   else v.metadata.get("source_file", "<Predictions>")) for k, v in views.items()}
    result = _result(calib, preds, (points, errors, used), (bodyparts, individuals), opts,
                     sources)
    if output is not None:
        write_points3d(result, output)
        result.metadata["output"] = str(output)
    return result


def _result(calib: Calibration, preds: dict[str, Predictions],
            arrays: tuple[np.ndarray, np.ndarray, np.ndarray], names: tuple[list[str], list[str]],
            opts: TriangulateOptions, sources: dict[str, str]) -> Points3D:
    """Points3D from points (F, I, B, 3), errors and used (F, I, B, C), with metadata."""
    points, errors, used = arrays
    bodyparts, individuals = names
    n_cams = used.sum(axis=-1)
    with np.errstate(invalid="ignore"):
        mean_err = np.where(n_cams > 0, np.where(used, errors, 0).sum(axis=-1)
                            / np.maximum(n_cams, 1), np.nan)
    never = [b for k, b in enumerate(bodyparts) if not np.isfinite(points[:, :, k]).any()]
    if never:
        logger.warning("bodyparts never seen by 2 cameras above p-cutoff %.2f (all NaN): %s",
                       opts.pcutoff, never)
    edges = next((p.metadata["skeleton_edges"] for p in preds.values()
                  if p.metadata.get("skeleton_edges")), None)
    meta = {
        "posekit_version": __version__,
        "calibration_cameras": calib.names,
        "views": sources,
        "options": asdict(opts),
        "never_triangulated": never,
        "skeleton_edges": edges,
    }
    return Points3D(data=points, reprojection_error=mean_err, n_cameras=n_cams.astype(int),
                    camera_errors=errors, camera_used=used, bodyparts=bodyparts,
                    individuals=individuals, cameras=calib.names, scorer=opts.scorer,
                    multi_animal=len(individuals) > 1, metadata=meta)
