"""The labels of a project as the labeling app serves them: read, merged and written safely.

Each labeled-data folder is cached in memory together with a signature of its files
(modification time, size and inode of the CollectedData h5/csv and of the not-visible marks),
and re-read whenever the signature changes, so edits made elsewhere (another tab, another
program) are seen.

Concurrency: every frame has a revision, a hash of its points and marks. An edit carries the
revision it was made on. Under the folder's lock the store re-reads the files if they changed,
compares the frame's current revision, applies only that frame and writes the whole file
atomically (h5 and csv, via :func:`write_folder_labels`). Edits of different frames therefore
merge; an edit of a frame that changed since the editor loaded it is refused with HTTP 409
and the frame's current state, unless it leaves the frame exactly as it now is.

The folder's lock is a thread lock shared by every store of the process plus, on POSIX
systems, an exclusive ``flock`` on ``labeled-data/<folder>/.posekit-label.lock``, so two
servers (two ``posekit label`` processes) on one project merge their edits too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.errors import PosekitError
from posekit.io.labels import Labels
from posekit.label.imagesize import image_size
from posekit.label.layout import Layout, frame_rev, frame_status, placed_mask, same_points
from posekit.label.machine import MachineLabels, find_machine_file, read_machine_labels
from posekit.label.marks import marks_path, read_marks, write_marks
from posekit.label.paths import LabelRequestError, folder_path, image_path, list_images
from posekit.label.validate import FrameEdit
from posekit.project import Project
from posekit.project.labels import read_folder_labels, write_folder_labels

logger = logging.getLogger(__name__)

STATUS_CODES = "epcm"  # empty, partial, complete, machine predictions waiting
STATUS_NAMES = ("empty", "partial", "complete", "predicted")
MAX_PAGE = 2000
LOCK_FILE = ".posekit-label.lock"

_PROCESS_GUARD = threading.Lock()
_PROCESS_LOCKS: dict[str, threading.RLock] = {}


def _thread_lock(directory: Path) -> threading.RLock:
    """The lock of one folder, shared by every store in this process."""
    key = os.path.realpath(directory)
    with _PROCESS_GUARD:
        return _PROCESS_LOCKS.setdefault(key, threading.RLock())


@contextlib.contextmanager
def _file_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder against other processes (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # Windows: one server per project
        yield
        return
    with open(directory / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass
class FolderState:
    """One folder's labels in memory.

    Attributes
    ----------
    labels : Labels
        The folder's CollectedData, bodyparts in config order.
    rows : dict of str to int
        Row of ``labels`` holding each image of this folder, by file name.
    marks : dict of str to ndarray
        Not-visible marks (n_slots,) per image name.
    signature : tuple
        File signatures the state was read from.
    """

    labels: Labels
    rows: dict[str, int]
    marks: dict[str, np.ndarray]
    signature: tuple


class LabelStore:
    """Labels, images and predictions of one project, for the web app (thread-safe).

    Parameters
    ----------
    project : Project
        The open project.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.layout = Layout.from_config(project.config)
        self._states: dict[str, FolderState] = {}
        self._listings: dict[str, tuple[tuple, list[str], dict[str, int]]] = {}
        self._machine: dict[str, tuple[tuple, MachineLabels | None]] = {}
        self._machine_paths: dict[str, tuple[tuple | None, Path | None]] = {}
        self._sizes: dict[tuple[str, tuple], tuple[int, int]] = {}
        self._status: dict[str, tuple[tuple, str]] = {}

    # -- caches -----------------------------------------------------------------------------
    def lock(self, folder: str) -> threading.RLock:
        """The lock serializing reads and writes of one folder within this process."""
        return _thread_lock(folder_path(self.project, folder))

    @contextlib.contextmanager
    def write_lock(self, folder: str) -> Iterator[None]:
        """The folder's lock against other threads and other processes, for a write."""
        with self.lock(folder):
            try:
                with _file_lock(folder_path(self.project, folder)):
                    yield
            except OSError as error:
                raise LabelRequestError(409, f"The labels of folder {folder!r} cannot be "
                                             f"written: {error}. Check that the folder is "
                                             f"writable and the disk is not full.") from None

    def images(self, folder: str) -> tuple[list[str], dict[str, int]]:
        """Image names of a folder (sorted) and the index of each name."""
        directory = folder_path(self.project, folder)
        signature = _stat(directory)
        cached = self._listings.get(folder)
        if cached is None or cached[0] != signature:
            names = list_images(self.project, directory)
            cached = (signature, names, {name: i for i, name in enumerate(names)})
            self._listings[folder] = cached
        return cached[1], cached[2]

    def _signature(self, directory: Path) -> tuple:
        h5 = self.project.labels_path(directory)
        return (_stat(h5), _stat(h5.with_suffix(".csv")), _stat(marks_path(directory)))

    def state(self, folder: str) -> FolderState:
        """The folder's labels, re-read if its files changed since last time.

        Raises
        ------
        LabelRequestError
            409 if the label file cannot be read or does not fit the project.
        """
        directory = folder_path(self.project, folder)
        with self.lock(folder):
            signature = self._signature(directory)
            state = self._states.get(folder)
            if state is None or state.signature != signature:
                state = self._read(folder, directory, signature)
                self._states[folder] = state
            return state

    def _read(self, folder: str, directory: Path, signature: tuple) -> FolderState:
        try:
            labels = read_folder_labels(self.project, directory)
        except PosekitError as error:
            raise LabelRequestError(409, f"The labels of folder {folder!r} cannot be read: "
                                         f"{error}") from None
        rows = _rows(labels, folder)
        if len(rows) < len(labels):
            logger.warning("%d rows of %s name images outside %s; they are kept but not shown",
                           len(labels) - len(rows), self.project.labels_path(directory), folder)
        return FolderState(labels=labels, rows=rows, marks=read_marks(directory, self.layout),
                           signature=signature)

    def machine(self, folder: str) -> MachineLabels | None:
        """The folder's newest machine predictions, or None."""
        directory = folder_path(self.project, folder)
        listing = _stat(directory)
        found = self._machine_paths.get(folder)
        if found is None or found[0] != listing:  # look again only when files come or go
            found = (listing, find_machine_file(directory))
            self._machine_paths[folder] = found
        path = found[1]
        signature = (str(path), _stat(path)) if path else None
        cached = self._machine.get(folder)
        if cached is None or cached[0] != signature:
            machine = None
            if path is not None:
                try:
                    machine = read_machine_labels(path, self.layout)
                except PosekitError as error:
                    raise LabelRequestError(409, str(error)) from None
            cached = (signature, machine)
            self._machine[folder] = cached
        return cached[1]

    def size(self, folder: str, image: str) -> tuple[int, int]:
        """Width and height of an image (cached)."""
        path = image_path(self.project, folder_path(self.project, folder), image)
        key = (str(path), _stat(path))
        if key not in self._sizes:
            try:
                self._sizes[key] = image_size(path)
            except (PosekitError, OSError) as error:
                raise LabelRequestError(409, f"Image {image!r} cannot be read: {error}") \
                    from None
        return self._sizes[key]

    # -- reading ----------------------------------------------------------------------------
    def frame_arrays(self, state: FolderState, image: str) -> tuple[np.ndarray, np.ndarray]:
        """Points (n_slots, 2) and not-visible marks (n_slots,) of one image."""
        row = state.rows.get(image)
        if row is None:
            xy = np.full((self.layout.n_slots, 2), np.nan)
        else:
            xy = self.layout.row_xy(state.labels, row)
        hidden = state.marks.get(image, np.zeros(self.layout.n_slots, dtype=bool))
        return xy, hidden & ~placed_mask(xy)

    def status_string(self, folder: str) -> str:
        """One character per image of the folder: e(mpty), p(artial), c(omplete), m.

        ``m`` marks an image with machine predictions and no labels yet.
        """
        with self.lock(folder):
            names, _ = self.images(folder)
            state = self.state(folder)
            machine = self.machine(folder)
            key = (self._listings[folder][0], state.signature, self._machine[folder][0])
            cached = self._status.get(folder)
            if cached is not None and cached[0] == key:
                return cached[1]
            n_slots = self.layout.n_slots
            xy = np.full((len(names), n_slots, 2), np.nan)
            hidden = np.zeros((len(names), n_slots), dtype=bool)
            all_xy = self.layout.rows_xy(state.labels)
            for i, name in enumerate(names):
                row = state.rows.get(name)
                if row is not None:
                    xy[i] = all_xy[row]
                mark = state.marks.get(name)
                if mark is not None:
                    hidden[i] = mark
            codes = frame_status(xy, hidden)
            if machine is not None:
                for i, name in enumerate(names):
                    if codes[i] == 0 and machine.frame(name) is not None:
                        codes[i] = 3
            status = "".join(STATUS_CODES[c] for c in codes)
            self._status[folder] = (key, status)
            return status

    def summary(self, folder: str) -> dict:
        """Counts and per-image status of a folder (no points)."""
        status = self.status_string(folder)
        machine = self.machine(folder)
        counts = {name: status.count(code) for code, name in zip(STATUS_CODES, STATUS_NAMES,
                                                                  strict=True)}
        return {"folder": folder, "n_frames": len(status), "status": status,
                "version": self.version(folder), "counts": counts,
                "machine_file": machine.path.name if machine else None}

    def version(self, folder: str) -> str:
        """A short hash that changes whenever the folder's label files change."""
        signature = self.state(folder).signature
        return hashlib.sha256(repr(signature).encode()).hexdigest()[:16]

    def page(self, folder: str, offset: int, limit: int) -> dict:
        """Names and status of images ``offset`` to ``offset + limit`` of a folder."""
        names, _ = self.images(folder)
        status = self.status_string(folder)
        stop = min(len(names), offset + limit)
        return {"offset": offset, "total": len(names),
                "frames": [{"index": i, "name": names[i], "status": status[i]}
                           for i in range(offset, stop)]}

    def frame(self, folder: str, image: str) -> dict:
        """Everything the labeling view needs about one image."""
        names, index = self._check_frame(folder, image)
        width, height = self.size(folder, image)
        with self.lock(folder):
            state = self.state(folder)
            xy, hidden = self.frame_arrays(state, image)
        machine = self.machine(folder)
        predicted = machine.frame(image) if machine is not None else None
        code = frame_status(xy[None], hidden[None])[0]
        return {"folder": folder, "name": image, "index": index[image], "total": len(names),
                "width": width, "height": height, "rev": frame_rev(xy, hidden),
                "status": STATUS_NAMES[code], **self.layout.to_json(xy, hidden),
                "machine": self._machine_json(predicted, machine)}

    def _check_frame(self, folder: str, image: str) -> tuple[list[str], dict[str, int]]:
        names, index = self.images(folder)
        if image not in index:
            image_path(self.project, folder_path(self.project, folder), image)
            raise LabelRequestError(404, f"{image!r} is not a frame of folder {folder!r}.")
        return names, index

    def _machine_json(self, values: np.ndarray | None,
                      machine: MachineLabels | None) -> dict | None:
        if values is None or machine is None:
            return None
        points: dict[str, dict[str, list[float]]] = {}
        for i, (ind, bp) in enumerate(self.layout.slots()):
            x, y, likelihood = values[i]
            if np.isfinite(x) and np.isfinite(y):
                p = float(likelihood) if np.isfinite(likelihood) else None
                points.setdefault(ind, {})[bp] = [float(x), float(y), p]
        return {"file": machine.path.name, "points": points}

    # -- writing ----------------------------------------------------------------------------
    def put_frame(self, folder: str, image: str, edit: FrameEdit) -> dict:
        """Save one frame, merging with the rest of the folder as it is on disk now.

        Raises
        ------
        LabelRequestError
            409 with the frame's current state if it changed since ``edit.base_rev``.
        """
        self._check_frame(folder, image)
        with self.write_lock(folder):
            state = self.state(folder)
            current_xy, current_hidden = self.frame_arrays(state, image)
            current_rev = frame_rev(current_xy, current_hidden)
            new_rev = frame_rev(edit.xy, edit.hidden)
            if new_rev != current_rev:
                if edit.base_rev != current_rev:
                    raise LabelRequestError(
                        409, f"Frame {image} was changed elsewhere (another tab or program) "
                             f"after you loaded it; your edit was not saved. Load the current "
                             f"version, or overwrite it with yours.",
                        {"current": self.frame(folder, image)})
                self._write(folder, state, image, edit.xy, edit.hidden)
        return self.frame(folder, image)

    def accept_machine(self, folder: str, image: str, *, base_rev: str,
                       min_likelihood: float = 0.0) -> dict:
        """Turn the predictions of one frame into labels where nothing is labeled yet.

        Slots that already hold a point or are marked not visible keep their state; every
        other slot with a prediction whose likelihood is at least ``min_likelihood`` gets the
        predicted point (clipped onto the image).
        """
        self._check_frame(folder, image)
        machine = self.machine(folder)
        predicted = machine.frame(image) if machine is not None else None
        if predicted is None:
            raise LabelRequestError(404, f"Frame {image} of {folder!r} has no machine "
                                         f"predictions to accept.")
        width, height = self.size(folder, image)
        with self.write_lock(folder):
            state = self.state(folder)
            xy, hidden = self.frame_arrays(state, image)
            if base_rev != frame_rev(xy, hidden):
                raise LabelRequestError(409, f"Frame {image} was changed elsewhere after you "
                                             f"loaded it; reload it and accept again.",
                                        {"current": self.frame(folder, image)})
            likelihood = np.nan_to_num(predicted[:, 2], nan=1.0)
            take = (~placed_mask(xy) & ~hidden & placed_mask(predicted[:, :2])
                    & (likelihood >= min_likelihood))
            new_xy = xy.copy()
            new_xy[take, 0] = np.clip(predicted[take, 0], -0.5, width - 0.5)
            new_xy[take, 1] = np.clip(predicted[take, 1], -0.5, height - 0.5)
            if take.any():
                self._write(folder, state, image, new_xy, hidden)
        return self.frame(folder, image)

    def _write(self, folder: str, state: FolderState, image: str, xy: np.ndarray,
               hidden: np.ndarray) -> None:
        """Write one frame's new state (labels first, then marks) and refresh the cache."""
        directory = folder_path(self.project, folder)
        labels = state.labels
        row = state.rows.get(image)
        empty = not placed_mask(xy).any() and not hidden.any()
        if row is None and not empty:
            labels = _with_row(labels, f"labeled-data/{folder}/{image}", self.layout, xy)
        elif row is not None and empty:
            labels = labels.select([i for i in range(len(labels)) if i != row])
        elif row is not None and not same_points(self.layout.row_xy(labels, row), xy):
            labels = labels.select(range(len(labels)))
            self.layout.set_row(labels, row, xy)
        if labels is not state.labels:
            write_folder_labels(self.project, directory, labels)
        marks = dict(state.marks)
        old_mark = marks.pop(image, None)
        if hidden.any():
            marks[image] = hidden.copy()
        if not np.array_equal(old_mark if old_mark is not None else np.zeros_like(hidden),
                              hidden):
            write_marks(directory, self.layout, marks)
        logger.debug("saved frame %s/%s", folder, image)
        self._states[folder] = FolderState(labels=labels, rows=_rows(labels, folder),
                                           marks=marks, signature=self._signature(directory))


def _rows(labels: Labels, folder: str) -> dict[str, int]:
    """Row of each image of ``folder`` in ``labels``, by file name."""
    prefix = f"labeled-data/{folder}/"
    return {image[len(prefix):]: i for i, image in enumerate(labels.images)
            if image.startswith(prefix) and "/" not in image[len(prefix):]}


def _with_row(labels: Labels, image: str, layout: Layout, xy: np.ndarray) -> Labels:
    """A copy of ``labels`` with one more row, rows sorted by image path."""
    images = list(labels.images) + [image]
    n_ind, n_bp = len(labels.individuals), len(labels.bodyparts)
    points = np.concatenate([labels.points, np.full((1, n_ind, n_bp, 2), np.nan)])
    unique = np.concatenate([labels.unique_points,
                             np.full((1, len(labels.unique_bodyparts), 2), np.nan)])
    grown = Labels(images=images, points=points, bodyparts=list(labels.bodyparts),
                   individuals=list(labels.individuals), scorer=labels.scorer,
                   multi_animal=labels.multi_animal,
                   unique_bodyparts=list(labels.unique_bodyparts), unique_points=unique)
    layout.set_row(grown, len(images) - 1, xy)
    order = sorted(range(len(images)), key=lambda i: images[i])
    return grown.select(order)


def folder_image_count(directory: Path) -> int:
    """Number of image files in a folder (for the overview)."""
    from posekit.label.paths import IMAGE_SUFFIXES

    with os.scandir(directory) as entries:
        return sum(1 for e in entries if e.name.lower().endswith(IMAGE_SUFFIXES)
                   and not e.name.startswith("."))
