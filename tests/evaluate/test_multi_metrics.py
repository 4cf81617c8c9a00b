"""Multi-animal metrics on hand-made sequences whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.evaluate.multi_metrics import (
    MultiMetricsError,
    match_animals,
    mot_metrics,
    multi_animal_rmse,
    oks,
    oks_map,
)

T = 10  # frames


def two_animals(n_frames: int = T) -> np.ndarray:
    """Ground truth (n_frames, 2, 3, 2): two animals 100 px apart, moving right."""
    base = np.array([[[0, 0], [10, 0], [10, 20]], [[0, 100], [10, 100], [10, 120]]], float)
    return np.stack([base + [2 * f, 0] for f in range(n_frames)])


def as_predictions(truth: np.ndarray, likelihood: float = 0.9) -> np.ndarray:
    return np.concatenate([truth, np.full((*truth.shape[:3], 1), likelihood)], axis=-1)


# --------------------------------------------------------------------------- MOT


def test_perfect_tracker():
    gt = two_animals()
    m = mot_metrics(as_predictions(gt), gt, max_distance=5)
    assert (m["mota"], m["idf1"], m["id_switches"], m["misses"], m["false_positives"]) \
        == (1.0, 1.0, 0, 0, 0)
    assert m["motp_px"] == 0.0 and m["n_truth"] == 2 * T


def test_track_order_does_not_matter():
    gt = two_animals()
    m = mot_metrics(as_predictions(gt)[:, ::-1], gt, max_distance=5)
    assert m["mota"] == 1.0 and m["idf1"] == 1.0 and m["id_assignment"] == {0: 1, 1: 0}


def test_one_swap():
    gt = two_animals()
    pred = as_predictions(gt)
    pred[T // 2:] = pred[T // 2:, ::-1]                         # tracks swap halfway
    m = mot_metrics(pred, gt, max_distance=5)
    assert m["id_switches"] == 2                                # both animals switch
    assert m["switches"] == [(T // 2, 0, 0, 1), (T // 2, 1, 1, 0)]
    assert m["mota"] == pytest.approx(1 - 2 / (2 * T))
    assert m["idf1"] == pytest.approx(0.5)                      # each id right half the time


def test_one_missed_frame():
    gt = two_animals()
    pred = as_predictions(gt)
    pred[3, 0] = np.nan
    m = mot_metrics(pred, gt, max_distance=5)
    assert (m["misses"], m["false_positives"], m["id_switches"]) == (1, 0, 0)
    assert m["mota"] == pytest.approx(1 - 1 / (2 * T))
    assert m["idf1"] == pytest.approx(2 * (2 * T - 1) / (2 * T + 2 * T - 1))
    assert m["idr"] == pytest.approx((2 * T - 1) / (2 * T)) and m["idp"] == 1.0


def test_far_prediction_is_a_miss_and_a_false_positive():
    gt = two_animals()
    pred = as_predictions(gt)
    pred[4, 1, :, 0] += 50                                      # 50 px off in one frame
    m = mot_metrics(pred, gt, max_distance=5)
    assert (m["misses"], m["false_positives"], m["id_switches"]) == (1, 1, 0)
    assert m["mota"] == pytest.approx(1 - 2 / (2 * T))
    loose = mot_metrics(pred, gt, max_distance=100)
    assert loose["mota"] == 1.0 and loose["motp_px"] == pytest.approx(50 / (2 * T))


def test_extra_track_is_false_positives():
    gt = two_animals()
    pred = np.concatenate([as_predictions(gt), np.full((T, 1, 3, 3), np.nan)], axis=1)
    pred[2:5, 2, :, :2] = 500                                   # a third track, 3 frames
    m = mot_metrics(pred, gt, max_distance=5)
    assert m["false_positives"] == 3 and m["mota"] == pytest.approx(1 - 3 / (2 * T))
    assert m["idf1"] == pytest.approx(2 * 2 * T / (2 * T + 2 * T + 3))


def test_fragmented_track_counts_one_switch():
    # animal 0's track ends at frame 5 and a new track continues it
    gt = two_animals()
    pred = np.concatenate([as_predictions(gt), np.full((T, 1, 3, 3), np.nan)], axis=1)
    pred[5:, 2] = pred[5:, 0]
    pred[5:, 0] = np.nan
    m = mot_metrics(pred, gt, max_distance=5)
    assert m["id_switches"] == 1 and m["mota"] == pytest.approx(1 - 1 / (2 * T))
    assert m["idf1"] == pytest.approx(2 * (T + 5) / (4 * T))


def test_switch_is_remembered_across_a_gap():
    # animal 0 is missed for frames 3-5 and then comes back on the other track
    gt = two_animals()
    pred = np.concatenate([as_predictions(gt), np.full((T, 1, 3, 3), np.nan)], axis=1)
    pred[3:6, 0] = np.nan
    pred[6:, 2] = pred[6:, 0]
    pred[6:, 0] = np.nan
    m = mot_metrics(pred, gt, max_distance=5)
    assert m["id_switches"] == 1 and m["misses"] == 3


def test_frames_without_animals_are_ignored():
    gt = two_animals()
    gt[2:4] = np.nan
    pred = as_predictions(gt)
    m = mot_metrics(pred, gt, max_distance=5)
    assert m["mota"] == 1.0 and m["n_truth"] == 2 * (T - 2)


def test_mot_bad_input():
    gt = two_animals()
    with pytest.raises(MultiMetricsError, match="same number of frames"):
        mot_metrics(as_predictions(gt)[:5], gt, max_distance=5)
    with pytest.raises(MultiMetricsError, match="max_distance"):
        mot_metrics(as_predictions(gt), gt, max_distance=0)
    with pytest.raises(MultiMetricsError, match="truth must have shape"):
        mot_metrics(as_predictions(gt), gt[0], max_distance=5)
    with pytest.raises(MultiMetricsError, match="infinite"):
        mot_metrics(np.full((T, 2, 3, 3), np.inf), gt, max_distance=5)


# --------------------------------------------------------------------------- RMSE


def test_rmse_after_matching_animals():
    gt = two_animals()
    pred = as_predictions(gt)[:, ::-1].copy()                   # order does not matter
    pred[..., 0] += 3
    pred[..., 1] += 4                                           # every keypoint 5 px off
    m = multi_animal_rmse(pred, gt, bodyparts=["a", "b", "c"])
    assert m["rmse_px"] == pytest.approx(5.0) and m["mean_error_px"] == pytest.approx(5.0)
    assert m["per_bodypart_rmse_px"] == pytest.approx({"a": 5.0, "b": 5.0, "c": 5.0})
    assert m["n_keypoints"] == 2 * T * 3 and m["n_missed_animals"] == 0


def test_rmse_counts_missed_animals_and_keypoints():
    gt = two_animals()
    pred = as_predictions(gt)
    pred[0, 1] = np.nan                                         # one animal not predicted
    pred[1, 0, 2] = np.nan                                      # one keypoint not predicted
    pred[2, :, 0, :2] += [6, 8]                                 # 10 px off on two keypoints
    m = multi_animal_rmse(pred, gt)
    n = 2 * T * 3 - 3 - 1
    assert m["n_missed_animals"] == 1 and m["n_keypoints_missed"] == 1
    assert m["n_keypoints"] == n
    assert m["rmse_px"] == pytest.approx(np.sqrt(2 * 100 / n))


def test_match_animals_uses_shared_keypoints():
    truth = two_animals()[0]
    pred = truth[::-1].copy()
    pred[0, :2] = np.nan                                        # only keypoint 2 left
    assert sorted(match_animals(pred, truth)) == [(0, 1), (1, 0)]
    assert match_animals(pred + 50, truth, max_distance=10) == []


# --------------------------------------------------------------------------- OKS, mAP


def test_oks_known_value():
    truth = np.array([[[0.0, 0.0], [10.0, 0.0], [10.0, 20.0]]])           # area 10 x 20
    pred = truth.copy()
    assert oks(pred, truth)[0, 0] == pytest.approx(1.0)
    pred[0, 0] = [3.0, 4.0]                                     # d = 5 px on one keypoint
    expected = (np.exp(-25 / (2 * 200 * (2 * 0.1) ** 2)) + 2) / 3
    assert oks(pred, truth)[0, 0] == pytest.approx(expected)
    pred[0, 1] = np.nan                                         # missing keypoint scores 0
    assert oks(pred, truth)[0, 0] == pytest.approx((expected * 3 - 1) / 3)
    unlabeled = truth.copy()
    unlabeled[0, 2] = np.nan                                    # area from 2 keypoints: 10 x 0
    assert oks(truth, unlabeled)[0, 0] == pytest.approx(1.0)
    assert oks(truth, truth, sigmas=[0.1, 0.2, 0.3]).shape == (1, 1)
    with pytest.raises(MultiMetricsError, match="sigmas"):
        oks(truth, truth, sigmas=[0.1, 0.2])


def test_map_perfect_none_and_half():
    gt = two_animals()
    assert oks_map(as_predictions(gt), gt)["mAP"] == pytest.approx(1.0)
    far = as_predictions(gt)
    far[..., :2] += 200
    assert oks_map(far, gt)["mAP"] == 0.0
    half = as_predictions(gt)
    half[:, 1] = np.nan                                         # only one animal predicted
    result = oks_map(half, gt)
    assert result["AP50"] == pytest.approx(51 / 101)           # recall 0..0.5 at precision 1
    assert result["n_predicted_animals"] == T and result["n_truth_animals"] == 2 * T


def test_map_ranks_by_score():
    # a confident wrong prediction ranks above the right ones and costs precision
    gt = two_animals(2)
    pred = np.concatenate([as_predictions(gt, 0.5), np.full((2, 1, 3, 3), np.nan)], axis=1)
    pred[0, 2, :, :2] = 500
    pred[0, 2, :, 2] = 0.99
    ap = oks_map(pred, gt, thresholds=[0.5])["AP"]["0.50"]
    assert 0.5 < ap < 1.0
    low = pred.copy()
    low[0, 2, :, 2] = 0.01                                      # ranked last: no harm
    assert oks_map(low, gt, thresholds=[0.5])["AP"]["0.50"] == pytest.approx(1.0)


def test_map_areas_override():
    gt = two_animals(1)
    pred = as_predictions(gt)
    pred[..., :2] += 3.0
    small = oks_map(pred, gt, thresholds=[0.5])["mean_oks"]
    large = oks_map(pred, gt, thresholds=[0.5], areas=np.full((1, 2), 1e4))["mean_oks"]
    assert large > small
    with pytest.raises(MultiMetricsError, match="areas must have shape"):
        oks_map(pred, gt, areas=np.ones(3))
    with pytest.raises(MultiMetricsError, match="thresholds"):
        oks_map(pred, gt, thresholds=[1.5])
