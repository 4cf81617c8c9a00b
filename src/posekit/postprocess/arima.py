"""ARIMA(p, 1, 0) models of keypoint series, fitted by least squares, for smoothing and gaps.

Each series (one coordinate of one bodypart) gets its own autoregressive model of its
frame-to-frame differences ``d[t] = y[t] - y[t-1]``::

    d[t] = phi_1 d[t-1] + ... + phi_p d[t-p] + noise

fitted by ordinary least squares (a tiny ridge term keeps it defined) on every stretch of
``p + 1`` consecutive differences of valid frames. No intercept: a keypoint has no steady
drift over a whole video. A fit whose characteristic roots reach the unit circle is shrunk
until they lie within radius 0.98, so forecasts across a gap cannot blow up. A series with
too few valid stretches (fewer than ``max(10, 3 p)``) gets ``phi = 0``, a random walk.

The *forward prediction* of frame ``t`` is the model's one-step forecast from the frames
before it, ``y[t-1] + sum_i phi_i d[t-i]``; inside a fillable gap the forecasts are fed back
in, so the prediction runs on through the gap. A model fitted to the time-reversed series
gives the *backward prediction* from the frames after ``t``. Neither uses ``y[t]`` itself.

The ARIMA estimate of a valid frame is the mean of its forward and backward predictions (or
the one of them made from all ``p`` past differences when the other side's history is cut
short by a gap or the end of the series); in a
fillable gap of ``g`` frames the ``k``-th frame gets ``(1 - w) forward + w backward`` with
``w = k / (g + 1)``, a hand-over from the left model to the right one. Where only one side
exists (next to the ends of a series or of a gap too long to fill) that side is used.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from posekit.postprocess.common import gap_runs

logger = logging.getLogger(__name__)

_MAX_ROOT = 0.98


def fit_ar(values: np.ndarray, valid: np.ndarray, order: int) -> np.ndarray:
    """Fit the AR model of the differences of each series.

    Parameters
    ----------
    values : ndarray, shape (n_frames, n_series)
    valid : ndarray of bool, shape (n_frames, n_series)
    order : int
        ``p``, at least 1.

    Returns
    -------
    ndarray, shape (n_series, order)
        ``phi_1 .. phi_p`` of each series (zeros where there is too little data).
    """
    n_series = values.shape[1]
    phi = np.zeros((n_series, order))
    for s in range(n_series):
        phi[s] = _fit_one(np.where(valid[:, s], values[:, s], np.nan), order)
    return phi


def _fit_one(y: np.ndarray, order: int) -> np.ndarray:
    d = np.diff(y)
    if d.size < order + 1:
        return np.zeros(order)
    windows = sliding_window_view(d, order + 1)  # d[k-p] .. d[k]
    windows = windows[np.isfinite(windows).all(axis=1)]
    if len(windows) < max(10, 3 * order):
        return np.zeros(order)
    target = windows[:, -1]
    design = windows[:, -2::-1]  # d[k-1], d[k-2], ..., d[k-p]
    gram = design.T @ design
    ridge = 1e-6 * (np.trace(gram) / order + 1e-12)
    phi = np.linalg.solve(gram + ridge * np.eye(order), design.T @ target)
    return _stabilize(phi)


def _stabilize(phi: np.ndarray) -> np.ndarray:
    """Shrink ``phi`` so every root of ``z^p - phi_1 z^(p-1) - ... - phi_p`` is within 0.98."""
    radius = float(np.max(np.abs(np.roots(np.r_[1.0, -phi])))) if phi.any() else 0.0
    if radius <= _MAX_ROOT:
        return phi
    scale = _MAX_ROOT / radius
    return phi * scale ** np.arange(1, len(phi) + 1)


def forward_predictions(values: np.ndarray, valid: np.ndarray, fill: np.ndarray,
                        phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-step forecasts of every frame from the frames before it.

    Parameters
    ----------
    values : ndarray, shape (n_frames, n_series)
    valid, fill : ndarray of bool, shape (n_frames, n_series)
        Measured frames, and gap frames to run the forecast through.
    phi : ndarray, shape (n_series, p)

    Returns
    -------
    prediction : ndarray, shape (n_frames, n_series)
        The forecast of each frame; NaN where the frame before it is neither valid nor filled.
    complete : ndarray of bool, shape (n_frames, n_series)
        Whether the forecast had all ``p`` past differences (not cut short by the start of
        the series or of a stretch).
    """
    n_frames = values.shape[0]
    order = phi.shape[1]
    z = np.where(valid, values, np.nan)
    pred = np.full(values.shape, np.nan)
    complete = np.zeros(values.shape, dtype=bool)
    for t in range(1, n_frames):
        lo = max(0, t - 1 - order)
        recent = np.diff(z[lo:t], axis=0)[::-1]  # d[t-1], d[t-2], ... (up to p of them)
        step = (np.nan_to_num(recent) * phi[:, :len(recent)].T).sum(axis=0)
        pred[t] = z[t - 1] + step
        complete[t] = (len(recent) == order) & np.isfinite(recent).all(axis=0)
        z[t] = np.where(fill[t] & np.isfinite(pred[t]), pred[t], z[t])
    return pred, complete


def arima_estimate(values: np.ndarray, valid: np.ndarray, fill: np.ndarray, *,
                   order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ARIMA(p, 1, 0) estimate of every valid and fillable frame (see the module docstring).

    Parameters
    ----------
    values : ndarray, shape (n_frames, n_series)
    valid, fill : ndarray of bool, shape (n_frames, n_series)
    order : int
        ``p``.

    Returns
    -------
    estimate : ndarray, shape (n_frames, n_series)
        Combined estimate at valid and fill frames (NaN elsewhere); a valid frame with no
        prediction on either side keeps its measurement.
    forward, backward : ndarray, shape (n_frames, n_series)
        The one-sided predictions.
    """
    forward, complete_f = forward_predictions(values, valid, fill, fit_ar(values, valid, order))
    rev = (values[::-1], valid[::-1], fill[::-1])
    backward, complete_b = forward_predictions(*rev, fit_ar(rev[0], rev[1], order))
    backward, complete_b = backward[::-1], complete_b[::-1]
    weight = _backward_weights(valid, fill)
    # at a measured frame, a side whose history is cut short defers to a complete one
    weight = np.where(valid & complete_f & ~complete_b, 0.0, weight)
    weight = np.where(valid & ~complete_f & complete_b, 1.0, weight)
    estimate = (1.0 - weight) * forward + weight * backward
    estimate = np.where(np.isnan(forward), backward, estimate)
    estimate = np.where(np.isnan(backward), forward, estimate)
    estimate = np.where(valid & np.isnan(estimate), values, estimate)
    return np.where(valid | fill, estimate, np.nan), forward, backward


def _backward_weights(valid: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Weight of the backward prediction: 0.5 at valid frames, ``k / (g + 1)`` in gaps."""
    weight = np.full(valid.shape, 0.5)
    for s in np.flatnonzero(fill.any(axis=0)):
        for start, stop in gap_runs(valid[:, s]):
            if fill[start, s]:
                weight[start:stop, s] = np.arange(1, stop - start + 1) / (stop - start + 1)
    return weight
