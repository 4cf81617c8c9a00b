"""Assembly: group one frame's keypoint candidates into individual animals.

A bottom-up network finds, for every bodypart, a few candidate locations (peaks of its score
map) without saying which animal each belongs to. :func:`assemble` groups them:

1. **Score.** For every edge ``(a, b)`` of the skeleton (or of :func:`choose_edges`), the
   edge scorer (see :mod:`posekit.multi.scoring`) scores every pair of a candidate of ``a``
   and a candidate of ``b``: an affinity in [0, 1].
2. **Match per edge.** The one-to-one matching of ``a`` candidates to ``b`` candidates with
   the largest total log score (the most likely joint pairing when scores are likelihoods;
   ``options.matching="sum"`` maximizes the plain sum, as OpenPose) is solved with the
   Hungarian algorithm (``scipy.optimize.linear_sum_assignment``); matched pairs scoring
   below ``options.min_edge_score`` are dropped. Each remaining pair is a *link*.
3. **Merge.** Links of all edges are taken in descending confidence, the score times the
   edge's weight (the scorer's ``edge_weights``, 1 if it has none: a distance prior trusts
   its rigid edges more), ties in edge order. A link
   between two free candidates starts an individual; a link from an individual to a free
   candidate adds it unless the individual already has that bodypart; a link between two
   individuals merges them unless they share a bodypart. A link that would give an animal
   two keypoints of one bodypart is skipped, so a strong link is never undone by a weaker one.
4. **Leftovers.** A candidate no link kept becomes an individual of its own (one keypoint):
   an animal of which only one keypoint is visible is still reported.
5. **Repair.** While there are more individuals than ``max_individuals`` (an animal cut in
   two by a missing keypoint or one unusually long edge), the smallest is merged into the
   individual it joins best, scored by the mean score of the edges between them, when they
   share no bodypart and that score is at least ``min_edge_score ** 2``.
6. **Cap.** Individuals with fewer than ``options.min_keypoints`` keypoints are dropped.
   When more than ``max_individuals`` remain, the weakest are dropped: individuals are ranked
   by the sum of their keypoints' candidate scores (more and surer keypoints rank higher),
   and the best ``max_individuals`` are returned in that order.

Unique bodyparts (DeepLabCut's bodyparts that belong to the scene, not to an animal, e.g.
an arena corner) are not assembled: their columns are NaN in every individual, and
:func:`pick_unique` returns the best candidate of each for the "single" row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.multi._checks import check_edges, count, positive
from posekit.multi.errors import MultiAnimalError
from posekit.multi.scoring import EdgeScorer
from posekit.progress import track

logger = logging.getLogger(__name__)

_TINY = 1e-12
DEFAULT_MIN_EDGE_SCORE = 1e-6
"""Link threshold for edge scorers that do not define ``min_score``."""


@dataclass(frozen=True)
class AssemblyOptions:
    """How candidates are grouped (see the module docstring).

    Attributes
    ----------
    min_edge_score : float or None
        Matched candidate pairs scoring below this are not linked, in [0, 1). None: the
        scorer's ``min_score`` attribute (:class:`~posekit.multi.scoring.PafScorer`: 0.05;
        :class:`~posekit.multi.scoring.DistancePriorScorer`: ``exp(-5^2/2)``, a length 5
        standard deviations off), or 1e-6 for scorers without one.
    min_candidate_score : float
        Candidates whose own score is below this are ignored.
    min_keypoints : int
        Individuals with fewer keypoints are dropped (1 keeps single-keypoint animals).
    matching : {"log", "sum"}
        Per-edge matching maximizes the sum of log scores (the most likely joint pairing when
        scores are likelihoods; the default) or the sum of scores (OpenPose).
    repair : bool
        Merge fragments when there are more individuals than allowed (step 5 of the module
        docstring).
    """

    min_edge_score: float | None = None
    min_candidate_score: float = 0.0
    min_keypoints: int = 1
    matching: Literal["log", "sum"] = "log"
    repair: bool = True

    def __post_init__(self) -> None:
        if self.matching not in ("log", "sum"):
            raise MultiAnimalError(f"matching must be 'log' or 'sum', found {self.matching!r}.")
        if self.min_edge_score is not None and \
                not positive(self.min_edge_score, "min_edge_score", allow_zero=True) < 1.0:
            raise MultiAnimalError(f"min_edge_score must be in [0, 1), found "
                                   f"{self.min_edge_score}.")
        positive(self.min_candidate_score, "min_candidate_score", allow_zero=True)
        count(self.min_keypoints, "min_keypoints", 1)


def _check_candidates(candidates: Sequence[np.ndarray], min_score: float) -> list[np.ndarray]:
    """Candidates as (n_k, 3) float arrays, rows with NaN x or y (padding) removed."""
    if isinstance(candidates, np.ndarray) and candidates.ndim == 3:
        candidates = list(candidates)
    if not isinstance(candidates, (list, tuple)) or not candidates:
        raise MultiAnimalError("candidates must be a non-empty list with one (n_k, 3) array "
                               f"(x, y, score) per bodypart, found {type(candidates).__name__}.")
    out = []
    for k, cand in enumerate(candidates):
        arr = np.asarray(cand, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 3)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise MultiAnimalError(f"candidates[{k}] must have shape (n_k, 3) (x, y, score), "
                                   f"found {arr.shape}.")
        arr = arr[np.isfinite(arr[:, :2]).all(axis=1)]
        if not np.isfinite(arr[:, 2]).all():
            raise MultiAnimalError(f"candidates[{k}] has a located candidate with a NaN or "
                                   "infinite score; give every candidate a finite score "
                                   "(1.0 for labels).")
        out.append(arr[arr[:, 2] >= min_score])
    return out


def _edge_links(candidates: list[np.ndarray], edges: list[tuple[int, int]],
                edge_scores: EdgeScorer, min_edge_score: float, matching: str
                ) -> tuple[list[tuple[float, int, int, int]], list[np.ndarray]]:
    """Hungarian matching per edge.

    Returns the links (score, edge index, candidate of a, candidate of b), strongest first,
    and each edge's score matrix (n_a, n_b).
    """
    links = []
    matrices = []
    for e, (a, b) in enumerate(edges):
        ca, cb = candidates[a], candidates[b]
        if not len(ca) or not len(cb):
            matrices.append(np.zeros((len(ca), len(cb))))
            continue
        scores = np.asarray(edge_scores(e, ca, cb), dtype=np.float64)
        if scores.shape != (len(ca), len(cb)):
            raise MultiAnimalError(f"the edge scorer returned shape {scores.shape} for edge {e} "
                                   f"({a}, {b}); expected ({len(ca)}, {len(cb)}), one score "
                                   "per candidate pair.")
        scores = np.clip(np.where(np.isfinite(scores), scores, 0.0), 0.0, 1.0)
        matrices.append(scores)
        if matching == "log":
            rows, cols = linear_sum_assignment(-np.log(np.maximum(scores, _TINY)))
        else:
            rows, cols = linear_sum_assignment(scores, maximize=True)
        for i, j in zip(rows, cols, strict=True):
            if scores[i, j] >= min_edge_score and scores[i, j] > 0:
                links.append((float(scores[i, j]), e, int(i), int(j)))
    weights = getattr(edge_scores, "edge_weights", None)
    weight = np.ones(len(edges)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weight.shape != (len(edges),) or not np.all((weight > 0) & (weight <= 1)):
        raise MultiAnimalError(f"the edge scorer's edge_weights must be {len(edges)} numbers in "
                               f"(0, 1], one per edge, found {weights!r}.")
    links.sort(key=lambda link: (-link[0] * weight[link[1]], link[1]))
    return links, matrices


def _check_unique(unique_bodyparts: Sequence[int], n_bodyparts: int) -> set[int]:
    unique = set()
    for u in unique_bodyparts:
        if isinstance(u, bool) or not isinstance(u, (int, np.integer)) \
                or not 0 <= u < n_bodyparts:
            raise MultiAnimalError(f"unique_bodyparts must be bodypart indices in "
                                   f"0..{n_bodyparts - 1}, found {u!r}.")
        unique.add(int(u))
    return unique


def _merge(links: list[tuple[float, int, int, int]], edges: list[tuple[int, int]]
           ) -> tuple[list[dict[int, int]], dict[tuple[int, int], int]]:
    """Greedy merging of links into individuals.

    Returns the individuals ({bodypart: candidate index} each) and the owner of every
    linked (bodypart, candidate).
    """
    groups: dict[int, dict[int, int]] = {}
    owner: dict[tuple[int, int], int] = {}
    next_id = 0
    for _, e, i, j in links:
        a, b = edges[e]
        ga, gb = owner.get((a, i)), owner.get((b, j))
        if ga is None and gb is None:
            groups[next_id] = {a: i, b: j}
            owner[(a, i)] = owner[(b, j)] = next_id
            next_id += 1
        elif ga is not None and gb is not None:
            if ga != gb and not (groups[ga].keys() & groups[gb].keys()):
                for part, cand in groups.pop(gb).items():
                    groups[ga][part] = cand
                    owner[(part, cand)] = ga
        else:
            group, part, cand = (ga, b, j) if ga is not None else (gb, a, i)
            if part not in groups[group]:
                groups[group][part] = cand
                owner[(part, cand)] = group
    return list(groups.values()), owner


def assemble(candidates: Sequence[np.ndarray], edges: Sequence[tuple[int, int]], *,
             edge_scores: EdgeScorer, max_individuals: int,
             unique_bodyparts: Sequence[int] = (),
             options: AssemblyOptions | None = None) -> np.ndarray:
    """Group one frame's keypoint candidates into individuals.

    Parameters
    ----------
    candidates : list of ndarray, one per bodypart, each shape (n_k, 3)
        x, y (pixels) and score (e.g. score-map peak value, or 1 for labels) of each
        candidate location of bodypart k; ``n_k`` may be 0. Rows with NaN x or y are ignored
        (so NaN-padded arrays work).
    edges : sequence of (int, int)
        Bodypart index pairs to score (a skeleton, or :func:`choose_edges` + :func:`edge_indices`).
    edge_scores : EdgeScorer
        ``(edge_index, candidates_a (n_a, 3), candidates_b (n_b, 3)) -> (n_a, n_b)`` affinities
        in [0, 1]; see :mod:`posekit.multi.scoring`.
    max_individuals : int
        Most individuals returned; the weakest beyond are dropped (see the module docstring).
    unique_bodyparts : sequence of int
        Bodypart indices that belong to no animal (NaN columns here; see :func:`pick_unique`).
    options : AssemblyOptions, optional
        Thresholds; defaults if None.

    Returns
    -------
    ndarray, shape (n_individuals, n_bodyparts, 3)
        x, y, score of each individual's keypoints, NaN where it has none; strongest first;
        ``n_individuals <= max_individuals`` (0 for a frame without candidates).

    Raises
    ------
    MultiAnimalError
        On malformed candidates, edges out of range or touching a unique bodypart, an edge
        scorer made for other edges or returning the wrong shape, or bad options.
    """
    options = options or AssemblyOptions()
    max_individuals = count(max_individuals, "max_individuals", 1)
    cands = _check_candidates(candidates, options.min_candidate_score)
    n_bodyparts = len(cands)
    edges = check_edges(edges, n_bodyparts)
    unique = _check_unique(unique_bodyparts, n_bodyparts)
    bad = [edge for edge in edges if unique & set(edge)]
    if bad:
        raise MultiAnimalError(f"edges {bad} touch unique bodyparts {sorted(unique)}; unique "
                               "bodyparts belong to no animal, remove them from the edges.")
    scorer_edges = getattr(edge_scores, "edges", None)
    if scorer_edges is not None and [tuple(map(int, e)) for e in scorer_edges] != edges:
        raise MultiAnimalError(f"the edge scorer was made for edges {list(scorer_edges)}, but "
                               f"assemble got {edges}; pass the same edge list to both.")
    min_edge_score = options.min_edge_score
    if min_edge_score is None:
        min_edge_score = float(getattr(edge_scores, "min_score", DEFAULT_MIN_EDGE_SCORE))
    links, matrices = _edge_links(cands, edges, edge_scores, min_edge_score, options.matching)
    groups, owner = _merge(links, edges)
    for k in range(n_bodyparts):
        if k in unique:
            continue
        for i in range(len(cands[k])):
            if (k, i) not in owner:
                groups.append({k: i})
    if options.repair:
        groups = _repair(groups, cands, edges, matrices, max_individuals, min_edge_score ** 2)
    return _finish(groups, cands, max_individuals, options.min_keypoints)


def _group_affinity(groups: list[dict[int, int]], cands: list[np.ndarray],
                    edges: list[tuple[int, int]], matrices: list[np.ndarray]) -> np.ndarray:
    """(n_groups, n_groups): mean score of the candidate pairs on edges joining two groups."""
    n = len(groups)
    member = [np.full(len(c), -1) for c in cands]
    for g, group in enumerate(groups):
        for k, i in group.items():
            member[k][i] = g
    total = np.zeros((n, n))
    links = np.zeros((n, n))
    for (a, b), scores in zip(edges, matrices, strict=True):
        if not scores.size:
            continue
        ga = np.broadcast_to(member[a][:, None], scores.shape)
        gb = np.broadcast_to(member[b][None, :], scores.shape)
        ok = (ga >= 0) & (gb >= 0) & (ga != gb)
        np.add.at(total, (ga[ok], gb[ok]), scores[ok])
        np.add.at(links, (ga[ok], gb[ok]), 1.0)
    total += total.T
    links += links.T
    return np.divide(total, links, out=np.zeros_like(total), where=links > 0)


def _repair(groups: list[dict[int, int]], cands: list[np.ndarray], edges: list[tuple[int, int]],
            matrices: list[np.ndarray], max_individuals: int, floor: float
            ) -> list[dict[int, int]]:
    """While there are too many groups, merge a smallest one into the group it joins best."""
    groups = list(groups)
    n_bodyparts = len(cands)
    while len(groups) > max_individuals:
        affinity = _group_affinity(groups, cands, edges, matrices)
        parts = np.zeros((len(groups), n_bodyparts), dtype=bool)
        for g, group in enumerate(groups):
            parts[g, list(group)] = True
        sizes = parts.sum(axis=1)
        allowed = ~(parts.astype(int) @ parts.T.astype(int)).astype(bool)   # share no bodypart
        allowed &= (sizes == sizes.min())[:, None] & (affinity >= floor) & (affinity > 0)
        if not allowed.any():
            break
        small, big = np.unravel_index(np.argmax(np.where(allowed, affinity, -1.0)),
                                      affinity.shape)
        groups[big] = {**groups[big], **groups[small]}
        del groups[small]
    return groups


def _finish(groups: list[dict[int, int]], cands: list[np.ndarray], max_individuals: int,
            min_keypoints: int) -> np.ndarray:
    """Rank, cap and write groups as an (n_individuals, n_bodyparts, 3) array."""
    groups = [g for g in groups if len(g) >= min_keypoints]
    strength = [sum(cands[k][i, 2] for k, i in g.items()) for g in groups]
    order = sorted(range(len(groups)), key=lambda n: (-strength[n], -len(groups[n]), n))
    if len(order) > max_individuals:
        logger.debug("assembled %d individuals, keeping the %d strongest", len(order),
                     max_individuals)
    kept = [groups[n] for n in order[:max_individuals]]
    out = np.full((len(kept), len(cands), 3), np.nan)
    for n, group in enumerate(kept):
        for k, i in group.items():
            out[n, k] = cands[k][i]
    return out


def pick_unique(candidates: Sequence[np.ndarray], unique_bodyparts: Sequence[int]) -> np.ndarray:
    """The best-scoring candidate of each unique bodypart.

    Parameters
    ----------
    candidates : list of ndarray, one per bodypart, each shape (n_k, 3)
        As for :func:`assemble`.
    unique_bodyparts : sequence of int
        Bodypart indices that belong to the scene rather than to an animal.

    Returns
    -------
    ndarray, shape (n_bodyparts, 3)
        x, y, score of the best candidate of each unique bodypart; NaN for the others and
        for unique bodyparts without candidates (DeepLabCut's "single" individual).
    """
    cands = _check_candidates(candidates, 0.0)
    out = np.full((len(cands), 3), np.nan)
    for u in sorted(_check_unique(unique_bodyparts, len(cands))):
        if len(cands[u]):
            out[u] = cands[u][int(np.argmax(cands[u][:, 2]))]
    return out


def assemble_frames(candidates_per_frame: Sequence[Sequence[np.ndarray]],
                    edges: Sequence[tuple[int, int]], *,
                    edge_scores: EdgeScorer | Sequence[EdgeScorer], max_individuals: int,
                    unique_bodyparts: Sequence[int] = (),
                    options: AssemblyOptions | None = None) -> np.ndarray:
    """:func:`assemble` every frame of a video, padded into one array for tracking.

    Parameters
    ----------
    candidates_per_frame : sequence (n_frames) of candidate lists
        One :func:`assemble` ``candidates`` list per frame.
    edges : sequence of (int, int)
        As for :func:`assemble`.
    edge_scores : EdgeScorer or sequence of EdgeScorer
        One scorer for all frames (e.g. a distance prior) or one per frame (e.g. each
        frame's :class:`~posekit.multi.scoring.PafScorer`).
    max_individuals : int
        Most individuals per frame.
    unique_bodyparts, options
        As for :func:`assemble`.

    Returns
    -------
    ndarray, shape (n_frames, max_individuals, n_bodyparts, 3)
        Individuals of each frame, strongest first, NaN-padded: the input of
        :func:`posekit.multi.track_individuals`.
    """
    n_frames = len(candidates_per_frame)
    per_frame_scorers = not callable(edge_scores)
    if per_frame_scorers and not isinstance(edge_scores, Sequence):
        raise MultiAnimalError(f"edge_scores must be an edge scorer or a list of them, found "
                               f"{type(edge_scores).__name__}.")
    if per_frame_scorers and len(edge_scores) != n_frames:
        raise MultiAnimalError(f"edge_scores: expected one scorer, or one per frame "
                               f"({n_frames}), found {len(edge_scores)}.")
    out = None
    for f in track(range(n_frames), total=n_frames, description="Assembling"):
        scorer = edge_scores[f] if per_frame_scorers else edge_scores
        found = assemble(candidates_per_frame[f], edges, edge_scores=scorer,
                         max_individuals=max_individuals, unique_bodyparts=unique_bodyparts,
                         options=options)
        if out is None:
            out = np.full((n_frames, max_individuals, found.shape[1], 3), np.nan)
        out[f, :len(found)] = found
    if out is None:
        raise MultiAnimalError("candidates_per_frame is empty; pass at least one frame.")
    return out
