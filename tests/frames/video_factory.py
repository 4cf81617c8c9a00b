"""Small synthetic videos for the video and frame-selection tests, made at run time.

Each frame of an *indexed* video shows its own index as a 3 x 4 grid of black/white blocks
(12 bits, most significant first, read row by row), so a test can tell from the pixels which
frame a reader returned. The blocks are 40 x 40 pixels, large enough to survive lossy codecs.
Imported by tests as ``from frames.video_factory import ...`` (tests/ is on sys.path).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 160, 120
GRID_ROWS, GRID_COLS, BLOCK = 3, 4, 40
MAX_INDEX = 2 ** (GRID_ROWS * GRID_COLS) - 1


def index_frame(index: int) -> np.ndarray:
    """An RGB (120, 160, 3) uint8 frame showing ``index`` as a block pattern."""
    frame = np.full((HEIGHT, WIDTH, 3), 25, np.uint8)
    for bit in range(GRID_ROWS * GRID_COLS):
        if index >> (GRID_ROWS * GRID_COLS - 1 - bit) & 1:
            row, col = divmod(bit, GRID_COLS)
            frame[row * BLOCK:(row + 1) * BLOCK, col * BLOCK:(col + 1) * BLOCK] = 230
    return frame


def decode_index(frame: np.ndarray) -> int:
    """Read back the index drawn by :func:`index_frame` (from an RGB frame)."""
    gray = frame.mean(axis=2)
    value = 0
    for bit in range(GRID_ROWS * GRID_COLS):
        row, col = divmod(bit, GRID_COLS)
        block = gray[row * BLOCK + 8:(row + 1) * BLOCK - 8, col * BLOCK + 8:(col + 1) * BLOCK - 8]
        value = value << 1 | int(block.mean() > 128)
    return value


def write_raw_video(path: Path, frames: int, make: Callable[[int], np.ndarray], *,
                    codec: str, fps: float = 30.0) -> Path:
    """Write ``frames`` RGB frames ``make(i)`` with plain OpenCV (independent of posekit)."""
    first = make(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps,
                             (first.shape[1], first.shape[0]))
    if not writer.isOpened():
        raise RuntimeError(f"this OpenCV build cannot write {codec} to {path}")
    for i in range(frames):
        writer.write(cv2.cvtColor(make(i), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_indexed_video(path: Path, frames: int, *, codec: str) -> Path:
    """Write an indexed video of ``frames`` frames (see module docstring)."""
    assert frames <= MAX_INDEX + 1
    return write_raw_video(path, frames, index_frame, codec=codec)


def sequential_hashes(path: Path, wanted: set[int] | None = None) -> dict[int, str]:
    """Reference decoding: md5 of each RGB frame (or of those in ``wanted``), read with a plain
    sequential ``cv2.VideoCapture`` grab/retrieve loop -- the definition of frame index."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    hashes: dict[int, str] = {}
    index = -1
    while cap.grab():
        index += 1
        if wanted is None or index in wanted:
            ok, bgr = cap.retrieve()
            assert ok
            hashes[index] = frame_hash(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return hashes


def frame_hash(frame: np.ndarray) -> str:
    """md5 of a frame's bytes."""
    return hashlib.md5(np.ascontiguousarray(frame).tobytes()).hexdigest()
