"""Import SLEAP labels (``.slp``, read with sleap-io) into a project's labeled-data.

Only user-labeled instances are imported; predicted instances are left out. Each labeled
frame is extracted from its video as a PNG named the DeepLabCut way (``img<index>.png``) into
``labeled-data/<video stem>/``, and the labels are merged into that folder's
``CollectedData_<scorer>`` files.

Coordinates
    SLEAP files since format 1.1 put the origin at the center of the top-left pixel, and
    sleap-io converts older files (whose origin was the top-left corner) when it reads them
    (``sleap_io/io/slp.py``: "Changed coordinate system from top-left pixel at (0, 0) to
    center at (0, 0)"). That is posekit's convention, so coordinates are taken unchanged:
    :data:`SLEAP_TO_POSEKIT_OFFSET` is 0.

Existing data
    Frames already in the folder are never overwritten (a frame extracted earlier is the
    same video frame and is reused). An image the folder already labels keeps its labels: the
    imported labels of that frame are dropped and a warning lists such frames. Re-importing
    the same file therefore changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

import numpy as np

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.coco import (
    FolderMerge,
    adopt_bodyparts,
    check_animal_count,
    match_project_bodyparts,
    plan_folder_merge,
)
from posekit.io.labels import Labels
from posekit.project.labels import write_folder_labels
from posekit.project.project import LABELED_DATA_DIR, Project

logger = logging.getLogger(__name__)

SLEAP_TO_POSEKIT_OFFSET = 0.0
"""Added to SLEAP x and y to get posekit coordinates (both use pixel centers)."""

_FRAME_NAME = re.compile(r"^img(\d+)\.png$")


@dataclass
class _VideoImport:
    """The plan for one video of the .slp file."""

    video_path: Path
    folder: str
    frame_of_image: dict[str, int]
    merge: FolderMerge


def import_slp(project: Project, slp_path: str | Path, *, video: str | Path | None = None,
               frames: Sequence[int] | None = None, max_frames: int | None = None
               ) -> list[Path]:
    """Import the user-labeled frames of a SLEAP ``.slp`` file into a project.

    Each labeled frame is written as ``labeled-data/<stem of the video read>/img<index>.png``
    (frames already there are kept, never overwritten) and its labels are merged into that
    folder's ``CollectedData_<scorer>.h5``/``.csv``; frames the folder already labels keep their
    existing labels (logged). Track names become individuals, which the config must list
    (multi-animal project); an instance without a track gets the first individual name, in
    config order, not used by another instance of its frame. A single-animal project accepts
    files with at most one instance per frame. Bodyparts are adopted from the file's skeleton
    when the project has no labels and placeholder bodyparts, else they must match.
    Coordinates are SLEAP's unchanged (see the module notes).

    Parameters
    ----------
    project : Project
        The project to import into.
    slp_path : path-like
        The ``.slp`` file.
    video : path-like, optional
        The video to read frames from, when the path stored in the file is wrong. For a file
        with several videos, the one whose stored file name matches this file's name is
        imported (only that one).
    frames : sequence of int, optional
        Import only these frame indices (each must be user-labeled).
    max_frames : int, optional
        Import at most this many labeled frames per video, spread evenly over the labeled
        frames (after ``frames``).

    Returns
    -------
    list of Path
        The ``CollectedData_<scorer>.h5`` files written, one per video.

    Raises
    ------
    MissingFileError
        If the .slp file or a video cannot be found.
    LabelFileError
        If the file is not a SLEAP file, has no user labels, its skeleton differs from the
        project's bodyparts, a track is not an individual of the config, a frame holds more
        animals than the project allows, a labeled frame lies beyond the video's end, or
        ``frames``/``max_frames`` are invalid. Nothing is written then.
    VideoError
        If a video cannot be decoded.
    """
    slp_path = Path(slp_path)
    labels = load_slp_labels(slp_path)
    bodyparts, edges = _skeleton(labels, slp_path)
    adopt = match_project_bodyparts(project, bodyparts, edges, source=slp_path)
    order = bodyparts if adopt else project.config.pose_bodyparts
    plans = [_plan_video(project, slp_path, sleap_video, chosen, bodyparts, order, video)
             for sleap_video, chosen in _chosen_frames(labels, slp_path, video, frames,
                                                       max_frames)]
    if adopt:
        adopt_bodyparts(project, bodyparts, edges, source=slp_path)
    written = []
    for plan in plans:
        _write_frames(project, plan)
        written.append(write_folder_labels(project, plan.folder, plan.merge.labels))
        logger.info("imported %d frames of %s from %s into %s (%d already labeled, kept)",
                    len(plan.merge.added), plan.video_path.name, slp_path, plan.folder,
                    len(plan.merge.kept))
    return written


def load_slp_labels(slp_path: str | Path):  # -> sleap_io.Labels (import kept lazy)
    """Read a ``.slp`` file with sleap-io without opening its videos.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    LabelFileError
        If it is not a SLEAP labels file.
    """
    import h5py
    import sleap_io

    path = Path(slp_path)
    if not path.is_file():
        raise MissingFileError(f"SLEAP file {path} does not exist. Check the path.")
    if not h5py.is_hdf5(path):
        raise LabelFileError(f"{path} is not a SLEAP .slp file (not HDF5). Export the labels "
                             f"from SLEAP (File > Save As .slp) and import that file.")
    try:
        return sleap_io.load_slp(str(path), open_videos=False)
    except Exception as error:  # sleap-io raises KeyError, ValueError, ... for foreign files
        raise LabelFileError(f"{path} cannot be read as a SLEAP .slp labels file: "
                             f"{type(error).__name__}: {error}.") from error


def _skeleton(labels, slp_path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Bodyparts and edges of the file's one skeleton (several must agree)."""
    if not labels.skeletons:
        raise LabelFileError(f"{slp_path} has no skeleton; expected one listing the bodyparts.")
    names = {tuple(s.node_names) for s in labels.skeletons}
    if len(names) > 1:
        raise LabelFileError(f"{slp_path} has {len(names)} skeletons with different nodes "
                             f"({[list(n) for n in names]}); a project has one set of "
                             f"bodyparts. Split the file in SLEAP first.")
    skeleton = labels.skeletons[0]
    nodes = list(skeleton.node_names)
    duplicated = sorted({n for n in nodes if nodes.count(n) > 1})
    if duplicated:
        raise LabelFileError(f"{slp_path}: skeleton nodes {duplicated} appear more than once.")
    return nodes, [(str(a), str(b)) for a, b in skeleton.edge_names]


def _chosen_frames(labels, slp_path: Path, video: str | Path | None,
                   frames: Sequence[int] | None, max_frames: int | None) -> list[tuple]:
    """(sleap video, its user-labeled frames to import) for each video imported."""
    if max_frames is not None and (isinstance(max_frames, bool) or
                                   not isinstance(max_frames, int) or max_frames < 1):
        raise LabelFileError(f"max_frames must be a positive integer, found {max_frames!r}.")
    videos = list(labels.videos)
    if video is not None and len(videos) > 1:
        wanted = Path(video).name
        videos = [v for v in videos if _stored_name(v) == wanted]
        if not videos:
            raise LabelFileError(f"{slp_path} has no video named {wanted}; its videos are "
                                 f"{[_stored_name(v) for v in labels.videos]}.")
    labeled = [lf for lf in labels.labeled_frames if any(_has_points(i) for i in
                                                         lf.user_instances)]
    if not labeled:
        raise LabelFileError(f"{slp_path} holds no user-labeled instances (only predictions, "
                             f"or nothing). Label frames in SLEAP, or import predictions.")
    chosen = []
    for sleap_video in videos:
        mine = sorted((lf for lf in labeled if lf.video is sleap_video),
                      key=lambda lf: lf.frame_idx)
        if frames is not None:
            mine = _only_frames(mine, frames, slp_path, _stored_name(sleap_video))
        if max_frames is not None and len(mine) > max_frames:
            keep = np.unique(np.round(np.linspace(0, len(mine) - 1, max_frames)).astype(int))
            mine = [mine[i] for i in keep]
        if mine:
            chosen.append((sleap_video, mine))
    return chosen


def _only_frames(mine: list, frames: Sequence[int], slp_path: Path, name: str) -> list:
    wanted = [int(f) for f in frames]
    by_index = {lf.frame_idx: lf for lf in mine}
    missing = [f for f in wanted if f not in by_index]
    if missing:
        raise LabelFileError(f"{slp_path}: frames {missing[:10]} of {name} have no user "
                             f"labels; choose among its {len(by_index)} labeled frames.")
    return [by_index[f] for f in sorted(set(wanted))]


def _has_points(instance) -> bool:
    return bool(np.isfinite(instance.numpy()).all(axis=1).any())


def _stored_name(sleap_video) -> str:
    filename = sleap_video.filename
    if isinstance(filename, list):
        return str(filename[0]) if filename else ""
    return PureWindowsPath(filename).name if "\\" in filename else Path(filename).name


def resolve_slp_video(sleap_video, slp_path: Path, override: str | Path | None = None) -> Path:
    """Find the video file of a sleap-io ``Video``.

    Tries ``override``, then the stored path, then the stored path relative to the .slp
    file's folder, then the stored file name in that folder.

    Raises
    ------
    MissingFileError
        If none exists.
    LabelFileError
        If the video is an image sequence or frames embedded in a .slp file.
    """
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise MissingFileError(f"Video {path} does not exist. Check the path.")
        return path
    filename = sleap_video.filename
    if isinstance(filename, list):
        raise LabelFileError(f"{slp_path}: a video made of {len(filename)} separate images is "
                             f"not supported; make a video of them and pass it as video=.")
    stored = Path(filename.replace("\\", "/")) if "\\" in filename else Path(filename)
    if stored.suffix.lower() in (".slp", ".h5", ".hdf5"):
        raise LabelFileError(f"{slp_path}: its frames are embedded in {stored.name}; posekit "
                             f"reads frames from the original video: pass it as video=.")
    folder = slp_path.parent
    candidates = [stored] if stored.is_absolute() else []
    candidates += [folder / stored, folder / _stored_name(sleap_video)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingFileError(f"{slp_path} refers to the video {filename}, which was not found "
                           f"(tried {[str(c) for c in candidates]}). Pass the video's path "
                           f"(`video=` / `--video`).")


def _plan_video(project: Project, slp_path: Path, sleap_video, chosen: list,
                bodyparts: list[str], order: list[str], override: str | Path | None
                ) -> _VideoImport:
    """Check one video's frames and labels, and plan their merge; writes nothing."""
    from posekit.frames import default_n_digits, frame_file_name
    from posekit.io.video import VideoReader

    video_path = resolve_slp_video(sleap_video, slp_path, override)
    folder = video_path.stem
    with VideoReader(video_path) as reader:
        n_frames = len(reader)
    beyond = [lf.frame_idx for lf in chosen if lf.frame_idx >= n_frames]
    if beyond:
        raise LabelFileError(f"{slp_path} labels frames {beyond[:5]} of {video_path}, which "
                             f"has only {n_frames} frames. Is this the right video?")
    existing = _existing_frames(project.labeled_data_dir / folder)
    digits = default_n_digits(n_frames)
    names = [existing.get(lf.frame_idx) or frame_file_name(lf.frame_idx, digits)
             for lf in chosen]
    images = [f"{LABELED_DATA_DIR}/{folder}/{name}" for name in names]
    points = np.stack([_frame_points(project, lf, bodyparts, order, slp_path, image)
                       for lf, image in zip(chosen, images, strict=True)])
    config = project.config
    new = Labels(images=images, points=points, bodyparts=list(order),
                 individuals=config.individual_names, scorer=project.scorer,
                 multi_animal=config.is_multi_animal,
                 unique_bodyparts=config.unique_bodyparts)
    merge = plan_folder_merge(project, folder, new)
    return _VideoImport(video_path=video_path, folder=folder,
                        frame_of_image={image: lf.frame_idx
                                        for image, lf in zip(images, chosen, strict=True)},
                        merge=merge)


def _existing_frames(folder: Path) -> dict[int, str]:
    """Frame index -> file name of the ``img<digits>.png`` files already in ``folder``."""
    if not folder.is_dir():
        return {}
    found = {}
    for entry in sorted(folder.iterdir()):
        match = _FRAME_NAME.match(entry.name)
        if match:
            found.setdefault(int(match.group(1)), entry.name)
    return found


def _frame_points(project: Project, labeled_frame, bodyparts: list[str], order: list[str],
                  slp_path: Path, image: str) -> np.ndarray:
    """(n_individuals, n_bodyparts, 2) for one labeled frame, individuals in config order."""
    config = project.config
    individuals = config.individual_names
    instances = [i for i in labeled_frame.user_instances if _has_points(i)]
    check_animal_count(project, len(instances), image=image, source=slp_path)
    columns = [bodyparts.index(name) for name in order]
    out = np.full((len(individuals), len(order), 2), np.nan)
    if not config.is_multi_animal:
        out[0] = instances[0].numpy()[columns] + SLEAP_TO_POSEKIT_OFFSET
        return out
    slots = _assign_individuals(instances, individuals, slp_path, image)
    for instance, slot in zip(instances, slots, strict=True):
        out[slot] = instance.numpy()[columns] + SLEAP_TO_POSEKIT_OFFSET
    return out


def _assign_individuals(instances: list, individuals: list[str], slp_path: Path,
                        image: str) -> list[int]:
    """Row of each instance: its track's individual, else the first free one."""
    tracks = [i.track.name if i.track is not None else None for i in instances]
    unknown = sorted({t for t in tracks if t is not None and t not in individuals})
    if unknown:
        raise LabelFileError(f"{slp_path}: tracks {unknown} are not individuals of the project "
                             f"({individuals}). Add them to 'individuals' in config.yaml (or "
                             f"rename the tracks in SLEAP) and import again.")
    named = [t for t in tracks if t is not None]
    repeated = sorted({t for t in named if named.count(t) > 1})
    if repeated:
        raise LabelFileError(f"{slp_path}: {image} has several instances of track "
                             f"{repeated}; expected one per track and frame. Fix the tracks "
                             f"in SLEAP.")
    free = iter(i for i, name in enumerate(individuals) if name not in named)
    return [individuals.index(t) if t is not None else next(free) for t in tracks]


def _write_frames(project: Project, plan: _VideoImport) -> None:
    """Extract the frames of the images being added that are not on disk yet."""
    from posekit.frames import write_frames
    from posekit.io.video import VideoReader

    todo = {}
    for image in plan.merge.added:
        target = project.root / image
        if not target.exists():
            todo[plan.frame_of_image[image]] = target
    if not todo:
        return
    by_digits: dict[int, list[int]] = {}
    for index, target in todo.items():
        by_digits.setdefault(len(target.stem) - len("img"), []).append(index)
    with VideoReader(plan.video_path) as reader:
        for digits, indices in by_digits.items():
            write_frames(reader, indices, project.labeled_data_dir / plan.folder,
                         n_digits=digits)
