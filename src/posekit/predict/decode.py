"""Peak decoding: score maps and location refinement -> keypoints with likelihoods.

For each image and bodypart the decoder takes the cell with the highest score (argmax), the
offset the network predicts at that cell, and returns::

    x = j * stride + (stride - 1) / 2 + locref_x[j] * locref_stdev
    y = i * stride + (stride - 1) / 2 + locref_y[i] * locref_stdev
    likelihood = sigmoid(heatmap logit at (i, j))

in pixels with the origin at the top-left pixel's center -- the exact inverse of
:func:`posekit.data.targets.encode_targets` (the cell centers come from the same
:func:`~posekit.data.targets.cell_centers`). Works on numpy arrays (the ONNX Runtime path)
and on torch tensors on any device (the PyTorch path), fully vectorized.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch

from posekit.data.targets import cell_centers
from posekit.errors import ModelError

if TYPE_CHECKING:
    from posekit.models.config import ModelConfig

ArrayLike = np.ndarray | torch.Tensor


def decode_heatmaps(
    heatmaps: ArrayLike,
    locref: ArrayLike | None = None,
    *,
    stride: int,
    locref_stdev: float,
    logits: bool = True,
) -> ArrayLike:
    """Decode the peak of every score map, refined by the predicted offsets.

    Parameters
    ----------
    heatmaps : (B, K, h, w) numpy array or torch tensor
        Score maps: logits (``logits=True``, the network's output) or probabilities.
    locref : (B, 2K, h, w) or (B, K, 2, h, w), same kind as ``heatmaps``, or None
        Offsets in ``locref_stdev`` units, channels ``x_0, y_0, x_1, y_1, ...``; None decodes
        cell centers only.
    stride : int
        The model's output stride.
    locref_stdev : float
        Pixels per offset unit.
    logits : bool
        Whether ``heatmaps`` are logits (likelihood = sigmoid of the peak) or probabilities
        (likelihood = the peak value).

    Returns
    -------
    (B, K, 3) float32, numpy array or torch tensor like the input
        x, y (pixels, origin at the top-left pixel's center) and likelihood per bodypart.

    Raises
    ------
    ModelError
        On wrong dimensions, mismatched shapes, mixed array kinds or a bad stride.
    """
    is_torch = _check_inputs(heatmaps, locref, stride, locref_stdev)
    if is_torch:
        return _decode_torch(heatmaps, locref, stride, locref_stdev, logits)
    return _decode_numpy(heatmaps, locref, stride, locref_stdev, logits)


def decode_outputs(outputs: Mapping[str, ArrayLike], config: ModelConfig) -> ArrayLike:
    """Decode a PoseModel's (or its ONNX graph's) outputs with the model's stride and scale.

    Parameters
    ----------
    outputs : mapping
        ``"heatmaps" (B, K, h, w)`` logits and ``"locref" (B, 2K, h, w)``.
    config : ModelConfig
        The model's configuration (``output_stride``, ``locref_stdev``).

    Returns
    -------
    (B, K, 3) float32
        x, y, likelihood, as :func:`decode_heatmaps`.
    """
    for key in ("heatmaps", "locref"):
        if key not in outputs:
            raise ModelError(f"outputs lack '{key}'; got keys {sorted(outputs)}.")
    return decode_heatmaps(outputs["heatmaps"], outputs["locref"], stride=config.output_stride,
                           locref_stdev=config.locref_stdev)


def _check_inputs(heatmaps: ArrayLike, locref: ArrayLike | None, stride: int,
                  locref_stdev: float) -> bool:
    is_torch = isinstance(heatmaps, torch.Tensor)
    if not is_torch and not isinstance(heatmaps, np.ndarray):
        raise ModelError(f"heatmaps must be a numpy array or torch tensor, got {type(heatmaps)}.")
    if heatmaps.ndim != 4 or min(heatmaps.shape) < 1:
        raise ModelError(f"heatmaps must have shape (B, K, h, w), got {tuple(heatmaps.shape)}.")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ModelError(f"stride must be a positive integer, got {stride!r}.")
    if not np.isfinite(locref_stdev) or locref_stdev <= 0:
        raise ModelError(f"locref_stdev must be a positive number, got {locref_stdev!r}.")
    if locref is None:
        return is_torch
    if isinstance(locref, torch.Tensor) != is_torch:
        raise ModelError("heatmaps and locref must both be numpy arrays or both torch tensors; "
                         f"got {type(heatmaps).__name__} and {type(locref).__name__}.")
    batch, parts, rows, cols = heatmaps.shape
    allowed = ((batch, 2 * parts, rows, cols), (batch, parts, 2, rows, cols))
    if tuple(locref.shape) not in allowed:
        raise ModelError(f"locref must have shape {allowed[0]} or {allowed[1]} to match "
                         f"heatmaps {tuple(heatmaps.shape)}, got {tuple(locref.shape)}.")
    return is_torch


def _decode_numpy(heatmaps: np.ndarray, locref: np.ndarray | None, stride: int,
                  locref_stdev: float, logits: bool) -> np.ndarray:
    batch, parts, rows, cols = heatmaps.shape
    flat = heatmaps.reshape(batch, parts, rows * cols)
    index = np.argmax(flat, axis=2)  # (B, K)
    peak = np.take_along_axis(flat, index[:, :, None], axis=2)[:, :, 0].astype(np.float64)
    row, col = np.divmod(index, cols)
    x = cell_centers(cols, stride)[col]
    y = cell_centers(rows, stride)[row]
    if locref is not None:
        offsets = locref.reshape(batch, parts, 2, rows * cols)
        at_peak = np.take_along_axis(offsets, index[:, :, None, None], axis=3)[..., 0]
        x = x + at_peak[:, :, 0] * locref_stdev
        y = y + at_peak[:, :, 1] * locref_stdev
    likelihood = 0.5 * (1.0 + np.tanh(peak / 2.0)) if logits else peak  # stable sigmoid
    return np.stack([x, y, likelihood], axis=2).astype(np.float32)


def _decode_torch(heatmaps: torch.Tensor, locref: torch.Tensor | None, stride: int,
                  locref_stdev: float, logits: bool) -> torch.Tensor:
    batch, parts, rows, cols = heatmaps.shape
    flat = heatmaps.detach().reshape(batch, parts, rows * cols)
    index = torch.argmax(flat, dim=2)  # (B, K)
    peak = torch.gather(flat, 2, index[:, :, None])[:, :, 0].to(torch.float32)
    row = torch.div(index, cols, rounding_mode="floor")
    col = index - row * cols
    # float32 throughout: exact for cell centers (multiples of 0.5) and usable on every device
    x = torch.from_numpy(cell_centers(cols, stride)).to(flat.device, torch.float32)[col]
    y = torch.from_numpy(cell_centers(rows, stride)).to(flat.device, torch.float32)[row]
    if locref is not None:
        offsets = locref.detach().reshape(batch, parts, 2, rows * cols)
        at_peak = torch.gather(offsets, 3, index[:, :, None, None].expand(-1, -1, 2, 1))[..., 0]
        x = x + at_peak[:, :, 0].to(torch.float32) * locref_stdev
        y = y + at_peak[:, :, 1].to(torch.float32) * locref_stdev
    likelihood = torch.sigmoid(peak) if logits else peak
    return torch.stack([x, y, likelihood], dim=2)
