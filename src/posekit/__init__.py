"""posekit: markerless pose estimation of animals from video.

The public API is listed in ``__all__``; each name is imported on first use, so
``import posekit`` is fast and has no side effects.
"""

from __future__ import annotations

import importlib
from typing import Any

from posekit._version import __version__

_API = {
    "Project": "posekit.project",
    "ProjectConfig": "posekit.project",
    "create_project": "posekit.project",
    "open_project": "posekit.project",
    "add_videos": "posekit.project",
    "load_project_labels": "posekit.project.labels",
    "Labels": "posekit.io.labels",
    "read_labels": "posekit.io.labels",
    "write_labels": "posekit.io.labels",
    "Predictions": "posekit.io.predictions",
    "read_predictions": "posekit.io.predictions",
    "VideoReader": "posekit.io.video",
    "VideoWriter": "posekit.io.video",
    "read_video_metadata": "posekit.io.video",
    "import_coco": "posekit.io.coco",
    "import_slp": "posekit.io.sleap",
    "extract_frames": "posekit.frames.extract",
    "extract_outlier_frames": "posekit.frames.outliers",
    "check_labels": "posekit.label.check",
    "serve_labeling": "posekit.label",
    "create_dataset": "posekit.data.splits",
    "load_split": "posekit.data.splits",
    "TrainOptions": "posekit.train.options",
    "train": "posekit.train.loop",
    "evaluate": "posekit.evaluate.report",
    "AnalyzeOptions": "posekit.predict.analyze",
    "analyze_videos": "posekit.predict.trained",
    "load_predictor": "posekit.predict.trained",
    "labeled_video": "posekit.viz.project",
    "trajectory_plots": "posekit.viz.project",
    "filter_predictions": "posekit.postprocess.filters",
    "filter_file": "posekit.postprocess.filters",
    "analyze_skeleton": "posekit.postprocess.kinematics",
    "merge": "posekit.project.iterations",
    "calibrate": "posekit.threed",
    "check_calibration": "posekit.threed",
    "triangulate": "posekit.threed",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'posekit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
