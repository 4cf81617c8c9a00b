"""Temporal filters of keypoints with gap filling: median, Savitzky-Golay, Kalman, ARIMA.

Every method works on each coordinate of each (individual, bodypart) on its own, in three
steps:

1. **Validity.** A point is valid when x, y and its likelihood are finite and the likelihood
   is at least ``options.pcutoff``. Invalid points (missing, or below the p-cutoff) are never
   trusted: they are treated as missing.
2. **Gaps.** A run of invalid frames with valid frames on both sides and at most
   ``options.max_gap`` frames long is *filled*. Longer gaps, and runs at the start or end of
   the video (nothing to interpolate towards), are *left missing*.
3. **Estimate.** ``"median"``: linear interpolation across the fillable gaps, then a running
   median over ``window`` frames (centred, over each unbroken stretch; the window shrinks
   symmetrically near a stretch's ends). ``"savgol"``: the same interpolation, then a
   Savitzky-Golay filter (``window``, ``polyorder``) over each unbroken stretch (the window
   shrinks on stretches shorter than it; stretches too short for ``polyorder`` are kept as
   they are). ``"kalman"``: the
   likelihood-weighted constant-velocity Kalman smoother of :mod:`posekit.postprocess.kalman`
   (``measurement_noise``, ``process_noise``), which bridges gaps with its motion model.
   ``"arima"``: the ARIMA(``ar_order``, 1, 0) forward/backward predictions of
   :mod:`posekit.postprocess.arima`.

What is written for each point:

- valid point: the filtered x, y and its **original likelihood**;
- filled point: the estimated x, y and likelihood **equal to** ``options.pcutoff``, so that
  every tool which shows points with ``likelihood >= pcutoff`` (labeled videos, plots) shows
  them, marked as barely trusted;
- any other point: x, y and likelihood NaN (a low-likelihood point in a long gap is dropped).

The input is never modified; the result carries the input's metadata plus a ``"filters"``
list recording each filtering (method, options, counts, posekit version).
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import savgol_filter

from posekit._version import __version__
from posekit.io.predictions import Predictions, read_predictions, write_dlc_h5
from posekit.postprocess.arima import arima_estimate
from posekit.postprocess.common import (
    PostprocessError,
    check_number,
    fillable_mask,
    from_series,
    interpolate_gaps,
    to_series,
    valid_mask,
)
from posekit.postprocess.kalman import kalman_smooth

logger = logging.getLogger(__name__)

FilterMethod = Literal["median", "savgol", "kalman", "arima"]
METHODS: tuple[str, ...] = ("median", "savgol", "kalman", "arima")
FILTERED_SUFFIX = "_filtered"


@dataclass(frozen=True)
class FilterOptions:
    """How to filter predictions.

    Attributes
    ----------
    window : int
        ``"median"`` and ``"savgol"``: frames per window, odd, at least 3.
    polyorder : int
        ``"savgol"``: degree of the fitted polynomial, smaller than ``window``.
    pcutoff : float
        Points with a lower likelihood are treated as missing (use the project's pcutoff).
    max_gap : int
        Longest run of missing frames that is filled (0: fill nothing).
    measurement_noise : float
        ``"kalman"``: standard deviation (px) of a point of likelihood 1.
    process_noise : float
        ``"kalman"``: standard deviation (px/frame^2) of the random acceleration per frame;
        larger follows fast moves more closely, smaller smooths more.
    ar_order : int
        ``"arima"``: ``p`` of ARIMA(p, 1, 0), at least 1.
    """

    window: int = 5
    polyorder: int = 2
    pcutoff: float = 0.6
    max_gap: int = 10
    measurement_noise: float = 2.0
    process_noise: float = 1.0
    ar_order: int = 3

    def __post_init__(self) -> None:
        check_number("window", self.window, low=3, integer=True)
        if self.window % 2 == 0:
            raise PostprocessError(f"window must be odd (a centred window); got {self.window}.")
        check_number("polyorder", self.polyorder, low=0, integer=True)
        if self.polyorder >= self.window:
            raise PostprocessError(f"polyorder ({self.polyorder}) must be smaller than window "
                                   f"({self.window}).")
        check_number("pcutoff", self.pcutoff, low=0.0)
        if self.pcutoff > 1.0:
            raise PostprocessError(f"pcutoff is a likelihood in [0, 1]; got {self.pcutoff}.")
        check_number("max_gap", self.max_gap, low=0, integer=True)
        check_number("measurement_noise", self.measurement_noise, low=0.0, inclusive=False)
        check_number("process_noise", self.process_noise, low=0.0, inclusive=False)
        check_number("ar_order", self.ar_order, low=1, integer=True)


def filter_predictions(pred: Predictions, *, method: FilterMethod = "median",
                       options: FilterOptions = FilterOptions()) -> Predictions:
    """Filter predictions over time and fill short gaps (see the module docstring).

    Parameters
    ----------
    pred : Predictions
        ``data: (n_frames, n_individuals, n_bodyparts, 3)``; not modified.
    method : {"median", "savgol", "kalman", "arima"}
        The filter.
    options : FilterOptions
        Window, p-cutoff, longest gap to fill, model noise.

    Returns
    -------
    Predictions
        A new object with the same shape, names and scorer.

    Raises
    ------
    PostprocessError
        Unknown ``method``.
    """
    if method not in METHODS:
        raise PostprocessError(f"Unknown filter method {method!r}; expected one of "
                               f"{', '.join(METHODS)}.")
    values, likelihood = to_series(pred.data)
    valid = valid_mask(values, likelihood, options.pcutoff)
    valid[:, 0::2] &= valid[:, 1::2]  # a point is valid only if both coordinates are
    valid[:, 1::2] = valid[:, 0::2]
    fill = fillable_mask(valid, options.max_gap)
    estimate = _ESTIMATORS[method](values, valid, fill, likelihood, options)
    estimate = np.where(valid & ~np.isfinite(estimate), values, estimate)
    keep = valid | fill
    out_values = np.where(keep, estimate, np.nan)
    out_likelihood = np.where(valid, likelihood, np.where(fill, options.pcutoff, np.nan))
    record = {"method": method, "options": asdict(options),
              "filled_points": int(fill[:, 0::2].sum()),
              "dropped_points": int((np.isfinite(values[:, 0::2]) & ~keep[:, 0::2]).sum()),
              "filled_likelihood": options.pcutoff, "posekit_version": __version__}
    metadata = copy.deepcopy(pred.metadata)
    metadata["filters"] = [*metadata.get("filters", []), record]
    logger.info("Filtered %d frames with %s: %d points filled, %d dropped (missing or below "
                "pcutoff %.3g in gaps longer than %d frames or at the ends)", pred.n_frames,
                method, record["filled_points"], record["dropped_points"], options.pcutoff,
                options.max_gap)
    return Predictions(data=from_series(pred.data.shape, out_values, out_likelihood),
                       bodyparts=list(pred.bodyparts), individuals=list(pred.individuals),
                       scorer=pred.scorer, multi_animal=pred.multi_animal, metadata=metadata)


def filtered_path(analysis_h5: str | os.PathLike[str]) -> Path:
    """``<name>_filtered.h5`` beside the analysis ``<name>.h5``."""
    path = Path(analysis_h5)
    return path.with_name(path.stem + FILTERED_SUFFIX + ".h5")


def filter_file(analysis_h5: str | os.PathLike[str], *, method: FilterMethod = "median",
                options: FilterOptions = FilterOptions(), csv: bool | None = None) -> Path:
    """Filter an analysis file into ``<name>_filtered.h5`` beside it (same format).

    Parameters
    ----------
    analysis_h5 : path-like
        A DeepLabCut analysis h5 (posekit's or DeepLabCut's) or csv.
    method : {"median", "savgol", "kalman", "arima"}
        The filter.
    options : FilterOptions
        See :class:`FilterOptions`.
    csv : bool, optional
        Also write ``<name>_filtered.csv``; by default when the analysis has a csv twin.

    Returns
    -------
    Path
        The filtered h5, written atomically (replacing an older one).

    Raises
    ------
    MissingFileError, LabelFileError
        The analysis file is missing or unreadable.
    PostprocessError
        Unknown method.
    """
    source = Path(analysis_h5)
    pred = read_predictions(source)
    filtered = filter_predictions(pred, method=method, options=options)
    filtered.metadata["filtered_from"] = str(source)
    if csv is None:
        csv = source.with_suffix(".csv").is_file()
    target = filtered_path(source)
    write_dlc_h5(filtered, target, csv=csv)
    logger.info("Wrote %s", target)
    return target


# --------------------------------------------------------------------------- estimators
# Each takes (values, valid, fill, likelihood, options), all (n_frames, n_series), and
# returns the estimate at valid and fill frames (anything elsewhere).


def _median(values: np.ndarray, valid: np.ndarray, fill: np.ndarray, likelihood: np.ndarray,
            options: FilterOptions) -> np.ndarray:
    series = interpolate_gaps(values, valid, fill)
    out = np.full(values.shape, np.nan)
    for s in range(values.shape[1]):
        for start, stop in _finite_runs(series[:, s]):
            out[start:stop, s] = _running_median(series[start:stop, s], options.window // 2)
    return out


def _running_median(x: np.ndarray, half: int) -> np.ndarray:
    """Centred running median of a finite 1D array, the window shrunk symmetrically at its
    ends (the first and last values are kept), so a trend is not bent at the edges."""
    n = len(x)
    reach = np.minimum(np.minimum(np.arange(n), np.arange(n)[::-1]), half)
    out = np.empty(n)
    for h in range(half + 1):
        rows = np.flatnonzero(reach == h)
        if rows.size:
            windows = sliding_window_view(np.pad(x, half, mode="edge"), 2 * h + 1)
            out[rows] = np.median(windows[rows + half - h], axis=1)
    return out


def _savgol(values: np.ndarray, valid: np.ndarray, fill: np.ndarray, likelihood: np.ndarray,
            options: FilterOptions) -> np.ndarray:
    series = interpolate_gaps(values, valid, fill)
    out = series.copy()
    for s in range(values.shape[1]):
        for start, stop in _finite_runs(series[:, s]):
            length = stop - start
            window = min(options.window, length if length % 2 else length - 1)
            if window > options.polyorder and window >= 3:
                out[start:stop, s] = savgol_filter(series[start:stop, s], window,
                                                   options.polyorder, mode="interp")
    return out


def _finite_runs(x: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of finite values in a 1D array."""
    finite = np.r_[False, np.isfinite(x), False].astype(np.int8)
    edges = np.flatnonzero(np.diff(finite))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def _kalman(values: np.ndarray, valid: np.ndarray, fill: np.ndarray, likelihood: np.ndarray,
            options: FilterOptions) -> np.ndarray:
    return kalman_smooth(values, valid, likelihood, measurement_noise=options.measurement_noise,
                         process_noise=options.process_noise).position


def _arima(values: np.ndarray, valid: np.ndarray, fill: np.ndarray, likelihood: np.ndarray,
           options: FilterOptions) -> np.ndarray:
    return arima_estimate(values, valid, fill, order=options.ar_order)[0]


_ESTIMATORS = {"median": _median, "savgol": _savgol, "kalman": _kalman, "arima": _arima}
