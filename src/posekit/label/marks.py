"""Not-visible marks: which bodyparts the labeler explicitly marked as not visible.

DeepLabCut's label files store "not visible" and "not labeled yet" alike, as NaN. To show
which frames are complete, the app keeps the explicit marks beside the labels in
``labeled-data/<folder>/.posekit-label-state.json``::

    {"format": "posekit-label-state", "version": 1,
     "not_visible": {"img0001.png": [["animal", "leftear"], ...]}}

The file only affects the completeness shown in the app; DeepLabCut ignores it. A file that
cannot be read is set aside (renamed with a ``.bad`` suffix) and the marks start empty.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from posekit.io.atomic import write_text_atomic
from posekit.label.layout import Layout

logger = logging.getLogger(__name__)

MARKS_FILE = ".posekit-label-state.json"
_FORMAT = "posekit-label-state"


def marks_path(directory: Path) -> Path:
    """The marks file of a labeled-data folder."""
    return directory / MARKS_FILE


def read_marks(directory: Path, layout: Layout) -> dict[str, np.ndarray]:
    """Not-visible marks of a folder.

    Returns
    -------
    dict of str to ndarray
        For each image name with marks, a (n_slots,) bool array. Marks naming individuals or
        bodyparts the project does not have are dropped.
    """
    path = marks_path(directory)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"expected format {_FORMAT!r}")
        entries = data.get("not_visible", {})
        if not isinstance(entries, dict):
            raise ValueError("'not_visible' must be a mapping of image names to lists")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        bad = path.with_name(path.name + ".bad")
        logger.warning("%s cannot be read (%s); moved it to %s and starting without "
                       "not-visible marks", path, error, bad.name)
        os.replace(path, bad)
        return {}
    index = layout.slot_index()
    marks = {}
    for image, pairs in entries.items():
        mask = np.zeros(layout.n_slots, dtype=bool)
        for pair in pairs if isinstance(pairs, list) else []:
            slot = index.get(tuple(pair)) if isinstance(pair, list) and len(pair) == 2 else None
            if slot is not None:
                mask[slot] = True
        if mask.any():
            marks[str(image)] = mask
    return marks


def write_marks(directory: Path, layout: Layout, marks: dict[str, np.ndarray]) -> None:
    """Atomically write the not-visible marks of a folder (the file is removed when empty)."""
    slots = layout.slots()
    entries = {image: [list(slots[i]) for i in np.flatnonzero(mask)]
               for image, mask in sorted(marks.items()) if mask.any()}
    path = marks_path(directory)
    if not entries:
        if path.exists():
            path.unlink()
        return
    lines = ",\n".join(f"  {json.dumps(image)}: {json.dumps(pairs)}"
                       for image, pairs in entries.items())
    text = (f'{{"format": "{_FORMAT}", "version": 1, "not_visible": {{\n{lines}\n}}}}\n')
    write_text_atomic(path, text)
