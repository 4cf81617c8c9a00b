"""posekit.threed: multi-camera calibration, bundle adjustment, triangulation, 3D views.

Main entry points (each imported on first use, so ``import posekit.threed`` stays light):

* :func:`calibrate` -- cameras from images/videos of a board, written as calibration.toml
* :func:`check_calibration` -- flag cameras whose calibration disagrees with the others
* :func:`triangulate` -- 2D predictions of several cameras to a 3D h5 file
* :func:`plot_pose_3d`, :func:`write_video_3d`, :func:`write_reprojection_video`
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "Board": "posekit.threed.boards",
    "Detection": "posekit.threed.boards",
    "read_board": "posekit.threed.boards",
    "detect_board": "posekit.threed.boards",
    "Camera": "posekit.threed.cameras",
    "Calibration": "posekit.threed.calibfile",
    "read_calibration": "posekit.threed.calibfile",
    "write_calibration": "posekit.threed.calibfile",
    "CalibrationOptions": "posekit.threed.calibration",
    "CalibrationResult": "posekit.threed.calibration",
    "calibrate": "posekit.threed.calibration",
    "calibrate_views": "posekit.threed.calibration",
    "BoardViews": "posekit.threed.sources",
    "find_calibration_media": "posekit.threed.sources",
    "detect_views": "posekit.threed.sources",
    "bundle_adjust": "posekit.threed.bundle",
    "CheckOptions": "posekit.threed.check",
    "CalibrationCheck": "posekit.threed.check",
    "check_calibration": "posekit.threed.check",
    "board_points": "posekit.threed.check",
    "TriangulateOptions": "posekit.threed.triangulation",
    "triangulate": "posekit.threed.triangulation",
    "triangulate_points": "posekit.threed.triangulation",
    "Points3D": "posekit.threed.points3d",
    "read_points3d": "posekit.threed.points3d",
    "write_points3d": "posekit.threed.points3d",
    "plot_pose_3d": "posekit.threed.plots",
    "write_video_3d": "posekit.threed.plots",
    "write_reprojection_video": "posekit.threed.plots",
    "Video3DOptions": "posekit.threed.plots",
    "ReprojectionOptions": "posekit.threed.plots",
}

__all__ = list(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'posekit.threed' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
