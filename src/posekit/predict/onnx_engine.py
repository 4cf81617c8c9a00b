"""Inference with ONNX Runtime: the fast CPU path behind ``posekit analyze``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from posekit.models.config import ModelConfig
from posekit.models.export import INPUT_NAME, OUTPUT_NAMES, export_onnx, onnx_session
from posekit.models.normalize import normalize_images
from posekit.models.pose_model import PoseModel
from posekit.predict.decode import decode_heatmaps

logger = logging.getLogger(__name__)

#: Frames are padded (bottom/right) to a multiple of this, the backbone's coarsest stride.
PAD_MULTIPLE = 32


def pad_frames(frames: np.ndarray, multiple: int = PAD_MULTIPLE) -> np.ndarray:
    """Pad ``frames: (B, H, W, 3)`` at the bottom/right to a multiple of ``multiple``.

    Padding there does not move keypoints (coordinates start at the top-left).
    """
    height, width = frames.shape[1:3]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    return frames


def cached_onnx(model: PoseModel, checkpoint: Path, *, input_size: tuple[int, int]) -> Path:
    """The ONNX export of a checkpoint, made once and kept beside it (``<name>.onnx``).

    Re-exported when the checkpoint is newer than the ONNX file.
    """
    target = checkpoint.with_suffix(".onnx")
    if not target.is_file() or target.stat().st_mtime < checkpoint.stat().st_mtime:
        logger.info("exporting %s to ONNX for fast CPU inference", checkpoint.name)
        export_onnx(model, target, input_size=input_size)
    return target


class OnnxPredictor:
    """Keypoints from frames with ONNX Runtime (see :class:`~posekit.predict.analyze.KeypointPredictor`).

    Parameters
    ----------
    onnx_path : Path
        A graph exported by :func:`posekit.models.export.export_onnx` (dynamic batch and size).
    config : ModelConfig
        The model's configuration (stride, offset scale).
    bodyparts : list of str
        Output names.
    scorer : str
        Scorer name of outputs.
    model_info : dict
        Provenance recorded in outputs.
    threads : int, optional
        ONNX Runtime intra-op threads (all cores by default).
    """

    def __init__(self, onnx_path: Path, *, config: ModelConfig, bodyparts: list[str],
                 scorer: str, model_info: dict[str, Any], threads: int | None = None) -> None:
        self.session = onnx_session(onnx_path, num_threads=threads)
        self.config = config
        self.bodyparts = list(bodyparts)
        self.scorer = scorer
        self.model_info = {**model_info, "engine": "onnxruntime"}

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Keypoints of ``frames: (B, H, W, 3)`` uint8 RGB as ``(B, K, 3)`` x, y, likelihood."""
        images = normalize_images(pad_frames(np.asarray(frames)))
        heatmaps, locref = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
        decoded = decode_heatmaps(heatmaps, locref, stride=self.config.output_stride,
                                  locref_stdev=self.config.locref_stdev)
        return np.asarray(decoded, dtype=np.float64)
