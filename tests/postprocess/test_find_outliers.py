"""find_outlier_frames: jump, uncertain, fitting (Kalman and ARIMA) and list."""

from __future__ import annotations

import numpy as np
import pytest
from postprocess.synthetic import smooth_truth

from posekit.errors import LabelFileError
from posekit.io.predictions import Predictions
from posekit.postprocess import (
    FilterOptions,
    OutlierOptions,
    PostprocessError,
    find_outlier_frames,
)


def trajectory(n: int = 300, noise: float = 1.0, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    truth = smooth_truth(n)
    data = np.empty((n, 1, 2, 3))
    data[:, 0, :, :2] = truth + rng.normal(0, noise, truth.shape)
    data[:, 0, :, 2] = 0.95
    return Predictions(data=data, bodyparts=["snout", "tail"])


def test_clean_trajectory_has_no_outliers() -> None:
    pred = trajectory()
    for method in ("jump", "uncertain", "fitting"):
        assert find_outlier_frames(pred, method=method).size == 0, method
    assert find_outlier_frames(pred, method="fitting",
                               options=OutlierOptions(fit="arima")).size == 0


def test_jump_flags_the_frames_a_point_jumps_into_and_out_of() -> None:
    pred = trajectory()
    pred.data[100:103, 0, 1, 0] += 40  # the tail is misplaced in frames 100-102
    frames = find_outlier_frames(pred, method="jump", options=OutlierOptions(epsilon=20))
    np.testing.assert_array_equal(frames, [100, 103])
    assert find_outlier_frames(pred, method="jump",
                               options=OutlierOptions(epsilon=50)).size == 0


def test_jump_ignores_points_below_p_bound_and_other_bodyparts() -> None:
    pred = trajectory()
    pred.data[100, 0, 1, :2] += 40
    pred.data[100, 0, 1, 2] = 0.005  # below p_bound 0.01: not a position
    assert find_outlier_frames(pred, method="jump").size == 0
    pred.data[100, 0, 1, 2] = 0.9
    assert find_outlier_frames(pred, method="jump",
                               options=OutlierOptions(bodyparts=("snout",))).size == 0
    np.testing.assert_array_equal(
        find_outlier_frames(pred, method="jump", options=OutlierOptions(bodyparts=["tail"])),
        [100, 101])


def test_uncertain_flags_low_likelihood_but_not_missing() -> None:
    pred = trajectory()
    pred.data[[5, 17], 0, 0, 2] = 0.3
    pred.data[40, 0, 1] = np.nan  # missing: not counted
    frames = find_outlier_frames(pred, method="uncertain", options=OutlierOptions(p_bound=0.5))
    np.testing.assert_array_equal(frames, [5, 17])
    assert frames.dtype == np.int64


@pytest.mark.parametrize("fit", ["kalman", "arima"])
def test_fitting_finds_a_confident_error(fit: str) -> None:
    pred = trajectory(noise=1.5)
    pred.data[150, 0, 0, :2] += [25.0, -20.0]  # confidently wrong (likelihood 0.95)
    pred.data[60:63, 0, 1] = np.nan  # a gap is not an outlier
    options = OutlierOptions(epsilon=15, fit=fit)
    frames = find_outlier_frames(pred, method="fitting", options=options)
    assert 150 in frames
    assert len(frames) <= 3 and np.all(np.abs(frames - 150) <= 1), frames


def test_fitting_ignores_points_below_p_bound() -> None:
    pred = trajectory()
    pred.data[150, 0, 0, :2] += 40.0
    pred.data[150, 0, 0, 2] = 0.05
    options = OutlierOptions(epsilon=15, p_bound=0.1,
                             filter_options=FilterOptions(process_noise=2.0))
    assert find_outlier_frames(pred, method="fitting", options=options).size == 0


def test_list_returns_the_given_frames_sorted() -> None:
    pred = trajectory(n=50)
    frames = find_outlier_frames(pred, method="list", options=OutlierOptions(frames=(9, 3, 9)))
    np.testing.assert_array_equal(frames, [3, 9])
    for bad in [(50,), (-1,), (2.5,), (True,)]:
        with pytest.raises(PostprocessError, match="0 to 49"):
            find_outlier_frames(pred, method="list", options=OutlierOptions(frames=bad))


def test_unknown_method_and_bodypart_are_refused() -> None:
    pred = trajectory(n=20)
    with pytest.raises(PostprocessError, match="jump, uncertain, fitting, list"):
        find_outlier_frames(pred, method="random")  # type: ignore[arg-type]
    with pytest.raises(LabelFileError, match=r"\['ear'\].*\['snout', 'tail'\]"):
        find_outlier_frames(pred, options=OutlierOptions(bodyparts=("ear",)))


@pytest.mark.parametrize("kwargs, match", [
    ({"epsilon": 0}, "epsilon"), ({"p_bound": 2.0}, "p_bound"), ({"fit": "lstm"}, "fit"),
    ({"max_candidates": 0}, "max_candidates"),
])
def test_bad_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(PostprocessError, match=match):
        OutlierOptions(**kwargs)
