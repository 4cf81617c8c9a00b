"""Tracking: follow individual animals through a video without swapping identities.

Input: the individuals found in every frame (assembled by :func:`posekit.multi.assemble`,
or any detector), in no particular order. Output: ``n_tracks`` tracks, each one animal.

1. **Detections.** In each frame, an individual with at least ``min_keypoints`` located
   keypoints is a detection. When a frame holds more than ``max_detections`` (default:
   ``n_tracks``) the strongest are kept (strength: sum of keypoint likelihoods) and the rest
   dropped, as for animals beyond the number a project declares.
2. **Linking into tracklets.** Each open tracklet carries a constant-velocity Kalman filter
   per keypoint (state x, y, vx, vy; white-noise acceleration with standard deviation
   ``process_noise`` and measurement noise ``measurement_noise``, both in animal sizes) that
   predicts its pose in the next frame. The cost of giving detection ``d`` to tracklet
   ``t`` mixes the mean distance between predicted and detected keypoints, in animal sizes,
   and the overlap of their bounding boxes (padded by a tenth of the animal size):
   ``(1 - iou_weight) * distance + iou_weight * (1 - IoU)``. Pairs farther than
   ``max_distance`` are impossible (gate). The Hungarian algorithm picks the cheapest
   assignment; a pair is linked only when it is also *unambiguous*: its cost is at most
   ``ambiguity_ratio`` times the cost of the best alternative for either side (another
   detection for the tracklet, or another tracklet for the detection). Open tracklets left
   without a detection end; detections left without a tracklet start new ones. So a
   tracklet ends at a missed detection and wherever two animals are close enough to be
   confused, and a tracklet holds one animal.
3. **Stitching** (:mod:`posekit.multi.stitching`): a min-cost flow joins the tracklets into
   exactly ``n_tracks`` tracks, using motion extrapolated across gaps, gap length and pose
   shape; tracklets overlapping in time never share a track.

``scale`` (the "animal size") defaults to the median over detections with two or more
keypoints of their bounding-box diagonal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.multi._checks import as_array, count, positive
from posekit.multi.errors import MultiAnimalError
from posekit.multi.stitching import StitchOptions, Tracklet, stitch_tracklets
from posekit.progress import track

logger = logging.getLogger(__name__)

_INFEASIBLE = 1e9


@dataclass(frozen=True)
class TrackingOptions:
    """How detections are linked and stitched (see the module docstring).

    Attributes
    ----------
    max_distance : float
        Gate for frame-to-frame links: largest mean keypoint distance from the predicted
        pose, in animal sizes.
    iou_weight : float
        Weight of ``1 - IoU`` in the link cost, in [0, 1].
    ambiguity_ratio : float
        A link is made only when its cost is at most this fraction of the best alternative's,
        in (0, 1]; 1 links whatever the Hungarian algorithm picks.
    min_keypoints : int
        Individuals with fewer located keypoints are not detections.
    max_detections : int or None
        Most detections kept per frame (strongest first); None: ``n_tracks``.
    scale : float or None
        Animal size in pixels; None: measured (module docstring).
    process_noise, measurement_noise : float
        Kalman filter noise standard deviations, in animal sizes (per frame).
    stitch : StitchOptions
        Options of the stitching step.
    """

    max_distance: float = 0.5
    iou_weight: float = 0.3
    ambiguity_ratio: float = 0.5
    min_keypoints: int = 1
    max_detections: int | None = None
    scale: float | None = None
    process_noise: float = 0.02
    measurement_noise: float = 0.05
    stitch: StitchOptions = field(default_factory=StitchOptions)

    def __post_init__(self) -> None:
        positive(self.max_distance, "max_distance")
        if not 0.0 <= positive(self.iou_weight, "iou_weight", allow_zero=True) <= 1.0:
            raise MultiAnimalError(f"iou_weight must be in [0, 1], found {self.iou_weight}.")
        if not 0.0 < positive(self.ambiguity_ratio, "ambiguity_ratio") <= 1.0:
            raise MultiAnimalError(f"ambiguity_ratio must be in (0, 1], found "
                                   f"{self.ambiguity_ratio}.")
        count(self.min_keypoints, "min_keypoints", 1)
        if self.max_detections is not None:
            count(self.max_detections, "max_detections", 1)
        if self.scale is not None:
            positive(self.scale, "scale")
        positive(self.process_noise, "process_noise")
        positive(self.measurement_noise, "measurement_noise")
        if not isinstance(self.stitch, StitchOptions):
            raise MultiAnimalError(f"stitch must be a StitchOptions, found "
                                   f"{type(self.stitch).__name__}.")


# --------------------------------------------------------------------------- Kalman filter


class _KeypointKalman:
    """Independent constant-velocity Kalman filters for the keypoints of one tracklet.

    State per keypoint: position (2,) and velocity (2,); the covariance of (position,
    velocity) along one axis, (2, 2), is shared by x and y (same noise on both axes).
    """

    def __init__(self, pose: np.ndarray, q: float, r: float, v0: float) -> None:
        n = pose.shape[0]
        self.q, self.r, self.v0 = q, r, v0
        self.pos = np.full((n, 2), np.nan)
        self.vel = np.zeros((n, 2))
        self.cov = np.zeros((n, 2, 2))
        self.update(pose)

    def predict(self) -> np.ndarray:
        """Advance one frame; returns the predicted positions (n_bodyparts, 2)."""
        self.pos = self.pos + self.vel
        f = np.array([[1.0, 1.0], [0.0, 1.0]])
        noise = self.q ** 2 * np.array([[0.25, 0.5], [0.5, 1.0]])
        self.cov = f @ self.cov @ f.T + noise
        return self.pos

    def update(self, pose: np.ndarray) -> None:
        """Correct with the located keypoints of ``pose: (n_bodyparts, 2+)``."""
        z = pose[:, :2]
        seen = np.isfinite(z).all(axis=1)
        new = seen & ~np.isfinite(self.pos).all(axis=1)
        old = seen & ~new
        if new.any():
            self.pos[new] = z[new]
            self.vel[new] = 0.0
            self.cov[new] = np.diag([self.r ** 2, self.v0 ** 2])
        if old.any():
            c = self.cov[old]
            s = c[:, 0, 0] + self.r ** 2
            gain = c[:, :, 0] / s[:, None]                            # (m, 2)
            innovation = z[old] - self.pos[old]
            self.pos[old] += gain[:, :1] * innovation
            self.vel[old] += gain[:, 1:] * innovation
            self.cov[old] = c - gain[:, :, None] * c[:, None, 0, :]


# --------------------------------------------------------------------------- linking


def _boxes(poses: np.ndarray, pad: float) -> np.ndarray:
    """(n, n_bodyparts, 2+) -> (n, 4) x0, y0, x1, y1 padded; NaN for empty poses."""
    with np.errstate(all="ignore"):
        lo = np.nanmin(np.where(np.isfinite(poses[..., :2]), poses[..., :2], np.nan), axis=1)
        hi = np.nanmax(np.where(np.isfinite(poses[..., :2]), poses[..., :2], np.nan), axis=1)
    return np.concatenate([lo - pad, hi + pad], axis=1)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (n, 4) and b (m, 4): (n, m); 0 where undefined."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return np.nan_to_num(out)


def _link_costs(predicted: np.ndarray, detections: np.ndarray, scale: float,
                options: TrackingOptions) -> np.ndarray:
    """predicted (n_t, n_bp, 2), detections (n_d, n_bp, 3) -> costs (n_t, n_d), inf if gated."""
    diff = np.linalg.norm(predicted[:, None, :, :2] - detections[None, :, :, :2], axis=-1)
    shared = np.isfinite(diff)
    n_shared = shared.sum(axis=-1)
    total = np.where(shared, diff, 0.0).sum(axis=-1)
    dist = np.divide(total, n_shared, out=np.full(total.shape, np.nan), where=n_shared > 0)
    centroid_p = np.array([_centroid(p) for p in predicted])
    centroid_d = np.array([_centroid(d) for d in detections])
    centroid = np.linalg.norm(centroid_p[:, None] - centroid_d[None], axis=-1)
    dist = np.where(np.isfinite(dist), dist, centroid) / scale
    iou = _iou(_boxes(predicted, 0.1 * scale), _boxes(detections, 0.1 * scale))
    cost = (1.0 - options.iou_weight) * dist + options.iou_weight * (1.0 - iou)
    return np.where(np.isfinite(dist) & (dist <= options.max_distance), cost, np.inf)


def _centroid(pose: np.ndarray) -> np.ndarray:
    ok = np.isfinite(pose[:, :2]).all(axis=1)
    return pose[ok, :2].mean(axis=0) if ok.any() else np.full(2, np.nan)


def _unambiguous(costs: np.ndarray, r: int, c: int, ratio: float) -> bool:
    others = np.concatenate([np.delete(costs[r], c), np.delete(costs[:, c], r)])
    others = others[np.isfinite(others)]
    return not others.size or costs[r, c] <= ratio * others.min()


@dataclass
class _Open:
    frames: list[int]
    detections: list[int]
    poses: list[np.ndarray]
    kalman: _KeypointKalman

    def close(self) -> Tracklet:
        return Tracklet(np.array(self.frames), np.array(self.detections), np.stack(self.poses))


def _frame_detections(frame: np.ndarray, keep: int, min_keypoints: int) -> list[int]:
    """Indices of the detections of one frame (n_det_max, n_bp, 3), strongest first."""
    located = np.isfinite(frame[:, :, :2]).all(axis=-1)
    valid = np.flatnonzero(located.sum(axis=1) >= min_keypoints)
    likelihood = np.where(located, np.nan_to_num(frame[:, :, 2], nan=1.0), 0.0)
    strength = likelihood.sum(axis=1)
    order = sorted(valid, key=lambda d: (-strength[d], d))
    return [int(d) for d in order[:keep]]


def link_tracklets(per_frame: np.ndarray, *, scale: float, max_detections: int,
                   options: TrackingOptions | None = None) -> list[Tracklet]:
    """Frame-to-frame linking of detections into tracklets (module docstring, steps 1-2).

    Parameters
    ----------
    per_frame : ndarray, shape (n_frames, n_detections_max, n_bodyparts, 3)
        Detections of each frame, NaN-padded (checked by :func:`track_individuals`).
    scale : float
        Animal size in pixels.
    max_detections : int
        Most detections kept per frame.
    options : TrackingOptions, optional

    Returns
    -------
    list of Tracklet
        In order of their first frame.
    """
    options = options or TrackingOptions()
    per_frame = as_array(per_frame, "per_frame",
                         "(n_frames, n_detections_max, n_bodyparts, 3)", 4, 3)
    scale = positive(scale, "scale")
    max_detections = count(max_detections, "max_detections", 1)
    q, r = options.process_noise * scale, options.measurement_noise * scale
    v0 = options.max_distance * scale
    open_: list[_Open] = []
    done: list[Tracklet] = []
    n_frames = per_frame.shape[0]
    for f in track(range(n_frames), total=n_frames, description="Linking"):
        dets = _frame_detections(per_frame[f], max_detections, options.min_keypoints)
        matched: dict[int, int] = {}
        if open_ and dets:
            predicted = np.stack([o.kalman.predict() for o in open_])
            costs = _link_costs(predicted, per_frame[f, dets], scale, options)
            rows, cols = linear_sum_assignment(np.where(np.isfinite(costs), costs, _INFEASIBLE))
            for rr, cc in zip(rows, cols, strict=True):
                if np.isfinite(costs[rr, cc]) and _unambiguous(costs, rr, cc,
                                                               options.ambiguity_ratio):
                    matched[int(rr)] = int(cc)
        still_open = []
        for n, tracklet in enumerate(open_):
            if n in matched:
                d = dets[matched[n]]
                tracklet.frames.append(f)
                tracklet.detections.append(d)
                tracklet.poses.append(per_frame[f, d])
                tracklet.kalman.update(per_frame[f, d])
                still_open.append(tracklet)
            else:
                done.append(tracklet.close())
        taken = set(matched.values())
        for c, d in enumerate(dets):
            if c not in taken:
                still_open.append(_Open([f], [d], [per_frame[f, d]],
                                        _KeypointKalman(per_frame[f, d], q, r, v0)))
        open_ = still_open
    done += [o.close() for o in open_]
    done.sort(key=lambda t: (t.start, t.end))
    return done


# --------------------------------------------------------------------------- public


def estimate_scale(per_frame: np.ndarray) -> float:
    """Median bounding-box diagonal of the detections with two or more keypoints, pixels.

    Parameters
    ----------
    per_frame : ndarray, shape (n_frames, n_detections_max, n_bodyparts, 3)
        Detections, NaN-padded.

    Raises
    ------
    MultiAnimalError
        When no detection has two located keypoints (pass ``TrackingOptions(scale=...)``).
    """
    per_frame = as_array(per_frame, "per_frame",
                         "(n_frames, n_detections_max, n_bodyparts, 3)", 4, 3)
    flat = per_frame.reshape(-1, *per_frame.shape[2:])
    located = np.isfinite(flat[:, :, :2]).all(axis=-1)
    flat = flat[located.sum(axis=1) >= 2]
    boxes = _boxes(flat, 0.0)
    diag = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    diag = diag[np.isfinite(diag) & (diag > 0)]
    if not diag.size:
        raise MultiAnimalError("cannot measure the animals' size: no detection has two "
                               "distinct located keypoints; pass TrackingOptions(scale=...) in "
                               "pixels.")
    return float(np.median(diag))


def track_individuals(per_frame: np.ndarray, *, n_tracks: int,
                      options: TrackingOptions | None = None) -> np.ndarray:
    """Track animals through a video: link detections into tracklets, stitch into tracks.

    Parameters
    ----------
    per_frame : ndarray, shape (n_frames, n_detections_max, n_bodyparts, 3)
        x, y, likelihood of the individuals found in each frame, in any order, NaN-padded
        (e.g. :func:`posekit.multi.assemble_frames`). A likelihood of NaN counts as 1.
    n_tracks : int
        Number of animals (tracks returned).
    options : TrackingOptions, optional
        Defaults if None.

    Returns
    -------
    ndarray, shape (n_frames, n_tracks, n_bodyparts, 3)
        Each track's pose in each frame, NaN where the animal was not found; tracks in order
        of first appearance.

    Raises
    ------
    MultiAnimalError
        On a wrong shape, infinite values, bad options, or (with ``scale`` unset) detections
        that never have two keypoints.
    """
    options = options or TrackingOptions()
    n_tracks = count(n_tracks, "n_tracks", 1)
    data = as_array(per_frame, "per_frame", "(n_frames, n_detections_max, n_bodyparts, 3)", 4, 3)
    out = np.full((data.shape[0], n_tracks, data.shape[2], 3), np.nan)
    if not np.isfinite(data[..., :2]).any():
        return out
    scale = options.scale or estimate_scale(data)
    keep = options.max_detections or n_tracks
    tracklets = link_tracklets(data, scale=scale, max_detections=keep, options=options)
    tracks = stitch_tracklets(tracklets, n_tracks=n_tracks, scale=scale, options=options.stitch)
    for k, chain in enumerate(tracks):
        for i in chain:
            out[tracklets[i].frames, k] = tracklets[i].poses
    logger.info("tracked %d frames: %d tracklets stitched into %d tracks", data.shape[0],
                len(tracklets), n_tracks)
    return out
