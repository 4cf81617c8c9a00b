"""Bundle adjustment: all cameras' poses (and optionally intrinsics) and all board poses.

Unknowns: for every camera but the first (which fixes the world frame) a Rodrigues vector
and a translation; for every board view a board-to-world pose (the board is rigid, so its
corners are not free points); optionally per camera fx, fy, cx, cy, k1, k2. Residuals: the
pixel differences between the detected corners and the projections of the board corners.
Solved with ``scipy.optimize.least_squares`` (trust region, a sparse Jacobian pattern
``jac_sparsity`` so finite differences stay cheap, and a robust loss). Observations far off
after a first solve are dropped and the problem solved again.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix

from posekit.errors import CalibrationError
from posekit.threed.cameras import Camera, distort, rodrigues_to_matrix

logger = logging.getLogger(__name__)

N_INTR = 6  # fx, fy, cx, cy, k1, k2


@dataclass
class Observations:
    """Board corners seen by the cameras, one row per (camera, view, corner).

    Attributes
    ----------
    camera : ndarray, shape (M,), int
        Camera index.
    view : ndarray, shape (M,), int
        Board view index.
    object_points : ndarray, shape (M, 3)
        Corner on the board plane.
    pixels : ndarray, shape (M, 2)
        Detected corner.
    """

    camera: np.ndarray
    view: np.ndarray
    object_points: np.ndarray
    pixels: np.ndarray

    def subset(self, mask: np.ndarray) -> Observations:
        return Observations(self.camera[mask], self.view[mask], self.object_points[mask],
                            self.pixels[mask])


@dataclass
class BundleResult:
    """Adjusted cameras and board poses, and the error of every observation."""

    cameras: list[Camera]
    view_rvecs: np.ndarray  # (V, 3) board-to-world
    view_tvecs: np.ndarray  # (V, 3)
    errors: np.ndarray  # (M,) pixel distance per observation (all observations)
    inliers: np.ndarray  # (M,) bool: used in the final solve
    cost: float
    n_iterations: int


class _Problem:
    """Packing of unknowns and the residual function."""

    def __init__(self, cameras: list[Camera], obs: Observations, n_views: int,
                 refine_intrinsics: bool) -> None:
        self.base = cameras
        self.obs = obs
        self.n_cams = len(cameras)
        self.n_views = n_views
        self.refine = refine_intrinsics
        self.off_view = 6 * (self.n_cams - 1)
        self.off_intr = self.off_view + 6 * n_views
        self.n_params = self.off_intr + (N_INTR * self.n_cams if refine_intrinsics else 0)
        self.masks = [obs.camera == c for c in range(self.n_cams)]

    def pack(self, view_r: np.ndarray, view_t: np.ndarray) -> np.ndarray:
        x = np.zeros(self.n_params)
        for c, cam in enumerate(self.base[1:]):
            x[6 * c:6 * c + 6] = np.r_[cam.rotation, cam.translation]
        x[self.off_view:self.off_intr] = np.hstack([view_r, view_t]).ravel()
        if self.refine:
            for c, cam in enumerate(self.base):
                k = cam.matrix
                x[self.off_intr + N_INTR * c:self.off_intr + N_INTR * (c + 1)] = [
                    k[0, 0], k[1, 1], k[0, 2], k[1, 2], *cam.distortions[:2]]
        return x

    def cameras(self, x: np.ndarray) -> list[Camera]:
        out = []
        for c, cam in enumerate(self.base):
            rot, trans = cam.rotation, cam.translation
            if c > 0:
                rot, trans = x[6 * (c - 1):6 * (c - 1) + 3], x[6 * (c - 1) + 3:6 * c]
            matrix, dist = cam.matrix.copy(), cam.distortions.copy()
            if self.refine:
                fx, fy, cx, cy, k1, k2 = x[self.off_intr + N_INTR * c:
                                           self.off_intr + N_INTR * (c + 1)]
                matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2] = fx, fy, cx, cy
                dist[:2] = k1, k2
            out.append(Camera(cam.name, cam.size, matrix, dist, rot, trans, cam.fisheye))
        return out

    def views(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = x[self.off_view:self.off_intr].reshape(self.n_views, 6)
        return v[:, :3], v[:, 3:]

    def project(self, x: np.ndarray) -> np.ndarray:
        """Projected pixels of every observation, shape (M, 2)."""
        view_r, view_t = self.views(x)
        rv = rodrigues_to_matrix(view_r)[self.obs.view]
        world = np.einsum("mij,mj->mi", rv, self.obs.object_points) + view_t[self.obs.view]
        out = np.empty((len(world), 2))
        for cam, mask in zip(self.cameras(x), self.masks, strict=True):
            if not mask.any():
                continue
            pc = world[mask] @ cam.rotation_matrix.T + cam.translation
            z = np.where(np.abs(pc[:, 2]) > 1e-9, pc[:, 2], 1e-9)
            xy = distort(pc[:, :2] / z[:, None], cam.distortions, fisheye=cam.fisheye)
            k = cam.matrix
            out[mask, 0] = k[0, 0] * xy[:, 0] + k[0, 1] * xy[:, 1] + k[0, 2]
            out[mask, 1] = k[1, 1] * xy[:, 1] + k[1, 2]
        return out

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return (self.project(x) - self.obs.pixels).ravel()

    def sparsity(self) -> coo_matrix:
        """Which unknowns each residual depends on, shape (2M, n_params)."""
        m = len(self.obs.camera)
        cams, views = self.obs.camera, self.obs.view
        row_blocks, col_blocks = [], []
        moving = np.flatnonzero(cams > 0)
        blocks = [(moving, 6 * (cams[moving] - 1), 6),
                  (np.arange(m), self.off_view + 6 * views, 6)]
        if self.refine:
            blocks.append((np.arange(m), self.off_intr + N_INTR * cams, N_INTR))
        for obs_rows, first_col, width in blocks:
            for xy in (0, 1):
                for j in range(width):
                    row_blocks.append(2 * obs_rows + xy)
                    col_blocks.append(first_col + j)
        rows = np.concatenate(row_blocks)
        cols = np.concatenate(col_blocks)
        return coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                          shape=(2 * m, self.n_params))


def _single_thread_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread: the solver's many small products only lose from threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _solve(problem: _Problem, x0: np.ndarray, loss: str, f_scale: float,
           max_nfev: int | None) -> tuple[np.ndarray, float, int]:
    with _single_thread_blas():
        result = least_squares(problem.residuals, x0, jac_sparsity=problem.sparsity(),
                               loss=loss, f_scale=f_scale, x_scale="jac", method="trf",
                               ftol=1e-6, xtol=1e-10, max_nfev=max_nfev)
    return result.x, float(result.cost), int(result.nfev)


def bundle_adjust(cameras: list[Camera], obs: Observations, view_rvecs: np.ndarray,
                  view_tvecs: np.ndarray, *, refine_intrinsics: bool = False,
                  loss: str = "soft_l1", f_scale: float = 2.0, outlier_px: float = 8.0,
                  max_nfev: int | None = 200) -> BundleResult:
    """Jointly refine camera poses and board poses.

    Parameters
    ----------
    cameras : list of Camera
        Initial cameras; the first stays fixed (world frame).
    obs : Observations
        M observed corners.
    view_rvecs, view_tvecs : ndarray, shape (V, 3)
        Initial board-to-world poses, indexed by ``obs.view``.
    refine_intrinsics : bool
        Also refine fx, fy, cx, cy, k1, k2 of every camera.
    loss : str
        ``least_squares`` loss ("linear", "soft_l1", "huber", "cauchy", "arctan").
    f_scale : float
        Pixel scale where the robust loss starts to down-weight.
    outlier_px : float
        After a first solve, observations farther off than this (and than 5 times the
        median error) are dropped and the problem solved again.
    max_nfev : int or None
        Budget of function evaluations per solve.

    Returns
    -------
    BundleResult
    """
    if len(cameras) < 2:
        raise CalibrationError(f"Bundle adjustment needs at least 2 cameras, found "
                               f"{[c.name for c in cameras]}.")
    if len(obs.camera) == 0:
        raise CalibrationError("Bundle adjustment got no board observations.")
    problem = _Problem(cameras, obs, len(view_rvecs), refine_intrinsics)
    x, cost, nfev = _solve(problem, problem.pack(view_rvecs, view_tvecs), loss, f_scale,
                           max_nfev)
    errors = np.linalg.norm(problem.project(x) - obs.pixels, axis=1)
    inliers = errors <= max(outlier_px, 5 * float(np.median(errors)))
    if not inliers.all():
        logger.info("bundle adjustment: %d of %d observations dropped as outliers",
                    int((~inliers).sum()), len(inliers))
        sub = _Problem(problem.cameras(x), obs.subset(inliers), len(view_rvecs),
                       refine_intrinsics)
        view_r, view_t = problem.views(x)
        x_sub, cost, n2 = _solve(sub, sub.pack(view_r, view_t), loss, f_scale, max_nfev)
        nfev += n2
        problem = _Problem(sub.cameras(x_sub), obs, len(view_rvecs), refine_intrinsics)
        x = problem.pack(*sub.views(x_sub))
        errors = np.linalg.norm(problem.project(x) - obs.pixels, axis=1)
    view_r, view_t = problem.views(x)
    return BundleResult(problem.cameras(x), view_r.copy(), view_t.copy(), errors, inliers,
                        cost, nfev)
