"""Iterations of the refinement loop: merging refined frames and starting the next iteration."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from posekit.errors import ProjectError
from posekit.io.labels import H5_KEY
from posekit.project.labels import read_folder_labels
from posekit.project.project import Project

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeReport:
    """What :func:`merge` found and did.

    Attributes
    ----------
    iteration : int
        The new iteration number.
    refined : dict of str to int
        Per labeled-data folder, the outlier frames that now carry human labels.
    unrefined : dict of str to list of str
        Per folder, outlier frames nobody has labeled or accepted yet (left out).
    """

    iteration: int
    refined: dict[str, int]
    unrefined: dict[str, list[str]]


def machine_label_images(project: Project, folder: str, iteration: int) -> list[str]:
    """Images (project-relative paths) of a folder's ``machinelabels-iter<N>.h5``."""
    path = project.labeled_data_dir / folder / f"machinelabels-iter{iteration}.h5"
    if not path.is_file():
        return []
    frame = pd.read_hdf(path, H5_KEY)
    return ["/".join(str(p) for p in key) if isinstance(key, tuple) else str(key)
            for key in frame.index]


def merge(project: Project, *, force: bool = False) -> MergeReport:
    """Fold the refined outlier frames into the training data and start a new iteration.

    Refined frames are those of this iteration's ``machinelabels-iter<N>.h5`` files that now
    have rows in the folder's CollectedData file (corrected or accepted in the labeling app).
    The config's ``iteration`` is increased (as DeepLabCut's ``merge_datasets`` does), so the
    next ``create-dataset`` and ``train`` write to new ``iteration-<N+1>`` folders; earlier
    iterations' training sets and models are left untouched.

    Parameters
    ----------
    project : Project
        The project (its config is saved).
    force : bool
        Start the new iteration even when some outlier frames are not refined yet.

    Returns
    -------
    MergeReport

    Raises
    ------
    ProjectError
        If no frame was refined in this iteration, or some are unrefined and not ``force``.
    """
    iteration = project.config.iteration
    refined: dict[str, int] = {}
    unrefined: dict[str, list[str]] = {}
    for folder in project.labeled_folders():
        images = machine_label_images(project, folder.name, iteration)
        if not images:
            continue
        labeled = set(read_folder_labels(project, folder).images)
        refined[folder.name] = sum(image in labeled for image in images)
        left = [image for image in images if image not in labeled]
        if left:
            unrefined[folder.name] = left
    if not any(refined.values()):
        raise ProjectError(
            f"Nothing to merge in iteration {iteration} of {project.root}: no outlier frame "
            f"(machinelabels-iter{iteration}.h5) has been refined. Run `posekit "
            f"extract-outliers`, then correct the frames with `posekit label`.")
    if unrefined and not force:
        counts = {name: len(v) for name, v in unrefined.items()}
        raise ProjectError(f"Some outlier frames are not refined yet: {counts}. Refine them in "
                           f"`posekit label`, or merge anyway with --force (they are left out).")
    project.config.iteration = iteration + 1
    project.save()
    logger.info("merged %d refined frames; the project is now at iteration %d",
                sum(refined.values()), iteration + 1)
    return MergeReport(iteration + 1, refined, unrefined)
