"""Extracting frames to label from a project's videos."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from posekit.errors import ProjectError
from posekit.frames import extracted_frame_indices, select_frames, write_frames
from posekit.io.video import VideoReader
from posekit.project.project import Project

logger = logging.getLogger(__name__)


def extract_frames(
    project: Project,
    *,
    algo: Literal["kmeans", "uniform"] = "kmeans",
    n: int | None = None,
    videos: Sequence[str | Path] | None = None,
    seed: int = 0,
) -> dict[str, list[Path]]:
    """Pick frames to label from each video and write them to labeled-data/<video stem>/.

    Frames are chosen between the config's ``start`` and ``stop`` fractions of each video,
    uniformly in time or by k-means on downsampled frames (visually distinct postures).
    Frames already extracted are neither chosen again nor overwritten, and neither are their
    labels; calling this again adds ``n`` new frames per video.

    Parameters
    ----------
    project : Project
        The project.
    algo : {"kmeans", "uniform"}
        How to choose frames.
    n : int, optional
        Frames per video; the config's ``numframes2pick`` by default.
    videos : sequence of path-like, optional
        Only these videos (default: all videos of the project).
    seed : int
        Seed of the k-means clustering.

    Returns
    -------
    dict
        For each video stem, the PNG files written.

    Raises
    ------
    ProjectError
        If the project has no videos, or ``n`` is not positive.
    """
    count = project.config.numframes2pick if n is None else n
    if count < 1:
        raise ProjectError(f"The number of frames to extract must be at least 1, found {count}.")
    paths = [Path(v) for v in videos] if videos else project.videos()
    if not paths:
        raise ProjectError(
            f"{project.config_path} lists no video that exists on this machine "
            f"(missing: {project.missing_videos()}). Add one with `posekit add-videos`.")
    written: dict[str, list[Path]] = {}
    for path in paths:
        folder = project.labeled_data_dir / path.stem
        with VideoReader(path) as reader:
            indices = select_frames(reader, count, algo=algo, start=project.config.start,
                                    stop=project.config.stop, seed=seed,
                                    exclude=extracted_frame_indices(folder))
            written[path.stem] = write_frames(reader, indices, folder)
        logger.info("%s: wrote %d frames to %s", path.name, len(written[path.stem]), folder)
    return written
