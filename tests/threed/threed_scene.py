"""Synthetic multi-camera scenes with known answers, for the threed tests.

Cameras stand on a ring around the origin and look at it; points and boards live near the
origin. Everything is generated from a seeded random generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posekit.io.predictions import Predictions
from posekit.threed.boards import Board, Detection
from posekit.threed.calibfile import Calibration
from posekit.threed.cameras import Camera, matrix_to_rodrigues, rodrigues_to_matrix
from posekit.threed.sources import BoardViews


def look_at(center: np.ndarray, target: np.ndarray = np.zeros(3),
            up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> tuple[np.ndarray, np.ndarray]:
    """(rvec, tvec) of a camera at ``center`` looking at ``target`` (y down in the image)."""
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])
    return matrix_to_rodrigues(rot), -rot @ center


def make_cameras(n: int = 4, *, names: Sequence[str] | None = None, radius: float = 1000.0,
                 size: tuple[int, int] = (1280, 1024), focal: float = 1100.0,
                 distortion: bool = True, fisheye: bool = False, seed: int = 0,
                 height: tuple[float, float] = (200.0, 600.0)) -> Calibration:
    """``n`` cameras on a ring of ``radius`` around the origin, at heights in ``height``."""
    rng = np.random.default_rng(seed)
    names = list(names) if names is not None else [f"cam{i}" for i in range(n)]
    cams = []
    for i, name in enumerate(names):
        angle = 2 * np.pi * i / len(names) + rng.uniform(-0.2, 0.2)
        center = np.array([radius * np.cos(angle), radius * np.sin(angle),
                           rng.uniform(*height)])
        rvec, tvec = look_at(center)
        k = np.array([[focal * rng.uniform(0.9, 1.1), 0, size[0] / 2 + rng.uniform(-20, 20)],
                      [0, focal * rng.uniform(0.9, 1.1), size[1] / 2 + rng.uniform(-20, 20)],
                      [0, 0, 1]])
        if fisheye:
            dist = np.array([0.05, -0.01, 0.002, 0.0]) if distortion else np.zeros(4)
        else:
            dist = (np.array([-0.15, 0.05, 0.001, -0.001, 0.0]) if distortion
                    else np.zeros(5))
        cams.append(Camera(name, size, k, dist, rvec, tvec, fisheye=fisheye))
    return Calibration(cams)


def random_points(n: int, *, spread: float = 150.0, seed: int = 1) -> np.ndarray:
    """(n, 3) points in a cube of half-side ``spread`` around the origin."""
    return np.random.default_rng(seed).uniform(-spread, spread, size=(n, 3))


def project_visible(cam: Camera, points: np.ndarray) -> np.ndarray:
    """Projections (n, 2); NaN outside the image or behind the camera."""
    xy = cam.project(points)
    w, h = cam.size
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    return np.where(inside[:, None], xy, np.nan)


def board_world_pose(rng: np.random.Generator, spread: float = 150.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Random board-to-world pose: centered near the origin, tilted, facing up-ish."""
    rvec = rng.normal(0, 0.5, 3)
    return rvec, rng.uniform(-spread, spread, 3) * np.array([1, 1, 0.5])


def board_views(board: Board, calib: Calibration, n_views: int, *, noise: float = 0.0,
                seed: int = 2, min_corners: int = 6, spread: float = 150.0
                ) -> tuple[BoardViews, list]:
    """Detections of a board in ``n_views`` random poses, seen by every camera.

    Returns
    -------
    views : BoardViews
    poses : list of (rvec, tvec)
        Board-to-world poses, by view.
    """
    rng = np.random.default_rng(seed)
    obj = board.object_points - board.object_points.mean(axis=0)
    dets: dict[str, dict] = {c.name: {} for c in calib.cameras}
    poses = []
    for v in range(n_views):
        rvec, tvec = board_world_pose(rng, spread)
        poses.append((rvec, tvec))
        world = obj @ rodrigues_to_matrix(rvec).T + tvec
        for cam in calib.cameras:
            xy = project_visible(cam, world)
            ok = np.isfinite(xy).all(axis=1)
            if ok.sum() < min_corners:
                continue
            ids = np.flatnonzero(ok)
            dets[cam.name][v] = Detection(ids, xy[ok] + rng.normal(0, noise, (len(ids), 2)))
    views = BoardViews([c.name for c in calib.cameras], {c.name: c.size for c in calib.cameras},
                       dets, n_frames={c.name: n_views for c in calib.cameras})
    # the board's own frame puts corner (0, 0) at the origin; shift poses to match it
    center = board.object_points.mean(axis=0)
    shifted = [(r, t - rodrigues_to_matrix(r) @ center) for r, t in poses]
    return views, shifted


def predictions_for(calib: Calibration, points: np.ndarray, bodyparts: list[str], *,
                    likelihood: float = 0.9, noise: float = 0.0, seed: int = 3
                    ) -> dict[str, Predictions]:
    """2D predictions of ``points`` (n_frames, n_bodyparts, 3) in every camera."""
    rng = np.random.default_rng(seed)
    n_frames, n_bp, _ = points.shape
    out = {}
    for cam in calib.cameras:
        xy = project_visible(cam, points.reshape(-1, 3)).reshape(n_frames, 1, n_bp, 2)
        xy = xy + rng.normal(0, noise, xy.shape)
        like = np.where(np.isfinite(xy).all(axis=-1), likelihood, np.nan)
        data = np.concatenate([xy, like[..., None]], axis=-1)
        out[cam.name] = Predictions(data, bodyparts, ["animal"], "synthetic", False,
                                    {"camera": cam.name})
    return out


def render_board_image(board: Board, cam: Camera, rvec: np.ndarray, tvec: np.ndarray, *,
                       pixels_per_square: int = 40, margin: int = 20) -> np.ndarray:
    """Grayscale image of the board (board-to-world pose rvec, tvec) seen by ``cam``.

    Distortion is ignored, so use cameras made with ``distortion=False``.
    """
    import cv2

    flat = board.draw(pixels_per_square, margin)
    s = board.square_size / pixels_per_square
    to_board = np.array([[s, 0, (0.5 - margin) * s], [0, s, (0.5 - margin) * s], [0, 0, 1]])
    rot = cam.rotation_matrix @ rodrigues_to_matrix(rvec)
    trans = cam.rotation_matrix @ tvec + cam.translation
    homography = cam.matrix @ np.column_stack([rot[:, 0], rot[:, 1], trans]) @ to_board
    return cv2.warpPerspective(flat, homography, cam.size, flags=cv2.INTER_AREA,
                               borderValue=180)


def facing_board_poses(board: Board, n_views: int, *, seed: int = 4, tilt: float = 0.3,
                       spread: float = 80.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Board-to-world poses with the printed side facing up (+z), near the origin."""
    rng = np.random.default_rng(seed)
    flip = rodrigues_to_matrix(np.array([np.pi, 0.0, 0.0]))
    center = board.object_points.mean(axis=0)
    poses = []
    for _ in range(n_views):
        rot = rodrigues_to_matrix(rng.normal(0, tilt, 3)) @ flip
        trans = rng.uniform(-spread, spread, 3) * np.array([1, 1, 0.5]) - rot @ center
        poses.append((matrix_to_rodrigues(rot), trans))
    return poses


def render_calibration_folder(root, board: Board, calib: Calibration,  # noqa: ANN001
                              poses: list, *, flat: bool = False) -> None:
    """Write PNG images of the board for every camera and pose.

    ``flat=False``: ``root/<camera>/img<view>.png``; ``flat=True``: ``root/<camera><view>.png``.
    """
    import cv2

    for cam in calib.cameras:
        folder = root if flat else root / cam.name
        folder.mkdir(parents=True, exist_ok=True)
        for v, (rvec, tvec) in enumerate(poses):
            name = f"{cam.name}{v:02d}.png" if flat else f"img{v:02d}.png"
            cv2.imwrite(str(folder / name), render_board_image(board, cam, rvec, tvec))
