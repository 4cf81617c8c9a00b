"""Stand-in models for the worker-pool tests, importable by worker processes.

The tests put this folder on ``sys.path``; spawned workers (local pool, Dask nanny) inherit
it, so they can unpickle :class:`FakeSpec`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SCORER = "FakeDistributedshuffle1"


def write_video(path: Path, x: int, n_frames: int = 6) -> Path:
    """A lossless 64x48 video with a white 4x4 square whose top-left pixel is at (x, 20)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 30.0, (64, 48))
    for _ in range(n_frames):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[20:24, x:x + 4] = 255
        writer.write(frame)
    writer.release()
    return path


class Centroid:
    """Center of the bright pixels; can kill its own process on the first batch of one video."""

    scorer = SCORER
    bodyparts = ["square"]

    def __init__(self, die_on: str | None, marker_dir: str | None, always: bool,
                 threads: int | None) -> None:
        self.die_on = die_on
        self.marker_dir = marker_dir
        self.always = always
        self.model_info = {"backbone": "none", "threads": threads, "pid": os.getpid()}

    def predict(self, frames: np.ndarray) -> np.ndarray:
        if self.die_on is not None and self._is_target(frames):
            marker = Path(self.marker_dir) / f"died-{os.getpid()}"
            if self.always or not any(Path(self.marker_dir).glob("died-*")):
                marker.write_text("x")
                os._exit(3)  # the worker process dies mid-task, as if killed
        bright = frames[..., 0] > 128
        out = np.zeros((len(frames), 1, 3))
        for i, mask in enumerate(bright):
            rows, cols = np.nonzero(mask)
            out[i, 0] = [cols.mean(), rows.mean(), 1.0]
        return out

    def _is_target(self, frames: np.ndarray) -> bool:
        # the target video's square sits at x == die_on's number
        cols = np.nonzero(frames[0, ..., 0] > 128)[1]
        return len(cols) > 0 and int(cols.min()) == int(self.die_on)


@dataclass(frozen=True)
class FakeSpec:
    """Loads :class:`Centroid`; ``die_on`` names the x of the video whose worker dies."""

    die_on: str | None = None
    marker_dir: str | None = None
    always: bool = False

    def load(self, *, threads: int | None = None) -> Centroid:
        return Centroid(self.die_on, self.marker_dir, self.always, threads)

    def scorer(self) -> str:
        return SCORER

    @property
    def uses_gpu(self) -> bool:
        return False
