"""The inference engine on a synthetic video with a predictor whose answers are known."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.errors import VideoError
from posekit.io.video import VideoReader
from posekit.predict.analyze import AnalyzeOptions, analyze_video, metadata_path
from posekit.predict.dynamic import DynamicCrop
from posekit.predict.engine import (
    BatchTuner,
    InferenceOptions,
    candidate_batch_sizes,
    predict_video,
)

# the square's top-left corner per frame: it walks right and down, then jumps across
CORNERS = [(10 + 3 * i, 20 + 2 * i) for i in range(20)] + [(100, 80), (101, 81)]


def truth(corners: list[tuple[int, int]], side: int = 4) -> np.ndarray:
    return np.array(corners, dtype=float) + (side - 1) / 2


@pytest.fixture
def video(tmp_path: Path, make_square_video) -> Path:
    return make_square_video(tmp_path / "square.avi", CORNERS)


def run(predictor, video: Path, **options) -> tuple[np.ndarray, object]:
    with VideoReader(video) as reader:
        return predict_video(predictor, reader, options=InferenceOptions(**options))


@pytest.mark.parametrize("batch_size", [1, 3, 8, "auto"])
def test_plain_path_finds_the_square(video, square_finder, batch_size) -> None:
    points, stats = run(square_finder(), video, batch_size=batch_size)
    assert points.shape == (len(CORNERS), 2, 3)
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)
    assert stats.n_frames == len(CORNERS) and stats.batch_size >= 1


def test_downscaled_keypoints_map_back_exactly(video, square_finder) -> None:
    finder = square_finder()
    points, _ = run(finder, video, downscale=0.5, batch_size=4)
    assert {s[1:3] for s in finder.shapes} == {(48, 64)}  # the network saw half-size frames
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)


def test_fixed_crop_reports_full_frame_pixels(video, square_finder) -> None:
    finder = square_finder()
    points, _ = run(finder, video, crop=(8, 120, 16, 90), batch_size=5)
    assert {s[1:3] for s in finder.shapes} == {(74, 112)}
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)


def test_crop_and_downscale_together(video, square_finder) -> None:
    points, _ = run(square_finder(), video, crop=(8, 120, 16, 90), downscale=0.5)
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)


def test_dynamic_crop_follows_then_falls_back_when_the_square_jumps(video, square_finder) -> None:
    finder = square_finder()
    dynamic = DynamicCrop(pcutoff=0.5, margin=8, min_size=32, multiple=16)
    points, stats = run(finder, video, dynamic_crop=dynamic, batch_size=1)
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)
    assert (points[:, 0, 2] == 1).all()  # every frame answered with the square in view
    shapes = [s[1:3] for s in finder.shapes]
    assert shapes[0] == (96, 128) and (32, 32) in shapes  # full frame first, then a window
    # the jump to (100, 80) leaves the window: that frame is analyzed again on the full frame
    assert stats.n_fallback >= 1 and stats.n_cropped >= len(CORNERS) - 3
    assert stats.n_cropped + stats.n_fallback == len(CORNERS) - 1


def test_dynamic_crop_with_downscale_and_batches(video, square_finder) -> None:
    dynamic = DynamicCrop(pcutoff=0.5, margin=16, min_size=32, multiple=16)
    points, stats = run(square_finder(), video, dynamic_crop=dynamic, downscale=0.5, batch_size=4)
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)
    assert stats.n_cropped > 0


def test_dynamic_crop_inside_a_fixed_crop(video, square_finder) -> None:
    dynamic = DynamicCrop(pcutoff=0.5, margin=8, min_size=32, multiple=16)
    points, stats = run(square_finder(), video, dynamic_crop=dynamic, crop=(4, 124, 12, 92),
                        batch_size=2)
    np.testing.assert_allclose(points[:, 0, :2], truth(CORNERS), atol=1e-9)
    assert stats.n_cropped > 0


def test_analysis_files_have_the_plain_layout_and_record_the_options(
        tmp_path, video, square_finder) -> None:
    plain = analyze_video(square_finder(), video, options=AnalyzeOptions(
        destination=tmp_path / "plain"))
    fast = analyze_video(square_finder(), video, options=AnalyzeOptions(
        destination=tmp_path / "fast", downscale=0.5, crop=(0, 128, 8, 96),
        dynamic_crop=DynamicCrop(pcutoff=0.5, margin=8, min_size=32)))
    a, b = pd.read_hdf(plain, "df_with_missing"), pd.read_hdf(fast, "df_with_missing")
    assert a.columns.equals(b.columns) and a.index.equals(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-9)
    meta = json.loads(metadata_path(fast).read_text())
    assert meta["inference"]["downscale"] == 0.5 and meta["inference"]["crop"] == [0, 128, 8, 96]
    assert meta["inference"]["dynamic_crop"]["margin"] == 8 and meta["complete"]


def test_crop_outside_the_video_is_refused_before_any_work(video, square_finder) -> None:
    finder = square_finder()
    with pytest.raises(VideoError, match="inside the frame"):
        run(finder, video, crop=(0, 500, 0, 10))
    assert finder.shapes == []


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": "big"},
                                    {"batch_size": 2.0}, {"downscale": 2},
                                    {"dynamic_crop": 0.5}, {"prefetch": 0}])
def test_bad_options_are_refused(kwargs) -> None:
    with pytest.raises(VideoError):
        InferenceOptions(**kwargs)
    with pytest.raises(VideoError):
        AnalyzeOptions(**{k: v for k, v in kwargs.items() if k != "prefetch"} or {"crop": (1,)})


def test_predictor_returning_the_wrong_shape_is_reported(video) -> None:
    class Broken:
        def predict(self, frames):
            return np.zeros((len(frames) + 1, 2, 3))

    with pytest.raises(VideoError, match="expected"):
        run(Broken(), video, batch_size=2)


def test_decoding_stays_a_bounded_distance_ahead(video, square_finder) -> None:
    """Memory is bounded: the decoder never runs more than ``prefetch`` frames ahead."""
    produced = []
    gate = threading.Event()

    class Counting(VideoReader):
        def __iter__(self):
            for item in super().__iter__():
                produced.append(item[0])
                yield item

    class Slow:
        def __init__(self):
            self.seen = 0
            self.ahead = []

        def predict(self, frames):
            gate.wait(0.05)  # give the decoder time to run ahead
            self.seen += len(frames)
            self.ahead.append(len(produced) - self.seen)
            return square_finder().predict(frames)

    slow = Slow()
    with Counting(video) as reader:
        predict_video(slow, reader, options=InferenceOptions(batch_size=2, prefetch=4))
    assert max(slow.ahead) <= 4 + 1  # the queue, plus the frame the decoder holds


def test_tuner_keeps_the_fastest_size_ignoring_each_first_batch() -> None:
    tuner = BatchTuner((1, 4, 8), trials=3)
    per_frame = {1: 0.010, 4: 0.006, 8: 0.007}
    while tuner.chosen is None:
        size = tuner.size()
        first = len(tuner.times[size]) == 0 and tuner._step % 3 == 0
        tuner.record(size, size * (1.0 if first else per_frame[size]))  # warm-up is slow
    assert tuner.chosen == 4
    assert tuner.measured == pytest.approx(per_frame)
    assert tuner.frames_needed == 3 * (1 + 4 + 8)


def test_tuner_with_one_candidate_needs_no_measurement() -> None:
    tuner = BatchTuner((5,))
    assert tuner.size() == 5 and tuner.chosen == 5


def test_candidate_batch_sizes_respect_device_and_memory() -> None:
    assert candidate_batch_sizes("cpu", 320 * 240) == (1, 4, 8, 16)
    assert candidate_batch_sizes("cuda:0", 320 * 240)[-1] == 64
    assert max(candidate_batch_sizes("cpu", 2048 * 2048)) < 16  # big frames: smaller batches
    assert candidate_batch_sizes("cpu", 10**9) == (1,)


def test_auto_batch_tunes_on_a_long_video(tmp_path, make_square_video, square_finder) -> None:
    corners = [(10 + i % 50, 20) for i in range(200)]
    video = make_square_video(tmp_path / "long.avi", corners)
    points, stats = run(square_finder(), video)
    np.testing.assert_allclose(points[:, 0, :2], truth(corners), atol=1e-9)
    assert set(stats.tuning) == {1, 4, 8, 16} and stats.batch_size in stats.tuning


@pytest.mark.parametrize("shape", [(2, 480, 640, 3), (1, 240, 320, 3), (3, 37, 50, 3)])
def test_fast_normalization_is_bit_identical(shape) -> None:
    from posekit.models.normalize import normalize_images
    from posekit.predict.onnx_engine import normalize_padded, pad_frames

    frames = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    expected = normalize_images(pad_frames(frames))
    got = normalize_padded(frames)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_fast_normalization_refuses_what_normalize_images_refuses() -> None:
    from posekit.errors import ModelError
    from posekit.predict.onnx_engine import normalize_padded

    with pytest.raises(ModelError, match="uint8"):
        normalize_padded(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ModelError, match="shape"):
        normalize_padded(np.zeros((1, 8, 8, 4), np.uint8))
