"""Shared pieces of the post-processing stage: its error, series layout and gap bookkeeping.

Every temporal method here works on *series*: one coordinate (x or y) of one bodypart of one
individual over all frames. :func:`to_series` flattens ``Predictions.data`` into
``values: (n_frames, n_series)`` (series ``2 * s`` is x and ``2 * s + 1`` is y of the
(individual, bodypart) pair ``s``, individual-major) plus the matching likelihoods;
:func:`from_series` puts them back.

A point is *valid* when x, y and its likelihood are finite and the likelihood is at least
the p-cutoff. Runs of invalid frames are *gaps*; a gap is *fillable* when valid frames lie on
both sides of it (an interior gap) and it is at most ``max_gap`` frames long.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from posekit.errors import LabelFileError, PosekitError
from posekit.io.predictions import Predictions
from posekit.project.project import Project


class PostprocessError(PosekitError, ValueError):
    """Options of a filter, outlier search or skeleton analysis are invalid."""


def to_series(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten predictions into per-coordinate series.

    Parameters
    ----------
    data : ndarray, shape (n_frames, n_individuals, n_bodyparts, 3)
        x, y, likelihood (``Predictions.data``).

    Returns
    -------
    values : ndarray, shape (n_frames, 2 * n_individuals * n_bodyparts)
        x and y of each (individual, bodypart), interleaved (x, y, x, y, ...).
    likelihood : ndarray, shape (n_frames, 2 * n_individuals * n_bodyparts)
        The likelihood of each point, repeated for its x and y series.
    """
    n_frames, n_points = data.shape[0], data.shape[1] * data.shape[2]
    values = data[..., :2].reshape(n_frames, 2 * n_points).copy()
    likelihood = np.repeat(data[..., 2].reshape(n_frames, n_points), 2, axis=1)
    return values, likelihood


def from_series(shape: tuple[int, ...], values: np.ndarray,
                likelihood: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_series`: ``data`` of ``shape`` (n_frames, n_individuals,
    n_bodyparts, 3)."""
    data = np.empty(shape, dtype=np.float64)
    data[..., :2] = values.reshape(shape[0], shape[1], shape[2], 2)
    data[..., 2] = likelihood[:, 0::2].reshape(shape[:3])
    return data


def valid_mask(values: np.ndarray, likelihood: np.ndarray, pcutoff: float) -> np.ndarray:
    """(n_frames, n_series) bool: finite value and finite likelihood >= ``pcutoff``."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & np.isfinite(likelihood) & (likelihood >= pcutoff)


def gap_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """Interior runs of False in a 1D mask, as ``(start, stop)`` (stop exclusive).

    Leading and trailing runs (no valid frame before or after) are not included.
    """
    index = np.flatnonzero(valid)
    if index.size < 2:
        return []
    jumps = np.flatnonzero(np.diff(index) > 1)
    return [(int(index[j]) + 1, int(index[j + 1])) for j in jumps]


def fillable_mask(valid: np.ndarray, max_gap: int) -> np.ndarray:
    """(n_frames, n_series) bool: frames of interior gaps at most ``max_gap`` frames long."""
    out = np.zeros(valid.shape, dtype=bool)
    if max_gap <= 0:
        return out
    for s in range(valid.shape[1]):
        for start, stop in gap_runs(valid[:, s]):
            if stop - start <= max_gap:
                out[start:stop, s] = True
    return out


def interpolate_gaps(values: np.ndarray, valid: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Copy of ``values`` with invalid frames NaN and ``fill`` frames linearly interpolated.

    Parameters
    ----------
    values : ndarray, shape (n_frames, n_series)
    valid, fill : ndarray of bool, shape (n_frames, n_series)

    Returns
    -------
    ndarray, shape (n_frames, n_series)
        Valid frames as given, ``fill`` frames interpolated between their neighbours, every
        other frame NaN.
    """
    out = np.where(valid, values, np.nan)
    frames = np.arange(values.shape[0])
    for s in np.flatnonzero(fill.any(axis=0)):
        known = valid[:, s]
        out[fill[:, s], s] = np.interp(frames[fill[:, s]], frames[known], values[known, s])
    return out


def check_matches_project(pred: Predictions, project: Project, *,
                          source: str | os.PathLike[str]) -> None:
    """Raise if predictions were made for another project (other bodyparts or animal layout).

    Raises
    ------
    LabelFileError
        The bodyparts (as sets) or the single/multi-animal layout differ from the config.
    """
    config = project.config
    expected = config.all_bodyparts
    if set(pred.bodyparts) != set(expected):
        missing = [b for b in expected if b not in pred.bodyparts]
        extra = [b for b in pred.bodyparts if b not in expected]
        raise LabelFileError(
            f"{Path(source)} has bodyparts {pred.bodyparts} but {project.config_path} lists "
            f"{expected} (missing from the file: {missing}; not in the config: {extra}). The "
            f"analysis was made for another project: analyze the video with this project's "
            f"model, or pass the project the analysis belongs to.")
    if pred.multi_animal != config.is_multi_animal:
        kind = "multi-animal" if pred.multi_animal else "single-animal"
        want = "multi-animal" if config.is_multi_animal else "single-animal"
        raise LabelFileError(f"{Path(source)} is a {kind} analysis but {project.config_path} "
                             f"describes a {want} project; pass the project it belongs to.")


def check_number(name: str, value: object, *, low: float, integer: bool = False,
                 inclusive: bool = True) -> None:
    """Raise :class:`PostprocessError` unless ``value`` is a number >= (or >) ``low``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value >= low if inclusive else value > low  # type: ignore[operator]
    if not ok:
        what = "an integer" if integer else "a number"
        sign = ">=" if inclusive else ">"
        raise PostprocessError(f"{name} must be {what} {sign} {low}; got {value!r}.")
