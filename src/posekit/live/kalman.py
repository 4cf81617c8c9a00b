"""Forward prediction of keypoints, to compensate the latency of live inference.

A pose found in a frame describes the animal at the frame's capture time; by the time it
is known the animal has moved on. :class:`ForwardPredictor` runs an online Kalman filter
with a constant-velocity model on every keypoint coordinate (state: position in pixels and
velocity in pixels per second; time steps are the real intervals between captures) and
extrapolates the filtered state to any later time -- typically the moment the pose is
delivered, or that moment plus the expected delay of the device it drives.

Measurements are weighted by the network's likelihood (standard deviation
``measurement_noise / likelihood``); keypoints under ``pcutoff`` are not measurements at all
and are carried by the motion model alone. A keypoint lost for longer than ``max_gap``
seconds is forgotten (restarted from its next measurement) rather than extrapolated ever
further.
"""

from __future__ import annotations

import numpy as np


class ForwardPredictor:
    """Online constant-velocity Kalman filter over ``K`` keypoints.

    Parameters
    ----------
    n_keypoints : int
        K.
    process_noise : float
        Standard deviation of the random acceleration, pixels / s^2.
    measurement_noise : float
        Standard deviation of a keypoint of likelihood 1, pixels.
    pcutoff : float
        Likelihood under which a keypoint is not used.
    max_gap : float
        Seconds without a measurement after which a keypoint restarts.
    """

    def __init__(self, n_keypoints: int, *, process_noise: float = 2000.0,
                 measurement_noise: float = 2.0, pcutoff: float = 0.6,
                 max_gap: float = 0.5) -> None:
        if n_keypoints < 1:
            raise ValueError(f"n_keypoints must be positive, found {n_keypoints}")
        if process_noise <= 0 or measurement_noise <= 0 or max_gap <= 0:
            raise ValueError("process_noise, measurement_noise and max_gap must be positive")
        n = 2 * n_keypoints  # one filter per coordinate
        self.q = float(process_noise) ** 2
        self.r = float(measurement_noise) ** 2
        self.pcutoff = float(pcutoff)
        self.max_gap = float(max_gap)
        self.position = np.full(n, np.nan)
        self.velocity = np.zeros(n)
        self.cov = np.zeros((n, 2, 2))
        self.last_seen = np.full(n, -np.inf)
        self.time: float | None = None

    def update(self, t: float, points: np.ndarray) -> np.ndarray:
        """Advance to time ``t`` (seconds) and take in ``points: (K, 3)`` x, y, likelihood.

        Returns
        -------
        (K, 3)
            Filtered positions at ``t`` (NaN for keypoints never or no longer seen) and the
            likelihoods as given.
        """
        points = np.asarray(points, dtype=np.float64)
        self._advance(t)
        z = points[:, :2].reshape(-1)
        likelihood = np.repeat(np.nan_to_num(points[:, 2], nan=0.0), 2)
        valid = (likelihood >= self.pcutoff) & np.isfinite(z) & (likelihood > 0)
        fresh = valid & ~np.isfinite(self.position)
        self.position[fresh] = z[fresh]
        self.velocity[fresh] = 0.0
        self.cov[fresh] = np.diag([self.r, 1e6])
        update = valid & ~fresh
        if update.any():
            r = self.r / likelihood[update] ** 2
            p = self.cov[update]
            innovation = z[update] - self.position[update]
            s = p[:, 0, 0] + r
            gain = p[:, :, 0] / s[:, None]  # (n, 2)
            self.position[update] += gain[:, 0] * innovation
            self.velocity[update] += gain[:, 1] * innovation
            self.cov[update] = p - gain[:, :, None] * p[:, None, 0, :]
        self.last_seen[valid] = t
        return self._as_points(self.position, points[:, 2])

    def predict(self, t: float) -> np.ndarray:
        """Positions extrapolated to time ``t >=`` the last update: ``(K, 2)`` (NaN unknown)."""
        if self.time is None:
            return np.full((len(self.position) // 2, 2), np.nan)
        dt = max(0.0, t - self.time)
        return (self.position + self.velocity * dt).reshape(-1, 2)

    def _advance(self, t: float) -> None:
        if self.time is not None:
            dt = t - self.time
            if dt < 0:
                raise ValueError(f"time went backwards: {t} after {self.time}")
            if dt > 0:
                self._propagate(dt)
        self.time = t
        stale = np.isfinite(self.position) & (t - self.last_seen > self.max_gap)
        self.position[stale] = np.nan
        self.velocity[stale] = 0.0

    def _propagate(self, dt: float) -> None:
        known = np.isfinite(self.position)
        self.position[known] += self.velocity[known] * dt
        f = np.array([[1.0, dt], [0.0, 1.0]])
        noise = self.q * np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]])
        self.cov[known] = f @ self.cov[known] @ f.T + noise

    @staticmethod
    def _as_points(flat: np.ndarray, likelihood: np.ndarray) -> np.ndarray:
        xy = flat.reshape(-1, 2)
        return np.column_stack([xy, likelihood])
