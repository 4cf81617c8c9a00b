"""What a live session hands to an experiment: a pose event per analyzed frame, and processors.

A processor is any callable taking a :class:`PoseEvent`; it runs in the analysis thread right
after the pose is known, so it should be quick (hand long work to a thread of its own).
:class:`RegionTrigger` is the closed-loop example: it calls a function when a keypoint
enters (or leaves) a region of the image. :class:`PoseLog` keeps every event (to save or
plot after the session).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from posekit.errors import VideoError
from posekit.io.atomic import atomic_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoseEvent:
    """The pose of one analyzed frame.

    Attributes
    ----------
    index : int
        The frame's position in the source.
    captured : float
        ``time.perf_counter()`` when the frame was captured.
    delivered : float
        ``time.perf_counter()`` when the pose was known.
    points : (K, 3) float64
        x, y (full-frame pixels) and likelihood, as found in the frame.
    predicted : (K, 2) float64 or None
        Positions extrapolated to ``delivered`` by the Kalman forward predictor (None
        without it; NaN for keypoints it has not seen).
    bodyparts : tuple of str
        Names of the K keypoints.
    """

    index: int
    captured: float
    delivered: float
    points: np.ndarray
    predicted: np.ndarray | None
    bodyparts: tuple[str, ...]

    @property
    def latency(self) -> float:
        """Seconds from capture to pose."""
        return self.delivered - self.captured

    def position(self, bodypart: str, *, predicted: bool = True) -> tuple[float, float, float]:
        """``(x, y, likelihood)`` of ``bodypart``; the forward-predicted position when asked
        for and available."""
        k = self.bodyparts.index(bodypart)
        x, y, likelihood = self.points[k]
        if predicted and self.predicted is not None and np.isfinite(self.predicted[k]).all():
            x, y = self.predicted[k]
        return float(x), float(y), float(likelihood)


class Processor(Protocol):
    """Called with every pose, in the analysis thread."""

    def __call__(self, event: PoseEvent) -> None: ...


class RegionTrigger:
    """Call ``on_enter`` when a keypoint enters a region, ``on_exit`` when it leaves.

    Parameters
    ----------
    bodypart : str
        The keypoint watched.
    region : (x1, y1, x2, y2) or (N, 2) polygon
        A rectangle (``x1 <= x < x2``, ``y1 <= y < y2``) or a polygon's vertices, in
        full-frame pixels.
    on_enter, on_exit : callable, optional
        Called with the :class:`PoseEvent` of the transition.
    pcutoff : float
        A keypoint under this likelihood is not located: it neither enters nor leaves.
    use_predicted : bool
        Use the Kalman forward-predicted position when there is one (compensates latency).

    Attributes
    ----------
    inside : bool
        Whether the keypoint is in the region now.
    entries, exits : list of int
        Frame indices of the transitions so far.
    """

    def __init__(self, bodypart: str, region: Sequence[float] | np.ndarray, *,
                 on_enter: Callable[[PoseEvent], None] | None = None,
                 on_exit: Callable[[PoseEvent], None] | None = None,
                 pcutoff: float = 0.6, use_predicted: bool = True) -> None:
        self.bodypart = bodypart
        self.region = _check_region(region)
        self.on_enter = on_enter
        self.on_exit = on_exit
        self.pcutoff = pcutoff
        self.use_predicted = use_predicted
        self.inside = False
        self.entries: list[int] = []
        self.exits: list[int] = []

    def contains(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` lies in the region."""
        if self.region.shape == (4,):
            x1, y1, x2, y2 = self.region
            return bool(x1 <= x < x2 and y1 <= y < y2)
        return _in_polygon(x, y, self.region)

    def __call__(self, event: PoseEvent) -> None:
        if self.bodypart not in event.bodyparts:
            raise VideoError(f"RegionTrigger watches {self.bodypart!r}, but the model "
                             f"predicts {list(event.bodyparts)}.")
        x, y, likelihood = event.position(self.bodypart, predicted=self.use_predicted)
        if likelihood < self.pcutoff or not (np.isfinite(x) and np.isfinite(y)):
            return
        now = self.contains(x, y)
        if now and not self.inside:
            self.entries.append(event.index)
            if self.on_enter is not None:
                self.on_enter(event)
        elif self.inside and not now:
            self.exits.append(event.index)
            if self.on_exit is not None:
                self.on_exit(event)
        self.inside = now


class PoseLog:
    """Keeps every event; :meth:`save_csv` writes them (one row per analyzed frame)."""

    def __init__(self) -> None:
        self.events: list[PoseEvent] = []

    def __call__(self, event: PoseEvent) -> None:
        self.events.append(event)

    def save_csv(self, path: str | Path) -> Path:
        """Write ``index, latency_ms, <bodypart>_x, _y, _likelihood ...`` atomically."""
        path = Path(path)
        if not self.events:
            raise VideoError("no pose was recorded, nothing to save.")
        names = self.events[0].bodyparts
        header = ["frame", "latency_ms"] + [f"{b}_{c}" for b in names
                                            for c in ("x", "y", "likelihood")]
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for event in self.events:
                writer.writerow([event.index, f"{event.latency * 1000:.3f}",
                                 *(f"{v:.4f}" for v in event.points.reshape(-1))])
        return path


def _check_region(region: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(region, dtype=np.float64)
    if array.shape == (4,):
        x1, y1, x2, y2 = array
        if np.isfinite(array).all() and x1 < x2 and y1 < y2:
            return array
    elif array.ndim == 2 and array.shape[1] == 2 and len(array) >= 3 and \
            np.isfinite(array).all():
        return array
    raise VideoError(f"region must be (x1, y1, x2, y2) with x1 < x2 and y1 < y2, or a polygon "
                     f"of at least 3 (x, y) vertices; found {np.asarray(region).tolist()}.")


def _in_polygon(x: float, y: float, polygon: np.ndarray) -> bool:
    """Even-odd rule."""
    inside = False
    xs, ys = polygon[:, 0], polygon[:, 1]
    for i in range(len(polygon)):
        j = i - 1
        if (ys[i] > y) != (ys[j] > y):
            cross = xs[j] + (y - ys[j]) * (xs[i] - xs[j]) / (ys[i] - ys[j])
            if x < cross:
                inside = not inside
    return inside
