"""Machine predictions of a labeled-data folder, for refinement: ``machinelabels-iter<N>.h5``.

The outlier-extraction stage writes, beside the extracted frames, DeepLabCut's
``machinelabels-iter<N>.h5``: a pandas DataFrame under the key ``df_with_missing``, one row
per image (indexed like CollectedData: a path string or a (labeled-data, folder, image)
tuple) and columns ``scorer/(individuals)/bodyparts/coords`` with coords x, y, likelihood.
The folder's newest iteration is the one shown.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.errors import LabelFileError
from posekit.io.labels import H5_KEY
from posekit.label.layout import Layout

logger = logging.getLogger(__name__)

MACHINE_FILE = re.compile(r"^machinelabels-iter(\d+)\.h5$")


@dataclass
class MachineLabels:
    """Predictions for the images of one folder.

    Attributes
    ----------
    path : Path
        The file they were read from.
    rows : dict of str to int
        Row of each image, by file name.
    values : ndarray, shape (n_images, n_slots, 3)
        x, y, likelihood per slot of the project's :class:`Layout`; NaN where absent.
    """

    path: Path
    rows: dict[str, int]
    values: np.ndarray

    def frame(self, image: str) -> np.ndarray | None:
        """Predictions (n_slots, 3) for one image, or None when it has none."""
        row = self.rows.get(image)
        if row is None:
            return None
        values = self.values[row]
        return values if np.isfinite(values[:, :2]).all(axis=1).any() else None


def find_machine_file(directory: Path) -> Path | None:
    """The ``machinelabels-iter<N>.h5`` of a folder with the largest N, or None."""
    best: tuple[int, Path] | None = None
    for path in directory.iterdir():
        match = MACHINE_FILE.match(path.name)
        if match and path.is_file():
            iteration = int(match.group(1))
            if best is None or iteration > best[0]:
                best = (iteration, path)
    return best[1] if best else None


def read_machine_labels(path: Path, layout: Layout) -> MachineLabels:
    """Read a machinelabels h5 into the slots of ``layout``.

    Individuals or bodyparts the project does not have are ignored (with a warning);
    slots the file lacks are NaN.

    Raises
    ------
    LabelFileError
        If the file is not a DeepLabCut prediction table.
    """
    try:
        frame = pd.read_hdf(path, H5_KEY)
    except Exception as error:  # pytables raises many types for a bad file
        raise LabelFileError(f"{path} cannot be read as DeepLabCut predictions "
                             f"(pandas HDF5, key {H5_KEY!r}): {error}. Delete it or run the "
                             f"outlier extraction again.") from error
    columns = frame.columns if isinstance(frame, pd.DataFrame) else None
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels not in (3, 4):
        raise LabelFileError(f"{path}: expected columns scorer/(individuals)/bodyparts/coords.")
    coords = set(columns.get_level_values(-1))
    if not {"x", "y", "likelihood"} <= coords:
        raise LabelFileError(f"{path}: expected coords x, y and likelihood, found "
                             f"{sorted(map(str, coords))}.")
    if (columns.nlevels == 4) != layout.multi_animal:
        kind = "multi-animal" if columns.nlevels == 4 else "single-animal"
        raise LabelFileError(f"{path} holds {kind} predictions, which do not fit this project; "
                             f"it was made for another project.")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    column_of = {tuple(str(part) for part in key[1:]): j for j, key in enumerate(columns)}
    out = np.full((len(frame), layout.n_slots, 3), np.nan)
    used = set()
    for slot, (ind, bp) in enumerate(layout.slots()):
        for k, coord in enumerate(("x", "y", "likelihood")):
            key = (ind, bp, coord) if layout.multi_animal else (bp, coord)
            j = column_of.get(key)
            if j is not None:
                out[:, slot, k] = values[:, j]
                used.add(j)
    ignored = sorted({str(columns[j][1:-1]) for j in range(len(columns)) if j not in used})
    if ignored:
        logger.warning("%s: ignoring predictions for %s, which the project does not have",
                       path, ignored[:5])
    rows = {_image_name(key): i for i, key in enumerate(frame.index)}
    return MachineLabels(path=path, rows=rows, values=out)


def _image_name(key: object) -> str:
    if isinstance(key, tuple):
        parts = [str(part) for part in key if str(part) not in ("", "nan")]
        return parts[-1] if parts else ""
    return Path(str(key).replace("\\", "/")).name
