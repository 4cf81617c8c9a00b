"""What a worker needs to load the model: small, picklable descriptions of predictors.

A predictor (an ONNX Runtime session, a PyTorch model) does not travel between processes;
its description does, and each worker loads the model once and keeps it for every video it
is given (:func:`cached_predictor`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from posekit.errors import ModelError


class PredictorSpec(Protocol):
    """A picklable, hashable recipe for a predictor."""

    def load(self, *, threads: int | None = None) -> Any:
        """Build the predictor, using ``threads`` CPU threads."""
        ...

    def scorer(self) -> str:
        """The scorer name its outputs will carry (to skip finished videos cheaply)."""
        ...

    @property
    def uses_gpu(self) -> bool:
        """Whether the model runs on a GPU (then one worker per GPU)."""
        ...


@dataclass(frozen=True)
class ExportedModelSpec:
    """A folder written by :func:`posekit.predict.exported.export_model`.

    Attributes
    ----------
    folder : Path
        The exported model.
    """

    folder: Path

    def load(self, *, threads: int | None = None) -> Any:
        from posekit.predict.exported import load_exported

        return load_exported(self.folder, threads=threads)

    def scorer(self) -> str:
        from posekit.predict.exported import read_exported_info

        return str(read_exported_info(self.folder)["scorer"])

    @property
    def uses_gpu(self) -> bool:
        return False


@dataclass(frozen=True)
class ProjectModelSpec:
    """A project's trained model of one shuffle.

    Attributes
    ----------
    project : Path
        Project folder.
    shuffle : int
        Which shuffle's model.
    which : {"best", "last"}
        Which checkpoint.
    engine : {"auto", "onnx", "torch"}
        Runtime (see :func:`posekit.predict.trained.load_predictor`).
    device : {"auto", "cpu", "cuda"}
        Where it runs.
    precision : {"float32", "int8"}
        Network precision on ONNX Runtime (see :func:`posekit.predict.trained.load_predictor`).
    """

    project: Path
    shuffle: int = 1
    which: Literal["best", "last"] = "best"
    engine: Literal["auto", "onnx", "torch"] = "auto"
    device: str = "auto"
    precision: Literal["float32", "int8"] = "float32"

    def load(self, *, threads: int | None = None) -> Any:
        from posekit.predict.trained import load_predictor
        from posekit.project import open_project

        return load_predictor(open_project(self.project), shuffle=self.shuffle,
                              which=self.which, device=self.device, engine=self.engine,
                              threads=threads, precision=self.precision)

    def scorer(self) -> str:
        from posekit.predict.trained import scorer_name
        from posekit.project import open_project
        from posekit.train.checkpoint import load_checkpoint
        from posekit.train.folder import trained_model_folder

        project = open_project(self.project)
        folder = trained_model_folder(project, self.shuffle)
        checkpoint = folder.best if self.which == "best" else folder.last
        epoch = int(load_checkpoint(checkpoint)["epoch"])
        return scorer_name(project, folder.read_info(), epoch)

    @property
    def uses_gpu(self) -> bool:
        if self.device == "cuda":
            return True
        if self.device == "auto" and self.engine in ("auto", "torch"):
            import torch  # auto takes PyTorch on a GPU when there is one

            return bool(torch.cuda.is_available())
        return False


_LOADED: dict[tuple[Any, int | None], Any] = {}


def cached_predictor(spec: PredictorSpec, threads: int | None) -> Any:
    """The predictor of ``spec`` in this process, loaded on first use."""
    key = (spec, threads)
    if key not in _LOADED:
        _LOADED.clear()  # one model per worker at a time
        _LOADED[key] = spec.load(threads=threads)
    return _LOADED[key]


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def spec_from_path(path: str | Path, **project_options: Any) -> PredictorSpec:
    """An exported model folder (it holds model.json and model.onnx) or a project.

    Raises
    ------
    ModelError
        If ``project_options`` are given for an exported model.
    """
    path = Path(path)
    info = path / "model.json"
    if path.is_dir() and info.is_file() and (path / "model.onnx").is_file():
        try:
            is_export = json.loads(info.read_text(encoding="utf-8")).get("format") == \
                "posekit-exported-model"
        except (OSError, ValueError):
            is_export = False
        if is_export:
            given = {k: v for k, v in project_options.items() if v is not None}
            if given:
                raise ModelError(f"{path} is an exported model; {sorted(given)} apply to "
                                 "projects only.")
            return ExportedModelSpec(path)
    options = {k: v for k, v in project_options.items() if v is not None}
    return ProjectModelSpec(path, **options)
