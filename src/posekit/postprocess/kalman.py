"""A likelihood-weighted Kalman smoother with a constant-velocity model, for keypoint series.

Each series (one coordinate of one bodypart) is modelled on its own with the state
``[position, velocity]`` (pixels, pixels/frame):

- motion: ``position[t+1] = position[t] + velocity[t] + a/2``, ``velocity[t+1] = velocity[t]
  + a``, with a random acceleration ``a ~ N(0, process_noise**2)`` each frame (the discrete
  white-noise acceleration model);
- measurement: ``y[t] = position[t] + e``, ``e ~ N(0, measurement_noise**2 / likelihood**2)``:
  the network's likelihood scales the standard deviation, so a point of likelihood 0.5 counts
  as twice as noisy as one of likelihood 1 and is pulled towards the motion of its
  neighbours; points that are not valid (missing, or below the p-cutoff) are not measurements
  at all and are bridged by the motion model.

A forward Kalman filter is followed by a Rauch-Tung-Striebel backward pass, so every
estimate uses the whole series. The filter starts from a diffuse prior (the first position
unknown, the velocity ``N(0, 100**2)``), so no initial value biases it.

:func:`kalman_smooth` works on many series at once (numpy across series, a Python loop over
frames); memory is bounded by smoothing the series in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_DIFFUSE = 1e8  # prior variance of the first position, px^2
_VELOCITY_PRIOR = 100.0**2  # prior variance of the velocity, (px/frame)^2
_MIN_LIKELIHOOD = 1e-3
_CHUNK_VALUES = 3_000_000  # n_frames * n_series per chunk (about 240 MB of float64 state)


@dataclass
class Smoothed:
    """Output of :func:`kalman_smooth`.

    Attributes
    ----------
    position : ndarray, shape (n_frames, n_series)
        Smoothed position.
    variance : ndarray, shape (n_frames, n_series)
        Its posterior variance (px^2).
    left_out : ndarray, shape (n_frames, n_series)
        Estimate of each valid frame's position from every *other* frame (the model's
        prediction of a measurement it has not seen); NaN at invalid frames.
    """

    position: np.ndarray
    variance: np.ndarray
    left_out: np.ndarray


def measurement_variance(likelihood: np.ndarray, measurement_noise: float) -> np.ndarray:
    """``measurement_noise**2 / likelihood**2``, likelihood clipped to [0.001, 1]."""
    clipped = np.clip(np.nan_to_num(likelihood, nan=_MIN_LIKELIHOOD), _MIN_LIKELIHOOD, 1.0)
    return measurement_noise**2 / clipped**2


def kalman_smooth(values: np.ndarray, valid: np.ndarray, likelihood: np.ndarray, *,
                  measurement_noise: float, process_noise: float) -> Smoothed:
    """Smooth series with the likelihood-weighted constant-velocity model.

    Parameters
    ----------
    values : ndarray, shape (n_frames, n_series)
        Measured positions (pixels); only ``valid`` frames are read.
    valid : ndarray of bool, shape (n_frames, n_series)
        Which frames are measurements.
    likelihood : ndarray, shape (n_frames, n_series)
        Likelihood of each measurement, in (0, 1].
    measurement_noise : float
        Standard deviation (px) of a measurement of likelihood 1.
    process_noise : float
        Standard deviation (px/frame^2) of the random acceleration per frame.

    Returns
    -------
    Smoothed
    """
    n_frames, n_series = values.shape
    out = Smoothed(np.full(values.shape, np.nan), np.full(values.shape, np.nan),
                   np.full(values.shape, np.nan))
    if n_frames == 0:
        return out
    r = measurement_variance(likelihood, measurement_noise)
    chunk = max(1, _CHUNK_VALUES // n_frames)
    for lo in range(0, n_series, chunk):
        cols = slice(lo, min(lo + chunk, n_series))
        part = _smooth_chunk(values[:, cols], valid[:, cols], r[:, cols], process_noise)
        out.position[:, cols], out.variance[:, cols], out.left_out[:, cols] = part
    return out


def _smooth_chunk(y: np.ndarray, valid: np.ndarray, r: np.ndarray,
                  q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mf, pf, mp, pp = _forward(y, valid, r, q)
    ms, ps = _backward(mf, pf, mp, pp)
    position, variance = ms[..., 0], ps[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        # p(x_t | others) is p(x_t | all) divided by the measurement's Gaussian factor.
        precision = 1.0 / variance - 1.0 / r
        ok = valid & (precision > 1e-9 / variance)
        left_var = 1.0 / precision
        left_out = np.where(ok, left_var * (position / variance - y / r), np.nan)
    return position, variance, left_out


def _forward(y: np.ndarray, valid: np.ndarray, r: np.ndarray,
             q: float) -> tuple[np.ndarray, ...]:
    """Kalman filter; covariances stored as (a, b, c) of [[a, b], [b, c]]."""
    n_frames, n_series = y.shape
    q11, q12, q22 = q**2 / 4.0, q**2 / 2.0, q**2
    first = np.array([y[valid[:, s], s][0] if valid[:, s].any() else 0.0
                      for s in range(n_series)])
    mf = np.empty((n_frames, n_series, 2))
    pf = np.empty((n_frames, n_series, 3))
    mp = np.empty((n_frames, n_series, 2))
    pp = np.empty((n_frames, n_series, 3))
    pos, vel = first.copy(), np.zeros(n_series)
    a, b, c = np.full(n_series, _DIFFUSE), np.zeros(n_series), np.full(n_series, _VELOCITY_PRIOR)
    for t in range(n_frames):
        if t > 0:  # predict
            pos = pos + vel
            a, b, c = a + 2.0 * b + c + q11, b + c + q12, c + q22
        mp[t, :, 0], mp[t, :, 1] = pos, vel
        pp[t, :, 0], pp[t, :, 1], pp[t, :, 2] = a, b, c
        obs = valid[t]
        if obs.any():  # update where there is a measurement
            s = a + r[t]
            ka, kb = a / s, b / s
            innovation = np.where(obs, y[t] - pos, 0.0)
            pos = np.where(obs, pos + ka * innovation, pos)
            vel = np.where(obs, vel + kb * innovation, vel)
            a, b, c = (np.where(obs, a - ka * a, a), np.where(obs, b - ka * b, b),
                       np.where(obs, c - kb * b, c))
        mf[t, :, 0], mf[t, :, 1] = pos, vel
        pf[t, :, 0], pf[t, :, 1], pf[t, :, 2] = a, b, c
    return mf, pf, mp, pp


def _backward(mf: np.ndarray, pf: np.ndarray, mp: np.ndarray,
              pp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rauch-Tung-Striebel pass: smoothed means (n_frames, n_series, 2), covariances (.., 3)."""
    ms = mf.copy()
    ps = pf.copy()
    for t in range(mf.shape[0] - 2, -1, -1):
        a, b, c = pf[t, :, 0], pf[t, :, 1], pf[t, :, 2]
        pa, pb, pc = pp[t + 1, :, 0], pp[t + 1, :, 1], pp[t + 1, :, 2]
        det = pa * pc - pb * pb
        # gain C = P_f[t] F^T P_p[t+1]^-1, with F = [[1, 1], [0, 1]]
        c11 = ((a + b) * pc - b * pb) / det
        c12 = (b * pa - (a + b) * pb) / det
        c21 = ((b + c) * pc - c * pb) / det
        c22 = (c * pa - (b + c) * pb) / det
        dm0 = ms[t + 1, :, 0] - mp[t + 1, :, 0]
        dm1 = ms[t + 1, :, 1] - mp[t + 1, :, 1]
        ms[t, :, 0] = mf[t, :, 0] + c11 * dm0 + c12 * dm1
        ms[t, :, 1] = mf[t, :, 1] + c21 * dm0 + c22 * dm1
        d11 = ps[t + 1, :, 0] - pa
        d12 = ps[t + 1, :, 1] - pb
        d22 = ps[t + 1, :, 2] - pc
        e11, e12 = c11 * d11 + c12 * d12, c11 * d12 + c12 * d22
        e21, e22 = c21 * d11 + c22 * d12, c21 * d12 + c22 * d22
        ps[t, :, 0] = a + e11 * c11 + e12 * c12
        ps[t, :, 1] = b + e11 * c21 + e12 * c22
        ps[t, :, 2] = c + e21 * c21 + e22 * c22
    return ms, ps
