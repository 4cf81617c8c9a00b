"""Multi-peak decoding of a bottom-up network, and assembly of the peaks into animals.

:func:`find_peaks` turns score maps and offsets into keypoint *candidates*: for every image
and bodypart, the cells that are local maxima of the score map (equal to the maximum of their
``nms_kernel x nms_kernel`` neighbourhood, "max-pool NMS") and score at least ``threshold``,
each refined by the offset predicted at that cell exactly as
:mod:`posekit.predict.decode` does for the single peak::

    x = j * stride + (stride - 1) / 2 + locref_x[j] * locref_stdev   (same for y)

Peaks whose refined positions lie within ``min_distance`` pixels (inclusive) of a stronger
peak of the same bodypart are dropped (a plateau of equal cells gives one candidate).

:func:`assemble_outputs` then groups each image's candidates into individuals with
:func:`posekit.multi.assembly.assemble`, scoring candidate pairs by the part-affinity-field
line integral (:class:`posekit.multi.scoring.PafScorer`), optionally multiplied by a prior on
limb lengths learned from the training labels
(:class:`posekit.multi.scoring.DistancePriorScorer`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from posekit.data.targets import cell_centers
from posekit.errors import ModelError
from posekit.multi.assembly import AssemblyOptions, assemble, pick_unique
from posekit.multi.scoring import (
    DistancePriorScorer,
    EdgePriors,
    PafScorer,
    combine_scorers,
)

ArrayLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class PeakOptions:
    """How candidates are found.

    Attributes
    ----------
    threshold : float
        Smallest score-map probability of a candidate, in (0, 1).
    nms_kernel : int
        Odd side (cells) of the neighbourhood a peak must be the maximum of.
    min_distance : float or None
        Candidates of one bodypart this close (pixels) to a stronger one, or closer, are dropped;
        None means one output stride.
    max_candidates : int
        Most candidates kept per bodypart and image (strongest first).
    """

    threshold: float = 0.1
    nms_kernel: int = 3
    min_distance: float | None = None
    max_candidates: int = 20

    def __post_init__(self) -> None:
        if not 0.0 < float(self.threshold) < 1.0:
            raise ModelError(f"threshold must be in (0, 1), found {self.threshold!r}.")
        if isinstance(self.nms_kernel, bool) or not isinstance(self.nms_kernel, int) \
                or self.nms_kernel < 1 or self.nms_kernel % 2 == 0:
            raise ModelError(f"nms_kernel must be a positive odd integer, found "
                             f"{self.nms_kernel!r}.")
        if self.min_distance is not None and not float(self.min_distance) >= 0.0:
            raise ModelError(f"min_distance must be >= 0 pixels or None, found "
                             f"{self.min_distance!r}.")
        if isinstance(self.max_candidates, bool) or not isinstance(self.max_candidates, int) \
                or self.max_candidates < 1:
            raise ModelError(f"max_candidates must be a positive integer, found "
                             f"{self.max_candidates!r}.")


def find_peaks(heatmaps: ArrayLike, locref: ArrayLike | None = None, *, stride: int,
               locref_stdev: float, options: PeakOptions = PeakOptions(),
               logits: bool = True) -> list[list[np.ndarray]]:
    """Every local maximum of every score map, refined by the offsets: keypoint candidates.

    Parameters
    ----------
    heatmaps : (B, K, h, w) numpy array or torch tensor
        Score maps: logits (``logits=True``, the network's output) or probabilities.
    locref : (B, 2K, h, w) array or tensor, or None
        Offsets in ``locref_stdev`` units, channels ``x_0, y_0, x_1, y_1, ...``; None
        gives cell centers.
    stride : int
        The model's output stride.
    locref_stdev : float
        Pixels per offset unit.
    options : PeakOptions
        Threshold, NMS neighbourhood, minimum distance, most candidates.
    logits : bool
        Whether ``heatmaps`` are logits.

    Returns
    -------
    list (B) of list (K) of ndarray, shape (n_k, 3)
        x, y (pixels, origin at the top-left pixel's center) and probability of each
        candidate, strongest first; ``n_k`` may be 0.

    Raises
    ------
    ModelError
        On wrong dimensions or mismatched shapes, a bad stride or offset scale.
    """
    scores, offsets = _as_tensors(heatmaps, locref, stride, locref_stdev)
    probs = torch.sigmoid(scores) if logits else scores
    k = options.nms_kernel
    pooled = F.max_pool2d(probs, kernel_size=k, stride=1, padding=k // 2)
    keep = (probs >= pooled) & (probs >= options.threshold)
    batch, parts, rows, cols = probs.shape
    index = torch.nonzero(keep, as_tuple=True)
    value = probs[index].numpy().astype(np.float64)
    b_idx, k_idx, i_idx, j_idx = (t.numpy() for t in index)
    x = cell_centers(cols, stride)[j_idx]
    y = cell_centers(rows, stride)[i_idx]
    if offsets is not None:
        off = offsets.reshape(batch, parts, 2, rows, cols)
        x = x + off[index[0], index[1], 0, index[2], index[3]].numpy().astype(np.float64) \
            * locref_stdev
        y = y + off[index[0], index[1], 1, index[2], index[3]].numpy().astype(np.float64) \
            * locref_stdev
    found = np.stack([x, y, value], axis=1) if len(value) else np.zeros((0, 3))
    min_distance = float(stride if options.min_distance is None else options.min_distance)
    out: list[list[np.ndarray]] = [[np.zeros((0, 3)) for _ in range(parts)]
                                   for _ in range(batch)]
    group = b_idx * parts + k_idx
    order = np.lexsort((-value, group))
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for chunk in np.split(order, bounds) if len(order) else []:
        b, part = divmod(int(group[chunk[0]]), parts)
        out[b][part] = _suppress(found[chunk], min_distance, options.max_candidates)
    return out


def _suppress(candidates: np.ndarray, min_distance: float, most: int) -> np.ndarray:
    """Greedy: keep the strongest, drop those within ``min_distance`` of a kept one."""
    kept: list[int] = []
    for n in range(len(candidates)):
        if len(kept) >= most:
            break
        if kept and np.min(np.hypot(*(candidates[kept, :2] - candidates[n, :2]).T)) \
                <= min_distance:
            continue
        kept.append(n)
    return candidates[kept]


def _as_tensors(heatmaps: ArrayLike, locref: ArrayLike | None, stride: int,
                locref_stdev: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    def tensor(value: ArrayLike, name: str) -> torch.Tensor:
        if isinstance(value, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
        if isinstance(value, torch.Tensor):
            return value.detach().to("cpu", torch.float32)
        raise ModelError(f"{name} must be a numpy array or torch tensor, got "
                         f"{type(value).__name__}.")

    scores = tensor(heatmaps, "heatmaps")
    if scores.ndim != 4 or min(scores.shape) < 1:
        raise ModelError(f"heatmaps must have shape (B, K, h, w), got {tuple(scores.shape)}.")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ModelError(f"stride must be a positive integer, got {stride!r}.")
    if not np.isfinite(locref_stdev) or locref_stdev <= 0:
        raise ModelError(f"locref_stdev must be a positive number, got {locref_stdev!r}.")
    if locref is None:
        return scores, None
    offsets = tensor(locref, "locref")
    batch, parts, rows, cols = scores.shape
    if tuple(offsets.shape) != (batch, 2 * parts, rows, cols):
        raise ModelError(f"locref must have shape {(batch, 2 * parts, rows, cols)} to match "
                         f"heatmaps {tuple(scores.shape)}, got {tuple(offsets.shape)}.")
    return scores, offsets


# --------------------------------------------------------------------------- assembly


@dataclass(frozen=True)
class GroupingOptions:
    """How one image's candidates become individuals.

    Attributes
    ----------
    peaks : PeakOptions
        Candidate detection.
    assembly : AssemblyOptions
        Thresholds of :func:`posekit.multi.assembly.assemble`.
    paf_samples : int
        Points sampled along each candidate pair for the field's line integral.
    use_length_prior : bool
        Multiply the field scores by the learned limb-length prior, when the model has one.
    keypoint_noise : float
        Localization error assumed by the length prior (pixels).
    """

    peaks: PeakOptions = field(default_factory=PeakOptions)
    assembly: AssemblyOptions = field(default_factory=AssemblyOptions)
    paf_samples: int = 10
    use_length_prior: bool = True
    keypoint_noise: float = 4.0


def assemble_outputs(candidates: Sequence[Sequence[np.ndarray]], pafs: ArrayLike, *,
                     edges: Sequence[tuple[int, int]], stride: int, max_individuals: int,
                     unique_bodyparts: Sequence[int] = (),
                     priors: EdgePriors | None = None,
                     options: GroupingOptions = GroupingOptions()
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group each image's candidates into individuals using its part affinity fields.

    Parameters
    ----------
    candidates : list (B) of list (K) of (n_k, 3)
        From :func:`find_peaks`.
    pafs : (B, 2E, h, w) array or tensor
        The network's fields, one x/y pair per edge of ``edges``.
    edges : sequence of (int, int)
        The model's edge list (bodypart index pairs).
    stride : int
        The model's output stride.
    max_individuals : int
        Most animals per image.
    unique_bodyparts : sequence of int
        Bodypart indices that belong to no animal (they get their best candidate).
    priors : EdgePriors, optional
        Limb-length statistics of the training labels (same edges).
    options : GroupingOptions

    Returns
    -------
    list (B) of (individuals, unique)
        ``individuals: (n_individuals, K, 3)`` x, y, score (strongest animal first, NaN
        where an animal has no keypoint) and ``unique: (K, 3)`` (NaN except the unique
        bodyparts' best candidates).

    Raises
    ------
    ModelError
        If the fields do not have one x/y pair per edge for each image.
    """
    fields = pafs.detach().cpu().numpy() if isinstance(pafs, torch.Tensor) else np.asarray(pafs)
    edges = [(int(a), int(b)) for a, b in edges]
    if fields.ndim != 4 or fields.shape[0] != len(candidates) \
            or fields.shape[1] != 2 * len(edges):
        raise ModelError(f"pafs must have shape ({len(candidates)}, {2 * len(edges)}, h, w) "
                         f"(one x/y pair per edge for each image), got {fields.shape}.")
    prior = None
    if priors is not None and options.use_length_prior:
        prior = DistancePriorScorer(priors, keypoint_noise=options.keypoint_noise)
    results = []
    for image, cands in enumerate(candidates):
        scorer = PafScorer(fields[image].reshape(len(edges), 2, *fields.shape[2:]),
                           stride=stride, n_samples=options.paf_samples)
        if prior is not None:
            scorer = combine_scorers(scorer, prior)
        individuals = assemble(list(cands), edges, edge_scores=scorer,
                               max_individuals=max_individuals,
                               unique_bodyparts=unique_bodyparts, options=options.assembly)
        unique = (pick_unique(list(cands), unique_bodyparts) if len(unique_bodyparts)
                  else np.full((len(cands), 3), np.nan))
        results.append((individuals, unique))
    return results


def decode_multi_outputs(outputs: Mapping[str, ArrayLike], *, stride: int,
                         locref_stdev: float, edges: Sequence[tuple[int, int]],
                         max_individuals: int, unique_bodyparts: Sequence[int] = (),
                         priors: EdgePriors | None = None,
                         options: GroupingOptions = GroupingOptions()
                         ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`find_peaks` then :func:`assemble_outputs` on a network's (or ONNX graph's) outputs.

    Parameters
    ----------
    outputs : mapping
        ``"heatmaps" (B, K, h, w)`` logits, ``"locref" (B, 2K, h, w)``, ``"paf" (B, 2E, h, w)``.
    stride, locref_stdev : the model's
    edges, max_individuals, unique_bodyparts, priors, options
        As for :func:`assemble_outputs`.

    Returns
    -------
    list (B) of (individuals (n_individuals, K, 3), unique (K, 3))
    """
    missing = [key for key in ("heatmaps", "locref", "paf") if key not in outputs]
    if missing:
        raise ModelError(f"outputs lack {missing}; got keys {sorted(outputs)}.")
    candidates = find_peaks(outputs["heatmaps"], outputs["locref"], stride=stride,
                            locref_stdev=locref_stdev, options=options.peaks)
    return assemble_outputs(candidates, outputs["paf"], edges=edges, stride=stride,
                            max_individuals=max_individuals, unique_bodyparts=unique_bodyparts,
                            priors=priors, options=options)


# --------------------------------------------------------------------------- predictor


@dataclass(frozen=True)
class MultiModelSpec:
    """What a multi-animal network's outputs mean, and how frames are prepared for it.

    Stored in the model folder's ``model.json`` under ``"multi"`` (:meth:`to_json`).

    Attributes
    ----------
    bodyparts : list of str
        Bodyparts every animal has (the first ``len(bodyparts)`` score maps).
    unique_bodyparts : list of str
        Bodyparts of the scene (the following score maps; no fields).
    individuals : list of str
        The project's animals: ``max_individuals = len(individuals)``.
    edges : list of (int, int)
        Bodypart index pairs, one part affinity field each.
    stride : int
        Output stride.
    locref_stdev : float
        Pixels per offset unit.
    global_scale : float
        Frames are resized by this factor before the network (and predictions scaled back).
    priors : EdgePriors or None
        Limb lengths in the training labels (pixels of the resized frames).
    """

    bodyparts: list[str]
    unique_bodyparts: list[str]
    individuals: list[str]
    edges: list[tuple[int, int]]
    stride: int
    locref_stdev: float
    global_scale: float = 1.0
    priors: EdgePriors | None = None

    @property
    def all_bodyparts(self) -> list[str]:
        """Bodyparts then unique bodyparts: the score maps' order."""
        return list(self.bodyparts) + list(self.unique_bodyparts)

    @property
    def unique_indices(self) -> list[int]:
        """Indices of the unique bodyparts among :attr:`all_bodyparts`."""
        return list(range(len(self.bodyparts), len(self.all_bodyparts)))

    def to_json(self) -> dict:
        """A JSON-able dict (:meth:`from_json` reads it back)."""
        priors = None if self.priors is None else {
            "mean": self.priors.mean.tolist(), "std": self.priors.std.tolist(),
            "n_samples": self.priors.n_samples.tolist()}
        return {"bodyparts": list(self.bodyparts), "unique_bodyparts": list(self.unique_bodyparts),
                "individuals": list(self.individuals), "edges": [list(e) for e in self.edges],
                "edge_names": [[self.all_bodyparts[a], self.all_bodyparts[b]]
                               for a, b in self.edges],
                "stride": self.stride, "locref_stdev": self.locref_stdev,
                "global_scale": self.global_scale, "priors": priors}

    @classmethod
    def from_json(cls, data: Mapping) -> MultiModelSpec:
        """Read :meth:`to_json`'s dict.

        Raises
        ------
        ModelError
            If keys are missing.
        """
        try:
            edges = [(int(a), int(b)) for a, b in data["edges"]]
            priors = data.get("priors")
            if priors is not None:
                priors = EdgePriors(edges=tuple(edges), mean=np.asarray(priors["mean"], float),
                                    std=np.asarray(priors["std"], float),
                                    n_samples=np.asarray(priors["n_samples"], int))
            return cls(bodyparts=list(data["bodyparts"]),
                       unique_bodyparts=list(data["unique_bodyparts"]),
                       individuals=list(data["individuals"]), edges=edges,
                       stride=int(data["stride"]), locref_stdev=float(data["locref_stdev"]),
                       global_scale=float(data.get("global_scale", 1.0)), priors=priors)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(f"the multi-animal model description is incomplete or malformed "
                             f"({type(error).__name__}: {error}); retrain the model.") from None


Runner = Callable[[np.ndarray], Mapping[str, ArrayLike]]


def resize_frames(frames: np.ndarray, scale: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize ``frames: (B, H, W, 3)`` by ``scale`` (area interpolation when shrinking).

    Returns
    -------
    frames : (B, h, w, 3) uint8
    (sx, sy) : output pixels per input pixel along x and y (``x' = (x + 0.5) * sx - 0.5``).
    """
    if scale == 1.0:
        return frames, (1.0, 1.0)
    height, width = frames.shape[1:3]
    new_w, new_h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = np.stack([cv2.resize(f, (new_w, new_h), interpolation=method) for f in frames])
    return out, (new_w / width, new_h / height)


class MultiPredictor:
    """Frames in, assembled animals out (before tracking).

    Parameters
    ----------
    runner : callable
        ``runner(images (B, 3, H, W) float32 normalized) -> {"heatmaps", "locref", "paf"}``
        (a PyTorch model or an ONNX Runtime session behind a function).
    spec : MultiModelSpec
        The meaning of the outputs.
    scorer : str
        Name of the model written into outputs.
    model_info : dict
        Provenance recorded in outputs.
    options : GroupingOptions
        Peak detection and assembly settings.
    """

    def __init__(self, runner: Runner, *, spec: MultiModelSpec, scorer: str = "posekit",
                 model_info: dict | None = None,
                 options: GroupingOptions = GroupingOptions()) -> None:
        self.runner = runner
        self.spec = spec
        self.scorer = scorer
        self.model_info = dict(model_info or {})
        self.options = options

    @property
    def bodyparts(self) -> list[str]:
        """All bodyparts, unique ones last: the K of the outputs."""
        return self.spec.all_bodyparts

    def predict_frames(self, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Animals in each of ``frames: (B, H, W, 3)`` uint8 RGB.

        Returns
        -------
        list (B) of (individuals, unique)
            ``individuals: (n_individuals, K, 3)`` x, y, likelihood in frame pixels
            (strongest first, at most ``len(spec.individuals)``, unique bodyparts NaN) and
            ``unique: (K, 3)`` (NaN except the unique bodyparts).
        """
        from posekit.models.normalize import normalize_images
        from posekit.predict.onnx_engine import pad_frames

        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ModelError(f"frames must be uint8 RGB of shape (B, H, W, 3), got "
                             f"{frames.dtype} {frames.shape}.")
        small, (sx, sy) = resize_frames(frames, self.spec.global_scale)
        outputs = self.runner(normalize_images(pad_frames(small)))
        results = decode_multi_outputs(
            outputs, stride=self.spec.stride, locref_stdev=self.spec.locref_stdev,
            edges=self.spec.edges, max_individuals=len(self.spec.individuals),
            unique_bodyparts=self.spec.unique_indices, priors=self.spec.priors,
            options=self.options)
        scale = np.array([sx, sy])
        back = []
        for individuals, unique in results:
            for array in (individuals, unique):
                array[..., :2] = (array[..., :2] + 0.5) / scale - 0.5
            back.append((individuals, unique))
        return back


def torch_runner(model: torch.nn.Module, device: str = "cpu") -> Runner:
    """A :data:`Runner` for a PyTorch model (run in inference mode, without gradients)."""

    def run(images: np.ndarray) -> Mapping[str, torch.Tensor]:
        with torch.no_grad():
            batch = torch.from_numpy(images).to(device, memory_format=torch.channels_last)
            return model(batch)

    return run
