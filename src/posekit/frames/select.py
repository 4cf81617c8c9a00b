"""Choosing which frames of a video to label: evenly in time, or visually distinct (k-means).

Both algorithms work on a :class:`~posekit.io.video.VideoReader` and return frame indices;
they know nothing about projects. Frames are chosen within ``[start * N, stop * N)`` where
``N = len(reader)``, never from ``exclude`` (frames already extracted).

k-means, streamed
    At most ``max_candidates`` candidate frames are taken evenly over the allowed frames and
    decoded in increasing order (the reader decodes forward through dense stretches and seeks
    across wide gaps). Each candidate is reduced at once to a 48 x 64 (rows x columns)
    grayscale thumbnail, a vector of 3072 values in [0, 1]; only these vectors are kept
    (1000 candidates: 12 MB), never the frames, so memory does not depend on the length of
    the video. scikit-learn's ``MiniBatchKMeans`` groups the vectors into ``n`` clusters, and
    from each cluster the candidate nearest its centre is chosen, so frames of visually
    distinct postures are picked. The result depends only on the video, the options and
    ``seed``.

``N`` is the number of frames that really decode: :meth:`VideoReader.verify_length` is called
first, so a truncated file (whose container announces more frames than it holds) yields
frames that can be read, and the reader logs a warning naming the real count.

Asking for more frames than are available (after ``start``/``stop`` and ``exclude``) raises
:class:`FrameSelectionError`; nothing is silently dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from typing import Literal

import cv2
import numpy as np

from posekit.errors import PosekitError
from posekit.io.video import VideoReader
from posekit.progress import track

logger = logging.getLogger(__name__)

THUMBNAIL_SHAPE = (48, 64)  # (rows, columns) of the grayscale vectors k-means clusters
ALGORITHMS = ("uniform", "kmeans")


class FrameSelectionError(PosekitError, ValueError):
    """Frames cannot be chosen as asked (bad options, or fewer frames than requested)."""


def select_frames(reader: VideoReader, n: int, *,
                  algo: Literal["uniform", "kmeans"] = "kmeans", start: float = 0.0,
                  stop: float = 1.0, seed: int = 0, exclude: Collection[int] = frozenset(),
                  max_candidates: int = 1000) -> list[int]:
    """Choose ``n`` frames of ``reader`` to label.

    Parameters
    ----------
    reader : VideoReader
        The open video.
    n : int
        Number of frames to choose, at least 1.
    algo : {"uniform", "kmeans"}
        ``"uniform"``: evenly spaced in time (the centre of each of ``n`` equal stretches of
        the allowed frames; ``seed`` is unused). ``"kmeans"``: visually distinct frames (see
        the module docstring).
    start, stop : float
        Fractions of the video, ``0 <= start < stop <= 1``: frames ``i`` with
        ``start * N <= i < stop * N`` are allowed (``N = len(reader)``).
    seed : int
        Seed of the k-means clustering; the same seed gives the same frames.
    exclude : collection of int
        Frame indices never to choose (e.g. those already extracted).
    max_candidates : int
        k-means only: most frames decoded and clustered (at least ``n``).

    Returns
    -------
    list of int
        ``n`` distinct frame indices, sorted.

    Raises
    ------
    FrameSelectionError
        Invalid ``n``, ``algo``, ``start``/``stop`` or ``max_candidates``, or fewer than ``n``
        allowed frames.
    """
    _check_options(reader, n, algo, start, stop, max_candidates)
    reader.verify_length()  # a truncated file: choose among the frames that really decode
    allowed = allowed_frames(len(reader), start=start, stop=stop, exclude=exclude)
    if len(allowed) < n:
        raise FrameSelectionError(
            f"Cannot choose {n} frames from {reader.path}: between start={start} and stop="
            f"{stop} of its {len(reader)} frames, {len(allowed)} are available "
            f"({len(exclude)} excluded as already extracted). Ask for at most {len(allowed)} "
            f"frames or widen start/stop.")
    if algo == "uniform":
        chosen = _uniform(allowed, n)
    else:
        chosen = _kmeans(reader, allowed, n, seed=seed, max_candidates=max_candidates)
    logger.info("Chose %d frames of %s with %s: %s", n, reader.path, algo, chosen)
    return chosen


def allowed_frames(n_frames: int, *, start: float = 0.0, stop: float = 1.0,
                   exclude: Collection[int] = frozenset()) -> np.ndarray:
    """Frame indices ``i`` with ``start * n_frames <= i < stop * n_frames``, not in ``exclude``.

    Returns
    -------
    ndarray
        (n_allowed,) int64, increasing.
    """
    first = math.ceil(start * n_frames - 1e-9)
    end = math.ceil(stop * n_frames - 1e-9)
    frames = np.arange(max(first, 0), min(end, n_frames), dtype=np.int64)
    if len(exclude):
        frames = frames[~np.isin(frames, np.fromiter(exclude, dtype=np.int64))]
    return frames


def _check_options(reader: VideoReader, n: object, algo: object, start: object, stop: object,
                   max_candidates: object) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise FrameSelectionError(f"The number of frames to choose must be an integer >= 1; "
                                  f"got {n!r}.")
    if algo not in ALGORITHMS:
        raise FrameSelectionError(f"Unknown frame selection algorithm {algo!r}; expected one "
                                  f"of {', '.join(ALGORITHMS)}.")
    for name, value in (("start", start), ("stop", stop)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 0.0 <= value <= 1.0:
            raise FrameSelectionError(f"{name} must be a fraction of the video between 0 and "
                                      f"1; got {value!r}.")
    if start >= stop:  # type: ignore[operator]
        raise FrameSelectionError(f"start ({start}) must be smaller than stop ({stop}); they "
                                  f"are fractions of {reader.path}'s length.")
    if algo == "kmeans" and (not isinstance(max_candidates, (int, np.integer))
                             or max_candidates < n):  # type: ignore[operator]
        raise FrameSelectionError(f"max_candidates must be an integer >= n ({n}); got "
                                  f"{max_candidates!r}.")


def _uniform(allowed: np.ndarray, n: int) -> list[int]:
    """Centre of each of ``n`` equal stretches of ``allowed`` (distinct when n <= len)."""
    positions = np.floor((np.arange(n) + 0.5) * len(allowed) / n).astype(np.int64)
    return [int(i) for i in allowed[positions]]


def evenly(allowed: np.ndarray, count: int) -> np.ndarray:
    """``count`` entries of ``allowed`` spread evenly, first and last included (all of them
    when there are no more than ``count``)."""
    if len(allowed) <= count:
        return allowed
    positions = np.unique(np.linspace(0, len(allowed) - 1, count).round().astype(np.int64))
    return allowed[positions]


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """Reduce an RGB frame to the vector k-means clusters.

    Parameters
    ----------
    frame : (H, W, 3) uint8
        An RGB frame.

    Returns
    -------
    ndarray
        (48 * 64,) float32 in [0, 1]: the frame in grayscale, resized (area averaging) to
        48 rows x 64 columns, flattened row by row.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    rows, cols = THUMBNAIL_SHAPE
    small = cv2.resize(gray, (cols, rows), interpolation=cv2.INTER_AREA)
    return small.reshape(-1).astype(np.float32) / 255.0


def _kmeans(reader: VideoReader, allowed: np.ndarray, n: int, *, seed: int,
            max_candidates: int) -> list[int]:
    candidates = evenly(allowed, max_candidates)
    if len(candidates) == n:
        return [int(i) for i in candidates]
    features = np.empty((len(candidates), THUMBNAIL_SHAPE[0] * THUMBNAIL_SHAPE[1]), np.float32)
    frames = reader.iter_many(candidates.tolist())
    for row, (_, frame) in enumerate(track(frames, total=len(candidates),
                                           description=f"Reading {reader.path.name}")):
        features[row] = thumbnail(frame)
    return [int(candidates[i]) for i in cluster_representatives(features, n, seed=seed)]


def cluster_representatives(features: np.ndarray, n: int, *, seed: int) -> list[int]:
    """Cluster ``features`` (n_candidates, n_values) into ``n`` groups; one row per group.

    Returns the rows nearest each cluster centre, sorted and distinct. A cluster left without
    members takes the nearest row not yet chosen.
    """
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    model = MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3,
                            batch_size=min(1024, len(features)))
    # The problem is small (<= max_candidates x 3072): BLAS/OpenMP threads only contend
    # (measured 20x slower with 2 threads on a busy 2-core machine than with one).
    with threadpool_limits(limits=1):
        labels = model.fit_predict(features)
        distances = model.transform(features)  # (n_candidates, n)
    chosen: list[int] = []
    empty: list[int] = []
    for cluster in range(n):
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            empty.append(cluster)
            continue
        chosen.append(int(members[np.argmin(distances[members, cluster])]))
    for cluster in empty:
        order = np.argsort(distances[:, cluster], kind="stable")
        chosen.append(int(next(i for i in order if i not in chosen)))
    return sorted(chosen)
