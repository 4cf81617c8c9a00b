"""Synthetic trajectories with known truth for the post-processing tests.

Imported by tests as ``from postprocess.synthetic import ...`` (tests/ is on sys.path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.io.predictions import Predictions


def smooth_truth(n_frames: int, n_bodyparts: int = 2) -> np.ndarray:
    """(n_frames, n_bodyparts, 2) smooth paths (sums of sines, speeds up to ~8 px/frame)."""
    t = np.arange(n_frames, dtype=float)
    paths = []
    for k in range(n_bodyparts):
        x = 200 + 80 * np.sin(2 * np.pi * t / (150 + 20 * k)) + 30 * np.sin(2 * np.pi * t / 37)
        y = 150 + 60 * np.cos(2 * np.pi * t / (110 - 10 * k)) + 20 * np.sin(2 * np.pi * t / 29)
        paths.append(np.stack([x, y], axis=-1))
    return np.stack(paths, axis=1)


@dataclass
class Noisy:
    """A noisy observation of :func:`smooth_truth` with known defects."""

    pred: Predictions
    truth: np.ndarray  # (n_frames, n_bodyparts, 2)
    short_gaps: list[tuple[int, int, int]]  # (bodypart, start, stop): NaN runs <= max_gap
    long_gap: tuple[int, int, int]  # a NaN run > max_gap
    low_gap: tuple[int, int, int]  # a short run of finite points with likelihood < pcutoff
    outliers: list[tuple[int, int]]  # (frame, bodypart): +50 px with likelihood 0.1


def noisy_trajectory(*, n_frames: int = 600, noise: float = 3.0, seed: int = 0) -> Noisy:
    """Truth + Gaussian noise, dropped points, a long gap and low-likelihood outliers."""
    rng = np.random.default_rng(seed)
    truth = smooth_truth(n_frames)
    data = np.empty((n_frames, 1, truth.shape[1], 3))
    data[:, 0, :, :2] = truth + rng.normal(0.0, noise, truth.shape)
    data[:, 0, :, 2] = rng.uniform(0.8, 1.0, truth.shape[:2])
    short_gaps = [(0, 100, 104), (1, 250, 255), (0, 480, 481)]
    long_gap = (0, 300, 320)
    for bp, start, stop in [*short_gaps, long_gap]:
        data[start:stop, 0, bp] = np.nan
    low_gap = (1, 400, 403)
    data[low_gap[1]:low_gap[2], 0, low_gap[0], 2] = 0.2
    outliers = [(50, 1), (220, 1), (410, 0)]
    for frame, bp in outliers:
        data[frame, 0, bp, :2] += 50.0
        data[frame, 0, bp, 2] = 0.1
    pred = Predictions(data=data, bodyparts=["snout", "tail"], scorer="synthetic",
                       metadata={"fps": 30.0})
    return Noisy(pred, truth, short_gaps, long_gap, low_gap, outliers)
