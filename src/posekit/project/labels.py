"""The labels of a project: reading every labeled-data folder, checked against the config."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.labels import Labels, empty_labels, read_labels, write_labels
from posekit.project.project import Project

logger = logging.getLogger(__name__)


def check_labels_match_config(labels: Labels, project: Project, *, source: str | Path) -> Labels:
    """Check that a label file fits the project; return it with the config's bodypart order.

    Parameters
    ----------
    labels : Labels
        Labels read from ``source``.
    project : Project
        The project they belong to.
    source : path-like
        The file they came from, named in errors.

    Returns
    -------
    Labels
        The same labels, bodyparts reordered as in the config.

    Raises
    ------
    LabelFileError
        If the animal layout, bodyparts or individuals disagree with the config.
    """
    config = project.config
    if labels.multi_animal != config.is_multi_animal:
        kind = "multi-animal" if labels.multi_animal else "single-animal"
        expected = "multi-animal" if config.is_multi_animal else "single-animal"
        raise LabelFileError(f"{source} is a {kind} label file but {project.config_path} "
                             f"describes a {expected} project. Open it with a {kind} project "
                             f"or convert it.")
    _same_names("bodyparts", labels.bodyparts, config.pose_bodyparts, source, project)
    _same_names("unique bodyparts", labels.unique_bodyparts, config.unique_bodyparts, source,
                project)
    if labels.multi_animal:
        unknown = [name for name in labels.individuals if name not in config.individual_names]
        if unknown:
            raise LabelFileError(f"{source} has individuals {unknown} that {project.config_path}"
                                 f" does not list (individuals: {config.individual_names}). Add "
                                 f"them to the config or rename them in the file.")
    return reorder(labels, bodyparts=config.pose_bodyparts,
                   individuals=config.individual_names if labels.multi_animal else None)


def _same_names(what: str, found: list[str], expected: list[str], source: str | Path,
                project: Project) -> None:
    if set(found) != set(expected):
        missing = [n for n in expected if n not in found]
        extra = [n for n in found if n not in expected]
        raise LabelFileError(
            f"{source} has {what} {found} but {project.config_path} lists {expected} "
            f"(missing from the file: {missing}; not in the config: {extra}). Make the config's "
            f"{what} match the file, or relabel.")


def reorder(labels: Labels, *, bodyparts: list[str], individuals: list[str] | None) -> Labels:
    """Labels with bodyparts (and individuals, adding empty ones) in the given order."""
    bp_index = [labels.bodyparts.index(name) for name in bodyparts]
    points = labels.points[:, :, bp_index]
    names = labels.individuals
    if individuals is not None:
        full = np.full((len(labels), len(individuals), len(bodyparts), 2), np.nan)
        for j, name in enumerate(individuals):
            if name in labels.individuals:
                full[:, j] = points[:, labels.individuals.index(name)]
        points, names = full, list(individuals)
    return Labels(images=list(labels.images), points=points, bodyparts=list(bodyparts),
                  individuals=list(names), scorer=labels.scorer,
                  multi_animal=labels.multi_animal,
                  unique_bodyparts=list(labels.unique_bodyparts),
                  unique_points=labels.unique_points)


def read_folder_labels(project: Project, folder: str | Path) -> Labels:
    """The labels of one labeled-data folder (empty labels when it has no label file yet)."""
    path = project.labels_path(folder)
    if not path.exists():
        csv_path = path.with_suffix(".csv")
        if csv_path.exists():
            path = csv_path
        else:
            config = project.config
            return empty_labels(scorer=project.scorer, bodyparts=config.pose_bodyparts,
                                individuals=config.individual_names,
                                multi_animal=config.is_multi_animal,
                                unique_bodyparts=config.unique_bodyparts)
    return check_labels_match_config(read_labels(path), project, source=path)


def write_folder_labels(project: Project, folder: str | Path, labels: Labels) -> Path:
    """Atomically write one folder's CollectedData h5 and csv."""
    return write_labels(labels, project.labels_path(folder))


def concat_labels(parts: list[Labels]) -> Labels:
    """Stack labels that share bodyparts and individuals (as returned for one project)."""
    first = parts[0]
    return Labels(images=[image for part in parts for image in part.images],
                  points=np.concatenate([part.points for part in parts]),
                  bodyparts=list(first.bodyparts), individuals=list(first.individuals),
                  scorer=first.scorer, multi_animal=first.multi_animal,
                  unique_bodyparts=list(first.unique_bodyparts),
                  unique_points=np.concatenate([part.unique_points for part in parts]))


def load_project_labels(project: Project, *, check_images: bool = True) -> Labels:
    """All hand labels of a project, from every labeled-data folder, checked.

    Parameters
    ----------
    project : Project
        The project.
    check_images : bool
        Raise if a labeled image file does not exist.

    Returns
    -------
    Labels
        Images in folder order; bodyparts and individuals in config order.

    Raises
    ------
    LabelFileError
        If a file disagrees with the config or an image is listed twice.
    MissingFileError
        If ``check_images`` and a labeled image is missing.
    """
    parts = [read_folder_labels(project, folder) for folder in project.labeled_folders()]
    parts = [part for part in parts if len(part)]
    if not parts:
        config = project.config
        return empty_labels(scorer=project.scorer, bodyparts=config.pose_bodyparts,
                            individuals=config.individual_names,
                            multi_animal=config.is_multi_animal,
                            unique_bodyparts=config.unique_bodyparts)
    labels = concat_labels(parts)
    duplicated = sorted(name for name, n in Counter(labels.images).items() if n > 1)
    if duplicated:
        raise LabelFileError(f"images {duplicated} are labeled in more than one file of "
                             f"{project.labeled_data_dir}; keep one row per image.")
    if check_images:
        missing = [image for image in labels.images if not (project.root / image).is_file()]
        if missing:
            raise MissingFileError(
                f"{len(missing)} labeled images do not exist under {project.root}, e.g. "
                f"{missing[:3]}. Restore the images, or remove their rows from the label file.")
    return labels
