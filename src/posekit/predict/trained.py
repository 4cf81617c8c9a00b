"""Loading a trained model for prediction, and analyzing a project's videos with it."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from posekit.errors import MissingFileError, ModelError
from posekit.models.config import ModelConfig
from posekit.models.pose_model import PoseModel, build_model
from posekit.predict.analyze import AnalyzeOptions, analyze_video
from posekit.predict.decode import decode_outputs
from posekit.predict.onnx_engine import OnnxPredictor, cached_onnx, normalize_padded
from posekit.predict.quantize import (
    MAX_CALIBRATION_FRAMES,
    Precision,
    cached_int8,
    check_precision,
)
from posekit.predict.transform import crop_from_config
from posekit.project.project import Project
from posekit.runtime import resolve_device, set_threads, tune_allocator
from posekit.train.checkpoint import load_checkpoint
from posekit.train.folder import ModelFolder, trained_model_folder

logger = logging.getLogger(__name__)

Which = Literal["best", "last"]
Engine = Literal["auto", "onnx", "torch"]


class TorchPredictor:
    """A trained PoseModel behind the :class:`~posekit.predict.analyze.KeypointPredictor` API.

    Parameters
    ----------
    model : PoseModel
        The network, in eval mode.
    bodyparts : list of str
        Names of its outputs.
    scorer : str
        DeepLabCut-style scorer name written into outputs.
    model_info : dict
        Provenance recorded in outputs.
    device : str
        Where the model runs.
    """

    def __init__(self, model: PoseModel, *, bodyparts: list[str], scorer: str,
                 model_info: dict[str, Any], device: str = "cpu") -> None:
        self.model = model.eval().to(device, memory_format=torch.channels_last)
        self.bodyparts = list(bodyparts)
        self.scorer = scorer
        self.model_info = model_info
        self.device = device

    @torch.no_grad()
    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Keypoints of ``frames: (B, H, W, 3)`` uint8 RGB, as ``(B, K, 3)`` x, y, likelihood.

        Frames of any size work (the network is fully convolutional); they are padded at the
        bottom/right to a multiple of 32, which does not move keypoints.
        """
        images = torch.from_numpy(normalize_padded(frames)).to(
            self.device, memory_format=torch.channels_last)
        outputs = self.model(images)
        return decode_outputs(outputs, self.model.config).cpu().numpy().astype(np.float64)


def scorer_name(project: Project, info: dict[str, Any], epoch: int) -> str:
    """DeepLabCut-style scorer name: ``posekit_<backbone>_<Task><date>shuffle<S>_<epoch>``."""
    return (f"posekit_{info['model']['backbone']}_{project.config.Task}{project.config.date}"
            f"shuffle{info['shuffle']}_{epoch}")


def load_predictor(project: Project, *, shuffle: int = 1, which: Which = "best",
                   device: str = "auto", engine: Engine = "torch",
                   threads: int | None = None, precision: Precision = "float32"
                   ) -> TorchPredictor | OnnxPredictor:
    """The trained model of a shuffle, ready to predict.

    Parameters
    ----------
    project : Project
        The project.
    shuffle : int
        Which shuffle's model.
    which : {"best", "last"}
        The checkpoint with the lowest test error, or the latest one.
    device : {"auto", "cpu", "cuda"}
        Where to run it.
    engine : {"torch", "onnx", "auto"}
        PyTorch, or ONNX Runtime (the checkpoint is exported once, beside it); ``auto``
        takes ONNX Runtime on the CPU and PyTorch on a GPU.
    threads : int, optional
        CPU threads of the runtime (all cores by default).
    precision : {"float32", "int8"}
        ONNX Runtime only: ``int8`` runs a copy of the graph quantized to 8-bit integers,
        calibrated on the shuffle's training images and kept beside the checkpoint
        (:mod:`posekit.predict.quantize`); 1.7x the frames/s of float32 on a 2-core CPU.

    Raises
    ------
    MissingFileError
        If the shuffle does not exist.
    ModelError
        If it has no trained model, or its checkpoint is corrupt or does not fit.
    """
    folder = trained_model_folder(project, shuffle)
    return predictor_from_folder(project, folder, which=which, device=device, engine=engine,
                                 threads=threads, precision=precision)


def predictor_from_folder(project: Project, folder: ModelFolder, *, which: Which = "best",
                          device: str = "auto", engine: Engine = "torch",
                          threads: int | None = None, precision: Precision = "float32"
                          ) -> TorchPredictor | OnnxPredictor:
    """Like :func:`load_predictor`, for a model folder."""
    check_precision(precision)
    trained = load_trained(project, folder, which=which)
    device = resolve_device(device)
    tune_allocator()
    set_threads(threads)
    onnx = engine == "onnx" or (engine == "auto" and device == "cpu")
    if precision == "int8" and not onnx:
        raise ModelError(f"int8 precision runs on ONNX Runtime (the CPU engine); with engine "
                         f"{engine!r} on {device} use float32, or --engine onnx.")
    if onnx:
        size = tuple(trained.info["train_options"]["crop_size"])
        onnx_path = cached_onnx(trained.model, trained.checkpoint,
                                input_size=size)  # type: ignore[arg-type]
        if precision == "int8":
            onnx_path = cached_int8(onnx_path, calibration_frames(project, trained.info))
        return OnnxPredictor(onnx_path, config=trained.config,
                             bodyparts=trained.info["bodyparts"], scorer=trained.scorer,
                             model_info={**trained.model_info, "precision": precision},
                             threads=threads)
    return TorchPredictor(trained.model, bodyparts=trained.info["bodyparts"],
                          scorer=trained.scorer, model_info=trained.model_info, device=device)


def calibration_frames(project: Project, info: dict[str, Any]) -> list[np.ndarray]:
    """RGB ``(H, W, 3)`` training images of a model's shuffle, to calibrate int8 ranges.

    At most :data:`posekit.predict.quantize.MAX_CALIBRATION_FRAMES`, spread over the set.
    """
    from posekit.data.dataset import read_image_rgb
    from posekit.data.splits import load_split
    from posekit.frames.select import evenly

    images = load_split(project, int(info["shuffle"]),
                        iteration=int(info["iteration"])).train_images
    return [read_image_rgb(project.root / image)
            for image in evenly(np.array(images), MAX_CALIBRATION_FRAMES)]


@dataclass(frozen=True)
class TrainedModel:
    """A trained network with everything known about it.

    Attributes
    ----------
    model : PoseModel
        The network (CPU, eval mode).
    config : ModelConfig
        Its architecture.
    info : dict
        The model folder's model.json.
    model_info : dict
        Provenance recorded in outputs.
    scorer : str
        DeepLabCut-style scorer name.
    checkpoint : Path
        The checkpoint file loaded.
    """

    model: PoseModel
    config: ModelConfig
    info: dict[str, Any]
    model_info: dict[str, Any]
    scorer: str
    checkpoint: Path


def load_trained(project: Project, folder: ModelFolder, *, which: Which = "best"
                 ) -> TrainedModel:
    """Load a model folder's checkpoint into its network, checked against the project.

    Raises
    ------
    MissingFileError
        If the checkpoint does not exist.
    ModelError
        If it does not fit the architecture, or the project's bodyparts changed.
    """
    info = folder.read_info()
    checkpoint = folder.best if which == "best" else folder.last
    if not checkpoint.is_file():
        raise MissingFileError(f"{checkpoint} does not exist; the model in {folder.path} was "
                               f"never checkpointed. Train it (again) with `posekit train`.")
    state = load_checkpoint(checkpoint)
    config = ModelConfig.model_validate({**info["model"], "pretrained": False, "weights": None})
    if info["bodyparts"] != project.config.pose_bodyparts:
        raise ModelError(f"The model in {folder.path} was trained on bodyparts "
                         f"{info['bodyparts']}, but {project.config_path} lists "
                         f"{project.config.pose_bodyparts}. Retrain after changing bodyparts.")
    model = build_model(config)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as error:
        raise ModelError(f"{checkpoint} does not fit the architecture in {folder.info_path}: "
                         f"{error}. Retrain the model.") from None
    epoch = int(state["epoch"])
    model_info = {"model_folder": str(folder.path.relative_to(project.root)),
                  "checkpoint": checkpoint.name, "epoch": epoch,
                  "backbone": config.backbone, "shuffle": info["shuffle"],
                  "iteration": info["iteration"], "test_error_px": state.get("test_error"),
                  "config_sha1": hashlib.sha1(json.dumps(info["project_config"],
                                                         sort_keys=True).encode()).hexdigest()}
    return TrainedModel(model=model.eval(), config=config, info=info, model_info=model_info,
                        scorer=scorer_name(project, info, epoch), checkpoint=checkpoint)


def analyze_videos(project: Project, videos: Sequence[str | Path], *, shuffle: int = 1,
                   options: AnalyzeOptions = AnalyzeOptions(), which: Which = "best",
                   device: str = "auto", engine: Engine = "auto",
                   precision: Precision = "float32") -> list[Path]:
    """Analyze videos with a project's trained model, one by one (see :func:`analyze_video`).

    When ``options.crop`` is not given and the project's config.yaml sets ``cropping: true``,
    its ``x1, x2, y1, y2`` region is analyzed (DeepLabCut's behaviour). For many videos at
    once, :func:`posekit.distributed.analyze_many` runs them in parallel.

    Returns
    -------
    list of Path
        The analysis h5 of each video, in order.
    """
    if project.config.is_multi_animal:  # assembly and tracking: posekit.predict.multi_analyze
        from posekit.predict.multi_analyze import analyze_videos_multi, from_analyze_options

        return analyze_videos_multi(project, videos, shuffle=shuffle,
                                    options=from_analyze_options(options), which=which,
                                    device=device, engine=engine)
    paths = [Path(v) for v in videos]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingFileError(f"These videos do not exist: {missing}.")
    options = with_config_crop(options, project)
    predictor = load_predictor(project, shuffle=shuffle, which=which, device=device,
                               engine=engine, precision=precision)
    return [analyze_video(predictor, path, options=options) for path in paths]


def with_config_crop(options: AnalyzeOptions, project: Project) -> AnalyzeOptions:
    """``options`` with the config.yaml crop region when it has none of its own."""
    if options.crop is not None:
        return options
    crop = crop_from_config(project.config)
    return options if crop is None else replace(options, crop=crop)
