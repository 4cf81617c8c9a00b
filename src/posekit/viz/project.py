"""Labeled videos and plots for a project's analyzed videos."""

from __future__ import annotations

from pathlib import Path

from posekit.io.predictions import read_predictions
from posekit.predict.locate import find_analysis
from posekit.project.project import Project
from posekit.viz.labeled_video import DrawStyle, create_labeled_video
from posekit.viz.plots import plot_trajectories


def labeled_video(project: Project, video: str | Path, *, shuffle: int | None = None,
                  filtered: bool = False, fade: bool = False) -> Path:
    """Draw a video's analysis on it: ``<analysis name>_labeled.mp4`` beside the analysis.

    Parameters
    ----------
    project : Project
        Supplies the colors, p-cutoff, marker size and skeleton.
    video : path-like
        An analyzed video.
    shuffle : int, optional
        Use the analysis of this shuffle's model (the newest analysis by default).
    filtered : bool
        Draw the filtered analysis.
    fade : bool
        Draw points under the p-cutoff as hollow circles instead of hiding them.

    Returns
    -------
    Path
        The labeled video.
    """
    h5 = find_analysis(video, shuffle=shuffle, filtered=filtered)
    config = project.config
    style = DrawStyle(pcutoff=config.pcutoff, dot_radius=max(2, config.dotsize // 2),
                      colormap=config.colormap, skeleton=tuple(config.edges),
                      fade_below_cutoff=fade)
    return create_labeled_video(video, read_predictions(h5), h5.with_name(h5.stem + "_labeled.mp4"),
                                style=style)


def trajectory_plots(project: Project, video: str | Path, *, shuffle: int | None = None,
                     filtered: bool = False) -> list[Path]:
    """Trajectory, likelihood and jump plots into ``plot-poses/<video stem>/`` beside the video."""
    h5 = find_analysis(video, shuffle=shuffle, filtered=filtered)
    folder = h5.parent / "plot-poses" / (Path(video).stem + ("_filtered" if filtered else ""))
    return plot_trajectories(read_predictions(h5), folder, pcutoff=project.config.pcutoff,
                             colormap=project.config.colormap)
