"""A writable copy of a labeled project, set up as posekit's benchmarks train on it."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_project(source: Path, target: Path):  # -> tuple[Project, list[tuple[str, str]]]
    """Copy ``source`` to ``target`` and open it; declare left/right bodyparts as symmetric
    pairs (guessed from their names) when the config declares none, so flips swap them.

    Returns the project and the guessed pairs.
    """
    from posekit.data.augment import SYMMETRIC_PAIRS_KEY, guess_symmetric_pairs
    from posekit.project import open_project

    shutil.copytree(source, target)
    project = open_project(target)
    pairs = guess_symmetric_pairs(project.config.pose_bodyparts)
    if pairs and SYMMETRIC_PAIRS_KEY not in (project.config.model_extra or {}):
        setattr(project.config, SYMMETRIC_PAIRS_KEY, [list(p) for p in pairs])
        project.save()
    return project, pairs
