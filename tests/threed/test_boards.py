"""Board descriptions (posekit, sleap-anipose, anipose keys) and board detection."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_paths import TEST_DATA

from posekit.errors import CalibrationError, MissingFileError
from posekit.threed.boards import Board, board_from_dict, board_to_dict, detect_board, read_board

DATA = TEST_DATA / "threed"


def test_reads_sleap_anipose_board_file() -> None:
    board = read_board(DATA / "mouse" / "board.toml")
    assert board == Board("charuco", 8, 11, 24.0, 18.75, "DICT_4X4_1000")
    assert board.n_corners == 70
    assert board.object_points.shape == (70, 3)
    np.testing.assert_allclose(board.object_points[:2], [[24, 24, 0], [48, 24, 0]])


def test_posekit_and_anipose_keys(tmp_path: Path) -> None:
    path = tmp_path / "board.toml"
    path.write_text('type = "charuco"\ncolumns = 5\nrows = 7\nsquare_size = 30.0\n'
                    'marker_size = 22.5\ndictionary = "DICT_5X5_100"\n')
    board = read_board(path)
    assert board == Board("charuco", 5, 7, 30.0, 22.5, "DICT_5X5_100")
    assert board_from_dict(board_to_dict(board)) == board
    anipose = {"calibration": {"board_type": "charuco", "board_size": [10, 7],
                               "board_marker_bits": 4, "board_marker_dict_number": 50,
                               "board_marker_length": 18.75,
                               "board_square_side_length": 25}}
    assert board_from_dict(anipose) == Board("charuco", 10, 7, 25.0, 18.75, "DICT_4X4_50")
    # checkerboards: posekit counts squares, aniposelib-style keys count inner corners
    assert board_from_dict({"type": "checkerboard", "inner_corners": [9, 6],
                            "square_size": 30}).inner_corners == (9, 6)
    assert board_from_dict({"board_x": 9, "board_y": 6, "square_length": 30}
                           ).inner_corners == (9, 6)
    assert board_from_dict({"board_type": "checkerboard", "board_size": [9, 6],
                            "board_square_side_length": 30}).inner_corners == (9, 6)
    checker = board_from_dict({"type": "checkerboard", "columns": 10, "rows": 7,
                               "square_size": 30})
    assert checker.inner_corners == (9, 6)
    assert board_from_dict(board_to_dict(checker)) == checker


@pytest.mark.parametrize(("doc", "message"), [
    ({"type": "charuco", "columns": 5, "rows": 7, "square_size": 30, "marker_size": 40,
      "dictionary": "DICT_4X4_50"}, "marker_size"),
    ({"type": "charuco", "columns": 5, "rows": 7, "square_size": 30, "marker_size": 20,
      "dictionary": "DICT_9X9_50"}, "Unknown ArUco dictionary"),
    ({"type": "charuco", "columns": 5, "rows": 7, "square_size": 30}, "marker_size"),
    ({"type": "circles", "columns": 5, "rows": 7, "square_size": 30}, "Board type"),
    ({"type": "checkerboard", "columns": 2, "rows": 7, "square_size": 30}, "at least 3x3"),
    ({"type": "checkerboard", "columns": 5, "rows": 7, "square_size": -1}, "square_size"),
    ({"type": "checkerboard", "columns": 5, "square_size": 1}, "missing key 'rows'"),
    ({"board_x": 8, "board_y": 11, "square_length": 24, "marker_length": 18,
      "marker_bits": 3, "dict_size": 1000}, "marker bits 4-7"),
    ({"hello": 1}, "no board description"),
])
def test_bad_board_descriptions(doc: dict, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        board_from_dict(doc)


def test_missing_board_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="Board file"):
        read_board(tmp_path / "board.toml")


def _expected_pixels(board: Board, ids: np.ndarray, scale: float, margin: int) -> np.ndarray:
    return board.object_points[ids, :2] * scale + margin - 0.5


def test_charuco_detection_whole_and_partial() -> None:
    board = Board("charuco", 6, 8, 30.0, 22.0, "DICT_4X4_50")
    image = board.draw(60, 40)
    det = detect_board(board, image)
    assert det is not None and len(det) == board.n_corners
    np.testing.assert_allclose(det.corners, _expected_pixels(board, det.ids, 2.0, 40), atol=1)
    half = image[:, : image.shape[1] // 2].copy()  # left half only: a partial board
    part = detect_board(board, half)
    assert part is not None and 6 <= len(part) < board.n_corners
    np.testing.assert_allclose(part.corners, _expected_pixels(board, part.ids, 2.0, 40),
                               atol=1)
    assert detect_board(board, np.full((300, 300), 255, np.uint8)) is None
    assert detect_board(board, half, min_corners=100) is None


def test_checkerboard_numbering_survives_half_turn() -> None:
    board = Board("checkerboard", 10, 7, 30.0)
    image = board.draw(40, 40)
    det = detect_board(board, image)
    assert det is not None and len(det) == 54
    turned = detect_board(board, cv2.rotate(image, cv2.ROTATE_180))
    assert turned is not None
    h, w = image.shape
    np.testing.assert_allclose(turned.corners, [w - 1, h - 1] - det.corners, atol=0.5)


def test_real_images_partial_charuco_and_checkerboard() -> None:
    board = read_board(DATA / "mouse" / "board.toml")
    det = detect_board(board, cv2.imread(str(DATA / "mouse" / "side-4.jpg")))
    assert det is not None and 60 <= len(det) < 70  # a few corners hidden
    checker = Board("checkerboard", 10, 7, 30.0)
    for name in ("left01.jpg", "right01.jpg"):
        found = detect_board(checker, cv2.imread(str(DATA / "stereo" / name)))
        assert found is not None and len(found) == 54


def test_bad_image_shape() -> None:
    with pytest.raises(CalibrationError, match="image"):
        detect_board(Board("checkerboard", 5, 5, 1.0), np.zeros((2, 3, 4, 5)))
