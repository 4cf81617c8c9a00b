"""Input validation shared by the multi-animal modules (private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posekit.multi.errors import MultiAnimalError


def as_array(value: object, name: str, shape: str, ndim: int,
             last: int | Sequence[int]) -> np.ndarray:
    """``value`` as a float64 array with ``ndim`` dimensions and ``last`` entries in the last one.

    ``shape`` is how the docs write the expected shape, quoted in the error message.
    """
    lasts = (last,) if isinstance(last, int) else tuple(last)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MultiAnimalError(f"{name} must be a numeric array of shape {shape}; it could not "
                               f"be converted to numbers ({exc}).") from None
    if array.ndim != ndim or array.shape[-1] not in lasts:
        raise MultiAnimalError(f"{name} must have shape {shape}, found {array.shape}; reshape "
                               "it or check which array was passed.")
    if np.isinf(array).any():
        raise MultiAnimalError(f"{name} holds infinite values; use NaN for missing entries.")
    return array


def check_edges(edges: Sequence[Sequence[int]], n_bodyparts: int, name: str = "edges"
                ) -> list[tuple[int, int]]:
    """Edges as a list of (a, b) bodypart index pairs, each index in range and a != b."""
    out = []
    for edge in edges:
        try:
            a, b = (int(v) for v in edge)
            ok = all(float(v) == int(v) for v in edge)
        except (TypeError, ValueError):
            ok = False
        if not ok or not (0 <= a < n_bodyparts and 0 <= b < n_bodyparts) or a == b:
            raise MultiAnimalError(
                f"{name} must be pairs of two different bodypart indices in 0..{n_bodyparts - 1}, "
                f"found {edge!r}; convert names with posekit.multi.edge_indices.")
        out.append((a, b))
    return out


def positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float that is finite and > 0 (or >= 0)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise MultiAnimalError(f"{name} must be a finite number {bound}, found {value!r}.")
    return float(value)


def count(value: int, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise MultiAnimalError(f"{name} must be an integer >= {minimum}, found {value!r}.")
    return int(value)
