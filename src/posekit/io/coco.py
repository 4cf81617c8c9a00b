"""Import COCO keypoint annotations into a project's labeled-data.

A COCO keypoint file is a json object with ``images`` (``id``, ``file_name``), ``categories``
(``keypoints``: the ordered keypoint names; ``skeleton``: pairs of keypoint indices) and
``annotations`` (``image_id``, ``category_id``, ``keypoints``: ``[x1, y1, v1, x2, y2, v2, ...]``
with ``v = 0`` not labeled, ``v = 1`` labeled but occluded, ``v = 2`` labeled and visible).

Coordinates
    COCO's own data format page does not say where the pixel origin is, but its keypoints are
    pixel indices: integers in ``[0, W - 1] x [0, H - 1]`` (its boxes and polygons, by contrast,
    are continuous in ``[0, W] x [0, H]``, origin at the top-left *corner*). The widely used
    reading of this (detectron2's COCO loader and its compatibility notes: "keypoint
    coordinates are integers in [0, H-1 or W-1] ... pixel indices") is that keypoint
    ``(0, 0)`` is the **center** of the top-left pixel, which is exactly posekit's convention
    (origin at the top-left pixel's center, x right, y down). The conversion is therefore the
    identity; it is written out as :data:`COCO_TO_POSEKIT_OFFSET` so that it is explicit and
    easy to change. (detectron2 adds 0.5 because its own convention puts the origin at the
    corner.)

Skeleton indices
    The COCO format numbers skeleton keypoints from 1, but several animal data sets write
    them from 0. An index 0 means 0-based; an index equal to the number of keypoints means
    1-based; a skeleton that is consistent with both is read as 1-based (the standard) and a
    note is logged.

The functions :func:`match_project_bodyparts` and :func:`merge_folder_labels` are shared with
the SLEAP importer (:mod:`posekit.io.sleap`).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.atomic import atomic_path
from posekit.io.labels import Labels
from posekit.progress import track
from posekit.project.labels import concat_labels, read_folder_labels, write_folder_labels
from posekit.project.project import LABELED_DATA_DIR, Project

logger = logging.getLogger(__name__)

COCO_TO_POSEKIT_OFFSET = 0.0
"""Added to COCO keypoint x and y to get posekit coordinates (both use pixel centers)."""

PLACEHOLDER_BODYPARTS = frozenset({"bodypart1", "bodypart2", "bodypart3", "objectA"})
"""The bodypart names DeepLabCut and posekit write into a new config."""


@dataclass
class CocoKeypoints:
    """The content of a COCO keypoint file, checked.

    Attributes
    ----------
    bodyparts : list of str
        Keypoint names, in file order.
    edges : list of (str, str)
        Skeleton edges.
    file_names : list of str
        ``file_name`` of each image that holds at least one labeled keypoint.
    instances : list of ndarray
        Per image, an array ``(n_animals, n_bodyparts, 2)`` of x, y in posekit coordinates,
        NaN where a keypoint is not labeled (``v = 0``); animals in annotation order.
    """

    bodyparts: list[str]
    edges: list[tuple[str, str]]
    file_names: list[str]
    instances: list[np.ndarray]


def read_coco(json_path: str | Path) -> CocoKeypoints:
    """Read and check a COCO keypoint json file.

    Annotations without any labeled keypoint and images without such annotations are left
    out (logged).

    Parameters
    ----------
    json_path : path-like
        The ``.json`` file.

    Returns
    -------
    CocoKeypoints

    Raises
    ------
    MissingFileError
        If the file does not exist.
    LabelFileError
        If it is not json, not a COCO keypoint file, mixes categories with different keypoint
        sets, or an annotation is malformed.
    """
    path = Path(json_path)
    data = _load_json(path)
    bodyparts, skeleton, keypoint_ids, other_ids = _keypoint_categories(data, path)
    edges = _skeleton_edges(skeleton, bodyparts, path)
    images = _images(data["images"], path)
    per_image: dict[int, list[np.ndarray]] = {}
    skipped, unknown_categories = 0, set()
    for number, annotation in enumerate(data["annotations"]):
        if not isinstance(annotation, dict):
            raise LabelFileError(f"{path}: annotation #{number} is not a json object.")
        category = annotation.get("category_id")
        if category in other_ids:
            continue  # a category without keypoints (e.g. a detection-only class)
        if category not in keypoint_ids:
            unknown_categories.add(category)
        points = _annotation_points(annotation, len(bodyparts), path, number)
        if points is None:
            skipped += 1
            continue
        image_id = annotation.get("image_id")
        if image_id not in images:
            raise LabelFileError(f"{path}: annotation {annotation.get('id', number)} refers to "
                                 f"image_id {image_id!r}, which 'images' does not list.")
        per_image.setdefault(image_id, []).append(points)
    if unknown_categories:
        logger.warning("%s: annotations use category ids %s that 'categories' does not define;"
                       " reading them with the file's keypoints", path,
                       sorted(unknown_categories, key=str))
    if skipped:
        logger.info("%s: skipped %d annotations without labeled keypoints", path, skipped)
    unlabeled = len(images) - len(per_image)
    if unlabeled:
        logger.info("%s: skipped %d images without labeled keypoints", path, unlabeled)
    ids = [image_id for image_id in images if image_id in per_image]
    return CocoKeypoints(bodyparts=bodyparts, edges=edges,
                         file_names=[images[i] for i in ids],
                         instances=[np.stack(per_image[i]) for i in ids])


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise MissingFileError(f"COCO file {path} does not exist. Check the path.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LabelFileError(f"{path} is not a json file ({error}). Expected a COCO keypoint "
                             f"annotation file.") from error
    expected = ("images", "annotations", "categories")
    if not isinstance(data, dict) or any(not isinstance(data.get(k), list) for k in expected):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise LabelFileError(f"{path} is not a COCO keypoint file: expected a json object with "
                             f"the lists {list(expected)}, found {found}.")
    return data


def _keypoint_categories(data: dict, path: Path
                         ) -> tuple[list[str], list, set[object], set[object]]:
    """The one keypoint set of the file, its skeleton, and the category ids with/without it."""
    with_keypoints: dict[tuple[str, ...], list[dict]] = {}
    others: set[object] = set()
    for category in data["categories"]:
        if not isinstance(category, dict):
            raise LabelFileError(f"{path}: each category must be a json object, found "
                                 f"{category!r}.")
        names = category.get("keypoints")
        if not names:
            others.add(category.get("id"))
            continue
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise LabelFileError(f"{path}: category {category.get('name')!r} has keypoints "
                                 f"{names!r}; expected a list of names.")
        with_keypoints.setdefault(tuple(names), []).append(category)
    if not with_keypoints:
        raise LabelFileError(f"{path} is not a COCO keypoint file: no category lists "
                             f"'keypoints' (found categories "
                             f"{[c.get('name') for c in data['categories']][:10]}). Export "
                             f"the annotations with keypoints.")
    if len(with_keypoints) > 1:
        sets = "; ".join(f"{[c.get('name') for c in cats][:3]}: {list(names)}"
                         for names, cats in with_keypoints.items())
        raise LabelFileError(f"{path} has categories with different keypoint sets ({sets}). "
                             f"A project has one set of bodyparts: split the file by category "
                             f"and import each part into its own project.")
    names, categories = next(iter(with_keypoints.items()))
    bodyparts = _clean_names(list(names), path)
    skeleton = next((c["skeleton"] for c in categories if c.get("skeleton")), [])
    return bodyparts, skeleton, {c.get("id") for c in categories}, others


def _clean_names(names: list[str], path: Path) -> list[str]:
    cleaned = [name.strip() for name in names]
    changed = [name for name in names if name != name.strip()]
    if changed:
        logger.warning("%s: removed leading/trailing spaces from keypoint names %s", path,
                       changed)
    if any(not name for name in cleaned):
        raise LabelFileError(f"{path}: keypoint names must not be empty, found {names}.")
    duplicated = sorted({name for name in cleaned if cleaned.count(name) > 1})
    if duplicated:
        raise LabelFileError(f"{path}: keypoint names must be unique, found {duplicated} "
                             f"more than once in {names}.")
    return cleaned


def _skeleton_edges(skeleton: object, bodyparts: list[str], path: Path
                    ) -> list[tuple[str, str]]:
    if not isinstance(skeleton, list) or not all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(i, int) for i in e)
            for e in skeleton):
        raise LabelFileError(f"{path}: 'skeleton' must be a list of pairs of keypoint indices, "
                             f"found {skeleton!r}.")
    if not skeleton:
        return []
    flat = [i for edge in skeleton for i in edge]
    count = len(bodyparts)
    if min(flat) < 0 or max(flat) > count or (min(flat) == 0 and max(flat) == count):
        raise LabelFileError(f"{path}: skeleton indices {sorted(set(flat))} do not fit "
                             f"{count} keypoints (expected 1..{count}, or 0..{count - 1}).")
    base = 0 if min(flat) == 0 else 1
    if base == 1 and max(flat) < count:
        logger.info("%s: skeleton indices %d..%d read as 1-based (COCO's convention)", path,
                    min(flat), max(flat))
    return [(bodyparts[a - base], bodyparts[b - base]) for a, b in skeleton]


def _images(images: list, path: Path) -> dict[object, str]:
    """Image id -> file_name, checked (unique ids and names)."""
    out: dict[object, str] = {}
    for image in images:
        if not isinstance(image, dict) or "id" not in image or \
                not isinstance(image.get("file_name"), str) or not image["file_name"]:
            raise LabelFileError(f"{path}: each image needs an 'id' and a 'file_name', found "
                                 f"{image!r}.")
        if image["id"] in out:
            raise LabelFileError(f"{path}: image id {image['id']!r} is listed twice.")
        out[image["id"]] = image["file_name"].replace("\\", "/")
    names = list(out.values())
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise LabelFileError(f"{path}: images {duplicated[:5]} are listed under several ids; "
                             f"expected one entry per image file.")
    return out


def _annotation_points(annotation: dict, count: int, path: Path, number: int
                       ) -> np.ndarray | None:
    """(n_bodyparts, 2) posekit coordinates, NaN where v = 0; None if nothing is labeled."""
    name = f"{path}: annotation {annotation.get('id', f'#{number}')}"
    values = annotation.get("keypoints")
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != 3 * count or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        found = f"{len(values)} values" if isinstance(values, list) else repr(values)
        raise LabelFileError(f"{name} has keypoints {found}; expected {3 * count} numbers "
                             f"(x, y, v for each of the {count} keypoints).")
    array = np.asarray(values, dtype=np.float64).reshape(count, 3)
    visibility = array[:, 2]
    bad = sorted(set(visibility[~np.isin(visibility, (0, 1, 2))].tolist()))
    if bad:
        raise LabelFileError(f"{name} has visibility flags {bad}; COCO allows 0 (not "
                             f"labeled), 1 (labeled, occluded) and 2 (labeled, visible).")
    labeled = visibility > 0
    if not labeled.any():
        return None
    if not np.isfinite(array[labeled, :2]).all():
        raise LabelFileError(f"{name} has a labeled keypoint without finite coordinates.")
    points = np.full((count, 2), np.nan)
    points[labeled] = array[labeled, :2] + COCO_TO_POSEKIT_OFFSET
    return points


def import_coco(project: Project, json_path: str | Path, *, image_dir: str | Path | None = None,
                folder: str | None = None) -> Path:
    """Import a COCO keypoint file into ``labeled-data/<folder>/`` of a project.

    The images are copied into the folder (names kept; images in sub-folders are flattened,
    with the sub-folder names joined by ``_`` only where two names would clash) and the labels
    are written to its ``CollectedData_<scorer>.h5`` and ``.csv``. Several annotations of one
    image become the individuals of a multi-animal project, in annotation order (COCO has no
    identities, so individual names carry no meaning across images). Keypoints with ``v = 0``
    become NaN; ``v = 1`` and ``v = 2`` are labeled. Coordinates are COCO's unchanged (both
    put the origin at the top-left pixel's center; see the module notes).

    If the project has no labels yet and its bodyparts are DeepLabCut's placeholders (or
    none), the file's keypoint names and skeleton become the config's bodyparts and skeleton
    (logged). Otherwise the file's keypoint names must be the config's bodyparts.

    Images that the folder already labels keep their labels and image file (a warning names
    them); an identical image file already there is reused.

    Parameters
    ----------
    project : Project
        The project to import into; its config may be updated (see above).
    json_path : path-like
        The COCO keypoint ``.json`` file.
    image_dir : path-like, optional
        Where the images' ``file_name`` paths start; the json's folder by default.
    folder : str, optional
        Name of the labeled-data folder; the json's file stem by default.

    Returns
    -------
    Path
        The ``CollectedData_<scorer>.h5`` file written.

    Raises
    ------
    MissingFileError
        If the json or an image it lists does not exist.
    LabelFileError
        If the file is not a valid COCO keypoint file, its keypoints differ from the project's
        bodyparts, an image holds several animals in a single-animal project or more animals
        than the config has individuals, or a different image of the same name is already in
        the folder.
    """
    json_path = Path(json_path)
    coco = read_coco(json_path)
    folder = _checked_folder(folder if folder is not None else json_path.stem)
    image_dir = Path(image_dir) if image_dir is not None else json_path.parent
    sources = _find_images(coco.file_names, image_dir, json_path)
    names = flat_image_names(coco.file_names)
    adopt = match_project_bodyparts(project, coco.bodyparts, coco.edges, source=json_path)
    new = _coco_labels(project, coco, folder, names, json_path, adopt=adopt)
    plan = plan_folder_merge(project, folder, new, sources=dict(zip(new.images, sources,
                                                                    strict=True)))
    if adopt:
        adopt_bodyparts(project, coco.bodyparts, coco.edges, source=json_path)
    for image, source in track(plan.copies.items(), total=len(plan.copies),
                               description=f"Copying images to {folder}"):
        _copy_file(source, project.root / image)
    path = write_folder_labels(project, folder, plan.labels)
    logger.info("imported %d images from %s into %s", len(plan.added), json_path, path.parent)
    return path


def _checked_folder(folder: str) -> str:
    if not folder or folder in (".", "..") or any(ch in folder for ch in "/\\"):
        raise LabelFileError(f"The labeled-data folder name {folder!r} must be one plain "
                             f"folder name (no '/' or '\\'), e.g. the video's stem.")
    return folder


def _find_images(file_names: list[str], image_dir: Path, json_path: Path) -> list[Path]:
    found, missing = [], []
    for name in file_names:
        candidates = [image_dir / name, image_dir / PurePosixPath(name).name]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(name)
        found.append(path)
    if missing:
        raise MissingFileError(
            f"{len(missing)} of the {len(file_names)} images that {json_path} labels are not "
            f"in {image_dir}: {missing[:5]}. Pass the folder that holds them as image_dir "
            f"(`--images DIR`).")
    return found


def flat_image_names(file_names: list[str]) -> list[str]:
    """File names for one flat labeled-data folder: the base name, or the joined path on clashes.

    Parameters
    ----------
    file_names : list of str
        POSIX paths, e.g. ``["video1/f000027.jpg", "video2/f000027.jpg"]``.

    Returns
    -------
    list of str
        E.g. ``["video1_f000027.jpg", "video2_f000027.jpg"]``.
    """
    bases = [PurePosixPath(name).name for name in file_names]
    clash = {base for base in bases if bases.count(base) > 1}
    return [name.strip("/").replace("/", "_") if base in clash else base
            for name, base in zip(file_names, bases, strict=True)]


def _coco_labels(project: Project, coco: CocoKeypoints, folder: str, names: list[str],
                 source: Path, *, adopt: bool) -> Labels:
    """Labels in the config's layout (bodyparts as the config will list them)."""
    config = project.config
    bodyparts = coco.bodyparts if adopt else config.pose_bodyparts
    order = [coco.bodyparts.index(name) for name in bodyparts]
    individuals = config.individual_names
    points = np.full((len(names), len(individuals), len(bodyparts), 2), np.nan)
    for row, (name, animals) in enumerate(zip(names, coco.instances, strict=True)):
        check_animal_count(project, len(animals), image=name, source=source)
        points[row, :len(animals)] = animals[:, order]
    return Labels(images=[f"{LABELED_DATA_DIR}/{folder}/{name}" for name in names],
                  points=points, bodyparts=list(bodyparts), individuals=individuals,
                  scorer=project.scorer, multi_animal=config.is_multi_animal,
                  unique_bodyparts=config.unique_bodyparts)


def check_animal_count(project: Project, count: int, *, image: str, source: str | Path) -> None:
    """Raise if one image holds more animals than the project can label.

    Raises
    ------
    LabelFileError
        Several animals in a single-animal project, or more than the config's individuals.
    """
    config = project.config
    if not config.is_multi_animal and count > 1:
        raise LabelFileError(
            f"{source}: image {image} holds {count} labeled animals, but {project.config_path} "
            f"describes a single-animal project. Create a multi-animal project (`posekit "
            f"create ... --multi-animal --individuals NAME ...`) and import into it.")
    if count > len(config.individual_names):
        raise LabelFileError(
            f"{source}: image {image} holds {count} labeled animals, but "
            f"{project.config_path} lists only {len(config.individual_names)} individuals "
            f"{config.individual_names}. Add individuals to the config and import again.")


def project_has_labels(project: Project) -> bool:
    """Whether any labeled-data folder holds a CollectedData file."""
    return any(any(folder.glob("CollectedData_*.h5")) or any(folder.glob("CollectedData_*.csv"))
               for folder in project.labeled_folders())


def match_project_bodyparts(project: Project, bodyparts: list[str],
                            edges: list[tuple[str, str]], *, source: str | Path) -> bool:
    """Decide whether a file's bodyparts are adopted or must match the project's.

    Parameters
    ----------
    project : Project
        The project imported into.
    bodyparts : list of str
        The file's bodyparts.
    edges : list of (str, str)
        The file's skeleton.
    source : path-like
        The file, named in errors.

    Returns
    -------
    bool
        True when the project has no labels and placeholder (or no) bodyparts, so the file's
        bodyparts are to be adopted (:func:`adopt_bodyparts`); False when they match.

    Raises
    ------
    LabelFileError
        If the project's bodyparts are set and differ from the file's (as sets).
    """
    config_names = project.config.pose_bodyparts
    if set(config_names) <= PLACEHOLDER_BODYPARTS and not project_has_labels(project):
        return True
    if set(config_names) != set(bodyparts):
        missing = [n for n in config_names if n not in bodyparts]
        extra = [n for n in bodyparts if n not in config_names]
        raise LabelFileError(
            f"{source} labels the bodyparts {bodyparts}, but {project.config_path} lists "
            f"{config_names} (not in the file: {missing}; not in the config: {extra}). Import "
            f"into a project with the file's bodyparts (a new project adopts them), or edit "
            f"the config's bodyparts to match.")
    return False


def adopt_bodyparts(project: Project, bodyparts: list[str], edges: list[tuple[str, str]], *,
                    source: str | Path) -> None:
    """Make ``bodyparts`` and ``edges`` the project's bodyparts and skeleton, and save it."""
    config = project.config
    config.skeleton = []
    if config.is_multi_animal:
        config.multianimalbodyparts = list(bodyparts)
    else:
        config.bodyparts = list(bodyparts)
    config.skeleton = [[a, b] for a, b in edges]
    project.save()
    logger.info("set the bodyparts of %s to those of %s: %s, and its skeleton to %d edges",
                project.config_path, source, bodyparts, len(edges))


@dataclass
class FolderMerge:
    """What importing into one labeled-data folder will do.

    Attributes
    ----------
    labels : Labels
        The folder's labels after the import (existing rows first).
    added : list of str
        Images whose labels are added.
    kept : list of str
        Images that were already labeled: their existing labels are kept.
    copies : dict of str to Path
        Image (relative to the project) -> the file to copy there.
    """

    labels: Labels
    added: list[str]
    kept: list[str]
    copies: dict[str, Path]


def plan_folder_merge(project: Project, folder: str, new: Labels, *,
                      sources: dict[str, Path] | None = None) -> FolderMerge:
    """Plan merging ``new`` labels (and their image files) into a labeled-data folder.

    Existing labels are never changed: an image the folder already labels keeps its labels
    and its file (a warning lists such images). An image file already present is reused if
    it is unlabeled and (when a source is given) has the same bytes.

    Parameters
    ----------
    project : Project
        The project.
    folder : str
        The labeled-data folder name.
    new : Labels
        Labels in the config's layout, images named ``labeled-data/<folder>/<name>``.
    sources : dict, optional
        Image -> file to copy in; images without a source must exist already or be written
        by the caller.

    Returns
    -------
    FolderMerge

    Raises
    ------
    LabelFileError
        If a different, unlabeled image of the same name is already in the folder.
    """
    existing = read_folder_labels(project, folder)
    labeled = set(existing.images)
    kept = [image for image in new.images if image in labeled]
    if kept:
        logger.warning("%s already labels %d of the imported images (e.g. %s); their existing "
                       "labels are kept", project.labels_path(folder), len(kept), kept[:3])
    rows = [i for i, image in enumerate(new.images) if image not in labeled]
    copies: dict[str, Path] = {}
    for image in (new.images[i] for i in rows):
        source = (sources or {}).get(image)
        target = project.root / image
        if source is None:
            continue
        if target.exists():
            if not _same_bytes(source, target):
                raise LabelFileError(
                    f"{target} exists and differs from {source}, which is to be imported "
                    f"under the same name. Import into another folder (`--folder NAME`) or "
                    f"move the existing image away.")
        else:
            copies[image] = source
    added = new.select(rows)
    added.scorer = existing.scorer
    merged = concat_labels([existing, added]) if len(existing) else added
    return FolderMerge(labels=merged, added=list(added.images), kept=kept, copies=copies)


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return a.read_bytes() == b.read_bytes()


def _copy_file(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
