"""Analyzing videos: every frame through a keypoint predictor, into DeepLabCut's h5 format."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from posekit._version import __version__
from posekit.io.atomic import write_text_atomic
from posekit.io.predictions import Predictions, read_predictions, write_dlc_h5
from posekit.io.video import VideoReader
from posekit.predict.dynamic import DynamicCrop
from posekit.predict.engine import InferenceOptions, predict_video

logger = logging.getLogger(__name__)


class KeypointPredictor(Protocol):
    """Anything that turns batches of frames into keypoints.

    Attributes
    ----------
    scorer : str
        Name written as the scorer of the output (identifies the model).
    bodyparts : list of str
        Bodyparts predicted, in output order.
    model_info : dict
        How the model was made (backbone, shuffle, checkpoint, config hash): recorded in
        every output's metadata.
    """

    scorer: str
    bodyparts: list[str]
    model_info: dict

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Keypoints of ``frames: (B, H, W, 3)`` uint8 RGB as ``(B, K, 3)`` x, y, likelihood."""
        ...


@dataclass(frozen=True)
class AnalyzeOptions:
    """How to analyze videos.

    Attributes
    ----------
    batch_size : int or "auto"
        Frames per network call; ``"auto"`` measures a few sizes on the first frames and
        keeps the fastest (see :mod:`posekit.predict.engine`).
    save_csv : bool
        Also write the ``.csv`` twin.
    overwrite : bool
        Analyze again even when an output of the same model exists.
    destination : Path or None
        Folder of the outputs; next to each video by default.
    downscale : float
        Resize frames by this factor in ``(0, 1]`` before the network; keypoints are still
        written in full-frame pixels.
    crop : (x1, x2, y1, y2) or None
        Analyze only ``frame[y1:y2, x1:x2]`` (DeepLabCut's crop); keypoints in full-frame
        pixels.
    dynamic_crop : DynamicCrop or None
        Follow the animal with a window, falling back to the full frame when it is lost
        (see :mod:`posekit.predict.dynamic`).
    """

    batch_size: int | Literal["auto"] = "auto"
    save_csv: bool = False
    overwrite: bool = False
    destination: Path | None = None
    downscale: float = 1.0
    crop: tuple[int, int, int, int] | None = None
    dynamic_crop: DynamicCrop | None = None

    def __post_init__(self) -> None:
        self.inference()  # validates the inference options now, not mid-analysis

    def inference(self) -> InferenceOptions:
        """The engine's part of these options."""
        return InferenceOptions(batch_size=self.batch_size, downscale=self.downscale,
                                crop=self.crop, dynamic_crop=self.dynamic_crop)


def output_path(video: Path, scorer: str, destination: Path | None = None) -> Path:
    """``<destination or video folder>/<video stem><scorer>.h5``, DeepLabCut's naming."""
    return (destination or video.parent) / f"{video.stem}{scorer}.h5"


def metadata_path(h5: Path) -> Path:
    """The JSON metadata file beside an analysis h5."""
    return h5.with_name(h5.stem + "_meta.json")


def is_analyzed(h5: Path, scorer: str) -> bool:
    """Whether ``h5`` is a complete analysis by the model ``scorer``."""
    meta = metadata_path(h5)
    if not (h5.is_file() and meta.is_file()):
        return False
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("scorer") == scorer and info.get("complete") is True


def analyze_video(predictor: KeypointPredictor, video: str | Path, *,
                  options: AnalyzeOptions = AnalyzeOptions()) -> Path:
    """Predict keypoints on every frame of ``video`` and write DeepLabCut's analysis h5.

    Frames stream from disk in batches (memory does not grow with the video's length). The
    h5 and its ``_meta.json`` are written atomically at the end, the metadata last, so an
    interrupted run never leaves files that look complete.

    Parameters
    ----------
    predictor : KeypointPredictor
        The trained model.
    video : path-like
        The video file.
    options : AnalyzeOptions
        Batch size, csv, overwrite, destination, downscaling, crop, dynamic crop.

    Returns
    -------
    Path
        The analysis h5 (existing one when skipped).
    """
    video = Path(video)
    h5 = output_path(video, predictor.scorer, options.destination)
    if not options.overwrite and is_analyzed(h5, predictor.scorer):
        logger.info("%s is already analyzed by %s: %s (use overwrite to redo)", video.name,
                    predictor.scorer, h5)
        return h5
    inference = options.inference()
    with VideoReader(video) as reader:
        data, stats = predict_video(predictor, reader, options=inference,
                                    description=f"analyzing {video.name}")
        meta = reader.metadata
    info = {"scorer": predictor.scorer, "video": str(video), "fps": meta.fps,
            "n_frames": int(data.shape[0]), "frame_size": [meta.width, meta.height],
            "bodyparts": list(predictor.bodyparts), "posekit_version": __version__,
            "video_sha1_head": _head_hash(video), **predictor.model_info,
            "inference": {**inference.describe(), **stats.as_dict()}}
    if data.shape[0] != meta.n_frames:
        logger.warning("%s: the container announces %d frames but %d decode; the analysis "
                       "holds the %d that decode", video, meta.n_frames, data.shape[0],
                       data.shape[0])
        info["announced_n_frames"] = meta.n_frames
    predictions = Predictions(data=data[:, None], bodyparts=list(predictor.bodyparts),
                              scorer=predictor.scorer, metadata=info)
    h5.parent.mkdir(parents=True, exist_ok=True)
    write_dlc_h5(predictions, h5, csv=options.save_csv)
    write_text_atomic(metadata_path(h5), json.dumps({**info, "complete": True}, indent=2))
    return h5


def _head_hash(path: Path, n_bytes: int = 1 << 20) -> str:
    """SHA-1 of the first MiB: identifies a video cheaply."""
    with open(path, "rb") as handle:
        return hashlib.sha1(handle.read(n_bytes)).hexdigest()


def load_analysis(h5: str | Path) -> Predictions:
    """Read an analysis h5 (posekit's or DeepLabCut's)."""
    return read_predictions(h5)
