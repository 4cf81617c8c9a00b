"""Tracking: tracklet linking and stitching on synthetic scenes with known identities, one
window of the two-fly clip, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from multi.scenes import detections, flies_predictions, flies_truth, walker

from posekit.evaluate.multi_metrics import mot_metrics
from posekit.multi import (
    MultiAnimalError,
    StitchOptions,
    TrackingOptions,
    Tracklet,
    estimate_scale,
    link_tracklets,
    stitch_tracklets,
    track_individuals,
)
from posekit.multi.tracking import _KeypointKalman


def identities_kept(tracks: np.ndarray, animals: list[np.ndarray]) -> bool:
    """Whether each output track follows one animal wherever it is set, and covers it."""
    used = set()
    for animal in animals:
        present = np.isfinite(animal[:, :, 0]).any(axis=1)
        owners = set()
        for f in np.flatnonzero(present):
            same = [k for k in range(tracks.shape[1])
                    if np.allclose(np.nan_to_num(tracks[f, k, :, :2], nan=-1),
                                   np.nan_to_num(animal[f, :, :2], nan=-1))]
            if len(same) != 1:
                return False
            owners.add(same[0])
        if len(owners) != 1 or owners & used:
            return False
        used |= owners
    return True


def test_two_animals_walking_apart():
    a = walker((0, 0), (2, 0), 40)
    b = walker((0, 200), (2, -1), 40)
    out = track_individuals(detections(a, b), n_tracks=2)
    assert out.shape == (40, 2, 3, 3)
    assert identities_kept(out, [a, b])


def test_two_animals_crossing():
    # they pass through the same place at the same time (frames 23-27 overlap): motion
    # carried across the crossing keeps identities
    a = walker((0, 0), (4, 0), 50, spacing=8)
    b = walker((200, 8), (-4, 0), 50, spacing=8)
    out = track_individuals(detections(a, b, seed=3), n_tracks=2)
    assert identities_kept(out, [a, b])


def test_crossing_while_hidden():
    # both animals are missed for 7 frames while they cross: where they reappear, each is
    # nearest to where the *other* vanished; only motion across the gap tells them apart
    a = walker((0, 0), (4, 0), 50, spacing=8)
    b = walker((200, 0), (-4, 0), 50, spacing=8)
    a[21:29] = np.nan
    b[21:29] = np.nan
    per_frame = detections(a, b, seed=4)
    tracklets = link_tracklets(per_frame, scale=estimate_scale(per_frame), max_detections=2)
    assert len(tracklets) == 4
    out = track_individuals(per_frame, n_tracks=2)
    assert identities_kept(out, [a, b])
    static = TrackingOptions(stitch=StitchOptions(max_extrapolation=0, shape_weight=0.0))
    assert not identities_kept(track_individuals(per_frame, n_tracks=2, options=static), [a, b])


def test_crossing_with_different_sizes_is_told_apart_by_shape():
    # crossing at an angle, and one animal is half the size of the other
    a = walker((0, 0), (3, 3), 40, spacing=12)
    b = walker((0, 120), (3, -3), 40, spacing=6)
    out = track_individuals(detections(a, b, seed=5), n_tracks=2)
    assert identities_kept(out, [a, b])


def test_missed_detections_are_bridged():
    a = walker((0, 0), (3, 0), 60)
    b = walker((0, 60), (3, 0), 60)
    gone = a.copy()
    gone[20:24] = np.nan                              # a is missed for 4 frames
    gone[40] = np.nan
    out = track_individuals(detections(gone, b), n_tracks=2)
    assert identities_kept(out, [gone, b])
    assert np.isnan(out[20:24]).all(axis=(2, 3)).sum() == 4       # nothing invented


def test_spurious_detection_is_dropped():
    a = walker((0, 0), (3, 0), 30)
    b = walker((0, 60), (3, 0), 30)
    ghost = np.full_like(a, np.nan)
    ghost[12] = walker((400, 400), (0, 0), 1)[0]       # one frame, far away, strong
    ghost[12, :, 2] = 1.0
    per_frame = detections(a, b, ghost)
    out = track_individuals(per_frame, n_tracks=2, options=TrackingOptions(max_detections=3))
    assert identities_kept(out, [a, b])
    # with the default max_detections (= n_tracks) the stronger ghost displaces an animal
    # in that frame only: still no identity swap
    out = track_individuals(per_frame, n_tracks=2)
    assert not np.any(np.isclose(out[..., 0], 400))


def test_more_animals_than_tracks_keeps_the_strongest():
    a = walker((0, 0), (2, 0), 30, likelihood=0.9)
    b = walker((0, 80), (2, 0), 30, likelihood=0.3)
    c = walker((0, 160), (2, 0), 30, likelihood=0.8)
    out = track_individuals(detections(a, b, c), n_tracks=2)
    assert identities_kept(out, [a, c])
    assert not np.isclose(out[..., 2], 0.3).any()


def test_frames_without_animals():
    a = walker((0, 0), (2, 0), 40)
    b = walker((0, 60), (2, 0), 40)
    a[15:20] = np.nan
    b[15:20] = np.nan
    out = track_individuals(detections(a, b), n_tracks=2)
    assert identities_kept(out, [a, b])
    assert np.isnan(out[15:20]).all()
    empty = track_individuals(np.full((10, 2, 3, 3), np.nan), n_tracks=2)
    assert empty.shape == (10, 2, 3, 3) and np.isnan(empty).all()
    assert track_individuals(np.empty((0, 2, 3, 3)), n_tracks=1).shape == (0, 1, 3, 3)


def test_individual_with_only_one_keypoint():
    a = walker((0, 0), (2, 0), 30)
    b = walker((0, 60), (2, 0), 30)
    b[10:20, 1:] = np.nan                                  # only its first keypoint seen
    out = track_individuals(detections(a, b), n_tracks=2)
    assert identities_kept(out, [a, b])
    ones = walker((0, 0), (2, 0), 10, n_bodyparts=1)
    with pytest.raises(MultiAnimalError, match="scale"):
        track_individuals(detections(ones), n_tracks=1)
    out = track_individuals(detections(ones), n_tracks=1, options=TrackingOptions(scale=10.0))
    assert np.allclose(out[:, 0], ones)


def test_tracklets_overlapping_in_time_never_share_a_track():
    rng = np.random.default_rng(7)
    per_frame = rng.uniform(0, 300, (25, 4, 3, 3))
    per_frame[..., 2] = rng.uniform(0.2, 1, (25, 4, 3))
    per_frame[rng.random((25, 4)) < 0.3] = np.nan
    scale = estimate_scale(per_frame)
    tracklets = link_tracklets(per_frame, scale=scale, max_detections=4)
    tracks = stitch_tracklets(tracklets, n_tracks=3, scale=scale,
                              options=StitchOptions(max_distance=10.0, max_speed=1.0))
    assert len(tracks) == 3
    seen = [tracklet for chain in tracks for tracklet in chain]
    assert len(seen) == len(set(seen))
    for chain in tracks:
        for before, after in zip(chain[:-1], chain[1:], strict=True):
            assert tracklets[after].start > tracklets[before].end


def test_stitching_prefers_the_motion_consistent_continuation():
    # a (moving right) and b (moving left) both break at frame 10 and restart at frame 14
    # where each is closer to where the *other* stood: extrapolated motion decides
    def tracklet(start, x0, vx, n):
        frames = np.arange(start, start + n)
        poses = walker((x0, 0), (vx, 0), n)
        return Tracklet(frames, np.zeros(n, int), poses)
    before_a, before_b = tracklet(0, 0, 5, 10), tracklet(0, 80, -5, 10)
    after_a, after_b = tracklet(14, 65, 5, 10), tracklet(14, 15, -5, 10)
    tracks = stitch_tracklets([before_a, before_b, after_a, after_b], n_tracks=2, scale=30.0,
                              options=StitchOptions(max_distance=3.0))
    assert sorted(tracks) == [[0, 2], [1, 3]]


def test_kalman_follows_constant_velocity():
    poses = walker((5, 5), (3, -2), 10)
    kalman = _KeypointKalman(poses[0], q=0.1, r=0.5, v0=10.0)
    for pose in poses[1:]:
        kalman.predict()
        kalman.update(pose)
    predicted = kalman.predict()
    assert np.allclose(predicted, walker((5, 5), (3, -2), 11)[10, :, :2], atol=0.2)


def test_flies_window_without_identity_switches():
    """Frames 1100-1199 of the two-fly clip, where the reference predictions (head, thorax)
    are poor and SLEAP's tracker swapped the flies twice: stripped of identities and
    retracked, no switch, and MOTA at least the reference's."""
    truth, names, _ = flies_truth()
    tracked, untracked, pred_names = flies_predictions()
    window = slice(1100, 1200)
    truth = truth[window][:, :, [names.index(n) for n in pred_names]]
    out = track_individuals(untracked[window], n_tracks=2)
    ours = mot_metrics(out, truth, max_distance=30.0)
    reference = mot_metrics(tracked[window], truth, max_distance=30.0)
    assert reference["id_switches"] == 2
    assert ours["id_switches"] == 0
    assert ours["mota"] >= reference["mota"]


def test_flies_labels_without_identities_are_tracked_perfectly():
    truth, _, _ = flies_truth()
    window = truth[1000:1100]
    per_frame = np.concatenate([window, np.ones((*window.shape[:3], 1))], axis=-1)
    rng = np.random.default_rng(2)
    for f in range(len(per_frame)):
        per_frame[f] = per_frame[f, rng.permutation(2)]
    out = track_individuals(per_frame, n_tracks=2)
    metrics = mot_metrics(out, window, max_distance=30.0)
    assert metrics["mota"] == 1.0 and metrics["idf1"] == 1.0


@pytest.mark.parametrize("per_frame, match", [
    (np.zeros((10, 3, 3)), r"shape \(n_frames, n_detections_max, n_bodyparts, 3\)"),
    (np.zeros((10, 2, 3, 2)), r"shape \(n_frames, n_detections_max, n_bodyparts, 3\)"),
    (np.full((10, 2, 3, 3), np.inf), "infinite"),
    ([["a"]], "numeric array"),
])
def test_bad_input(per_frame, match):
    with pytest.raises(MultiAnimalError, match=match):
        track_individuals(per_frame, n_tracks=2)


def test_bad_options():
    per_frame = detections(walker((0, 0), (1, 0), 5))
    with pytest.raises(MultiAnimalError, match="n_tracks must be an integer >= 1"):
        track_individuals(per_frame, n_tracks=0)
    with pytest.raises(MultiAnimalError, match="ambiguity_ratio"):
        TrackingOptions(ambiguity_ratio=0.0)
    with pytest.raises(MultiAnimalError, match="iou_weight"):
        TrackingOptions(iou_weight=2.0)
    with pytest.raises(MultiAnimalError, match="max_gap"):
        StitchOptions(max_gap=0)
    with pytest.raises(MultiAnimalError, match="stitch must be a StitchOptions"):
        TrackingOptions(stitch={"max_gap": 3})
    with pytest.raises(MultiAnimalError, match="scale"):
        TrackingOptions(scale=-1.0)
