"""Finding the analysis file of a video."""

from __future__ import annotations

import json
from pathlib import Path

from posekit.errors import MissingFileError


def find_analysis(video: str | Path, *, shuffle: int | None = None, filtered: bool = False,
                  folder: str | Path | None = None) -> Path:
    """The newest complete posekit analysis of ``video``.

    Looks for ``<video stem><scorer>.h5`` files (``..._filtered.h5`` with ``filtered``) in
    ``folder`` (the video's folder by default) whose ``_meta.json`` says they are complete.

    Parameters
    ----------
    video : path-like
        The analyzed video.
    shuffle : int, optional
        Only analyses by a model of this shuffle.
    filtered : bool
        The filtered analysis (``posekit filter``) instead of the raw one.
    folder : path-like, optional
        Where the analyses are.

    Raises
    ------
    MissingFileError
        If there is none, naming what was looked for and what to run.
    """
    video = Path(video)
    folder = Path(folder) if folder else video.parent
    found = []
    for meta in folder.glob(f"{video.stem}*_meta.json"):
        h5 = meta.with_name(meta.name.removesuffix("_meta.json") + ".h5")
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if h5.stem.endswith("_filtered") or not (info.get("complete") and h5.is_file()):
            continue
        if shuffle is not None and info.get("shuffle") != shuffle:
            continue
        target = h5.with_name(h5.stem + "_filtered.h5") if filtered else h5
        if target.is_file():
            found.append(target)
    if not found:
        what = "filtered analysis" if filtered else "analysis"
        hint = (f"`posekit filter PROJECT {video}`" if filtered
                else f"`posekit analyze PROJECT {video}`")
        raise MissingFileError(f"No complete {what} of {video.name} in {folder}"
                               + (f" for shuffle {shuffle}" if shuffle is not None else "")
                               + f". Run {hint} first.")
    return max(found, key=lambda p: p.stat().st_mtime)
