"""Live frame sources: a capture thread that always keeps only the newest frame.

A source is a camera (an integer index, ``"0"``), a stream URL (``rtsp://``, ``http://``
...) or a video file, which is played at its native frame rate as if a camera were
filming it. A background thread reads frames as they come and puts each into a one-slot
mailbox; a frame still in the mailbox when the next one arrives was never analyzed: it is
dropped and counted. Analysis therefore always works on the newest frame and never falls
behind the source, whatever its speed.

Each frame is stamped with ``time.perf_counter()`` at the moment it was captured (read from
the device, or due in the video's timeline), the start of its capture-to-pose latency.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posekit.errors import MissingFileError, VideoError
from posekit.io.video import VideoReader

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    Attributes
    ----------
    index : int
        Position in the source's sequence (0-based; counts dropped frames too).
    image : (H, W, 3) uint8
        RGB pixels.
    captured : float
        ``time.perf_counter()`` at capture.
    """

    index: int
    image: np.ndarray
    captured: float


class Mailbox:
    """A one-slot, thread-safe holder of the newest frame."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._closed = False
        self._cond = threading.Condition()
        self.n_put = 0
        self.n_dropped = 0

    def put(self, frame: Frame) -> None:
        """Offer ``frame``; an unread older frame is dropped (and counted)."""
        with self._cond:
            if self._frame is not None:
                self.n_dropped += 1
            self._frame = frame
            self.n_put += 1
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """Take the newest frame, waiting for one; None once closed and empty (or timed out)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._frame is not None or self._closed,
                                       timeout=timeout):
                return None
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        """No more frames will come; a waiting :meth:`get` returns what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class FrameSource:
    """Frames from a camera, URL or video in a capture thread (see the module docs).

    Parameters
    ----------
    source : int or str or Path
        Camera index (``0`` or ``"0"``), URL, or video file.
    realtime : bool
        For a video file: play at its native frame rate (True) or as fast as it decodes.

    Attributes
    ----------
    mailbox : Mailbox
        Where the newest frame waits.
    fps : float
        Frame rate announced by the source (0 when unknown).
    n_late : int
        Video played in real time: frames that decoded after they were due.
    error : BaseException or None
        What stopped the capture thread, if it failed.
    """

    def __init__(self, source: int | str | Path, *, realtime: bool = True) -> None:
        self.kind, self.target = classify_source(source)
        self.realtime = realtime
        self.mailbox = Mailbox()
        self.fps = 0.0
        self.n_late = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opened = threading.Event()

    def start(self) -> FrameSource:
        """Open the source and start capturing; raises if it cannot be opened."""
        self._thread = threading.Thread(target=self._run, name="posekit-capture", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        """Stop capturing and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.mailbox.close()

    def __enter__(self) -> FrameSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def n_captured(self) -> int:
        """Frames captured so far."""
        return self.mailbox.n_put

    @property
    def n_dropped(self) -> int:
        """Frames replaced by a newer one before they were analyzed."""
        return self.mailbox.n_dropped

    def _run(self) -> None:
        try:
            if self.kind == "video":
                self._play_video()
            else:
                self._capture_device()
        except BaseException as error:  # reported to the consumer through self.error
            self.error = error
            logger.error("capture from %s stopped: %s", self.target, error)
        finally:
            self._opened.set()
            self.mailbox.close()

    def _play_video(self) -> None:
        with VideoReader(self.target) as reader:
            self.fps = float(reader.fps)
            self._opened.set()
            start = None  # the clock starts with the first frame, as a camera's would
            for index, image in reader:
                if self._stop.is_set():
                    return
                captured = time.perf_counter()
                if start is None:
                    start = captured
                if self.realtime and self.fps > 0:
                    due = start + index / self.fps
                    if due > captured:
                        self._stop.wait(due - captured)
                        captured = time.perf_counter()
                    elif captured - due > 1.0 / self.fps:
                        self.n_late += 1
                self.mailbox.put(Frame(index, image, captured))

    def _capture_device(self) -> None:
        if self.kind == "camera":
            cap = cv2.VideoCapture(int(self.target))
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # no stale frames waiting in the driver
        else:
            cap = cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                raise VideoError(f"Cannot open {self.kind} {self.target!r}: check that it is "
                                 "connected (or reachable) and not used by another program.")
            self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self._opened.set()
            index = 0
            while not self._stop.is_set():
                ok, bgr = cap.read()
                if not ok:
                    break
                captured = time.perf_counter()
                image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB if bgr.ndim == 3 else
                                     cv2.COLOR_GRAY2RGB)
                self.mailbox.put(Frame(index, image, captured))
                index += 1
        finally:
            cap.release()


def classify_source(source: int | str | Path) -> tuple[str, int | str | Path]:
    """``("camera", index)``, ``("url", url)`` or ``("video", path)``.

    Raises
    ------
    MissingFileError
        If ``source`` is neither a camera index, a URL nor an existing file.
    """
    if isinstance(source, bool):
        raise VideoError(f"source must be a camera index, a URL or a video file, found {source!r}.")
    if isinstance(source, int):
        if source < 0:
            raise VideoError(f"camera index must be 0 or more, found {source}.")
        return "camera", source
    text = str(source)
    if text.isdigit():
        return "camera", int(text)
    if "://" in text:
        return "url", text
    path = Path(text)
    if path.is_file():
        return "video", path
    raise MissingFileError(f"source {text!r} is not a camera index (0, 1, ...), a stream URL "
                           "(rtsp://..., http://...) or an existing video file.")
