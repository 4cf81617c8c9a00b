"""Trajectory, likelihood and jump plots of an analysis, as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.io.atomic import atomic_path
from posekit.io.predictions import Predictions
from posekit.viz.colors import bodypart_colors


def frame_jumps(data: np.ndarray) -> np.ndarray:
    """Distance each keypoint moves between consecutive frames.

    Parameters
    ----------
    data : ndarray, shape (n_frames, n_individuals, n_bodyparts, 3)
        x, y, likelihood.

    Returns
    -------
    ndarray, shape (n_frames - 1, n_individuals, n_bodyparts)
        Pixels; NaN where either frame lacks the keypoint.
    """
    return np.linalg.norm(np.diff(data[..., :2], axis=0), axis=-1)


def plot_trajectories(predictions: Predictions, out_dir: str | Path, *, pcutoff: float = 0.6,
                      colormap: str = "rainbow") -> list[Path]:
    """Write ``trajectories.png``, ``likelihood.png`` and ``jumps.png`` to ``out_dir``.

    Parameters
    ----------
    predictions : Predictions
        An analysis, ``data: (n_frames, n_individuals, n_bodyparts, 3)``.
    out_dir : path-like
        Folder of the plots (created).
    pcutoff : float
        Points below this likelihood are left out of the trajectory and jump plots.
    colormap : str
        Matplotlib colormap for the bodyparts.

    Returns
    -------
    list of Path
        The three PNG files.
    """
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = predictions.data.copy()
    data[data[..., 2] < pcutoff, :2] = np.nan
    colors = bodypart_colors(len(predictions.bodyparts), colormap) / 255.0
    frames = np.arange(data.shape[0])
    written = []

    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    for i, individual in enumerate(predictions.individuals):
        for k, name in enumerate(predictions.bodyparts):
            label = name if len(predictions.individuals) == 1 else f"{individual} {name}"
            ax.plot(data[:, i, k, 0], data[:, i, k, 1], ".", ms=2, color=colors[k], label=label)
    ax.invert_yaxis()
    ax.set(xlabel="x (pixels)", ylabel="y (pixels)", aspect="equal",
           title=f"Trajectories (likelihood >= {pcutoff})")
    ax.legend(markerscale=4, fontsize=7)
    written.append(_save(fig, out_dir / "trajectories.png"))

    fig = Figure(figsize=(9, 4))
    ax = fig.add_subplot()
    for k, name in enumerate(predictions.bodyparts):
        ax.plot(frames, predictions.data[:, 0, k, 2], lw=0.7, color=colors[k], label=name)
    ax.axhline(pcutoff, color="k", ls="--", lw=0.8, label="pcutoff")
    ax.set(xlabel="frame", ylabel="likelihood", ylim=(-0.02, 1.02), title="Likelihood over time")
    ax.legend(fontsize=7, ncol=2)
    written.append(_save(fig, out_dir / "likelihood.png"))

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    jumps = frame_jumps(data)
    for k, name in enumerate(predictions.bodyparts):
        values = jumps[:, :, k].ravel()
        values = values[np.isfinite(values)]
        if values.size:
            ax.hist(values, bins=50, histtype="step", color=colors[k], label=name)
    ax.set(xlabel="jump between consecutive frames (pixels)", ylabel="count", yscale="log",
           title="Frame-to-frame jumps")
    ax.legend(fontsize=7)
    written.append(_save(fig, out_dir / "jumps.png"))
    return written


def _save(fig: object, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return path
