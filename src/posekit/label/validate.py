"""Checking what a browser sends: JSON bodies and frame edits.

Everything here raises :class:`LabelRequestError` with a 4xx status and a message naming the
offending value; nothing is coerced silently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.label.layout import Layout
from posekit.label.paths import LabelRequestError

MAX_BODY_BYTES = 1_000_000
MAX_REV_LENGTH = 64


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(body: bytes) -> dict[str, Any]:
    """Parse a request body as a JSON object.

    Raises
    ------
    LabelRequestError
        400 if the body is not UTF-8 JSON holding an object (``NaN`` and ``Infinity``
        literals are refused), 413 if it is larger than ``MAX_BODY_BYTES``.
    """
    if len(body) > MAX_BODY_BYTES:
        raise LabelRequestError(413, f"Request body of {len(body)} bytes is larger than the "
                                     f"{MAX_BODY_BYTES} bytes allowed.")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise LabelRequestError(400, f"The request body is not valid JSON: {error}.") from None
    if not isinstance(data, dict):
        raise LabelRequestError(400, f"The request body must be a JSON object, found "
                                     f"{type(data).__name__}.")
    return data


def check_keys(data: dict[str, Any], allowed: set[str], what: str) -> None:
    """Refuse keys other than ``allowed`` (422)."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise LabelRequestError(422, f"Unknown field(s) {unknown} in {what}; expected only "
                                     f"{sorted(allowed)}.")


def get_rev(data: dict[str, Any]) -> str:
    """The ``base_rev`` field: the frame revision an edit is based on (required)."""
    rev = data.get("base_rev")
    if not isinstance(rev, str) or not rev or len(rev) > MAX_REV_LENGTH:
        raise LabelRequestError(422, "'base_rev' must be the 'rev' string of the frame as it was "
                                     f"loaded, found {str(rev)[:80]!r}. Reload the frame.")
    return rev


def number(value: Any, what: str) -> float:
    """A finite JSON number (booleans and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabelRequestError(422, f"{what} must be a number, found {value!r:.80}.")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise LabelRequestError(422, f"{what} must be a finite number, found {value!r:.80}.")
    return result


@dataclass
class FrameEdit:
    """A validated frame state sent by the browser.

    Attributes
    ----------
    base_rev : str
        The revision of the frame the edit was made on.
    xy : ndarray, shape (n_slots, 2)
        Points, NaN where none.
    hidden : ndarray, shape (n_slots,)
        Bodyparts marked not visible.
    """

    base_rev: str
    xy: np.ndarray
    hidden: np.ndarray


def parse_frame_edit(data: dict[str, Any], layout: Layout, size: tuple[int, int]) -> FrameEdit:
    """Check a frame PUT body ``{"base_rev", "points", "not_visible"}`` against the project.

    Parameters
    ----------
    data : dict
        The parsed JSON body.
    layout : Layout
        The project's individuals and bodyparts.
    size : (width, height)
        The image size; points must lie on the image, x in [-0.5, width - 0.5] and y in
        [-0.5, height - 0.5] (pixel centers are integers).

    Raises
    ------
    LabelRequestError
        422 naming the unknown individual or bodypart, or the bad coordinate.
    """
    check_keys(data, {"base_rev", "points", "not_visible"}, "the frame")
    rev = get_rev(data)
    index = layout.slot_index()
    xy = np.full((layout.n_slots, 2), np.nan)
    hidden = np.zeros(layout.n_slots, dtype=bool)
    points = _mapping(data.get("points", {}), "'points'")
    for ind, parts in points.items():
        for bp, value in _mapping(parts, f"points[{ind!r}]").items():
            slot = _slot(index, layout, ind, bp)
            xy[slot] = _point(value, f"points[{ind!r}][{bp!r}]", size)
    for ind, parts in _mapping(data.get("not_visible", {}), "'not_visible'").items():
        if not isinstance(parts, list):
            raise LabelRequestError(422, f"not_visible[{ind!r}] must be a list of bodyparts.")
        for bp in parts:
            slot = _slot(index, layout, ind, bp)
            if np.isfinite(xy[slot]).all():
                raise LabelRequestError(422, f"{ind}/{bp} is both placed and marked not "
                                             f"visible; send one or the other.")
            hidden[slot] = True
    return FrameEdit(base_rev=rev, xy=xy, hidden=hidden)


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LabelRequestError(422, f"{what} must be a JSON object, found "
                                     f"{type(value).__name__}.")
    return value


def _slot(index: dict[tuple[str, str], int], layout: Layout, ind: Any, bp: Any) -> int:
    allowed = layout.individual_bodyparts()
    if ind not in allowed:
        raise LabelRequestError(422, f"Unknown individual {str(ind)[:80]!r}; this project has "
                                     f"{sorted(allowed)}.")
    if not isinstance(bp, str) or (ind, bp) not in index:
        raise LabelRequestError(422, f"Unknown bodypart {str(bp)[:80]!r} for {ind!r}; expected "
                                     f"one of {list(allowed[ind])}.")
    return index[(ind, bp)]


def _point(value: Any, what: str, size: tuple[int, int]) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise LabelRequestError(422, f"{what} must be [x, y], found {value!r:.80}.")
    x = number(value[0], f"{what} x")
    y = number(value[1], f"{what} y")
    width, height = size
    if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
        raise LabelRequestError(422, f"{what} = ({x:g}, {y:g}) lies outside the {width}x{height}"
                                     f" image (x in [-0.5, {width - 0.5}], y in "
                                     f"[-0.5, {height - 0.5}]).")
    return x, y
