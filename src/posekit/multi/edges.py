"""Which bodypart pairs to use as assembly edges, chosen from training labels.

Assembly links candidates along edges; a good edge joins two bodyparts whose distance is
nearly constant on one animal (so its length prior is sharp) and rarely matched by a
keypoint of another animal. When the skeleton is incomplete (or was drawn for display, not
for grouping), :func:`choose_edges` picks edges from the labels:

cost of a pair (a, b) = confusion + 5 * missing + std / L
    * std / L: standard deviation of the a-b distance over every labeled animal, divided by
      L, the median over all pairs of their mean distance (the animal's size). A distance
      prior accepts a candidate b in a band of width ~ std around the expected distance, so
      a keypoint of another animal falls into that band with a probability that grows with
      std. (The coefficient of variation std / mean, the obvious alternative, prefers long
      edges, whose bands sweep over neighbours more often: on the two-fly clip a CV tree
      assembles fewer frames exactly; benchmarks/tracking.py compares them.)
    * missing: the fraction of animals with a or b labeled that lack the other. A missing
      bodypart cuts a tree at every edge it has, so bodyparts that are always visible make
      the best hubs. The weight 5 was set on the two-fly labels, where it moves the hubs to
      the always-labeled head and thorax (frames assembled exactly right: 96.8 % with
      weight 1, 97.1 % with 3, 98.9 % with 5 and 10).
    * confusion: over images with two or more animals, the fraction of labeled a-b pairs
      for which some a of one animal and b of *another* animal are at least as close to the
      mean a-b length (in standard deviations) as the true pair: how often a distance prior
      on this pair was fooled in the labels. 0 where no image holds several animals.

The edges are the minimum spanning tree of the bodypart graph under this cost (Kruskal),
grown from the edges the caller insists on (``keep``, e.g. the user's skeleton), plus the
cheapest remaining pairs when more edges than a spanning tree are asked for (extra edges let
assembly survive a missing keypoint that would otherwise cut a tree in two).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posekit.multi._checks import as_array, positive
from posekit.multi.errors import MultiAnimalError

MISSING_WEIGHT = 5.0
"""Weight of the missing rate in an edge's cost (module docstring)."""


def edge_indices(edges: Sequence[tuple[str, str]], bodyparts: Sequence[str]
                 ) -> list[tuple[int, int]]:
    """Bodypart-name pairs as index pairs.

    Raises
    ------
    MultiAnimalError
        When a name is not one of ``bodyparts``.
    """
    index = {name: k for k, name in enumerate(bodyparts)}
    out = []
    for edge in edges:
        missing = [name for name in edge if name not in index]
        if missing or len(edge) != 2:
            raise MultiAnimalError(f"edge {edge!r}: expected two of the bodyparts "
                                   f"{list(bodyparts)}, unknown {missing}.")
        out.append((index[edge[0]], index[edge[1]]))
    return out


def pair_costs(labels_points: np.ndarray, *, missing_weight: float = MISSING_WEIGHT
               ) -> np.ndarray:
    """Cost of every bodypart pair as an assembly edge (see the module docstring).

    Parameters
    ----------
    labels_points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        Training labels, NaN where not visible (or no such animal).
    missing_weight : float
        Weight of the missing rate.

    Returns
    -------
    ndarray, shape (n_bodyparts, n_bodyparts)
        Symmetric ``confusion + missing_weight * missing + std / L``; ``inf`` on the
        diagonal and for pairs labeled together on fewer than two animals.
    """
    missing_weight = positive(missing_weight, "missing_weight", allow_zero=True)
    points = as_array(labels_points, "labels_points",
                      "(n_images, n_individuals, n_bodyparts, 2)", 4, 2)
    n = points.shape[2]
    stats = {}
    for a in range(n):
        for b in range(a + 1, n):
            stats[a, b] = _pair_stats(points[:, :, a], points[:, :, b])
    means = [st[0] for st in stats.values() if st is not None]
    scale = float(np.median(means)) if means and np.median(means) > 0 else 1.0
    costs = np.full((n, n), np.inf)
    for (a, b), st in stats.items():
        if st is not None:
            _, std, confusion, missing = st
            costs[a, b] = costs[b, a] = confusion + missing_weight * missing + std / scale
    return costs


def _pair_stats(pa: np.ndarray, pb: np.ndarray) -> tuple[float, float, float, float] | None:
    """Mean and std of the a-b length, confusion and missing rates; pa, pb: (img, ind, 2)."""
    cross = np.linalg.norm(pa[:, :, None] - pb[:, None, :], axis=-1)   # (img, ind_a, ind_b)
    true = np.diagonal(cross, axis1=1, axis2=2)                         # (img, ind)
    lengths = true[np.isfinite(true)]
    if lengths.size < 2:
        return None
    mean, std = float(lengths.mean()), float(lengths.std(ddof=1))
    z = np.abs(cross - mean) / max(std, 1e-9)
    off = ~np.eye(cross.shape[1], dtype=bool)
    z_true = np.diagonal(z, axis1=1, axis2=2)                           # (img, ind)
    # rivals of animal i: its a with another's b, and another's a with its b
    rivals = np.where(off & np.isfinite(z), z, np.inf)
    best_rival = np.minimum(rivals.min(axis=2), rivals.min(axis=1))
    judged = np.isfinite(z_true) & np.isfinite(best_rival)
    confusion = float((best_rival[judged] <= z_true[judged]).mean()) if judged.any() else 0.0
    either = (np.isfinite(pa).all(axis=-1) | np.isfinite(pb).all(axis=-1)).sum()
    missing = 1.0 - lengths.size / either
    return mean, std, confusion, missing


def choose_edges(labels_points: np.ndarray, bodyparts: Sequence[str],
                 n_edges: int | None = None, *, keep: Sequence[tuple[str, str]] = (),
                 exclude: Sequence[str] = (), missing_weight: float = MISSING_WEIGHT
                 ) -> list[tuple[str, str]]:
    """Assembly edges chosen from training labels (see the module docstring).

    Parameters
    ----------
    labels_points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        Training labels (every bodypart of ``bodyparts``, in that order), NaN where not
        visible.
    bodyparts : sequence of str
        Bodypart names.
    n_edges : int, optional
        Number of edges: at least a spanning tree's (bodyparts used - 1); None gives the
        spanning tree plus any ``keep`` edges that close cycles.
    keep : sequence of (str, str)
        Edges to include whatever they cost (e.g. the skeleton drawn by the user).
    exclude : sequence of str
        Bodyparts to leave out (unique bodyparts, which belong to no animal).
    missing_weight : float
        Weight of the missing rate in the cost (module docstring).

    Returns
    -------
    list of (str, str)
        The kept edges, then the tree edges in the order chosen (cheapest first), then the
        extra edges.

    Raises
    ------
    MultiAnimalError
        On a wrong shape or names, too few edges asked for, or a bodypart that is never
        labeled together with another one (it cannot be joined to the tree).
    """
    points = as_array(labels_points, "labels_points",
                      "(n_images, n_individuals, n_bodyparts, 2)", 4, 2)
    names = [str(b) for b in bodyparts]
    if len(names) != points.shape[2] or len(set(names)) != len(names):
        raise MultiAnimalError(f"bodyparts must be {points.shape[2]} unique names, one per "
                               f"bodypart of labels_points, found {names}.")
    unknown = [b for b in exclude if b not in names]
    if unknown:
        raise MultiAnimalError(f"exclude names unknown bodyparts {unknown}; known: {names}.")
    used = [k for k, b in enumerate(names) if b not in set(exclude)]
    forced = edge_indices(keep, names)
    if any(a not in used or b not in used for a, b in forced):
        raise MultiAnimalError(f"keep {list(keep)} holds an excluded bodypart {list(exclude)}.")
    tree_size = max(len(used) - 1, 0)
    if n_edges is not None and (isinstance(n_edges, bool) or not isinstance(n_edges, int)
                                or n_edges < tree_size):
        raise MultiAnimalError(f"n_edges must be an integer >= {tree_size} (a spanning tree of "
                               f"{len(used)} bodyparts), found {n_edges!r}.")
    costs = pair_costs(points, missing_weight=missing_weight)
    chosen = _kruskal(costs, used, forced)
    unreached = _unreached(chosen, used)
    if unreached:
        raise MultiAnimalError(
            f"bodyparts {[names[k] for k in unreached]} are never labeled together with the "
            "others on one animal (fewer than 2 times), so no edge can join them; label them "
            "or pass them in exclude.")
    if n_edges is not None:
        extra = sorted(((costs[a, b], a, b) for i, a in enumerate(used) for b in used[i + 1:]
                        if np.isfinite(costs[a, b]) and (a, b) not in chosen
                        and (b, a) not in chosen))
        chosen += [(a, b) for _, a, b in extra[:max(n_edges - len(chosen), 0)]]
    return [(names[a], names[b]) for a, b in chosen]


def _find(parent: dict[int, int], k: int) -> int:
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


def _kruskal(costs: np.ndarray, used: list[int], forced: list[tuple[int, int]]
             ) -> list[tuple[int, int]]:
    parent = {k: k for k in used}
    chosen = []
    for a, b in forced:
        if (a, b) not in chosen and (b, a) not in chosen:
            chosen.append((a, b))
        parent[_find(parent, a)] = _find(parent, b)
    pairs = sorted((costs[a, b], a, b) for i, a in enumerate(used) for b in used[i + 1:]
                   if np.isfinite(costs[a, b]))
    for _, a, b in pairs:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[ra] = rb
            chosen.append((a, b))
    return chosen


def _unreached(chosen: list[tuple[int, int]], used: list[int]) -> list[int]:
    """Bodyparts outside the largest connected component, when the tree is not spanning."""
    parent = {k: k for k in used}
    for a, b in chosen:
        parent[_find(parent, a)] = _find(parent, b)
    roots = [_find(parent, k) for k in used]
    if not roots:
        return []
    biggest = max(set(roots), key=roots.count)
    return [k for k, r in zip(used, roots, strict=True) if r != biggest]
