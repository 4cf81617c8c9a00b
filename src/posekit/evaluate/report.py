"""Evaluating a trained model on its shuffle's train and test images: numbers and pictures."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from posekit.data.splits import load_split, shuffle_dir_name, split_labels
from posekit.evaluate.metrics import DEFAULT_PCK_THRESHOLDS, keypoint_metrics, per_bodypart_metrics
from posekit.io.atomic import atomic_path, write_text_atomic
from posekit.io.labels import Labels
from posekit.predict.trained import TorchPredictor, Which, load_predictor
from posekit.progress import track
from posekit.project.project import Project
from posekit.train.validate import eval_dataset, predict_dataset
from posekit.viz.labeled_video import DrawStyle, draw_keypoints

logger = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Results of :func:`evaluate`.

    Attributes
    ----------
    summary : dict
        ``train`` and ``test`` metrics (see :func:`keypoint_metrics`), scorer, checkpoint.
    per_bodypart : pandas.DataFrame
        One row per (set, bodypart) with the same metrics.
    folder : Path
        Where results.json, per_bodypart.csv and the test-frame images were written.
    """

    summary: dict[str, Any]
    per_bodypart: pd.DataFrame
    folder: Path


def evaluate(project: Project, *, shuffle: int = 1, which: Which = "best",
             thresholds: tuple[float, ...] = DEFAULT_PCK_THRESHOLDS, plot: bool = True,
             device: str = "auto") -> Evaluation:
    """Evaluate a shuffle's trained model on its train and test images.

    Writes ``results.json``, ``per_bodypart.csv`` and, with ``plot``, one image per test
    frame (labels left, prediction right) to
    ``posekit-evaluation/iteration-<N>/<shuffle folder>/``.

    Parameters
    ----------
    project : Project
        The project.
    shuffle : int
        The shuffle.
    which : {"best", "last"}
        Which checkpoint.
    thresholds : tuple of float
        PCK distances in pixels.
    plot : bool
        Draw the test frames.
    device : {"auto", "cpu", "cuda"}
        Where to run the model.

    Returns
    -------
    Evaluation
    """
    split = load_split(project, shuffle)
    train_labels, test_labels = split_labels(project, split)
    predictor = load_predictor(project, shuffle=shuffle, which=which, device=device)
    pcutoff = project.config.pcutoff
    folder = (project.evaluation_dir / f"iteration-{split.iteration}"
              / shuffle_dir_name(project, fraction=split.fraction, shuffle=shuffle))
    summary: dict[str, Any] = {"scorer": predictor.scorer, "pcutoff": pcutoff,
                               **predictor.model_info}
    rows = []
    predictions = {}
    for name, labels in (("train", train_labels), ("test", test_labels)):
        predicted = _predict_labels(project, predictor, labels)
        predictions[name] = predicted
        truth = labels.points[:, 0]
        summary[name] = keypoint_metrics(predicted, truth, pcutoff=pcutoff, thresholds=thresholds)
        summary[name]["n_images"] = len(labels)
        for part, values in per_bodypart_metrics(predicted, truth, labels.bodyparts,
                                                 pcutoff=pcutoff, thresholds=thresholds).items():
            rows.append({"set": name, "bodypart": part, **values})
    per_bodypart = pd.DataFrame(rows)
    write_text_atomic(folder / "results.json", json.dumps(summary, indent=2, default=float))
    with atomic_path(folder / "per_bodypart.csv") as tmp:
        per_bodypart.to_csv(tmp, index=False)
    if plot:
        _draw_test_frames(project, test_labels, predictions["test"], folder / "test-frames")
    return Evaluation(summary, per_bodypart, folder)


def _predict_labels(project: Project, predictor: TorchPredictor, labels: Labels) -> np.ndarray:
    if len(labels) == 0:
        return np.zeros((0, len(labels.bodyparts), 3))
    dataset = eval_dataset(str(project.root), labels.images, labels.points)
    return predict_dataset(predictor.model, dataset, device=predictor.device)


def _draw_test_frames(project: Project, labels: Labels, predicted: np.ndarray,
                      out_dir: Path) -> list[Path]:
    config = project.config
    style = DrawStyle(pcutoff=0.0, dot_radius=max(2, config.dotsize // 2),
                      colormap=config.colormap, skeleton=tuple(config.edges))
    written = []
    for row, image_path in track(list(enumerate(labels.images)), description="drawing test frames"):
        image = cv2.cvtColor(cv2.imread(str(project.root / image_path)), cv2.COLOR_BGR2RGB)
        truth = np.concatenate([labels.points[row], np.ones((*labels.points.shape[1:3], 1))],
                               axis=-1)
        left = _titled(draw_keypoints(image, truth, labels.bodyparts, style), "labels")
        right = _titled(draw_keypoints(image, predicted[row][None], labels.bodyparts, style),
                        "prediction")
        name = image_path.replace("/", "_").removeprefix("labeled-data_")
        target = out_dir / name
        with atomic_path(target) as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(np.hstack([left, right]), cv2.COLOR_RGB2BGR))
        written.append(target)
    return written


def _titled(image: np.ndarray, title: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2,
                cv2.LINE_AA)
    return out
