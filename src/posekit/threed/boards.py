"""Calibration boards (checkerboard, ChArUco), their TOML description, and detection.

Board TOML, posekit's keys (``rows``/``columns`` always count squares)::

    type = "charuco"            # or "checkerboard"
    columns = 8                 # squares across
    rows = 11                   # squares down
    square_size = 24.0          # any unit; it becomes the unit of the 3D output
    marker_size = 18.75         # ChArUco only
    dictionary = "DICT_4X4_1000"  # ChArUco only (or marker_bits = 4 + dict_size = 1000)
    legacy_pattern = false      # ChArUco boards printed by OpenCV < 4.6 with an even row count

A checkerboard may give ``inner_corners = [9, 6]`` instead of rows/columns. Files written
for sleap-anipose (``board_x``, ``board_y``, ``square_length``, ``marker_length``,
``marker_bits``, ``dict_size``) and anipose's ``config.toml`` ``[calibration]`` section
(``board_type``, ``board_size``, ``board_square_side_length``, ``board_marker_length``,
``board_marker_bits``, ``board_marker_dict_number``) are read too; there, as in aniposelib,
a checkerboard's sizes count inner corners and a ChArUco board's count squares.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit.errors import CalibrationError
from posekit.threed.calibfile import load_toml

logger = logging.getLogger(__name__)

BoardKind = Literal["checkerboard", "charuco"]
_DICT_SIZES = (50, 100, 250, 1000)


@dataclass(frozen=True)
class Board:
    """A planar calibration board.

    Attributes
    ----------
    kind : {"checkerboard", "charuco"}
    columns, rows : int
        Squares across and down.
    square_size : float
        Side of a square; sets the unit of translations and 3D points.
    marker_size : float or None
        ChArUco marker side.
    dictionary : str or None
        OpenCV ArUco dictionary name, e.g. ``"DICT_4X4_1000"``.
    legacy_pattern : bool
        ChArUco layout of OpenCV < 4.6 (only differs for an even number of rows).
    """

    kind: BoardKind
    columns: int
    rows: int
    square_size: float
    marker_size: float | None = None
    dictionary: str | None = None
    legacy_pattern: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("checkerboard", "charuco"):
            raise CalibrationError(f"Board type must be 'checkerboard' or 'charuco', found "
                                   f"{self.kind!r}.")
        if self.columns < 3 or self.rows < 3:
            raise CalibrationError(f"A board needs at least 3x3 squares, found "
                                   f"{self.columns} columns x {self.rows} rows.")
        if not self.square_size > 0:
            raise CalibrationError(f"Board square_size must be > 0, found {self.square_size}.")
        if self.kind == "charuco":
            if self.marker_size is None or not 0 < self.marker_size < self.square_size:
                raise CalibrationError(
                    f"A ChArUco board needs 0 < marker_size < square_size ({self.square_size}),"
                    f" found {self.marker_size}.")
            _aruco_dictionary(self.dictionary)

    @property
    def inner_corners(self) -> tuple[int, int]:
        """Inner corners (across, down)."""
        return self.columns - 1, self.rows - 1

    @property
    def n_corners(self) -> int:
        """Number of detectable corners."""
        return (self.columns - 1) * (self.rows - 1)

    @cached_property
    def object_points(self) -> np.ndarray:
        """Corner positions on the board plane (z = 0), shape (n_corners, 3).

        Corner ``i`` is at column ``i % (columns - 1)`` and row ``i // (columns - 1)``, which
        is OpenCV's numbering for both board types.
        """
        if self.kind == "charuco":
            return np.asarray(self._cv_board.getChessboardCorners(), dtype=np.float64)
        nx, ny = self.inner_corners
        grid = np.stack(np.meshgrid(np.arange(nx), np.arange(ny)), axis=-1).reshape(-1, 2)
        pts = np.zeros((nx * ny, 3))
        pts[:, :2] = grid * self.square_size
        return pts

    @cached_property
    def _cv_board(self) -> Any:
        import cv2

        board = cv2.aruco.CharucoBoard((self.columns, self.rows), float(self.square_size),
                                       float(self.marker_size),
                                       _aruco_dictionary(self.dictionary))
        board.setLegacyPattern(bool(self.legacy_pattern))
        return board

    def draw(self, pixels_per_square: int = 100, margin: int = 0) -> np.ndarray:
        """Render the board, e.g. to print it or for tests.

        Returns
        -------
        ndarray, shape (rows * pixels_per_square + 2 * margin,
                        columns * pixels_per_square + 2 * margin), uint8
        """
        width = self.columns * pixels_per_square + 2 * margin
        height = self.rows * pixels_per_square + 2 * margin
        if self.kind == "charuco":
            return self._cv_board.generateImage((width, height), marginSize=margin)
        img = np.full((height, width), 255, np.uint8)
        for r in range(self.rows):
            for c in range(self.columns):
                if (r + c) % 2 == 0:
                    y0, x0 = margin + r * pixels_per_square, margin + c * pixels_per_square
                    img[y0:y0 + pixels_per_square, x0:x0 + pixels_per_square] = 0
        return img


@dataclass
class Detection:
    """Board corners found in one image.

    Attributes
    ----------
    ids : ndarray, shape (n,), int
        Corner numbers (rows of ``Board.object_points``).
    corners : ndarray, shape (n, 2)
        Pixel coordinates.
    """

    ids: np.ndarray
    corners: np.ndarray

    def __len__(self) -> int:
        return int(len(self.ids))


def _aruco_dictionary(name: str | None) -> Any:
    import cv2

    if not name or not hasattr(cv2.aruco, str(name)):
        raise CalibrationError(
            f"Unknown ArUco dictionary {name!r}; expected a name like 'DICT_4X4_1000' "
            "(DICT_<bits>X<bits>_<50|100|250|1000>, DICT_ARUCO_ORIGINAL, DICT_APRILTAG_36h11).")
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, str(name)))


def _dictionary_from_bits(bits: Any, size: Any, source: str) -> str:
    try:
        bits, size = int(bits), int(size)
    except (TypeError, ValueError) as err:
        raise CalibrationError(f"{source}: marker bits and dictionary size must be integers, "
                               f"found {bits!r}, {size!r}.") from err
    if bits not in (4, 5, 6, 7) or size not in _DICT_SIZES:
        raise CalibrationError(f"{source}: expected marker bits 4-7 and dictionary size in "
                               f"{_DICT_SIZES}, found {bits} bits, size {size}.")
    return f"DICT_{bits}X{bits}_{size}"


def board_from_dict(doc: dict[str, Any], source: str = "board") -> Board:
    """Build a :class:`Board` from parsed TOML (any of the accepted key sets)."""
    if isinstance(doc.get("calibration"), dict):
        doc = doc["calibration"]
    try:
        if "board_type" in doc or "board_size" in doc:
            return _board_from_anipose(doc, source)
        if "board_x" in doc:
            return _board_from_sleap_anipose(doc, source)
        if "type" in doc or "rows" in doc or "inner_corners" in doc:
            return _board_from_posekit(doc, source)
    except KeyError as err:
        raise CalibrationError(f"{source}: missing key {err.args[0]!r} in the board "
                               "description.") from err
    except (TypeError, ValueError) as err:
        if isinstance(err, CalibrationError):
            raise
        raise CalibrationError(f"{source}: malformed board description ({err}).") from err
    raise CalibrationError(
        f"{source}: no board description found (keys {sorted(doc)}); expected type, rows, "
        "columns, square_size[, marker_size, dictionary].")


def _board_from_posekit(doc: dict[str, Any], source: str) -> Board:
    kind = str(doc.get("type", "charuco" if "marker_size" in doc else "checkerboard")).lower()
    if "inner_corners" in doc:
        nx, ny = (int(v) for v in doc["inner_corners"])
        columns, rows = nx + 1, ny + 1
    else:
        columns, rows = int(doc["columns"]), int(doc["rows"])
    dictionary = doc.get("dictionary")
    if kind == "charuco" and dictionary is None and "marker_bits" in doc:
        dictionary = _dictionary_from_bits(doc["marker_bits"], doc.get("dict_size"), source)
    return Board(kind=kind, columns=columns, rows=rows,  # type: ignore[arg-type]
                 square_size=float(doc["square_size"]),
                 marker_size=None if kind != "charuco" else float(doc["marker_size"]),
                 dictionary=dictionary, legacy_pattern=bool(doc.get("legacy_pattern", False)))


def _board_from_sleap_anipose(doc: dict[str, Any], source: str) -> Board:
    x, y = int(doc["board_x"]), int(doc["board_y"])
    if "marker_length" in doc:
        return Board("charuco", x, y, float(doc["square_length"]), float(doc["marker_length"]),
                     _dictionary_from_bits(doc.get("marker_bits", 4), doc.get("dict_size", 1000),
                                           source),
                     legacy_pattern=bool(doc.get("legacy_pattern", False)))
    return Board("checkerboard", x + 1, y + 1, float(doc["square_length"]))


def _board_from_anipose(doc: dict[str, Any], source: str) -> Board:
    kind = str(doc.get("board_type", "charuco")).lower()
    x, y = (int(v) for v in doc["board_size"])
    square = float(doc["board_square_side_length"])
    if kind == "checkerboard":
        return Board("checkerboard", x + 1, y + 1, square)
    if kind != "charuco":
        raise CalibrationError(f"{source}: board_type {kind!r} is not supported; use "
                               "'charuco' or 'checkerboard'.")
    return Board("charuco", x, y, square, float(doc["board_marker_length"]),
                 _dictionary_from_bits(doc.get("board_marker_bits", 4),
                                       doc.get("board_marker_dict_number", 50), source))


def read_board(path: str | os.PathLike[str]) -> Board:
    """Read a board TOML file (posekit, sleap-anipose or anipose keys; see module doc).

    Parameters
    ----------
    path : path-like
        The TOML file.

    Returns
    -------
    Board
    """
    return board_from_dict(load_toml(path, "Board file"), source=str(Path(path)))


def board_to_dict(board: Board) -> dict[str, Any]:
    """posekit's TOML keys for ``board`` (what :func:`read_board` reads back)."""
    out: dict[str, Any] = {"type": board.kind, "columns": board.columns, "rows": board.rows,
                           "square_size": board.square_size}
    if board.kind == "charuco":
        out.update(marker_size=board.marker_size, dictionary=board.dictionary,
                   legacy_pattern=board.legacy_pattern)
    return out


# --------------------------------------------------------------------------- detection


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim != 2:
        raise CalibrationError(f"Expected a grayscale (H, W) or BGR (H, W, 3) image, found "
                               f"shape {image.shape}.")
    return image if image.dtype == np.uint8 else cv2.normalize(
        image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def _not_collinear(points: np.ndarray) -> bool:
    centered = points[:, :2] - points[:, :2].mean(axis=0)
    sv = np.linalg.svd(centered, compute_uv=False)
    return len(sv) == 2 and sv[1] > 1e-6 * max(sv[0], 1e-12)


def detect_board(board: Board, image: np.ndarray, *, min_corners: int = 6) -> Detection | None:
    """Find the board's corners in one image.

    ChArUco boards may be partly hidden or cut off: any ``min_corners`` or more corners that
    are not all on one line make a detection. A checkerboard must be seen whole.

    Parameters
    ----------
    board : Board
    image : ndarray, shape (H, W) or (H, W, 3)
        Grayscale or BGR image.
    min_corners : int
        Fewest corners to accept.

    Returns
    -------
    Detection or None
        None when the board is not found.
    """
    gray = _gray(image)
    found = _detect_charuco(board, gray) if board.kind == "charuco" \
        else _detect_checkerboard(board, gray)
    if found is None or len(found) < max(min_corners, 4):
        return None
    if not _not_collinear(board.object_points[found.ids]):
        return None
    return found


def _detect_charuco(board: Board, gray: np.ndarray) -> Detection | None:
    import cv2

    detector = cv2.aruco.CharucoDetector(board._cv_board)
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None or len(ids) == 0:
        return None
    ids = np.asarray(ids, dtype=np.int64).ravel()
    order = np.argsort(ids)
    return Detection(ids=ids[order],
                     corners=np.asarray(corners, dtype=np.float64).reshape(-1, 2)[order])


def _detect_checkerboard(board: Board, gray: np.ndarray) -> Detection | None:
    import cv2

    pattern = board.inner_corners
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
    ok, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
    if not ok:
        ok, corners = cv2.findChessboardCornersSB(gray, pattern)
        if not ok:
            return None
    else:
        spacing = _min_spacing(corners.reshape(-1, 2))
        win = int(np.clip(spacing / 4, 2, 11))
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
        corners = cv2.cornerSubPix(gray, corners.astype(np.float32), (win, win), (-1, -1),
                                   criteria)
    pts = np.asarray(corners, dtype=np.float64).reshape(-1, 2)
    pts = _canonical_checkerboard_order(board, gray, pts)
    return Detection(ids=np.arange(len(pts)), corners=pts)


def _min_spacing(pts: np.ndarray) -> float:
    steps = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    return float(np.min(steps)) if len(steps) else 10.0


def _canonical_checkerboard_order(board: Board, gray: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Reverse the corner order when needed so corner 0 is next to a dark first square.

    A checkerboard seen rotated by 180 degrees gives the same grid with the corners in
    reverse order; cameras must agree on the numbering. When the board's square count
    makes the two orientations differ in color (columns + rows odd), the square between
    corners 0, 1, nx, nx+1 is made dark in every view; otherwise the order is left as found.
    """
    if (board.columns + board.rows) % 2 == 0:
        return pts
    nx = board.inner_corners[0]
    first = _square_brightness(gray, pts[[0, 1, nx, nx + 1]])
    last = _square_brightness(gray, pts[[-1, -2, -1 - nx, -2 - nx]])
    return pts[::-1].copy() if first > last else pts


def _square_brightness(gray: np.ndarray, quad: np.ndarray) -> float:
    center = quad.mean(axis=0)
    half = max(1, int(0.15 * np.linalg.norm(quad[0] - quad[3])))
    x, y = int(round(center[0])), int(round(center[1]))
    patch = gray[max(0, y - half):y + half + 1, max(0, x - half):x + half + 1]
    return float(patch.mean()) if patch.size else 0.0
