"""Camera models: projection of 3D points to pixels and undistortion of pixels to rays.

A :class:`Camera` follows OpenCV's conventions: world point ``X`` goes to camera
coordinates ``R X + t`` (``R`` from the Rodrigues vector ``rotation``), is divided by its
depth, distorted (OpenCV's pinhole model with k1, k2, p1, p2[, k3[, k4, k5, k6]], or the
fisheye model with k1..k4), then mapped to pixels by the camera matrix. Pixels have their
origin at the top-left pixel's center, as in OpenCV.

Everything here is vectorised numpy so it can run inside bundle adjustment; OpenCV is only
used to seed the iterative undistortion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posekit.errors import CalibrationError

_PINHOLE_LENGTHS = (4, 5, 8)


def rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Rotation matrices from Rodrigues vectors.

    Parameters
    ----------
    rvec : ndarray, shape (..., 3)
        Axis times angle (radians).

    Returns
    -------
    ndarray, shape (..., 3, 3)
    """
    rvec = np.asarray(rvec, dtype=np.float64)
    theta = np.linalg.norm(rvec, axis=-1)[..., None, None]
    k = np.zeros(rvec.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -rvec[..., 2], rvec[..., 1]
    k[..., 1, 0], k[..., 1, 2] = rvec[..., 2], -rvec[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -rvec[..., 1], rvec[..., 0]
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * k + b * (k @ k)


def matrix_to_rodrigues(matrix: np.ndarray) -> np.ndarray:
    """Rodrigues vector of one rotation matrix, shape (3,) from (3, 3)."""
    import cv2

    rvec, _ = cv2.Rodrigues(np.asarray(matrix, dtype=np.float64))
    return rvec.ravel()


def distort(xy: np.ndarray, dist: np.ndarray, *, fisheye: bool = False) -> np.ndarray:
    """Apply lens distortion to normalized image coordinates.

    Parameters
    ----------
    xy : ndarray, shape (..., 2)
        Ideal normalized coordinates (x/z, y/z).
    dist : ndarray, shape (4,), (5,) or (8,)
        OpenCV distortion coefficients (fisheye: k1..k4).
    fisheye : bool
        Use the fisheye (equidistant) model.

    Returns
    -------
    ndarray, shape (..., 2)
        Distorted normalized coordinates.
    """
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    if fisheye:
        k1, k2, k3, k4 = dist[:4]
        r = np.sqrt(r2)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        scale = np.where(r > 1e-12, theta_d / np.where(r > 1e-12, r, 1.0), 1.0)
        return xy * scale[..., None]
    d = np.zeros(8)
    d[: len(dist)] = dist
    k1, k2, p1, p2, k3, k4, k5, k6 = d
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


@dataclass
class Camera:
    """One calibrated camera.

    Attributes
    ----------
    name : str
        Camera name (matches the 2D prediction files and calibration folders).
    size : tuple of int
        Image (width, height) in pixels.
    matrix : ndarray, shape (3, 3)
        Camera matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]].
    distortions : ndarray, shape (n,)
        Pinhole: 4, 5 or 8 OpenCV coefficients; fisheye: 4.
    rotation : ndarray, shape (3,)
        Rodrigues vector of the world-to-camera rotation.
    translation : ndarray, shape (3,)
        World-to-camera translation (same unit as the board squares).
    fisheye : bool
        Fisheye lens model.
    """

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    distortions: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    fisheye: bool = False

    def __post_init__(self) -> None:
        self.name = str(self.name)
        self.size = (int(self.size[0]), int(self.size[1]))
        self.matrix = _as_array(self.matrix, (3, 3), "matrix", self.name)
        self.rotation = _as_array(self.rotation, (3,), "rotation", self.name)
        self.translation = _as_array(self.translation, (3,), "translation", self.name)
        self.distortions = np.asarray(self.distortions, dtype=np.float64).ravel()
        allowed = (4,) if self.fisheye else _PINHOLE_LENGTHS
        if len(self.distortions) not in allowed:
            raise CalibrationError(
                f"Camera {self.name!r}: expected {' or '.join(map(str, allowed))} distortion "
                f"coefficients ({'fisheye' if self.fisheye else 'pinhole'}), found "
                f"{len(self.distortions)}.")
        if self.matrix[0, 0] <= 0 or self.matrix[1, 1] <= 0 or self.matrix[2, 2] != 1:
            raise CalibrationError(
                f"Camera {self.name!r}: the camera matrix needs positive focal lengths and "
                f"a last row [0, 0, 1], found {self.matrix.tolist()}.")

    @property
    def rotation_matrix(self) -> np.ndarray:
        """World-to-camera rotation, shape (3, 3)."""
        return rodrigues_to_matrix(self.rotation)

    @property
    def extrinsic_matrix(self) -> np.ndarray:
        """[R | t], shape (3, 4): maps world points to camera coordinates."""
        return np.hstack([self.rotation_matrix, self.translation[:, None]])

    @property
    def center(self) -> np.ndarray:
        """Camera center in world coordinates, shape (3,)."""
        return -self.rotation_matrix.T @ self.translation

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) in camera coordinates (..., 3)."""
        return np.asarray(points, dtype=np.float64) @ self.rotation_matrix.T + self.translation

    def normalized_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Distort normalized coordinates (..., 2) and map them to pixels (..., 2)."""
        d = distort(np.asarray(xy, dtype=np.float64), self.distortions, fisheye=self.fisheye)
        k = self.matrix
        u = k[0, 0] * d[..., 0] + k[0, 1] * d[..., 1] + k[0, 2]
        v = k[1, 1] * d[..., 1] + k[1, 2]
        return np.stack([u, v], axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points to pixels.

        Parameters
        ----------
        points : ndarray, shape (..., 3)
            World coordinates; NaN rows give NaN.

        Returns
        -------
        ndarray, shape (..., 2)
            Pixel coordinates; NaN for points at or behind the camera plane.
        """
        cam = self.to_camera(points)
        z = cam[..., 2:3]
        xy = np.where(z > 1e-12, cam[..., :2] / np.where(z > 1e-12, z, 1.0), np.nan)
        return self.normalized_to_pixels(xy)

    def undistort(self, pixels: np.ndarray, *, iterations: int = 8) -> np.ndarray:
        """Pixels to ideal normalized coordinates (the inverse of the lens model).

        OpenCV's undistortion seeds a Newton polish, so noise-free data round-trips to
        ~1e-12.

        Parameters
        ----------
        pixels : ndarray, shape (..., 2)
            Pixel coordinates; NaN stays NaN.
        iterations : int
            Newton steps after the OpenCV seed.

        Returns
        -------
        ndarray, shape (..., 2)
            Normalized coordinates (x/z, y/z).
        """
        pixels = np.asarray(pixels, dtype=np.float64)
        shape = pixels.shape
        flat = pixels.reshape(-1, 2)
        out = np.full_like(flat, np.nan)
        ok = np.isfinite(flat).all(axis=1)
        if ok.any():
            out[ok] = self._undistort_valid(flat[ok], iterations)
        return out.reshape(shape)

    def _undistort_valid(self, pixels: np.ndarray, iterations: int) -> np.ndarray:
        import cv2

        k = self.matrix
        yd = (pixels[:, 1] - k[1, 2]) / k[1, 1]
        xd = (pixels[:, 0] - k[0, 2] - k[0, 1] * yd) / k[0, 0]
        target = np.stack([xd, yd], axis=1)
        src = pixels.reshape(-1, 1, 2)
        if self.fisheye:
            seed = cv2.fisheye.undistortPoints(src, k, self.distortions.reshape(-1, 1))
        else:
            seed = cv2.undistortPoints(src, k, self.distortions)
        xy = seed.reshape(-1, 2).astype(np.float64)
        xy = np.where(np.isfinite(xy), xy, target)
        for _ in range(iterations):
            xy = _newton_step(xy, target, self.distortions, self.fisheye)
        return xy


def _newton_step(xy: np.ndarray, target: np.ndarray, dist: np.ndarray,
                 fisheye: bool) -> np.ndarray:
    """One Newton step of ``distort(xy) = target`` with a finite-difference Jacobian."""
    residual = distort(xy, dist, fisheye=fisheye) - target
    eps = 1e-7
    jac = np.empty(xy.shape + (2,))
    for j in range(2):
        step = np.zeros(2)
        step[j] = eps
        jac[:, :, j] = (distort(xy + step, dist, fisheye=fisheye)
                        - distort(xy - step, dist, fisheye=fisheye)) / (2 * eps)
    det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
    good = np.abs(det) > 1e-12
    det = np.where(good, det, 1.0)
    dx = (jac[:, 1, 1] * residual[:, 0] - jac[:, 0, 1] * residual[:, 1]) / det
    dy = (-jac[:, 1, 0] * residual[:, 0] + jac[:, 0, 0] * residual[:, 1]) / det
    return np.where(good[:, None], xy - np.stack([dx, dy], axis=1), xy)


def _as_array(value: object, shape: tuple[int, ...], what: str, camera: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise CalibrationError(f"Camera {camera!r}: {what} must be numbers, found "
                               f"{value!r}.") from err
    if arr.shape != shape:
        arr = arr.reshape(-1) if arr.size == int(np.prod(shape)) and len(shape) == 1 else arr
    if arr.shape != shape:
        raise CalibrationError(f"Camera {camera!r}: {what} must have shape {shape}, found "
                               f"{arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"Camera {camera!r}: {what} holds NaN or infinity: "
                               f"{arr.tolist()}.")
    return arr
