"""The one input normalization every posekit network uses (ImageNet mean and std, RGB).

Frames go in as ``uint8`` RGB (``cv2`` decodes BGR: convert with ``frame[..., ::-1]`` or
``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)`` first) and come out as ``float32``
``(B, 3, H, W)`` with ``(pixel / 255 - IMAGENET_MEAN) / IMAGENET_STD`` per channel. Training,
evaluation, analysis, export and live inference all call :func:`normalize_images`, so the
network always sees the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from posekit.errors import ModelError

#: Per-channel mean of ImageNet, RGB order, for pixels scaled to [0, 1].
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
#: Per-channel standard deviation of ImageNet, RGB order, for pixels scaled to [0, 1].
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_SCALE = np.array([1.0 / (255.0 * s) for s in IMAGENET_STD], dtype=np.float32)
_OFFSET = np.array([m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)],
                   dtype=np.float32)


def normalize_images(frames: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Turn RGB ``uint8`` frames into the network's normalized input.

    Parameters
    ----------
    frames : numpy array or torch tensor, uint8
        ``(B, H, W, 3)`` or one frame ``(H, W, 3)``, RGB channel order.

    Returns
    -------
    numpy array or torch tensor (same kind and device as the input), float32
        ``(B, 3, H, W)`` normalized images, C-contiguous.

    Raises
    ------
    ModelError
        If the dtype is not uint8 or the shape is not ``(B, H, W, 3)`` / ``(H, W, 3)``.
    """
    is_torch = isinstance(frames, torch.Tensor)
    if not is_torch and not isinstance(frames, np.ndarray):
        raise ModelError(f"frames must be a numpy array or torch tensor, got {type(frames)}.")
    dtype_ok = frames.dtype == (torch.uint8 if is_torch else np.uint8)
    if not dtype_ok:
        raise ModelError(f"frames must be uint8 RGB pixels (0-255), got dtype {frames.dtype}; "
                         "pass the decoded frames before any scaling.")
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ModelError(f"frames must have shape (B, H, W, 3) or (H, W, 3), "
                         f"got {tuple(frames.shape)}.")
    if is_torch:
        scale = torch.as_tensor(_SCALE, device=frames.device)
        offset = torch.as_tensor(_OFFSET, device=frames.device)
        out = frames.to(torch.float32) * scale - offset
        return out.permute(0, 3, 1, 2).contiguous()
    out = frames.astype(np.float32) * _SCALE - _OFFSET
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def denormalize_images(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Invert :func:`normalize_images` (for looking at what the network saw).

    Parameters
    ----------
    images : numpy array or torch tensor, float
        ``(B, 3, H, W)`` normalized images.

    Returns
    -------
    numpy array, uint8
        ``(B, H, W, 3)`` RGB frames (rounded and clipped to 0-255).

    Raises
    ------
    ModelError
        If the shape is not ``(B, 3, H, W)``.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ModelError(f"images must have shape (B, 3, H, W), got {images.shape}.")
    pixels = (images.transpose(0, 2, 3, 1) + _OFFSET) / _SCALE
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
