"""A live session: newest frame -> pose -> processors, with latency accounting.

>>> from posekit.live import LiveSession, RegionTrigger           # doctest: +SKIP
>>> from posekit.predict.exported import load_exported
>>> session = LiveSession(load_exported("exported-models/my-model"), source=0, kalman=True)
>>> session.add_processor(RegionTrigger("snout", (0, 0, 100, 480), on_enter=give_reward))
>>> report = session.run(duration=60)
>>> report.latency_ms["p95"], report.n_dropped

Latency is measured for every analyzed frame from its capture time (see
:mod:`posekit.live.source`) to the moment its pose is known, before processors run; the
report gives its percentiles, how many frames the source delivered, how many were analyzed
and how many were dropped because a newer frame had arrived first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import VideoError
from posekit.live.kalman import ForwardPredictor
from posekit.live.processors import PoseEvent, Processor
from posekit.live.source import FrameSource

logger = logging.getLogger(__name__)


@dataclass
class LiveReport:
    """What happened in a live session.

    Attributes
    ----------
    n_captured : int
        Frames the source delivered after the warm-up.
    n_analyzed : int
        Frames analyzed.
    n_dropped : int
        Frames skipped because a newer one had arrived (``n_captured - n_analyzed``, give or
        take the frame waiting when the session stopped).
    n_warmup : int
        Frames that arrived while the predictor warmed up (not counted above).
    n_late : int
        Video sources: frames the decoder delivered after they were due.
    seconds : float
        Duration of the session.
    source_fps : float
        Frame rate the source announced.
    latency_ms : dict
        ``p50``, ``p95``, ``p99``, ``mean`` and ``max`` capture-to-pose latency.
    processing_ms : dict
        ``p50`` and ``p95`` of the time the predictor took per frame.
    latencies : ndarray
        Every frame's latency in seconds, in order.
    """

    n_captured: int = 0
    n_analyzed: int = 0
    n_dropped: int = 0
    n_warmup: int = 0
    n_late: int = 0
    seconds: float = 0.0
    source_fps: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    processing_ms: dict[str, float] = field(default_factory=dict)
    latencies: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def analyzed_fps(self) -> float:
        """Frames analyzed per second."""
        return self.n_analyzed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the per-frame latencies)."""
        return {"n_captured": self.n_captured, "n_analyzed": self.n_analyzed,
                "n_dropped": self.n_dropped, "n_warmup": self.n_warmup,
                "n_late": self.n_late,
                "seconds": round(self.seconds, 3), "source_fps": self.source_fps,
                "analyzed_fps": round(self.analyzed_fps, 2),
                "latency_ms": self.latency_ms, "processing_ms": self.processing_ms}


class LiveSession:
    """Analyze a live source with a predictor, always on the newest frame.

    Parameters
    ----------
    predictor : KeypointPredictor
        E.g. :func:`posekit.predict.exported.load_exported` (wrap it in
        :class:`posekit.predict.transform.WindowedPredictor` to downscale or crop).
    source : int, str or Path
        Camera index, stream URL or video file (played at its frame rate).
    kalman : bool
        Add Kalman forward prediction of every pose to the moment it is delivered
        (``PoseEvent.predicted``).
    realtime : bool
        Video files: play at the native frame rate (False: as fast as they decode).
    kalman_options : dict, optional
        Keyword arguments of :class:`~posekit.live.kalman.ForwardPredictor`.
    """

    def __init__(self, predictor: Any, source: int | str | Path, *, kalman: bool = False,
                 realtime: bool = True, kalman_options: dict[str, Any] | None = None) -> None:
        self.predictor = predictor
        self.source = source
        self.realtime = realtime
        self.bodyparts = tuple(predictor.bodyparts)
        self.processors: list[Processor] = []
        self.forward = ForwardPredictor(len(self.bodyparts), **{
            "pcutoff": float(getattr(predictor, "pcutoff", 0.6)), **(kalman_options or {})
        }) if kalman else None

    def add_processor(self, processor: Processor) -> Processor:
        """Call ``processor(event)`` with every pose; returns it (for chaining)."""
        if not callable(processor):
            raise VideoError(f"a processor must be callable with a PoseEvent, found "
                             f"{type(processor).__name__}.")
        self.processors.append(processor)
        return processor

    def run(self, *, duration: float | None = None, max_frames: int | None = None,
            warmup: int = 1) -> LiveReport:
        """Analyze until the source ends, ``duration`` seconds pass or ``max_frames`` are done.

        Parameters
        ----------
        duration : float, optional
            Seconds to run.
        max_frames : int, optional
            Frames to analyze.
        warmup : int
            Predictor calls on the first frame before the session starts counting (a
            runtime's first call allocates; it would otherwise count as latency). Frames
            arriving meanwhile are counted in ``LiveReport.n_warmup`` only.

        Returns
        -------
        LiveReport
        """
        if duration is not None and duration <= 0:
            raise VideoError(f"duration must be positive, found {duration}.")
        if max_frames is not None and max_frames < 1:
            raise VideoError(f"max_frames must be positive, found {max_frames}.")
        source = FrameSource(self.source, realtime=self.realtime)
        latencies: list[float] = []
        processing: list[float] = []
        with source:
            baseline = self._warm_up(source, warmup)
            started = time.perf_counter()
            while max_frames is None or len(latencies) < max_frames:
                remaining = None if duration is None else started + duration - \
                    time.perf_counter()
                if remaining is not None and remaining <= 0:
                    break
                frame = source.mailbox.get(timeout=remaining)
                if frame is None:
                    break
                begun = time.perf_counter()
                event = self._analyze(frame)
                processing.append(event.delivered - begun)
                latencies.append(event.latency)
                for processor in self.processors:
                    processor(event)
            seconds = time.perf_counter() - started
        if source.error is not None and not latencies:
            raise source.error
        return _report(source, baseline, latencies, processing, seconds)

    def _warm_up(self, source: FrameSource, calls: int) -> tuple[int, int]:
        """Run the predictor on the first frame ``calls`` times, then discard what came in
        meanwhile; returns the source's (captured, dropped) counts at that point."""
        frame = source.mailbox.get(timeout=30.0)
        if frame is None:
            if source.error is not None:
                raise source.error
            raise VideoError(f"source {self.source!r} delivered no frame within 30 s.")
        for _ in range(max(0, calls)):
            self.predictor.predict(frame.image[None])
        source.mailbox.get(timeout=0)  # a frame that waited through the warm-up is stale
        return source.n_captured, source.n_dropped

    def _analyze(self, frame: Any) -> PoseEvent:
        points = np.asarray(self.predictor.predict(frame.image[None]), dtype=np.float64)[0]
        delivered = time.perf_counter()
        predicted = None
        if self.forward is not None:
            self.forward.update(frame.captured, points)
            predicted = self.forward.predict(delivered)
        return PoseEvent(index=frame.index, captured=frame.captured, delivered=delivered,
                         points=points, predicted=predicted, bodyparts=self.bodyparts)


def _report(source: FrameSource, baseline: tuple[int, int], latencies: list[float],
            processing: list[float], seconds: float) -> LiveReport:
    values = np.asarray(latencies)
    captured, dropped = source.n_captured - baseline[0], source.n_dropped - baseline[1]
    report = LiveReport(n_captured=captured, n_analyzed=len(values), n_dropped=dropped,
                        n_warmup=baseline[0], n_late=source.n_late, seconds=seconds,
                        source_fps=source.fps, latencies=values)
    if len(values):
        ms = values * 1000.0
        report.latency_ms = {"p50": _pct(ms, 50), "p95": _pct(ms, 95), "p99": _pct(ms, 99),
                             "mean": round(float(ms.mean()), 2), "max": round(float(ms.max()), 2)}
        work = np.asarray(processing) * 1000.0
        report.processing_ms = {"p50": _pct(work, 50), "p95": _pct(work, 95)}
    return report


def _pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 2)
