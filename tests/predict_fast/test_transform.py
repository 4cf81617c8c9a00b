"""Crop windows and downscaling: exact geometry both ways, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.errors import ProjectError, VideoError
from posekit.predict.dynamic import DynamicCrop, Follower
from posekit.predict.transform import (
    apply_window,
    crop_from_config,
    full_window,
    make_window,
    parse_crop,
    points_to_full,
)


def test_downscaled_pixel_centers_map_back_with_the_half_pixel_convention() -> None:
    window = full_window((640, 480), downscale=0.5)
    assert (window.out_width, window.out_height) == (320, 240)
    points = np.array([[[0.0, 0.0, 0.9], [10.0, 20.0, 0.5]]])
    back = points_to_full(points, window)
    # x' = (x + 0.5) / s - 0.5
    np.testing.assert_array_equal(back[0, :, :2], [[0.5, 0.5], [20.5, 40.5]])
    np.testing.assert_array_equal(back[..., 2], points[..., 2])


def test_crop_offset_and_scale_compose() -> None:
    window = make_window((100, 300, 50, 250), (640, 480), downscale=0.25)
    assert (window.width, window.height, window.out_width, window.out_height) == (200, 200, 50, 50)
    back = points_to_full(np.array([[[1.0, 2.0, 1.0]]]), window)
    np.testing.assert_allclose(back[0, 0, :2], [100 + 1.5 / 0.25 - 0.5, 50 + 2.5 / 0.25 - 0.5])


def test_realized_ratio_is_used_when_the_size_does_not_divide() -> None:
    window = make_window((0, 101, 0, 10), (101, 10), downscale=0.5)
    assert window.out_width == 50  # round(50.5) -> 50 (banker's rounding)
    sx, _ = window.scale
    assert sx == 50 / 101
    back = points_to_full(np.array([[[49.5, 0.0, 1.0]]]), window)  # right edge of the output
    assert back[0, 0, 0] == pytest.approx(100.5)  # right edge of the input


def test_apply_window_crops_exactly_and_area_averages() -> None:
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    frames[:, 2:4, 4:6] = 200
    cropped = apply_window(frames, make_window((4, 8, 2, 6), (8, 8)))
    assert cropped.shape == (2, 4, 4, 3) and cropped.flags["C_CONTIGUOUS"]
    assert (cropped[:, 0:2, 0:2] == 200).all() and cropped[:, 2:].max() == 0
    small = apply_window(frames, full_window((8, 8), downscale=0.5))
    assert small.shape == (2, 4, 4, 3)
    assert small[0, 1, 2, 0] == 200 and small[0, 0, 0, 0] == 0


def test_one_window_per_frame() -> None:
    windows = [make_window((0, 10, 0, 10), (40, 40)), make_window((20, 30, 5, 15), (40, 40))]
    back = points_to_full(np.zeros((2, 1, 3)), windows)
    np.testing.assert_array_equal(back[:, 0, :2], [[0, 0], [20, 5]])
    with pytest.raises(ValueError, match="windows"):
        points_to_full(np.zeros((3, 1, 3)), windows)


@pytest.mark.parametrize("box", [(0, 641, 0, 10), (10, 10, 0, 5), (-1, 5, 0, 5), (0, 5, 7, 3)])
def test_windows_outside_the_frame_are_refused(box) -> None:
    with pytest.raises(VideoError, match="inside the frame"):
        make_window(box, (640, 480))


@pytest.mark.parametrize("factor", [0, -0.5, 1.5, float("nan"), True, "0.5"])
def test_bad_downscale_is_refused(factor) -> None:
    with pytest.raises(VideoError, match="downscale"):
        full_window((64, 64), downscale=factor)


@pytest.mark.parametrize("crop", [(1, 2, 3), (0, 10, 0, 2.5), (5, 2, 0, 4), (0, 4, -1, 3),
                                  ("0", 4, 0, 4)])
def test_bad_crop_is_refused(crop) -> None:
    with pytest.raises(VideoError, match="crop"):
        parse_crop(crop)


def test_deeplabcut_config_crop() -> None:
    assert crop_from_config({"cropping": False, "x1": 0}) is None
    assert crop_from_config({"cropping": True, "x1": 1, "x2": 9, "y1": 2, "y2": 8}) == (1, 9, 2, 8)
    with pytest.raises(ProjectError, match=r"lacks \['y2'\]"):
        crop_from_config({"cropping": True, "x1": 1, "x2": 9, "y1": 2})
    with pytest.raises(ProjectError, match="integers"):
        crop_from_config({"cropping": True, "x1": "a", "x2": 9, "y1": 2, "y2": 3})
    with pytest.raises(ProjectError, match="cropping region"):
        crop_from_config({"cropping": True, "x1": 9, "x2": 1, "y1": 2, "y2": 3})


def test_follower_window_surrounds_confident_points_inside_the_frame() -> None:
    follower = Follower(DynamicCrop(pcutoff=0.5, margin=10, min_size=32, multiple=16), (200, 100))
    points = np.array([[[50.0, 40.0, 0.9], [60.0, 45.0, 0.8], [190.0, 5.0, 0.1]]])
    follower.update(points)
    window = follower.window
    assert window is not None
    assert (window.width, window.height) == (32, 32)  # max(min_size, 11 + 20) -> multiple of 16
    assert window.x1 <= 50 and window.x2 > 60 and window.y1 <= 40 and window.y2 > 45
    follower.update(np.array([[[195.0, 95.0, 0.9]]]))  # at the corner: shifted inside
    assert (follower.window.x2, follower.window.y2) == (200, 100)
    follower.update(np.array([[[10.0, 10.0, 0.2]]]))  # nothing confident: full frame
    assert follower.window is None
    assert follower.lost(np.array([[[0, 0, 0.9], [0, 0, 0.4]], [[0, 0, 0.9], [0, 0, 0.9]]])
                         ).tolist() == [True, False]


def test_follower_window_as_large_as_the_frame_is_none() -> None:
    follower = Follower(DynamicCrop(margin=200), (100, 100))
    follower.update(np.array([[[50.0, 50.0, 1.0]]]))
    assert follower.window is None


@pytest.mark.parametrize("kwargs", [{"pcutoff": 1.5}, {"margin": -1}, {"min_size": 0},
                                    {"multiple": 2.5}])
def test_bad_dynamic_crop_options_are_refused(kwargs) -> None:
    with pytest.raises(VideoError, match="dynamic crop"):
        DynamicCrop(**kwargs)


def test_windowed_predictor_answers_in_full_frame_pixels(square_finder) -> None:
    from posekit.predict.transform import WindowedPredictor

    frames = np.zeros((1, 96, 128, 3), np.uint8)
    frames[0, 40:44, 60:64] = 255
    inner = square_finder()
    wrapped = WindowedPredictor(inner, crop=(32, 128, 16, 96), downscale=0.5)
    assert wrapped.bodyparts == inner.bodyparts and wrapped.scorer == inner.scorer
    points = wrapped.predict(frames)
    np.testing.assert_allclose(points[0, 0, :2], [61.5, 41.5], atol=1e-9)
    assert inner.shapes == [(1, 40, 48, 3)]
    with pytest.raises(VideoError, match="inside the frame"):
        WindowedPredictor(inner, crop=(0, 500, 0, 10)).predict(frames)
