"""Dynamic cropping: look only around where the animal was, fall back to the full frame.

After each batch the confident keypoints (likelihood >= ``pcutoff``) of its last frame give a
bounding box; grown by ``margin`` pixels on every side (and to at least ``min_size``), rounded
up to a multiple of ``multiple`` pixels (so the network sees a few distinct input sizes, not
a new one every frame) and shifted to lie inside the frame, it is the window of the next
batch. A frame in which any bodypart comes out under ``pcutoff`` inside the window is
analyzed again on the full frame, so a point that left the window (or an animal that was
lost) is never reported from a crop that could not see it; if the full frame does not find
the animal either, the next batch starts from the full frame. Dynamic cropping therefore
never returns a worse answer than the plain path for frames where the crop is not trusted,
and saves time while the animal is tracked confidently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.errors import VideoError
from posekit.predict.transform import Window, make_window


@dataclass(frozen=True)
class DynamicCrop:
    """How the window that follows the animal is drawn.

    Attributes
    ----------
    pcutoff : float
        Likelihood above which a keypoint counts as found (the project's ``pcutoff`` is a
        good choice).
    margin : int
        Pixels added on every side of the confident keypoints' bounding box (room for the
        animal to move during one batch, and context for the network).
    min_size : int
        Smallest window side, in pixels.
    multiple : int
        Window sides are rounded up to a multiple of this.
    """

    pcutoff: float = 0.6
    margin: int = 64
    min_size: int = 128
    multiple: int = 32

    def __post_init__(self) -> None:
        if not 0.0 <= self.pcutoff <= 1.0:
            raise VideoError(f"dynamic crop pcutoff must be in [0, 1], found {self.pcutoff!r}.")
        for name in ("margin", "min_size", "multiple"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
                    value < (0 if name == "margin" else 1):
                raise VideoError(f"dynamic crop {name} must be a "
                                 f"{'non-negative' if name == 'margin' else 'positive'} "
                                 f"integer, found {value!r}.")


class Follower:
    """The window that follows the animal through a video.

    Parameters
    ----------
    options : DynamicCrop
        Margins and cutoff.
    frame_size : (width, height)
        Size of the frames (after any fixed crop).
    downscale : float
        Factor the window is resized by before the network.
    """

    def __init__(self, options: DynamicCrop, frame_size: tuple[int, int], *,
                 downscale: float = 1.0) -> None:
        self.options = options
        self.frame_size = frame_size
        self.downscale = downscale
        self.window: Window | None = None
        self.n_cropped = 0  # frames answered from a window
        self.n_fallback = 0  # frames analyzed again on the full frame

    def lost(self, points: np.ndarray) -> np.ndarray:
        """Which frames of ``points: (B, K, 3)`` have a bodypart under ``pcutoff``: (B,) bool."""
        likelihood = np.nan_to_num(points[..., 2], nan=0.0)
        return (likelihood < self.options.pcutoff).any(axis=1)

    def update(self, points: np.ndarray) -> None:
        """Set the next window from the last frame of ``points: (B, K, 3)`` (full-frame pixels).

        No confident keypoint: the next batch is analyzed on the full frame.
        """
        last = points[-1]
        found = np.nan_to_num(last[:, 2], nan=0.0) >= self.options.pcutoff
        found &= np.isfinite(last[:, :2]).all(axis=1)
        if not found.any():
            self.window = None
            return
        xy = last[found, :2]
        self.window = self.window_around(xy.min(axis=0), xy.max(axis=0))

    def window_around(self, low: np.ndarray, high: np.ndarray) -> Window | None:
        """The window holding the box ``low..high`` (x, y) plus margins; None if it is the frame.

        Its sides are ``max(min_size, box + 2 * margin)`` rounded up to ``multiple`` (never
        more than the frame), centered on the box and shifted inside the frame.
        """
        width, height = self.frame_size
        opts = self.options
        sides = []
        for extent, limit in ((high[0] - low[0], width), (high[1] - low[1], height)):
            side = max(opts.min_size, int(np.ceil(extent)) + 1 + 2 * opts.margin)
            side = -(-side // opts.multiple) * opts.multiple
            sides.append(min(side, limit))
        if sides == [width, height]:
            return None
        center = (np.asarray(low, float) + np.asarray(high, float)) / 2.0
        x1 = _place(center[0], sides[0], width)
        y1 = _place(center[1], sides[1], height)
        return make_window((x1, x1 + sides[0], y1, y1 + sides[1]), self.frame_size,
                           downscale=self.downscale)


def _place(center: float, side: int, limit: int) -> int:
    """Start of a segment of length ``side`` centered on ``center`` and inside ``[0, limit)``."""
    start = int(round(center - (side - 1) / 2.0))
    return int(min(max(start, 0), limit - side))
