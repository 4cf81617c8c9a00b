"""Hand labels in DeepLabCut's CollectedData format (h5 and csv), as a :class:`Labels` object.

On disk a label file is a pandas DataFrame: one row per image, indexed by the image's path
relative to the project (``labeled-data/<video>/<image>``; old files use one string, new
ones a three-level MultiIndex), and columns ``scorer/bodyparts/coords`` (single animal) or
``scorer/individuals/bodyparts/coords`` (multi-animal; unique bodyparts under the
individual ``single``), with coords ``x`` and ``y``. The h5 key is ``df_with_missing``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.atomic import atomic_path

logger = logging.getLogger(__name__)

H5_KEY = "df_with_missing"
SINGLE = "single"
SINGLE_ANIMAL = "animal"
_LEVELS_SINGLE = ["scorer", "bodyparts", "coords"]
_LEVELS_MULTI = ["scorer", "individuals", "bodyparts", "coords"]


@dataclass
class Labels:
    """Labeled images of one project (or one labeled-data folder).

    Attributes
    ----------
    images : list of str
        POSIX paths relative to the project root, e.g. ``labeled-data/video/img0001.png``.
    points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        x, y in pixels; NaN where a bodypart is not visible or not labeled.
    bodyparts : list of str
        Bodyparts every individual has.
    individuals : list of str
        Individual names; ``["animal"]`` for a single-animal file.
    scorer : str
        Who labeled.
    multi_animal : bool
        Whether the file has an ``individuals`` column level.
    unique_bodyparts : list of str
        Multi-animal only: bodyparts that occur once per image.
    unique_points : ndarray, shape (n_images, n_unique_bodyparts, 2)
        Their coordinates.
    """

    images: list[str]
    points: np.ndarray
    bodyparts: list[str]
    individuals: list[str]
    scorer: str
    multi_animal: bool = False
    unique_bodyparts: list[str] = field(default_factory=list)
    unique_points: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64)
        expected = (len(self.images), len(self.individuals), len(self.bodyparts), 2)
        if self.points.shape != expected:
            raise ValueError(f"points must have shape (n_images, n_individuals, n_bodyparts, 2)"
                             f" = {expected}, found {self.points.shape}")
        if self.unique_points is None:
            self.unique_points = np.full((len(self.images), len(self.unique_bodyparts), 2),
                                         np.nan)
        self.unique_points = np.asarray(self.unique_points, dtype=np.float64)
        if self.unique_points.shape != (len(self.images), len(self.unique_bodyparts), 2):
            raise ValueError(f"unique_points must have shape (n_images, n_unique_bodyparts, 2)"
                             f", found {self.unique_points.shape}")
        if not self.multi_animal and (len(self.individuals) != 1 or self.unique_bodyparts):
            raise ValueError("single-animal labels have exactly one individual and no unique "
                             "bodyparts")

    def __len__(self) -> int:
        return len(self.images)

    def select(self, rows: np.ndarray | list[int]) -> Labels:
        """A copy holding only the given image rows, in the given order."""
        rows = np.asarray(rows, dtype=int)
        return Labels(images=[self.images[i] for i in rows], points=self.points[rows].copy(),
                      bodyparts=list(self.bodyparts), individuals=list(self.individuals),
                      scorer=self.scorer, multi_animal=self.multi_animal,
                      unique_bodyparts=list(self.unique_bodyparts),
                      unique_points=self.unique_points[rows].copy())


def empty_labels(*, scorer: str, bodyparts: list[str], individuals: list[str],
                 multi_animal: bool, unique_bodyparts: list[str] | None = None) -> Labels:
    """Labels with no images, for a folder that has none yet."""
    return Labels(images=[], points=np.zeros((0, len(individuals), len(bodyparts), 2)),
                  bodyparts=bodyparts, individuals=individuals, scorer=scorer,
                  multi_animal=multi_animal, unique_bodyparts=list(unique_bodyparts or []))


def labels_to_dataframe(labels: Labels) -> pd.DataFrame:
    """DeepLabCut's DataFrame for ``labels`` (three-level image index, float64 values)."""
    if labels.multi_animal:
        columns = [(labels.scorer, ind, bp, c) for ind in labels.individuals
                   for bp in labels.bodyparts for c in "xy"]
        columns += [(labels.scorer, SINGLE, bp, c) for bp in labels.unique_bodyparts for c in "xy"]
        names = _LEVELS_MULTI
        values = np.concatenate(
            [labels.points.reshape(len(labels), -1),
             labels.unique_points.reshape(len(labels), -1)], axis=1)
    else:
        columns = [(labels.scorer, bp, c) for bp in labels.bodyparts for c in "xy"]
        names = _LEVELS_SINGLE
        values = labels.points.reshape(len(labels), -1)
    index = pd.MultiIndex.from_tuples([_image_key(image) for image in labels.images]) \
        if labels.images else pd.MultiIndex.from_arrays([[], [], []])
    return pd.DataFrame(values, index=index,
                        columns=pd.MultiIndex.from_tuples(columns, names=names), dtype=np.float64)


def _image_key(image: str) -> tuple[str, ...]:
    parts = tuple(image.replace("\\", "/").split("/"))
    return parts if len(parts) == 3 else ("", "", image)


def labels_from_dataframe(frame: pd.DataFrame, *, source: str | Path = "labels") -> Labels:
    """Read a CollectedData DataFrame (either index style, either column layout).

    Raises
    ------
    LabelFileError
        If the columns are not DeepLabCut's, the file mixes scorers, holds predictions
        (a likelihood coordinate) or lists an image twice.
    """
    columns = frame.columns
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels not in (3, 4):
        raise LabelFileError(f"{source}: expected DeepLabCut label columns "
                             f"scorer/(individuals)/bodyparts/coords, found {list(columns[:4])}.")
    multi = columns.nlevels == 4
    frame = frame.copy()
    frame.columns = columns.set_names(_LEVELS_MULTI if multi else _LEVELS_SINGLE)
    coords = set(frame.columns.get_level_values("coords"))
    if "likelihood" in coords:
        raise LabelFileError(f"{source} holds predictions (it has a likelihood column), not "
                             f"hand labels. Label files are CollectedData_<scorer>.h5.")
    if not coords <= {"x", "y"}:
        raise LabelFileError(f"{source}: coords must be x and y, found {sorted(coords)}.")
    scorers = list(dict.fromkeys(frame.columns.get_level_values("scorer")))
    if len(scorers) != 1:
        raise LabelFileError(f"{source} mixes labels of several scorers {scorers}; "
                             f"expected one. Split or merge them into one scorer first.")
    images = [_image_path(key) for key in frame.index]
    _check_unique(images, source)
    values = frame.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    bodyparts, individuals, unique = _layout(frame.columns, multi)
    points = np.stack([np.stack([_xy(values, ind, bp, multi) for bp in bodyparts], axis=1)
                       for ind in individuals], axis=1) if bodyparts else \
        np.zeros((len(images), len(individuals), 0, 2))
    unique_points = np.stack([_xy(values, SINGLE, bp, multi) for bp in unique], axis=1) \
        if unique else None
    return Labels(images=images, points=points.reshape(len(images), len(individuals), -1, 2),
                  bodyparts=bodyparts, individuals=individuals, scorer=scorers[0],
                  multi_animal=multi, unique_bodyparts=unique, unique_points=unique_points)


def _image_path(key: object) -> str:
    if isinstance(key, tuple):
        return "/".join(str(part) for part in key if str(part) not in ("", "nan"))
    return str(key).replace("\\", "/")


def _check_unique(images: list[str], source: str | Path) -> None:
    seen: set[str] = set()
    duplicated = [image for image in images if image in seen or seen.add(image)]
    if duplicated:
        raise LabelFileError(f"{source} lists these images more than once: "
                             f"{sorted(set(duplicated))}. Expected one row per image; remove "
                             f"the duplicated rows.")


def _layout(columns: pd.MultiIndex, multi: bool) -> tuple[list[str], list[str], list[str]]:
    if not multi:
        return list(dict.fromkeys(columns.get_level_values("bodyparts"))), [SINGLE_ANIMAL], []
    pairs = list(dict.fromkeys(zip(columns.get_level_values("individuals"),
                                   columns.get_level_values("bodyparts"), strict=True)))
    individuals = list(dict.fromkeys(ind for ind, _ in pairs if ind != SINGLE))
    bodyparts = list(dict.fromkeys(bp for ind, bp in pairs if ind != SINGLE))
    unique = list(dict.fromkeys(bp for ind, bp in pairs if ind == SINGLE))
    return bodyparts, individuals, unique


def _xy(values: pd.DataFrame, individual: str, bodypart: str, multi: bool) -> np.ndarray:
    """Columns x, y of one (individual, bodypart) as (n_images, 2); NaN if absent."""
    out = np.full((len(values), 2), np.nan)
    for j, coord in enumerate("xy"):
        key = (individual, bodypart, coord) if multi else (bodypart, coord)
        column = values.droplevel("scorer", axis=1).get(key)
        if column is not None:
            out[:, j] = column.to_numpy()
    return out


def read_labels(path: str | Path) -> Labels:
    """Read a DeepLabCut CollectedData ``.h5`` or ``.csv`` file.

    Parameters
    ----------
    path : path-like
        The label file.

    Returns
    -------
    Labels

    Raises
    ------
    MissingFileError
        If the file does not exist.
    LabelFileError
        If it is not a DeepLabCut label file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Label file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".h5":
        frame = _read_h5(path)
    elif suffix == ".csv":
        frame = read_label_csv(path)
    else:
        raise LabelFileError(f"{path}: label files end in .h5 or .csv, found {suffix!r}.")
    return labels_from_dataframe(frame, source=path)


def _read_h5(path: Path) -> pd.DataFrame:
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            key = H5_KEY if f"/{H5_KEY}" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise LabelFileError(f"{path}: expected the key {H5_KEY!r}, found {keys}.")
            frame = store[key]
    except LabelFileError:
        raise
    except Exception as error:  # pytables raises many types for a corrupt file
        raise LabelFileError(f"{path} cannot be read as a pandas HDF5 label file: {error}. "
                             f"If the .csv beside it is intact, delete the .h5 and rebuild it "
                             f"with `posekit convert-labels`.") from error
    if not isinstance(frame, pd.DataFrame):
        raise LabelFileError(f"{path}: expected a DataFrame under {key!r}, found "
                             f"{type(frame).__name__}.")
    return frame


def read_label_csv(path: str | Path) -> pd.DataFrame:
    """Parse a CollectedData csv with 3 or 4 header rows and 1 or 3 index columns."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    header = [row for row in rows[:4] if row and row[0] in ("scorer", "individuals",
                                                           "bodyparts", "coords")]
    if len(header) not in (3, 4) or header[0][0] != "scorer" or header[-1][0] != "coords":
        raise LabelFileError(f"{path}: expected header rows scorer, (individuals), bodyparts, "
                             f"coords, found first cells {[r[0] for r in rows[:4]]}.")
    width = 1
    while width < len(header[0]) and header[0][width] == "":
        width += 1
    n_columns = max(len(row) for row in header) - width
    columns = pd.MultiIndex.from_arrays([_header_cells(row, width, n_columns, path)
                                         for row in header], names=[row[0] for row in header])
    index, data = [], []
    for number, row in enumerate(rows[len(header):], start=len(header) + 1):
        if len(row) - width > n_columns:
            raise LabelFileError(f"{path}, line {number}: {len(row) - width} values for "
                                 f"{n_columns} columns.")
        index.append(tuple(row[:width]) if width > 1 else row[0])
        data.append([_number(cell, path, number) for cell in row[width:]]
                    + [np.nan] * (n_columns - len(row) + width))
    index_obj = pd.MultiIndex.from_tuples(index) if width > 1 and index else pd.Index(index)
    return pd.DataFrame(np.array(data, dtype=np.float64).reshape(len(data), n_columns),
                        index=index_obj, columns=columns)


def _header_cells(row: list[str], width: int, n_columns: int, path: Path) -> list[str]:
    """One header row's cells; a short scorer row (written by some tools) is repeated out."""
    cells = row[width:]
    if len(cells) < n_columns:
        if row[0] != "scorer" or not cells:
            raise LabelFileError(f"{path}: header row {row[0]!r} has {len(cells)} cells, "
                                 f"expected {n_columns}.")
        cells = cells + [cells[-1]] * (n_columns - len(cells))
    return cells


def _number(cell: str, path: Path, line: int) -> float:
    if cell.strip() == "":
        return np.nan
    try:
        return float(cell)
    except ValueError:
        raise LabelFileError(f"{path}, line {line}: expected a number or an empty cell, "
                             f"found {cell!r}.") from None


def write_labels(labels: Labels, path: str | Path, *, csv_twin: bool = True) -> Path:
    """Write ``labels`` as a CollectedData ``.h5`` (and its ``.csv`` twin), atomically.

    Both files are written to temporary names first and moved into place only when both are
    complete, so a crash never leaves a half-written label file.

    Parameters
    ----------
    labels : Labels
        The labels to write.
    path : path-like
        The ``.h5`` file; the ``.csv`` goes beside it.
    csv_twin : bool
        Also write the ``.csv``.

    Returns
    -------
    Path
        The ``.h5`` file written.
    """
    path = Path(path).with_suffix(".h5")
    frame = labels_to_dataframe(labels)
    with atomic_path(path) as tmp_h5:
        frame.to_hdf(tmp_h5, key=H5_KEY, mode="w")
        if csv_twin:
            with atomic_path(path.with_suffix(".csv")) as tmp_csv:
                frame.to_csv(tmp_csv)
    logger.debug("wrote %d labeled images to %s", len(labels), path)
    return path
