"""Project-level answers of the labeling app: the overview and frame extraction."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from posekit.errors import PosekitError
from posekit.label.paths import LabelRequestError
from posekit.label.validate import check_keys
from posekit.project import Project

logger = logging.getLogger(__name__)

EXTRACT_ALGORITHMS = ("kmeans", "uniform")
MAX_EXTRACT = 10_000


def project_info(project: Project, store: Any) -> dict[str, Any]:
    """Config, videos and labeled-data folders (with counts) of a project.

    Parameters
    ----------
    project : Project
        The project.
    store : LabelStore
        Its label store, for the per-folder counts.

    Returns
    -------
    dict
        ``name``, ``scorer``, ``multi_animal``, ``individuals``, ``bodyparts``,
        ``unique_bodyparts``, ``edges``, ``dotsize``, ``pcutoff``, ``colormap``, ``videos``
        (name, whether the file exists, its folder) and ``folders`` (name, frame counts by
        status, or the error that prevents reading its labels).
    """
    config = project.config
    videos = []
    for key in config.video_sets:
        path = project.resolve_video(key)
        name = Path(key.replace("\\", "/")).name
        videos.append({"name": name, "key": key, "exists": path is not None,
                       "folder": Path(name).stem})
    folders = []
    for directory in project.labeled_folders():
        if directory.name.endswith("_labeled"):
            continue  # label-check drawings, not frames
        entry: dict[str, Any] = {"name": directory.name}
        try:
            summary = store.summary(directory.name)
            entry.update(n_frames=summary["n_frames"], counts=summary["counts"],
                         machine_file=summary["machine_file"])
        except LabelRequestError as error:
            entry.update(n_frames=None, error=error.message)
        folders.append(entry)
    return {
        "name": config.Task or project.root.name, "root": str(project.root),
        "scorer": config.scorer, "multi_animal": config.is_multi_animal,
        "individuals": config.individual_names, "bodyparts": config.pose_bodyparts,
        "unique_bodyparts": config.unique_bodyparts,
        "edges": [list(edge) for edge in config.edges],
        "skeleton_color": config.skeleton_color, "dotsize": config.dotsize,
        "pcutoff": config.pcutoff, "colormap": config.colormap,
        "videos": videos, "folders": folders,
    }


def parse_extract_request(project: Project, data: dict[str, Any]) -> dict[str, Any]:
    """Check an extraction request ``{"videos": [names] | null, "n": int | null, "algo"}``.

    Videos are named by file name and must be videos of the project that exist.

    Returns
    -------
    dict
        Keyword arguments for ``extract_frames``: ``algo``, ``n``, ``videos`` (paths or None).
    """
    check_keys(data, {"videos", "n", "algo"}, "the extraction request")
    algo = data.get("algo", "kmeans")
    if algo not in EXTRACT_ALGORITHMS:
        raise LabelRequestError(422, f"'algo' must be one of {list(EXTRACT_ALGORITHMS)}, found "
                                     f"{str(algo)[:40]!r}.")
    n = data.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)
                          or not 1 <= n <= MAX_EXTRACT):
        raise LabelRequestError(422, f"'n' must be a whole number from 1 to {MAX_EXTRACT} (or "
                                     f"null for the config's numframes2pick), found {n!r:.40}.")
    names = data.get("videos")
    videos = None
    if names is not None:
        if not isinstance(names, list) or not names \
                or not all(isinstance(name, str) for name in names):
            raise LabelRequestError(422, "'videos' must be a non-empty list of video file names "
                                         "(or null for all videos).")
        available = {path.name: path for path in project.videos()}
        unknown = [name for name in names if name not in available]
        if unknown:
            raise LabelRequestError(422, f"Unknown video(s) {[u[:80] for u in unknown[:5]]}; "
                                         f"this project's videos on this machine are "
                                         f"{sorted(available)}.")
        videos = [available[name] for name in names]
    return {"algo": algo, "n": n, "videos": videos}


def run_extraction(project: Project, data: dict[str, Any]) -> dict[str, Any]:
    """Extract more frames to label, as ``posekit extract-frames`` does.

    Returns
    -------
    dict
        ``{"extracted": {video: number of new frames}}``.
    """
    from posekit.frames.extract import extract_frames

    options = parse_extract_request(project, data)
    try:
        result = extract_frames(project, **options)
    except PosekitError as error:
        raise LabelRequestError(422, f"Frame extraction failed: {error}") from None
    logger.info("extracted frames: %s", {k: len(v) for k, v in result.items()})
    return {"extracted": {str(key): len(paths) for key, paths in result.items()}}
