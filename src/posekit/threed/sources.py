"""Finding each camera's calibration images or videos, and detecting the board in them.

Two folder layouts are understood:

* one sub-folder per camera (``CALIB_DIR/<camera>/...``, searched recursively), or
* one flat folder whose file names start with the camera name (``left01.jpg``,
  ``right01.jpg``; ``top-0001.png``) or contain it as a ``-``/``_``-separated word.

Without an explicit camera list the cameras are the sub-folders (natural order: ``cam2``
before ``cam10``) or, in a flat folder, the first ``-``/``_``-separated word of the file names
that differs between files, less a trailing frame number (``left01.png`` -> ``left``,
``calib-cam2.mp4`` -> ``cam2``). Images take precedence over videos unless
``media="videos"``.

Views are matched across cameras by a frame key: for images the last number in the file
name (``left07.jpg`` and ``right07.jpg`` show the same moment), falling back to the
position in natural order when numbers repeat; for videos the frame index (per video, in
order), so videos must be synchronised.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from posekit.errors import CalibrationError, MissingFileError, VideoError
from posekit.progress import track
from posekit.threed.boards import Board, Detection, detect_board

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".wmv"}
Media = Literal["auto", "images", "videos"]
_NUM = re.compile(r"(\d+)")


def natural_key(text: str) -> list[object]:
    """Sort key that orders embedded numbers by value (``cam2`` < ``cam10``)."""
    return [int(t) if t.isdigit() else t.lower() for t in _NUM.split(str(text))]


def _media_files(folder: Path, recursive: bool) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    files = [p for p in pattern if p.is_file() and not p.name.startswith(".")
             and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(str(p.relative_to(folder))))


def _pick_media(files: list[Path], media: Media) -> list[Path]:
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    if media == "images":
        return images
    if media == "videos":
        return videos
    return images or videos


def _tokens(stem: str) -> list[str]:
    return [t for t in re.split(r"[-_ .]", stem) if t]


def _infer_flat_cameras(files: list[Path]) -> dict[Path, str]:
    """Camera name of each file of a flat folder.

    The name is the first ``-``/``_``/space-separated word that differs between files
    (``calib-cam1.mp4`` -> ``cam1``; ``top-0001.png`` -> ``top``); when that word ends the
    name, trailing digits are taken as a frame number (``left01.png`` -> ``left``) unless
    that would leave a single camera.
    """
    tokens = {f: _tokens(f.stem) or [f.stem] for f in files}
    depth = max((len(t) for t in tokens.values()), default=0)
    pos = next((p for p in range(depth)
                if len({t[min(p, len(t) - 1)] for t in tokens.values()}) > 1), 0)
    raw = {f: t[min(pos, len(t) - 1)] for f, t in tokens.items()}
    stripped = {f: (re.sub(r"\d+$", "", name) or name) if pos >= len(tokens[f]) - 1 else name
                for f, name in raw.items()}
    return stripped if len(set(stripped.values())) > 1 else raw


def _matches(stem: str, name: str) -> bool:
    return stem.startswith(name) or name in _tokens(stem)


def find_calibration_media(calib_dir: str | os.PathLike[str],
                           cameras: Sequence[str] | None = None, *,
                           media: Media = "auto") -> dict[str, list[Path]]:
    """Each camera's calibration images or videos.

    Parameters
    ----------
    calib_dir : path-like
        Folder with one sub-folder per camera, or a flat folder of named files.
    cameras : sequence of str, optional
        Camera names, in the order wanted; inferred when omitted.
    media : {"auto", "images", "videos"}
        Which files to use; ``auto`` takes images when a camera has any.

    Returns
    -------
    dict
        Camera name -> files (natural order), in camera order.
    """
    root = Path(calib_dir)
    if not root.is_dir():
        raise MissingFileError(f"Calibration folder {root} does not exist or is not a folder.")
    if media not in ("auto", "images", "videos"):
        raise CalibrationError(f"media must be 'auto', 'images' or 'videos', found {media!r}.")
    subdirs = {d.name: d for d in sorted(root.iterdir(), key=lambda p: natural_key(p.name))
               if d.is_dir() and not d.name.startswith(".") and _media_files(d, True)}
    flat = _media_files(root, False)
    owners = _infer_flat_cameras(flat) if cameras is None and not subdirs else {}
    if cameras is None:
        names = list(subdirs) or sorted(dict.fromkeys(owners.values()), key=natural_key)
    else:
        names = [str(c) for c in cameras]
        if len(set(names)) != len(names):
            raise CalibrationError(f"Camera names must be unique, found {names}.")
    found: dict[str, list[Path]] = {}
    for name in names:
        if name in subdirs:
            files = _media_files(subdirs[name], True)
        elif owners:
            files = [f for f in flat if owners[f] == name]
        else:
            longer = [n for n in names if n != name and n.startswith(name)]
            files = [f for f in flat if _matches(f.stem, name)
                     and not any(_matches(f.stem, n) for n in longer)]
        found[name] = _pick_media(files, media)
    empty = [n for n, files in found.items() if not files]
    if empty or len(names) < 2:
        raise CalibrationError(
            f"{root}: no calibration {'media' if media == 'auto' else media} found for "
            f"camera(s) {empty or names} (cameras: {names}; sub-folders: {list(subdirs)}; "
            f"{len(flat)} files at the top). Put each camera's images or videos in "
            "CALIB_DIR/<camera>/ or name the files <camera>..., and name at least 2 cameras.")
    return found


@dataclass
class BoardViews:
    """Board detections of all cameras, matched by frame key.

    Attributes
    ----------
    cameras : list of str
        Camera names, in order.
    image_sizes : dict
        Camera -> (width, height).
    detections : dict
        Camera -> {frame key -> Detection}; only frames where the board was found.
    sources : dict
        Camera -> {frame key -> "file" or "video#frame"}.
    n_frames : dict
        Camera -> number of images or sampled video frames searched.
    """

    cameras: list[str]
    image_sizes: dict[str, tuple[int, int]]
    detections: dict[str, dict[Hashable, Detection]]
    sources: dict[str, dict[Hashable, str]] = field(default_factory=dict)
    n_frames: dict[str, int] = field(default_factory=dict)

    def keys(self) -> list[Hashable]:
        """All frame keys seen by any camera, sorted."""
        keys = {k for det in self.detections.values() for k in det}
        return sorted(keys, key=lambda k: natural_key(str(k)))

    def as_points(self, n_corners: int) -> tuple[list[Hashable], dict[str, np.ndarray]]:
        """Corners as arrays: camera -> (n_keys, n_corners, 2), NaN where unseen."""
        keys = self.keys()
        out = {}
        for cam in self.cameras:
            arr = np.full((len(keys), n_corners, 2), np.nan)
            for i, key in enumerate(keys):
                det = self.detections[cam].get(key)
                if det is not None:
                    arr[i, det.ids] = det.corners
            out[cam] = arr
        return keys, out


def _image_keys(media: dict[str, list[Path]]) -> dict[str, list[Hashable]]:
    """Frame key of every image: last number in the name, else position."""
    by_number: dict[str, list[Hashable]] = {}
    for cam, files in media.items():
        nums = [_NUM.findall(f.stem) for f in files]
        keys = [int(n[-1]) if n else None for n in nums]
        if None in keys or len(set(keys)) != len(keys):
            break
        by_number[cam] = keys
    else:
        return by_number
    counts = {cam: len(files) for cam, files in media.items()}
    if len(set(counts.values())) != 1:
        raise CalibrationError(
            f"Cameras have different numbers of calibration images {counts} and the file "
            "names carry no unique frame numbers to match them; give every image a frame "
            "number (e.g. cam1-0007.png) or use the same images for every camera.")
    return {cam: list(range(len(files))) for cam, files in media.items()}


def _read_image(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise CalibrationError(f"Cannot read image {path}; is it a valid image file?")
    return image


def _detect_images(board: Board, cam: str, files: list[Path], keys: list[Hashable],
                   min_corners: int, views: BoardViews) -> None:
    pairs = list(zip(files, keys, strict=True))
    for path, key in track(pairs, description=f"board in {cam} images"):
        image = _read_image(path)
        _store_size(views, cam, (image.shape[1], image.shape[0]), str(path))
        views.n_frames[cam] = views.n_frames.get(cam, 0) + 1
        det = detect_board(board, image, min_corners=min_corners)
        if det is not None:
            views.detections[cam][key] = det
            views.sources[cam][key] = str(path)


def _store_size(views: BoardViews, cam: str, size: tuple[int, int], source: str) -> None:
    old = views.image_sizes.setdefault(cam, size)
    if old != size:
        raise CalibrationError(f"Camera {cam!r}: {source} is {size[0]}x{size[1]} but earlier "
                               f"frames are {old[0]}x{old[1]}; one camera, one image size.")


def _frame_count(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"Cannot open calibration video {path}; is it a valid video file?")
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        cap.release()


def _sample_frames(videos: dict[str, list[Path]], n_samples: int) -> list[set[int] | None]:
    """Frames to search in the k-th video of every camera (the same for all cameras).

    Frames are spread evenly over the shortest camera's video so synchronised cameras are
    searched at the same moments; ``None`` (unknown length) means every 10th frame.
    """
    n_videos = max((len(v) for v in videos.values()), default=0)
    wanted: list[set[int] | None] = []
    for k in range(n_videos):
        counts = {cam: _frame_count(v[k]) for cam, v in videos.items() if len(v) > k}
        if len(set(counts.values())) > 1:
            logger.warning("calibration videos #%d have different frame counts %s; frames "
                           "are matched by index, so check they are synchronised", k, counts)
        shortest = min(counts.values())
        wanted.append(None if shortest <= 0 else set(
            np.unique(np.linspace(0, shortest - 1, n_samples).round().astype(int)).tolist()))
    return wanted


def _detect_video(board: Board, cam: str, index: int, path: Path, wanted: set[int] | None,
                  min_corners: int, views: BoardViews) -> None:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"Cannot open calibration video {path} (camera {cam!r}).")
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        last = max(wanted) if wanted else None
        frames = range(last + 1) if last is not None else itertools.count()
        for frame in track(frames, total=None if last is None else last + 1,
                           description=f"board in {cam} video"):
            if not cap.grab():
                break
            if (frame % 10 != 0) if wanted is None else (frame not in wanted):
                continue
            ok, image = cap.retrieve()
            if not ok:
                continue
            _store_size(views, cam, (image.shape[1], image.shape[0]), str(path))
            views.n_frames[cam] = views.n_frames.get(cam, 0) + 1
            det = detect_board(board, image, min_corners=min_corners)
            if det is not None:
                views.detections[cam][(index, frame)] = det
                views.sources[cam][(index, frame)] = f"{path}#{frame}"
        logger.debug("camera %s: video %s has %d frames", cam, path, total)
    finally:
        cap.release()


def detect_views(board: Board, media: dict[str, list[Path]], *, min_corners: int = 6,
                 video_frames: int = 200) -> BoardViews:
    """Detect the board in every camera's images or videos.

    Parameters
    ----------
    board : Board
    media : dict
        Camera -> image or video files (from :func:`find_calibration_media`).
    min_corners : int
        Fewest corners per detection.
    video_frames : int
        Frames sampled evenly from each video.

    Returns
    -------
    BoardViews
    """
    cams = list(media)
    views = BoardViews(cams, {}, {c: {} for c in cams}, {c: {} for c in cams}, {})
    images = {c: [f for f in fs if f.suffix.lower() in IMAGE_SUFFIXES] for c, fs in media.items()}
    keys = _image_keys({c: fs for c, fs in images.items() if fs}) if any(images.values()) else {}
    videos = {c: [f for f in fs if f.suffix.lower() in VIDEO_SUFFIXES] for c, fs in media.items()}
    wanted = _sample_frames(videos, video_frames)
    for cam in media:
        if images[cam]:
            _detect_images(board, cam, images[cam], keys[cam], min_corners, views)
        for index, video in enumerate(videos[cam]):
            _detect_video(board, cam, index, video, wanted[index], min_corners, views)
        logger.info("camera %s: board found in %d of %d frames", cam,
                    len(views.detections[cam]), views.n_frames.get(cam, 0))
    return views
