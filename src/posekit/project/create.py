"""Creating projects and adding videos to them."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from posekit.errors import MissingFileError, ProjectError
from posekit.io.atomic import atomic_path
from posekit.project.config import (
    CONFIG_NAME,
    MULTI_PLACEHOLDER,
    _yaml,
    dump_document,
    parse_config,
)
from posekit.project.project import PROJECT_FOLDERS, Project, open_project

logger = logging.getLogger(__name__)

DEFAULT_BODYPARTS = ("bodypart1", "bodypart2", "bodypart3", "objectA")

_TEMPLATE = """\
# Project definitions (do not edit)
Task: {task}
scorer: {scorer}
date: {date}
multianimalproject: {multi}
identity:

# Project path (informational: posekit resolves every path from this file's folder)
project_path: {project_path}

# Engine DeepLabCut uses for shuffle creation (posekit trains its own models)
engine: pytorch

# Videos of the project and their crop (x1, x2, y1, y2)
video_sets: {{}}
{bodyparts_block}
# Fraction of each video to start/stop at when extracting frames to label
start: 0
stop: 1
numframes2pick: 20

# Plotting: skeleton edges are pairs of bodyparts
skeleton: []
skeleton_color: black
pcutoff: 0.6
dotsize: 8
alphavalue: 0.7
colormap: rainbow

# Training, evaluation and analysis
TrainingFraction:
- 0.95
iteration: 0
default_net_type: mobilenet_v2
snapshotindex: -1
batch_size: 8

# Cropping for analysis and outlier frames
cropping: false
x1: 0
x2: 640
y1: 277
y2: 624
"""


def _bodyparts_block(multi: bool, individuals: Sequence[str], bodyparts: Sequence[str],
                     unique: Sequence[str]) -> str:
    def listing(values: Sequence[str]) -> str:
        return "".join(f"\n- {value}" for value in values) if values else " []"

    if not multi:
        return f"bodyparts:{listing(bodyparts)}\n"
    return (f"individuals:{listing(individuals)}\n"
            f"uniquebodyparts:{listing(unique)}\n"
            f"multianimalbodyparts:{listing(bodyparts)}\n"
            f"bodyparts: {MULTI_PLACEHOLDER}\n")


def create_project(
    name: str,
    experimenter: str,
    videos: Sequence[str | Path],
    *,
    working_directory: str | Path = ".",
    copy_videos: bool = False,
    individuals: Sequence[str] | None = None,
    bodyparts: Sequence[str] | None = None,
) -> Project:
    """Create a DeepLabCut-compatible project folder.

    The folder is ``<working_directory>/<name>-<experimenter>-<YYYY-MM-DD>`` and holds
    config.yaml, videos/, labeled-data/, training-datasets/, posekit-models/ and
    posekit-evaluation/.

    Parameters
    ----------
    name : str
        The task name (DeepLabCut's ``Task``).
    experimenter : str
        Who labels (DeepLabCut's ``scorer``).
    videos : sequence of path-like
        Videos to add; each must be a readable video.
    working_directory : path-like
        Where the project folder is created.
    copy_videos : bool
        Copy the videos into videos/ instead of linking to them.
    individuals : sequence of str, optional
        Names of the animals; giving them makes a multi-animal project.
    bodyparts : sequence of str, optional
        Bodyparts to label; placeholders if omitted (edit config.yaml before labeling).

    Returns
    -------
    Project
        The new project, opened.

    Raises
    ------
    ProjectError
        If the folder exists already or a name is invalid.
    MissingFileError, VideoError
        If a video is missing or unreadable (nothing is created then).
    """
    _check_name("name", name)
    _check_name("experimenter", experimenter)
    multi = individuals is not None
    if multi and not individuals:
        raise ProjectError("--multi-animal needs at least one individual: "
                           "pass --individuals NAME [NAME ...].")
    video_paths = [_checked_video(v) for v in videos]
    date = _dt.date.today().isoformat()
    root = Path(working_directory).expanduser().resolve() / f"{name}-{experimenter}-{date}"
    if root.exists():
        raise ProjectError(f"{root} already exists. Open it with `posekit` commands as it is, "
                           f"or choose another name or working directory.")
    text = _TEMPLATE.format(
        task=name, scorer=experimenter, date=_dt.date.today().strftime("%b%d"),
        multi="true" if multi else "false", project_path=root,
        bodyparts_block=_bodyparts_block(multi, individuals or [],
                                         bodyparts or DEFAULT_BODYPARTS, []))
    document = _yaml().load(text)
    parse_config(document, source="the new config")
    staging = root.with_name(f".{root.name}.creating")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for folder in PROJECT_FOLDERS:
        (staging / folder).mkdir()
    (staging / CONFIG_NAME).write_text(dump_document(document), encoding="utf-8")
    os.replace(staging, root)
    project = open_project(root)
    add_videos(project, video_paths, copy=copy_videos)
    logger.info("created project %s", root)
    return project


def _check_name(what: str, value: str) -> None:
    if not value or any(ch in value for ch in '/\\:*?"<>|') or value.strip() != value:
        raise ProjectError(f"The project {what} {value!r} cannot be used in a folder name: "
                           f"use letters, digits, '-' or '_'.")


def _checked_video(video: str | Path) -> Path:
    from posekit.io.video import read_video_metadata

    path = Path(video).expanduser()
    if not path.is_file():
        raise MissingFileError(f"Video {path} does not exist. Check the path.")
    read_video_metadata(path)
    return path.resolve()


def add_videos(project: Project, videos: Sequence[str | Path], *, copy: bool = False) -> list[Path]:
    """Add videos to a project: link (or copy) them into videos/ and list them in the config.

    Parameters
    ----------
    project : Project
        The project to change; its config is saved.
    videos : sequence of path-like
        Video files; each must be readable.
    copy : bool
        Copy the files instead of linking them (links fall back to copies where the file
        system has none).

    Returns
    -------
    list of Path
        The videos as they are now inside the project, in the order given.

    Raises
    ------
    ProjectError
        If another video of the project already has the same file name.
    """
    sources = [_checked_video(v) for v in videos]
    added = []
    for source in sources:
        target = project.videos_dir / source.name
        if target.exists() or target.is_symlink():
            if target.resolve() != source.resolve():
                raise ProjectError(
                    f"The project already has a different video named {source.name} "
                    f"({target.resolve()}). Rename {source} before adding it.")
        else:
            _place_video(source, target, copy=copy)
        key = str(target)
        if key not in project.config.video_sets:
            sets = dict(project.config.video_sets)
            sets[key] = {"crop": _crop_string(target)}
            project.config.video_sets = sets
        added.append(target)
    project.save()
    return added


def _place_video(source: Path, target: Path, *, copy: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not copy:
        try:
            target.symlink_to(source)
            return
        except OSError:
            logger.info("cannot link %s here; copying it instead", source)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def _crop_string(video: Path) -> str:
    from posekit.io.video import read_video_metadata

    meta = read_video_metadata(video)
    return f"0, {meta.width}, 0, {meta.height}"
