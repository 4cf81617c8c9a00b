"""Image width and height from the file header (PNG, JPEG), without decoding the pixels."""

from __future__ import annotations

import struct
from pathlib import Path

from posekit.errors import PosekitError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers that carry the image size (not DHT, JPG, DAC)
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class ImageSizeError(PosekitError, ValueError):
    """The size of an image file cannot be read."""


def image_size(path: str | Path) -> tuple[int, int]:
    """Width and height of an image in pixels.

    PNG and JPEG headers are parsed directly; other formats are decoded with OpenCV.

    Parameters
    ----------
    path : path-like
        The image file.

    Returns
    -------
    (width, height) : tuple of int

    Raises
    ------
    ImageSizeError
        If the file is not a readable image.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(32)
        if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return _checked(width, height, path)
        if head.startswith(b"\xff\xd8"):
            handle.seek(2)
            return _checked(*_jpeg_size(handle, path), path)
    return _decoded_size(path)


def _jpeg_size(handle, path: Path) -> tuple[int, int]:
    while True:
        byte = handle.read(1)
        while byte and byte != b"\xff":
            byte = handle.read(1)
        while byte == b"\xff":
            byte = handle.read(1)
        if not byte:
            break
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            break
        length = struct.unpack(">H", length_bytes)[0]
        if marker in _SOF_MARKERS:
            data = handle.read(5)
            if len(data) < 5:
                break
            height, width = struct.unpack(">HH", data[1:5])
            return width, height
        handle.seek(length - 2, 1)
    raise ImageSizeError(f"{path} is a truncated or malformed JPEG: no frame header found.")


def _decoded_size(path: Path) -> tuple[int, int]:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageSizeError(f"{path} cannot be read as an image.")
    return _checked(int(image.shape[1]), int(image.shape[0]), path)


def _checked(width: int, height: int, path: Path) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise ImageSizeError(f"{path} declares an empty image ({width}x{height}).")
    return int(width), int(height)
