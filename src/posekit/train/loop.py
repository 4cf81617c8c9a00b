"""Training a single-animal model: AdamW, warm-up and cosine decay, checkpoints, exact resume."""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit._version import __version__
from posekit.data.augment import build_augmentation, symmetric_pairs_from_config
from posekit.data.dataset import PoseDataset, make_loader
from posekit.data.splits import Split, load_split, split_labels
from posekit.data.targets import PoseTargets, TargetConfig, encode_targets
from posekit.errors import ModelError
from posekit.io.atomic import write_text_atomic
from posekit.io.labels import Labels
from posekit.models.config import ModelConfig
from posekit.models.loss import pose_loss
from posekit.models.pose_model import PoseModel, build_model
from posekit.progress import task
from posekit.project.project import Project
from posekit.runtime import resolve_device, set_threads, tune_allocator
from posekit.train.checkpoint import load_checkpoint, save_checkpoint
from posekit.train.folder import ModelFolder, model_folder
from posekit.train.options import TrainOptions
from posekit.train.validate import eval_dataset, keypoint_errors, mean_error, predict_dataset

logger = logging.getLogger(__name__)

#: Options that may differ between a run and its resumption (they do not change results).
RESUMABLE_DIFFERENCES = {"device", "threads", "num_workers"}


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    folder : ModelFolder
        The model folder.
    best_epoch : int
        Epoch (1-based) of the best checkpoint.
    best_test_error : float
        Its mean test error in pixels.
    final_test_error : float
        Mean test error of the last epoch.
    history : list of dict
        One row per epoch.
    """

    folder: ModelFolder
    best_epoch: int
    best_test_error: float
    final_test_error: float
    history: list[dict[str, Any]] = field(default_factory=list)


def train(project: Project, *, shuffle: int = 1, options: TrainOptions | None = None,
          resume: bool = False, overwrite: bool = False) -> TrainResult:
    """Train the network of one shuffle on its training images.

    Parameters
    ----------
    project : Project
        A project with a training set (``posekit create-dataset``); a multi-animal project
        trains a bottom-up model (:func:`posekit.train.multi_loop.train_multi`).
    shuffle : int
        Which shuffle's split to train on.
    options : TrainOptions, optional
        Epochs, batch size, model, augmentation ...; defaults otherwise.
    resume : bool
        Continue from the folder's last checkpoint; the options must be the same as the
        interrupted run's (except device, threads and workers), and the result is the one an
        uninterrupted run gives.
    overwrite : bool
        Start again from scratch in a folder that already has checkpoints.

    Returns
    -------
    TrainResult

    Raises
    ------
    MissingFileError
        If the shuffle does not exist.
    ModelError
        A folder with checkpoints and neither ``resume`` nor
        ``overwrite``; resuming with different options or a corrupt checkpoint.
    """
    options = options or TrainOptions()
    if project.config.is_multi_animal:
        from posekit.train.multi_loop import train_multi

        return train_multi(project, shuffle=shuffle, options=options, resume=resume,
                           overwrite=overwrite)
    split = load_split(project, shuffle)
    train_labels, test_labels = split_labels(project, split)
    folder = model_folder(project, split)
    device = resolve_device(options.device)
    tune_allocator()
    set_threads(options.threads)
    state = _starting_state(folder, options, resume=resume, overwrite=overwrite)
    torch.manual_seed(options.seed)
    model = _make_model(project, options, init=state, device=device)
    run = _Run(project, split, folder, options, model, device, train_labels, test_labels)
    if state is None:
        folder.write_info(run.info())
    else:
        run.restore(state)
    return run.fit()


def _starting_state(folder: ModelFolder, options: TrainOptions, *, resume: bool,
                    overwrite: bool) -> dict[str, Any] | None:
    has_checkpoints = folder.last.is_file()
    if resume:
        if not has_checkpoints:
            raise ModelError(f"Nothing to resume in {folder.path}: no last.pt. Train without "
                             f"--resume to start.")
        state = load_checkpoint(folder.last)
        saved = TrainOptions.model_validate(state["options"])
        differ = {k for k in TrainOptions.model_fields
                  if getattr(saved, k) != getattr(options, k)} - RESUMABLE_DIFFERENCES
        if differ:
            raise ModelError(
                f"Resuming {folder.path} with options that differ from the interrupted run: "
                + ", ".join(f"{k} (was {getattr(saved, k)!r}, now {getattr(options, k)!r})"
                            for k in sorted(differ))
                + ". Resume with the same options, or train again with --overwrite.")
        return state
    if has_checkpoints and not overwrite:
        raise ModelError(f"{folder.path} already holds a trained model. Use --resume to continue "
                         f"an interrupted run, or --overwrite to train again from scratch.")
    if overwrite and folder.checkpoints.is_dir():
        for old in folder.checkpoints.glob("*.pt"):
            old.unlink()
    return None


def model_config_for(project: Project, options: TrainOptions, *, pretrained: bool) -> ModelConfig:
    """The network architecture for a project and options."""
    return ModelConfig(backbone=options.backbone, n_bodyparts=len(project.config.pose_bodyparts),
                       output_stride=options.output_stride,
                       pretrained=pretrained and options.weights is None,
                       weights=options.weights if pretrained else None)


def _make_model(project: Project, options: TrainOptions, *, init: dict[str, Any] | None,
                device: str) -> PoseModel:
    model = build_model(model_config_for(project, options, pretrained=init is None))
    if init is not None:
        model.load_state_dict(init["model"])
    elif options.init_from is not None:
        start = load_checkpoint(options.init_from)
        try:
            model.load_state_dict(start["model"])
        except RuntimeError as error:
            raise ModelError(f"{options.init_from} does not fit this model ({options.backbone}, "
                             f"{len(project.config.pose_bodyparts)} bodyparts): {error}") from None
        logger.info("starting from the weights of %s", options.init_from)
    return model.to(device, memory_format=torch.channels_last)


def lr_factor(step: int, *, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine decay to 1% of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class _Run:
    """One training run's state; :meth:`fit` runs the remaining epochs."""

    def __init__(self, project: Project, split: Split, folder: ModelFolder,
                 options: TrainOptions, model: PoseModel, device: str, train_labels: Labels,
                 test_labels: Labels) -> None:
        self.project, self.split, self.folder, self.options = project, split, folder, options
        self.model, self.device = model, device
        self.targets = model.target_config()
        bodyparts = project.config.pose_bodyparts
        augment = build_augmentation(options.augmentation, crop_size=options.crop_size,
                                     symmetric_pairs=symmetric_pairs_from_config(project.config),
                                     bodyparts=bodyparts)
        self.train_set = PoseDataset(project.root, train_labels.images, train_labels.points,
                                     augment=augment, target_encoder=_Encoder(self.targets),
                                     seed=options.seed)
        self.test_set = eval_dataset(str(project.root), test_labels.images, test_labels.points)
        self.test_truth = test_labels.points[:, 0]
        self.loader = make_loader(self.train_set, options.batch_size, shuffle=True,
                                  num_workers=options.num_workers, seed=options.seed,
                                  drop_last=len(self.train_set) >= options.batch_size)
        steps = len(self.loader)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate,
                                           weight_decay=options.weight_decay)
        total, warmup = options.epochs * steps, int(round(options.warmup_epochs * steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, total=total, warmup=warmup))
        self.epoch = 0
        self.best = (0, float("inf"))
        self.history: list[dict[str, Any]] = []

    def info(self) -> dict[str, Any]:
        """model.json contents: how this model is made, and from what."""
        config = self.project.config
        return {"posekit_version": __version__, "task": config.Task, "scorer": config.scorer,
                "bodyparts": config.pose_bodyparts, "skeleton": config.edges,
                "model": self.model.config.model_dump(mode="json"),
                "targets": self.targets.model_dump(mode="json"),
                "train_options": self.options.model_dump(mode="json"),
                "shuffle": self.split.shuffle, "iteration": self.split.iteration,
                "train_fraction": self.split.fraction, "split_file": str(self.split.path),
                "n_train": len(self.train_set), "n_test": len(self.test_set),
                "project_config": config.model_dump(mode="json")}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint written by :meth:`_save`."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.best = (int(state["best_epoch"]), float(state["best_error"]))
        self.history = _read_history(self.folder.history)[: self.epoch]
        if self.best[0] == self.epoch and _epoch_of(self.folder.best) != self.epoch \
                or not self.folder.snapshot(self.epoch).is_file():
            self._save_epoch_files({k: state[k] for k in ("model", "epoch", "options",
                                                          "model_config", "test_error")})
        logger.info("resuming %s after epoch %d", self.folder.path, self.epoch)

    def fit(self) -> TrainResult:
        """Run the remaining epochs, evaluating and checkpointing as configured."""
        opts = self.options
        remaining = opts.epochs - self.epoch
        with task(f"training {opts.backbone}", total=remaining * len(self.loader)) as bar:
            while self.epoch < opts.epochs:
                row = self._train_epoch(bar)
                self.epoch += 1
                if self.epoch % opts.eval_every == 0 or self.epoch == opts.epochs:
                    row["test_error"] = self._test_error()
                    bar.note(f"loss {row['loss']:.4f}  test error {row['test_error']:.2f} px")
                self.history.append({"epoch": self.epoch, **row})
                self._save(row)
        final = next((r["test_error"] for r in reversed(self.history) if "test_error" in r),
                     float("nan"))
        return TrainResult(self.folder, self.best[0], self.best[1], final, self.history)

    def _train_epoch(self, bar: Any) -> dict[str, Any]:
        self.model.train()
        self.loader.sampler.set_epoch(self.epoch)
        started, totals, n = time.perf_counter(), np.zeros(3), 0
        for batch in self.loader:
            images = batch["image"].to(self.device, memory_format=torch.channels_last)
            outputs = self.model(images)
            loss = pose_loss(outputs, PoseTargets(batch["heatmaps"], batch["heatmap_weights"],
                                                  batch["locref"], batch["locref_weights"]))
            if not torch.isfinite(loss.total):
                raise ModelError(f"the training loss became {loss.total.item()} at epoch "
                                 f"{self.epoch + 1}; lower --learning-rate and train again.")
            self.optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            self.optimizer.step()
            self.scheduler.step()
            totals += [loss.total.item(), loss.heatmap.item(), loss.locref.item()]
            n += 1
            bar.advance()
            bar.note(f"epoch {self.epoch + 1}/{self.options.epochs}  loss {loss.total.item():.4f}")
        return {"loss": totals[0] / max(n, 1), "heatmap_loss": totals[1] / max(n, 1),
                "locref_loss": totals[2] / max(n, 1),
                "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - started}

    def _test_error(self) -> float:
        if len(self.test_set) == 0:
            return float("nan")
        predicted = predict_dataset(self.model, self.test_set, device=self.device)
        return mean_error(keypoint_errors(predicted, self.test_truth))

    def _save(self, row: dict[str, Any]) -> None:
        """Write last.pt first (what resuming needs), then best.pt and the numbered snapshot.

        A kill between the writes loses nothing: :meth:`restore` rewrites from last.pt any
        best or snapshot checkpoint of that epoch that is missing.
        """
        error = row.get("test_error", float("nan"))
        if math.isfinite(error) and error < self.best[1]:
            self.best = (self.epoch, error)
        _write_history(self.folder.history, self.history)
        state = self._state(error)
        save_checkpoint(self.folder.last, {
            **state, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "best_epoch": self.best[0],
            "best_error": self.best[1]})
        self._save_epoch_files(state)

    def _state(self, error: float) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "epoch": self.epoch,
                "options": self.options.model_dump(mode="json"),
                "model_config": self.model.config.model_dump(mode="json"), "test_error": error}

    def _save_epoch_files(self, state: dict[str, Any]) -> None:
        """best.pt when this epoch is the best (or nothing was evaluated) and the snapshot."""
        if self.best[0] == self.epoch or not self.folder.best.is_file():
            save_checkpoint(self.folder.best, state)
        if self.epoch % self.options.checkpoint_every == 0 or self.epoch == self.options.epochs:
            save_checkpoint(self.folder.snapshot(self.epoch), state)


class _Encoder:
    """Target encoder for single-animal samples: keypoints (1, K, 2) -> PoseTargets."""

    def __init__(self, config: TargetConfig) -> None:
        self.config = config

    def __call__(self, keypoints: np.ndarray, size: tuple[int, int]) -> PoseTargets:
        return encode_targets(keypoints[0], size, self.config)


def _epoch_of(checkpoint: Path) -> int | None:
    """The epoch stored in a checkpoint, or None when it is missing or unreadable."""
    try:
        return int(load_checkpoint(checkpoint)["epoch"])
    except (OSError, ValueError, KeyError):
        return None


HISTORY_FIELDS = ["epoch", "loss", "heatmap_loss", "locref_loss", "lr", "seconds", "test_error"]


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, stream.getvalue())


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(handle)]
