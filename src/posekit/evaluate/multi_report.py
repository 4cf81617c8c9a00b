"""Evaluating a multi-animal model: matched keypoint error, OKS mAP, and tracking metrics."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from posekit.data.splits import load_split, shuffle_dir_name, split_labels
from posekit.errors import MissingFileError
from posekit.evaluate.multi_metrics import mot_metrics, multi_animal_rmse, oks_map
from posekit.io.atomic import write_text_atomic
from posekit.io.labels import Labels
from posekit.io.predictions import read_predictions
from posekit.predict.locate import find_analysis
from posekit.predict.multi_analyze import load_multi_predictor, predict_images
from posekit.project.labels import load_project_labels
from posekit.project.project import Project

logger = logging.getLogger(__name__)

#: Largest mean keypoint distance (px) at which a track counts as following an animal.
DEFAULT_MOT_DISTANCE = 30.0
_FRAME_NUMBER = re.compile(r"img(\d+)\.\w+$")


def evaluate_multi(project: Project, *, shuffle: int = 1, which: str = "best",
                   mot_distance: float = DEFAULT_MOT_DISTANCE) -> dict[str, Any]:
    """Evaluate a shuffle's multi-animal model and write ``results.json``.

    Reports, for the train and test images, the keypoint error after matching predicted to
    labeled animals (per bodypart too) and COCO-style OKS mAP; and, for every labeled video
    that has a tracked analysis next to it, MOTA, IDF1 and identity switches of the tracks on
    the labeled frames (labels name the individuals, so identities are checked).

    Parameters
    ----------
    project : Project
        A multi-animal project with a trained shuffle.
    shuffle : int
        The shuffle.
    which : {"best", "last"}
        Which checkpoint.
    mot_distance : float
        Pixels: the largest mean keypoint distance at which a track matches an animal.

    Returns
    -------
    dict
        ``train``, ``test`` (keypoint and OKS metrics) and ``tracking`` (per video).
    """
    split = load_split(project, shuffle)
    train_labels, test_labels = split_labels(project, split)
    predictor = load_multi_predictor(project, shuffle=shuffle, which=which)  # type: ignore[arg-type]
    summary: dict[str, Any] = {"scorer": predictor.scorer, "mot_distance_px": mot_distance}
    for name, labels in (("train", train_labels), ("test", test_labels)):
        summary[name] = _image_metrics(project, predictor, labels)
    summary["tracking"] = _tracking_metrics(project, mot_distance)
    folder = (project.evaluation_dir / f"iteration-{split.iteration}"
              / shuffle_dir_name(project, fraction=split.fraction, shuffle=shuffle))
    write_text_atomic(folder / "results.json", json.dumps(summary, indent=2, default=float))
    summary["folder"] = str(folder)
    return summary


def _image_metrics(project: Project, predictor: Any, labels: Labels) -> dict[str, Any]:
    if len(labels) == 0:
        return {"n_images": 0}
    predicted, _ = predict_images(predictor, [project.root / image for image in labels.images])
    columns = [list(predictor.bodyparts).index(name) for name in labels.bodyparts]
    predicted = predicted[:, :, columns]  # unique bodyparts are not per animal
    metrics = multi_animal_rmse(predicted, labels.points, bodyparts=labels.bodyparts)
    metrics.update({f"oks_{k}": v for k, v in oks_map(predicted, labels.points).items()
                    if k in ("mAP", "AP50", "AP75", "mean_oks")})
    metrics["n_images"] = len(labels)
    return metrics


def _tracking_metrics(project: Project, mot_distance: float) -> dict[str, Any]:
    """MOT metrics of each labeled video's tracked analysis on its labeled frames."""
    labels = load_project_labels(project, check_images=False)
    results: dict[str, Any] = {}
    for video in project.videos():
        rows = [(i, int(m.group(1))) for i, image in enumerate(labels.images)
                if image.split("/")[1] == video.stem and (m := _FRAME_NUMBER.search(image))]
        if len(rows) < 2:
            continue
        try:
            tracks = read_predictions(find_analysis(video))
        except MissingFileError:
            logger.info("no analysis of %s: no tracking metrics for it", video.name)
            continue
        columns = [tracks.bodyparts.index(name) for name in labels.bodyparts]
        rows = sorted((frame, i) for i, frame in rows if frame < tracks.data.shape[0])
        frames = [frame for frame, _ in rows]
        truth = labels.points[[i for _, i in rows]]
        results[video.name] = {"n_labeled_frames": len(frames),
                               **mot_metrics(tracks.data[frames][:, :, columns], truth,
                                             max_distance=mot_distance)}
    return results


def format_multi_summary(summary: dict[str, Any]) -> list[str]:
    """Lines a person reads: errors, mAP and tracking metrics."""
    lines = []
    for name in ("train", "test"):
        m = summary[name]
        if m.get("n_images"):
            lines.append(f"{name}: {m['n_images']} images, matched keypoint RMSE "
                         f"{m['rmse_px']:.2f} px (mean {m['mean_error_px']:.2f}), OKS mAP "
                         f"{m['oks_mAP']:.3f}")
    for video, m in summary["tracking"].items():
        lines.append(f"{video}: MOTA {m['mota']:.3f}, IDF1 {m['idf1']:.3f}, identity switches "
                     f"{m['id_switches']} over {m['n_labeled_frames']} labeled frames")
    return lines
