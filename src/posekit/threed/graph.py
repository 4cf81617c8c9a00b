"""First guess of every camera's pose from board poses shared between pairs of cameras.

Two cameras that saw the board at the same moment give one estimate of their relative
pose; the most central estimate over all shared views (the medoid) is taken, then the
inliers around it are averaged. The cameras form a graph whose edges are weighted by the
number of shared views; a maximum spanning tree rooted at the first camera chains the
relative poses into world poses (the world frame is the first camera's).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from posekit.errors import CalibrationError
from posekit.threed.cameras import matrix_to_rodrigues, rodrigues_to_matrix
from posekit.threed.intrinsics import BoardPose

logger = logging.getLogger(__name__)


@dataclass
class Pose:
    """Rigid transform ``x -> R x + t``."""

    R: np.ndarray
    t: np.ndarray

    def inverse(self) -> Pose:
        return Pose(self.R.T, -self.R.T @ self.t)

    def __matmul__(self, other: Pose) -> Pose:
        """Compose: apply ``other`` first, then ``self``."""
        return Pose(self.R @ other.R, self.R @ other.t + self.t)

    @classmethod
    def from_board(cls, pose: BoardPose) -> Pose:
        return cls(rodrigues_to_matrix(pose.rvec), np.asarray(pose.tvec, dtype=np.float64))


def _rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    cos = (np.trace(a.T @ b) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


def _project_rotation(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r


def robust_mean_pose(poses: Sequence[Pose], *, angle_tol: float = 5.0,
                     trans_tol: float = 0.1) -> tuple[Pose, int]:
    """Average of the poses near their medoid.

    Parameters
    ----------
    poses : sequence of Pose
        Estimates of one relative pose.
    angle_tol : float
        Degrees from the medoid's rotation to count as an inlier.
    trans_tol : float
        Translation distance from the medoid, as a fraction of its length, for an inlier.

    Returns
    -------
    pose : Pose
    n_inliers : int
    """
    n = len(poses)
    scale = np.median([np.linalg.norm(p.t) for p in poses]) or 1.0
    cost = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d = (_rotation_angle(poses[i].R, poses[j].R) / angle_tol
                 + np.linalg.norm(poses[i].t - poses[j].t) / (trans_tol * scale))
            cost[i, j] = cost[j, i] = d
    medoid = poses[int(np.argmin(cost.sum(axis=1)))]
    inliers = [p for p in poses
               if _rotation_angle(p.R, medoid.R) <= angle_tol
               and np.linalg.norm(p.t - medoid.t) <= trans_tol * max(np.linalg.norm(medoid.t),
                                                                     1e-12)]
    if not inliers:
        return medoid, 1
    rot = _project_rotation(np.mean([p.R for p in inliers], axis=0))
    return Pose(rot, np.mean([p.t for p in inliers], axis=0)), len(inliers)


def relative_pose(poses_a: dict[Hashable, BoardPose],
                  poses_b: dict[Hashable, BoardPose]) -> tuple[Pose, int, int] | None:
    """Pose of camera b relative to camera a (``x_b = R x_a + t``) from shared views.

    Returns
    -------
    (pose, n_shared, n_inliers) or None when no view is shared.
    """
    shared = [k for k in poses_a if k in poses_b]
    if not shared:
        return None
    estimates = [Pose.from_board(poses_b[k]) @ Pose.from_board(poses_a[k]).inverse()
                 for k in shared]
    pose, n_in = robust_mean_pose(estimates)
    return pose, len(shared), n_in


def initial_extrinsics(names: Sequence[str], poses: dict[str, dict[Hashable, BoardPose]], *,
                       min_shared: int = 2) -> list[Pose]:
    """World-to-camera poses of all cameras, the first camera at the origin.

    Parameters
    ----------
    names : sequence of str
        Camera names; the first defines the world frame.
    poses : dict
        Camera -> {frame key -> board pose in that camera}.
    min_shared : int
        Fewest views two cameras must share to be linked.

    Returns
    -------
    list of Pose
        One per camera, in ``names`` order.

    Raises
    ------
    CalibrationError
        Naming the cameras that share too few views with the rest.
    """
    n = len(names)
    edges: dict[tuple[int, int], tuple[Pose, int]] = {}
    for i in range(n):
        for j in range(i + 1, n):
            rel = relative_pose(poses[names[i]], poses[names[j]])
            if rel is not None and rel[1] >= min_shared:
                edges[(i, j)] = (rel[0], rel[2])
                edges[(j, i)] = (rel[0].inverse(), rel[2])
    world: dict[int, Pose] = {0: Pose(np.eye(3), np.zeros(3))}
    while len(world) < n:
        best = max(((w, a, b) for (a, b), (_, w) in edges.items()
                    if a in world and b not in world), default=None)
        if best is None:
            break
        _, a, b = best
        world[b] = edges[(a, b)][0] @ world[a]
    missing = [names[i] for i in range(n) if i not in world]
    if missing:
        shared = {names[i]: len(poses[names[i]]) for i in range(n)}
        raise CalibrationError(
            f"Camera(s) {missing} share fewer than {min_shared} board views with camera "
            f"{names[0]!r} or the cameras linked to it (board views per camera: {shared}). "
            "Record the board where these cameras and the others see it at the same time.")
    return [world[i] for i in range(n)]


def board_world_poses(names: Sequence[str], cam_poses: Sequence[Pose],
                      poses: dict[str, dict[Hashable, BoardPose]]) -> dict[Hashable, Pose]:
    """Board-to-world pose of every frame key, from the camera with the smallest error."""
    out: dict[Hashable, tuple[float, Pose]] = {}
    for name, cam in zip(names, cam_poses, strict=True):
        for key, bp in poses[name].items():
            if key not in out or bp.error < out[key][0]:
                out[key] = (bp.error, cam.inverse() @ Pose.from_board(bp))
    return {k: v[1] for k, v in out.items()}


def pose_to_vectors(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """(Rodrigues vector, translation) of a pose."""
    return matrix_to_rodrigues(pose.R), np.asarray(pose.t, dtype=np.float64)
