"""Extracting outlier frames of an analyzed video into a project, with the machine's labels.

:func:`extract_outlier_frames` is the first step of the refinement loop:

1. read the video's analysis and check it belongs to the project (same bodyparts);
2. find candidate frames with :func:`posekit.postprocess.outliers.find_outlier_frames`;
3. drop candidates that are already in ``labeled-data/<video stem>/``: frames a person has
   labeled (rows of ``CollectedData_<scorer>.h5``) and frames already extracted (an
   ``img<index>.png`` exists). So a labeled frame is never overwritten nor given machine
   labels, and running the extraction again yields new frames;
4. thin the candidates to ``n`` visually distinct frames: every candidate (at most
   ``options.max_candidates`` of them, taken evenly in time) is decoded and reduced to the
   48 x 64 grayscale thumbnail of :func:`posekit.frames.thumbnail`, k-means groups them into
   ``n`` clusters and the candidate nearest each centre is kept (as ``select_frames`` does
   for the whole video). With ``n`` or fewer candidates, all are taken (a warning says so
   when there are fewer than ``n``);
5. write them as PNG files with :func:`posekit.frames.write_frames` (never overwriting);
6. write the machine's predictions for them to
   ``labeled-data/<video stem>/machinelabels-iter<iteration>.h5`` and ``.csv``: DeepLabCut's
   layout, index ``("labeled-data", <video stem>, "img0042.png")`` like CollectedData,
   columns ``scorer/(individuals)/bodyparts/coords`` with coords x, y, likelihood. An
   existing file of the same iteration is merged: its rows are kept, except those of the same
   images, which are replaced.

The labeling app shows these predictions in refinement mode.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.errors import LabelFileError, VideoError
from posekit.frames.select import THUMBNAIL_SHAPE, cluster_representatives, evenly, thumbnail
from posekit.frames.write import extracted_frame_indices, write_frames
from posekit.io.atomic import atomic_path
from posekit.io.labels import H5_KEY
from posekit.io.predictions import Predictions, read_predictions, to_dataframe
from posekit.io.video import VideoReader
from posekit.postprocess.common import PostprocessError, check_matches_project
from posekit.postprocess.outliers import OutlierMethod, OutlierOptions, find_outlier_frames
from posekit.predict.locate import find_analysis
from posekit.progress import track
from posekit.project.labels import read_folder_labels
from posekit.project.project import LABELED_DATA_DIR, Project

logger = logging.getLogger(__name__)

_IMAGE = re.compile(r"^img(\d+)\.png$")


def machine_labels_path(folder: str | os.PathLike[str], iteration: int) -> Path:
    """``<folder>/machinelabels-iter<iteration>.h5``."""
    return Path(folder) / f"machinelabels-iter{iteration}.h5"


def extract_outlier_frames(project: Project, video: str | os.PathLike[str], *,
                           method: OutlierMethod = "jump", n: int | None = None,
                           analysis: str | os.PathLike[str] | None = None,
                           options: OutlierOptions = OutlierOptions()) -> list[Path]:
    """Extract up to ``n`` outlier frames of ``video`` for refinement (see the module docstring).

    Parameters
    ----------
    project : Project
        The project; frames go to ``labeled-data/<video stem>/``.
    video : path-like
        The analyzed video.
    method : {"jump", "uncertain", "fitting", "list"}
        How candidates are found (:func:`posekit.postprocess.outliers.find_outlier_frames`).
    n : int, optional
        Frames to extract; the config's ``numframes2pick`` by default.
    analysis : path-like, optional
        The analysis file; by default the newest complete posekit analysis beside the video
        (:func:`posekit.predict.locate.find_analysis`). Give the path for a DeepLabCut one.
    options : OutlierOptions
        Thresholds, ``"list"`` frames, bodyparts, k-means seed, most candidates clustered.

    Returns
    -------
    list of Path
        The PNG files written, in frame order; empty (with a warning, nothing written) when
        there is no candidate frame left.

    Raises
    ------
    MissingFileError
        No analysis of the video (or the given file is missing).
    LabelFileError
        The analysis has other bodyparts than the project (made for another project), or an
        existing machinelabels file of this iteration has other columns.
    VideoError
        The video has fewer frames than the analysis, or cannot be read.
    PostprocessError
        Invalid ``n`` or method options.
    """
    video = Path(video)
    n = project.config.numframes2pick if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise PostprocessError(f"The number of outlier frames to extract must be an integer "
                               f">= 1; got {n!r}.")
    source = Path(analysis) if analysis is not None else find_analysis(video)
    pred = read_predictions(source)
    check_matches_project(pred, project, source=source)
    folder = project.labeled_data_dir / video.stem
    with VideoReader(video) as reader:
        _check_video_fits(reader, pred, source)
        found = find_outlier_frames(pred, method=method, options=options)
        candidates = _untaken(found, project, folder)
        if len(candidates) == 0:
            why = (f"all {len(found)} candidate frames are already extracted or labeled in "
                   f"{folder}" if len(found) else "no frame is an outlier by this method")
            logger.warning("No outlier frames to extract from %s with method %r (epsilon=%g px,"
                           " p_bound=%g): %s. Nothing was written. Try another method or other "
                           "thresholds.", video.name, method, options.epsilon, options.p_bound,
                           why)
            return []
        chosen = _thin(reader, candidates, int(n), options)
        written = write_frames(reader, chosen, folder)
    if written:
        frames = [int(_IMAGE.match(path.name).group(1)) for path in written]  # type: ignore[union-attr]
        write_machine_labels(pred, frames, [p.name for p in written], folder,
                             iteration=project.config.iteration)
    logger.info("Extracted %d outlier frames of %s into %s", len(written), video.name, folder)
    return written


def _check_video_fits(reader: VideoReader, pred: Predictions, source: Path) -> None:
    """Raise if the video has fewer frames than the analysis; warn on other mismatches."""
    n_video = reader.verify_length()
    if pred.n_frames > n_video:
        raise VideoError(
            f"{source} holds predictions for {pred.n_frames} frames but {reader.path} has only "
            f"{n_video} frames that decode: the analysis was made from another (longer) video, "
            f"or this copy of the video is truncated. Analyze this video again, or pass the "
            f"video the analysis was made from.")
    if pred.n_frames < n_video:
        logger.warning("%s covers %d frames but %s has %d: only the analyzed frames are "
                       "searched", source, pred.n_frames, reader.path, n_video)
    expected = pred.metadata.get("video_sha1_head")
    if expected:
        with open(reader.path, "rb") as handle:
            found = hashlib.sha1(handle.read(1 << 20)).hexdigest()
        if found != expected:
            logger.warning("%s was made from a video whose first MiB differs from %s: if this "
                           "is not the same recording, its predictions will not match the "
                           "frames.", source, reader.path)


def _untaken(candidates: np.ndarray, project: Project, folder: Path) -> np.ndarray:
    """Candidates that are neither labeled by a person nor already extracted in ``folder``."""
    labeled = set()
    for image in read_folder_labels(project, folder).images:
        match = _IMAGE.match(Path(image).name)
        if match:
            labeled.add(int(match.group(1)))
    taken = labeled | extracted_frame_indices(folder)
    keep = candidates[~np.isin(candidates, np.fromiter(taken, dtype=np.int64, count=len(taken)))]
    if len(keep) < len(candidates):
        logger.info("%d of %d candidate frames are already labeled or extracted in %s and are "
                    "skipped", len(candidates) - len(keep), len(candidates), folder)
    return keep


def _thin(reader: VideoReader, candidates: np.ndarray, n: int,
          options: OutlierOptions) -> list[int]:
    """``n`` visually distinct candidates (all of them when there are no more than ``n``)."""
    if len(candidates) <= n:
        if len(candidates) < n:
            logger.warning("Only %d outlier frames were found (%d asked for): taking all of "
                           "them", len(candidates), n)
        return [int(i) for i in candidates]
    pool = evenly(candidates, max(n, options.max_candidates))
    if len(pool) == n:
        return [int(i) for i in pool]
    features = np.empty((len(pool), THUMBNAIL_SHAPE[0] * THUMBNAIL_SHAPE[1]), np.float32)
    frames = reader.iter_many(pool.tolist())
    for row, (_, frame) in enumerate(track(frames, total=len(pool),
                                           description=f"Reading {reader.path.name}")):
        features[row] = thumbnail(frame)
    rows = cluster_representatives(features, n, seed=options.seed)
    return [int(pool[i]) for i in rows]


# --------------------------------------------------------------------------- machine labels


def write_machine_labels(pred: Predictions, frames: list[int], images: list[str],
                         folder: str | os.PathLike[str], *, iteration: int) -> Path:
    """Write the predictions of some frames as ``machinelabels-iter<iteration>.h5`` (+ .csv).

    Parameters
    ----------
    pred : Predictions
        The video's predictions.
    frames : list of int
        Frame indices, one per image.
    images : list of str
        File names of the extracted frames (``img0042.png``), in ``folder``.
    folder : path-like
        ``labeled-data/<video stem>``.
    iteration : int
        The project's iteration (the file name's number).

    Returns
    -------
    Path
        The h5 file (written atomically, merged with an existing one).

    Raises
    ------
    LabelFileError
        The existing file cannot be read or has other columns (bodyparts, individuals).
    """
    folder = Path(folder)
    rows = Predictions(data=pred.data[np.asarray(frames, dtype=np.int64)],
                       bodyparts=list(pred.bodyparts), individuals=list(pred.individuals),
                       scorer=pred.scorer, multi_animal=pred.multi_animal,
                       metadata={"unique_bodyparts": pred.metadata.get("unique_bodyparts")})
    table = to_dataframe(rows)
    table.index = pd.MultiIndex.from_tuples([(LABELED_DATA_DIR, folder.name, name)
                                             for name in images])
    path = machine_labels_path(folder, iteration)
    if path.exists():
        table = _merge(_read_existing(path, folder.name), table, path)
    with atomic_path(path) as tmp_h5:
        table.to_hdf(tmp_h5, key=H5_KEY, mode="w")  # "fixed", as CollectedData
        with atomic_path(path.with_suffix(".csv")) as tmp_csv:
            table.to_csv(tmp_csv)
    logger.info("Wrote machine labels of %d frames to %s (%d rows in all)", len(images), path,
                len(table))
    return path


def _read_existing(path: Path, stem: str) -> pd.DataFrame:
    try:
        old = pd.read_hdf(path, H5_KEY)
    except Exception as error:  # pytables raises many kinds for a bad file
        raise LabelFileError(f"{path} exists but cannot be read ({error}); it would be "
                             f"replaced by new machine labels. Move it away and run the "
                             f"extraction again.") from error
    if not isinstance(old, pd.DataFrame) or not isinstance(old.columns, pd.MultiIndex):
        raise LabelFileError(f"{path} is not a DeepLabCut machinelabels table; move it away "
                             f"and run the extraction again.")
    if not isinstance(old.index, pd.MultiIndex):
        old = old.copy()
        old.index = pd.MultiIndex.from_tuples([_image_key(str(key), stem) for key in old.index])
    return old


def _image_key(image: str, stem: str) -> tuple[str, str, str]:
    parts = image.replace("\\", "/").split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (LABELED_DATA_DIR, stem,
                                                                   parts[-1])


def _merge(old: pd.DataFrame, new: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``old`` rows of other images, then ``new``; ``old`` takes ``new``'s scorer."""
    old_keys = [tuple(str(p) for p in key[1:]) for key in old.columns]
    new_keys = [tuple(str(p) for p in key[1:]) for key in new.columns]
    if old.columns.nlevels != new.columns.nlevels or set(old_keys) != set(new_keys):
        raise LabelFileError(
            f"{path} holds machine labels for other columns ({sorted(set(old_keys))[:6]}...) "
            f"than the new ones ({sorted(set(new_keys))[:6]}...): it was written for other "
            f"bodyparts or individuals. Move it away and run the extraction again.")
    old = old.copy()
    old.columns = pd.MultiIndex.from_tuples([(new.columns[0][0], *key) for key in old_keys],
                                            names=new.columns.names)
    old = old[new.columns]
    replaced = {str(key[-1]) for key in new.index}
    kept = old[[str(key[-1]) not in replaced for key in old.index]]
    merged = pd.concat([kept, new]) if len(kept) else new
    order = np.argsort([str(key[-1]) for key in merged.index], kind="stable")
    return merged.iloc[order].astype(np.float64)
