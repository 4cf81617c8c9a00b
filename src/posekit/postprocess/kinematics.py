"""Skeleton kinematics: per-frame bone lengths and orientations, and bodypart speeds.

Conventions (image coordinates: origin at the top-left pixel's centre, x right, y down):

- a bone is a skeleton edge ``(a, b)``, named ``"a_b"``, pointing from ``a`` to ``b``;
- ``length_px``: Euclidean distance from ``a`` to ``b`` in pixels;
- ``orientation_deg``: ``degrees(atan2(y_b - y_a, x_b - x_a))`` in (-180, 180]: 0 when ``b``
  is right of ``a``, **+90 when b is below a** on screen (y grows downwards), -90 when above,
  180 when left. Angles therefore turn clockwise as seen on screen;
- ``likelihood``: the smaller likelihood of the bone's two ends;
- ``speed_px_per_frame``: distance a bodypart moved since the previous frame (NaN at frame 0
  and wherever either position is missing); ``speed_px_per_s`` = that times the video's fps,
  present only when ``pred.metadata["fps"]`` is a positive number.

The table is a :class:`pandas.DataFrame` with one row per frame (index: frame number) and
column levels ``part`` (bone or bodypart name) and ``measure``, preceded by ``individuals``
for multi-animal predictions. Bones come first, in edge order, then bodyparts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from posekit._version import __version__
from posekit.errors import LabelFileError
from posekit.io.atomic import atomic_path
from posekit.io.predictions import H5_KEY, UNIQUE_INDIVIDUAL, Predictions, read_predictions
from posekit.postprocess.common import check_matches_project, check_number
from posekit.project.project import Project

logger = logging.getLogger(__name__)

SKELETON_SUFFIX = "_skeleton"
BONE_MEASURES = ("length_px", "orientation_deg", "likelihood")
_META_ATTR = "posekit_metadata"


def analyze_skeleton(pred: Predictions, edges: Sequence[Sequence[str]], *,
                     pcutoff: float = 0.0) -> pd.DataFrame:
    """Bone lengths and orientations, and bodypart speeds, in every frame.

    Parameters
    ----------
    pred : Predictions
        ``data: (n_frames, n_individuals, n_bodyparts, 3)``.
    edges : sequence of (str, str)
        Skeleton edges as pairs of bodypart names (e.g. ``project.config.edges``).
    pcutoff : float
        Points with a lower likelihood count as missing (their measures are NaN); 0 keeps all.

    Returns
    -------
    DataFrame
        ``(n_frames, n_columns)`` float64; see the module docstring for the columns.

    Raises
    ------
    LabelFileError
        An edge names a bodypart the predictions lack, or is not a pair.
    PostprocessError
        ``pcutoff`` outside [0, 1].
    """
    check_number("pcutoff", pcutoff, low=0.0)
    edges = _checked_edges(edges, pred)
    data = pred.data.copy()
    with np.errstate(invalid="ignore"):
        data[data[..., 2] < pcutoff, :2] = np.nan
    fps = _fps(pred.metadata)
    columns: list[tuple[str, ...]] = []
    blocks: list[np.ndarray] = []
    for i, individual in enumerate(pred.individuals):
        present = _bodyparts_of(pred, individual)
        head = (individual,) if pred.multi_animal else ()
        points = {name: data[:, i, pred.bodyparts.index(name)] for name in present}
        for a, b in edges:
            if a in points and b in points:
                columns += [(*head, f"{a}_{b}", m) for m in BONE_MEASURES]
                blocks.append(_bone(points[a], points[b]))
        for name in present:
            speed = _speed(points[name][:, :2])
            columns.append((*head, name, "speed_px_per_frame"))
            blocks.append(speed[:, None])
            if fps is not None:
                columns.append((*head, name, "speed_px_per_s"))
                blocks.append(speed[:, None] * fps)
    if fps is None:
        logger.info("No fps in the predictions' metadata: speeds are in pixels per frame only")
    names = (["individuals"] if pred.multi_animal else []) + ["part", "measure"]
    values = np.concatenate(blocks, axis=1) if blocks else np.empty((pred.n_frames, 0))
    return pd.DataFrame(values, index=pd.RangeIndex(pred.n_frames, name="frame"),
                        columns=pd.MultiIndex.from_tuples(columns, names=names)
                        if columns else pd.MultiIndex.from_arrays([[]] * len(names), names=names),
                        dtype=np.float64)


def _checked_edges(edges: Sequence[Sequence[str]], pred: Predictions) -> list[tuple[str, str]]:
    out = []
    for edge in edges:
        if isinstance(edge, str) or len(edge) != 2:
            raise LabelFileError(f"A skeleton edge is a pair of bodyparts, found {edge!r}.")
        unknown = [str(name) for name in edge if str(name) not in pred.bodyparts]
        if unknown:
            raise LabelFileError(f"Skeleton edge {list(edge)} names {unknown}, which the "
                                 f"predictions do not have (bodyparts: {pred.bodyparts}). Fix "
                                 f"the config's skeleton or use predictions of this project.")
        out.append((str(edge[0]), str(edge[1])))
    return out


def _bodyparts_of(pred: Predictions, individual: str) -> list[str]:
    """Bodyparts an individual has (unique bodyparts belong to ``"single"`` only)."""
    unique = set(pred.metadata.get("unique_bodyparts") or [])
    if not (pred.multi_animal and unique):
        return list(pred.bodyparts)
    if individual == UNIQUE_INDIVIDUAL:
        return [b for b in pred.bodyparts if b in unique]
    return [b for b in pred.bodyparts if b not in unique]


def _fps(metadata: dict) -> float | None:
    fps = metadata.get("fps")
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        return None
    return fps if np.isfinite(fps) and fps > 0 else None


def _bone(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_frames, 3) length, orientation (deg) and likelihood of the bone from a to b.

    ``a``, ``b``: (n_frames, 3) x, y, likelihood.
    """
    dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    orientation = np.degrees(np.arctan2(dy, dx))
    orientation = np.where(orientation == -180.0, 180.0, orientation)
    likelihood = np.fmin(a[:, 2], b[:, 2])
    likelihood = np.where(np.isnan(a[:, 2]) | np.isnan(b[:, 2]), np.nan, likelihood)
    return np.stack([np.hypot(dx, dy), orientation, likelihood], axis=1)


def _speed(xy: np.ndarray) -> np.ndarray:
    """(n_frames,) distance moved since the previous frame; ``xy``: (n_frames, 2)."""
    speed = np.full(len(xy), np.nan)
    if len(xy) > 1:
        speed[1:] = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    return speed


def skeleton_path(analysis_h5: str | os.PathLike[str]) -> Path:
    """``<name>_skeleton.h5`` beside the analysis ``<name>.h5``."""
    path = Path(analysis_h5)
    return path.with_name(path.stem + SKELETON_SUFFIX + ".h5")


def analyze_skeleton_file(analysis_h5: str | os.PathLike[str], project: Project) -> Path:
    """Write the kinematics of an analysis as ``<name>_skeleton.h5`` and ``.csv`` beside it.

    Uses the project's skeleton (``config.skeleton``) and treats points below its
    ``pcutoff`` as missing. The h5 holds the table under key ``"df_with_missing"`` with a JSON
    attribute ``posekit_metadata`` (source file, edges, pcutoff, fps, posekit version); both
    files are written atomically.

    Parameters
    ----------
    analysis_h5 : path-like
        An analysis file (raw or ``_filtered``).
    project : Project
        Supplies the skeleton edges and p-cutoff; the analysis must have its bodyparts.

    Returns
    -------
    Path
        The ``_skeleton.h5`` file.

    Raises
    ------
    MissingFileError, LabelFileError
        The analysis is missing, unreadable, or made for another project.
    """
    source = Path(analysis_h5)
    pred = read_predictions(source)
    check_matches_project(pred, project, source=source)
    edges = project.config.edges
    if not edges:
        logger.warning("%s has no skeleton edges: the table holds bodypart speeds only. Add "
                       "edges under 'skeleton' in the config for bone lengths.",
                       project.config_path)
    table = analyze_skeleton(pred, edges, pcutoff=project.config.pcutoff)
    meta = json.dumps({"source_file": str(source), "edges": [list(e) for e in edges],
                       "pcutoff": project.config.pcutoff, "fps": _fps(pred.metadata),
                       "scorer": pred.scorer, "posekit_version": __version__})
    target = skeleton_path(source)
    with atomic_path(target) as tmp_h5:
        with pd.HDFStore(tmp_h5, mode="w") as store:
            store.put(H5_KEY, table, format="table", track_times=False)
            setattr(store.get_storer(H5_KEY).attrs, _META_ATTR, meta)
        with atomic_path(target.with_suffix(".csv")) as tmp_csv:
            table.to_csv(tmp_csv)
    logger.info("Wrote %s (%d frames, %d columns)", target, len(table), table.shape[1])
    return target
