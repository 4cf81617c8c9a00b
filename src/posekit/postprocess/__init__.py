"""posekit.postprocess: temporal filters with gap filling, outlier frames, skeleton kinematics.

- :func:`filter_predictions` / :func:`filter_file`: median, Savitzky-Golay, Kalman smoother
  and ARIMA filters; short gaps are filled, long ones left missing
  (``<analysis>_filtered.h5``);
- :func:`find_outlier_frames`: frames where the network is probably wrong (jump, uncertain,
  fitting, list); :func:`posekit.frames.outliers.extract_outlier_frames` puts them into a
  project for refinement;
- :func:`analyze_skeleton` / :func:`analyze_skeleton_file`: bone lengths, orientations and
  bodypart speeds (``<analysis>_skeleton.h5`` and ``.csv``).

All of them work on :class:`posekit.io.predictions.Predictions` and never modify their input.
"""

from posekit.postprocess.common import PostprocessError
from posekit.postprocess.filters import (
    FilterOptions,
    filter_file,
    filter_predictions,
    filtered_path,
)
from posekit.postprocess.kinematics import analyze_skeleton, analyze_skeleton_file, skeleton_path
from posekit.postprocess.outliers import OutlierOptions, find_outlier_frames

__all__ = [
    "FilterOptions",
    "OutlierOptions",
    "PostprocessError",
    "analyze_skeleton",
    "analyze_skeleton_file",
    "filter_file",
    "filter_predictions",
    "filtered_path",
    "find_outlier_frames",
    "skeleton_path",
]
