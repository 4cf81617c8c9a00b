"""The training loss of the pose network: score maps plus masked location refinement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F

from posekit.data.targets import PoseTargets
from posekit.errors import ModelError

#: DeepLabCut's weight of the location-refinement term.
DEFAULT_LOCREF_WEIGHT = 0.05


class PoseLoss(NamedTuple):
    """The total loss (to back-propagate) and its two terms (to log).

    Attributes
    ----------
    total : Tensor, scalar
        ``heatmap + locref_weight * locref``.
    heatmap : Tensor, scalar
        Weighted mean binary cross-entropy (with logits) over score-map cells.
    locref : Tensor, scalar
        Mean Huber loss (delta 1, in ``locref_stdev`` units) over cells with an offset target.
    """

    total: torch.Tensor
    heatmap: torch.Tensor
    locref: torch.Tensor


def pose_loss(
    outputs: Mapping[str, torch.Tensor],
    targets: PoseTargets,
    *,
    locref_weight: float = DEFAULT_LOCREF_WEIGHT,
) -> PoseLoss:
    """Loss of the network's outputs against encoded targets.

    The score-map term is binary cross-entropy with logits on every cell, each bodypart's
    map weighted by ``heatmap_weights`` (1 if visible; ``absent_weight`` otherwise), averaged
    over the weighted cells. The offset term is a Huber loss on the cells where
    ``locref_weights`` is 1 (near a visible keypoint), averaged over those cells, so
    keypoints that are not visible never pull on the offsets.

    Parameters
    ----------
    outputs : mapping
        ``PoseModel`` output: ``"heatmaps" (B, K, h, w)`` logits and ``"locref" (B, 2K, h, w)``.
    targets : PoseTargets
        Batched targets as tensors (``heatmaps (B, K, h, w)``, ``heatmap_weights (B, K)``,
        ``locref (B, 2K, h, w)``, ``locref_weights (B, 2K, h, w)``), e.g. from a DataLoader
        collating :func:`posekit.data.targets.encode_targets` results. Moved to the outputs'
        device and dtype here.
    locref_weight : float
        Weight of the offset term in ``total``.

    Returns
    -------
    PoseLoss

    Raises
    ------
    ModelError
        If shapes of outputs and targets disagree.
    """
    heatmaps, locref = outputs["heatmaps"], outputs["locref"]
    device, dtype = heatmaps.device, heatmaps.dtype
    t = PoseTargets(*(torch.as_tensor(v).to(device=device, dtype=dtype) for v in targets))
    _check_shapes(heatmaps, locref, t)
    weights = t.heatmap_weights[:, :, None, None].expand_as(heatmaps)
    bce = F.binary_cross_entropy_with_logits(heatmaps, t.heatmaps, reduction="none")
    heatmap_term = (bce * weights).sum() / weights.sum().clamp(min=1.0)
    huber = F.huber_loss(locref, t.locref, reduction="none", delta=1.0)
    locref_term = (huber * t.locref_weights).sum() / t.locref_weights.sum().clamp(min=1.0)
    return PoseLoss(heatmap_term + locref_weight * locref_term, heatmap_term, locref_term)


def _check_shapes(heatmaps: torch.Tensor, locref: torch.Tensor, t: PoseTargets) -> None:
    batch, parts = heatmaps.shape[:2]
    checks = {
        "targets.heatmaps": (t.heatmaps.shape, heatmaps.shape),
        "targets.heatmap_weights": (t.heatmap_weights.shape, torch.Size((batch, parts))),
        "targets.locref": (t.locref.shape, locref.shape),
        "targets.locref_weights": (t.locref_weights.shape, locref.shape),
        "outputs locref": (locref.shape, torch.Size((batch, 2 * parts, *heatmaps.shape[2:]))),
    }
    for name, (found, expected) in checks.items():
        if tuple(found) != tuple(expected):
            raise ModelError(f"{name} has shape {tuple(found)}, expected {tuple(expected)}; "
                             "encode targets with the model's stride and the image size it saw.")
