"""Where a trained model lives.

``posekit-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<S>/``
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posekit.data.splits import Split, load_split, shuffle_dir_name
from posekit.errors import ModelError
from posekit.io.atomic import write_text_atomic
from posekit.project.project import Project


@dataclass(frozen=True)
class ModelFolder:
    """The files of one trained model.

    Attributes
    ----------
    path : Path
        The folder.
    """

    path: Path

    @property
    def info_path(self) -> Path:
        """``model.json``: architecture, options, bodyparts, provenance."""
        return self.path / "model.json"

    @property
    def checkpoints(self) -> Path:
        """Folder of the checkpoints."""
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        """The checkpoint written after the latest finished epoch (resume from it)."""
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        """The checkpoint with the lowest validation error."""
        return self.checkpoints / "best.pt"

    @property
    def history(self) -> Path:
        """``history.csv``: loss, learning rate and test RMSE per epoch."""
        return self.path / "history.csv"

    def snapshot(self, epoch: int) -> Path:
        """The numbered checkpoint of ``epoch``."""
        return self.checkpoints / f"epoch-{epoch:04d}.pt"

    def read_info(self) -> dict[str, Any]:
        """The contents of model.json."""
        if not self.info_path.is_file():
            raise ModelError(f"{self.path} holds no trained model (no model.json). Train one "
                             f"with `posekit train`.")
        return json.loads(self.info_path.read_text(encoding="utf-8"))

    def write_info(self, info: dict[str, Any]) -> None:
        """Atomically write model.json."""
        write_text_atomic(self.info_path, json.dumps(info, indent=2, default=str))


def model_folder(project: Project, split: Split) -> ModelFolder:
    """The model folder of a shuffle (it may not exist yet)."""
    name = shuffle_dir_name(project, fraction=split.fraction, shuffle=split.shuffle)
    return ModelFolder(project.models_dir / f"iteration-{split.iteration}" / name)


def trained_model_folder(project: Project, shuffle: int, *,
                         iteration: int | None = None) -> ModelFolder:
    """The folder of a trained model, checked to hold one.

    Raises
    ------
    MissingFileError
        If the shuffle does not exist (from :func:`posekit.data.splits.load_split`).
    ModelError
        If the shuffle has no trained model.
    """
    folder = model_folder(project, load_split(project, shuffle, iteration=iteration))
    if not folder.best.is_file() and not folder.last.is_file():
        raise ModelError(f"Shuffle {shuffle} of {project.root} has no trained model (nothing in "
                         f"{folder.checkpoints}). Train it first: `posekit train {project.root} "
                         f"--shuffle {shuffle}`.")
    return folder


def previous_iteration_checkpoint(project: Project, shuffle: int) -> Path:
    """The best checkpoint of the same shuffle in the previous iteration (to start from).

    Raises
    ------
    ModelError
        If the project is at iteration 0 or that model does not exist.
    """
    previous = project.config.iteration - 1
    if previous < 0:
        raise ModelError(f"{project.root} is at iteration 0: there is no previous iteration "
                         f"to start from. Run `posekit merge` after refining outlier frames.")
    folder = trained_model_folder(project, shuffle, iteration=previous)
    if not folder.best.is_file():
        raise ModelError(f"The previous iteration's model {folder.path} has no best.pt.")
    return folder.best
