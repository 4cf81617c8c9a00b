"""Exported models: a self-contained folder that analyzes video without the project.

Layout of an exported model folder::

    <folder>/
      model.onnx   the network (ONNX, opset 17): input ``images`` float32 (B, 3, H, W), batch,
                   height and width dynamic; outputs ``heatmaps`` (B, K, h, w) logits and
                   ``locref`` (B, 2K, h, w)
      model.json   everything else (below); written last, so a folder without it is unfinished

``model.json`` holds ``format`` (``"posekit-exported-model"``), ``format_version``,
``posekit_version``, ``scorer``, ``bodyparts``, ``skeleton`` (pairs of bodyparts),
``pcutoff``, ``preprocessing`` (colour order, the per-channel scaling
``(pixel / 255 - mean) / std``, layout, padding), ``decoding`` (``output_stride``,
``locref_stdev``, how a peak becomes a keypoint), ``model`` (the architecture),
``train_options``, ``project_config`` (the config the model was trained with),
``provenance`` (shuffle, iteration, checkpoint, epoch, test error), ``onnx_sha256`` and
``precision`` (``float32``, or ``int8`` for a quantized graph).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from posekit._version import __version__
from posekit.errors import MissingFileError, ModelError
from posekit.io.atomic import write_text_atomic
from posekit.models.config import ModelConfig
from posekit.models.export import export_onnx, onnx_metadata
from posekit.models.normalize import IMAGENET_MEAN, IMAGENET_STD
from posekit.predict.onnx_engine import PAD_MULTIPLE, OnnxPredictor
from posekit.predict.quantize import Precision, check_precision, quantize_onnx
from posekit.project.project import Project

logger = logging.getLogger(__name__)

FORMAT = "posekit-exported-model"
FORMAT_VERSION = 1
ONNX_NAME = "model.onnx"
INFO_NAME = "model.json"


def export_model(project: Project | str | Path, *, shuffle: int = 1,
                 which: Literal["best", "last"] = "best", output: str | Path | None = None,
                 format: Literal["onnx"] = "onnx", precision: Precision = "float32") -> Path:
    """Write a trained model as a self-contained folder (see the module docs).

    Parameters
    ----------
    project : Project or path
        The project.
    shuffle : int
        Which shuffle's model.
    which : {"best", "last"}
        The checkpoint with the lowest test error, or the latest.
    output : path, optional
        The folder to write; ``<project>/exported-models/posekit_<Task>_<backbone>_
        iteration-<i>_shuffle-<s>`` by default. An existing export there is replaced.
    format : {"onnx"}
        The graph format (only ONNX so far).
    precision : {"float32", "int8"}
        ``int8`` writes the graph quantized to 8-bit integers (1.7x the frames/s on a 2-core CPU),
        calibrated on the shuffle's training images (:mod:`posekit.predict.quantize`).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    MissingFileError, ModelError
        If the shuffle has no trained model, or ``format`` is not supported.
    """
    from posekit.predict.trained import calibration_frames, load_trained
    from posekit.project import open_project
    from posekit.train.folder import trained_model_folder

    if format != "onnx":
        raise ModelError(f"export format must be 'onnx', found {format!r}.")
    check_precision(precision)
    project = project if isinstance(project, Project) else open_project(project)
    trained = load_trained(project, trained_model_folder(project, shuffle), which=which)
    folder = Path(output) if output else project.root / "exported-models" / (
        f"posekit_{project.config.Task}_{trained.config.backbone}_iteration-"
        f"{trained.info['iteration']}_shuffle-{shuffle}")
    _check_replaceable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        size = tuple(trained.info["train_options"]["crop_size"])
        onnx_path = export_onnx(trained.model, staging / ONNX_NAME,
                                input_size=size)  # type: ignore[arg-type]
        if precision == "int8":
            quantize_onnx(onnx_path, onnx_path, calibration_frames(project, trained.info))
        info = {**_describe(project, trained, onnx_path), "precision": precision}
        write_text_atomic(staging / INFO_NAME, json.dumps(info, indent=2, default=str))
        _replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported %s to %s", trained.scorer, folder)
    return folder


def _describe(project: Project, trained: Any, onnx_path: Path) -> dict[str, Any]:
    config: ModelConfig = trained.config
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "posekit_version": __version__,
        "scorer": trained.scorer, "bodyparts": list(trained.info["bodyparts"]),
        "skeleton": [list(edge) for edge in project.config.edges],
        "pcutoff": project.config.pcutoff,
        "preprocessing": {"color": "RGB", "input_dtype": "uint8", "layout": "NCHW",
                          "formula": "(pixel / 255 - mean) / std per channel",
                          "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                          "pad_to_multiple": PAD_MULTIPLE, "pad_where": "bottom/right, zeros"},
        "decoding": {"output_stride": config.output_stride,
                     "locref_stdev": config.locref_stdev, "likelihood": "sigmoid(heatmap)",
                     "peak": "argmax per map; x = col * stride + (stride - 1) / 2 + "
                             "locref_x * locref_stdev (y alike); pixels, origin at the "
                             "top-left pixel's center"},
        "model": json.loads(config.model_dump_json()),
        "train_options": trained.info.get("train_options"),
        "project_config": trained.info.get("project_config"),
        "provenance": {**trained.model_info, "project": str(project.root)},
        "onnx_file": ONNX_NAME, "onnx_sha256": _sha256(onnx_path),
    }


def _check_replaceable(folder: Path) -> None:
    """Refuse to replace anything but an earlier export (or an empty folder)."""
    if folder.exists() and not (folder.is_dir() and ((folder / INFO_NAME).is_file()
                                                     or not any(folder.iterdir()))):
        raise ModelError(f"{folder} exists and is not an exported model; choose another "
                         "--output or remove it.")


def _replace_folder(staging: Path, folder: Path) -> None:
    """Move the finished ``staging`` folder to ``folder``, replacing an earlier export."""
    _check_replaceable(folder)
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, folder)


def read_exported_info(folder: str | Path) -> dict[str, Any]:
    """The checked ``model.json`` of an exported model folder.

    Raises
    ------
    MissingFileError
        If the folder, its model.json or its model.onnx does not exist.
    ModelError
        If model.json is not valid JSON, is of another format or a newer version, or lacks
        a required entry.
    """
    folder = Path(folder)
    info_path, onnx_path = folder / INFO_NAME, folder / ONNX_NAME
    if not folder.is_dir():
        raise MissingFileError(f"Exported model folder {folder} does not exist; make one "
                               "with `posekit export PROJECT`.")
    for path in (info_path, onnx_path):
        if not path.is_file():
            raise MissingFileError(f"{folder} is not a complete exported model: {path.name} is "
                                   "missing. Export it again with `posekit export PROJECT`.")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{info_path} is not valid JSON ({error}); export the model "
                         "again.") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ModelError(f"{info_path} is not a posekit exported model (format "
                         f"{info.get('format') if isinstance(info, dict) else None!r}, "
                         f"expected {FORMAT!r}).")
    if not isinstance(info.get("format_version"), int) or info["format_version"] > FORMAT_VERSION:
        raise ModelError(f"{info_path} has format_version {info.get('format_version')!r}; this "
                         f"posekit reads up to {FORMAT_VERSION}. Update posekit.")
    missing = [k for k in ("scorer", "bodyparts", "model", "decoding") if k not in info]
    if missing:
        raise ModelError(f"{info_path} lacks {missing}; export the model again.")
    return info


def load_exported(folder: str | Path, *, threads: int | None = None,
                  spinning: bool | None = False) -> OnnxPredictor:
    """An exported model folder, ready to predict (no project needed).

    Parameters
    ----------
    folder : path
        Written by :func:`export_model`.
    threads : int, optional
        ONNX Runtime threads (all cores by default).
    spinning : bool, optional
        Whether ONNX Runtime's idle threads spin (see :class:`OnnxPredictor`).

    Returns
    -------
    OnnxPredictor
        With ``skeleton`` and ``pcutoff`` attributes from the export.

    Raises
    ------
    MissingFileError, ModelError
        See :func:`read_exported_info`; also if the graph does not match model.json.
    """
    folder = Path(folder)
    info = read_exported_info(folder)
    try:
        config = ModelConfig.model_validate({**info["model"], "pretrained": False,
                                             "weights": None})
    except ValueError as error:
        raise ModelError(f"{folder / INFO_NAME}: its model entry is not valid ({error}).") \
            from None
    meta = onnx_metadata(folder / ONNX_NAME)
    if meta.get("n_bodyparts") != str(len(info["bodyparts"])) or \
            config.n_bodyparts != len(info["bodyparts"]):
        raise ModelError(f"{folder}: model.onnx predicts {meta.get('n_bodyparts')} bodyparts "
                         f"but model.json lists {len(info['bodyparts'])}; export it again.")
    provenance = dict(info.get("provenance") or {})
    provenance["exported_model"] = str(folder)
    predictor = OnnxPredictor(folder / ONNX_NAME, config=config, bodyparts=info["bodyparts"],
                              scorer=info["scorer"], model_info=provenance, threads=threads,
                              spinning=spinning)
    predictor.skeleton = [tuple(edge) for edge in info.get("skeleton") or []]
    predictor.pcutoff = float(info.get("pcutoff", 0.6))
    return predictor


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
