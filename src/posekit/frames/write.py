"""Writing chosen frames as PNG files named the DeepLabCut way, never overwriting one.

A frame with index ``i`` is stored as ``img{i:0{n_digits}d}.png`` (``img0042.png`` for a
video of 1000 to 9999 frames), the RGB frame saved as an ordinary colour PNG. A file that
already exists is kept as it is: it may be a frame someone has labelled.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from posekit.frames.select import FrameSelectionError
from posekit.io.atomic import write_atomic
from posekit.io.video import VideoReader
from posekit.progress import track

logger = logging.getLogger(__name__)

_FRAME_NAME = re.compile(r"^img(\d+)\.png$")


def frame_file_name(index: int, n_digits: int) -> str:
    """DeepLabCut's name of frame ``index``: ``img`` + zero-padded index + ``.png``."""
    return f"img{index:0{n_digits}d}.png"


def default_n_digits(n_frames: int) -> int:
    """Digits DeepLabCut pads frame numbers to: ``ceil(log10(n_frames))`` (2330 -> 4, 1000 -> 3).

    Frame indices run from 0 to ``n_frames - 1``, so that many digits always suffice.
    """
    return max(1, math.ceil(math.log10(n_frames))) if n_frames > 1 else 1


def write_frames(reader: VideoReader, indices: Iterable[int], out_dir: str | os.PathLike[str],
                 *, n_digits: int | None = None) -> list[Path]:
    """Save frames ``indices`` of ``reader`` as PNG files in ``out_dir``.

    Parameters
    ----------
    reader : VideoReader
        The open video.
    indices : iterable of int
        Frame indices (any order; repeats are written once).
    out_dir : path-like
        Folder to write into; created when missing.
    n_digits : int, optional
        Zero-padding of the frame number in file names; default
        ``len(str(reader.n_frames))``, as DeepLabCut does.

    Returns
    -------
    list of Path
        The files written, in increasing frame order. Frames whose file already exists are
        skipped (and logged), never overwritten, and are not in this list.

    Raises
    ------
    VideoError
        An index is out of range or a frame does not decode.
    FrameSelectionError
        ``out_dir`` is a file, or ``n_digits`` is too small for the indices.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FrameSelectionError(f"Cannot write frames into {out_dir}: it is a file; expected "
                                  f"a folder (it is created when missing).")
    wanted = sorted({reader.check_index(i) for i in indices})
    digits = default_n_digits(reader.n_frames) if n_digits is None else n_digits
    if wanted and (not isinstance(digits, int) or digits < len(str(wanted[-1]))):
        raise FrameSelectionError(f"n_digits={digits!r} is too small for frame {wanted[-1]}; "
                                  f"expected an integer >= {len(str(wanted[-1]))}.")
    targets = {i: out_dir / frame_file_name(i, digits) for i in wanted}
    todo = [i for i in wanted if not _keep_existing(targets[i])]
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    frames = reader.iter_many(todo)
    for index, frame in track(frames, total=len(todo), description=f"Writing {out_dir.name}"):
        if _keep_existing(targets[index]):  # appeared while we were decoding
            continue
        written.append(_write_png(targets[index], frame))
    logger.info("Wrote %d frames of %s to %s", len(written), reader.path, out_dir)
    return written


def extracted_frame_indices(folder: str | os.PathLike[str]) -> set[int]:
    """Frame indices of the ``img<digits>.png`` files in ``folder`` (empty if it is missing).

    Other files (label files, differently named images) are ignored.

    Raises
    ------
    FrameSelectionError
        ``folder`` exists but is not a folder.
    """
    folder = Path(folder)
    if not folder.exists():
        return set()
    if not folder.is_dir():
        raise FrameSelectionError(f"{folder} is a file; expected the folder of extracted "
                                  f"frames (e.g. labeled-data/<video name>/).")
    found = set()
    for entry in folder.iterdir():
        match = _FRAME_NAME.match(entry.name)
        if match and entry.is_file():
            found.add(int(match.group(1)))
    return found


def _keep_existing(path: Path) -> bool:
    if path.exists():
        logger.info("Keeping existing %s (frames are never overwritten)", path)
        return True
    return False


def _write_png(target: Path, frame: np.ndarray) -> Path:
    """Atomically write the RGB ``frame`` (H, W, 3) uint8 as a PNG."""
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)

    def writer(tmp: Path) -> None:
        if not cv2.imwrite(str(tmp), bgr):
            raise OSError(f"OpenCV could not write the PNG {target}; check the disk and "
                          f"permissions of {target.parent}.")

    return write_atomic(target, writer)
