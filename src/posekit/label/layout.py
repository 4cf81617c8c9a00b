"""The labeling app's view of one frame: a flat list of slots (individual, bodypart).

A project's pose has ``n_individuals * n_bodyparts`` slots (individual-major, as in
:class:`posekit.io.labels.Labels`) followed by one slot per unique bodypart. Unique bodyparts
belong to the reserved individual ``"single"`` (DeepLabCut's convention). A frame is held as

- ``xy``: (n_slots, 2) float array, NaN where no point is placed;
- ``hidden``: (n_slots,) bool array, True where the user marked the bodypart not visible.

In JSON a frame is ``{"points": {individual: {bodypart: [x, y]}}, "not_visible":
{individual: [bodypart, ...]}}``; slots that are absent are "not labeled yet".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from posekit.io.labels import SINGLE, Labels
from posekit.project import ProjectConfig


@dataclass(frozen=True)
class Layout:
    """Individuals and bodyparts of a project, as the app numbers them.

    Attributes
    ----------
    individuals : tuple of str
        Individuals (``("animal",)`` for a single-animal project).
    bodyparts : tuple of str
        Bodyparts every individual has.
    unique : tuple of str
        Unique bodyparts (multi-animal only), under the individual ``"single"``.
    multi_animal : bool
        Whether label files have an ``individuals`` column level.
    """

    individuals: tuple[str, ...]
    bodyparts: tuple[str, ...]
    unique: tuple[str, ...]
    multi_animal: bool = False

    @classmethod
    def from_config(cls, config: ProjectConfig) -> Layout:
        """The layout of a project config."""
        return cls(tuple(config.individual_names), tuple(config.pose_bodyparts),
                   tuple(config.unique_bodyparts), config.is_multi_animal)

    @property
    def n_slots(self) -> int:
        """Number of slots: individuals x bodyparts + unique bodyparts."""
        return len(self.individuals) * len(self.bodyparts) + len(self.unique)

    def slots(self) -> list[tuple[str, str]]:
        """(individual, bodypart) of every slot, in slot order."""
        pose = [(ind, bp) for ind in self.individuals for bp in self.bodyparts]
        return pose + [(SINGLE, bp) for bp in self.unique]

    def slot_index(self) -> dict[tuple[str, str], int]:
        """Slot number of each (individual, bodypart)."""
        return {slot: i for i, slot in enumerate(self.slots())}

    def individual_bodyparts(self) -> dict[str, tuple[str, ...]]:
        """Bodyparts each individual (and ``"single"``, if any unique bodyparts) may have."""
        names = {ind: self.bodyparts for ind in self.individuals}
        if self.unique:
            names[SINGLE] = self.unique
        return names

    def rows_xy(self, labels: Labels) -> np.ndarray:
        """All rows of ``labels`` as slots: (n_images, n_slots, 2)."""
        n_pose = len(self.individuals) * len(self.bodyparts)
        pose = labels.points.reshape(len(labels), n_pose, 2)
        unique = labels.unique_points.reshape(len(labels), len(self.unique), 2)
        return np.concatenate([pose, unique], axis=1)

    def row_xy(self, labels: Labels, row: int) -> np.ndarray:
        """One row of ``labels`` as slots: (n_slots, 2), a copy."""
        return np.concatenate([labels.points[row].reshape(-1, 2),
                               labels.unique_points[row].reshape(-1, 2)])

    def set_row(self, labels: Labels, row: int, xy: np.ndarray) -> None:
        """Write slots ``xy`` (n_slots, 2) into row ``row`` of ``labels`` (in place)."""
        n_pose = len(self.individuals) * len(self.bodyparts)
        labels.points[row] = xy[:n_pose].reshape(len(self.individuals), len(self.bodyparts), 2)
        labels.unique_points[row] = xy[n_pose:].reshape(len(self.unique), 2)

    def to_json(self, xy: np.ndarray, hidden: np.ndarray) -> dict:
        """JSON form of a frame: ``{"points": ..., "not_visible": ...}``."""
        points: dict[str, dict[str, list[float]]] = {}
        not_visible: dict[str, list[str]] = {}
        placed = placed_mask(xy)
        for i, (ind, bp) in enumerate(self.slots()):
            if placed[i]:
                points.setdefault(ind, {})[bp] = [float(xy[i, 0]), float(xy[i, 1])]
            elif hidden[i]:
                not_visible.setdefault(ind, []).append(bp)
        return {"points": points, "not_visible": not_visible}


def placed_mask(xy: np.ndarray) -> np.ndarray:
    """True where a slot holds a point: (..., n_slots, 2) -> (..., n_slots)."""
    return np.isfinite(xy).all(axis=-1)


def same_points(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two (n_slots, 2) point arrays place the same points (NaN equals NaN)."""
    placed = placed_mask(a)
    return bool(np.array_equal(placed, placed_mask(b)) and np.array_equal(a[placed], b[placed]))


def frame_rev(xy: np.ndarray, hidden: np.ndarray) -> str:
    """A short hash of a frame's state; equal states have equal revisions.

    Parameters
    ----------
    xy : ndarray, shape (n_slots, 2)
        Points, NaN where none.
    hidden : ndarray, shape (n_slots,)
        Not-visible marks.
    """
    placed = placed_mask(xy)
    clean = np.where(placed[:, None], xy, 0.0).astype("<f8")
    digest = hashlib.sha256()
    digest.update(clean.tobytes())
    digest.update(placed.astype(np.uint8).tobytes())
    digest.update((np.asarray(hidden, bool) & ~placed).astype(np.uint8).tobytes())
    return digest.hexdigest()[:16]


def frame_status(xy: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Status of frames: 0 empty, 1 partial, 2 complete.

    Parameters
    ----------
    xy : ndarray, shape (n_frames, n_slots, 2)
    hidden : ndarray, shape (n_frames, n_slots)

    Returns
    -------
    ndarray, shape (n_frames,), int8
        Complete when every slot holds a point or is marked not visible; partial when some
        do; empty when none does.
    """
    resolved = placed_mask(xy) | np.asarray(hidden, bool)
    status = np.zeros(len(xy), dtype=np.int8)
    if resolved.shape[1] == 0:
        return status
    status[resolved.any(axis=1)] = 1
    status[resolved.all(axis=1)] = 2
    return status
