"""Keypoint error metrics: mean error (DeepLabCut's "RMSE"), true RMSE, PCK, per bodypart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_PCK_THRESHOLDS = (2.0, 5.0, 10.0)


def keypoint_metrics(predicted: np.ndarray, truth: np.ndarray, *, pcutoff: float,
                     thresholds: Sequence[float] = DEFAULT_PCK_THRESHOLDS) -> dict[str, float]:
    """Error metrics over every labeled keypoint.

    Parameters
    ----------
    predicted : ndarray, shape (n_images, n_bodyparts, 3)
        x, y, likelihood.
    truth : ndarray, shape (n_images, n_bodyparts, 2)
        Labels; NaN where not visible (those keypoints are left out).
    pcutoff : float
        Likelihood threshold for the ``*_above_pcutoff`` metrics.
    thresholds : sequence of float
        Pixel distances for PCK.

    Returns
    -------
    dict
        ``mean_error_px`` (mean Euclidean distance; what DeepLabCut calls RMSE),
        ``rmse_px`` (root mean square distance), ``mean_error_above_pcutoff_px`` (only
        keypoints predicted with likelihood >= pcutoff), ``fraction_above_pcutoff``,
        ``pck@T`` (fraction within T pixels) for each threshold, ``n_keypoints``.
    """
    errors = np.linalg.norm(predicted[..., :2] - truth, axis=-1)
    labeled = np.isfinite(truth).all(axis=-1)
    e = errors[labeled]
    confident = (predicted[..., 2] >= pcutoff)[labeled]
    out = {"mean_error_px": _mean(e), "rmse_px": float(np.sqrt(np.mean(e ** 2))) if e.size
           else float("nan"),
           "mean_error_above_pcutoff_px": _mean(e[confident]),
           "fraction_above_pcutoff": float(confident.mean()) if e.size else float("nan"),
           "n_keypoints": int(e.size)}
    for t in thresholds:
        out[f"pck@{t:g}"] = float((e <= t).mean()) if e.size else float("nan")
    return out


def per_bodypart_metrics(predicted: np.ndarray, truth: np.ndarray, bodyparts: Sequence[str], *,
                         pcutoff: float, thresholds: Sequence[float] = DEFAULT_PCK_THRESHOLDS
                         ) -> dict[str, dict[str, float]]:
    """:func:`keypoint_metrics` for each bodypart separately (same shapes as there)."""
    return {name: keypoint_metrics(predicted[:, [k]], truth[:, [k]], pcutoff=pcutoff,
                                   thresholds=thresholds)
            for k, name in enumerate(bodyparts)}


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
