"""Synthetic multi-animal scenes and the two-fly fixture, for tests/multi and tests/evaluate.

Imported as ``from multi.scenes import ...`` (tests/ is on sys.path).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from fixture_paths import TEST_DATA

FLIES_LABELS = TEST_DATA / "sleap" / "clip.slp"
FLIES_PREDICTIONS = TEST_DATA / "sleap" / "clip.predictions.slp"


def walker(start: tuple[float, float], velocity: tuple[float, float], n_frames: int, *,
           n_bodyparts: int = 3, spacing: float = 10.0, likelihood: float = 0.9) -> np.ndarray:
    """An animal moving at constant velocity: (n_frames, n_bodyparts, 3).

    Its keypoints lie on a line through its position, ``spacing`` apart, along the
    direction of motion (or along x when it stands still), bent a little so that every
    keypoint pair has its own distance.
    """
    v = np.asarray(velocity, dtype=float)
    heading = v / np.linalg.norm(v) if np.linalg.norm(v) > 0 else np.array([1.0, 0.0])
    side = np.array([-heading[1], heading[0]])
    t = np.arange(n_frames)[:, None]
    center = np.asarray(start, dtype=float) + t * v                      # (n_frames, 2)
    offsets = np.array([k * spacing * heading + (k % 2) * 0.3 * spacing * side
                        for k in range(n_bodyparts)])
    xy = center[:, None, :] + offsets[None]
    return np.concatenate([xy, np.full((n_frames, n_bodyparts, 1), likelihood)], axis=-1)


def detections(*animals: np.ndarray, seed: int = 0) -> np.ndarray:
    """Stack animals (each (n_frames, n_bodyparts, 3)) into per-frame detections in a random
    order per frame: (n_frames, n_animals, n_bodyparts, 3)."""
    stacked = np.stack(animals, axis=1)
    rng = np.random.default_rng(seed)
    for f in range(stacked.shape[0]):
        stacked[f] = stacked[f, rng.permutation(stacked.shape[1])]
    return stacked


def candidates_of(animals: np.ndarray, score: float = 1.0) -> list[np.ndarray]:
    """One frame's animals (n_animals, n_bodyparts, 2+) pooled per bodypart: assembly input."""
    out = []
    for k in range(animals.shape[1]):
        xy = animals[:, k, :2]
        xy = xy[np.isfinite(xy).all(axis=1)]
        out.append(np.concatenate([xy, np.full((len(xy), 1), score)], axis=1))
    return out


@lru_cache(maxsize=1)
def flies_truth() -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """Labels of clip.slp: (1500, 2 tracks [female, male], 13 bodyparts, 2), names, edges."""
    import sleap_io

    labels = sleap_io.load_slp(str(FLIES_LABELS))
    names = list(labels.skeletons[0].node_names)
    tracks = [t.name for t in labels.tracks]
    truth = np.full((1500, len(tracks), len(names), 2), np.nan)
    for frame in labels.labeled_frames:
        for inst in frame.instances:
            truth[frame.frame_idx, tracks.index(inst.track.name)] = inst.numpy()
    edges = [(e.source.name, e.destination.name) for e in labels.skeletons[0].edges]
    return truth, names, edges


@lru_cache(maxsize=1)
def flies_predictions() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """clip.predictions.slp: tracked (1500, 2, 2, 3) as SLEAP left them, the same instances
    per frame in a shuffled order without identities (1500, 2, 2, 3), bodypart names."""
    import sleap_io

    labels = sleap_io.load_slp(str(FLIES_PREDICTIONS))
    names = list(labels.skeletons[0].node_names)
    tracks = [t.name for t in labels.tracks]
    tracked = np.full((1500, len(tracks), len(names), 3), np.nan)
    untracked = np.full((1500, 2, len(names), 3), np.nan)
    rng = np.random.default_rng(0)
    for frame in labels.labeled_frames:
        instances = list(frame.instances)
        for n, i in enumerate(rng.permutation(len(instances))):
            untracked[frame.frame_idx, n] = instances[i].numpy(scores=True)
        for inst in instances:
            tracked[frame.frame_idx, tracks.index(inst.track.name)] = inst.numpy(scores=True)
    return tracked, untracked, names
