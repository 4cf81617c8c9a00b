"""Triangulation math: weighted linear DLT, RANSAC over cameras, reprojection errors.

All functions work on many points at once. Rays are undistorted normalized coordinates
(see :meth:`Camera.undistort`), so the DLT uses the cameras' ``[R | t]`` matrices.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from posekit.threed.cameras import Camera


def triangulate_dlt(extrinsics: np.ndarray, rays: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted linear (DLT) triangulation.

    Each camera ``c`` contributes the rows ``w_c (x P_3 - P_1)`` and ``w_c (y P_3 - P_2)``;
    the point is the right singular vector of the smallest singular value.

    Parameters
    ----------
    extrinsics : ndarray, shape (C, 3, 4)
        ``[R | t]`` of each camera.
    rays : ndarray, shape (N, C, 2)
        Normalized image coordinates; ignored where the weight is 0 or a ray is NaN.
    weights : ndarray, shape (N, C)
        Non-negative weight per camera (0 = not used).

    Returns
    -------
    ndarray, shape (N, 3)
        NaN where fewer than 2 cameras have a positive weight.
    """
    n, c = weights.shape
    w = np.where(np.isfinite(weights) & (weights > 0) & np.isfinite(rays).all(axis=-1),
                 weights, 0.0)
    xy = np.where(w[..., None] > 0, rays, 0.0)
    a = np.empty((n, 2 * c, 4))
    p1, p2, p3 = extrinsics[:, 0], extrinsics[:, 1], extrinsics[:, 2]
    a[:, 0::2] = w[..., None] * (xy[..., 0:1] * p3 - p1)
    a[:, 1::2] = w[..., None] * (xy[..., 1:2] * p3 - p2)
    out = np.full((n, 3), np.nan)
    ok = (w > 0).sum(axis=1) >= 2
    if ok.any():
        # Solve for (X / s, 1) with s the scene scale, so both parts have similar size.
        s = max(float(np.mean(np.linalg.norm(extrinsics[:, :, 3], axis=1))), 1.0)
        a_ok = a[ok]
        a_ok[..., :3] *= s
        _, _, vt = np.linalg.svd(a_ok)
        hom = vt[:, -1, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ok] = s * hom[:, :3] / hom[:, 3:4]
    return out


def project_all(cameras: Sequence[Camera], points: np.ndarray) -> np.ndarray:
    """Project points into every camera.

    Parameters
    ----------
    cameras : sequence of Camera, length C
    points : ndarray, shape (N, 3)

    Returns
    -------
    ndarray, shape (N, C, 2)
    """
    return np.stack([cam.project(points) for cam in cameras], axis=1)


def reprojection_errors(cameras: Sequence[Camera], points: np.ndarray,
                        pixels: np.ndarray) -> np.ndarray:
    """Pixel distance between observed and reprojected points.

    Parameters
    ----------
    cameras : sequence of Camera, length C
    points : ndarray, shape (N, 3)
    pixels : ndarray, shape (N, C, 2)
        Observed (distorted) pixel coordinates; NaN where unseen.

    Returns
    -------
    ndarray, shape (N, C)
        NaN where either is missing.
    """
    return np.linalg.norm(project_all(cameras, points) - pixels, axis=2)


def triangulate_ransac(cameras: Sequence[Camera], rays: np.ndarray, pixels: np.ndarray,
                       weights: np.ndarray, *, threshold: float) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """Triangulate with outlier views rejected by consensus over camera pairs.

    Every pair of cameras that sees a point proposes a 3D point; a camera agrees when the
    proposal reprojects within ``threshold`` pixels of its observation. The proposal with
    most agreeing cameras (ties: smallest mean error) wins, and the point is triangulated
    again from the agreeing cameras only. Points seen by 2 cameras are triangulated from
    both; points where no pair finds a second agreeing camera use all cameras.

    Parameters
    ----------
    cameras : sequence of Camera, length C
    rays : ndarray, shape (N, C, 2)
        Undistorted normalized coordinates.
    pixels : ndarray, shape (N, C, 2)
        Observed pixels (for the errors).
    weights : ndarray, shape (N, C)
        Likelihood weights; 0 where a camera does not see the point.
    threshold : float
        Inlier distance in pixels.

    Returns
    -------
    points : ndarray, shape (N, 3)
    used : ndarray, shape (N, C), bool
        Cameras the final point was triangulated from.
    """
    n, c = weights.shape
    ext = np.stack([cam.extrinsic_matrix for cam in cameras])
    valid = weights > 0
    best_used = valid.copy()
    best_count = np.zeros(n, dtype=int)
    best_err = np.full(n, np.inf)
    candidates = valid.sum(axis=1) >= 3
    for a, b in combinations(range(c), 2):
        idx = np.flatnonzero(candidates & valid[:, a] & valid[:, b])
        if idx.size == 0:
            continue
        pair_w = np.zeros((idx.size, c))
        pair_w[:, [a, b]] = 1.0
        proposal = triangulate_dlt(ext, rays[idx], pair_w)
        err = reprojection_errors(cameras, proposal, pixels[idx])
        inl = valid[idx] & (err < threshold)
        count = inl.sum(axis=1)
        mean = np.where(count > 0, np.where(inl, err, 0).sum(axis=1) / np.maximum(count, 1),
                        np.inf)
        better = (count > best_count[idx]) | ((count == best_count[idx])
                                              & (mean < best_err[idx]))
        sel = idx[better]
        best_count[sel], best_err[sel], best_used[sel] = count[better], mean[better], inl[better]
    fallback = candidates & (best_count < 2)
    best_used[fallback] = valid[fallback]
    points = triangulate_dlt(ext, rays, np.where(best_used, weights, 0.0))
    return points, best_used & np.isfinite(points).all(axis=1, keepdims=True)


def smooth_time(points: np.ndarray, window: int) -> np.ndarray:
    """Running median over time, ignoring NaN; missing points stay missing.

    Parameters
    ----------
    points : ndarray, shape (n_frames, ...)
        Any trailing shape.
    window : int
        Odd number of frames (1 or less: no smoothing).

    Returns
    -------
    ndarray, same shape
    """
    if window <= 1 or points.shape[0] < 2:
        return points.copy()
    half = window // 2
    pad = np.pad(points, [(half, half)] + [(0, 0)] * (points.ndim - 1),
                 constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(pad, window, axis=0)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmedian(windows, axis=-1)
    return np.where(np.isnan(points), np.nan, out)
