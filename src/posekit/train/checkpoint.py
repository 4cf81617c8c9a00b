"""Checkpoints: everything needed to resume training exactly, written atomically."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from posekit.errors import MissingFileError, ModelError
from posekit.io.atomic import atomic_path

logger = logging.getLogger(__name__)

FORMAT = "posekit-checkpoint-1"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically save a checkpoint (a dict of tensors, numbers and strings).

    The file appears complete or not at all, so a run killed while saving resumes from the
    previous checkpoint.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)
    return path


def load_checkpoint(path: str | Path, *, device: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    ModelError
        If it is corrupt, truncated or not a posekit checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Checkpoint {path} does not exist.")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError ...
        raise ModelError(f"Checkpoint {path} is corrupt or unreadable ({type(error).__name__}: "
                         f"{error}). Delete it to fall back to an earlier checkpoint, or "
                         f"retrain.") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelError(f"{path} is not a posekit checkpoint (expected format {FORMAT!r}).")
    return state
