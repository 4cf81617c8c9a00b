"""Stitching: join tracklets into a fixed number of tracks by a global min-cost flow.

Frame-to-frame linking (:mod:`posekit.multi.tracking`) cuts tracks wherever it is unsure: a
missed detection, a jump, two animals close enough to be confused. Stitching decides which
tracklets are the same animal, for all of them at once:

* **Graph.** Each tracklet is a node that a track may *use*, earning ``reward`` per frame
  it covers times the plausibility of that frame's pose, ``exp(-(dev / shape_tolerance)^2)``,
  where ``dev`` is the mean absolute log ratio of the pose's distances between keypoints to
  their medians over all detections: a detection that joins keypoints of two animals (a
  head here, a thorax there) earns next to nothing and is left out rather than followed.
  An arc joins tracklet ``i`` to tracklet ``j`` when ``j`` starts after ``i`` ends (so
  tracklets overlapping in time never share a track), at most ``max_gap`` frames later, and
  the move is plausible (gate below). A track is a path source -> tracklets -> sink.
* **Arc cost** for a gap of ``g`` frames (``g = 1``: consecutive frames):
  ``motion / scale + gap_cost * (g - 1) + shape_weight * shape``.
  ``motion`` is the mean keypoint distance between ``i``'s last pose moved on by its
  velocity for ``min(g, max_extrapolation)`` frames and ``j``'s first pose, averaged with the
  same measured backwards (``j``'s first pose moved back by its own velocity). Velocities
  are fitted over the ``velocity_window`` frames at each end (zero for one-frame
  tracklets); the end poses are, per keypoint, the median over that window of the positions
  moved to the end frame by the velocity, so one bad detection at an end does not cut the
  track. ``shape`` is the mean absolute log ratio of the two tracklets' pose shapes,
  their median distances between every pair of keypoints (the animals' size and build).
  ``scale`` is the animals' typical size in pixels.
* **Gate.** An arc exists only when ``motion / scale <= max_distance + max_speed * (g - 1)``.
* **Solve.** Exactly ``n_tracks`` units of flow go from source to sink (a track may stay
  empty) through arcs of capacity 1, minimizing total cost minus rewards: an integer
  min-cost flow, solved exactly with ``scipy.optimize.milp`` (HiGHS). Tracklets no track
  uses (spurious detections, a third "animal") are dropped.

Because each choice is weighed against all others, a short break or a crossing is resolved
by the motion and shape of both animals together instead of greedily, which is what keeps
identities from swapping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from posekit.multi._checks import count, positive
from posekit.multi.errors import MultiAnimalError

logger = logging.getLogger(__name__)


@dataclass
class Tracklet:
    """Detections of one animal in consecutive frames, linked without doubt.

    Attributes
    ----------
    frames : ndarray, shape (n,)
        Frame numbers, consecutive and increasing.
    detections : ndarray, shape (n,)
        Index of the detection in each frame (the second axis of the tracking input).
    poses : ndarray, shape (n, n_bodyparts, 3)
        x, y, likelihood of the detections.
    """

    frames: np.ndarray
    detections: np.ndarray
    poses: np.ndarray

    @property
    def start(self) -> int:
        """First frame."""
        return int(self.frames[0])

    @property
    def end(self) -> int:
        """Last frame."""
        return int(self.frames[-1])

    def __len__(self) -> int:
        return int(len(self.frames))


@dataclass(frozen=True)
class StitchOptions:
    """How tracklets are joined (see the module docstring).

    Attributes
    ----------
    max_gap : int
        Longest break bridged, frames (a gap of g frames has g - 1 frames without the animal).
    max_distance : float
        Gate on the motion-corrected distance for consecutive frames, in animal sizes.
    max_speed : float
        How much the gate widens per missing frame, in animal sizes per frame.
    gap_cost : float
        Cost per missing frame.
    shape_weight : float
        Weight of the pose-shape dissimilarity.
    reward : float
        Reward per frame covered by a track; must outweigh plausible arc costs (which are
        around 0-1), so that tracks cover every real detection.
    shape_tolerance : float
        Deviation from the typical pose shape (mean absolute log ratio of keypoint
        distances) at which a frame's reward falls to 1/e.
    velocity_window : int
        Frames at each tracklet end used to fit its velocity.
    max_extrapolation : int
        Velocities are extrapolated over at most this many frames of a gap.
    """

    max_gap: int = 50
    max_distance: float = 1.0
    max_speed: float = 0.1
    gap_cost: float = 0.02
    shape_weight: float = 1.0
    reward: float = 1.0
    shape_tolerance: float = 1.0
    velocity_window: int = 5
    max_extrapolation: int = 10

    def __post_init__(self) -> None:
        count(self.max_gap, "max_gap", 1)
        count(self.velocity_window, "velocity_window", 1)
        count(self.max_extrapolation, "max_extrapolation", 0)
        for name in ("max_distance", "reward", "shape_tolerance"):
            positive(getattr(self, name), name)
        for name in ("max_speed", "gap_cost", "shape_weight"):
            positive(getattr(self, name), name, allow_zero=True)


# --------------------------------------------------------------------------- features


def _velocity(poses: np.ndarray, window: int, at_end: bool) -> np.ndarray:
    """Body velocity (2,) in px/frame at one end of a tracklet: median keypoint slope."""
    part = poses[-window:, :, :2] if at_end else poses[:window, :, :2]
    if len(part) < 2:
        return np.zeros(2)
    t = np.arange(len(part), dtype=np.float64)
    ok = np.isfinite(part[..., 0])                                   # (w, n_bp)
    slopes = []
    for k in range(part.shape[1]):
        m = ok[:, k]
        if m.sum() >= 2:
            tk = t[m] - t[m].mean()
            slopes.append((tk[:, None] * part[m, k]).sum(axis=0) / (tk ** 2).sum())
    return np.median(slopes, axis=0) if slopes else np.zeros(2)


def _shape(poses: np.ndarray) -> np.ndarray:
    """Median distance between every pair of keypoints over the tracklet: (n_pairs,)."""
    d = _pair_distances(poses)                                        # (n, n_pairs)
    out = np.full(d.shape[1], np.nan)
    seen = np.isfinite(d).any(axis=0)
    out[seen] = np.nanmedian(d[:, seen], axis=0)
    return out


def mean_keypoint_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Mean distance over keypoints present in both poses ``(n_bodyparts, 2+)``; when none
    is shared, the distance between the poses' centroids (NaN if either is empty)."""
    d = np.linalg.norm(p[:, :2] - q[:, :2], axis=-1)
    if np.isfinite(d).any():
        return float(np.nanmean(d))
    cp, cq = _centroid(p), _centroid(q)
    return float(np.linalg.norm(cp - cq))


def _centroid(pose: np.ndarray) -> np.ndarray:
    ok = np.isfinite(pose[:, 0])
    return pose[ok, :2].mean(axis=0) if ok.any() else np.full(2, np.nan)


@dataclass
class _Ends:
    first: np.ndarray
    last: np.ndarray
    v_start: np.ndarray
    v_end: np.ndarray
    shape: np.ndarray


def _end_pose(poses: np.ndarray, velocity: np.ndarray, window: int, at_end: bool
              ) -> np.ndarray:
    """Pose at one end of a tracklet, robust to one bad frame: per keypoint, the median of
    the positions in the end window, each moved by the velocity to the end frame."""
    part = poses[-window:] if at_end else poses[:window]
    t = np.arange(len(part), dtype=np.float64)
    t = t - t[-1] if at_end else t
    moved = part[:, :, :2] - t[:, None, None] * velocity
    out = part[-1 if at_end else 0].copy()
    seen = np.isfinite(moved[..., 0]).any(axis=0)
    out[seen, :2] = np.nanmedian(moved[:, seen], axis=0)
    return out


def _ends(tracklet: Tracklet, options: StitchOptions) -> _Ends:
    window = options.velocity_window
    v_start = _velocity(tracklet.poses, window, at_end=False)
    v_end = _velocity(tracklet.poses, window, at_end=True)
    return _Ends(first=_end_pose(tracklet.poses, v_start, window, at_end=False),
                 last=_end_pose(tracklet.poses, v_end, window, at_end=True),
                 v_start=v_start, v_end=v_end, shape=_shape(tracklet.poses))


def _shape_difference(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    return float(np.mean(np.abs(np.log(a[ok] / b[ok])))) if ok.any() else 0.0


def _link_cost(before: _Ends, after: _Ends, gap: int, scale: float, options: StitchOptions
              ) -> float:
    """Cost of continuing ``before`` with ``after`` ``gap`` frames later; inf when gated."""
    steps = min(gap, options.max_extrapolation)
    forward = before.last.copy()
    forward[:, :2] += before.v_end * steps
    backward = after.first.copy()
    backward[:, :2] -= after.v_start * steps
    motion = 0.5 * (mean_keypoint_distance(forward, after.first)
                    + mean_keypoint_distance(before.last, backward)) / scale
    if not np.isfinite(motion) or motion > options.max_distance + options.max_speed * (gap - 1):
        return float("inf")
    return (motion + options.gap_cost * (gap - 1)
            + options.shape_weight * _shape_difference(before.shape, after.shape))


# --------------------------------------------------------------------------- solve


def _pair_distances(poses: np.ndarray) -> np.ndarray:
    """(n, n_bodyparts, 2+) -> (n, n_pairs) distances between every pair of keypoints."""
    a, b = np.triu_indices(poses.shape[1], k=1)
    return np.linalg.norm(poses[:, a, :2] - poses[:, b, :2], axis=-1)


def _rewards(tracklets: Sequence[Tracklet], options: StitchOptions) -> list[float]:
    """Reward of each tracklet: ``reward`` times the sum of its frames' pose plausibility."""
    pairs = [_pair_distances(t.poses) for t in tracklets]
    every = np.concatenate(pairs)
    typical = np.full(every.shape[1], np.nan)
    seen = np.isfinite(every).any(axis=0)
    typical[seen] = np.nanmedian(every[:, seen], axis=0)
    rewards = []
    for d in pairs:
        ok = np.isfinite(d) & (d > 0) & (typical > 0)
        log_ratio = np.abs(np.log(np.where(ok, d, 1.0) / np.where(ok, typical, 1.0)))
        n = ok.sum(axis=1)
        deviation = np.divide(log_ratio.sum(axis=1), n, out=np.zeros(len(d)), where=n > 0)
        rewards.append(options.reward * float(np.exp(-(deviation / options.shape_tolerance) ** 2)
                                              .sum()))
    return rewards


def _arcs(tracklets: Sequence[Tracklet], scale: float, options: StitchOptions
          ) -> list[tuple[int, int, float]]:
    ends = [_ends(t, options) for t in tracklets]
    order = sorted(range(len(tracklets)), key=lambda i: tracklets[i].start)
    starts = np.array([tracklets[i].start for i in order])
    arcs = []
    for i, tracklet in enumerate(tracklets):
        lo = np.searchsorted(starts, tracklet.end + 1, side="left")
        hi = np.searchsorted(starts, tracklet.end + options.max_gap, side="right")
        for j in (order[n] for n in range(lo, hi)):
            cost = _link_cost(ends[i], ends[j], tracklets[j].start - tracklet.end, scale, options)
            if np.isfinite(cost):
                arcs.append((i, j, cost))
    return arcs


def stitch_tracklets(tracklets: Sequence[Tracklet], *, n_tracks: int, scale: float,
                     options: StitchOptions | None = None) -> list[list[int]]:
    """Join tracklets into at most ``n_tracks`` tracks (see the module docstring).

    Parameters
    ----------
    tracklets : sequence of Tracklet
        From :func:`posekit.multi.link_tracklets`.
    n_tracks : int
        Number of tracks (animals).
    scale : float
        Typical animal size in pixels (distances are divided by it).
    options : StitchOptions, optional
        Costs and gates; defaults if None.

    Returns
    -------
    list of list of int
        ``n_tracks`` lists of tracklet indices, each in time order; a track no tracklet
        fits is empty. Tracks are ordered by their first frame (empty ones last).
    """
    options = options or StitchOptions()
    n_tracks = count(n_tracks, "n_tracks", 1)
    scale = positive(scale, "scale")
    n = len(tracklets)
    if n == 0:
        return [[] for _ in range(n_tracks)]
    arcs = _arcs(tracklets, scale, options)
    use, successor = _solve_flow(n, arcs, _rewards(tracklets, options), n_tracks)
    heads = [i for i in range(n) if use[i] and i not in set(successor.values())]
    tracks = []
    for head in heads:
        chain = [head]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        tracks.append(chain)
    tracks.sort(key=lambda chain: tracklets[chain[0]].start)
    logger.debug("stitched %d tracklets (%d arcs) into %d tracks, dropped %d", n, len(arcs),
                 len(tracks), n - sum(len(c) for c in tracks))
    return tracks + [[] for _ in range(n_tracks - len(tracks))]


def _solve_flow(n: int, arcs: list[tuple[int, int, float]], rewards: list[float],
                n_tracks: int) -> tuple[np.ndarray, dict[int, int]]:
    """Integer min-cost flow. Variables: use_i, enter_i, leave_i, arcs, source->sink."""
    n_arcs = len(arcs)
    n_var = 3 * n + n_arcs + 1
    use, enter, leave, first_arc, bypass = 0, n, 2 * n, 3 * n, 3 * n + n_arcs
    cost = np.zeros(n_var)
    cost[use:use + n] = -np.asarray(rewards)
    cost[first_arc:first_arc + n_arcs] = [c for _, _, c in arcs]
    rows, cols, vals = [], [], []

    def add(row: int, col: int, val: float) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(val)

    # row 0: source sends n_tracks; rows 1..n: flow into node i = use_i;
    # rows n+1..2n: use_i = flow out of node i
    for i in range(n):
        add(0, enter + i, 1.0)
        add(1 + i, enter + i, 1.0)
        add(1 + i, use + i, -1.0)
        add(1 + n + i, use + i, 1.0)
        add(1 + n + i, leave + i, -1.0)
    add(0, bypass, 1.0)
    for a, (i, j, _) in enumerate(arcs):
        add(1 + j, first_arc + a, 1.0)
        add(1 + n + i, first_arc + a, -1.0)
    matrix = coo_matrix((vals, (rows, cols)), shape=(1 + 2 * n, n_var)).tocsr()
    rhs = np.zeros(1 + 2 * n)
    rhs[0] = n_tracks
    upper = np.ones(n_var)
    upper[bypass] = n_tracks
    result = milp(cost, constraints=LinearConstraint(matrix, rhs, rhs),
                  integrality=np.ones(n_var), bounds=Bounds(np.zeros(n_var), upper))
    if result.x is None:  # pragma: no cover - the flow problem is always feasible
        raise MultiAnimalError(f"stitching failed: the solver reported {result.message!r}.")
    x = np.round(result.x).astype(int)
    successor = {i: j for a, (i, j, _) in enumerate(arcs) if x[first_arc + a] == 1}
    return x[use:use + n].astype(bool), successor
