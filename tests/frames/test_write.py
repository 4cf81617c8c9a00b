"""write_frames / extracted_frame_indices: DeepLabCut names, RGB PNGs, never overwrite."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_paths import OPENFIELD_VIDEO
from frames.video_factory import decode_index, write_indexed_video, write_raw_video

from posekit.errors import VideoError
from posekit.frames import (
    FrameSelectionError,
    default_n_digits,
    extracted_frame_indices,
    frame_file_name,
    select_frames,
    write_frames,
)
from posekit.io.video import VideoReader


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_indexed_video(tmp_path_factory.mktemp("w") / "idx.avi", 120, codec="MJPG")


def read_png_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_names_follow_deeplabcut(tmp_path: Path) -> None:
    assert frame_file_name(7, 4) == "img0007.png" and default_n_digits(2330) == 4
    assert default_n_digits(1000) == 3 and default_n_digits(1001) == 4  # as DeepLabCut pads
    assert default_n_digits(10) == 1 and default_n_digits(1) == 1
    with VideoReader(OPENFIELD_VIDEO) as reader:
        written = write_frames(reader, [2329, 0, 42], tmp_path / "m3v1mp4")
        assert [p.name for p in written] == ["img0000.png", "img0042.png", "img2329.png"]
        png = read_png_rgb(written[1])
        assert np.array_equal(png, reader.read(42))  # lossless, RGB kept


def test_written_frames_hold_the_right_pixels(indexed: Path, tmp_path: Path) -> None:
    with VideoReader(indexed) as reader:
        written = write_frames(reader, [5, 99, 17, 5], tmp_path)
    assert [p.name for p in written] == ["img005.png", "img017.png", "img099.png"]
    assert [decode_index(read_png_rgb(p)) for p in written] == [5, 17, 99]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in written]  # no temps


def test_png_stores_rgb_frames_as_colour(tmp_path: Path) -> None:
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 0] = 255
    video = write_raw_video(tmp_path / "red.avi", 2, lambda i: red, codec="MJPG")
    with VideoReader(video) as reader:
        (png,) = write_frames(reader, [1], tmp_path / "out")
    bgr = cv2.imread(str(png))
    assert bgr[..., 2].mean() > 200 and bgr[..., 0].mean() < 50  # red in a standard PNG


def test_existing_files_are_never_overwritten(indexed: Path, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    sentinel = tmp_path / "img017.png"
    sentinel.write_bytes(b"labelled already -- keep me")
    with VideoReader(indexed) as reader, caplog.at_level("INFO", logger="posekit.frames"):
        written = write_frames(reader, [3, 17, 40], tmp_path)
        assert sentinel.read_bytes() == b"labelled already -- keep me"
        assert [p.name for p in written] == ["img003.png", "img040.png"]
        before = {p.name: p.read_bytes() for p in written}
        again = write_frames(reader, [3, 17, 40], tmp_path)
    assert again == []
    assert {p.name: p.read_bytes() for p in written} == before
    assert "img017.png" in caplog.text and "never overwritten" in caplog.text


def test_extracted_frame_indices(tmp_path: Path) -> None:
    assert extracted_frame_indices(tmp_path / "missing") == set()
    for name in ["img0000.png", "img0042.png", "img2329.png", "img12.png", "CollectedData_x.h5",
                 "img0003.jpg", "imgabc.png", "frame0005.png", "img0007.png.tmp"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "img0099.png").mkdir()
    assert extracted_frame_indices(tmp_path) == {0, 42, 2329, 12}
    with pytest.raises(FrameSelectionError, match="is a file"):
        extracted_frame_indices(tmp_path / "img0000.png")


def test_extraction_round_trip_excludes_what_is_there(indexed: Path, tmp_path: Path) -> None:
    with VideoReader(indexed) as reader:
        first = select_frames(reader, 10, algo="kmeans", max_candidates=40)
        write_frames(reader, first, tmp_path)
        done = extracted_frame_indices(tmp_path)
        assert done == set(first)
        second = select_frames(reader, 10, algo="kmeans", exclude=done, max_candidates=40)
        write_frames(reader, second, tmp_path)
    assert not set(first) & set(second)
    assert extracted_frame_indices(tmp_path) == set(first) | set(second)


def test_bad_arguments(indexed: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with VideoReader(indexed) as reader:
        with pytest.raises(FrameSelectionError, match="is a file"):
            write_frames(reader, [1], tmp_path / "file")
        with pytest.raises(FrameSelectionError, match="n_digits=2 is too small for frame 110"):
            write_frames(reader, [1, 110], tmp_path / "out", n_digits=2)
        with pytest.raises(VideoError, match="out of range"):
            write_frames(reader, [1, 120], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written before the checks passed
