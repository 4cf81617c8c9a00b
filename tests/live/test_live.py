"""Live sessions on a synthetic video played as a camera, with fake predictors."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.errors import MissingFileError, VideoError
from posekit.live import ForwardPredictor, LiveSession, PoseEvent, PoseLog, RegionTrigger
from posekit.live.source import Frame, FrameSource, Mailbox, classify_source

SIZE = (96, 64)  # width, height


def moving_square(path: Path, n_frames: int, fps: float, *, step: int = 1) -> Path:
    """Frame i: a white 4x4 square with its top-left pixel at x = 4 + step * i, y = 30."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, SIZE)
    for i in range(n_frames):
        frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        x = 4 + step * i
        frame[30:34, x:x + 4] = 255
        writer.write(frame)
    writer.release()
    return path


class Finder:
    """The square's center (likelihood 1), after ``delay`` seconds of pretended work."""

    bodyparts = ["square"]
    scorer = "Finder"
    model_info: dict = {}
    pcutoff = 0.5

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def predict(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        bright = frames[..., 0] > 128
        out = np.zeros((len(frames), 1, 3))
        for i, mask in enumerate(bright):
            rows, cols = np.nonzero(mask)
            out[i, 0] = [cols.mean(), rows.mean(), 1.0] if len(cols) else [0, 0, 0]
        return out


def test_mailbox_keeps_the_newest_frame_and_counts_the_dropped() -> None:
    box = Mailbox()
    for i in range(3):
        box.put(Frame(i, np.zeros((1, 1, 3), np.uint8), float(i)))
    assert box.get(timeout=0).index == 2
    assert (box.n_put, box.n_dropped) == (3, 2)
    assert box.get(timeout=0) is None
    box.close()
    assert box.get() is None  # closed and empty: does not block


def test_sources_are_classified(tmp_path: Path) -> None:
    video = tmp_path / "v.avi"
    video.write_bytes(b"x")
    assert classify_source(0) == ("camera", 0)
    assert classify_source("2") == ("camera", 2)
    assert classify_source("rtsp://cam.local/stream") == ("url", "rtsp://cam.local/stream")
    assert classify_source(str(video)) == ("video", video)
    with pytest.raises(MissingFileError, match="not a camera index"):
        classify_source(tmp_path / "missing.mp4")
    for bad in (-1, True):
        with pytest.raises(VideoError):
            classify_source(bad)


def test_video_source_plays_at_its_frame_rate(tmp_path: Path) -> None:
    video = moving_square(tmp_path / "v.avi", 12, fps=50.0)
    stamps = []
    with FrameSource(video) as source:
        while (frame := source.mailbox.get(timeout=5)) is not None:
            stamps.append((frame.index, frame.captured))
    assert source.fps == pytest.approx(50.0)
    indices = [i for i, _ in stamps]
    assert indices == sorted(indices) and indices[-1] == 11
    first, last = stamps[0], stamps[-1]
    # frames are released on the video's clock: never earlier than due
    assert last[1] - first[1] >= (last[0] - first[0]) / 50.0 - 1e-3


def test_a_broken_source_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-video.mp4"
    bad.write_bytes(b"definitely not a video")
    with pytest.raises(VideoError):
        LiveSession(Finder(), bad).run(max_frames=3)


def test_slow_analysis_drops_stale_frames_and_reports_latency(tmp_path: Path) -> None:
    video = moving_square(tmp_path / "v.avi", 60, fps=100.0)
    finder = Finder(delay=0.025)
    log = PoseLog()
    session = LiveSession(finder, video)
    session.add_processor(log)
    report = session.run()
    assert report.n_analyzed == len(log.events) > 0
    assert report.n_dropped > 0  # 100 fps in, at most 40 fps out
    assert report.n_analyzed + report.n_dropped in (report.n_captured, report.n_captured - 1)
    indices = [e.index for e in log.events]
    assert indices == sorted(set(indices))
    assert max(np.diff(indices)) > 1  # frames were skipped to stay on the newest
    assert report.latency_ms["p50"] >= 25.0  # at least the predictor's own time
    assert report.latency_ms["p50"] <= report.latency_ms["p95"] <= report.latency_ms["p99"]
    for event in log.events:  # each pose belongs to its frame
        assert event.points[0, 0] == pytest.approx(4 + event.index + 1.5)
    saved = log.save_csv(tmp_path / "poses.csv")
    lines = saved.read_text().splitlines()
    assert lines[0] == "frame,latency_ms,square_x,square_y,square_likelihood"
    assert len(lines) == report.n_analyzed + 1


def test_max_frames_and_duration_stop_the_session(tmp_path: Path) -> None:
    video = moving_square(tmp_path / "v.avi", 300, fps=100.0)
    assert LiveSession(Finder(), video).run(max_frames=5).n_analyzed == 5
    report = LiveSession(Finder(), video).run(duration=0.2)
    assert 0 < report.n_analyzed < 300
    with pytest.raises(VideoError, match="duration"):
        LiveSession(Finder(), video).run(duration=0)
    with pytest.raises(VideoError, match="max_frames"):
        LiveSession(Finder(), video).run(max_frames=0)
    with pytest.raises(VideoError, match="processor"):
        LiveSession(Finder(), video).add_processor("not callable")  # type: ignore[arg-type]


def test_region_trigger_fires_once_when_the_square_enters(tmp_path: Path) -> None:
    video = moving_square(tmp_path / "v.avi", 60, fps=60.0)
    entered: list[PoseEvent] = []
    trigger = RegionTrigger("square", (50, 0, 96, 64), on_enter=entered.append, pcutoff=0.5)
    session = LiveSession(Finder(), video)
    session.add_processor(trigger)
    session.run()
    assert len(entered) == 1 and trigger.entries == [entered[0].index]
    assert entered[0].points[0, 0] >= 50 and trigger.inside


def _event(index: int, x: float, y: float, likelihood: float = 1.0) -> PoseEvent:
    return PoseEvent(index=index, captured=0.0, delivered=0.01,
                     points=np.array([[x, y, likelihood]]), predicted=None,
                     bodyparts=("snout",))


def test_region_trigger_enter_exit_polygon_and_cutoff() -> None:
    calls = []
    triangle = [(0, 0), (10, 0), (0, 10)]
    trigger = RegionTrigger("snout", triangle, on_enter=lambda e: calls.append(("in", e.index)),
                            on_exit=lambda e: calls.append(("out", e.index)), pcutoff=0.5)
    for index, (x, y, p) in enumerate([(20, 20, 1), (2, 2, 0.2), (2, 2, 1), (3, 3, 1),
                                       (9, 9, 1), (1, 1, 1)]):
        trigger(_event(index, x, y, p))
    assert calls == [("in", 2), ("out", 4), ("in", 5)]
    with pytest.raises(VideoError, match="region"):
        RegionTrigger("snout", (5, 0, 1, 10))
    with pytest.raises(VideoError, match="predicts"):
        RegionTrigger("tail", (0, 0, 1, 1))(_event(0, 0, 0))


def test_forward_predictor_tracks_constant_velocity() -> None:
    kalman = ForwardPredictor(1, process_noise=10.0, measurement_noise=0.5, pcutoff=0.5)
    for i in range(30):
        t = i / 30
        kalman.update(t, np.array([[100 + 90 * t, 50 - 30 * t, 0.9]]))
    ahead = kalman.predict(29 / 30 + 0.1)
    np.testing.assert_allclose(ahead[0], [100 + 90 * (29 / 30 + 0.1), 50 - 30 * (29 / 30 + 0.1)],
                               atol=0.5)


def test_forward_predictor_ignores_unlikely_points_and_forgets_old_ones() -> None:
    kalman = ForwardPredictor(2, pcutoff=0.5, max_gap=0.2)
    assert np.isnan(kalman.predict(0.0)).all()
    out = kalman.update(0.0, np.array([[10, 10, 0.9], [5, 5, 0.1]]))
    assert out[0, :2].tolist() == [10, 10] and np.isnan(out[1, :2]).all()
    kalman.update(0.1, np.array([[11, 10, 0.9], [500, 500, 0.3]]))
    assert np.isnan(kalman.predict(0.1)[1]).all()  # never measured above the cutoff
    kalman.update(0.5, np.array([[0, 0, 0.0], [0, 0, 0.0]]))
    assert np.isnan(kalman.predict(0.5)).all()  # unseen for longer than max_gap
    with pytest.raises(ValueError, match="backwards"):
        kalman.update(0.4, np.zeros((2, 3)))


def test_kalman_forward_prediction_compensates_latency(tmp_path: Path) -> None:
    """The square moves 3 px per frame at 30 fps; poses arrive 40 ms late. The predicted
    positions must be nearer to where the square is when the pose is delivered."""
    video = moving_square(tmp_path / "v.avi", 27, fps=30.0, step=3)
    log = PoseLog()
    session = LiveSession(Finder(delay=0.04), video, kalman=True,
                          kalman_options={"process_noise": 100.0, "measurement_noise": 0.5})
    session.add_processor(log)
    session.run()
    raw, predicted = [], []
    for event in log.events[3:]:  # after the filter has seen a few frames
        truth = 4 + 3 * event.index + 1.5 + 90.0 * event.latency  # px/s * s
        raw.append(abs(event.points[0, 0] - truth))
        predicted.append(abs(event.predicted[0, 0] - truth))
    assert len(raw) >= 3
    assert np.mean(predicted) < 0.5 * np.mean(raw)
