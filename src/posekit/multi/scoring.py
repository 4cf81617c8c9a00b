"""How likely two keypoint candidates are to belong to the same animal: edge scorers.

:func:`posekit.multi.assemble` asks an *edge scorer* to score every pair of candidates of
the two bodyparts an edge joins. An edge scorer is any callable

``scorer(edge_index, candidates_a, candidates_b) -> scores``

where ``edge_index`` is the position of the edge ``(a, b)`` in the ``edges`` given to
``assemble``, ``candidates_a: (n_a, 3)`` and ``candidates_b: (n_b, 3)`` hold x, y, score of
the candidates of bodyparts ``a`` and ``b`` (pixels, origin at the top-left pixel's center),
and ``scores: (n_a, n_b)`` are affinities in [0, 1] (1: surely the same animal, 0: surely
not). Scorers that only work for one list of edges expose it as an ``edges`` attribute, and
``assemble`` checks that it is the list it was given.

Two scorers come with posekit:

* :class:`PafScorer`: the part-affinity-field line integral of a bottom-up network
  (:func:`paf_edge_score`), for one frame's network output.
* :class:`DistancePriorScorer`: a Gaussian prior on the length of each edge, learned from
  training labels by :func:`learn_edge_priors`. Needs no network output: it is the
  geometric fallback, and it assembles labeled keypoints (see benchmarks/tracking.py).

:func:`combine_scorers` multiplies scorers (e.g. PAF x distance prior, which rejects limbs of
implausible length that happen to lie along a field).

Part affinity field convention (what a network must output for :class:`PafScorer`)
    For edge ``e = (a, b)`` of the model's edge list, two maps ``paf[e, 0]`` (x component)
    and ``paf[e, 1]`` (y component), each ``(H', W')`` at the model's output stride ``s``:
    on the cells a limb from bodypart ``a`` to bodypart ``b`` of an animal passes over, the
    unit vector pointing from ``a`` to ``b`` (image axes: x right, y down); zero elsewhere
    (where limbs overlap, their average). Cell ``(i, j)`` has its center at image pixel
    ``x = j*s + (s - 1)/2``, ``y = i*s + (s - 1)/2``, the grid of
    :mod:`posekit.data.targets`; the maps are read between cells by bilinear interpolation,
    clamped at the border.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from posekit.multi._checks import as_array, check_edges, count, positive
from posekit.multi.errors import MultiAnimalError

EdgeScorer = Callable[[int, np.ndarray, np.ndarray], np.ndarray]
"""``(edge_index, candidates_a (n_a, 3), candidates_b (n_b, 3)) -> scores (n_a, n_b)``."""


# --------------------------------------------------------------------------- PAF


def _bilinear(field: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``field: (H, W)`` sampled at column ``u`` and row ``v`` (any equal shapes), clamped."""
    h, w = field.shape
    u = np.clip(u, 0.0, w - 1.0)
    v = np.clip(v, 0.0, h - 1.0)
    u0 = np.minimum(np.floor(u).astype(np.int64), max(w - 2, 0))
    v0 = np.minimum(np.floor(v).astype(np.int64), max(h - 2, 0))
    u1 = np.minimum(u0 + 1, w - 1)
    v1 = np.minimum(v0 + 1, h - 1)
    fu = u - u0
    fv = v - v0
    top = field[v0, u0] * (1 - fu) + field[v0, u1] * fu
    bottom = field[v1, u0] * (1 - fu) + field[v1, u1] * fu
    return top * (1 - fv) + bottom * fv


def paf_edge_score(paf_x: np.ndarray, paf_y: np.ndarray, p: np.ndarray, q: np.ndarray,
                   n_samples: int = 10, *, stride: int = 1) -> np.ndarray:
    """Line integral of a part affinity field along the segments from ``p`` to ``q``.

    The field is sampled at ``n_samples`` evenly spaced points from ``p`` to ``q`` (both
    ends included); the score is the mean dot product of the sampled field vectors with the
    unit vector from ``p`` to ``q``. A limb the field was trained on scores near 1, a
    segment across or against the field near 0 or below.

    Parameters
    ----------
    paf_x, paf_y : ndarray, shape (H', W')
        x and y components of one edge's field, at the model's output stride (see the
        module docstring for the convention).
    p, q : ndarray, shape (..., 2)
        Start (bodypart ``a``) and end (bodypart ``b``) points in image pixels; their shapes
        broadcast, e.g. ``p[:, None]`` and ``q[None, :]`` score all pairs.
    n_samples : int
        Points sampled along each segment (>= 2).
    stride : int
        The model's output stride (pixels per map cell).

    Returns
    -------
    ndarray, shape (...)
        Mean dot product, in [-1, 1] for unit-length fields; 0 for zero-length segments.

    Raises
    ------
    MultiAnimalError
        On maps of different or non-2D shapes, points without a last axis of 2, or bad
        ``n_samples``/``stride``.
    """
    fx = np.asarray(paf_x, dtype=np.float64)
    fy = np.asarray(paf_y, dtype=np.float64)
    if fx.ndim != 2 or fx.shape != fy.shape or 0 in fx.shape:
        raise MultiAnimalError(f"paf_x and paf_y must be two non-empty maps of the same shape "
                               f"(H', W'), found {fx.shape} and {fy.shape}.")
    n_samples = count(n_samples, "n_samples", 2)
    stride = count(stride, "stride", 1)
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape[-1:] != (2,) or q.shape[-1:] != (2,):
        raise MultiAnimalError(f"p and q must have shape (..., 2) (x, y), found {p.shape} and "
                               f"{q.shape}.")
    p, q = np.broadcast_arrays(p, q)
    delta = q - p
    length = np.linalg.norm(delta, axis=-1)
    unit = np.divide(delta, length[..., None], out=np.zeros_like(delta),
                     where=length[..., None] > 1e-9)
    t = np.linspace(0.0, 1.0, n_samples)
    points = p[..., None, :] + t[:, None] * delta[..., None, :]      # (..., n_samples, 2)
    offset = (stride - 1) / 2.0
    u = (points[..., 0] - offset) / stride
    v = (points[..., 1] - offset) / stride
    dots = _bilinear(fx, u, v) * unit[..., None, 0] + _bilinear(fy, u, v) * unit[..., None, 1]
    score = dots.mean(axis=-1)
    return np.where(np.isfinite(score), score, 0.0)


class PafScorer:
    """Edge scorer from one frame's part affinity fields (see the module docstring).

    Parameters
    ----------
    pafs : ndarray, shape (n_edges, 2, H', W')
        The fields of one frame, one (x, y) pair of maps per edge, in the order of the
        ``edges`` later given to :func:`posekit.multi.assemble`.
    stride : int
        The model's output stride.
    n_samples : int
        Points sampled along each candidate segment.
    min_score : float
        Pairs scoring below this are not linked by assemble (OpenPose's 0.05 by default).

    Scores are :func:`paf_edge_score` clipped to [0, 1].
    """

    def __init__(self, pafs: np.ndarray, *, stride: int, n_samples: int = 10,
                 min_score: float = 0.05) -> None:
        pafs = np.asarray(pafs, dtype=np.float64)
        if pafs.ndim != 4 or pafs.shape[1] != 2:
            raise MultiAnimalError(f"pafs must have shape (n_edges, 2, H', W'), found "
                                   f"{pafs.shape}; pass one frame's fields, x then y per edge.")
        self.pafs = pafs
        self.stride = count(stride, "stride", 1)
        self.n_samples = count(n_samples, "n_samples", 2)
        self.min_score = positive(min_score, "min_score", allow_zero=True)

    @property
    def n_edges(self) -> int:
        """Number of edges the fields cover."""
        return int(self.pafs.shape[0])

    def __call__(self, edge_index: int, candidates_a: np.ndarray, candidates_b: np.ndarray
                 ) -> np.ndarray:
        if not 0 <= edge_index < self.n_edges:
            raise MultiAnimalError(f"edge {edge_index} has no part affinity field: the fields "
                                   f"cover {self.n_edges} edges; pass one field per edge.")
        score = paf_edge_score(self.pafs[edge_index, 0], self.pafs[edge_index, 1],
                               candidates_a[:, None, :2], candidates_b[None, :, :2],
                               n_samples=self.n_samples, stride=self.stride)
        return np.clip(score, 0.0, 1.0)


# --------------------------------------------------------------------------- distance prior


@dataclass(frozen=True)
class EdgePriors:
    """Length statistics of each edge, measured in labels (pixels).

    Attributes
    ----------
    edges : tuple of (int, int)
        Bodypart index pairs, in order.
    mean, std : ndarray, shape (n_edges,)
        Mean and standard deviation (floored at ``min_std``) of each edge's length.
    n_samples : ndarray, shape (n_edges,)
        How many labeled animals had both ends of the edge.
    """

    edges: tuple[tuple[int, int], ...]
    mean: np.ndarray
    std: np.ndarray
    n_samples: np.ndarray


def edge_lengths(labels_points: np.ndarray, edges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Lengths of each edge over every labeled animal (both ends labeled).

    Parameters
    ----------
    labels_points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        Labels, NaN where not visible.
    edges : sequence of (int, int)
        Bodypart index pairs.

    Returns
    -------
    list of ndarray
        One 1-D array of lengths per edge.
    """
    points = as_array(labels_points, "labels_points", "(n_images, n_individuals, "
                      "n_bodyparts, 2)", 4, 2)
    edges = check_edges(edges, points.shape[2])
    out = []
    for a, b in edges:
        d = np.linalg.norm(points[:, :, a] - points[:, :, b], axis=-1).ravel()
        out.append(d[np.isfinite(d)])
    return out


def learn_edge_priors(labels_points: np.ndarray, edges: Sequence[tuple[int, int]], *,
                      min_std: float = 1.0) -> EdgePriors:
    """Mean and standard deviation of each edge's length in training labels.

    Parameters
    ----------
    labels_points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        Labels of every training image, NaN where not visible (or no such animal).
    edges : sequence of (int, int)
        Bodypart index pairs (see :func:`posekit.multi.edge_indices` for names).
    min_std : float
        Floor of the standard deviation, pixels (a perfectly rigid edge would otherwise
        reject any detection error).

    Returns
    -------
    EdgePriors

    Raises
    ------
    MultiAnimalError
        On a wrong shape, or an edge whose two ends are labeled together fewer than twice.
    """
    min_std = positive(min_std, "min_std")
    lengths = edge_lengths(labels_points, edges)
    edges = check_edges(edges, np.asarray(labels_points).shape[2])
    for (a, b), d in zip(edges, lengths, strict=True):
        if d.size < 2:
            raise MultiAnimalError(
                f"edge ({a}, {b}): both bodyparts are labeled together on {d.size} animal(s), "
                "at least 2 are needed to learn its length; label more images or drop the edge.")
    mean = np.array([d.mean() for d in lengths])
    std = np.maximum(np.array([d.std(ddof=1) for d in lengths]), min_std)
    return EdgePriors(edges=tuple(edges), mean=mean, std=std,
                      n_samples=np.array([d.size for d in lengths]))


class DistancePriorScorer:
    """Edge scorer from learned edge lengths: ``exp(-z^2 / 2)``.

    ``z = (d - mean) / sqrt(std^2 + 2 * keypoint_noise^2)`` where ``d`` is the distance
    between the two candidates and mean, std the edge's learned length statistics.

    Parameters
    ----------
    priors : EdgePriors
        From :func:`learn_edge_priors`; its edges must be the ``edges`` given to assemble.
    keypoint_noise : float
        Expected localization error of each candidate, pixels (0 for labels; a network's
        RMSE for its detections), widening every prior.
    max_z : float
        Pairs more than this many standard deviations off are not linked by assemble
        (``min_score = exp(-max_z^2 / 2)``).

    Attributes
    ----------
    edge_weights : ndarray, shape (n_edges,)
        ``min(std) / std`` per edge: assemble merges links in descending ``score * weight``,
        so an equally typical link on a sharp (rigid) edge is trusted before one on a loose
        edge, which also scores well for keypoints of a neighbouring animal.
    """

    def __init__(self, priors: EdgePriors, *, keypoint_noise: float = 0.0,
                 max_z: float = 5.0) -> None:
        if not isinstance(priors, EdgePriors):
            raise MultiAnimalError(f"priors must be an EdgePriors from learn_edge_priors, found "
                                   f"{type(priors).__name__}.")
        noise = positive(keypoint_noise, "keypoint_noise", allow_zero=True)
        self.priors = priors
        self.edges = priors.edges
        self._std = np.sqrt(priors.std ** 2 + 2.0 * noise ** 2)
        self.edge_weights = self._std.min() / self._std if len(self._std) else self._std
        self.min_score = float(np.exp(-0.5 * positive(max_z, "max_z") ** 2))

    def __call__(self, edge_index: int, candidates_a: np.ndarray, candidates_b: np.ndarray
                 ) -> np.ndarray:
        d = np.linalg.norm(candidates_a[:, None, :2] - candidates_b[None, :, :2], axis=-1)
        z = (d - self.priors.mean[edge_index]) / self._std[edge_index]
        return np.exp(-0.5 * z ** 2)


class _Product:
    def __init__(self, scorers: Sequence[EdgeScorer]) -> None:
        self.scorers = list(scorers)
        edge_lists = {tuple(s.edges) for s in self.scorers if getattr(s, "edges", None)}
        if len(edge_lists) > 1:
            raise MultiAnimalError("combine_scorers: the scorers were made for different edge "
                                   f"lists {sorted(edge_lists)}; use one edge list for all.")
        if edge_lists:
            self.edges = edge_lists.pop()
        self.min_score = float(np.prod([getattr(s, "min_score", 1.0) for s in self.scorers]))
        weights = [np.asarray(s.edge_weights) for s in self.scorers
                   if getattr(s, "edge_weights", None) is not None]
        if weights:
            self.edge_weights = np.prod(weights, axis=0)

    def __call__(self, edge_index: int, candidates_a: np.ndarray, candidates_b: np.ndarray
                 ) -> np.ndarray:
        out = np.ones((len(candidates_a), len(candidates_b)))
        for scorer in self.scorers:
            out = out * scorer(edge_index, candidates_a, candidates_b)
        return out


def combine_scorers(*scorers: EdgeScorer) -> EdgeScorer:
    """An edge scorer whose scores are the product of the given scorers' scores.

    Its ``min_score`` and ``edge_weights`` are the products of the scorers' own (1 where a
    scorer has none).

    Raises
    ------
    MultiAnimalError
        When no scorer is given, one is not callable, or they expose different ``edges``.
    """
    if not scorers or not all(callable(s) for s in scorers):
        raise MultiAnimalError("combine_scorers needs one or more callables "
                               "(edge_index, candidates_a, candidates_b) -> scores.")
    return _Product(scorers)
