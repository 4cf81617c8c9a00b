"""Looking at part of a frame, smaller: crop windows and downscaling, and the way back.

The network can see a frame cropped (a fixed region, or a window that follows the animal)
and resized by a factor ``s`` (``--downscale 0.5``). Keypoints it finds are mapped back to
full-frame pixels, with the origin at the top-left pixel's center (posekit's convention):
a window starting at ``(x1, y1)`` resized to ``round(width * s)`` x ``round(height * s)``
pixels maps a network point ``(x', y')`` to::

    x = x1 + (x' + 0.5) / sx - 0.5        sx = resized width / window width  (~ s)
    y = y1 + (y' + 0.5) / sy - 0.5        sy = resized height / window height

which is the exact inverse of OpenCV's resize geometry (a destination pixel center ``x'``
samples the source at ``(x' + 0.5) / sx - 0.5``). Using the realized ratios ``sx, sy``
rather than ``s`` keeps the mapping exact when a size does not divide evenly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from posekit.errors import ProjectError, VideoError


@dataclass(frozen=True)
class Window:
    """A region of the frame, and the size the network sees it at.

    Attributes
    ----------
    x1, y1 : int
        Top-left pixel of the region (inclusive), in full-frame pixels.
    x2, y2 : int
        Bottom-right bound (exclusive): the region is ``frame[y1:y2, x1:x2]``, DeepLabCut's
        crop convention.
    out_width, out_height : int
        Size of the region after resizing (equal to the region's size when not resized).
    """

    x1: int
    y1: int
    x2: int
    y2: int
    out_width: int
    out_height: int

    @property
    def width(self) -> int:
        """Width of the region in full-frame pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        """Height of the region in full-frame pixels."""
        return self.y2 - self.y1

    @property
    def scale(self) -> tuple[float, float]:
        """Realized resize ratios ``(sx, sy)``: output size over region size."""
        return self.out_width / self.width, self.out_height / self.height

    @property
    def is_identity(self) -> bool:
        """Whether applying the window leaves frames of size ``(x2, y2)`` unchanged."""
        return (self.x1, self.y1) == (0, 0) and (self.out_width, self.out_height) == (
            self.width, self.height)


def make_window(box: tuple[int, int, int, int], frame_size: tuple[int, int], *,
                downscale: float = 1.0) -> Window:
    """The window of ``box = (x1, x2, y1, y2)`` (DeepLabCut's order), resized by ``downscale``.

    Parameters
    ----------
    box : (x1, x2, y1, y2)
        The region ``frame[y1:y2, x1:x2]`` in full-frame pixels.
    frame_size : (width, height)
        Size of the frames the region is cut from.
    downscale : float
        Resize factor in ``(0, 1]``; the output size is rounded to whole pixels (at least 1).

    Raises
    ------
    VideoError
        If the region is empty or does not lie inside the frame, or ``downscale`` is not in
        ``(0, 1]``.
    """
    x1, x2, y1, y2 = (int(v) for v in box)
    width, height = frame_size
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise VideoError(f"crop (x1, x2, y1, y2) = {tuple(box)} must satisfy 0 <= x1 < x2 <= "
                         f"{width} and 0 <= y1 < y2 <= {height} for frames of {width}x{height} "
                         f"pixels. Choose a region inside the frame.")
    check_downscale(downscale)
    out_w = max(1, int(round((x2 - x1) * downscale)))
    out_h = max(1, int(round((y2 - y1) * downscale)))
    return Window(x1, y1, x2, y2, out_w, out_h)


def full_window(frame_size: tuple[int, int], *, downscale: float = 1.0) -> Window:
    """The whole frame, resized by ``downscale``."""
    width, height = frame_size
    return make_window((0, width, 0, height), frame_size, downscale=downscale)


def check_downscale(downscale: float) -> float:
    """Validate a downscaling factor: a number in ``(0, 1]``.

    Raises
    ------
    VideoError
        Otherwise, naming the value.
    """
    if isinstance(downscale, bool) or not isinstance(downscale, (int, float)) or \
            not np.isfinite(downscale) or not 0.0 < downscale <= 1.0:
        raise VideoError(f"downscale must be a number in (0, 1] (0.5 halves width and height), "
                         f"found {downscale!r}.")
    return float(downscale)


def apply_window(frames: np.ndarray, window: Window) -> np.ndarray:
    """Cut ``window`` out of ``frames: (B, H, W, 3)`` and resize it.

    Returns
    -------
    (B, out_height, out_width, 3) uint8
        C-contiguous. Resizing uses area averaging (the right filter to shrink; linear
        when enlarging), whose geometry is the one :func:`points_to_full` inverts.
    """
    region = frames[:, window.y1:window.y2, window.x1:window.x2]
    if (window.out_width, window.out_height) == (window.width, window.height):
        return np.ascontiguousarray(region)
    shrink = window.out_width <= window.width and window.out_height <= window.height
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    size = (window.out_width, window.out_height)
    return np.stack([cv2.resize(frame, size, interpolation=interpolation) for frame in region])


def points_to_full(points: np.ndarray, window: Window | Sequence[Window]) -> np.ndarray:
    """Map keypoints found in windowed frames back to full-frame pixels.

    Parameters
    ----------
    points : (B, K, 3)
        x, y (pixels of the windowed frame) and likelihood.
    window : Window, or a sequence of B windows (one per frame)

    Returns
    -------
    (B, K, 3) float64
        x, y in full-frame pixels; likelihood unchanged.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    windows = [window] * len(out) if isinstance(window, Window) else list(window)
    if len(windows) != len(out):
        raise ValueError(f"{len(out)} frames of points but {len(windows)} windows")
    if not windows:
        return out
    x1 = np.array([w.x1 for w in windows], dtype=np.float64)[:, None]
    y1 = np.array([w.y1 for w in windows], dtype=np.float64)[:, None]
    sx = np.array([w.scale[0] for w in windows])[:, None]
    sy = np.array([w.scale[1] for w in windows])[:, None]
    out[..., 0] = x1 + (out[..., 0] + 0.5) / sx - 0.5
    out[..., 1] = y1 + (out[..., 1] + 0.5) / sy - 0.5
    return out


def parse_crop(crop: Sequence[int] | None) -> tuple[int, int, int, int] | None:
    """Validate a ``(x1, x2, y1, y2)`` crop given by a user (before the frame size is known).

    Raises
    ------
    VideoError
        If it is not four integers with ``0 <= x1 < x2`` and ``0 <= y1 < y2``.
    """
    if crop is None:
        return None
    values = list(crop)
    if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                   for v in values):
        raise VideoError(f"crop must be four integers x1 x2 y1 y2 (the region "
                         f"frame[y1:y2, x1:x2]), found {crop!r}.")
    x1, x2, y1, y2 = (int(v) for v in values)
    if not (0 <= x1 < x2 and 0 <= y1 < y2):
        raise VideoError(f"crop x1 x2 y1 y2 must satisfy 0 <= x1 < x2 and 0 <= y1 < y2, "
                         f"found {tuple(values)}.")
    return x1, x2, y1, y2


def crop_from_config(config: Any) -> tuple[int, int, int, int] | None:
    """DeepLabCut's analysis crop from a project config (``cropping: true`` and x1/x2/y1/y2).

    Parameters
    ----------
    config : ProjectConfig or mapping
        The project configuration.

    Returns
    -------
    (x1, x2, y1, y2) or None
        None when ``cropping`` is false or absent.

    Raises
    ------
    ProjectError
        If ``cropping`` is true but a coordinate is missing or not an integer.
    """
    values: Mapping[str, Any] = config if isinstance(config, Mapping) else {
        **(getattr(config, "model_extra", None) or {}),
        "cropping": getattr(config, "cropping", False)}
    if not values.get("cropping"):
        return None
    keys = ("x1", "x2", "y1", "y2")
    missing = [k for k in keys if k not in values]
    if missing:
        raise ProjectError(f"config.yaml sets cropping: true but lacks {missing}; add the "
                           "region x1, x2, y1, y2 in pixels or set cropping: false.")
    try:
        box = [int(values[k]) for k in keys]
    except (TypeError, ValueError):
        raise ProjectError(f"config.yaml crop x1, x2, y1, y2 must be integers, found "
                           f"{[values[k] for k in keys]}.") from None
    try:
        return parse_crop(box)
    except VideoError as error:
        raise ProjectError(f"config.yaml cropping region: {error}") from None


class WindowedPredictor:
    """A predictor that sees frames cropped and/or downscaled, answering in full-frame pixels.

    Wraps any :class:`~posekit.predict.analyze.KeypointPredictor` (for live sessions or
    evaluation; ``analyze`` does the same in its decoding thread).

    Parameters
    ----------
    predictor : KeypointPredictor
        The model.
    crop : (x1, x2, y1, y2), optional
        Region analyzed.
    downscale : float
        Resize factor in ``(0, 1]``.
    """

    def __init__(self, predictor: Any, *, crop: Sequence[int] | None = None,
                 downscale: float = 1.0) -> None:
        self.predictor = predictor
        self.crop = parse_crop(crop)
        self.downscale = check_downscale(downscale)
        self._window: Window | None = None
        self._size: tuple[int, int] | None = None

    def __getattr__(self, name: str) -> Any:  # scorer, bodyparts, model_info, pcutoff ...
        if name == "predictor":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.predictor, name)

    def window(self, frame_size: tuple[int, int]) -> Window:
        """The window used for frames of ``(width, height)``."""
        if frame_size != self._size:
            box = self.crop or (0, frame_size[0], 0, frame_size[1])
            self._window = make_window(box, frame_size, downscale=self.downscale)
            self._size = frame_size
        assert self._window is not None
        return self._window

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Keypoints of ``frames: (B, H, W, 3)`` uint8 RGB, ``(B, K, 3)`` in full-frame pixels."""
        frames = np.asarray(frames)
        window = self.window((frames.shape[2], frames.shape[1]))
        return points_to_full(self.predictor.predict(apply_window(frames, window)), window)
