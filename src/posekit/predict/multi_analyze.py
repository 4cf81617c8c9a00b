"""Analyzing videos of several animals: network -> candidates -> assembly -> tracking -> files.

For every frame the multi-animal network's candidates are assembled into animals
(:class:`~posekit.predict.multi_decode.MultiPredictor`); the whole video's animals are then
tracked into one track per individual of the project (:func:`posekit.multi.tracking.
track_individuals`: Kalman-filtered tracklets stitched by a min-cost flow) and written as

- DeepLabCut's multi-animal analysis h5 (``<video stem><scorer>.h5``, columns
  scorer/individuals/bodyparts/coords with x, y, likelihood; unique bodyparts under the
  individual ``single``), readable by DeepLabCut, movement and SLEAP's converters, with its
  ``_meta.json``;
- optionally SLEAP's ``.slp`` (:func:`export_slp`, through sleap-io) and the untracked
  per-frame assemblies (``<h5 stem>_assemblies.npz``: ``individuals (n_frames,
  max_individuals, K, 3)`` and ``unique (n_frames, K, 3)``), to track again without the
  network.

Track names: the tracker orders tracks by first appearance and they get the project's
individual names in that order. Without an identity model the names carry no meaning across
videos: what is kept is that one track is one animal throughout a video.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit._version import __version__
from posekit.errors import MissingFileError, ModelError, VideoError
from posekit.io.atomic import write_atomic, write_text_atomic
from posekit.io.predictions import UNIQUE_INDIVIDUAL, Predictions, write_dlc_h5
from posekit.io.video import VideoReader
from posekit.multi.tracking import TrackingOptions, track_individuals
from posekit.predict.analyze import is_analyzed, metadata_path, output_path
from posekit.predict.multi_decode import (
    GroupingOptions,
    MultiModelSpec,
    MultiPredictor,
    torch_runner,
)
from posekit.predict.stream import iter_batches
from posekit.progress import track
from posekit.project.project import Project

logger = logging.getLogger(__name__)

Which = Literal["best", "last"]
Engine = Literal["auto", "onnx", "torch"]


@dataclass(frozen=True)
class MultiAnalyzeOptions:
    """How to analyze videos of several animals.

    Attributes
    ----------
    batch_size : int
        Frames per network call.
    save_csv : bool
        Also write the h5's ``.csv`` twin.
    save_slp : bool
        Also write a SLEAP ``.slp`` beside the h5 (same name).
    save_assemblies : bool
        Also keep the untracked per-frame animals (``_assemblies.npz``).
    overwrite : bool
        Analyze again even when an output of the same model exists.
    destination : Path or None
        Folder of the outputs; next to each video by default.
    grouping : GroupingOptions
        Candidate detection and assembly.
    tracking : TrackingOptions
        Tracklets and stitching.
    """

    batch_size: int = 4
    save_csv: bool = False
    save_slp: bool = False
    save_assemblies: bool = True
    overwrite: bool = False
    destination: Path | None = None
    grouping: GroupingOptions = field(default_factory=GroupingOptions)
    tracking: TrackingOptions = field(default_factory=TrackingOptions)


def from_analyze_options(options: Any) -> MultiAnalyzeOptions:
    """The multi-animal counterpart of a (single-animal) ``AnalyzeOptions``.

    Batch size, csv, overwrite and destination carry over (batch size ``"auto"`` becomes 4).

    Raises
    ------
    ModelError
        If it asks for cropping or downscaling, which multi-animal analysis does not do
        (a multi-animal model resizes frames by its own ``global_scale``).
    """
    unsupported = [name for name, default in (("crop", None), ("dynamic_crop", None),
                                              ("downscale", 1.0))
                   if getattr(options, name, default) != default]
    if unsupported:
        raise ModelError(f"multi-animal analysis does not support {unsupported} yet; analyze "
                         "whole frames (the model's global_scale sets their size).")
    batch = getattr(options, "batch_size", 4)
    return MultiAnalyzeOptions(batch_size=batch if isinstance(batch, int) else 4,
                               save_csv=bool(getattr(options, "save_csv", False)),
                               overwrite=bool(getattr(options, "overwrite", False)),
                               destination=getattr(options, "destination", None))


# --------------------------------------------------------------------------- loading


def load_multi_predictor(project: Project, *, shuffle: int = 1, which: Which = "best",
                         device: str = "auto", engine: Engine = "torch",
                         options: GroupingOptions = GroupingOptions(),
                         threads: int | None = None) -> MultiPredictor:
    """The trained multi-animal model of a shuffle, ready to predict.

    Parameters
    ----------
    project : Project
        A multi-animal project.
    shuffle : int
        Which shuffle's model.
    which : {"best", "last"}
        The checkpoint with the lowest test error, or the latest one.
    device : {"auto", "cpu", "cuda"}
        Where PyTorch runs it.
    engine : {"torch", "onnx", "auto"}
        PyTorch, or ONNX Runtime (exported once, beside the checkpoint); ``auto`` takes ONNX
        Runtime on the CPU.
    options : GroupingOptions
        Candidate detection and assembly settings.
    threads : int, optional
        CPU threads of PyTorch or ONNX Runtime (all cores by default; on a machine shared
        with other jobs, 1 is often much faster).

    Raises
    ------
    MissingFileError
        If the shuffle or the checkpoint does not exist.
    ModelError
        If the shuffle has no multi-animal model, or it does not fit the project.
    """
    from posekit.train.folder import trained_model_folder

    folder = trained_model_folder(project, shuffle)
    return multi_predictor_from_folder(project, folder.path, which=which, device=device,
                                       engine=engine, options=options, threads=threads)


def multi_predictor_from_folder(project: Project, folder: Path, *, which: Which = "best",
                                device: str = "auto", engine: Engine = "torch",
                                options: GroupingOptions = GroupingOptions(),
                                threads: int | None = None) -> MultiPredictor:
    """Like :func:`load_multi_predictor`, for a model folder."""
    from posekit.models.multi_head import MultiModelConfig, build_multi_model
    from posekit.runtime import resolve_device, set_threads, tune_allocator
    from posekit.train.checkpoint import load_checkpoint
    from posekit.train.folder import ModelFolder

    model_folder = ModelFolder(Path(folder))
    info = model_folder.read_info()
    if "multi" not in info:
        raise ModelError(f"The model in {model_folder.path} is a single-animal model; train a "
                         f"multi-animal model for {project.root} with `posekit train`.")
    spec = MultiModelSpec.from_json(info["multi"])
    if spec.all_bodyparts != project.config.all_bodyparts:
        raise ModelError(f"The model in {model_folder.path} was trained on bodyparts "
                         f"{spec.all_bodyparts}, but {project.config_path} lists "
                         f"{project.config.all_bodyparts}. Retrain after changing bodyparts.")
    checkpoint = model_folder.best if which == "best" else model_folder.last
    if not checkpoint.is_file():
        raise MissingFileError(f"{checkpoint} does not exist; train the model in "
                               f"{model_folder.path} (again) with `posekit train`.")
    state = load_checkpoint(checkpoint)
    config = MultiModelConfig.model_validate({**info["model"], "pretrained": False,
                                              "weights": None})
    model = build_multi_model(config)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as error:
        raise ModelError(f"{checkpoint} does not fit the architecture in "
                         f"{model_folder.info_path}: {error}. Retrain the model.") from None
    device = resolve_device(device)
    tune_allocator()
    set_threads(threads)
    epoch = int(state["epoch"])
    model_info = {"model_folder": str(model_folder.path.relative_to(project.root)),
                  "checkpoint": checkpoint.name, "epoch": epoch, "backbone": config.backbone,
                  "shuffle": info["shuffle"], "iteration": info["iteration"],
                  "test_error_px": state.get("test_error"),
                  "config_sha1": hashlib.sha1(json.dumps(info["project_config"],
                                                         sort_keys=True).encode()).hexdigest()}
    scorer = (f"posekit_{config.backbone}_{project.config.Task}{project.config.date}"
              f"shuffle{info['shuffle']}_{epoch}")
    model = model.eval()
    if engine == "onnx" or (engine == "auto" and device == "cpu"):
        runner = _onnx_runner(model, checkpoint, tuple(info["train_options"]["crop_size"]),
                              threads)
        model_info["engine"] = "onnxruntime"
    else:
        import torch

        runner = torch_runner(model.to(device, memory_format=torch.channels_last), device)
        model_info["engine"] = "torch"
    return MultiPredictor(runner, spec=spec, scorer=scorer, model_info=model_info,
                          options=options)


def _onnx_runner(model: Any, checkpoint: Path, size: tuple[int, int], threads: int | None):
    from posekit.models.export import INPUT_NAME, onnx_session
    from posekit.models.multi_head import MULTI_OUTPUT_NAMES, export_multi_onnx

    target = checkpoint.with_suffix(".onnx")
    if not target.is_file() or target.stat().st_mtime < checkpoint.stat().st_mtime:
        logger.info("exporting %s to ONNX for fast CPU inference", checkpoint.name)
        export_multi_onnx(model, target, input_size=size)
    session = onnx_session(target, num_threads=threads)

    def run(images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = session.run(list(MULTI_OUTPUT_NAMES), {INPUT_NAME: images})
        return dict(zip(MULTI_OUTPUT_NAMES, outputs, strict=True))

    return run


# --------------------------------------------------------------------------- analysis


def assemble_video(predictor: MultiPredictor, video: str | Path, *,
                   batch_size: int = 4) -> tuple[np.ndarray, np.ndarray, Any]:
    """Every frame of ``video`` through the network and assembly (no tracking).

    Returns
    -------
    individuals : ndarray, shape (n_frames, max_individuals, K, 3)
        Each frame's animals, strongest first, NaN-padded.
    unique : ndarray, shape (n_frames, K, 3)
        Unique bodyparts (NaN elsewhere).
    metadata : VideoMetadata
        The video's metadata.
    """
    video = Path(video)
    n_max, n_parts = len(predictor.spec.individuals), len(predictor.bodyparts)
    with VideoReader(video) as reader:
        meta = reader.metadata
        found_ind, found_unique = [], []
        n_batches = -(-len(reader) // batch_size)
        for _, frames in track(iter_batches(reader, batch_size), total=n_batches,
                               description=f"analyzing {video.name}"):
            for individuals, unique in predictor.predict_frames(frames):
                padded = np.full((n_max, n_parts, 3), np.nan)
                padded[:len(individuals)] = individuals
                found_ind.append(padded)
                found_unique.append(unique)
    if not found_ind:
        raise VideoError(f"{video}: no frame could be decoded; the file is empty or corrupt.")
    return np.stack(found_ind), np.stack(found_unique), meta


def tracks_to_predictions(tracks: np.ndarray, unique: np.ndarray, spec: MultiModelSpec, *,
                          scorer: str, metadata: dict) -> Predictions:
    """Tracked animals (and unique bodyparts) as multi-animal :class:`Predictions`.

    Parameters
    ----------
    tracks : ndarray, shape (n_frames, n_individuals, n_bodyparts, 3)
        One track per individual of ``spec`` (pose bodyparts only).
    unique : ndarray, shape (n_frames, K, 3)
        Unique bodyparts in their columns of all K bodyparts.
    spec : MultiModelSpec
    scorer : str
    metadata : dict

    Returns
    -------
    Predictions
        ``data: (n_frames, n_individuals (+1 "single" with unique bodyparts), K, 3)``.
    """
    n_frames, n_pose = tracks.shape[0], len(spec.bodyparts)
    n_all = len(spec.all_bodyparts)
    individuals = list(spec.individuals)
    rows = len(individuals) + (1 if spec.unique_bodyparts else 0)
    data = np.full((n_frames, rows, n_all, 3), np.nan)
    data[:, :len(individuals), :n_pose] = tracks
    if spec.unique_bodyparts:
        individuals.append(UNIQUE_INDIVIDUAL)
        data[:, -1, n_pose:] = unique[:, n_pose:]
    return Predictions(data=data, bodyparts=spec.all_bodyparts, individuals=individuals,
                       scorer=scorer, multi_animal=True,
                       metadata={**metadata, "unique_bodyparts": list(spec.unique_bodyparts)})


def analyze_video_multi(predictor: MultiPredictor, video: str | Path, *,
                        options: MultiAnalyzeOptions = MultiAnalyzeOptions()) -> Path:
    """Find, assemble and track the animals in every frame of ``video``; write the outputs.

    Parameters
    ----------
    predictor : MultiPredictor
        The trained model (:func:`load_multi_predictor`).
    video : path-like
    options : MultiAnalyzeOptions

    Returns
    -------
    Path
        The analysis h5 (the existing one when already analyzed by this model).
    """
    video = Path(video)
    h5 = output_path(video, predictor.scorer, options.destination)
    if not options.overwrite and is_analyzed(h5, predictor.scorer):
        logger.info("%s is already analyzed by %s: %s", video.name, predictor.scorer, h5)
        return h5
    individuals, unique, meta = assemble_video(predictor, video, batch_size=options.batch_size)
    spec = predictor.spec
    n_pose = len(spec.bodyparts)
    tracks = track_individuals(individuals[:, :, :n_pose], n_tracks=len(spec.individuals),
                               options=options.tracking)
    info = {"scorer": predictor.scorer, "video": str(video), "fps": meta.fps,
            "n_frames": int(individuals.shape[0]), "frame_size": [meta.width, meta.height],
            "bodyparts": spec.all_bodyparts, "individuals": list(spec.individuals),
            "posekit_version": __version__, "video_sha1_head": _head_hash(video),
            "edges": [[spec.all_bodyparts[a], spec.all_bodyparts[b]] for a, b in spec.edges],
            "mean_animals_per_frame": float(np.isfinite(individuals[..., 0]).any(axis=2)
                                            .sum(axis=1).mean()),
            **predictor.model_info}
    predictions = tracks_to_predictions(tracks, unique, spec, scorer=predictor.scorer,
                                        metadata=info)
    h5.parent.mkdir(parents=True, exist_ok=True)
    if options.save_assemblies:
        write_atomic(assemblies_path(h5), lambda tmp: _save_npz(tmp, individuals, unique))
    write_dlc_h5(predictions, h5, csv=options.save_csv)
    if options.save_slp:
        export_slp(predictions, video, h5.with_suffix(".slp"))
    write_text_atomic(metadata_path(h5), json.dumps({**info, "complete": True}, indent=2,
                                                    default=str))
    return h5


def assemblies_path(h5: Path) -> Path:
    """The untracked per-frame animals beside an analysis h5."""
    return h5.with_name(h5.stem + "_assemblies.npz")


def _save_npz(path: Path, individuals: np.ndarray, unique: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.savez_compressed(handle, individuals=individuals, unique=unique)


def _head_hash(path: Path, n_bytes: int = 1 << 20) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha1(handle.read(n_bytes)).hexdigest()


def analyze_videos_multi(project: Project, videos: Sequence[str | Path], *, shuffle: int = 1,
                         options: MultiAnalyzeOptions = MultiAnalyzeOptions(),
                         which: Which = "best", device: str = "auto",
                         engine: Engine = "auto") -> list[Path]:
    """Analyze videos with a multi-animal project's trained model (:func:`analyze_video_multi`).

    Returns
    -------
    list of Path
        The analysis h5 of each video, in order.
    """
    paths = [Path(v) for v in videos]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingFileError(f"These videos do not exist: {missing}.")
    predictor = load_multi_predictor(project, shuffle=shuffle, which=which, device=device,
                                     engine=engine, options=options.grouping)
    return [analyze_video_multi(predictor, path, options=options) for path in paths]


# --------------------------------------------------------------------------- SLEAP


def export_slp(predictions: Predictions, video: str | Path, path: str | Path) -> Path:
    """Write predictions as a SLEAP ``.slp`` file of predicted instances (via sleap-io).

    Each individual becomes a SLEAP track of its name; each frame's located individuals
    become predicted instances (point scores = likelihoods, instance score = their mean).
    Unique bodyparts (individual ``single``) are left out: SLEAP has no such notion.
    Coordinates are unchanged (SLEAP and posekit both put the origin at the top-left pixel's
    center). The file is written atomically.

    Parameters
    ----------
    predictions : Predictions
        ``data: (n_frames, n_individuals, n_bodyparts, 3)``.
    video : path-like
        The video the predictions are of (referenced by the file, not embedded).
    path : path-like
        The ``.slp`` file.

    Returns
    -------
    Path

    Raises
    ------
    MissingFileError
        If the video does not exist.
    """
    import sleap_io as sio

    video = Path(video)
    if not video.is_file():
        raise MissingFileError(f"Video {video} does not exist; the .slp file must refer to "
                               f"the analyzed video.")
    unique = set(predictions.metadata.get("unique_bodyparts") or [])
    parts = [k for k, name in enumerate(predictions.bodyparts) if name not in unique]
    names = [predictions.bodyparts[k] for k in parts]
    edges = [e for e in predictions.metadata.get("edges") or []
             if e[0] in names and e[1] in names]
    skeleton = sio.Skeleton(nodes=names, edges=[tuple(e) for e in edges])
    sleap_video = sio.Video.from_filename(str(video))
    rows = [i for i, name in enumerate(predictions.individuals)
            if not (unique and name == UNIQUE_INDIVIDUAL)]
    tracks = {i: sio.Track(name=predictions.individuals[i]) for i in rows}
    frames = []
    for f in range(predictions.n_frames):
        instances = []
        for i in rows:
            pose = predictions.data[f, i][parts]
            located = np.isfinite(pose[:, :2]).all(axis=1)
            if not located.any():
                continue
            scores = np.where(located, np.nan_to_num(pose[:, 2], nan=1.0), 0.0)
            instances.append(sio.PredictedInstance.from_numpy(
                pose[:, :2], skeleton=skeleton, point_scores=scores,
                score=float(scores[located].mean()), track=tracks[i]))
        if instances:
            frames.append(sio.LabeledFrame(video=sleap_video, frame_idx=f, instances=instances))
    labels = sio.Labels(labeled_frames=frames, videos=[sleap_video], skeletons=[skeleton],
                        tracks=list(tracks.values()))
    return write_atomic(path, lambda tmp: sio.save_slp(labels, str(tmp), verbose=False))


# --------------------------------------------------------------------------- labeled images


def predict_images(predictor: MultiPredictor, images: Sequence[np.ndarray | str | Path]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Assembled animals in still images (e.g. a test set's labeled frames), one at a time.

    Parameters
    ----------
    predictor : MultiPredictor
    images : sequence of (H, W, 3) uint8 RGB arrays or image paths
        Sizes may differ.

    Returns
    -------
    individuals : ndarray, shape (n_images, max_individuals, K, 3)
        x, y, likelihood of each image's animals, strongest first, NaN-padded.
    unique : ndarray, shape (n_images, K, 3)
    """
    from posekit.data.dataset import read_image_rgb

    n_max, n_parts = len(predictor.spec.individuals), len(predictor.bodyparts)
    individuals = np.full((len(images), n_max, n_parts, 3), np.nan)
    unique = np.full((len(images), n_parts, 3), np.nan)
    for n, image in enumerate(track(images, total=len(images), description="predicting")):
        pixels = image if isinstance(image, np.ndarray) else read_image_rgb(image)
        [(found, single)] = predictor.predict_frames(pixels[None])
        individuals[n, :len(found)] = found
        unique[n] = single
    return individuals, unique
