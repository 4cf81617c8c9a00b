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
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'posekit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
