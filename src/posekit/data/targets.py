"""Training targets for the pose network: score maps and location-refinement offsets.

The grid convention, shared with :mod:`posekit.predict.decode` through :func:`cell_centers`:
coordinates are pixels with the origin at the center of the top-left pixel (x right, y
down), so an image of width W spans x in [-0.5, W - 0.5]. With output stride ``s``, output
cell ``(row i, column j)`` covers input pixels ``j*s .. j*s + s - 1`` and its center is at
``x = j*s + (s - 1) / 2``, ``y = i*s + (s - 1) / 2``. The output has
``ceil(H / s) x ceil(W / s)`` cells (:func:`output_shape`).

For a visible keypoint ``(x, y)`` and each cell with center ``(cx, cy)`` at distance ``d``:

- score map: ``exp(-d^2 / (2 sigma^2))`` (``kind="gaussian"``, the default) or
  ``1 if d <= disk_radius else 0`` (``kind="disk"``, DeepLabCut's choice);
- location refinement: ``((x - cx) / locref_stdev, (y - cy) / locref_stdev)`` on cells with
  ``d <= locref_radius`` (weight 1 there, 0 elsewhere).

A keypoint is visible when both coordinates are finite and inside the image
(``-0.5 <= x <= W - 0.5``, same for y); otherwise (NaN from labeling, or pushed out of the
frame by augmentation) its score map is all zeros with weight ``absent_weight`` (1: train
it as "not here", like DeepLabCut; 0: ignore it) and its offsets have weight 0.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from posekit.errors import ModelError

_HALF_DIAGONAL = math.sqrt(2.0) / 2.0


class TargetConfig(BaseModel):
    """How keypoints become training targets (strict: unknown keys are rejected).

    Usually made by ``PoseModel.target_config(...)``, which fills ``stride`` and
    ``locref_stdev`` from the model.

    Attributes
    ----------
    stride : int
        The model's output stride.
    locref_stdev : float
        Pixels per unit of the offset targets (the model's ``locref_stdev``).
    kind : {"gaussian", "disk"}
        Shape of the score-map target.
    sigma : float or None
        Standard deviation of the Gaussian, in pixels; None means ``stride`` pixels.
    disk_radius : float
        Radius of the disk target, in pixels.
    locref_radius : float
        Cells whose centers are within this many pixels of a keypoint get offset targets.
    absent_weight : float
        Weight of the (all-zero) score map of a keypoint that is not visible, in [0, 1].

    Both radii must reach the farthest a keypoint can be from its nearest cell center
    (``stride * sqrt(2) / 2``), so the peak cell always carries a target.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stride: int = Field(default=8, ge=1, le=64)
    locref_stdev: float = Field(default=7.2801, gt=0.0)
    kind: Literal["gaussian", "disk"] = "gaussian"
    sigma: float | None = Field(default=None, gt=0.0)
    disk_radius: float = Field(default=17.0, gt=0.0)
    locref_radius: float = Field(default=17.0, gt=0.0)
    absent_weight: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _radii_reach_nearest_cell(self) -> TargetConfig:
        reach = self.stride * _HALF_DIAGONAL
        for name in ("locref_radius", "disk_radius"):
            if getattr(self, name) < reach:
                raise ValueError(
                    f"{name}={getattr(self, name)} px is smaller than the farthest a keypoint "
                    f"can be from its nearest cell center at stride {self.stride} "
                    f"({reach:.2f} px); use at least that")
        return self

    @property
    def sigma_px(self) -> float:
        """The Gaussian's standard deviation in pixels (``sigma`` or ``stride``)."""
        return float(self.stride if self.sigma is None else self.sigma)


class PoseTargets(NamedTuple):
    """Targets for one image (shapes below) or a batch (a leading ``B`` axis on each).

    A NamedTuple, so ``torch.utils.data.default_collate`` stacks a list of them into one
    whose fields are tensors.

    Attributes
    ----------
    heatmaps : (K, h, w) float32
        Score-map targets in [0, 1].
    heatmap_weights : (K,) float32
        Weight of each bodypart's score map: 1 if visible, ``absent_weight`` if not.
    locref : (2K, h, w) float32
        Offset targets, channels ``x_0, y_0, x_1, y_1, ...``, in ``locref_stdev`` units.
    locref_weights : (2K, h, w) float32
        1 where an offset target is defined, 0 elsewhere.
    """

    heatmaps: np.ndarray
    heatmap_weights: np.ndarray
    locref: np.ndarray
    locref_weights: np.ndarray


def output_shape(image_size: tuple[int, int], stride: int) -> tuple[int, int]:
    """Size ``(ceil(H / stride), ceil(W / stride))`` of the output maps for ``(H, W)`` images."""
    height, width = _check_image_size(image_size)
    return math.ceil(height / stride), math.ceil(width / stride)


def cell_centers(n_cells: int, stride: int) -> np.ndarray:
    """Pixel coordinates of the centers of ``n_cells`` consecutive cells along one axis.

    Returns
    -------
    (n_cells,) float64
        ``j * stride + (stride - 1) / 2`` for ``j = 0 .. n_cells - 1``.
    """
    return np.arange(n_cells, dtype=np.float64) * stride + (stride - 1) / 2.0


def visible_mask(keypoints: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Which keypoints count as visible: finite and inside ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

    Parameters
    ----------
    keypoints : (..., 2) float
        x, y in pixels.
    image_size : (H, W)

    Returns
    -------
    (...) bool
    """
    height, width = image_size
    x, y = keypoints[..., 0], keypoints[..., 1]
    with np.errstate(invalid="ignore"):
        return ((x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
                & np.isfinite(x) & np.isfinite(y))


def encode_targets(keypoints: np.ndarray, image_size: tuple[int, int],
                   config: TargetConfig) -> PoseTargets:
    """Encode one image's keypoints as score-map and offset targets.

    Parameters
    ----------
    keypoints : (K, 2) float
        x, y in pixels of each bodypart (origin at the top-left pixel's center); NaN where
        not visible.
    image_size : (H, W)
        Size of the image the network sees (after augmentation and cropping).
    config : TargetConfig
        Target shape and the model's stride and offset scale.

    Returns
    -------
    PoseTargets
        ``heatmaps (K, h, w)``, ``heatmap_weights (K,)``, ``locref (2K, h, w)``,
        ``locref_weights (2K, h, w)``, with ``(h, w) = output_shape(image_size, stride)``.

    Raises
    ------
    ModelError
        If ``keypoints`` is not a ``(K, 2)`` array or ``image_size`` not two positive ints.
    """
    points = _check_keypoints(keypoints, batched=False)
    height, width = _check_image_size(image_size)
    if not isinstance(config, TargetConfig):
        raise ModelError(f"config must be a TargetConfig, got {type(config).__name__}.")
    rows, cols = output_shape((height, width), config.stride)
    visible = visible_mask(points, (height, width))
    safe = np.where(visible[:, None], points, 0.0)
    dx = safe[:, 0, None] - cell_centers(cols, config.stride)[None, :]  # (K, w)
    dy = safe[:, 1, None] - cell_centers(rows, config.stride)[None, :]  # (K, h)
    dist2 = dy[:, :, None] ** 2 + dx[:, None, :] ** 2  # (K, h, w)
    if config.kind == "gaussian":
        heatmaps = np.exp(-dist2 / (2.0 * config.sigma_px ** 2))
    else:
        heatmaps = (dist2 <= config.disk_radius ** 2).astype(np.float64)
    heatmaps[~visible] = 0.0
    near = (dist2 <= config.locref_radius ** 2) & visible[:, None, None]
    offsets = np.stack([np.broadcast_to(dx[:, None, :], dist2.shape),
                        np.broadcast_to(dy[:, :, None], dist2.shape)], axis=1)  # (K, 2, h, w)
    offsets = offsets / config.locref_stdev * near[:, None]
    n_parts = points.shape[0]
    return PoseTargets(
        heatmaps=heatmaps.astype(np.float32),
        heatmap_weights=np.where(visible, 1.0, config.absent_weight).astype(np.float32),
        locref=offsets.reshape(2 * n_parts, rows, cols).astype(np.float32),
        locref_weights=np.repeat(near, 2, axis=0).astype(np.float32),
    )


def encode_batch(keypoints: np.ndarray, image_size: tuple[int, int],
                 config: TargetConfig) -> PoseTargets:
    """Encode a batch of same-sized images: :func:`encode_targets` for each, stacked.

    Parameters
    ----------
    keypoints : (B, K, 2) float
        NaN where not visible.
    image_size : (H, W)
        Shared size of the images.
    config : TargetConfig

    Returns
    -------
    PoseTargets
        Fields with a leading batch axis: ``heatmaps (B, K, h, w)``,
        ``heatmap_weights (B, K)``, ``locref (B, 2K, h, w)``, ``locref_weights (B, 2K, h, w)``.
    """
    points = _check_keypoints(keypoints, batched=True)
    parts = [encode_targets(p, image_size, config) for p in points]
    return PoseTargets(*(np.stack(field) for field in zip(*parts, strict=True)))


def _check_keypoints(keypoints: np.ndarray, *, batched: bool) -> np.ndarray:
    expected = "(B, K, 2)" if batched else "(K, 2)"
    try:
        points = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"keypoints must be a numeric {expected} array: {exc}") from None
    ndim = 3 if batched else 2
    if points.ndim != ndim or points.shape[-1] != 2 or points.shape[-2] < 1:
        raise ModelError(f"keypoints must have shape {expected} (x, y per bodypart, NaN if not "
                         f"visible), got {points.shape}.")
    return points


def _check_image_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ModelError(f"image_size must be (height, width), got {image_size!r}.") from None
    for value in (height, width):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ModelError(f"image_size must be two positive integers (height, width), "
                             f"got {image_size!r}.")
    return int(height), int(width)
