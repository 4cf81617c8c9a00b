"""posekit.frames: choosing frames of a video to label and writing them as PNG files.

- :func:`select_frames` chooses frame indices, evenly in time (``"uniform"``) or visually
  distinct (``"kmeans"``, streamed over the video);
- :func:`write_frames` saves them as DeepLabCut-named ``img<index>.png`` files, never
  overwriting an existing one;
- :func:`extracted_frame_indices` lists the frames already extracted into a folder.

These functions take a :class:`posekit.io.video.VideoReader` and know nothing about projects.
"""

from posekit.frames.select import (
    FrameSelectionError,
    allowed_frames,
    select_frames,
    thumbnail,
)
from posekit.frames.write import (
    default_n_digits,
    extracted_frame_indices,
    frame_file_name,
    write_frames,
)

__all__ = [
    "FrameSelectionError",
    "allowed_frames",
    "default_n_digits",
    "extracted_frame_indices",
    "frame_file_name",
    "select_frames",
    "thumbnail",
    "write_frames",
]
