"""Frame-accurate, streaming video reading and atomic video writing (OpenCV / FFmpeg).

Frames are numpy arrays of shape ``(height, width, 3)``, dtype ``uint8``, in **RGB** channel
order (posekit uses RGB everywhere; OpenCV's native order is BGR and is converted here).

Frame index
    The index of a frame is its position in decoding order from the start of the file, the
    same numbering a plain sequential ``cv2.VideoCapture.read`` loop gives (and DeepLabCut
    uses). ``VideoReader.read(i)`` returns exactly that frame, whatever the codec.

How random access stays exact
    Many codecs seek inexactly (a seek lands on a keyframe before or after the target, or
    reports a position it is not at). :class:`VideoReader` therefore

    1. decodes forward (``grab`` without colour conversion) when the target is a little ahead
       of the current position: exact by construction. "A little" adapts to the file: it is
       the number of grabs that cost less than one measured seek (capped by
       ``max_grab_ahead``);
    2. otherwise seeks, decodes one frame and checks where it landed: the frame counter
       (``CAP_PROP_POS_FRAMES``) and the frame's timestamp (``CAP_PROP_POS_MSEC`` converted with
       the frame rate, relative to frame 0) must agree and must not be past the target; it
       then decodes forward to the target;
    3. if the landing is past the target, unknown, or decoding fails there, it seeks further
       back (16, 32, 64, ... frames before the target) and tries again; when the back-off
       reaches the start it reopens the file and decodes from frame 0, which is always exact.

    While decoding sequentially the reader also checks that every frame's timestamp agrees
    with its position. When they disagree (variable frame rate, damaged frames) timestamps
    cannot validate a seek, so the reader logs a warning once and from then on reaches a frame
    behind the current position only by decoding from the start: slow, but still exact.

Frame count
    ``CAP_PROP_FRAME_COUNT`` comes from the container and can be wrong (truncated recordings,
    estimated counts). ``len(reader)`` is that count until decoding has reached the real end
    of the stream (a full iteration, or a read that ran past the end); from then on
    ``reader.n_decoded`` holds the number of frames that really decode and ``len(reader)``
    returns it. Iteration stops at the real end and logs a warning when the counts differ;
    ``read(i)`` past the real end raises :class:`~posekit.errors.VideoError`.

Memory
    Nothing is cached: a reader holds one decoder and a few counters, so its memory does not
    depend on the length of the video. ``read_many`` returns the frames asked for;
    ``iter_many`` streams them. A reader is not thread-safe: use one per thread.
"""

from __future__ import annotations

import logging
import math
import operator
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posekit.errors import MissingFileError, VideoError
from posekit.io.atomic import atomic_path

logger = logging.getLogger(__name__)

_BACKOFF_START = 16  # frames before the target of the first fallback seek
_EMA = 0.2  # weight of the newest measurement in the running cost estimates


@dataclass(frozen=True)
class VideoMetadata:
    """What the container says about a video.

    Attributes
    ----------
    path : Path
        The video file.
    fps : float
        Frames per second.
    n_frames : int
        Frame count announced by the container (``CAP_PROP_FRAME_COUNT``); see
        :attr:`VideoReader.n_decoded` for the count that really decodes.
    width, height : int
        Frame size in pixels.
    codec : str
        FourCC of the video stream as OpenCV reports it, e.g. ``"h264"``, ``"MJPG"``, or
        ``"FMP4"`` for MPEG-4 part 2 (written with ``"mp4v"``).
    """

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int
    codec: str

    @property
    def duration_s(self) -> float:
        """Duration in seconds, ``n_frames / fps``."""
        return self.n_frames / self.fps


def read_video_metadata(path: str | os.PathLike[str]) -> VideoMetadata:
    """Open ``path``, check that its first frame decodes, and return its metadata.

    Raises
    ------
    MissingFileError
        The file does not exist.
    VideoError
        The path is a folder, empty, not a video, or its first frame does not decode.
    """
    with VideoReader(path) as reader:
        return reader.metadata


def _open_capture(path: Path) -> cv2.VideoCapture:
    """Open ``path`` with OpenCV's FFmpeg backend (a seam the tests use to simulate codecs)."""
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)


def _fourcc_to_str(code: float) -> str:
    raw = int(code).to_bytes(4, "little", signed=False)
    text = raw.decode("ascii", errors="replace").strip("\x00 ")
    return text if text.isprintable() else raw.hex()


def _check_video_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"Video file {path} does not exist. Check the path (relative "
                               f"paths resolve from {Path.cwd()}).")
    if path.is_dir():
        raise VideoError(f"{path} is a folder; expected a video file such as an .mp4 or .avi.")
    if path.stat().st_size == 0:
        raise VideoError(f"Video file {path} is empty (0 bytes); re-copy or re-record it.")
    return path


def _read_metadata(cap: cv2.VideoCapture, path: Path) -> VideoMetadata:
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    n_frames = int(round(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if not math.isfinite(fps) or fps <= 0:
        raise VideoError(f"Video {path} reports a frame rate of {fps}; expected a positive "
                         f"constant frame rate. Re-encode it, e.g. `ffmpeg -i IN -r 30 OUT.mp4`.")
    if n_frames <= 0 or width <= 0 or height <= 0:
        raise VideoError(f"Video {path} reports {n_frames} frames of {width}x{height} pixels; "
                         f"expected a positive frame count and size. The file is damaged or "
                         f"its container holds no index; re-encode it with ffmpeg.")
    codec = _fourcc_to_str(cap.get(cv2.CAP_PROP_FOURCC))
    return VideoMetadata(path=path, fps=fps, n_frames=n_frames, width=width, height=height,
                         codec=codec)


def _as_index(index: object) -> int:
    if isinstance(index, bool):
        raise VideoError(f"A frame index must be an integer; got the boolean {index}.")
    try:
        return operator.index(index)  # type: ignore[arg-type]
    except TypeError:
        raise VideoError(f"A frame index must be an integer; got {index!r} "
                         f"({type(index).__name__}).") from None


class VideoReader:
    """Streaming, frame-accurate reader of one video file.

    Parameters
    ----------
    path : path-like
        The video file.
    max_grab_ahead : int
        Largest forward gap (in frames) bridged by decoding instead of seeking. The reader
        decodes forward when that is cheaper than its measured seek cost, up to this cap.

    Examples
    --------
    >>> with VideoReader("videos/m3v1mp4.mp4") as reader:  # doctest: +SKIP
    ...     frame = reader.read(100)            # (480, 640, 3) uint8, RGB
    ...     for index, frame in reader:         # every frame, in order
    ...         ...

    Raises
    ------
    MissingFileError
        The file does not exist.
    VideoError
        The path is a folder, the file is empty, not a video, damaged (e.g. an .mp4 cut off
        before its index was written), or its first frame does not decode.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_grab_ahead: int = 300) -> None:
        self.path = _check_video_path(path)
        self.max_grab_ahead = max(1, int(max_grab_ahead))
        self._cap: cv2.VideoCapture | None = None
        self._cap = self._open()
        try:
            self.metadata = _read_metadata(self._cap, self.path)
        except VideoError:
            self.close()
            raise
        self.n_decoded: int | None = None
        self._current: int | None = None  # index of the frame last grabbed, None if unknown
        self._timestamps_ok = True
        self._grab_cost = 0.002  # seconds per grab, running estimate
        self._seek_cost = 0.040  # seconds per validated seek, running estimate
        self._grab_first_frame()

    # -- properties -------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        """Frames per second."""
        return self.metadata.fps

    @property
    def n_frames(self) -> int:
        """Frame count announced by the container (may be wrong; see :attr:`n_decoded`)."""
        return self.metadata.n_frames

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """Shape of every frame: ``(height, width, 3)``."""
        return (self.metadata.height, self.metadata.width, 3)

    @property
    def truncated(self) -> bool:
        """Whether decoding ended before the announced frame count."""
        return self.n_decoded is not None and self.n_decoded < self.n_frames

    def __len__(self) -> int:
        """Number of frames: the decoded count once known, else the announced count."""
        return self.n_decoded if self.n_decoded is not None else self.n_frames

    def __repr__(self) -> str:
        m = self.metadata
        return (f"VideoReader({str(self.path)!r}, {m.width}x{m.height}, {m.fps:g} fps, "
                f"{len(self)} frames, codec {m.codec!r})")

    # -- context management -----------------------------------------------------------------
    def close(self) -> None:
        """Release the decoder. Further reads raise :class:`VideoError`."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- public reading -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for every frame in order; ``frame``: (H, W, 3) uint8 RGB.

        Iteration uses its own decoder, so :meth:`read` may be called inside the loop. It
        stops where decoding really ends, sets :attr:`n_decoded`, and logs a warning when that
        differs from the announced frame count.
        """
        self._require_open()
        cap = self._open()
        index = -1
        try:
            while cap.grab():
                index += 1
                self._check_timestamp(cap, index)
                yield index, self._retrieve(cap, index)
        finally:
            cap.release()
        self._end_reached(index + 1, during="iteration")

    def read(self, index: int) -> np.ndarray:
        """Return frame ``index``: (H, W, 3) uint8, RGB.

        Raises
        ------
        VideoError
            ``index`` is not an integer, is outside ``0 .. len(self) - 1``, lies past the
            point where the file stops decoding, or the reader is closed.
        """
        index = self.check_index(index)
        self._goto(index)
        return self._retrieve(self._cap, index)

    def verify_length(self) -> int:
        """Check that the last announced frame decodes; if not, find where decoding ends.

        Costs one seek on an intact file. On a truncated one it sets :attr:`n_decoded` (and
        logs a warning), so that ``len(self)`` and index checks use the real count.

        Returns
        -------
        int
            ``len(self)`` after the check.
        """
        if self.n_decoded is None:
            try:
                self._goto(self.n_frames - 1)
            except VideoError:
                if self.n_decoded is None:  # not the end of the stream: a real failure
                    raise
        return len(self)

    def iter_many(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for the distinct ``indices`` in increasing order.

        All indices are checked before anything is decoded. Close indices are reached by
        decoding forward, distant ones by a validated seek, so dense index lists decode
        sequentially. Memory holds one frame at a time.
        """
        wanted = sorted({self.check_index(i) for i in indices})
        for index in wanted:
            yield index, self.read(index)

    def read_many(self, indices: Iterable[int]) -> list[np.ndarray]:
        """Return the frames at ``indices`` (any order, repeats allowed), in the order given.

        Returns
        -------
        list of ndarray
            One (H, W, 3) uint8 RGB array per requested index (a repeated index gets its own
            copy).
        """
        requested = [self.check_index(i) for i in indices]
        frames = dict(self.iter_many(requested))
        out: list[np.ndarray] = []
        used: set[int] = set()
        for index in requested:
            out.append(frames[index] if index not in used else frames[index].copy())
            used.add(index)
        return out

    # -- decoding machinery -------------------------------------------------------------------
    def _open(self) -> cv2.VideoCapture:
        cap = _open_capture(self.path)
        if not cap.isOpened():
            cap.release()
            hint = (" An .mp4/.mov whose recording was cut off lacks its index ('moov' atom) "
                    "and cannot be opened; re-copy the complete file, or repair it with "
                    "untrunc.") if self.path.suffix.lower() in {".mp4", ".mov", ".m4v"} else ""
            raise VideoError(f"Cannot open {self.path} as a video "
                             f"({self.path.stat().st_size} bytes): it is not a video file, or "
                             f"it is damaged or truncated.{hint}")
        return cap

    def _grab_first_frame(self) -> None:
        cap = self._cap
        if not cap.grab():
            self.close()
            raise VideoError(f"Video {self.path} opens but its first frame does not decode "
                             f"(container announces {self.metadata.n_frames} frames, codec "
                             f"{self.metadata.codec!r}); the file is damaged or uses a codec "
                             f"this OpenCV build lacks. Re-encode it with ffmpeg (libx264).")
        self._t0_msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        self._current = 0

    def _require_open(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise VideoError(f"The reader of {self.path} is closed; open a new VideoReader.")
        return self._cap

    def check_index(self, index: object) -> int:
        """Return ``index`` as an int if it is a valid frame index, else raise VideoError."""
        index = _as_index(index)
        n = len(self)
        if not 0 <= index < n:
            where = "decodes" if self.n_decoded is not None else "announces"
            raise VideoError(f"Frame index {index} is out of range for {self.path}: the video "
                             f"{where} {n} frames, so valid indices are 0 to {n - 1}.")
        return index

    def _retrieve(self, cap: cv2.VideoCapture, index: int) -> np.ndarray:
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            raise VideoError(f"Frame {index} of {self.path} was decoded but could not be "
                             f"converted to an image; the file may be damaged.")
        if bgr.shape[:2] != self.frame_shape[:2]:
            raise VideoError(f"Frame {index} of {self.path} is {bgr.shape[1]}x{bgr.shape[0]} "
                             f"pixels but the video announces {self.metadata.width}x"
                             f"{self.metadata.height}; posekit needs a constant frame size. "
                             f"Re-encode it with a fixed size.")
        if bgr.ndim == 2:
            return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _position_of(self, cap: cv2.VideoCapture) -> int | None:
        """Index of the frame just grabbed, if counter and timestamp agree; else None."""
        by_counter = int(round(cap.get(cv2.CAP_PROP_POS_FRAMES))) - 1
        msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        by_time = int(round((msec - self._t0_msec) * self.fps / 1000.0))
        return by_counter if by_counter == by_time else None

    def _check_timestamp(self, cap: cv2.VideoCapture, index: int) -> None:
        """During sequential decoding: flag the file when timestamps disagree with positions."""
        if not self._timestamps_ok:
            return
        msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        by_time = int(round((msec - self._t0_msec) * self.fps / 1000.0))
        if by_time != index:
            self._timestamps_ok = False
            logger.warning(
                "%s: frame %d has timestamp %.1f ms, which at %.4g fps is frame %d. The video has "
                "a variable frame rate or damaged frames, so seeks cannot be validated; random "
                "access now decodes from the start when it must go backwards (exact but slow). "
                "Re-encoding at a constant frame rate makes it fast.",
                self.path, index, msec, self.fps, by_time)

    def _end_reached(self, n_decoded: int, *, during: str) -> None:
        self.n_decoded = n_decoded
        if n_decoded < self.n_frames:
            logger.warning("%s: decoding stopped after %d frames during %s, but the container "
                           "announces %d frames; only frames 0 to %d are available (the file is "
                           "probably truncated or damaged).", self.path, n_decoded, during,
                           self.n_frames, n_decoded - 1)
        elif n_decoded > self.n_frames:
            logger.warning("%s: %d frames decode, more than the %d the container announces; "
                           "all %d are available.", self.path, n_decoded, self.n_frames,
                           n_decoded)

    def _goto(self, index: int) -> None:
        """Leave the main decoder with frame ``index`` grabbed (ready to retrieve)."""
        self._require_open()
        current = self._current
        if current is not None and index >= current:
            gap = index - current
            limit = min(self.max_grab_ahead, max(1.0, self._seek_cost / self._grab_cost))
            if gap <= limit or not self._timestamps_ok:
                self._grab_forward(gap)
                return
        started = time.perf_counter()
        self._seek_to(index)
        elapsed = time.perf_counter() - started
        self._seek_cost = (1 - _EMA) * self._seek_cost + _EMA * elapsed

    def _grab_forward(self, count: int) -> None:
        """Decode ``count`` frames forward from the exactly known current position."""
        if count <= 0:
            return
        cap = self._cap
        started = time.perf_counter()
        for _ in range(count):
            if not cap.grab():
                stop = self._current + 1
                self._current = None
                self._end_reached(stop, during="random access")
                raise VideoError(f"Decoding of {self.path} stops at frame {stop}, but the "
                                 f"container announces {self.n_frames} frames: the file is "
                                 f"truncated or damaged. Frames 0 to {stop - 1} can be read; "
                                 f"re-copy or re-encode the file to get the rest.")
            self._current += 1
            self._check_timestamp(cap, self._current)
        per_grab = (time.perf_counter() - started) / count
        self._grab_cost = (1 - _EMA) * self._grab_cost + _EMA * per_grab

    def _seek_to(self, index: int) -> None:
        """Reach ``index`` by validated seeks, backing off; decode from the start at last."""
        if self._timestamps_ok:
            back = 0
            while index - back > 0:
                landed = self._probe(index - back)
                if landed is not None and 0 <= landed <= index:
                    self._current = landed
                    self._grab_forward(index - landed)
                    return
                logger.debug("%s: seek to frame %d landed at %s; backing off", self.path,
                             index - back, landed)
                back = max(2 * back, _BACKOFF_START)
        self._restart()
        self._grab_forward(index + 1)

    def _probe(self, start: int) -> int | None:
        """Seek to ``start``, grab one frame, and return where it really is (None: unknown)."""
        cap = self._cap
        self._current = None
        if not cap.set(cv2.CAP_PROP_POS_FRAMES, float(start)) or not cap.grab():
            return None
        return self._position_of(cap)

    def _restart(self) -> None:
        """Reopen the file so that the next grab returns frame 0."""
        self._cap.release()
        self._cap = None
        self._cap = self._open()
        self._current = -1


class VideoWriter:
    """Write RGB frames to a video file, atomically.

    Frames go to a temporary file beside ``path`` (same suffix, so the container is chosen
    from it); :meth:`close` (or leaving the ``with`` block normally) moves it onto ``path``.
    If the block raises, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : path-like
        The video to create or replace. The suffix picks the container (``.mp4``, ``.avi``).
    fps : float
        Frames per second, positive.
    size : (int, int)
        Frame size as ``(width, height)`` in pixels (OpenCV's order; frames are ``(height,
        width, 3)`` arrays).
    codec : str
        Four-character code: ``"mp4v"`` (MPEG-4, for .mp4), ``"MJPG"`` (motion JPEG, for
        .avi), ``"FFV1"`` (lossless, .avi/.mkv), ... Which exist depends on the OpenCV build;
        the pip wheels cannot encode h264.

    Raises
    ------
    VideoError
        Invalid fps, size or codec, or a codec this OpenCV build cannot encode.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int], *,
                 codec: str = "mp4v") -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = _check_writer_args(self.path, self.fps, size, codec)
        self.codec = codec
        self.n_written = 0
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        try:
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.CAP_FFMPEG,
                                           cv2.VideoWriter_fourcc(*codec), self.fps, self.size)
        except cv2.error:
            self._writer = None
        if self._writer is None or not self._writer.isOpened():
            self._abort()
            raise VideoError(f"Cannot write {self.path} with codec {codec!r}: this OpenCV "
                             f"build cannot encode it into a {self.path.suffix or 'suffix-less'}"
                             f" file. Use codec 'mp4v' with .mp4 or 'MJPG' with .avi.")

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: (height, width, 3) uint8 RGB, or (height, width) uint8 gray."""
        if self._writer is None:
            raise VideoError(f"The writer of {self.path} is closed; open a new VideoWriter.")
        frame = np.asarray(frame)
        width, height = self.size
        ok_shape = frame.shape in {(height, width, 3), (height, width)}
        if frame.dtype != np.uint8 or not ok_shape:
            raise VideoError(f"Frame {self.n_written} for {self.path} has shape {frame.shape} "
                             f"and dtype {frame.dtype}; expected ({height}, {width}, 3) uint8 "
                             f"RGB (or ({height}, {width}) uint8 gray) to match size "
                             f"(width, height) = {self.size}.")
        code = cv2.COLOR_GRAY2BGR if frame.ndim == 2 else cv2.COLOR_RGB2BGR
        self._writer.write(cv2.cvtColor(frame, code))
        self.n_written += 1

    def close(self) -> None:
        """Finish the file and move it onto ``path``."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        self._atomic.__exit__(None, None, None)

    def _abort(self, exc: BaseException | None = None) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        error = exc if exc is not None else VideoError("aborted")
        # removes the temporary file; returns False for the caller to re-raise ``error``
        self._atomic.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
        else:
            self._abort(exc)


def _check_writer_args(path: Path, fps: float, size: tuple[int, int],
                       codec: str) -> tuple[int, int]:
    if not math.isfinite(fps) or fps <= 0:
        raise VideoError(f"Cannot write {path}: fps must be a positive number, got {fps}.")
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise VideoError(f"Cannot write {path}: size must be (width, height), got "
                         f"{size!r}.") from None
    if width <= 0 or height <= 0:
        raise VideoError(f"Cannot write {path}: size (width, height) must be positive, got "
                         f"{(width, height)}.")
    if not isinstance(codec, str) or len(codec) != 4:
        raise VideoError(f"Cannot write {path}: codec must be a four-character code such as "
                         f"'mp4v' or 'MJPG', got {codec!r}.")
    if path.is_dir():
        raise VideoError(f"Cannot write {path}: it is a folder; give a file name ending in "
                         f".mp4 or .avi.")
    return width, height
