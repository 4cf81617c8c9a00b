"""Frames of a video in batches, decoded in a background thread so the network never waits."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np

from posekit.io.video import VideoReader

_DONE = object()


def iter_batches(reader: VideoReader, batch_size: int, *, prefetch: int = 3
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield consecutive frames in batches, decoding ahead in a background thread.

    Memory is bounded: at most ``prefetch`` batches wait in the queue.

    Parameters
    ----------
    reader : VideoReader
        An open video.
    batch_size : int
        Frames per batch (the last batch may be smaller).
    prefetch : int
        Batches decoded ahead.

    Yields
    ------
    indices : ndarray, shape (B,)
        Frame indices of the batch.
    frames : ndarray, shape (B, H, W, 3)
        uint8 RGB frames.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, found {batch_size}")
    batches: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def produce() -> None:
        indices: list[int] = []
        frames: list[np.ndarray] = []
        try:
            for index, frame in reader:
                if stop.is_set():
                    return
                indices.append(index)
                frames.append(frame)
                if len(frames) == batch_size:
                    batches.put((np.asarray(indices), np.stack(frames)))
                    indices, frames = [], []
            if frames:
                batches.put((np.asarray(indices), np.stack(frames)))
            batches.put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            batches.put(error)

    worker = threading.Thread(target=produce, name="posekit-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = batches.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                batches.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
