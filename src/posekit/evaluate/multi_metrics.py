"""Multi-animal metrics: keypoint error after matching animals, OKS mAP, and tracking metrics.

All functions take predictions ``(n_frames, n_predicted, n_bodyparts, 3)`` (x, y,
likelihood; NaN where missing) and ground truth ``(n_frames, n_truth, n_bodyparts, 2)``
(NaN where not labeled; an animal with no labeled keypoint in a frame is absent there).
Coordinates are pixels.

Keypoint error (:func:`multi_animal_rmse`)
    In each frame, predicted animals are matched one-to-one to labeled animals by the
    Hungarian algorithm on the mean distance over the keypoints both have (pairs sharing no
    keypoint cannot match). Errors are measured on matched pairs only; labeled animals left
    without a prediction are counted as missed.

OKS mAP (:func:`oks_map`)
    COCO's object keypoint similarity ``OKS = mean_k exp(-d_k^2 / (2 * area * (2 sigma_k)^2))``
    over the keypoints the truth labels, where ``area`` is the area of the bounding box of
    the labeled keypoints (floored at 1 px^2) and ``sigma_k`` a per-keypoint constant:
    0.1 for every keypoint by default (COCO's sigmas for human keypoints, estimated from
    repeated annotations, run from 0.025 for eyes to 0.107 for hips; nothing comparable
    exists for an arbitrary animal's bodyparts), or your own. A missing
    prediction of a labeled keypoint contributes 0. Average precision follows COCO: each
    frame's predictions in descending score (mean keypoint likelihood) are matched greedily
    to the unmatched truth with the highest OKS at or above the threshold; precision is
    made monotone and averaged at 101 recall points; mAP averages thresholds
    0.50, 0.55, ..., 0.95.

Tracking (:func:`mot_metrics`)
    A predicted track and a labeled animal *can match* in a frame when the mean distance
    over their shared keypoints is at most ``max_distance`` pixels. CLEAR-MOT (Bernardin &
    Stiefelhagen 2008, as py-motmetrics computes it): in each frame, correspondences of the
    previous match of each labeled animal are kept when they can still match; the others are
    matched by the Hungarian algorithm on distance; a labeled animal matched to a different
    track than at its previous match is an identity switch. ``MOTA = 1 - (misses + false
    positives + switches) / labeled``. IDF1 (Ristani et al. 2016): labeled animals and
    predicted tracks are matched once for the whole video, maximizing the frames in which
    they can match (Hungarian); ``IDF1 = 2 IDTP / (labeled + predicted)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.errors import PosekitError

DEFAULT_OKS_SIGMA = 0.1
OKS_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))
_BIG = 1e12


class MultiMetricsError(PosekitError, ValueError):
    """Predictions and ground truth that cannot be compared (shapes, values)."""


def _check(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(predicted, dtype=np.float64)
    gt = np.asarray(truth, dtype=np.float64)
    if pred.ndim != 4 or pred.shape[-1] not in (2, 3):
        raise MultiMetricsError(f"predicted must have shape (n_frames, n_predicted, "
                                f"n_bodyparts, 3) (x, y, likelihood), found {pred.shape}.")
    if gt.ndim != 4 or gt.shape[-1] not in (2, 3):
        raise MultiMetricsError(f"truth must have shape (n_frames, n_truth, n_bodyparts, 2), "
                                f"found {gt.shape}.")
    if pred.shape[0] != gt.shape[0] or pred.shape[2] != gt.shape[2]:
        raise MultiMetricsError(
            f"predicted {pred.shape} and truth {gt.shape} must have the same number of frames "
            "(axis 0) and bodyparts (axis 2); select the same frames and bodyparts in both.")
    for name, arr in (("predicted", pred), ("truth", gt)):
        if np.isinf(arr).any():
            raise MultiMetricsError(f"{name} holds infinite values; use NaN for missing ones.")
    if pred.shape[-1] == 2:
        pred = np.concatenate([pred, np.where(np.isfinite(pred[..., :1]), 1.0, np.nan)], -1)
    return pred, gt[..., :2]


def pose_distances(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean keypoint distance between every predicted and labeled animal of one frame.

    Parameters
    ----------
    predicted : ndarray, shape (n_predicted, n_bodyparts, 2+)
    truth : ndarray, shape (n_truth, n_bodyparts, 2+)

    Returns
    -------
    ndarray, shape (n_predicted, n_truth)
        Mean distance over the keypoints both have; NaN where they share none.
    """
    d = np.linalg.norm(predicted[:, None, :, :2] - truth[None, :, :, :2], axis=-1)
    shared = np.isfinite(d)
    total = np.where(shared, d, 0.0).sum(axis=-1)
    n = shared.sum(axis=-1)
    return np.divide(total, n, out=np.full(total.shape, np.nan), where=n > 0)


def match_animals(predicted: np.ndarray, truth: np.ndarray, max_distance: float = np.inf
                  ) -> list[tuple[int, int]]:
    """One-to-one matching of one frame's predicted and labeled animals.

    Parameters
    ----------
    predicted : ndarray, shape (n_predicted, n_bodyparts, 2+)
    truth : ndarray, shape (n_truth, n_bodyparts, 2+)
    max_distance : float
        Pairs farther apart (mean keypoint distance, pixels) are not matched.

    Returns
    -------
    list of (int, int)
        (predicted index, truth index) pairs minimizing the total mean keypoint distance.
    """
    d = pose_distances(predicted, truth)
    ok = np.isfinite(d) & (d <= max_distance)
    if not ok.any():
        return []
    rows, cols = linear_sum_assignment(np.where(ok, d, _BIG))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]


def multi_animal_rmse(predicted: np.ndarray, truth: np.ndarray, *,
                      bodyparts: Sequence[str] | None = None) -> dict:
    """Keypoint error after matching predicted to labeled animals in each frame.

    Parameters
    ----------
    predicted : ndarray, shape (n_frames, n_predicted, n_bodyparts, 3)
    truth : ndarray, shape (n_frames, n_truth, n_bodyparts, 2)
    bodyparts : sequence of str, optional
        Names for the per-bodypart results (default: "0", "1", ...).

    Returns
    -------
    dict
        ``rmse_px``, ``mean_error_px``, ``median_error_px`` over matched labeled keypoints
        that were predicted; ``per_bodypart_rmse_px`` {name: value}; ``n_keypoints`` (errors
        measured), ``n_keypoints_missed`` (labeled keypoints of matched animals not
        predicted), ``n_truth_animals``, ``n_matched_animals``, ``n_missed_animals``,
        ``n_extra_animals`` (predicted animals left unmatched).
    """
    pred, gt = _check(predicted, truth)
    names = [str(b) for b in bodyparts] if bodyparts is not None else \
        [str(k) for k in range(gt.shape[2])]
    if len(names) != gt.shape[2]:
        raise MultiMetricsError(f"bodyparts names {len(names)} bodyparts, the arrays have "
                                f"{gt.shape[2]}.")
    errors = np.full(gt.shape[:3], np.nan)
    n_truth = n_matched = n_extra = 0
    for f in range(gt.shape[0]):
        present_t = np.flatnonzero(np.isfinite(gt[f, :, :, 0]).any(axis=1))
        present_p = np.flatnonzero(np.isfinite(pred[f, :, :, 0]).any(axis=1))
        n_truth += len(present_t)
        pairs = match_animals(pred[f, present_p], gt[f, present_t])
        n_matched += len(pairs)
        n_extra += len(present_p) - len(pairs)
        for p, t in pairs:
            errors[f, present_t[t]] = np.linalg.norm(
                pred[f, present_p[p], :, :2] - gt[f, present_t[t]], axis=-1)
    matched = np.isfinite(errors).any(axis=2)
    labeled = np.isfinite(gt[..., 0]) & matched[..., None]
    e = errors[np.isfinite(errors)]
    per_bp = {name: _rmse(errors[:, :, k][np.isfinite(errors[:, :, k])])
              for k, name in enumerate(names)}
    return {"rmse_px": _rmse(e), "mean_error_px": float(e.mean()) if e.size else float("nan"),
            "median_error_px": float(np.median(e)) if e.size else float("nan"),
            "per_bodypart_rmse_px": per_bp, "n_keypoints": int(e.size),
            "n_keypoints_missed": int(labeled.sum() - e.size), "n_truth_animals": n_truth,
            "n_matched_animals": n_matched, "n_missed_animals": n_truth - n_matched,
            "n_extra_animals": n_extra}


def _rmse(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(e ** 2))) if e.size else float("nan")


# --------------------------------------------------------------------------- OKS, mAP


def _sigmas(sigmas: float | Sequence[float], n_bodyparts: int) -> np.ndarray:
    s = np.broadcast_to(np.asarray(sigmas, dtype=np.float64), (n_bodyparts,)) \
        if np.ndim(sigmas) == 0 else np.asarray(sigmas, dtype=np.float64)
    if s.shape != (n_bodyparts,) or not np.all(np.isfinite(s) & (s > 0)):
        raise MultiMetricsError(f"sigmas must be one positive number or {n_bodyparts} (one per "
                                f"bodypart), found {sigmas!r}.")
    return s


def oks(predicted: np.ndarray, truth: np.ndarray, *,
        sigmas: float | Sequence[float] = DEFAULT_OKS_SIGMA,
        area: np.ndarray | None = None) -> np.ndarray:
    """Object keypoint similarity between every predicted and labeled animal of one frame.

    Parameters
    ----------
    predicted : ndarray, shape (n_predicted, n_bodyparts, 2+)
    truth : ndarray, shape (n_truth, n_bodyparts, 2+)
    sigmas : float or sequence of float
        Per-keypoint sigma (module docstring).
    area : ndarray, shape (n_truth,), optional
        Each labeled animal's area, px^2; default: its labeled keypoints' bounding box.

    Returns
    -------
    ndarray, shape (n_predicted, n_truth)
        OKS in [0, 1]; NaN for labeled animals without labeled keypoints.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    s = _sigmas(sigmas, truth.shape[1])
    labeled = np.isfinite(truth[:, :, :2]).all(axis=-1)                 # (n_t, n_bp)
    with np.errstate(all="ignore"):
        lo = np.nanmin(truth[:, :, :2], axis=1)
        hi = np.nanmax(truth[:, :, :2], axis=1)
    if area is None:
        area = np.prod(hi - lo, axis=1)
    area = np.maximum(np.nan_to_num(np.asarray(area, dtype=np.float64)), 1.0)   # (n_t,)
    d2 = np.sum((predicted[:, None, :, :2] - truth[None, :, :, :2]) ** 2, axis=-1)
    e = d2 / (2.0 * area[None, :, None] * (2.0 * s) ** 2)
    sim = np.where(np.isfinite(e), np.exp(-np.where(np.isfinite(e), e, 0.0)), 0.0)
    n = labeled.sum(axis=1)
    total = np.where(labeled[None], sim, 0.0).sum(axis=-1)
    return np.divide(total, n[None, :], out=np.full(total.shape, np.nan), where=n[None, :] > 0)


def oks_map(predicted: np.ndarray, truth: np.ndarray, *,
            sigmas: float | Sequence[float] = DEFAULT_OKS_SIGMA,
            thresholds: Sequence[float] = OKS_THRESHOLDS,
            areas: np.ndarray | None = None) -> dict:
    """COCO-style average precision of pose predictions under OKS.

    Parameters
    ----------
    predicted : ndarray, shape (n_frames, n_predicted, n_bodyparts, 3)
        The score of a predicted animal is the mean likelihood of its keypoints (1 if NaN).
    truth : ndarray, shape (n_frames, n_truth, n_bodyparts, 2)
    sigmas : float or sequence of float
        Per-keypoint OKS sigma (module docstring).
    thresholds : sequence of float
        OKS thresholds; mAP is the mean AP over them.
    areas : ndarray, shape (n_frames, n_truth), optional
        Area of each labeled animal, px^2 (e.g. from all its labeled keypoints when only some
        bodyparts are evaluated); default: the bounding box of the keypoints in ``truth``.

    Returns
    -------
    dict
        ``mAP``, ``AP50`` and ``AP75`` (when those thresholds are used), ``AP`` {threshold:
        AP}, ``mean_oks`` (mean OKS of each labeled animal with its best prediction),
        ``n_truth_animals``, ``n_predicted_animals``.
    """
    pred, gt = _check(predicted, truth)
    s = _sigmas(sigmas, gt.shape[2])
    thresholds = [float(t) for t in thresholds]
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise MultiMetricsError(f"thresholds must be numbers in (0, 1], found {thresholds}.")
    if areas is not None:
        area_table = np.asarray(areas, dtype=np.float64)
        if area_table.shape != gt.shape[:2]:
            raise MultiMetricsError(f"areas must have shape (n_frames, n_truth) = "
                                    f"{gt.shape[:2]}, found {area_table.shape}.")
    scores, hits = [], {t: [] for t in thresholds}
    best_oks, n_truth = [], 0
    for f in range(gt.shape[0]):
        t_idx = np.flatnonzero(np.isfinite(gt[f, :, :, 0]).any(axis=1))
        p_idx = np.flatnonzero(np.isfinite(pred[f, :, :, 0]).any(axis=1))
        n_truth += len(t_idx)
        if not len(p_idx):
            best_oks += [0.0] * len(t_idx)
            continue
        lik = np.where(np.isfinite(pred[f, p_idx, :, 0]), np.nan_to_num(pred[f, p_idx, :, 2],
                                                                          nan=1.0), np.nan)
        score = np.nanmean(lik, axis=1)
        order = np.argsort(-score, kind="stable")
        area = None if areas is None else area_table[f, t_idx]
        sim = oks(pred[f, p_idx[order]], gt[f, t_idx], sigmas=s, area=area) if len(t_idx) \
            else np.zeros((len(p_idx), 0))
        best_oks += list(sim.max(axis=0)) if len(t_idx) else []
        scores += list(score[order])
        for t in thresholds:
            hits[t] += _greedy_hits(sim, t)
    ap = {t: _average_precision(np.array(scores), np.array(hits[t], dtype=bool), n_truth)
          for t in thresholds}
    out = {"mAP": float(np.mean(list(ap.values()))), "AP": {f"{t:.2f}": v for t, v in ap.items()},
           "mean_oks": float(np.mean(best_oks)) if best_oks else float("nan"),
           "n_truth_animals": n_truth, "n_predicted_animals": len(scores)}
    for key, t in (("AP50", 0.5), ("AP75", 0.75)):
        if t in ap:
            out[key] = ap[t]
    return out


def _greedy_hits(sim: np.ndarray, threshold: float) -> list[bool]:
    """COCO matching: predictions (rows, best score first) take the best free truth."""
    free = np.ones(sim.shape[1], dtype=bool)
    hits = []
    for row in sim:
        candidates = np.where(free & (row >= threshold), row, -1.0)
        if candidates.size and candidates.max() >= threshold:
            free[int(np.argmax(candidates))] = False
            hits.append(True)
        else:
            hits.append(False)
    return hits


def _average_precision(scores: np.ndarray, hits: np.ndarray, n_truth: int) -> float:
    if n_truth == 0:
        return float("nan")
    if not scores.size:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / n_truth
    precision = tp / np.maximum(tp + fp, 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0.0, 1.0, 101)
    idx = np.searchsorted(recall, points, side="left")
    return float(np.mean(np.where(idx < len(precision), precision[np.minimum(idx, len(
        precision) - 1)], 0.0)))


# --------------------------------------------------------------------------- tracking


def mot_metrics(predicted: np.ndarray, truth: np.ndarray, *, max_distance: float) -> dict:
    """CLEAR-MOT (MOTA, identity switches) and IDF1 of predicted tracks.

    Parameters
    ----------
    predicted : ndarray, shape (n_frames, n_tracks, n_bodyparts, 3)
        Tracks: axis 1 is the identity.
    truth : ndarray, shape (n_frames, n_truth, n_bodyparts, 2)
        Labeled animals: axis 1 is the identity.
    max_distance : float
        Largest mean keypoint distance, pixels, at which a track can match an animal.

    Returns
    -------
    dict
        ``mota``, ``motp_px`` (mean distance of matches), ``id_switches``, ``switches``
        (frame, truth index, previous track, new track) of each switch, ``misses``,
        ``false_positives``, ``matches``, ``n_truth`` (labeled animal-frames),
        ``n_predicted``, ``idf1``, ``idp``, ``idr``, ``idtp``, ``id_assignment``
        {truth index: track index}.
    """
    pred, gt = _check(predicted, truth)
    if isinstance(max_distance, bool) or not isinstance(max_distance, numbers.Real) \
            or not np.isfinite(max_distance) or max_distance <= 0:
        raise MultiMetricsError(f"max_distance must be a positive number of pixels, found "
                                f"{max_distance!r}.")
    present_p = np.isfinite(pred[..., 0]).any(axis=2)                  # (n_frames, n_tracks)
    present_t = np.isfinite(gt[..., 0]).any(axis=2)
    last: dict[int, int] = {}
    switches: list[tuple[int, int, int, int]] = []
    matches = 0
    distances = []
    overlap = np.zeros((gt.shape[1], pred.shape[1]))
    for f in range(gt.shape[0]):
        d = pose_distances(pred[f], gt[f]).T                            # (n_truth, n_tracks)
        ok = np.isfinite(d) & (d <= max_distance) & present_t[f][:, None] & present_p[f][None]
        overlap += ok
        pairs = _clear_mot_frame(d, ok, last)
        for t, p in pairs:
            if t in last and last[t] != p:
                switches.append((f, t, last[t], p))
            last[t] = p
            distances.append(d[t, p])
        matches += len(pairs)
    n_truth, n_pred = int(present_t.sum()), int(present_p.sum())
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    idtp = float(overlap[rows, cols].sum())
    return {"mota": 1.0 - ((n_truth - matches) + (n_pred - matches) + len(switches)) / n_truth
            if n_truth else float("nan"),
            "motp_px": float(np.mean(distances)) if distances else float("nan"),
            "id_switches": len(switches), "switches": switches, "misses": n_truth - matches,
            "false_positives": n_pred - matches, "matches": matches, "n_truth": n_truth,
            "n_predicted": n_pred,
            "idf1": 2 * idtp / (n_truth + n_pred) if n_truth + n_pred else float("nan"),
            "idp": idtp / n_pred if n_pred else float("nan"),
            "idr": idtp / n_truth if n_truth else float("nan"), "idtp": int(idtp),
            "id_assignment": {int(r): int(c) for r, c in zip(rows, cols, strict=True)
                              if overlap[r, c] > 0}}


def _clear_mot_frame(d: np.ndarray, ok: np.ndarray, last: dict[int, int]
                     ) -> list[tuple[int, int]]:
    """One frame of CLEAR-MOT matching: keep still-valid correspondences, then Hungarian."""
    pairs = []
    used_t = np.zeros(d.shape[0], dtype=bool)
    used_p = np.zeros(d.shape[1], dtype=bool)
    for t in range(d.shape[0]):
        p = last.get(t)
        if p is not None and ok[t, p] and not used_p[p]:
            pairs.append((t, p))
            used_t[t] = used_p[p] = True
    free = ok & ~used_t[:, None] & ~used_p[None, :]
    if free.any():
        rows, cols = linear_sum_assignment(np.where(free, d, _BIG))
        pairs += [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if free[r, c]]
    return pairs
