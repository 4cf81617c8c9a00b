"""Training targets for a bottom-up multi-animal network: score maps, offsets, part affinity fields.

The grid is the one of :mod:`posekit.data.targets` (cell ``(i, j)`` centered at pixel
``x = j*s + (s - 1)/2``, ``y = i*s + (s - 1)/2`` for output stride ``s``), and so are the
score-map and offset shapes, with several animals per image:

- score map of bodypart k: the single-animal map of the *nearest* individual's keypoint k at
  every cell, i.e. the maximum over individuals (a peak at every animal's keypoint);
- location refinement of bodypart k at a cell: the offset to the nearest individual's
  keypoint k, defined within ``locref_radius`` of it (so each peak points at its own animal);
- part affinity field of edge ``e = (a, b)`` (2 channels, x then y): on every cell whose
  center lies within ``paf_half_width`` pixels of the segment from an animal's keypoint a to
  its keypoint b (the segment extended by ``paf_half_width`` at both ends, so that short limbs
  still cover a cell), the unit vector from a to b; the average of those vectors where limbs
  of several animals overlap; zero elsewhere. This is the convention of
  :class:`posekit.multi.scoring.PafScorer`.

Visibility is :func:`posekit.data.targets.visible_mask` (finite and inside the image).

Weights
    A bodypart visible on no animal has an all-zero score map with weight ``absent_weight``
    (as single-animal); otherwise weight 1. A visible keypoint always wins over an invisible
    one: where an animal's keypoint is not labeled (occluded or cut off by the crop), its
    score map still says "not here", as DeepLabCut does.
    Part affinity fields have per-cell weights ``paf_weights (2E, h, w)``: 1 where the field
    is known, 0 where it is not: around the visible end of a limb whose other end is not
    visible (the limb could run anywhere within its length of that end: a disk of radius
    "longest fully visible limb of that edge in this image + paf_half_width"; when the image
    has no fully visible limb of that edge, the whole channel pair is ignored).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from pydantic import Field, model_validator

from posekit.data.targets import (
    TargetConfig,
    _check_image_size,
    cell_centers,
    output_shape,
    visible_mask,
)
from posekit.errors import ModelError

_HALF_DIAGONAL = math.sqrt(2.0) / 2.0
_MIN_LIMB = 1e-6


class MultiTargetConfig(TargetConfig):
    """:class:`~posekit.data.targets.TargetConfig` plus the width of the part affinity fields.

    Attributes
    ----------
    paf_half_width : float or None
        Cells within this many pixels of a limb carry its direction; None means ``stride``.
        Must reach the nearest cell center of any point (``stride * sqrt(2) / 2``).
    """

    paf_half_width: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _width_reaches_nearest_cell(self) -> MultiTargetConfig:
        reach = self.stride * _HALF_DIAGONAL
        if self.paf_half_width is not None and self.paf_half_width < reach:
            raise ValueError(f"paf_half_width={self.paf_half_width} px is smaller than the "
                             f"farthest a point can be from its nearest cell center at stride "
                             f"{self.stride} ({reach:.2f} px); use at least that")
        return self

    @property
    def paf_half_width_px(self) -> float:
        """Half width of the limb band in pixels (``paf_half_width`` or ``stride``)."""
        return float(self.stride if self.paf_half_width is None else self.paf_half_width)


class MultiPoseTargets(NamedTuple):
    """Targets of one image (shapes below) or a batch (a leading ``B`` axis on each).

    Attributes
    ----------
    heatmaps : (K, h, w) float32
        Score-map targets in [0, 1], maximum over individuals.
    heatmap_weights : (K,) float32
        1 if bodypart k is visible on some individual, else ``absent_weight``.
    locref : (2K, h, w) float32
        Offsets to the nearest individual's keypoint, ``x_0, y_0, x_1, y_1, ...``, in
        ``locref_stdev`` units.
    locref_weights : (2K, h, w) float32
        1 where an offset target is defined.
    paf : (2E, h, w) float32
        Part affinity fields, ``x_0, y_0, x_1, y_1, ...`` per edge (unit vectors a -> b).
    paf_weights : (2E, h, w) float32
        1 where the field is known, 0 where it is not (see the module docstring).
    """

    heatmaps: np.ndarray
    heatmap_weights: np.ndarray
    locref: np.ndarray
    locref_weights: np.ndarray
    paf: np.ndarray
    paf_weights: np.ndarray


def check_edges(edges: Sequence[Sequence[int]], n_bodyparts: int) -> list[tuple[int, int]]:
    """Edges as (a, b) bodypart index pairs, checked to be in range and a != b.

    Raises
    ------
    ModelError
        On anything else.
    """
    out = []
    for edge in edges:
        try:
            a, b = (int(v) for v in edge)
        except (TypeError, ValueError):
            raise ModelError(f"each edge must be a pair of bodypart indices, found {edge!r}."
                             ) from None
        if not (0 <= a < n_bodyparts and 0 <= b < n_bodyparts) or a == b:
            raise ModelError(f"edge {tuple(edge)} must join two different bodyparts among "
                             f"0..{n_bodyparts - 1}.")
        out.append((a, b))
    return out


def encode_multi_targets(keypoints: np.ndarray, image_size: tuple[int, int],
                         config: MultiTargetConfig, edges: Sequence[Sequence[int]]
                         ) -> MultiPoseTargets:
    """Encode one image's animals as score maps, offsets and part affinity fields.

    Parameters
    ----------
    keypoints : (n_individuals, K, 2) float
        x, y in pixels (origin at the top-left pixel's center) of each individual's
        bodyparts; NaN where not visible. ``n_individuals`` may be 0 (no animal).
    image_size : (H, W)
        Size of the image the network sees.
    config : MultiTargetConfig
        Target shapes, the model's stride and offset scale, the limb width.
    edges : sequence of (int, int)
        Bodypart index pairs ``(a, b)``: one part affinity field per edge, pointing a -> b.

    Returns
    -------
    MultiPoseTargets
        ``heatmaps (K, h, w)``, ``heatmap_weights (K,)``, ``locref (2K, h, w)``,
        ``locref_weights (2K, h, w)``, ``paf (2E, h, w)``, ``paf_weights (2E, h, w)`` with
        ``(h, w) = output_shape(image_size, stride)``.

    Raises
    ------
    ModelError
        If ``keypoints`` is not ``(n_individuals, K, 2)``, ``image_size`` not two positive
        integers, ``config`` not a MultiTargetConfig or an edge out of range.
    """
    points = _check_points(keypoints)
    height, width = _check_image_size(image_size)
    if not isinstance(config, MultiTargetConfig):
        raise ModelError(f"config must be a MultiTargetConfig, got {type(config).__name__}; "
                         "make one with MultiPoseModel.target_config().")
    n_parts = points.shape[1]
    edge_list = check_edges(edges, n_parts)
    rows, cols = output_shape((height, width), config.stride)
    cx = cell_centers(cols, config.stride)
    cy = cell_centers(rows, config.stride)
    visible = visible_mask(points, (height, width))  # (N, K)
    heatmaps, heat_w, locref, locref_w = _score_maps(points, visible, cx, cy, config)
    paf, paf_w = _pafs(points, visible, edge_list, cx, cy, config.paf_half_width_px)
    return MultiPoseTargets(heatmaps, heat_w, locref, locref_w, paf, paf_w)


def _score_maps(points: np.ndarray, visible: np.ndarray, cx: np.ndarray, cy: np.ndarray,
                config: MultiTargetConfig) -> tuple[np.ndarray, ...]:
    n_ind, n_parts = visible.shape
    rows, cols = len(cy), len(cx)
    safe = np.where(visible[..., None], points, 0.0)
    dx = safe[..., 0, None] - cx  # (N, K, w)
    dy = safe[..., 1, None] - cy  # (N, K, h)
    dist2 = dy[..., :, None] ** 2 + dx[..., None, :] ** 2  # (N, K, h, w)
    dist2 = np.where(visible[..., None, None], dist2, np.inf)
    if n_ind == 0:
        dist2 = np.full((1, n_parts, rows, cols), np.inf)
        dx, dy = np.zeros((1, n_parts, cols)), np.zeros((1, n_parts, rows))
    nearest = np.argmin(dist2, axis=0)  # (K, h, w)
    best = np.take_along_axis(dist2, nearest[None], axis=0)[0]
    if config.kind == "gaussian":
        heatmaps = np.exp(-best / (2.0 * config.sigma_px ** 2))
    else:
        heatmaps = (best <= config.disk_radius ** 2).astype(np.float64)
    near = best <= config.locref_radius ** 2  # False where no individual is visible (inf)
    off_x = np.take_along_axis(np.broadcast_to(dx[..., None, :], dist2.shape), nearest[None],
                               axis=0)[0]
    off_y = np.take_along_axis(np.broadcast_to(dy[..., :, None], dist2.shape), nearest[None],
                               axis=0)[0]
    offsets = np.stack([off_x, off_y], axis=1) / config.locref_stdev * near[:, None]
    any_visible = visible.any(axis=0) if n_ind else np.zeros(n_parts, dtype=bool)
    return (heatmaps.astype(np.float32),
            np.where(any_visible, 1.0, config.absent_weight).astype(np.float32),
            offsets.reshape(2 * n_parts, rows, cols).astype(np.float32),
            np.repeat(near, 2, axis=0).astype(np.float32))


def _pafs(points: np.ndarray, visible: np.ndarray, edges: list[tuple[int, int]],
          cx: np.ndarray, cy: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = len(cy), len(cx)
    gx, gy = np.meshgrid(cx, cy)  # (h, w) each
    paf = np.zeros((len(edges), 2, rows, cols))
    weights = np.ones((len(edges), 2, rows, cols))
    for e, (a, b) in enumerate(edges):
        total = np.zeros((2, rows, cols))
        count = np.zeros((rows, cols))
        lengths, half_known = [], []
        for n in range(points.shape[0]):
            if visible[n, a] and visible[n, b]:
                start, end = points[n, a], points[n, b]
                length = float(np.hypot(*(end - start)))
                lengths.append(length)
                if length < _MIN_LIMB:
                    continue  # both ends on one spot: no direction to teach
                unit = (end - start) / length
                rx, ry = gx - start[0], gy - start[1]
                along = rx * unit[0] + ry * unit[1]
                across = np.abs(rx * unit[1] - ry * unit[0])
                band = (along >= -half_width) & (along <= length + half_width) \
                    & (across <= half_width)
                total[:, band] += unit[:, None]
                count[band] += 1
            elif visible[n, a] or visible[n, b]:
                half_known.append(points[n, a] if visible[n, a] else points[n, b])
        paf[e] = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        if half_known:
            if not lengths:
                weights[e] = 0.0
                continue
            radius = max(lengths) + half_width
            for x, y in half_known:
                weights[e][:, (gx - x) ** 2 + (gy - y) ** 2 <= radius ** 2] = 0.0
    return (paf.reshape(2 * len(edges), rows, cols).astype(np.float32),
            weights.reshape(2 * len(edges), rows, cols).astype(np.float32))


def _check_points(keypoints: np.ndarray) -> np.ndarray:
    try:
        points = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"keypoints must be a numeric (n_individuals, K, 2) array: {exc}"
                         ) from None
    if points.ndim != 3 or points.shape[-1] != 2 or points.shape[1] < 1:
        raise ModelError(f"keypoints must have shape (n_individuals, K, 2) (x, y per "
                         f"individual and bodypart, NaN if not visible), got {points.shape}.")
    return points


class MultiTargetEncoder:
    """Target encoder for :class:`posekit.data.dataset.PoseDataset`:
    ``(keypoints (n_individuals, K, 2), (h, w)) -> MultiPoseTargets``.

    Parameters
    ----------
    config : MultiTargetConfig
    edges : sequence of (int, int)
        Bodypart index pairs, one field each.
    """

    def __init__(self, config: MultiTargetConfig, edges: Sequence[Sequence[int]]) -> None:
        self.config = config
        self.edges = [tuple(e) for e in edges]

    def __call__(self, keypoints: np.ndarray, size: tuple[int, int]) -> MultiPoseTargets:
        return encode_multi_targets(keypoints, size, self.config, self.edges)
