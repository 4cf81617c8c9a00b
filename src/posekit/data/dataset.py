"""Labeled images as a torch Dataset, and a DataLoader tuned for a few CPU cores.

Memory: with ``cache_images=True`` (the default) every image is decoded once, when the
dataset is made, and kept as uint8 RGB: ``H * W * 3`` bytes per image, e.g. 0.92 MB for a
640x480 frame, 107 MB for the 116 frames of the open-field demo (``dataset.cache_bytes``).
PNG decoding costs several milliseconds per frame, which on a 2-core machine would compete
with the network for the CPU every epoch.

Loader workers are started with ``spawn``, never ``fork``: a process forked after OpenCV or
OpenMP have started their thread pools can deadlock in the child (seen with
``cv2.setNumThreads``). Each worker receives its own copy of the cache, once, since workers
persist across epochs. Use ``cache_images=False`` for data sets that do not fit in memory.

Images of different sizes are allowed: training crops (:func:`posekit.data.augment.
build_augmentation`) are all the same size, and the evaluation transform with
``size=(h, w)`` pads (or shrinks) every image to one size. Without a common size, batches of
more than one image fail with an error that says so.

Randomness: each sample's augmentation is seeded by the sampler of :func:`make_loader`
(from the loader seed, the epoch and the position), so a run is reproducible whatever the
number of workers, and a resumed run can replay an epoch with ``sampler.set_epoch(epoch)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from posekit.errors import LabelFileError, MissingFileError
from posekit.models.normalize import normalize_images
from posekit.progress import track

logger = logging.getLogger(__name__)

Augment = Callable[..., tuple[np.ndarray, np.ndarray]]
TargetEncoder = Callable[[np.ndarray, tuple[int, int]], Any]
RESERVED_KEYS = ("image", "keypoints", "visible", "index", "scale")


def read_image_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file as uint8 RGB ``(H, W, 3)`` (gray and RGBA become RGB).

    Raises
    ------
    MissingFileError
        If the file does not exist.
    LabelFileError
        If it cannot be decoded as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Labeled image {path} does not exist. Restore it, or remove its "
                               f"row from the label file.")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise LabelFileError(f"Labeled image {path} cannot be decoded (corrupt or not an image)."
                             f" Replace it with the original frame, or remove its row from the "
                             f"label file.")
    return np.ascontiguousarray(image[..., ::-1])


class PoseDataset(Dataset):
    """Labeled images and their keypoints, augmented and normalized for the network.

    Parameters
    ----------
    project_root : path-like
        Folder the image paths are relative to (the project root).
    images : sequence of str
        Image paths relative to ``project_root`` (as in :class:`posekit.io.labels.Labels`).
    points : ndarray, shape (n_images, n_individuals, n_bodyparts, 2)
        Keypoints in pixels; NaN where not visible.
    augment : callable
        ``augment(image (H, W, 3) uint8, keypoints (n_individuals, n_bodyparts, 2), rng)
        -> (image (h, w, 3) uint8, keypoints)``: an Augmenter for training, an
        EvalTransform for validation (:mod:`posekit.data.augment`).
    target_encoder : callable, optional
        ``target_encoder(keypoints (n_individuals, n_bodyparts, 2), (h, w))`` returning a
        mapping or NamedTuple of arrays, added to each sample under their own names.
    cache_images : bool
        Decode every image once now and keep it in memory (see the module docstring).
    seed : int
        Seeds the augmentation of ``dataset[i]`` with a plain integer index.

    Raises
    ------
    MissingFileError
        If image files are missing (all of them are named).
    LabelFileError
        If ``points`` does not match ``images``, or an image cannot be decoded.

    Each sample is a dict:

    - ``image``: float32 tensor ``(3, h, w)``, ImageNet-normalized RGB
      (:func:`posekit.models.normalize.normalize_images`);
    - ``keypoints``: float32 tensor ``(n_individuals, n_bodyparts, 2)``, 0 where not visible;
    - ``visible``: bool tensor ``(n_individuals, n_bodyparts)``;
    - ``index``: the image's row in ``images``;
    - ``scale``: float32 tensor ``(2,)``, output pixels per image pixel (x, y): 1 except for
      an evaluation transform that shrinks large images;
    - the target encoder's fields.
    """

    def __init__(self, project_root: str | os.PathLike[str], images: Sequence[str],
                 points: np.ndarray, *, augment: Augment,
                 target_encoder: TargetEncoder | None = None, cache_images: bool = True,
                 seed: int = 0) -> None:
        self.root = Path(project_root)
        self.images = [str(image) for image in images]
        self.points = np.asarray(points, dtype=np.float64)
        if self.points.ndim != 4 or self.points.shape[-1] != 2 \
                or self.points.shape[0] != len(self.images):
            raise LabelFileError(
                f"points must have shape (n_images, n_individuals, n_bodyparts, 2) with "
                f"n_images = {len(self.images)} images, found {self.points.shape}.")
        self.augment = augment
        self.target_encoder = target_encoder
        self.seed = int(seed)
        paths = [self.root / image for image in self.images]
        missing = [image for image, path in zip(self.images, paths, strict=True)
                   if not path.is_file()]
        if missing:
            raise MissingFileError(
                f"{len(missing)} of {len(paths)} labeled images do not exist under {self.root},"
                f" e.g. {missing[:3]}. Restore them, or remove their rows from the label file.")
        self._paths = paths
        self._cache: list[np.ndarray] | None = None
        if cache_images:
            self._cache = [read_image_rgb(path) for path in
                           track(paths, total=len(paths), description="decoding images")]
            logger.info("cached %d images in memory: %.1f MB", len(paths),
                        self.cache_bytes / 1e6)
        sizes = self.image_sizes
        if len(set(sizes)) > 1:
            logger.info("images have %d different sizes (e.g. %s); batches need a transform "
                        "with a fixed output size", len(set(sizes)), sorted(set(sizes))[:3])

    def __len__(self) -> int:
        return len(self.images)

    @property
    def cache_bytes(self) -> int:
        """Bytes held by the image cache (0 without one)."""
        return sum(image.nbytes for image in self._cache) if self._cache is not None else 0

    @property
    def image_sizes(self) -> list[tuple[int, int]]:
        """``(H, W)`` of each image (read from the file headers when not cached)."""
        if self._cache is not None:
            return [image.shape[:2] for image in self._cache]
        sizes = []
        for path in self._paths:
            try:
                with Image.open(path) as handle:
                    sizes.append((handle.height, handle.width))
            except OSError as error:
                raise LabelFileError(f"Labeled image {path} cannot be read ({error}).") from error
        return sizes

    def load_image(self, index: int) -> np.ndarray:
        """The image of row ``index``, uint8 RGB ``(H, W, 3)`` (from the cache if any)."""
        if self._cache is not None:
            return self._cache[index]
        return read_image_rgb(self._paths[index])

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        if isinstance(item, tuple):
            index, sample_seed = int(item[0]), int(item[1])
            rng = np.random.default_rng(sample_seed)
        else:
            index = int(item)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index %= len(self)
        image = self.load_image(index)
        out_image, keypoints = self.augment(image, self.points[index], rng)
        visible = np.isfinite(keypoints).all(axis=-1)
        scale_for = getattr(self.augment, "scale_for", None)
        scale = scale_for(image.shape) if scale_for is not None else (1.0, 1.0)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(normalize_images(out_image)[0]),
            "keypoints": torch.from_numpy(
                np.where(visible[..., None], keypoints, 0.0).astype(np.float32)),
            "visible": torch.from_numpy(visible),
            "index": index,
            "scale": torch.tensor(scale, dtype=torch.float32),
        }
        if self.target_encoder is not None:
            sample.update(self._encode(keypoints, out_image.shape[:2]))
        return sample

    def _encode(self, keypoints: np.ndarray, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        targets = self.target_encoder(keypoints, (int(size[0]), int(size[1])))
        if hasattr(targets, "_asdict"):
            targets = targets._asdict()
        if not isinstance(targets, Mapping):
            raise TypeError(f"target_encoder must return a mapping or NamedTuple of arrays, "
                            f"got {type(targets).__name__}")
        clash = [key for key in targets if key in RESERVED_KEYS]
        if clash:
            raise ValueError(f"target_encoder returned keys {clash}, which the dataset uses "
                             f"itself ({RESERVED_KEYS}); rename them.")
        return {str(key): torch.as_tensor(np.asarray(value)) for key, value in targets.items()}


class SeededSampler(Sampler):
    """Yields ``(index, sample_seed)`` pairs: the order and every sample's augmentation seed
    follow from ``(seed, epoch)`` alone.

    The epoch advances by one at each pass; call :meth:`set_epoch` to replay a given epoch
    (e.g. after resuming from a checkpoint).
    """

    def __init__(self, n: int, *, shuffle: bool, seed: int = 0) -> None:
        self.n = int(n)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        self.epoch += 1
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        seeds = rng.integers(0, 2**63 - 1, size=self.n)
        for index, sample_seed in zip(order, seeds, strict=True):
            yield int(index), int(sample_seed)


def collate_samples(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of samples into a batch (images must share one size).

    Raises
    ------
    ValueError
        If the images (or any other field) differ in shape, naming the sizes found.
    """
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples]
        if not isinstance(values[0], torch.Tensor):
            batch[key] = torch.as_tensor(values)
            continue
        shapes = sorted({tuple(v.shape) for v in values})
        if len(shapes) > 1:
            raise ValueError(
                f"cannot batch '{key}' of different shapes {shapes[:4]}: the images of a batch "
                f"must share one size. Use training crops, an evaluation transform with "
                f"size=(h, w), or batch_size=1.")
        batch[key] = torch.stack(values)
    return batch


def _worker_init(_: int) -> None:
    # one thread per worker: the cores are shared with the network
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def make_loader(dataset: PoseDataset, batch_size: int, *, shuffle: bool,
                num_workers: int = 0, seed: int = 0, drop_last: bool = False) -> DataLoader:
    """A DataLoader with reproducible order and augmentation, suited to a few CPU cores.

    Parameters
    ----------
    dataset : PoseDataset
    batch_size : int
    shuffle : bool
        New random order each epoch (training) or file order (evaluation).
    num_workers : int
        Worker processes. 0 (default) augments in the training process: on 2 cores one
        augmented 400x400 sample costs a few milliseconds, far less than the network's
        forward and backward pass, so a worker would mostly take CPU time from the network.
        Use 1-2 workers with a GPU, or when augmentation is made much heavier.
    seed : int
        Seeds the order and every sample's augmentation (see :class:`SeededSampler`).
    drop_last : bool
        Drop the last incomplete batch (avoids tiny batches in training).

    Returns
    -------
    DataLoader
        Yields dicts of batched tensors (see :class:`PoseDataset`); ``loader.sampler`` is a
        :class:`SeededSampler`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, found {batch_size}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, found {num_workers}")
    sampler = SeededSampler(len(dataset), shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      collate_fn=collate_samples, drop_last=drop_last,
                      pin_memory=torch.cuda.is_available(),
                      persistent_workers=num_workers > 0,
                      worker_init_fn=_worker_init if num_workers > 0 else None,
                      prefetch_factor=2 if num_workers > 0 else None,
                      multiprocessing_context="spawn" if num_workers > 0 else None)
