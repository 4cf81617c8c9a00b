"""Training-time augmentation of images and their keypoints (albumentations underneath).

One augmented sample is made in this order, every step moving the keypoints with the image:

1. a window around the animal(s) (a random window with probability ``1 - crop.on_animal``),
   shifted by the random translation, is cut from the image (padding where it leaves it);
2. rotation and scaling about the window's center (``albumentations.Affine``);
3. the central ``crop_size`` of the window is kept: the training crop;
4. horizontal flip (``albumentations.HorizontalFlip``), which also SWAPS the keypoints of
   each declared left/right pair: after a mirror flip the keypoint labeled ``leftear`` sits
   on what now looks like a right ear, so it becomes ``rightear``;
5. brightness/contrast, gamma, motion blur, noise and occluding patches (pixels only).

Keypoints are ``(n_individuals, n_bodyparts, 2)`` arrays in posekit's convention (pixels,
origin at the center of the top-left pixel). albumentations 2 uses the same convention for
the transforms used here (a horizontal flip maps ``x -> W - 1 - x``; ``Affine`` rotates about
``((W - 1) / 2, (H - 1) / 2)`` and warps with the same matrix as the keypoints), and cuts and
pads are integer shifts, so a keypoint stays on the same image content (the tests check this
to within a pixel). Keypoints that are NaN stay NaN; keypoints that leave the crop
(``x < -0.5`` or ``x > w - 0.5``, same for y) become NaN ("not visible"). Occluding patches
do not hide keypoints: they stay labeled, and the network learns to guess them.

:func:`build_eval_transform` makes the validation-time counterpart: no randomness, only
downscaling (when an image is larger than a fixed size) and padding at the bottom/right.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import albumentations as A
import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from posekit.errors import ProjectError
from posekit.project.config import ProjectConfig

logger = logging.getLogger(__name__)

SYMMETRIC_PAIRS_KEY = "symmetric_pairs"
RngLike = np.random.Generator | int | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RotationConfig(_Strict):
    """Rotation by an angle drawn uniformly from ``[-max_degrees, max_degrees]``."""

    p: float = Field(0.7, ge=0.0, le=1.0)
    max_degrees: float = Field(25.0, ge=0.0, le=180.0)


class ScaleConfig(_Strict):
    """Zoom by a factor drawn uniformly from ``range`` (> 1 enlarges the animal)."""

    p: float = Field(0.7, ge=0.0, le=1.0)
    range: tuple[float, float] = (0.8, 1.25)

    @model_validator(mode="after")
    def _ordered(self) -> ScaleConfig:
        low, high = self.range
        if not 0.1 <= low <= high <= 10.0:
            raise ValueError(f"scale range must satisfy 0.1 <= low <= high <= 10, "
                             f"found {self.range}")
        return self


class TranslationConfig(_Strict):
    """Extra shift of the crop by up to ``max_fraction`` of the crop size along each axis."""

    p: float = Field(0.5, ge=0.0, le=1.0)
    max_fraction: float = Field(0.1, ge=0.0, le=1.0)


class CropConfig(_Strict):
    """Where training crops are cut.

    ``on_animal`` is the probability that a crop is placed so that every visible keypoint
    lies inside it (with a random offset); otherwise the crop is placed anywhere.
    ``margin`` keeps keypoints that far (pixels of the crop) from its edge when possible.
    """

    on_animal: float = Field(0.95, ge=0.0, le=1.0)
    margin: int = Field(16, ge=0)


class FlipConfig(_Strict):
    """Horizontal mirror flip; left/right pairs are swapped (see ``symmetric_pairs``)."""

    p: float = Field(0.5, ge=0.0, le=1.0)


class BrightnessContrastConfig(_Strict):
    """Brightness and contrast changed by up to the given fractions."""

    p: float = Field(0.5, ge=0.0, le=1.0)
    brightness: float = Field(0.25, ge=0.0, le=1.0)
    contrast: float = Field(0.25, ge=0.0, le=1.0)


class GammaConfig(_Strict):
    """Gamma correction with gamma drawn from ``range`` (percent, 100 = unchanged)."""

    p: float = Field(0.3, ge=0.0, le=1.0)
    range: tuple[float, float] = (70.0, 150.0)


class MotionBlurConfig(_Strict):
    """Motion blur with an odd kernel size drawn from ``kernel`` (centered: no shift)."""

    p: float = Field(0.2, ge=0.0, le=1.0)
    kernel: tuple[int, int] = (3, 7)


class NoiseConfig(_Strict):
    """Gaussian pixel noise with standard deviation drawn from ``std`` (fraction of 255)."""

    p: float = Field(0.2, ge=0.0, le=1.0)
    std: tuple[float, float] = (0.01, 0.05)


class OcclusionConfig(_Strict):
    """Occluding rectangles (``CoarseDropout``); sizes are fractions of the crop size."""

    p: float = Field(0.3, ge=0.0, le=1.0)
    holes: tuple[int, int] = (1, 3)
    size: tuple[float, float] = (0.05, 0.2)
    fill: Literal["random_uniform", "random", "black"] = "random_uniform"


class AugmentationConfig(_Strict):
    """All augmentation settings (strict: unknown keys are rejected).

    Every transform has a probability ``p``; ``p: 0`` switches it off. ``enabled: false``
    switches all randomness off except where the crop is placed.
    """

    enabled: bool = True
    crop: CropConfig = CropConfig()
    rotation: RotationConfig = RotationConfig()
    scale: ScaleConfig = ScaleConfig()
    translation: TranslationConfig = TranslationConfig()
    flip: FlipConfig = FlipConfig()
    brightness_contrast: BrightnessContrastConfig = BrightnessContrastConfig()
    gamma: GammaConfig = GammaConfig()
    motion_blur: MotionBlurConfig = MotionBlurConfig()
    noise: NoiseConfig = NoiseConfig()
    occlusion: OcclusionConfig = OcclusionConfig()
    fill_value: int = Field(0, ge=0, le=255, description="Gray level of padded borders.")


# ---------------------------------------------------------------------------------------------
# symmetric pairs


def check_symmetric_pairs(pairs: Sequence[Sequence[str]], bodyparts: Sequence[str], *,
                          source: str = SYMMETRIC_PAIRS_KEY) -> list[tuple[str, str]]:
    """Validate left/right pairs of bodyparts.

    Parameters
    ----------
    pairs : sequence of (str, str)
        E.g. ``[["leftear", "rightear"]]``.
    bodyparts : sequence of str
        The project's bodyparts.
    source : str
        Where the pairs came from, named in errors.

    Returns
    -------
    list of (str, str)

    Raises
    ------
    ProjectError
        If a pair is not two different known bodyparts, or a bodypart is in two pairs.
    """
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise ProjectError(f"{source} must be a list of [left, right] bodypart pairs, e.g. "
                           f"[[leftear, rightear]], found {pairs!r}.")
    checked: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pair in pairs:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2 \
                or pair[0] == pair[1]:
            raise ProjectError(f"{source}: each entry must be two different bodyparts "
                               f"[left, right], found {pair!r}.")
        unknown = [name for name in pair if name not in bodyparts]
        if unknown:
            raise ProjectError(f"{source}: pair {list(pair)} names {unknown}, which are not "
                               f"bodyparts of this project ({list(bodyparts)}). Fix the "
                               f"spelling in config.yaml.")
        twice = [name for name in pair if name in seen]
        if twice:
            raise ProjectError(f"{source}: {twice} appear in more than one pair; each bodypart "
                               f"has at most one mirror partner.")
        seen.update(pair)
        checked.append((str(pair[0]), str(pair[1])))
    return checked


def symmetric_pairs_from_config(config: ProjectConfig) -> list[tuple[str, str]]:
    """The left/right bodypart pairs declared in a project's config.yaml.

    posekit reads them from the key ``symmetric_pairs`` (kept by DeepLabCut untouched)::

        symmetric_pairs:
        - [leftear, rightear]

    Returns
    -------
    list of (str, str)
        Empty when the key is absent.

    Raises
    ------
    ProjectError
        If a pair names an unknown bodypart or is malformed.
    """
    pairs = (config.model_extra or {}).get(SYMMETRIC_PAIRS_KEY)
    if pairs is None:
        return []
    return check_symmetric_pairs(pairs, config.all_bodyparts,
                                 source=f"config.yaml '{SYMMETRIC_PAIRS_KEY}'")


def guess_symmetric_pairs(bodyparts: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of bodyparts whose names differ only by left/right (a suggestion, never used
    silently), e.g. ``leftear``/``rightear`` or ``L_paw``/``R_paw``."""
    pairs = []
    for name in bodyparts:
        for pattern, repl in ((r"left", "right"), (r"Left", "Right"), (r"LEFT", "RIGHT"),
                              (r"(?<![A-Za-z])l(?=[_\-A-Z0-9])", "r"),
                              (r"(?<![A-Za-z])L(?=[_\-a-z0-9])", "R")):
            if re.search(pattern, name):
                partner = re.sub(pattern, repl, name, count=1)
                if partner in bodyparts and partner != name:
                    pairs.append((name, partner))
                    break
    return pairs


def _lateral_unpaired(bodyparts: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    paired = {name for pair in pairs for name in pair}
    return [n for n in bodyparts if re.search("left|right", n, re.IGNORECASE) and n not in paired]


# ---------------------------------------------------------------------------------------------
# helpers


def as_rng(rng: RngLike) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed, or None (fresh entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_inputs(image: np.ndarray, keypoints: np.ndarray, n_bodyparts: int | None
                  ) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        raise ValueError(f"image must be a uint8 RGB array (H, W, 3), found "
                         f"{getattr(image, 'dtype', type(image))} {getattr(image, 'shape', '')}")
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[2] != 2 or (
            n_bodyparts is not None and keypoints.shape[1] != n_bodyparts):
        expected = n_bodyparts if n_bodyparts is not None else "n_bodyparts"
        raise ValueError(f"keypoints must have shape (n_individuals, {expected}, 2), found "
                         f"{keypoints.shape}")
    return keypoints


def cut_window(image: np.ndarray, x0: int, y0: int, width: int, height: int,
               fill: int = 0) -> np.ndarray:
    """``image[y0:y0+height, x0:x0+width]`` of an ``(H, W, C)`` image, padded with ``fill``
    where the window leaves the image. Returns ``(height, width, C)``; a keypoint ``(x, y)``
    of ``image`` is at ``(x - x0, y - y0)`` in the window."""
    h, w = image.shape[:2]
    if 0 <= x0 and 0 <= y0 and x0 + width <= w and y0 + height <= h:
        return image[y0:y0 + height, x0:x0 + width]
    out = np.full((height, width) + image.shape[2:], fill, dtype=image.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + width, w), min(y0 + height, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def _outside_to_nan(points: np.ndarray, visible: np.ndarray, height: int, width: int
                    ) -> np.ndarray:
    x, y = points[..., 0], points[..., 1]
    inside = visible & (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
    out = points.copy()
    out[~inside] = np.nan
    return out


# ---------------------------------------------------------------------------------------------
# training augmentation


class Augmenter:
    """Random training augmentation; build it with :func:`build_augmentation`.

    Call it as ``augment(image, keypoints, rng)``:

    Parameters
    ----------
    image : ndarray, uint8, shape (H, W, 3)
        RGB image (any size; smaller than the crop is padded).
    keypoints : ndarray, shape (n_individuals, n_bodyparts, 2)
        x, y in pixels; NaN where not visible.
    rng : numpy Generator, int seed or None
        Source of randomness; the same seed gives the same sample.

    Returns
    -------
    image : ndarray, uint8, shape (h, w, 3)
        ``(h, w) = crop_size``.
    keypoints : ndarray, float64, shape (n_individuals, n_bodyparts, 2)
        In crop pixels; NaN where not visible or outside the crop.
    """

    def __init__(self, config: AugmentationConfig, *, crop_size: tuple[int, int],
                 symmetric_pairs: Sequence[tuple[str, str]], bodyparts: Sequence[str]) -> None:
        self.config = config
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.bodyparts = list(bodyparts)
        self.symmetric_pairs = list(symmetric_pairs)
        self.flip_permutation = np.arange(len(self.bodyparts))
        for left, right in self.symmetric_pairs:
            i, j = self.bodyparts.index(left), self.bodyparts.index(right)
            self.flip_permutation[i], self.flip_permutation[j] = j, i
        self.flip_p = config.flip.p if config.enabled else 0.0
        unpaired = _lateral_unpaired(self.bodyparts, self.symmetric_pairs)
        if self.flip_p > 0 and unpaired:
            guess = [pair for pair in guess_symmetric_pairs(self.bodyparts)
                     if set(pair) & set(unpaired)]
            listed = ", ".join(f"[{left}, {right}]" for left, right in guess)
            hint = f", e.g. '{SYMMETRIC_PAIRS_KEY}: [{listed}]'" if guess else ""
            logger.warning(
                "horizontal flips are switched off: bodyparts %s look left/right-specific but "
                "no symmetric pair names them, and flipping would teach the network to swap "
                "them. Declare the pairs in config.yaml%s; or set flip.p: 0 to silence this.",
                unpaired, hint)
            self.flip_p = 0.0
        self._flip = A.Compose([A.HorizontalFlip(p=1.0)],
                               keypoint_params=A.KeypointParams(format="xy",
                                                                remove_invisible=False))
        self._affines = self._build_affines()
        self._photometric = _build_photometric(config) if config.enabled else None

    # -- geometry -----------------------------------------------------------------------------

    def _build_affines(self) -> dict[tuple[bool, bool], A.Compose]:
        """One Affine per combination of (rotate?, scale?), so that one warp does both."""
        cfg = self.config
        affines = {}
        for rotate in (False, True):
            for scale in (False, True):
                if not (rotate or scale):
                    continue
                angle = cfg.rotation.max_degrees if rotate else 0.0
                zoom = cfg.scale.range if scale else (1.0, 1.0)
                affine = A.Affine(rotate=(-angle, angle), scale=zoom, keep_ratio=True,
                                  interpolation=cv2.INTER_LINEAR,
                                  border_mode=cv2.BORDER_CONSTANT, fill=cfg.fill_value, p=1.0)
                affines[(rotate, scale)] = A.Compose(
                    [affine], keypoint_params=A.KeypointParams(format="xy",
                                                               remove_invisible=False))
        return affines

    def _draw_geometry(self, rng: np.random.Generator) -> tuple[bool, bool]:
        cfg = self.config
        if not cfg.enabled:
            return False, False
        rotate = bool(rng.random() < cfg.rotation.p) and cfg.rotation.max_degrees > 0
        scale = bool(rng.random() < cfg.scale.p) and cfg.scale.range != (1.0, 1.0)
        return rotate, scale

    def _reach(self, rotate: bool, scale: bool) -> tuple[float, float, int, int]:
        """Conservative half-extents (source pixels) that surely land inside the crop, and
        the window size needed so the crop is filled after rotation and scaling."""
        h, w = self.crop_size
        angle = math.radians(min(self.config.rotation.max_degrees, 45.0)) if rotate else 0.0
        spread = abs(math.cos(angle)) + abs(math.sin(angle))
        s_low, s_high = self.config.scale.range if scale else (1.0, 1.0)
        margin = min(self.config.crop.margin, min(h, w) // 4)
        if rotate:
            half = (min(h, w) / 2 - margin) / (s_high * spread)
            reach = (half, half)
        else:
            reach = ((w / 2 - margin) / s_high, (h / 2 - margin) / s_high)
        if not (rotate or scale):
            return reach[0], reach[1], w, h
        side = int(math.ceil(max(w, h) * spread / s_low)) if rotate else 0
        win_w = max(int(math.ceil(w / s_low)), side, w) + 2
        win_h = max(int(math.ceil(h / s_low)), side, h) + 2
        return reach[0], reach[1], win_w + (win_w - w) % 2, win_h + (win_h - h) % 2

    def _center(self, points: np.ndarray, visible: np.ndarray, shape: tuple[int, int],
                reach: tuple[float, float], rng: np.random.Generator) -> tuple[float, float]:
        """Where the crop's center goes, in image pixels."""
        height, width = shape
        on_animal = bool(rng.random() < self.config.crop.on_animal)
        uniform = rng.random(2)
        if not visible.any() or not on_animal:
            return uniform[0] * (width - 1), uniform[1] * (height - 1)
        xy = points[visible]
        if points.shape[0] > 1:  # several animals: aim at one of them unless all fit
            low, high = xy.min(axis=0), xy.max(axis=0)
            if np.any(high - low > 2 * np.asarray(reach)):
                ids = np.flatnonzero(visible.any(axis=1))
                pick = ids[rng.integers(len(ids))]
                xy = points[pick][visible[pick]]
        low, high = xy.min(axis=0), xy.max(axis=0)
        center = []
        for axis in range(2):
            lo, hi = high[axis] - reach[axis], low[axis] + reach[axis]
            if lo > hi:  # the animal is larger than the crop: center somewhere on it
                lo, hi = low[axis], high[axis]
            center.append(lo + uniform[axis] * (hi - lo))
        return center[0], center[1]

    def _geometry(self, image: np.ndarray, points: np.ndarray, visible: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        h, w = self.crop_size
        rotate, scale = self._draw_geometry(rng)
        reach_x, reach_y, win_w, win_h = self._reach(rotate, scale)
        cx, cy = self._center(points, visible, image.shape[:2], (reach_x, reach_y), rng)
        shift = rng.uniform(-1.0, 1.0, 2) * cfg.translation.max_fraction * np.array([w, h])
        if cfg.enabled and rng.random() < cfg.translation.p:
            cx, cy = cx + shift[0], cy + shift[1]
        x0, y0 = int(round(cx)) - win_w // 2, int(round(cy)) - win_h // 2
        window = cut_window(image, x0, y0, win_w, win_h, cfg.fill_value)
        points = points - np.array([x0, y0], dtype=np.float64)
        if rotate or scale:
            compose = self._affines[(rotate, scale)]
            compose.set_random_seed(int(rng.integers(2**31)))
            flat = points.reshape(-1, 2)
            out = compose(image=window, keypoints=np.where(np.isfinite(flat), flat, 0.0))
            window = out["image"]
            points = np.asarray(out["keypoints"], dtype=np.float64).reshape(points.shape)
        cx0, cy0 = (win_w - w) // 2, (win_h - h) // 2
        crop = window[cy0:cy0 + h, cx0:cx0 + w]
        return crop, points - np.array([cx0, cy0], dtype=np.float64)

    def _maybe_flip(self, image: np.ndarray, points: np.ndarray, visible: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not rng.random() < self.flip_p:
            return image, points, visible
        flat = points.reshape(-1, 2)
        out = self._flip(image=image, keypoints=np.where(np.isfinite(flat), flat, 0.0))
        flipped = np.asarray(out["keypoints"], dtype=np.float64).reshape(points.shape)
        perm = self.flip_permutation
        return out["image"], flipped[:, perm], visible[:, perm]

    # -- call ---------------------------------------------------------------------------------

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, rng: RngLike = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        keypoints = _check_inputs(image, keypoints, len(self.bodyparts))
        rng = as_rng(rng)
        visible = np.isfinite(keypoints).all(axis=-1)
        crop, points = self._geometry(image, keypoints, visible, rng)
        crop, points, visible = self._maybe_flip(crop, points, visible, rng)
        if self._photometric is not None:
            self._photometric.set_random_seed(int(rng.integers(2**31)))
            crop = self._photometric(image=crop)["image"]
        h, w = self.crop_size
        return np.ascontiguousarray(crop), _outside_to_nan(points, visible, h, w)


def _build_photometric(cfg: AugmentationConfig) -> A.Compose:
    fill: Any = 0 if cfg.occlusion.fill == "black" else cfg.occlusion.fill
    transforms = [
        A.RandomBrightnessContrast(brightness_limit=cfg.brightness_contrast.brightness,
                                   contrast_limit=cfg.brightness_contrast.contrast,
                                   p=cfg.brightness_contrast.p),
        A.RandomGamma(gamma_limit=cfg.gamma.range, p=cfg.gamma.p),
        # centered, symmetric kernel: blurs without moving the image content
        A.MotionBlur(blur_limit=cfg.motion_blur.kernel, allow_shifted=False,
                     direction_range=(0.0, 0.0), p=cfg.motion_blur.p),
        A.GaussNoise(std_range=cfg.noise.std, p=cfg.noise.p),
        A.CoarseDropout(num_holes_range=cfg.occlusion.holes, hole_height_range=cfg.occlusion.size,
                        hole_width_range=cfg.occlusion.size, fill=fill, p=cfg.occlusion.p),
    ]
    return A.Compose([t for t in transforms if t.p > 0])


def build_augmentation(config: AugmentationConfig | None = None, *,
                       crop_size: tuple[int, int] = (400, 400),
                       symmetric_pairs: Sequence[Sequence[str]] = (),
                       bodyparts: Sequence[str]) -> Augmenter:
    """Make the training augmentation.

    Parameters
    ----------
    config : AugmentationConfig, optional
        Defaults to ``AugmentationConfig()``.
    crop_size : (int, int)
        ``(h, w)`` of the training crops.
    symmetric_pairs : sequence of (str, str)
        Left/right bodypart pairs swapped by flips (see :func:`symmetric_pairs_from_config`).
        If a bodypart's name says left or right but no pair names it, flips are switched off
        (with a warning) rather than teaching the network to confuse the sides.
    bodyparts : sequence of str
        Bodyparts in keypoint order.

    Returns
    -------
    Augmenter
        ``augment(image (H, W, 3) uint8, keypoints (n_individuals, n_bodyparts, 2), rng)
        -> (image (h, w, 3) uint8, keypoints (n_individuals, n_bodyparts, 2))``.

    Raises
    ------
    ProjectError
        If a symmetric pair names an unknown bodypart, or the crop size is not positive.
    """
    config = AugmentationConfig() if config is None else config
    if len(crop_size) != 2 or min(int(crop_size[0]), int(crop_size[1])) < 8:
        raise ProjectError(f"crop_size must be (height, width) of at least 8 pixels each, "
                           f"found {tuple(crop_size)}.")
    pairs = check_symmetric_pairs(symmetric_pairs, bodyparts)
    return Augmenter(config, crop_size=(int(crop_size[0]), int(crop_size[1])),
                     symmetric_pairs=pairs, bodyparts=bodyparts)


# ---------------------------------------------------------------------------------------------
# evaluation


class EvalTransform:
    """Validation-time transform: deterministic, no augmentation.

    With ``size=None`` the image keeps its size and is padded at the bottom/right up to a
    multiple of ``pad_to_multiple``; keypoints do not move. With ``size=(h, w)``, an image
    larger than that is first shrunk (keeping its aspect ratio, :meth:`scale_for`), then
    padded at the bottom/right to exactly ``(h, w)``; keypoints are scaled as pixel centers
    (``x' = (x + 0.5) * s - 0.5``). Divide predictions by the scale to get back to the image.
    Call as ``transform(image, keypoints, rng=None)``, like :class:`Augmenter`.
    """

    def __init__(self, *, size: tuple[int, int] | None = None, pad_to_multiple: int = 1,
                 fill_value: int = 0) -> None:
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ProjectError(f"size must be (height, width) in pixels, found {size}.")
        if pad_to_multiple < 1:
            raise ProjectError(f"pad_to_multiple must be >= 1, found {pad_to_multiple}.")
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.pad_to_multiple = int(pad_to_multiple)
        self.fill_value = int(fill_value)

    def scale_for(self, image_shape: tuple[int, ...]) -> tuple[float, float]:
        """``(sx, sy)``: output pixels per input pixel for an image of this shape."""
        height, width = image_shape[:2]
        if self.size is None or (height <= self.size[0] and width <= self.size[1]):
            return 1.0, 1.0
        s = min(self.size[0] / height, self.size[1] / width)
        new_w, new_h = max(1, int(round(width * s))), max(1, int(round(height * s)))
        return new_w / width, new_h / height

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, rng: RngLike = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        keypoints = _check_inputs(image, keypoints, None)
        visible = np.isfinite(keypoints).all(axis=-1)
        sx, sy = self.scale_for(image.shape)
        points = keypoints.copy()
        if (sx, sy) != (1.0, 1.0):
            new_w, new_h = int(round(image.shape[1] * sx)), int(round(image.shape[0] * sy))
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
            points = (points + 0.5) * np.array([sx, sy]) - 0.5
        height, width = image.shape[:2]
        if self.size is not None:
            out_h, out_w = self.size
        else:
            m = self.pad_to_multiple
            out_h, out_w = -(-height // m) * m, -(-width // m) * m
        if (out_h, out_w) != (height, width):
            image = cut_window(image, 0, 0, out_w, out_h, self.fill_value)
        return np.ascontiguousarray(image), _outside_to_nan(points, visible, out_h, out_w)


def build_eval_transform(*, size: tuple[int, int] | None = None, pad_to_multiple: int = 1,
                         fill_value: int = 0) -> EvalTransform:
    """Make the validation transform (see :class:`EvalTransform`)."""
    return EvalTransform(size=size, pad_to_multiple=pad_to_multiple, fill_value=fill_value)
