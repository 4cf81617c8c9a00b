"""The inference engine behind ``posekit analyze``: frames in, full-frame keypoints out.

A background thread decodes the video (and crops/resizes frames when the window is fixed)
into a bounded queue, so the network never waits for the decoder and memory does not grow
with the video. The main thread takes batches from the queue, runs the predictor (ONNX
Runtime on a CPU, PyTorch on a GPU) and maps keypoints back to full-frame pixels (see
:mod:`posekit.predict.transform`).

Batch size
    ``"auto"`` (the default) measures a few batch sizes on the first frames of the video
    (they are real work: their keypoints are kept) and keeps the fastest per frame. Each
    candidate runs ``TUNING_TRIALS`` batches; the first, which includes the runtime's
    one-off allocation for a new input shape, is not counted. Candidates are 1, 4, 8 and 16
    frames on a CPU (8 to 64 on a GPU), and never more than fit ``MEMORY_BUDGET``
    (``GPU_MEMORY_BUDGET``) at ``BYTES_PER_INPUT_PIXEL`` (an upper bound of the network's
    working memory per input pixel). Videos shorter than twice the frames tuning takes use
    ``DEFAULT_BATCH`` (or the largest candidate under it).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from posekit.errors import VideoError
from posekit.io.video import VideoReader
from posekit.predict.dynamic import DynamicCrop, Follower
from posekit.predict.transform import (
    Window,
    apply_window,
    check_downscale,
    full_window,
    make_window,
    parse_crop,
    points_to_full,
)
from posekit.progress import task

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 8
CPU_CANDIDATES = (1, 4, 8, 16)
GPU_CANDIDATES = (8, 16, 32, 64)
TUNING_TRIALS = 3
MEMORY_BUDGET = 1 << 30  # bytes of network working memory a batch may take (CPU)
GPU_MEMORY_BUDGET = 4 << 30  # the same on a GPU
BYTES_PER_INPUT_PIXEL = 400
_DONE = object()


@dataclass(frozen=True)
class InferenceOptions:
    """What the network sees and how many frames at a time.

    Attributes
    ----------
    batch_size : int or "auto"
        Frames per network call; ``"auto"`` measures (see the module docs).
    downscale : float
        Resize factor in ``(0, 1]`` applied before the network (0.5: a quarter of the pixels);
        keypoints are mapped back to full-frame pixels.
    crop : (x1, x2, y1, y2) or None
        Analyze only ``frame[y1:y2, x1:x2]`` (DeepLabCut's order); keypoints are in
        full-frame pixels.
    dynamic_crop : DynamicCrop or None
        Follow the animal with a window (inside ``crop`` when both are given).
    prefetch : int
        Frames decoded ahead (bounds memory).
    """

    batch_size: int | Literal["auto"] = "auto"
    downscale: float = 1.0
    crop: tuple[int, int, int, int] | None = None
    dynamic_crop: DynamicCrop | None = None
    prefetch: int = 48

    def __post_init__(self) -> None:
        check_batch_size(self.batch_size)
        check_downscale(self.downscale)
        object.__setattr__(self, "crop", parse_crop(self.crop))
        if self.dynamic_crop is not None and not isinstance(self.dynamic_crop, DynamicCrop):
            raise VideoError(f"dynamic_crop must be a DynamicCrop or None, found "
                             f"{type(self.dynamic_crop).__name__}.")
        if isinstance(self.prefetch, bool) or not isinstance(self.prefetch, int) or \
                self.prefetch < 1:
            raise VideoError(f"prefetch must be a positive integer, found {self.prefetch!r}.")

    def describe(self) -> dict[str, Any]:
        """The options as JSON-ready values (recorded in analysis metadata)."""
        dynamic = self.dynamic_crop
        return {"downscale": self.downscale, "crop": list(self.crop) if self.crop else None,
                "dynamic_crop": None if dynamic is None else {
                    "pcutoff": dynamic.pcutoff, "margin": dynamic.margin,
                    "min_size": dynamic.min_size, "multiple": dynamic.multiple}}


def check_batch_size(batch_size: object) -> int | str:
    """Validate a batch size: a positive integer or ``"auto"``.

    Raises
    ------
    VideoError
        Otherwise, naming the value.
    """
    if batch_size == "auto":
        return "auto"
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size < 1:
        raise VideoError(f"batch size must be a positive integer or 'auto', found "
                         f"{batch_size!r}.")
    return int(batch_size)


@dataclass
class EngineStats:
    """Where the time of one video went.

    Attributes
    ----------
    n_frames : int
        Frames analyzed.
    batch_size : int
        The batch size used after tuning (or given).
    tuning : dict of int to float
        Measured seconds per frame of each candidate batch size (empty without tuning).
    seconds_total : float
        Wall time of the whole run.
    seconds_waiting : float
        Time the network waited for decoded frames.
    seconds_predicting : float
        Time inside the predictor (network, pre- and post-processing).
    n_cropped, n_fallback : int
        Dynamic cropping: frames answered from the window, and frames analyzed again on
        the full frame.
    """

    n_frames: int = 0
    batch_size: int = 0
    tuning: dict[int, float] = field(default_factory=dict)
    seconds_total: float = 0.0
    seconds_waiting: float = 0.0
    seconds_predicting: float = 0.0
    n_cropped: int = 0
    n_fallback: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"n_frames": self.n_frames, "batch_size": self.batch_size,
                "tuning_s_per_frame": {str(k): round(v, 6) for k, v in self.tuning.items()},
                "seconds_total": round(self.seconds_total, 3),
                "seconds_waiting_for_frames": round(self.seconds_waiting, 3),
                "seconds_predicting": round(self.seconds_predicting, 3),
                "frames_per_second": round(self.n_frames / self.seconds_total, 2)
                if self.seconds_total > 0 else None,
                "dynamic_crop_frames": self.n_cropped, "dynamic_crop_fallbacks": self.n_fallback}


class BatchTuner:
    """Chooses a batch size by timing the first batches (see the module docs).

    Parameters
    ----------
    candidates : sequence of int
        Batch sizes to try, in order.
    trials : int
        Batches per candidate; the first of each is not counted.
    """

    def __init__(self, candidates: tuple[int, ...], *, trials: int = TUNING_TRIALS) -> None:
        if not candidates:
            raise ValueError("no candidate batch sizes")
        self.plan = [c for c in candidates for _ in range(max(2, trials))]
        self.times: dict[int, list[float]] = {c: [] for c in candidates}
        self._step = 0
        self.chosen: int | None = None if len(candidates) > 1 else candidates[0]

    def size(self) -> int:
        """The batch size to use next."""
        if self.chosen is not None:
            return self.chosen
        return self.plan[self._step]

    def record(self, n_frames: int, seconds: float) -> None:
        """Report that a batch of ``n_frames`` took ``seconds``."""
        if self.chosen is not None:
            return
        planned = self.plan[self._step]
        # the first batch of a size pays for a new input shape: not counted
        first = self._step == 0 or self.plan[self._step - 1] != planned
        if n_frames == planned and not first:
            self.times[planned].append(seconds / n_frames)
        self._step += 1
        if self._step == len(self.plan):
            measured = {c: min(t) for c, t in self.times.items() if t}
            self.chosen = min(measured, key=measured.__getitem__) if measured else DEFAULT_BATCH
            logger.info("batch size %d chosen (seconds per frame by batch size: %s)",
                        self.chosen, {c: round(t, 5) for c, t in measured.items()})

    @property
    def measured(self) -> dict[int, float]:
        """Seconds per frame of each candidate measured so far."""
        return {c: min(t) for c, t in self.times.items() if t}

    @property
    def frames_needed(self) -> int:
        """Frames the tuning consumes."""
        return sum(self.plan)


def candidate_batch_sizes(device: str, input_pixels: int) -> tuple[int, ...]:
    """Batch sizes worth trying on ``device`` for inputs of ``input_pixels`` pixels each."""
    gpu = str(device).startswith("cuda")
    budget = GPU_MEMORY_BUDGET if gpu else MEMORY_BUDGET
    cap = max(1, budget // max(1, input_pixels * BYTES_PER_INPUT_PIXEL))
    pool = GPU_CANDIDATES if gpu else CPU_CANDIDATES
    allowed = tuple(c for c in pool if c <= cap)
    return allowed or (1,)


def predict_video(predictor: Any, reader: VideoReader, *,
                  options: InferenceOptions = InferenceOptions(),
                  description: str = "") -> tuple[np.ndarray, EngineStats]:
    """Keypoints of every frame of an open video, in full-frame pixels.

    Parameters
    ----------
    predictor : KeypointPredictor
        ``predict(frames: (B, H, W, 3) uint8 RGB) -> (B, K, 3)``.
    reader : VideoReader
        The video.
    options : InferenceOptions
        Batch size, downscaling, crop, dynamic crop.
    description : str
        Label of the progress bar.

    Returns
    -------
    points : (n_decoded_frames, K, 3) float64
        x, y in full-frame pixels, likelihood.
    stats : EngineStats
        Batch size used and where the time went.

    Raises
    ------
    VideoError
        If the crop does not fit the video, or no frame decodes.
    """
    size = (reader.metadata.width, reader.metadata.height)
    static = (make_window(options.crop, size) if options.crop else full_window(size))
    dynamic = options.dynamic_crop is not None
    if not dynamic:  # crop and resize in the decoding thread
        static = make_window((static.x1, static.x2, static.y1, static.y2), size,
                             downscale=options.downscale)
    batches = _Batcher(predictor, static, options, dynamic)
    tuner = _make_tuner(predictor, static, options, len(reader))
    stats = EngineStats()
    started = time.perf_counter()
    outputs: list[np.ndarray] = []
    with _FrameQueue(reader, static, depth=options.prefetch) as frames, \
            task(description or f"analyzing {reader.path.name}", total=len(reader)) as bar:
        while True:
            waited = time.perf_counter()
            batch = frames.take(tuner.size())
            stats.seconds_waiting += time.perf_counter() - waited
            if batch is None:
                break
            begun = time.perf_counter()
            outputs.append(batches.run(batch))
            elapsed = time.perf_counter() - begun
            stats.seconds_predicting += elapsed
            tuner.record(len(batch), elapsed)
            bar.advance(len(batch))
    if not outputs:
        raise VideoError(f"{reader.path}: no frame could be decoded; the file is empty or "
                         "corrupt.")
    stats.seconds_total = time.perf_counter() - started
    points = np.concatenate(outputs)
    stats.n_frames = len(points)
    stats.batch_size = tuner.chosen or tuner.size()
    stats.tuning = tuner.measured
    if batches.follower is not None:
        stats.n_cropped = batches.follower.n_cropped
        stats.n_fallback = batches.follower.n_fallback
    return points, stats


def _make_tuner(predictor: Any, window: Window, options: InferenceOptions,
                n_frames: int) -> BatchTuner:
    if options.batch_size != "auto":
        return BatchTuner((int(options.batch_size),))
    device = str(getattr(predictor, "device", "cpu"))
    tuner = BatchTuner(candidate_batch_sizes(device, window.out_width * window.out_height))
    if n_frames < 2 * tuner.frames_needed:  # tuning takes at most half the video
        fallback = max(c for c in tuner.times if c <= DEFAULT_BATCH) if any(
            c <= DEFAULT_BATCH for c in tuner.times) else min(tuner.times)
        return BatchTuner((fallback,))
    return tuner


class _Batcher:
    """Runs the predictor on a batch and maps its keypoints to full-frame pixels."""

    def __init__(self, predictor: Any, static: Window, options: InferenceOptions,
                 dynamic: bool) -> None:
        self.predictor = predictor
        self.static = static
        self.downscale = options.downscale
        self.follower: Follower | None = None
        if dynamic:
            assert options.dynamic_crop is not None  # checked by the caller
            frame_size = (static.width, static.height)
            self.follower = Follower(options.dynamic_crop, frame_size,
                                     downscale=options.downscale)
            self.whole = full_window(frame_size, downscale=options.downscale)

    def run(self, frames: np.ndarray) -> np.ndarray:
        if self.follower is None:
            return points_to_full(self._predict(frames), self.static)
        points = self._run_dynamic(frames)
        # the frames are the fixed crop at full resolution: shift by its corner
        points[..., 0] += self.static.x1
        points[..., 1] += self.static.y1
        return points

    def _run_dynamic(self, frames: np.ndarray) -> np.ndarray:
        follower = self.follower
        assert follower is not None
        window = follower.window
        if window is None:
            points = self._on(frames, self.whole)
        else:
            points = self._on(frames, window)
            lost = follower.lost(points)
            follower.n_cropped += int((~lost).sum())
            if lost.any():
                follower.n_fallback += int(lost.sum())
                points[lost] = self._on(frames[lost], self.whole)
        follower.update(points)
        return points

    def _on(self, frames: np.ndarray, window: Window) -> np.ndarray:
        return points_to_full(self._predict(apply_window(frames, window)), window)

    def _predict(self, frames: np.ndarray) -> np.ndarray:
        points = np.asarray(self.predictor.predict(frames), dtype=np.float64)
        if points.ndim != 3 or points.shape[0] != len(frames) or points.shape[2] != 3:
            raise VideoError(f"the predictor returned keypoints of shape {points.shape} for "
                             f"{len(frames)} frames; expected ({len(frames)}, K, 3).")
        return points


class _FrameQueue:
    """Frames decoded (and windowed) by a background thread into a bounded queue."""

    def __init__(self, reader: VideoReader, window: Window, *, depth: int) -> None:
        self.reader = reader
        self.window = window
        self.items: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.stop = threading.Event()
        self.finished = False
        self.thread = threading.Thread(target=self._produce, name="posekit-decode",
                                       daemon=True)

    def __enter__(self) -> _FrameQueue:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        while self.thread.is_alive():
            try:
                self.items.get(timeout=0.05)
            except queue.Empty:
                pass
        self.thread.join()

    def _produce(self) -> None:
        window, identity = self.window, self.window.is_identity
        try:
            for _, frame in self.reader:
                if self.stop.is_set():
                    return
                if not identity:
                    frame = apply_window(frame[None], window)[0]
                self.items.put(frame)
            self.items.put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            self.items.put(error)

    def take(self, n: int) -> np.ndarray | None:
        """Up to ``n`` next frames as ``(B, h, w, 3)``; None at the end of the video."""
        frames: list[np.ndarray] = []
        while len(frames) < n and not self.finished:
            item = self.items.get()
            if item is _DONE:
                self.finished = True
            elif isinstance(item, BaseException):
                self.finished = True
                raise item
            else:
                frames.append(item)
        return np.stack(frames) if frames else None
