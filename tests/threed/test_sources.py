"""Finding calibration images/videos per camera and matching views across cameras."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.errors import CalibrationError, MissingFileError, VideoError
from posekit.threed.boards import Board
from posekit.threed.sources import detect_views, find_calibration_media, natural_key

BOARD = Board("charuco", 5, 6, 30.0, 22.0, "DICT_4X4_50")


def _board_image(shift: int = 0) -> np.ndarray:
    image = np.full((300, 320), 255, np.uint8)
    flat = BOARD.draw(40, 10)
    image[20 + shift:20 + shift + flat.shape[0], 20:20 + flat.shape[1]] = flat
    return image


def _touch(path: Path, image: np.ndarray | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), _board_image() if image is None else image)


def test_natural_key_orders_numbers_by_value() -> None:
    assert sorted(["cam10", "cam2", "cam1"], key=natural_key) == ["cam1", "cam2", "cam10"]


def test_subfolders_are_cameras_in_natural_order(tmp_path: Path) -> None:
    for cam in ("cam10", "cam2", "cam1"):
        _touch(tmp_path / cam / "calibration_images" / "f-1.png")
        (tmp_path / cam / "behaviour.mp4").write_bytes(b"")  # ignored: images win
    (tmp_path / "empty").mkdir()
    media = find_calibration_media(tmp_path)
    assert list(media) == ["cam1", "cam2", "cam10"]
    assert all(f.suffix == ".png" for files in media.values() for f in files)
    given = find_calibration_media(tmp_path, ["cam10", "cam2"])
    assert list(given) == ["cam10", "cam2"]
    videos = find_calibration_media(tmp_path, ["cam1", "cam2"], media="videos")
    assert [f.name for f in videos["cam1"]] == ["behaviour.mp4"]


def test_flat_folder_prefixes_and_longer_names(tmp_path: Path) -> None:
    for name in ("left01.png", "left02.png", "right01.png", "right02.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    media = find_calibration_media(tmp_path)
    assert list(media) == ["left", "right"]
    assert [f.name for f in media["left"]] == ["left01.png", "left02.png"]
    other = tmp_path / "other"
    other.mkdir()
    for name in ("cam1-0001.png", "cam10-0001.png", "cam1-0002.png"):
        (other / name).write_bytes(b"x")
    media = find_calibration_media(other, ["cam1", "cam10"])
    assert [f.name for f in media["cam1"]] == ["cam1-0001.png", "cam1-0002.png"]
    assert [f.name for f in media["cam10"]] == ["cam10-0001.png"]
    assert list(find_calibration_media(other)) == ["cam1", "cam10"]
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("calib-cam2.mp4", "calib-cam10.mp4", "calib-cam1.mp4"):
        (videos / name).write_bytes(b"x")
    media = find_calibration_media(videos)
    assert list(media) == ["cam1", "cam2", "cam10"]
    assert [f.name for f in media["cam2"]] == ["calib-cam2.mp4"]


def test_missing_folders_and_cameras(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        find_calibration_media(tmp_path / "nope")
    (tmp_path / "a1.png").write_bytes(b"x")
    with pytest.raises(CalibrationError, match=r"camera\(s\) \['b'\]"):
        find_calibration_media(tmp_path, ["a", "b"])
    with pytest.raises(CalibrationError, match="at least 2 cameras"):
        find_calibration_media(tmp_path)
    with pytest.raises(CalibrationError, match="media must be"):
        find_calibration_media(tmp_path, ["a", "b"], media="both")  # type: ignore[arg-type]


def test_views_matched_by_frame_number_even_with_gaps(tmp_path: Path) -> None:
    for k in (0, 1, 2, 3):
        _touch(tmp_path / "a" / f"a-{k:03d}.png")
    for k in (0, 2, 3):
        _touch(tmp_path / "b" / f"b-{k:03d}.png")
    cv2.imwrite(str(tmp_path / "b" / "b-003.png"), np.full((300, 320), 255, np.uint8))
    views = detect_views(BOARD, find_calibration_media(tmp_path))
    assert sorted(views.detections["a"]) == [0, 1, 2, 3]
    assert sorted(views.detections["b"]) == [0, 2]  # 3 has no board
    assert views.n_frames == {"a": 4, "b": 3}
    keys, points = views.as_points(BOARD.n_corners)
    assert keys == [0, 1, 2, 3]
    assert np.isnan(points["b"][1]).all() and np.isfinite(points["a"][1]).all()


def test_unnumbered_images_need_equal_counts(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "first.png")
    _touch(tmp_path / "a" / "second.png")
    _touch(tmp_path / "b" / "first.png")
    with pytest.raises(CalibrationError, match="different numbers of calibration images"):
        detect_views(BOARD, find_calibration_media(tmp_path))
    _touch(tmp_path / "b" / "second.png")
    views = detect_views(BOARD, find_calibration_media(tmp_path))
    assert sorted(views.detections["b"]) == [0, 1]


def test_image_size_must_not_change_and_unreadable_images(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "a1.png")
    _touch(tmp_path / "a" / "a2.png", np.full((100, 100), 255, np.uint8))
    _touch(tmp_path / "b" / "b1.png")
    _touch(tmp_path / "b" / "b2.png")
    with pytest.raises(CalibrationError, match="one camera, one image size"):
        detect_views(BOARD, find_calibration_media(tmp_path))
    (tmp_path / "a" / "a2.png").write_bytes(b"not a png")
    with pytest.raises(CalibrationError, match="Cannot read image"):
        detect_views(BOARD, find_calibration_media(tmp_path))


def test_videos_are_sampled_and_matched_by_frame(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    for cam, length in (("a", 12), ("b", 14)):
        (tmp_path / cam).mkdir()
        writer = cv2.VideoWriter(str(tmp_path / cam / "calib.avi"),
                                 cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 300))
        for frame in range(length):
            image = _board_image() if frame % 3 == 0 else np.full((300, 320), 255, np.uint8)
            writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        writer.release()
    views = detect_views(BOARD, find_calibration_media(tmp_path), video_frames=12)
    assert sorted(views.detections["a"]) == [(0, 0), (0, 3), (0, 6), (0, 9)]
    assert sorted(views.detections["b"]) == sorted(views.detections["a"])  # same moments
    assert "different frame counts" in caplog.text
    assert views.image_sizes["b"] == (320, 300)
    sampled = detect_views(BOARD, find_calibration_media(tmp_path), video_frames=4)
    assert sampled.n_frames == {"a": 4, "b": 4}
    (tmp_path / "b" / "calib.avi").write_bytes(b"broken")
    with pytest.raises(VideoError, match="Cannot open calibration video"):
        detect_views(BOARD, find_calibration_media(tmp_path))
