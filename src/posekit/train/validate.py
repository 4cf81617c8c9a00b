"""Predicting labeled images with a PoseModel, and the errors against their labels."""

from __future__ import annotations

import numpy as np
import torch

from posekit.data.augment import build_eval_transform
from posekit.data.dataset import PoseDataset, make_loader
from posekit.models.pose_model import PoseModel
from posekit.predict.decode import decode_outputs

#: Images are padded (bottom/right) to a multiple of the backbone's coarsest stride.
PAD_MULTIPLE = 32


def eval_dataset(project_root: str, images: list[str], points: np.ndarray) -> PoseDataset:
    """Full-size, unaugmented images (padded to a multiple of 32) for evaluation."""
    return PoseDataset(project_root, images, points,
                       augment=build_eval_transform(pad_to_multiple=PAD_MULTIPLE))


@torch.no_grad()
def predict_dataset(model: PoseModel, dataset: PoseDataset, *, device: str = "cpu",
                    batch_size: int = 1) -> np.ndarray:
    """Predict every image of an evaluation dataset.

    Parameters
    ----------
    model : PoseModel
        The network (switched to eval mode here and back afterwards).
    dataset : PoseDataset
        Built by :func:`eval_dataset`.
    device : str
        Where the model is.
    batch_size : int
        Images per forward pass (images of one batch must share a size).

    Returns
    -------
    ndarray, shape (n_images, n_bodyparts, 3)
        x, y in the original image's pixels, and likelihood.
    """
    was_training = model.training
    model.eval()
    out = []
    for batch in make_loader(dataset, batch_size, shuffle=False):
        outputs = model(batch["image"].to(device))
        decoded = decode_outputs(outputs, model.config).cpu().numpy().astype(np.float64)
        scale = batch["scale"].numpy()[:, None, :]
        decoded[..., :2] = (decoded[..., :2] + 0.5) / scale - 0.5
        out.append(decoded)
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.config.n_bodyparts, 3))


def keypoint_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean distance between predicted and labeled keypoints.

    Parameters
    ----------
    predicted : ndarray, shape (n_images, n_bodyparts, 2 or 3)
        Predictions (likelihood, if present, is ignored).
    truth : ndarray, shape (n_images, n_bodyparts, 2)
        Labels; NaN where not visible.

    Returns
    -------
    ndarray, shape (n_images, n_bodyparts)
        Pixels; NaN where the label is missing.
    """
    return np.linalg.norm(predicted[..., :2] - truth, axis=-1)


def mean_error(errors: np.ndarray) -> float:
    """Mean of the finite errors (what DeepLabCut reports as RMSE); NaN when there are none."""
    finite = errors[np.isfinite(errors)]
    return float(finite.mean()) if finite.size else float("nan")
