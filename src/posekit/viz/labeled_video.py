"""Videos with predicted keypoints drawn on every frame."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posekit.io.predictions import Predictions
from posekit.io.video import VideoReader, VideoWriter
from posekit.progress import track
from posekit.viz.colors import bodypart_colors

logger = logging.getLogger(__name__)

MARKERS = (cv2.MARKER_CROSS, cv2.MARKER_TILTED_CROSS, cv2.MARKER_DIAMOND, cv2.MARKER_SQUARE,
           cv2.MARKER_TRIANGLE_UP, cv2.MARKER_STAR)


@dataclass(frozen=True)
class DrawStyle:
    """How keypoints are drawn.

    Attributes
    ----------
    pcutoff : float
        Points with a lower likelihood are hidden (or faded, see ``fade_below_cutoff``).
    dot_radius : int
        Marker radius in pixels.
    colormap : str
        Matplotlib colormap for bodypart colors.
    skeleton : tuple of (str, str)
        Edges drawn between bodyparts.
    fade_below_cutoff : bool
        Draw low-likelihood points as hollow circles instead of hiding them.
    color_by_individual : bool
        One color per individual instead of per bodypart (multi-animal videos).
    """

    pcutoff: float = 0.6
    dot_radius: int = 5
    colormap: str = "rainbow"
    skeleton: tuple[tuple[str, str], ...] = ()
    fade_below_cutoff: bool = False
    color_by_individual: bool = False


def draw_keypoints(frame: np.ndarray, points: np.ndarray, bodyparts: list[str],
                   style: DrawStyle) -> np.ndarray:
    """Draw one frame's keypoints.

    Parameters
    ----------
    frame : ndarray, shape (H, W, 3)
        uint8 RGB frame; not modified.
    points : ndarray, shape (n_individuals, n_bodyparts, 3)
        x, y, likelihood; NaN where missing.
    bodyparts : list of str
        Bodypart names, in the order of ``points``.
    style : DrawStyle
        Colors, cutoff, skeleton.

    Returns
    -------
    ndarray, shape (H, W, 3)
        A drawn copy.
    """
    canvas = np.ascontiguousarray(frame.copy())
    n_ind, n_bp = points.shape[:2]
    colors = bodypart_colors(n_ind if style.color_by_individual else n_bp, style.colormap)
    index = {name: k for k, name in enumerate(bodyparts)}
    for i in range(n_ind):
        visible = np.isfinite(points[i, :, :2]).all(axis=1) & (points[i, :, 2] >= style.pcutoff)
        for a, b in style.skeleton:
            ka, kb = index.get(a), index.get(b)
            if ka is not None and kb is not None and visible[ka] and visible[kb]:
                color = tuple(int(c) for c in (colors[i] if style.color_by_individual
                                               else (200, 200, 200)))
                cv2.line(canvas, _pixel(points[i, ka]), _pixel(points[i, kb]), color, 1,
                         cv2.LINE_AA)
        for k in range(n_bp):
            if not np.isfinite(points[i, k, :2]).all():
                continue
            color = tuple(int(c) for c in colors[i if style.color_by_individual else k])
            if visible[k]:
                _marker(canvas, points[i, k], color, style.dot_radius, i)
            elif style.fade_below_cutoff:
                cv2.circle(canvas, _pixel(points[i, k]), style.dot_radius, color, 1, cv2.LINE_AA)
    return canvas


def _pixel(point: np.ndarray) -> tuple[int, int]:
    return int(round(float(point[0]))), int(round(float(point[1])))


def _marker(canvas: np.ndarray, point: np.ndarray, color: tuple[int, ...], radius: int,
            individual: int) -> None:
    if individual == 0:
        cv2.circle(canvas, _pixel(point), radius, color, -1, cv2.LINE_AA)
    else:
        cv2.drawMarker(canvas, _pixel(point), color, MARKERS[(individual - 1) % len(MARKERS)],
                       2 * radius + 1, 2)


def create_labeled_video(video: str | Path, predictions: Predictions, output: str | Path, *,
                         style: DrawStyle = DrawStyle()) -> Path:
    """Write a copy of ``video`` with ``predictions`` drawn on every frame.

    Parameters
    ----------
    video : path-like
        The analyzed video.
    predictions : Predictions
        Its keypoints, ``data: (n_frames, n_individuals, n_bodyparts, 3)``.
    output : path-like
        The video to write (``.mp4``, codec mp4v), atomically.
    style : DrawStyle
        Colors, cutoff, skeleton.

    Returns
    -------
    Path
        ``output``.
    """
    output = Path(output)
    with VideoReader(video) as reader:
        size = (reader.metadata.width, reader.metadata.height)
        n = min(len(reader), predictions.data.shape[0])
        if predictions.data.shape[0] != len(reader):
            logger.warning("%s has %d frames but the predictions %d; drawing the first %d",
                           video, len(reader), predictions.data.shape[0], n)
        with VideoWriter(output, reader.fps, size) as writer:
            for index, frame in track(reader, total=n, description=f"drawing {output.name}"):
                if index >= n:
                    break
                writer.write(draw_keypoints(frame, predictions.data[index],
                                            predictions.bodyparts, style))
    return output
