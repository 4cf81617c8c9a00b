"""Augmentation: keypoints stay on the image content they mark, through every transform.

Synthetic images: a dark noise background with one colored disk per bodypart centered on its
keypoint. After augmentation, the centroid of each disk's pixels must coincide with the
transformed keypoint (within a pixel), flips must swap left/right names, keypoints leaving
the crop must become NaN, and a seed must give the same sample.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from posekit.data.augment import (
    AugmentationConfig,
    build_augmentation,
    build_eval_transform,
    check_symmetric_pairs,
    cut_window,
    guess_symmetric_pairs,
    symmetric_pairs_from_config,
)
from posekit.errors import ProjectError
from posekit.project import open_project

BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]
PAIRS = [("leftear", "rightear")]
FLIPPED = [0, 2, 1, 3]  # after a flip, keypoint b sits on the mark drawn for FLIPPED[b]
COLORS = np.array([[255, 40, 40], [40, 255, 40], [40, 40, 255], [255, 255, 40]], np.uint8)
RADIUS = 5.0
KEYPOINTS = np.array([[[300.3, 200.6], [270.0, 236.2], [331.7, 235.0], [302.5, 330.4]]])
NO_PIXEL_CHANGES = dict(brightness_contrast={"p": 0}, gamma={"p": 0}, motion_blur={"p": 0},
                        noise={"p": 0}, occlusion={"p": 0})


def marked_image(keypoints: np.ndarray = KEYPOINTS, shape: tuple[int, int] = (480, 640),
                 seed: int = 0, radius: float = RADIUS) -> np.ndarray:
    """Noise background (values 0-60) with a colored disk at each visible keypoint."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (*shape, 3)).astype(np.uint8)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    for individual in keypoints:
        for color, (x, y) in zip(COLORS, individual, strict=True):
            if np.isfinite(x):
                image[(xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2] = color
    return image


def mark_centroid(image: np.ndarray, color: np.ndarray, near: np.ndarray) -> np.ndarray | None:
    """Centroid of the pixels of ``color`` within 2 radii of ``near`` (None if too few)."""
    h, w = image.shape[:2]
    x0, y0 = (np.floor(near - 2 * RADIUS)).astype(int)
    x1, y1 = (np.ceil(near + 2 * RADIUS)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    patch = image[y0:y1, x0:x1].astype(int)
    match = np.abs(patch - color.astype(int)).max(axis=-1) < 90
    if match.sum() < 20:
        return None
    ys, xs = np.nonzero(match)
    return np.array([xs.mean() + x0, ys.mean() + y0])


def assert_on_marks(image: np.ndarray, keypoints: np.ndarray, colors_of: list[int],
                    tolerance: float = 0.5) -> int:
    """Every visible keypoint sits on its mark; returns how many were checked."""
    h, w = image.shape[:2]
    checked = 0
    for individual in keypoints:
        for b, (x, y) in enumerate(individual):
            if not np.isfinite(x):
                continue
            point = np.array([x, y])
            assert -0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5
            if min(x, y, w - 1 - x, h - 1 - y) < RADIUS + 1:
                continue  # the disk is cut by the border: its centroid moves
            centroid = mark_centroid(image, COLORS[colors_of[b]], point)
            assert centroid is not None, f"bodypart {b} at {point} is not on its mark"
            assert np.abs(centroid - point).max() <= tolerance, (b, point, centroid)
            checked += 1
    return checked


def augmenter(crop=(256, 256), **overrides):
    config = AugmentationConfig(**{**NO_PIXEL_CHANGES, "crop": {"on_animal": 1.0}, **overrides})
    return build_augmentation(config, crop_size=crop, symmetric_pairs=PAIRS, bodyparts=BODYPARTS)


@pytest.mark.parametrize("overrides", [
    dict(rotation={"p": 1.0, "max_degrees": 40}, scale={"p": 0}, flip={"p": 0}),
    dict(rotation={"p": 0}, scale={"p": 1.0, "range": (0.6, 1.6)}, flip={"p": 0}),
    dict(rotation={"p": 0}, scale={"p": 0}, translation={"p": 1.0, "max_fraction": 0.3},
         flip={"p": 0}),
    dict(rotation={"p": 1.0}, scale={"p": 1.0}, translation={"p": 1.0}, flip={"p": 0}),
], ids=["rotation", "scale", "translation", "all-geometry"])
def test_keypoints_stay_on_their_marks(overrides: dict) -> None:
    image = marked_image()
    augment = augmenter(**overrides)
    checked = 0
    for seed in range(40):
        out, points = augment(image, KEYPOINTS, seed)
        assert out.shape == (256, 256, 3) and out.dtype == np.uint8
        assert points.shape == KEYPOINTS.shape
        checked += assert_on_marks(out, points, colors_of=[0, 1, 2, 3])
    assert checked > 100


def test_flip_swaps_left_and_right_names() -> None:
    image = marked_image()
    augment = augmenter(rotation={"p": 0.5}, scale={"p": 0.5}, flip={"p": 1.0})
    for seed in range(30):
        out, points = augment(image, KEYPOINTS, seed)
        # the keypoint now named 'leftear' sits on the mark drawn for 'rightear', and so on
        assert assert_on_marks(out, points, colors_of=FLIPPED) >= 1
    # and mirror geometry: with flips only, x becomes w - 1 - x about the crop
    plain = augmenter(rotation={"p": 0}, scale={"p": 0}, translation={"p": 0}, flip={"p": 0})
    flip = augmenter(rotation={"p": 0}, scale={"p": 0}, translation={"p": 0}, flip={"p": 1})
    a_img, a_pts = plain(image, KEYPOINTS, 7)
    b_img, b_pts = flip(image, KEYPOINTS, 7)
    np.testing.assert_array_equal(b_img, a_img[:, ::-1])
    np.testing.assert_allclose(b_pts[0, FLIPPED, 0], 255 - a_pts[0, :, 0], atol=1e-3)
    np.testing.assert_allclose(b_pts[0, FLIPPED, 1], a_pts[0, :, 1], atol=1e-3)


def test_mixed_flips_are_consistent() -> None:
    image = marked_image()
    augment = augmenter(rotation={"p": 1.0}, scale={"p": 1.0}, flip={"p": 0.5})
    flipped = 0
    for seed in range(40):
        out, points = augment(image, KEYPOINTS, seed)
        try:
            assert_on_marks(out, points, colors_of=[0, 1, 2, 3])
        except AssertionError:
            assert_on_marks(out, points, colors_of=FLIPPED)
            flipped += 1
    assert 5 < flipped < 35


def test_keypoints_leaving_the_crop_become_nan_and_only_those() -> None:
    points = np.array([[[20.0, 20.0], [620.0, 30.0], [30.0, 460.0], [610.0, 450.0]]])
    image = marked_image(points)
    augment = augmenter(crop=(120, 120), rotation={"p": 0.5}, scale={"p": 0.5}, flip={"p": 0})
    n_nan = 0
    for seed in range(40):
        out, result = augment(image, points, seed)
        n_nan += int(np.isnan(result[..., 0]).sum())
        assert_on_marks(out, result, colors_of=[0, 1, 2, 3])
        for b in range(4):  # a whole disk inside the crop means its keypoint is visible
            mask = np.abs(out.astype(int) - COLORS[b].astype(int)).max(axis=-1) < 90
            ys, xs = np.nonzero(mask)
            if len(xs) >= 60 and min(xs.min(), ys.min()) > 0 and max(xs.max(), ys.max()) < 119:
                assert np.isfinite(result[0, b]).all(), (seed, b)
    assert n_nan >= 40 * 2  # the corners are too far apart to fit one 120-pixel crop


def test_nan_inputs_stay_nan_and_follow_the_swap() -> None:
    points = KEYPOINTS.copy()
    points[0, 1] = np.nan  # leftear not visible
    image = marked_image(points)
    augment = augmenter(flip={"p": 1.0})
    for seed in range(10):
        out, result = augment(image, points, seed)
        assert np.isnan(result[0, 2]).all()  # the invisible leftear is now the rightear
        assert_on_marks(out, result, colors_of=FLIPPED)
    no_flip = augmenter(flip={"p": 0.0})
    for seed in range(10):
        _, result = no_flip(image, points, seed)
        assert np.isnan(result[0, 1]).all()


def test_same_seed_same_sample_and_pixel_changes_do_not_move_keypoints() -> None:
    image = marked_image()
    full = build_augmentation(AugmentationConfig(), crop_size=(200, 240), symmetric_pairs=PAIRS,
                              bodyparts=BODYPARTS)
    a = full(image, KEYPOINTS, 123)
    b = full(image, KEYPOINTS, np.random.default_rng(123))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape == (200, 240, 3)
    c = full(image, KEYPOINTS, 124)
    assert not np.array_equal(a[0], c[0])
    # geometry draws come first, so the same seed without pixel transforms gives the same
    # keypoints: brightness, gamma, blur, noise and occlusion never move them
    geometry_only = build_augmentation(AugmentationConfig(**NO_PIXEL_CHANGES),
                                       crop_size=(200, 240), symmetric_pairs=PAIRS,
                                       bodyparts=BODYPARTS)
    for seed in range(20):
        np.testing.assert_array_equal(full(image, KEYPOINTS, seed)[1],
                                      geometry_only(image, KEYPOINTS, seed)[1])


def test_motion_blur_does_not_shift_the_content() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[198:203, 298:303] = 255
    points = np.array([[[300.0, 200.0]] * 4])
    config = AugmentationConfig(**{**NO_PIXEL_CHANGES, "motion_blur": {"p": 1.0,
                                                                       "kernel": (9, 9)}},
                                rotation={"p": 0}, scale={"p": 0}, flip={"p": 0},
                                crop={"on_animal": 1.0})
    augment = build_augmentation(config, crop_size=(100, 100), bodyparts=BODYPARTS)
    for seed in range(10):
        out, result = augment(image, points, seed)
        assert np.isfinite(result).all()
        weights = out[..., 0].astype(float)
        ys, xs = np.mgrid[:100, :100]
        centroid = np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()
        np.testing.assert_allclose(centroid, result[0, 0], atol=0.5)


def test_occlusion_keeps_keypoints_labeled() -> None:
    config = AugmentationConfig(**{**NO_PIXEL_CHANGES,
                                   "occlusion": {"p": 1.0, "holes": (8, 8), "size": (0.3, 0.3),
                                                 "fill": "black"}})
    augment = build_augmentation(config, crop_size=(256, 256), symmetric_pairs=PAIRS,
                                 bodyparts=BODYPARTS)
    out, result = augment(marked_image(), KEYPOINTS, 0)
    assert (out == 0).all(axis=-1).sum() > 256 * 256 * 0.2  # big black patches
    assert np.isfinite(result).all()


def test_image_smaller_than_the_crop_is_padded() -> None:
    points = np.array([[[30.0, 40.0], [50.0, 30.0], [70.0, 40.0], [50.0, 80.0]]])
    image = marked_image(points, shape=(100, 120))
    augment = augmenter(crop=(160, 200), rotation={"p": 0.5}, flip={"p": 0.5})
    for seed in range(10):
        out, result = augment(image, points, seed)
        assert out.shape == (160, 200, 3)
        assert np.isfinite(result).all()


def test_several_animals() -> None:
    points = np.array([KEYPOINTS[0], KEYPOINTS[0] + [250.0, 60.0]])
    image = marked_image(points)
    augment = augmenter(crop=(200, 200), rotation={"p": 1.0}, flip={"p": 0})
    for seed in range(20):
        out, result = augment(image, points, seed)
        assert result.shape == (2, 4, 2)
        assert np.isfinite(result).all(axis=-1).any()  # a crop is aimed at one of them
        assert_on_marks(out, result, colors_of=[0, 1, 2, 3])


def test_eval_transform_pads_and_shrinks_exactly() -> None:
    image = marked_image()
    padded = build_eval_transform(pad_to_multiple=64)
    out, result = padded(image, KEYPOINTS)
    assert out.shape == (512, 640, 3)
    np.testing.assert_array_equal(out[:480], image)
    assert (out[480:] == 0).all()
    np.testing.assert_array_equal(result, KEYPOINTS)
    same = build_eval_transform()
    np.testing.assert_array_equal(same(image, KEYPOINTS)[0], image)
    big = marked_image(KEYPOINTS * 2, shape=(960, 1280), radius=2 * RADIUS)
    shrink = build_eval_transform(size=(480, 700))
    assert shrink.scale_for(big.shape) == (0.5, 0.5)
    out, result = shrink(big, KEYPOINTS * 2)
    assert out.shape == (480, 700, 3)
    np.testing.assert_allclose(result, (KEYPOINTS * 2 + 0.5) * 0.5 - 0.5)
    assert_on_marks(out, result, colors_of=[0, 1, 2, 3], tolerance=1.0)


def test_disabled_augmentation_only_crops() -> None:
    image = marked_image()
    augment = build_augmentation(AugmentationConfig(enabled=False, crop={"on_animal": 1.0}),
                                 crop_size=(200, 200), symmetric_pairs=PAIRS,
                                 bodyparts=BODYPARTS)
    for seed in range(10):
        out, result = augment(image, KEYPOINTS, seed)
        assert assert_on_marks(out, result, colors_of=[0, 1, 2, 3]) == 4
        offset = KEYPOINTS[0, 0] - result[0, 0]
        np.testing.assert_allclose(offset, np.round(offset))  # an integer shift, nothing else


def test_cut_window_pads_outside_the_image() -> None:
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    window = cut_window(image, -2, 1, 4, 5, fill=7)
    assert window.shape == (5, 4, 3)
    np.testing.assert_array_equal(window[:3, 2:], image[1:4, 0:2])
    assert (window[:, :2] == 7).all() and (window[3:] == 7).all()


# -- configuration and bad input ------------------------------------------------------------


def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        AugmentationConfig(rotaton={"p": 1})
    with pytest.raises(ValidationError):
        AugmentationConfig(flip={"p": 1.5})
    with pytest.raises(ValidationError):
        AugmentationConfig(scale={"range": (1.2, 0.8)})
    config = AugmentationConfig.model_validate({"flip": {"p": 0.0}, "noise": {"p": 0.1}})
    assert config.flip.p == 0.0 and config.rotation.p == 0.7


def test_symmetric_pair_naming_an_unknown_bodypart() -> None:
    with pytest.raises(ProjectError, match="leftpaw"):
        build_augmentation(crop_size=(64, 64), symmetric_pairs=[("leftpaw", "rightear")],
                           bodyparts=BODYPARTS)
    with pytest.raises(ProjectError, match="two different"):
        check_symmetric_pairs([("leftear", "leftear")], BODYPARTS)
    with pytest.raises(ProjectError, match="more than one pair"):
        check_symmetric_pairs([("leftear", "rightear"), ("snout", "leftear")], BODYPARTS)
    with pytest.raises(ProjectError, match="list of"):
        check_symmetric_pairs("leftear,rightear", BODYPARTS)
    with pytest.raises(ProjectError, match="two different"):
        check_symmetric_pairs([["leftear"]], BODYPARTS)


def test_symmetric_pairs_read_from_config(openfield_copy: Path) -> None:
    assert symmetric_pairs_from_config(open_project(openfield_copy).config) == []
    config = openfield_copy / "config.yaml"
    original = config.read_text()
    config.write_text(original + "\nsymmetric_pairs:\n- [leftear, rightear]\n")
    assert symmetric_pairs_from_config(open_project(openfield_copy).config) == PAIRS
    config.write_text(original + "\nsymmetric_pairs:\n- [leftear, righteye]\n")
    with pytest.raises(ProjectError, match="righteye"):
        symmetric_pairs_from_config(open_project(openfield_copy).config)


def test_flip_switched_off_when_left_right_parts_are_unpaired(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="posekit.data.augment"):
        augment = build_augmentation(AugmentationConfig(**NO_PIXEL_CHANGES, flip={"p": 1.0}),
                                     crop_size=(256, 256), bodyparts=BODYPARTS)
    assert "leftear" in caplog.text and "symmetric_pairs" in caplog.text
    image = marked_image()
    for seed in range(5):
        out, result = augment(image, KEYPOINTS, seed)
        assert_on_marks(out, result, colors_of=[0, 1, 2, 3])  # never flipped
    assert guess_symmetric_pairs(BODYPARTS) == [("leftear", "rightear")]
    assert guess_symmetric_pairs(["L_paw", "R_paw", "tail_base"]) == [("L_paw", "R_paw")]


def test_bad_images_and_keypoints() -> None:
    augment = augmenter()
    with pytest.raises(ValueError, match="uint8 RGB"):
        augment(np.zeros((50, 50), np.uint8), KEYPOINTS, 0)
    with pytest.raises(ValueError, match="uint8 RGB"):
        augment(np.zeros((50, 50, 3), np.float32), KEYPOINTS, 0)
    with pytest.raises(ValueError, match="n_individuals, 4, 2"):
        augment(marked_image(), KEYPOINTS[:, :3], 0)
    with pytest.raises(ProjectError, match="crop_size"):
        build_augmentation(crop_size=(0, 64), bodyparts=BODYPARTS)
    with pytest.raises(ProjectError, match="pad_to_multiple"):
        build_eval_transform(pad_to_multiple=0)


def test_shipped_frame_round_trip(openfield_copy: Path) -> None:
    """A real labeled frame: augmented keypoints index the same pixels as the original."""
    from posekit.data.dataset import read_image_rgb
    from posekit.project.labels import load_project_labels

    project = open_project(openfield_copy)
    labels = load_project_labels(project)
    image = read_image_rgb(openfield_copy / labels.images[0])
    augment = augmenter(crop=(200, 200), rotation={"p": 0}, scale={"p": 0}, flip={"p": 0})
    out, result = augment(image, labels.points[0], 3)
    shift = labels.points[0, 0, 0] - result[0, 0]
    for x, y in result[0]:
        if np.isfinite(x):
            xi, yi = int(round(x)), int(round(y))
            np.testing.assert_array_equal(out[yi, xi],
                                          image[int(round(y + shift[1])),
                                                int(round(x + shift[0]))])
