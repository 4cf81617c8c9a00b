"""Video analysis with a stand-in predictor: format, skipping, interruption, streaming."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.io.predictions import read_predictions
from posekit.io.video import VideoReader
from posekit.predict.analyze import AnalyzeOptions, analyze_video, is_analyzed, metadata_path
from posekit.predict.stream import iter_batches


def make_video(path: Path, n_frames: int = 23, size: tuple[int, int] = (64, 48)) -> Path:
    """A video whose frame i has a bright square at x = 2 * i."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    for i in range(n_frames):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[10:14, 2 * i:2 * i + 4] = 255
        writer.write(frame)
    writer.release()
    return path


class BrightestColumn:
    """Finds the bright square: x of its left edge, a fixed y, likelihood 0.9."""

    scorer = "FakeModelshuffle1"
    bodyparts = ["square", "corner"]
    model_info = {"backbone": "none"}

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after

    def predict(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        x = (frames[..., 0] > 128).any(axis=1).argmax(axis=1).astype(float)
        out = np.zeros((len(frames), 2, 3))
        out[:, 0] = np.stack([x, np.full_like(x, 11.5), np.full_like(x, 0.9)], axis=1)
        out[:, 1] = [0.0, 0.0, 0.1]
        return out


def test_analysis_h5_is_deeplabcuts_format(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi")
    h5 = analyze_video(BrightestColumn(), video, options=AnalyzeOptions(batch_size=4,
                                                                       save_csv=True))
    assert h5 == tmp_path / "clipFakeModelshuffle1.h5"
    frame = pd.read_hdf(h5, "df_with_missing")
    assert frame.columns.names == ["scorer", "bodyparts", "coords"]
    assert list(frame.columns.get_level_values("coords")[:3]) == ["x", "y", "likelihood"]
    assert len(frame) == 23 and list(frame.index[:3]) == [0, 1, 2]
    np.testing.assert_allclose(frame[("FakeModelshuffle1", "square", "x")], 2 * np.arange(23),
                               atol=1)
    assert h5.with_suffix(".csv").is_file()
    meta = json.loads(metadata_path(h5).read_text())
    assert meta["complete"] and meta["n_frames"] == 23 and meta["fps"] == pytest.approx(10)
    assert read_predictions(h5).data.shape == (23, 1, 2, 3)


def test_already_analyzed_video_is_skipped_unless_overwrite(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi")
    analyze_video(BrightestColumn(), video)
    again = BrightestColumn()
    analyze_video(again, video)
    assert again.calls == 0
    analyze_video(again, video, options=AnalyzeOptions(overwrite=True))
    assert again.calls > 0


def test_interrupted_analysis_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi")
    with pytest.raises(KeyboardInterrupt):
        analyze_video(BrightestColumn(fail_after=2), video, options=AnalyzeOptions(batch_size=4))
    h5 = tmp_path / "clipFakeModelshuffle1.h5"
    assert not h5.exists() and not is_analyzed(h5, "FakeModelshuffle1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


def test_batches_cover_every_frame_in_order(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi", n_frames=10)
    with VideoReader(video) as reader:
        batches = list(iter_batches(reader, 4))
    assert [len(i) for i, _ in batches] == [4, 4, 2]
    assert np.concatenate([i for i, _ in batches]).tolist() == list(range(10))
    assert batches[0][1].shape == (4, 48, 64, 3)


def test_stopping_early_ends_the_decoder(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi", n_frames=40)
    with VideoReader(video) as reader:
        for _ in iter_batches(reader, 2, prefetch=1):
            break  # the generator's cleanup must stop and join the background thread
    import threading

    assert not any(t.name == "posekit-decode" for t in threading.enumerate())
