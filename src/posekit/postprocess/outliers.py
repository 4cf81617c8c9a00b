"""Finding frames where the network is probably wrong (candidates for refinement).

Four methods, each returning sorted frame indices:

``"jump"``
    Some bodypart moved more than ``epsilon`` pixels since the previous frame. Only
    consecutive frames where both positions are present with likelihood >= ``p_bound`` are
    compared; frame ``t`` is flagged for the move from ``t - 1`` to ``t``.
``"uncertain"``
    Some bodypart has a likelihood below ``p_bound`` (missing points, NaN likelihood, are not
    counted: in multi-animal files an absent animal is not an error).
``"fitting"``
    Some bodypart lies more than ``epsilon`` pixels from where a temporal model of its
    trajectory puts it. The model is fitted to the points with likelihood >= ``p_bound``
    and predicts each frame from all the *other* frames, so an error cannot pull the model
    towards itself: ``fit="kalman"`` uses the Kalman smoother of
    :mod:`posekit.postprocess.kalman` with the observation of the frame taken out;
    ``fit="arima"`` the mean of the ARIMA(p, 1, 0) forward and backward predictions of
    :mod:`posekit.postprocess.arima`. Model settings come from ``filter_options``
    (its ``pcutoff`` is replaced by ``p_bound``).
``"list"``
    The frames in ``frames`` (checked to exist).

``bodyparts`` restricts the search to some bodyparts (all by default).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from posekit.errors import LabelFileError
from posekit.io.predictions import Predictions
from posekit.postprocess.arima import arima_estimate
from posekit.postprocess.common import PostprocessError, check_number, to_series, valid_mask
from posekit.postprocess.filters import FilterOptions
from posekit.postprocess.kalman import kalman_smooth

logger = logging.getLogger(__name__)

OutlierMethod = Literal["jump", "uncertain", "fitting", "list"]
METHODS: tuple[str, ...] = ("jump", "uncertain", "fitting", "list")
FITS: tuple[str, ...] = ("kalman", "arima")


@dataclass(frozen=True)
class OutlierOptions:
    """How outlier frames are found, and (for extraction) thinned.

    Attributes
    ----------
    epsilon : float
        ``"jump"`` and ``"fitting"``: distance in pixels above which a point is an outlier.
    p_bound : float
        Likelihood below which a point is uncertain (``"uncertain"``) or ignored (``"jump"``,
        ``"fitting"``).
    frames : tuple of int
        ``"list"``: the frames to take.
    bodyparts : tuple of str or None
        Bodyparts to look at; all when None.
    fit : {"kalman", "arima"}
        ``"fitting"``: the temporal model.
    filter_options : FilterOptions
        ``"fitting"``: noise levels / AR order of the model.
    seed : int
        Extraction: seed of the k-means that thins candidates to visually distinct frames.
    max_candidates : int
        Extraction: most candidate frames decoded and clustered (taken evenly in time).
    """

    epsilon: float = 20.0
    p_bound: float = 0.01
    frames: tuple[int, ...] = ()
    bodyparts: tuple[str, ...] | None = None
    fit: Literal["kalman", "arima"] = "kalman"
    filter_options: FilterOptions = field(default_factory=FilterOptions)
    seed: int = 0
    max_candidates: int = 1000

    def __post_init__(self) -> None:
        check_number("epsilon", self.epsilon, low=0.0, inclusive=False)
        check_number("p_bound", self.p_bound, low=0.0)
        if self.p_bound > 1.0:
            raise PostprocessError(f"p_bound is a likelihood in [0, 1]; got {self.p_bound}.")
        if self.fit not in FITS:
            raise PostprocessError(f"Unknown fit {self.fit!r} for the 'fitting' method; "
                                   f"expected one of {', '.join(FITS)}.")
        check_number("max_candidates", self.max_candidates, low=1, integer=True)
        object.__setattr__(self, "frames", tuple(self.frames))
        if self.bodyparts is not None:
            object.__setattr__(self, "bodyparts", tuple(self.bodyparts))


def find_outlier_frames(pred: Predictions, *, method: OutlierMethod = "jump",
                        options: OutlierOptions = OutlierOptions()) -> np.ndarray:
    """Frames where some bodypart is probably wrong (see the module docstring).

    Parameters
    ----------
    pred : Predictions
        ``data: (n_frames, n_individuals, n_bodyparts, 3)``.
    method : {"jump", "uncertain", "fitting", "list"}
        How to find them.
    options : OutlierOptions
        Thresholds, frames for ``"list"``, bodyparts, model for ``"fitting"``.

    Returns
    -------
    ndarray
        ``(n_outliers,)`` int64 frame indices, sorted, distinct.

    Raises
    ------
    PostprocessError
        Unknown method, or a ``"list"`` frame that is not an integer in range.
    LabelFileError
        ``options.bodyparts`` names a bodypart the predictions lack.
    """
    if method not in METHODS:
        raise PostprocessError(f"Unknown outlier method {method!r}; expected one of "
                               f"{', '.join(METHODS)}.")
    if method == "list":
        return _listed(options.frames, pred.n_frames)
    data = pred.data[:, :, _bodypart_indices(pred, options.bodyparts)]
    if method == "uncertain":
        with np.errstate(invalid="ignore"):
            flagged = (data[..., 2] < options.p_bound).any(axis=(1, 2))
    elif method == "jump":
        flagged = _jumps(data, options)
    else:
        flagged = _misfits(data, options)
    frames = np.flatnonzero(flagged).astype(np.int64)
    logger.info("%s: %d outlier frames of %d", method, len(frames), pred.n_frames)
    return frames


def _bodypart_indices(pred: Predictions, names: Sequence[str] | None) -> list[int]:
    if names is None:
        return list(range(len(pred.bodyparts)))
    unknown = [n for n in names if n not in pred.bodyparts]
    if unknown or not names:
        raise LabelFileError(f"Bodyparts {list(names)} to search for outliers: "
                             f"{unknown or 'none given'} not among the predictions' bodyparts "
                             f"{pred.bodyparts}.")
    return [pred.bodyparts.index(n) for n in names]


def _listed(frames: Sequence[int], n_frames: int) -> np.ndarray:
    bad = [f for f in frames if isinstance(f, bool) or not isinstance(f, (int, np.integer))
           or not 0 <= f < n_frames]
    if bad:
        raise PostprocessError(f"Frames {bad[:10]} are not frame indices of this analysis "
                               f"(integers 0 to {n_frames - 1}).")
    return np.unique(np.asarray(frames, dtype=np.int64))


def _jumps(data: np.ndarray, options: OutlierOptions) -> np.ndarray:
    """(n_frames,) bool; ``data``: (n_frames, n_individuals, n_bodyparts, 3)."""
    xy = data[..., :2].copy()
    with np.errstate(invalid="ignore"):
        xy[~(data[..., 2] >= options.p_bound)] = np.nan
    flagged = np.zeros(len(data), dtype=bool)
    if len(data) > 1:
        step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)  # NaN where either is missing
        with np.errstate(invalid="ignore"):
            flagged[1:] = (step > options.epsilon).any(axis=(1, 2))
    return flagged


def left_out_estimates(values: np.ndarray, likelihood: np.ndarray, *, fit: str,
                       options: FilterOptions) -> np.ndarray:
    """Each valid point predicted from the other frames of its series.

    Parameters
    ----------
    values, likelihood : ndarray, shape (n_frames, n_series)
        As from :func:`posekit.postprocess.common.to_series`.
    fit : {"kalman", "arima"}
        The temporal model.
    options : FilterOptions
        ``pcutoff`` decides which points are valid; noise levels, AR order.

    Returns
    -------
    ndarray, shape (n_frames, n_series)
        The estimates; NaN at invalid points and where the model has nothing to go on.
    """
    valid = valid_mask(values, likelihood, options.pcutoff)
    if fit == "kalman":
        return kalman_smooth(values, valid, likelihood, measurement_noise=options.measurement_noise,
                             process_noise=options.process_noise).left_out
    no_fill = np.zeros_like(valid)
    estimate, forward, backward = arima_estimate(values, valid, no_fill, order=options.ar_order)
    unseen = np.isnan(forward) & np.isnan(backward)  # estimate fell back on the measurement
    return np.where(valid & ~unseen, estimate, np.nan)


def _misfits(data: np.ndarray, options: OutlierOptions) -> np.ndarray:
    """(n_frames,) bool: a point farther than epsilon from its left-out model estimate."""
    values, likelihood = to_series(data)
    fit_options = replace(options.filter_options, pcutoff=options.p_bound)
    estimate = left_out_estimates(values, likelihood, fit=options.fit, options=fit_options)
    diff = (values - estimate).reshape(len(data), data.shape[1], data.shape[2], 2)
    distance = np.linalg.norm(diff, axis=-1)
    with np.errstate(invalid="ignore"):
        return (distance > options.epsilon).any(axis=(1, 2))
