"""select_frames: uniform spacing, k-means choosing distinct frames, ranges, exclusion, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixture_paths import OPENFIELD_VIDEO
from frames.video_factory import frame_hash, write_indexed_video, write_raw_video

from posekit.errors import PosekitError
from posekit.frames import FrameSelectionError, allowed_frames, select_frames, thumbnail
from posekit.io.video import VideoReader


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_indexed_video(tmp_path_factory.mktemp("sel") / "idx.avi", 200, codec="MJPG")


@pytest.fixture(scope="module")
def openfield() -> VideoReader:
    with VideoReader(OPENFIELD_VIDEO) as reader:
        yield reader


# --- uniform ------------------------------------------------------------------------------------

def test_uniform_is_evenly_spaced(indexed: Path) -> None:
    with VideoReader(indexed) as reader:
        chosen = select_frames(reader, 8, algo="uniform")
    assert chosen == [12, 37, 62, 87, 112, 137, 162, 187]  # centres of 8 stretches of 25


def test_uniform_respects_start_stop_and_exclude(indexed: Path) -> None:
    with VideoReader(indexed) as reader:
        chosen = select_frames(reader, 10, algo="uniform", start=0.25, stop=0.5,
                               exclude={52, 57})
    assert len(set(chosen)) == 10 and chosen == sorted(chosen)
    assert all(50 <= i < 100 for i in chosen) and not {52, 57} & set(chosen)
    allowed = [i for i in range(50, 100) if i not in {52, 57}]  # evenly spaced among these
    steps = np.diff([allowed.index(i) for i in chosen])
    assert steps.max() - steps.min() <= 1


def test_uniform_on_the_real_video(openfield: VideoReader) -> None:
    chosen = select_frames(openfield, 20, algo="uniform")
    assert len(chosen) == 20 and chosen[0] >= 0 and chosen[-1] < 2330
    assert set(np.diff(chosen)) <= {116, 117}


def test_allowed_frames_range_is_half_open() -> None:
    assert allowed_frames(10, start=0.2, stop=0.5).tolist() == [2, 3, 4]
    assert allowed_frames(2330, start=0.1, stop=0.2)[[0, -1]].tolist() == [233, 465]
    assert allowed_frames(10, exclude={0, 9, 42}).tolist() == list(range(1, 9))


# --- k-means --------------------------------------------------------------------------------------

def test_kmeans_on_the_real_video_gives_n_distinct_frames(openfield: VideoReader) -> None:
    chosen = select_frames(openfield, 12, algo="kmeans", max_candidates=150)
    assert len(chosen) == 12 and len(set(chosen)) == 12 and chosen == sorted(chosen)
    assert 0 <= chosen[0] and chosen[-1] < 2330
    frames = openfield.read_many(chosen)
    assert len({frame_hash(f) for f in frames}) == 12  # different image content


def test_kmeans_is_deterministic_for_a_seed_and_respects_the_range(
        openfield: VideoReader) -> None:
    options = dict(algo="kmeans", start=0.5, stop=0.7, max_candidates=100)
    first = select_frames(openfield, 6, seed=3, **options)
    again = select_frames(openfield, 6, seed=3, **options)
    assert first == again
    assert all(1165 <= i < 1631 for i in first) and len(set(first)) == 6


def test_kmeans_picks_one_frame_per_distinct_scene(tmp_path: Path) -> None:
    """Three scenes (dark, a white square left, a white square right): one frame from each."""
    def scene(i: int) -> np.ndarray:
        frame = np.full((96, 128, 3), 30 + i % 5, np.uint8)  # slight flicker within a scene
        if 60 <= i < 120:
            frame[20:70, 5:55] = 220
        elif i >= 120:
            frame[20:70, 70:120] = 220
        return frame

    path = write_raw_video(tmp_path / "scenes.avi", 150, scene, codec="MJPG")
    with VideoReader(path) as reader:
        chosen = select_frames(reader, 3, algo="kmeans", seed=0)
    assert [i // 60 for i in chosen] == [0, 1, 2], chosen


def test_kmeans_never_chooses_excluded_frames(indexed: Path) -> None:
    exclude = set(range(0, 200, 2))
    with VideoReader(indexed) as reader:
        chosen = select_frames(reader, 15, algo="kmeans", exclude=exclude, max_candidates=60)
    assert len(set(chosen)) == 15 and not exclude & set(chosen)


def test_kmeans_with_as_many_candidates_as_frames_asked(indexed: Path) -> None:
    with VideoReader(indexed) as reader:
        chosen = select_frames(reader, 5, algo="kmeans", start=0.0, stop=0.025)
    assert chosen == [0, 1, 2, 3, 4]


def test_thumbnail_shape_and_range() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:240] = 255
    vector = thumbnail(frame)
    assert vector.shape == (48 * 64,) and vector.dtype == np.float32
    assert vector.reshape(48, 64)[:24].min() == 1.0 and vector.reshape(48, 64)[24:].max() == 0.0


# --- errors ---------------------------------------------------------------------------------------

def test_asking_for_more_frames_than_available_raises(indexed: Path) -> None:
    with VideoReader(indexed) as reader:
        with pytest.raises(FrameSelectionError, match="Cannot choose 11 frames.*10 are available"):
            select_frames(reader, 11, algo="uniform", start=0.0, stop=0.05)
        with pytest.raises(FrameSelectionError, match="2 are available.*8 excluded"):
            select_frames(reader, 3, algo="kmeans", stop=0.05, exclude=set(range(8)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "integer >= 1"),
    (dict(n=2.0), "integer >= 1"),
    (dict(n=3, algo="random"), "Unknown frame selection algorithm 'random'"),
    (dict(n=3, start=-0.1), "start must be a fraction"),
    (dict(n=3, stop=1.5), "stop must be a fraction"),
    (dict(n=3, start=0.6, stop=0.6), r"start \(0.6\) must be smaller than stop"),
    (dict(n=3, start="0"), "start must be a fraction"),
    (dict(n=30, max_candidates=20), "max_candidates must be an integer >= n"),
])
def test_bad_options_raise(indexed: Path, kwargs: dict, match: str) -> None:
    with VideoReader(indexed) as reader:
        with pytest.raises(FrameSelectionError, match=match) as info:
            select_frames(reader, **kwargs)
    assert isinstance(info.value, PosekitError) and isinstance(info.value, ValueError)


def test_selection_on_a_truncated_video_uses_the_frames_that_decode(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    full = write_indexed_video(tmp_path / "full.avi", 200, codec="MJPG")
    data = full.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING", logger="posekit.io.video"):
        with VideoReader(tmp_path / "cut.avi") as reader:
            assert reader.n_frames == 200
            for algo in ("uniform", "kmeans"):
                chosen = select_frames(reader, 10, algo=algo)
                assert reader.truncated and max(chosen) < reader.n_decoded < 200
                assert len(reader.read_many(chosen)) == 10
    assert "decoding stopped after" in caplog.text


def test_verify_length_of_an_intact_video_costs_nothing_else(indexed: Path) -> None:
    with VideoReader(indexed) as reader:
        assert reader.verify_length() == 200 and reader.n_decoded is None
