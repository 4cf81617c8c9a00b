"""Training sets: train/test splits of a project's labeled images, one per shuffle.

A *shuffle* is one seeded random split of the labeled images into a train set and a test
set. Each is recorded on disk, so that a model can be retrained, evaluated or compared with
another model on exactly the same images::

    training-datasets/iteration-<N>/<Task><date>-trainset<pct>shuffle<S>/split.json

The folder name follows DeepLabCut's naming of a shuffle's model folder
(``dlc-models/iteration-0/openfieldOct30-trainset95shuffle1``). ``split.json`` lists the
train and test images (paths relative to the project root), the train fraction, the seed,
the images left out and why, the hashes of the label files the split was made from, and the
posekit version.

Rules:

- Shuffles are numbered from 1, as in DeepLabCut. A shuffle that exists is never
  overwritten: asking for it again is an error, unless ``append=True`` asks for new indices
  after the highest existing one.
- Frames where every keypoint is missing teach nothing and are excluded (logged, and listed
  in ``split.json`` under ``excluded_images``).
- ``from_shuffle=S`` copies shuffle S's train and test images exactly (for comparing models
  fairly); images labeled since then are left out and listed as such.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit._version import __version__
from posekit.errors import LabelFileError, MissingFileError, ProjectError
from posekit.io.atomic import write_text_atomic
from posekit.io.labels import Labels
from posekit.project import Project, open_project
from posekit.project.labels import load_project_labels

logger = logging.getLogger(__name__)

SPLIT_FILE = "split.json"
SPLIT_FORMAT = "posekit-split"
SPLIT_FORMAT_VERSION = 1
NO_KEYPOINTS = "no visible keypoints"
DEFAULT_TRAIN_FRACTION = 0.95
_SHUFFLE_DIR = re.compile(r"^(?P<prefix>.*)-trainset(?P<pct>\d+)shuffle(?P<shuffle>\d+)$")


@dataclass
class Split:
    """One shuffle: which labeled images are for training and which for testing.

    Attributes
    ----------
    train_images, test_images : list of str
        Image paths relative to the project root, in label-file order.
    fraction : float
        The train fraction asked for (the train set holds ``round(fraction * n)`` images).
    seed : int
        Seed of the random permutation (for ``from_shuffle`` copies, the source's seed).
    shuffle : int
        The shuffle index (1, 2, ...).
    iteration : int
        The project iteration (``iteration`` in config.yaml) the split belongs to.
    excluded_images : dict of str to str
        Labeled images in neither set, with the reason.
    from_shuffle : int or None
        The shuffle this split was copied from, if any.
    path : Path or None
        The ``split.json`` it was read from or written to.
    """

    train_images: list[str]
    test_images: list[str]
    fraction: float
    seed: int
    shuffle: int
    iteration: int
    excluded_images: dict[str, str] = field(default_factory=dict)
    from_shuffle: int | None = None
    path: Path | None = None


def _as_project(project: Project | str | Path) -> Project:
    return project if isinstance(project, Project) else open_project(project)


def iteration_dir(project: Project, iteration: int | None = None) -> Path:
    """``training-datasets/iteration-<N>`` (N from the config unless given)."""
    if iteration is None:
        iteration = project.config.iteration
    return project.training_datasets_dir / f"iteration-{iteration}"


def shuffle_dir_name(project: Project, *, fraction: float, shuffle: int) -> str:
    """DeepLabCut's name for a shuffle's folder: ``<Task><date>-trainset<pct>shuffle<S>``."""
    prefix = f"{project.config.Task}{project.config.date}".replace("/", "_").replace("\\", "_")
    # int, not round, as DeepLabCut names them
    return f"{prefix}-trainset{int(100 * fraction)}shuffle{shuffle}"


def list_shuffles(project: Project | str | Path, *, iteration: int | None = None
                  ) -> dict[int, Path]:
    """The shuffles recorded for one iteration.

    Parameters
    ----------
    project : Project or path-like
        The project (or its folder).
    iteration : int, optional
        Defaults to the config's ``iteration``.

    Returns
    -------
    dict of int to Path
        Shuffle index -> its ``split.json``, sorted by index. Folders without a
        ``split.json`` (e.g. left by an interrupted run) are ignored.
    """
    project = _as_project(project)
    folder = iteration_dir(project, iteration)
    found: dict[int, Path] = {}
    if not folder.is_dir():
        return found
    for child in sorted(folder.iterdir()):
        match = _SHUFFLE_DIR.match(child.name)
        if match and (child / SPLIT_FILE).is_file():
            index = int(match["shuffle"])
            if index in found:
                raise ProjectError(
                    f"{folder} holds two folders for shuffle {index}: {found[index].parent.name}"
                    f" and {child.name}. Keep one (delete or rename the other).")
            found[index] = child / SPLIT_FILE
    return dict(sorted(found.items()))


def load_split(project: Project | str | Path, shuffle: int, *,
               iteration: int | None = None) -> Split:
    """Read a recorded shuffle.

    Parameters
    ----------
    project : Project or path-like
        The project (or its folder).
    shuffle : int
        The shuffle index.
    iteration : int, optional
        Defaults to the config's ``iteration``.

    Returns
    -------
    Split

    Raises
    ------
    MissingFileError
        If the shuffle does not exist (the message lists those that do).
    ProjectError
        If its ``split.json`` is malformed.
    """
    project = _as_project(project)
    if iteration is None:
        iteration = project.config.iteration
    existing = list_shuffles(project, iteration=iteration)
    if shuffle not in existing:
        have = (f"the shuffles that exist are {sorted(existing)}" if existing
                else "no shuffle exists yet")
        raise MissingFileError(
            f"Shuffle {shuffle} of iteration {iteration} does not exist in "
            f"{iteration_dir(project, iteration)}: {have}. Create it with "
            f"`posekit create-dataset {project.root} --shuffles N`, or pick an existing one.")
    return read_split_file(existing[shuffle])


def read_split_file(path: str | Path) -> Split:
    """Read one ``split.json`` (see :func:`load_split`)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != SPLIT_FORMAT:
            raise ValueError(f"'format' is {record.get('format')!r}, not {SPLIT_FORMAT!r}")
        split = Split(train_images=[str(x) for x in record["train_images"]],
                      test_images=[str(x) for x in record["test_images"]],
                      fraction=float(record["train_fraction"]), seed=int(record["seed"]),
                      shuffle=int(record["shuffle"]), iteration=int(record["iteration"]),
                      excluded_images={str(k): str(v)
                                       for k, v in record.get("excluded_images", {}).items()},
                      from_shuffle=record.get("from_shuffle"), path=path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ProjectError(f"{path} is not a valid posekit split file ({error}). Delete its "
                           f"folder and create the shuffle again with "
                           f"`posekit create-dataset`.") from error
    overlap = set(split.train_images) & set(split.test_images)
    if overlap:
        raise ProjectError(f"{path} lists {sorted(overlap)[:3]} in both the train and the test "
                           f"set. Delete its folder and create the shuffle again.")
    return split


def split_labels(project: Project | str | Path, split: Split) -> tuple[Labels, Labels]:
    """The current labels of a split's train and test images.

    Labels corrected since the split was made are used as they are now; only the choice of
    images comes from the split.

    Parameters
    ----------
    project : Project or path-like
        The project.
    split : Split
        From :func:`load_split`.

    Returns
    -------
    train, test : Labels
        ``points: (n_train or n_test, n_individuals, n_bodyparts, 2)``, in the split's order.

    Raises
    ------
    LabelFileError
        If an image of the split is no longer labeled.
    """
    project = _as_project(project)
    labels = load_project_labels(project)
    row = {image: i for i, image in enumerate(labels.images)}
    gone = [im for im in split.train_images + split.test_images if im not in row]
    if gone:
        raise LabelFileError(
            f"{len(gone)} images of shuffle {split.shuffle} ({split.path}) are no longer in the "
            f"project's label files, e.g. {gone[:3]}. Restore their labels, or create a new "
            f"shuffle with `posekit create-dataset`.")
    return (labels.select([row[im] for im in split.train_images]),
            labels.select([row[im] for im in split.test_images]))


def create_dataset(project: Project | str | Path, *, shuffles: int | Sequence[int] = 1,
                   train_fraction: float | None = None, from_shuffle: int | None = None,
                   seed: int | None = None, append: bool = False) -> list[Path]:
    """Split the labeled images into train and test sets and record each split.

    Parameters
    ----------
    project : Project or path-like
        The project (or its folder).
    shuffles : int or sequence of int
        How many shuffles to create (numbered 1..K, or after the highest existing one with
        ``append``), or the exact indices to create.
    train_fraction : float, optional
        Fraction of images used for training, in (0, 1). Defaults to the config's
        ``TrainingFraction[0]`` (DeepLabCut's default is 0.95).
    from_shuffle : int, optional
        Copy this shuffle's train and test images exactly instead of drawing new ones.
    seed : int, optional
        Seed of the first shuffle created; the next ones use seed + 1, seed + 2, ... By
        default each shuffle's seed is its index.
    append : bool
        Number the new shuffles after the highest existing one instead of from 1.

    Returns
    -------
    list of Path
        The ``split.json`` written for each new shuffle.

    Raises
    ------
    ProjectError
        If a shuffle already exists, the fraction is out of range or leaves the train or
        test set empty, or the project has no labeled image with a visible keypoint.
    MissingFileError
        If ``from_shuffle`` does not exist, or a labeled image file is missing.
    """
    project = _as_project(project)
    iteration = project.config.iteration
    indices = _new_indices(project, shuffles, append=append)
    labels = load_project_labels(project)
    provenance = _provenance(project, labels)
    rows, excluded = _usable_rows(labels)
    if from_shuffle is not None:
        source = load_split(project, from_shuffle)
        fraction = _check_fraction(source.fraction if train_fraction is None else train_fraction)
        if train_fraction is not None and abs(train_fraction - source.fraction) > 1e-9:
            raise ProjectError(
                f"--train-fraction {train_fraction} disagrees with shuffle {from_shuffle}, whose "
                f"train fraction is {source.fraction}; a copied split keeps its fraction. Leave "
                f"the fraction out, or drop --from-shuffle to draw a new split.")
        drafts = [_copy_split(source, labels, rows, excluded) for _ in indices]
        seeds = [source.seed] * len(indices)
    else:
        default = (project.config.TrainingFraction or [DEFAULT_TRAIN_FRACTION])[0]
        fraction = _check_fraction(default if train_fraction is None else train_fraction)
        seeds = [(index if seed is None else seed + k) for k, index in enumerate(indices)]
        drafts = [_draw_split(labels, rows, excluded, fraction=fraction, seed=s)
                  for s in seeds]
    written = []
    for index, the_seed, (train, test, skipped) in zip(indices, seeds, drafts, strict=True):
        split = Split(train_images=train, test_images=test, fraction=fraction, seed=the_seed,
                      shuffle=index, iteration=iteration, excluded_images=skipped,
                      from_shuffle=from_shuffle)
        written.append(_write_split(project, split, provenance))
    return written


def create_dataset_from_images(project: Project | str | Path, train_images: Sequence[str],
                               test_images: Sequence[str], *, shuffle: int) -> Path:
    """Record a split whose train and test images the caller chose (no random draw).

    For experiments that control the training set, e.g. a simulated labeling loop that adds
    chosen frames round by round while the test set stays fixed.

    Parameters
    ----------
    project : Project or path-like
    train_images, test_images : sequence of str
        Labeled image paths relative to the project root (``labeled-data/<video>/imgNNNN.png``),
        disjoint, each labeled with at least one visible keypoint.
    shuffle : int
        The new shuffle's index (must not exist yet).

    Returns
    -------
    Path
        The ``split.json`` written. Its train fraction is ``n_train / (n_train + n_test)``;
        labeled images in neither list are recorded as excluded.

    Raises
    ------
    ProjectError
        Empty or overlapping lists, an image that is not labeled (or has no visible
        keypoint), or a shuffle that already exists.
    """
    project = _as_project(project)
    index = _new_indices(project, [shuffle], append=False)[0]
    train, test = list(train_images), list(test_images)
    both = sorted(set(train) & set(test))
    if not train or not test or both:
        raise ProjectError(
            f"a split needs non-empty, disjoint train and test lists; got {len(train)} train and "
            f"{len(test)} test images{f', with {both[:3]} in both' if both else ''}.")
    labels = load_project_labels(project)
    rows, excluded = _usable_rows(labels)
    usable = {labels.images[i] for i in rows}
    unknown = [image for image in train + test if image not in usable]
    if unknown:
        raise ProjectError(
            f"{len(unknown)} images of the split are not labeled with a visible keypoint in "
            f"{project.root}, e.g. {unknown[:3]}. Give paths as in the label files "
            f"(labeled-data/<video>/<image>.png).")
    chosen = set(train) | set(test)
    left_out = {image: "not chosen for this split" for image in sorted(usable - chosen)}
    split = Split(train_images=train, test_images=test,
                  fraction=len(train) / (len(train) + len(test)), seed=0, shuffle=index,
                  iteration=project.config.iteration, excluded_images={**excluded, **left_out})
    return _write_split(project, split, _provenance(project, labels))


def _new_indices(project: Project, shuffles: int | Sequence[int], *, append: bool) -> list[int]:
    existing = sorted(list_shuffles(project))
    if isinstance(shuffles, (int, np.integer)) and not isinstance(shuffles, bool):
        count = int(shuffles)
        if count < 1:
            raise ProjectError(f"shuffles must be at least 1, found {count}.")
        start = (max(existing) + 1 if existing else 1) if append else 1
        indices = list(range(start, start + count))
    else:
        if append:
            raise ProjectError("append numbers new shuffles itself: pass a count of shuffles "
                               f"with it, not the indices {list(shuffles)}.")
        indices = [int(i) for i in shuffles]
        bad = [i for i in indices if i < 1]
        if bad or not indices or len(set(indices)) != len(indices):
            raise ProjectError(f"shuffle indices must be distinct integers >= 1, found "
                               f"{list(shuffles)}.")
    taken = [i for i in indices if i in existing]
    if taken:
        folder = iteration_dir(project)
        nxt = max(existing) + 1
        raise ProjectError(
            f"shuffle {taken} already exists in {folder} (existing shuffles: {existing}); "
            f"posekit never overwrites a recorded split. Add new shuffles numbered from {nxt} "
            f"with --append (append=True), pick unused indices, or delete the shuffle's folder "
            f"to recreate it.")
    return indices


def _check_fraction(fraction: float) -> float:
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0 or not np.isfinite(fraction):
        raise ProjectError(f"the train fraction must lie strictly between 0 and 1 (e.g. 0.95),"
                           f" found {fraction}.")
    return fraction


def _usable_rows(labels: Labels) -> tuple[list[int], dict[str, str]]:
    """Rows with at least one visible keypoint, and the excluded images with the reason."""
    visible = np.isfinite(labels.points).all(axis=-1).any(axis=(1, 2))
    if labels.unique_points is not None and labels.unique_points.size:
        visible |= np.isfinite(labels.unique_points).all(axis=-1).any(axis=1)
    excluded = {labels.images[i]: NO_KEYPOINTS for i in np.flatnonzero(~visible)}
    if excluded:
        logger.warning("%d labeled images have no visible keypoint and are left out of the "
                       "training set: %s%s", len(excluded), list(excluded)[:5],
                       " ..." if len(excluded) > 5 else "")
    return [int(i) for i in np.flatnonzero(visible)], excluded


def _draw_split(labels: Labels, rows: list[int], excluded: dict[str, str], *, fraction: float,
                seed: int) -> tuple[list[str], list[str], dict[str, str]]:
    n = len(rows)
    n_train = int(round(fraction * n))
    if n < 2 or not 1 <= n_train <= n - 1:
        lo, hi = 0.5 / n if n else float("nan"), 1 - 0.5 / n if n else float("nan")
        raise ProjectError(
            f"a train fraction of {fraction} leaves the "
            f"{'train' if n_train < 1 else 'test'} set empty: the project has {n} labeled "
            f"images with visible keypoints ({len(excluded)} more have none). Use a fraction "
            f"between about {lo:.3f} and {hi:.3f}, or label more frames (at least 2 are needed).")
    order = np.random.default_rng(seed).permutation(n)
    train_rows = sorted(rows[i] for i in order[:n_train])
    test_rows = sorted(rows[i] for i in order[n_train:])
    return ([labels.images[i] for i in train_rows], [labels.images[i] for i in test_rows],
            dict(excluded))


def _copy_split(source: Split, labels: Labels, rows: list[int], excluded: dict[str, str]
                ) -> tuple[list[str], list[str], dict[str, str]]:
    usable = {labels.images[i] for i in rows}
    wanted = source.train_images + source.test_images
    lost = [image for image in wanted if image not in usable]
    if lost:
        raise ProjectError(
            f"shuffle {source.shuffle} cannot be copied: {len(lost)} of its images are no longer "
            f"labeled with a visible keypoint, e.g. {lost[:3]}. Restore their labels, or draw a "
            f"new split without --from-shuffle.")
    wanted_set = set(wanted)
    new = {image: f"not in shuffle {source.shuffle}, which this split copies"
           for image in sorted(usable - wanted_set)}
    if new:
        logger.warning("%d labeled images are not in shuffle %d and are left out of its copy: "
                       "%s", len(new), source.shuffle, list(new)[:5])
    return list(source.train_images), list(source.test_images), {**excluded, **new}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def labels_digest(labels: Labels) -> str:
    """A content hash of labels (images and coordinates), independent of the file format."""
    digest = hashlib.sha256()
    digest.update("\n".join(labels.images).encode("utf-8"))
    digest.update(np.nan_to_num(labels.points, nan=-1e30).astype("<f8").tobytes())
    return digest.hexdigest()


def _provenance(project: Project, labels: Labels) -> dict[str, Any]:
    files = {}
    for folder in project.labeled_folders():
        h5 = project.labels_path(folder)
        for path in (h5, h5.with_suffix(".csv")):
            if path.is_file():
                files[path.relative_to(project.root).as_posix()] = _sha256(path)
    return {"label_files_sha256": files, "labels_sha256": labels_digest(labels),
            "bodyparts": list(labels.bodyparts), "individuals": list(labels.individuals),
            "scorer": labels.scorer, "n_labeled_images": len(labels)}


def _write_split(project: Project, split: Split, provenance: dict[str, Any]) -> Path:
    folder = iteration_dir(project, split.iteration) / shuffle_dir_name(
        project, fraction=split.fraction, shuffle=split.shuffle)
    record = {
        "format": SPLIT_FORMAT, "format_version": SPLIT_FORMAT_VERSION,
        "shuffle": split.shuffle, "iteration": split.iteration,
        "train_fraction": split.fraction, "seed": split.seed,
        "from_shuffle": split.from_shuffle,
        "n_train": len(split.train_images), "n_test": len(split.test_images),
        "train_images": split.train_images, "test_images": split.test_images,
        "excluded_images": split.excluded_images,
        **provenance,
        "posekit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = write_text_atomic(folder / SPLIT_FILE, json.dumps(record, indent=2) + "\n")
    split.path = path
    logger.info("shuffle %d: %d train and %d test images -> %s", split.shuffle,
                len(split.train_images), len(split.test_images), path)
    return path
