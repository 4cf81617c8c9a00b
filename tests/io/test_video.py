"""VideoReader / VideoWriter: exact random access, truncated files, clear errors, atomic writes.

Ground truth for "frame i" is a plain sequential cv2 grab/retrieve loop (video_factory); the
synthetic videos also carry their index in their pixels.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_paths import OPENFIELD_VIDEO
from frames.video_factory import (
    decode_index,
    frame_hash,
    index_frame,
    sequential_hashes,
    write_indexed_video,
    write_raw_video,
)

import posekit.io.video as video_module
from posekit.errors import MissingFileError, VideoError
from posekit.io.video import VideoReader, VideoWriter, read_video_metadata

N_SYNTHETIC = 240


@pytest.fixture(scope="module", params=[("mp4v", ".mp4"), ("MJPG", ".avi")], ids=["mp4v", "MJPG"])
def indexed_video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    codec, suffix = request.param
    path = tmp_path_factory.mktemp("video") / f"indexed{suffix}"
    return write_indexed_video(path, N_SYNTHETIC, codec=codec)


@pytest.fixture(scope="module")
def mp4v_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_indexed_video(tmp_path_factory.mktemp("mp4v") / "indexed.mp4", N_SYNTHETIC,
                               codec="mp4v")


# --- metadata ---------------------------------------------------------------------------------

def test_metadata_of_the_openfield_video() -> None:
    meta = read_video_metadata(OPENFIELD_VIDEO)
    assert (meta.n_frames, meta.width, meta.height, meta.codec) == (2330, 640, 480, "h264")
    assert meta.fps == pytest.approx(30.0, abs=1e-3)
    assert meta.duration_s == pytest.approx(2330 / 30.0, rel=1e-4)
    assert meta.path == OPENFIELD_VIDEO
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.fps = 25.0  # type: ignore[misc]


def test_metadata_of_generated_videos(indexed_video: Path) -> None:
    meta = read_video_metadata(indexed_video)
    assert (meta.n_frames, meta.width, meta.height) == (N_SYNTHETIC, 160, 120)
    # OpenCV reports MPEG-4 part 2 by its FFmpeg tag FMP4 (older builds: the file's mp4v)
    assert meta.codec in ({"mp4v", "FMP4"} if indexed_video.suffix == ".mp4" else {"MJPG"})
    assert meta.fps == pytest.approx(30.0)


# --- exactness on the real h264 video ----------------------------------------------------------

@pytest.fixture(scope="module")
def openfield_reference() -> dict[int, str]:
    rng = random.Random(7)
    wanted = set(rng.sample(range(2330), 9)) | {0, 1, 251, 2329}
    return sequential_hashes(OPENFIELD_VIDEO, wanted)


def test_real_video_random_access_matches_sequential_decoding(
        openfield_reference: dict[int, str]) -> None:
    indices = sorted(openfield_reference)
    shuffled = indices[:]
    random.Random(3).shuffle(shuffled)
    with VideoReader(OPENFIELD_VIDEO) as reader:
        for order in (indices, indices[::-1], shuffled):
            for i in order:
                assert frame_hash(reader.read(i)) == openfield_reference[i], f"frame {i}"


def test_real_video_read_many_matches_sequential_decoding(
        openfield_reference: dict[int, str]) -> None:
    indices = sorted(openfield_reference)[::-1] + [251, 0]  # unsorted, with repeats
    with VideoReader(OPENFIELD_VIDEO) as reader:
        frames = reader.read_many(indices)
    assert [frame_hash(f) for f in frames] == [openfield_reference[i] for i in indices]
    assert frames[-1].shape == (480, 640, 3) and frames[-1].dtype == np.uint8


@pytest.mark.slow
def test_real_video_every_frame_and_many_random_reads() -> None:
    reference = sequential_hashes(OPENFIELD_VIDEO)
    assert len(reference) == 2330
    with VideoReader(OPENFIELD_VIDEO) as reader:
        assert [frame_hash(f) for _, f in reader] == [reference[i] for i in range(2330)]
        assert reader.n_decoded == 2330
        rng = random.Random(11)
        for i in [rng.randrange(2330) for _ in range(300)]:
            assert frame_hash(reader.read(i)) == reference[i], f"frame {i}"


# --- exactness on generated videos whose pixels carry their index ------------------------------

def test_iteration_yields_every_frame_in_order(indexed_video: Path) -> None:
    with VideoReader(indexed_video) as reader:
        seen = [(i, decode_index(frame)) for i, frame in reader]
        assert seen == [(i, i) for i in range(N_SYNTHETIC)]
        assert reader.n_decoded == N_SYNTHETIC and not reader.truncated


def test_random_reads_return_the_frame_asked_for(indexed_video: Path) -> None:
    order = list(range(N_SYNTHETIC))
    random.Random(0).shuffle(order)
    order += list(range(N_SYNTHETIC - 1, -1, -7)) + [5, 5, 6]  # backwards, repeated
    with VideoReader(indexed_video) as reader:
        for i in order:
            assert decode_index(reader.read(i)) == i


def test_read_many_returns_frames_in_the_order_asked(indexed_video: Path) -> None:
    indices = [200, 3, 150, 3, 4, 5, 6, 239, 0]
    with VideoReader(indexed_video) as reader:
        frames = reader.read_many(indices)
        assert [decode_index(f) for f in frames] == indices
        assert frames[1] is not frames[3]  # repeated index: separate arrays
        assert [i for i, _ in reader.iter_many(indices)] == sorted(set(indices))


def test_read_inside_iteration_does_not_disturb_it(mp4v_video: Path) -> None:
    with VideoReader(mp4v_video) as reader:
        for i, frame in reader:
            assert decode_index(frame) == i
            if i % 40 == 0:
                assert decode_index(reader.read(N_SYNTHETIC - 1 - i)) == N_SYNTHETIC - 1 - i


def test_frames_are_rgb(tmp_path: Path) -> None:
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 0] = 255
    path = write_raw_video(tmp_path / "red.avi", 3, lambda i: red, codec="MJPG")
    with VideoReader(path) as reader:
        frame = reader.read(1)
    assert frame[..., 0].mean() > 200 and frame[..., 2].mean() < 50


# --- inexact seeks, simulated: the reader must still return the exact frame --------------------

class SloppyCapture:
    """A cv2.VideoCapture whose seeks land ``offset(n)`` frames away from target ``n``.

    With ``lie_counter`` the frame counter reports the requested position instead of the real
    one (timestamps stay honest), as some backends do.
    """

    def __init__(self, cap: cv2.VideoCapture, offset, lie_counter: bool = False) -> None:
        self.cap, self.offset, self.lie_counter = cap, offset, lie_counter
        self.counter_error = 0
        self.seeks = 0

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_FRAMES:
            self.seeks += 1
            real = max(0, int(value) + self.offset(int(value)))
            self.counter_error = int(value) - real if self.lie_counter else 0
            return self.cap.set(prop, float(real))
        return self.cap.set(prop, value)

    def get(self, prop: int) -> float:
        value = self.cap.get(prop)
        return value + self.counter_error if prop == cv2.CAP_PROP_POS_FRAMES else value

    def __getattr__(self, name: str):
        return getattr(self.cap, name)


SLOPPY = {
    "keyframe_before": (lambda n: -(n % 25), False),
    "overshoot": (lambda n: 3, False),
    "random": (lambda n: random.Random(n).randint(-9, 9), False),
    "counter_lies": (lambda n: 2, True),
}


@pytest.mark.parametrize("behaviour", sorted(SLOPPY))
def test_inexact_seeks_are_detected_and_corrected(mp4v_video: Path, behaviour: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    offset, lie = SLOPPY[behaviour]
    captures: list[SloppyCapture] = []

    def open_sloppy(path: Path) -> SloppyCapture:
        captures.append(SloppyCapture(cv2.VideoCapture(str(path), cv2.CAP_FFMPEG), offset, lie))
        return captures[-1]

    monkeypatch.setattr(video_module, "_open_capture", open_sloppy)
    order = [230, 12, 180, 181, 100, 40, 239, 1, 75, 160]
    with VideoReader(mp4v_video, max_grab_ahead=1) as reader:  # force seeks
        assert [decode_index(reader.read(i)) for i in order] == order
    assert sum(c.seeks for c in captures) >= 5  # the seek path really ran


def test_unreliable_timestamps_fall_back_to_exact_decoding(
        mp4v_video: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    class JitteryTimestamps(SloppyCapture):
        def get(self, prop: int) -> float:
            value = self.cap.get(prop)
            frame = self.cap.get(cv2.CAP_PROP_POS_FRAMES)
            return value + 20.0 if prop == cv2.CAP_PROP_POS_MSEC and frame > 50 else value

    monkeypatch.setattr(video_module, "_open_capture", lambda path: JitteryTimestamps(
        cv2.VideoCapture(str(path), cv2.CAP_FFMPEG), lambda n: 0))
    with caplog.at_level(logging.WARNING, logger="posekit.io.video"):
        with VideoReader(mp4v_video, max_grab_ahead=1) as reader:
            assert [decode_index(reader.read(i)) for i in (100, 20, 90, 60)] == [100, 20, 90, 60]
    assert "variable frame rate" in caplog.text


# --- truncated and bad files -------------------------------------------------------------------

@pytest.fixture
def truncated_avi(tmp_path: Path) -> Path:
    """An MJPG .avi cut to half its bytes: opens, announces 240 frames, decodes about 120."""
    full = write_indexed_video(tmp_path / "full.avi", N_SYNTHETIC, codec="MJPG")
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_iteration_of_a_truncated_video_stops_and_warns(
        truncated_avi: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="posekit.io.video"):
        with VideoReader(truncated_avi) as reader:
            assert len(reader) == N_SYNTHETIC and reader.n_decoded is None
            seen = [decode_index(frame) for _, frame in reader]
            stop = len(seen)
            # the last frame is cut off part-way, so its pixels need not show its index
            assert 0 < stop < N_SYNTHETIC and seen[:-1] == list(range(stop - 1))
            assert reader.n_decoded == stop and reader.truncated and len(reader) == stop
            reference = sequential_hashes(truncated_avi)
            assert len(reference) == stop
            assert frame_hash(reader.read(stop - 1)) == reference[stop - 1]
            assert decode_index(reader.read(stop - 2)) == stop - 2
            with pytest.raises(VideoError, match=f"0 to {stop - 1}"):
                reader.read(stop)
    assert f"decoding stopped after {stop} frames" in caplog.text
    assert str(truncated_avi) in caplog.text and f"announces {N_SYNTHETIC}" in caplog.text


def test_read_past_the_decodable_end_raises(truncated_avi: Path) -> None:
    with VideoReader(truncated_avi) as reader:
        with pytest.raises(VideoError) as info:
            reader.read(N_SYNTHETIC - 10)
        message = str(info.value)
        assert str(truncated_avi) in message and f"announces {N_SYNTHETIC}" in message
        stop = reader.n_decoded
        assert stop is not None and f"stops at frame {stop}" in message
        assert decode_index(reader.read(stop - 2)) == stop - 2  # earlier frames still work
    with VideoReader(truncated_avi) as fresh:
        assert stop == len([1 for _ in fresh])


def test_truncated_mp4_is_a_clear_error(tmp_path: Path) -> None:
    data = OPENFIELD_VIDEO.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="(?s)cut.mp4.*truncated.*moov"):
        VideoReader(cut)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nope.mp4.*does not exist") as info:
        VideoReader(tmp_path / "nope.mp4")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(MissingFileError):
        read_video_metadata(tmp_path / "nope.mp4")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="is a folder"):
        VideoReader(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(VideoError, match="empty.mp4 is empty"):
        VideoReader(tmp_path / "empty.mp4")


@pytest.mark.parametrize("name", ["notes.mp4", "notes.avi"])
def test_text_file_named_like_a_video(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("these are my notes, not a video\n" * 20)
    with pytest.raises(VideoError, match=f"Cannot open .*{name} as a video"):
        VideoReader(tmp_path / name)


@pytest.mark.parametrize("bad", [-1, N_SYNTHETIC, 10**9])
def test_index_out_of_range_names_the_valid_range(mp4v_video: Path, bad: int) -> None:
    with VideoReader(mp4v_video) as reader:
        with pytest.raises(VideoError, match=f"{bad} is out of range.*0 to {N_SYNTHETIC - 1}"):
            reader.read(bad)
        with pytest.raises(VideoError, match="out of range"):
            reader.read_many([1, bad])


@pytest.mark.parametrize("bad", [2.5, "3", True, None])
def test_index_must_be_an_integer(mp4v_video: Path, bad: object) -> None:
    with VideoReader(mp4v_video) as reader:
        with pytest.raises(VideoError, match="must be an integer"):
            reader.read(bad)  # type: ignore[arg-type]
        assert decode_index(reader.read(np.int64(7))) == 7


def test_closed_reader_refuses_to_read(mp4v_video: Path) -> None:
    reader = VideoReader(mp4v_video)
    reader.close()
    with pytest.raises(VideoError, match="closed"):
        reader.read(0)
    with pytest.raises(VideoError, match="closed"):
        next(iter(reader))


# --- writer -----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec, suffix", [("mp4v", ".mp4"), ("MJPG", ".avi")])
def test_writer_round_trip(tmp_path: Path, codec: str, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    with VideoWriter(path, 25.0, (160, 120), codec=codec) as writer:
        for i in range(30):
            writer.write(index_frame(i))
            assert not path.exists()  # only the temporary file exists while writing
        assert writer.n_written == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    meta = read_video_metadata(path)
    assert (meta.n_frames, meta.width, meta.height, meta.fps) == (30, 160, 120, 25.0)
    with VideoReader(path) as reader:
        assert [decode_index(f) for _, f in reader] == list(range(30))


def test_writer_keeps_colours_rgb(tmp_path: Path) -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[..., 2] = 255  # blue
    with VideoWriter(tmp_path / "blue.avi", 10, (64, 48), codec="MJPG") as writer:
        writer.write(frame)
        writer.write(frame[..., 2])  # gray frames are accepted too
    with VideoReader(tmp_path / "blue.avi") as reader:
        got = reader.read(0)
        assert got[..., 2].mean() > 200 and got[..., 0].mean() < 50
        assert reader.read(1).std(axis=2).max() < 8  # gray


def test_writer_failure_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    new = tmp_path / "new.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(new, 30, (160, 120)) as writer:
            writer.write(index_frame(1))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.mp4"
    shutil.copy(write_indexed_video(tmp_path / "src.mp4", 5, codec="mp4v"), old)
    before = old.read_bytes()
    with pytest.raises(VideoError, match=r"shape \(10, 10, 3\)"):
        with VideoWriter(old, 30, (160, 120)) as writer:
            writer.write(index_frame(1))
            writer.write(np.zeros((10, 10, 3), np.uint8))
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.mp4", "src.mp4"]


def test_writer_rejects_an_unavailable_codec(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="codec 'XXXX'.*mp4v"):
        VideoWriter(tmp_path / "x.mp4", 30, (64, 48), codec="XXXX")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fps, size, codec, match", [
    (0, (64, 48), "mp4v", "fps must be a positive"),
    (float("nan"), (64, 48), "mp4v", "fps must be a positive"),
    (30, (0, 48), "mp4v", "must be positive"),
    (30, "big", "mp4v", "size must be"),
    (30, (64, 48), "h264x", "four-character"),
])
def test_writer_rejects_bad_arguments(tmp_path: Path, fps: float, size: object, codec: str,
                                      match: str) -> None:
    with pytest.raises(VideoError, match=match):
        VideoWriter(tmp_path / "x.mp4", fps, size, codec=codec)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_wrong_dtype_and_writes_after_close(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "x.avi", 30, (64, 48), codec="MJPG")
    with pytest.raises(VideoError, match="float64"):
        writer.write(np.zeros((48, 64, 3)))
    writer.close()
    with pytest.raises(VideoError, match="closed"):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.avi"]
