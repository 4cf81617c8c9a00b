"""Training a bottom-up multi-animal model, with the single-animal loop's scheme.

:func:`train_multi` is what :func:`posekit.train.loop.train` runs for a multi-animal project.
Everything but the network, its targets and its validation is the single-animal loop's
(:class:`posekit.train.loop._Run`): AdamW with warm-up and cosine decay, the model folder
(``model.json``, ``history.csv``, ``checkpoints/{last,best,epoch-NNNN}.pt``), exact resume
and the same :class:`~posekit.train.options.TrainOptions`.

- Training samples are crops (``TrainOptions.crop_size``) of the frames, placed around the
  animals by the augmenter (around one animal when they do not all fit), so frames of any
  size fit in memory; with ``MultiAnimalOptions.global_scale`` frames are first resized
  (e.g. 0.5 for 1024x1024 frames of small animals: 4x less computation at inference).
- Targets: :func:`posekit.data.multi_targets.encode_multi_targets`, one part affinity field
  per edge; the loss :func:`posekit.models.multi_head.multi_pose_loss`.
- Edges: ``MultiAnimalOptions.edges`` when given; else the project's skeleton when it joins
  every bodyparts; else the skeleton completed by :func:`posekit.multi.edges.choose_edges`
  from the training labels (a minimum spanning tree of the most reliable pairs).
- Test error: each test image's animals are predicted, assembled, matched one-to-one to the
  labeled animals (Hungarian on mean keypoint distance) and the mean distance of the matched
  keypoints is reported (pixels of the original frames).
- Unique bodyparts get score maps and offsets (an extra "individual" carries them) and no
  fields.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import linear_sum_assignment

from posekit._version import __version__
from posekit.data.augment import build_augmentation, symmetric_pairs_from_config
from posekit.data.dataset import PoseDataset, make_loader, read_image_rgb
from posekit.data.multi_targets import MultiPoseTargets, MultiTargetEncoder
from posekit.data.splits import Split, load_split, split_labels
from posekit.errors import ModelError
from posekit.io.atomic import write_text_atomic
from posekit.io.labels import Labels
from posekit.models.multi_head import (
    DEFAULT_LIMB_WEIGHT,
    DEFAULT_PAF_WEIGHT,
    MultiModelConfig,
    MultiPoseModel,
    build_multi_model,
    multi_pose_loss,
)
from posekit.multi.edges import choose_edges, edge_indices
from posekit.multi.errors import MultiAnimalError
from posekit.multi.scoring import EdgePriors, learn_edge_priors
from posekit.predict.multi_analyze import predict_images
from posekit.predict.multi_decode import (
    GroupingOptions,
    MultiModelSpec,
    MultiPredictor,
    torch_runner,
)
from posekit.project.project import Project
from posekit.runtime import resolve_device, set_threads, tune_allocator
from posekit.train import loop
from posekit.train.checkpoint import load_checkpoint
from posekit.train.folder import ModelFolder, model_folder
from posekit.train.options import TrainOptions

logger = logging.getLogger(__name__)

MULTI_HISTORY_FIELDS = [*loop.HISTORY_FIELDS[:4], "paf_loss", *loop.HISTORY_FIELDS[4:]]


class MultiAnimalOptions(BaseModel):
    """Settings of a multi-animal model beyond :class:`TrainOptions` (strict).

    Attributes
    ----------
    global_scale : float
        Frames are resized by this factor before the network, in training and analysis.
    edges : list of (str, str) or None
        Bodypart pairs to learn part affinity fields for; None: the skeleton, completed from
        the labels when it does not join every bodypart.
    sigma : float or None
        Score-map Gaussian standard deviation in pixels (of the resized frames); None: the
        output stride.
    paf_half_width : float or None
        Half width of the limb band in pixels; None: the output stride.
    paf_weight : float
        Weight of the field term of the loss.
    limb_weight : float
        Weight of limb cells relative to background cells in the field term.
    paf_blocks : int
        Depthwise-separable blocks of the field branch.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    global_scale: float = Field(default=1.0, gt=0.05, le=4.0)
    edges: list[tuple[str, str]] | None = None
    sigma: float | None = Field(default=None, gt=0.0)
    paf_half_width: float | None = Field(default=None, gt=0.0)
    paf_weight: float = Field(default=DEFAULT_PAF_WEIGHT, ge=0.0)
    limb_weight: float = Field(default=DEFAULT_LIMB_WEIGHT, ge=1.0)
    paf_blocks: int = Field(default=3, ge=0, le=8)


def resolve_edges(project: Project, points: np.ndarray,
                  requested: list[tuple[str, str]] | None = None) -> list[tuple[int, int]]:
    """The edges to learn fields for, as indices into the pose bodyparts.

    Parameters
    ----------
    project : Project
        A multi-animal project.
    points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        Training labels of the pose bodyparts (to choose edges when the skeleton is
        incomplete).
    requested : list of (str, str), optional
        Edges the user chose.

    Raises
    ------
    ModelError
        If the animals have fewer than two bodyparts, or a requested or skeleton edge
        names a unique or unknown bodypart.
    MultiAnimalError
        If edges must be chosen and a bodypart is never labeled together with the others.
    """
    bodyparts = project.config.pose_bodyparts
    if len(bodyparts) < 2:
        raise ModelError(f"{project.root}: a multi-animal model needs at least two bodyparts "
                         f"per animal to group keypoints, found {bodyparts}.")
    try:
        if requested is not None:
            return edge_indices(requested, bodyparts)
        skeleton = [e for e in project.config.edges if e[0] in bodyparts and e[1] in bodyparts]
        indices = edge_indices(skeleton, bodyparts)
    except MultiAnimalError as error:
        raise ModelError(f"edges must join two bodyparts of the animals {bodyparts} "
                         f"(not unique bodyparts): {error}") from None
    if _connected(indices, len(bodyparts)):
        return indices
    chosen = choose_edges(points, bodyparts, keep=skeleton)
    logger.info("the skeleton does not join every bodypart; edges chosen from the labels: %s",
                chosen)
    return edge_indices(chosen, bodyparts)


def _connected(edges: list[tuple[int, int]], n: int) -> bool:
    parent = list(range(n))

    def find(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for a, b in edges:
        parent[find(a)] = find(b)
    return len({find(k) for k in range(n)}) == 1


def packed_points(labels: Labels) -> np.ndarray:
    """Labels of the animals and the unique bodyparts in one array.

    Returns
    -------
    ndarray, shape (n_images, n_individuals (+1 with unique bodyparts), K, 2)
        ``K = n_bodyparts + n_unique``; animals have NaN unique bodyparts, and the extra
        last row holds only the unique bodyparts.
    """
    n_images, n_ind, n_pose = labels.points.shape[:3]
    n_unique = len(labels.unique_bodyparts)
    out = np.full((n_images, n_ind + (1 if n_unique else 0), n_pose + n_unique, 2), np.nan)
    out[:, :n_ind, :n_pose] = labels.points
    if n_unique:
        out[:, n_ind, n_pose:] = labels.unique_points
    return out


class Rescaled:
    """Resize an image (and its keypoints) by ``scale``, then apply ``inner``.

    Parameters
    ----------
    inner : callable
        ``inner(image, keypoints, rng) -> (image, keypoints)`` (an Augmenter or EvalTransform).
    scale : float
        Output pixels per input pixel.
    """

    def __init__(self, inner: Any, scale: float) -> None:
        self.inner = inner
        self.scale = float(scale)

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, rng: Any = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        if self.scale != 1.0:
            height, width = image.shape[:2]
            new_w = max(1, int(round(width * self.scale)))
            new_h = max(1, int(round(height * self.scale)))
            method = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
            image = cv2.resize(image, (new_w, new_h), interpolation=method)
            keypoints = (np.asarray(keypoints, dtype=np.float64) + 0.5) \
                * np.array([new_w / width, new_h / height]) - 0.5
        return self.inner(image, keypoints, rng)


def matched_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Keypoint errors after matching predicted to labeled animals, image by image.

    Parameters
    ----------
    predicted : ndarray, shape (n_images, n_predicted, K, 2+)
    truth : ndarray, shape (n_images, n_truth, K, 2)

    Returns
    -------
    ndarray, shape (n_images, n_truth, K)
        Distance of each labeled keypoint to its matched animal's; NaN where not labeled,
        not predicted, or the animal was matched to no prediction.
    """
    errors = np.full(truth.shape[:3], np.nan)
    for n in range(truth.shape[0]):
        d = np.linalg.norm(predicted[n, :, None, :, :2] - truth[n, None], axis=-1)
        shared = np.isfinite(d).sum(axis=-1)
        mean = np.where(shared > 0, np.nansum(np.where(np.isfinite(d), d, 0.0), axis=-1)
                        / np.maximum(shared, 1), np.inf)
        if not np.isfinite(mean).any():
            continue
        rows, cols = linear_sum_assignment(np.where(np.isfinite(mean), mean, 1e12))
        for r, c in zip(rows, cols, strict=True):
            if np.isfinite(mean[r, c]):
                errors[n, c] = d[r, c]
    return errors


def train_multi(project: Project, *, shuffle: int = 1, options: TrainOptions | None = None,
                multi: MultiAnimalOptions | None = None, resume: bool = False,
                overwrite: bool = False) -> loop.TrainResult:
    """Train the bottom-up multi-animal network of one shuffle.

    Parameters
    ----------
    project : Project
        A multi-animal project with a training set (``posekit create-dataset``).
    shuffle : int
        Which shuffle's split to train on.
    options : TrainOptions, optional
        Epochs, batch size, crop size, backbone, stride, augmentation ...
    multi : MultiAnimalOptions, optional
        Scale, edges, field settings.
    resume : bool
        Continue from the last checkpoint (same options required; the result is the one an
        uninterrupted run gives).
    overwrite : bool
        Start again in a folder that holds checkpoints.

    Returns
    -------
    TrainResult
        ``best_test_error``/``final_test_error``: mean matched keypoint error in pixels.

    Raises
    ------
    MissingFileError
        If the shuffle does not exist.
    ModelError
        Single-animal project; checkpoints without ``resume``/``overwrite``; resuming with
        other options; fewer than two bodyparts per animal; bad edges.
    """
    options = options or TrainOptions()
    multi = multi or MultiAnimalOptions()
    if not project.config.is_multi_animal:
        raise ModelError(f"{project.root} is a single-animal project; train it with "
                         "posekit.train.loop.train.")
    split = load_split(project, shuffle)
    train_labels, test_labels = split_labels(project, split)
    folder = model_folder(project, split)
    state = loop._starting_state(folder, options, resume=resume, overwrite=overwrite)
    if state is not None:
        _check_same_multi(folder, multi)
    device = resolve_device(options.device)
    tune_allocator()
    set_threads(options.threads)
    edges = resolve_edges(project, train_labels.points, multi.edges)
    torch.manual_seed(options.seed)
    model = _make_model(project, options, multi, len(edges), init=state, device=device)
    spec = _spec(project, model, edges, multi, train_labels)
    run = _MultiRun(project, split, folder, options, model, device, train_labels,
                    test_labels, spec=spec, multi=multi)
    if state is None:
        folder.write_info(run.info())
    else:
        run.restore(state)
    return run.fit()


def _check_same_multi(folder: ModelFolder, multi: MultiAnimalOptions) -> None:
    saved = MultiAnimalOptions.model_validate(folder.read_info().get("multi_options", {}))
    differ = [k for k in MultiAnimalOptions.model_fields if getattr(saved, k) != getattr(multi, k)]
    if differ:
        raise ModelError(f"Resuming {folder.path} with multi-animal options that differ from "
                         f"the interrupted run: " + ", ".join(
                             f"{k} (was {getattr(saved, k)!r}, now {getattr(multi, k)!r})"
                             for k in differ) + ". Resume with the same options, or train "
                         "again with --overwrite.")


def _make_model(project: Project, options: TrainOptions, multi: MultiAnimalOptions,
                n_edges: int, *, init: dict[str, Any] | None, device: str) -> MultiPoseModel:
    pretrained = init is None
    config = MultiModelConfig(
        backbone=options.backbone, n_bodyparts=len(project.config.all_bodyparts),
        n_edges=n_edges, output_stride=options.output_stride,
        pretrained=pretrained and options.pretrained and options.weights is None,
        weights=options.weights if pretrained else None, paf_blocks=multi.paf_blocks)
    model = build_multi_model(config)
    start = init if init is not None else (
        load_checkpoint(options.init_from) if options.init_from is not None else None)
    if start is not None:
        try:
            model.load_state_dict(start["model"])
        except (RuntimeError, KeyError) as error:
            raise ModelError(f"the checkpoint does not fit this multi-animal model "
                             f"({options.backbone}, {config.n_bodyparts} bodyparts, {n_edges} "
                             f"edges): {error}") from None
    return model.to(device, memory_format=torch.channels_last)


def _spec(project: Project, model: MultiPoseModel, edges: list[tuple[int, int]],
          multi: MultiAnimalOptions, labels: Labels) -> MultiModelSpec:
    scaled = (labels.points + 0.5) * multi.global_scale - 0.5
    try:
        priors: EdgePriors | None = learn_edge_priors(scaled, edges)
    except MultiAnimalError as error:
        logger.info("no limb-length prior (%s)", error)
        priors = None
    return MultiModelSpec(bodyparts=project.config.pose_bodyparts,
                          unique_bodyparts=project.config.unique_bodyparts,
                          individuals=project.config.individual_names, edges=edges,
                          stride=model.output_stride, locref_stdev=model.config.locref_stdev,
                          global_scale=multi.global_scale, priors=priors)


class _MultiRun(loop._Run):
    """The single-animal run with a multi-animal network, targets, loss and test error."""

    def __init__(self, project: Project, split: Split, folder: ModelFolder,
                 options: TrainOptions, model: MultiPoseModel, device: str,
                 train_labels: Labels, test_labels: Labels, *, spec: MultiModelSpec,
                 multi: MultiAnimalOptions) -> None:
        self.project, self.split, self.folder, self.options = project, split, folder, options
        self.model, self.device, self.spec, self.multi = model, device, spec, multi
        self.targets = model.target_config(sigma=multi.sigma,
                                           paf_half_width=multi.paf_half_width)
        bodyparts = project.config.all_bodyparts
        augment = build_augmentation(options.augmentation, crop_size=options.crop_size,
                                     symmetric_pairs=symmetric_pairs_from_config(project.config),
                                     bodyparts=bodyparts)
        self.train_set = PoseDataset(project.root, train_labels.images,
                                     packed_points(train_labels),
                                     augment=Rescaled(augment, multi.global_scale),
                                     target_encoder=MultiTargetEncoder(self.targets, spec.edges),
                                     seed=options.seed)
        self.test_images = [project.root / image for image in test_labels.images]
        self.test_truth = packed_points(test_labels)
        self._test_pixels: list[np.ndarray] | None = None
        self.loader = make_loader(self.train_set, options.batch_size, shuffle=True,
                                  num_workers=options.num_workers, seed=options.seed,
                                  drop_last=len(self.train_set) >= options.batch_size)
        steps = len(self.loader)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate,
                                           weight_decay=options.weight_decay)
        total, warmup = options.epochs * steps, int(round(options.warmup_epochs * steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: loop.lr_factor(s, total=total, warmup=warmup))
        self.epoch = 0
        self.best = (0, float("inf"))
        self.history: list[dict[str, Any]] = []

    def info(self) -> dict[str, Any]:
        """model.json: the single-animal record plus the multi-animal description."""
        config = self.project.config
        return {"posekit_version": __version__, "task": config.Task, "scorer": config.scorer,
                "bodyparts": config.all_bodyparts, "skeleton": config.edges,
                "model": self.model.config.model_dump(mode="json"),
                "targets": self.targets.model_dump(mode="json"),
                "train_options": self.options.model_dump(mode="json"),
                "multi_options": self.multi.model_dump(mode="json"),
                "multi": self.spec.to_json(),
                "shuffle": self.split.shuffle, "iteration": self.split.iteration,
                "train_fraction": self.split.fraction, "split_file": str(self.split.path),
                "n_train": len(self.train_set), "n_test": len(self.test_images),
                "project_config": config.model_dump(mode="json")}

    def _train_epoch(self, bar: Any) -> dict[str, Any]:
        self.model.train()
        self.loader.sampler.set_epoch(self.epoch)
        started, totals, n = time.perf_counter(), np.zeros(4), 0
        for batch in self.loader:
            images = batch["image"].to(self.device, memory_format=torch.channels_last)
            outputs = self.model(images)
            targets = MultiPoseTargets(*(batch[name] for name in MultiPoseTargets._fields))
            loss = multi_pose_loss(outputs, targets, paf_weight=self.multi.paf_weight,
                                   limb_weight=self.multi.limb_weight)
            if not torch.isfinite(loss.total):
                raise ModelError(f"the training loss became {loss.total.item()} at epoch "
                                 f"{self.epoch + 1}; lower --learning-rate and train again.")
            self.optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            self.optimizer.step()
            self.scheduler.step()
            totals += [loss.total.item(), loss.heatmap.item(), loss.locref.item(),
                       loss.paf.item()]
            n += 1
            bar.advance()
            bar.note(f"epoch {self.epoch + 1}/{self.options.epochs}  loss {loss.total.item():.4f}")
        means = totals / max(n, 1)
        return {"loss": means[0], "heatmap_loss": means[1], "locref_loss": means[2],
                "paf_loss": means[3], "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - started}

    def _test_error(self) -> float:
        if not self.test_images:
            return float("nan")
        if self._test_pixels is None:
            self._test_pixels = [read_image_rgb(path) for path in self.test_images]
        was_training = self.model.training
        self.model.eval()
        try:
            predictor = MultiPredictor(torch_runner(self.model, self.device), spec=self.spec,
                                       options=GroupingOptions())
            individuals, unique = predict_images(predictor, self._test_pixels)
        finally:
            self.model.train(was_training)
        predicted = individuals
        if self.spec.unique_bodyparts:
            predicted = np.concatenate([individuals, unique[:, None]], axis=1)
        errors = matched_errors(predicted, self.test_truth)
        finite = errors[np.isfinite(errors)]
        return float(finite.mean()) if finite.size else float("nan")

    def _save(self, row: dict[str, Any]) -> None:
        super()._save(row)
        _write_history(self.folder.history, self.history)


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=MULTI_HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, stream.getvalue())
