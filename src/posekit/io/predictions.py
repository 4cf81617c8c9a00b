"""2D keypoint predictions per video frame, and their files.

A :class:`Predictions` holds one array ``data: (n_frames, n_individuals, n_bodyparts, 3)``
(x, y, likelihood; NaN where missing) with the bodypart and individual names. On disk it is
DeepLabCut's analysis file: a pandas DataFrame under the h5 key ``df_with_missing``, one row
per frame (the index is the frame number), columns ``scorer/bodyparts/coords`` for a single
animal or ``scorer/individuals/bodyparts/coords`` for several, coords ``x, y, likelihood``,
float64; the ``.csv`` twin has the same header rows. SLEAP analysis h5 files (datasets
``tracks``, ``node_names``, ``track_names``, ``point_scores``) are read as well.

posekit's metadata (video path, fps, model, version ...) travels in the h5 file as a JSON
attribute ``posekit_metadata`` of the DataFrame's storer, which pandas and DeepLabCut ignore.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.atomic import write_atomic

logger = logging.getLogger(__name__)

H5_KEY = "df_with_missing"
SINGLE_ANIMAL = "animal"
UNIQUE_INDIVIDUAL = "single"
COORDS = ("x", "y", "likelihood")
_LEVELS_SINGLE = ["scorer", "bodyparts", "coords"]
_LEVELS_MULTI = ["scorer", "individuals", "bodyparts", "coords"]
_META_ATTR = "posekit_metadata"
_H5_SUFFIXES = {".h5", ".hdf5", ".hdf"}


@dataclass
class Predictions:
    """Keypoints predicted in every frame of one video.

    Attributes
    ----------
    data : ndarray, shape (n_frames, n_individuals, n_bodyparts, 3)
        float64 x, y (pixels, origin at the top-left pixel's center) and likelihood;
        NaN where a keypoint is missing.
    bodyparts : list of str
        Bodypart names, in column order.
    individuals : list of str
        Individual names; ``["animal"]`` for single-animal files (not written to them).
        In multi-animal DeepLabCut files, unique bodyparts belong to the individual
        ``"single"`` and are listed in ``metadata["unique_bodyparts"]``.
    scorer : str
        Name of the model (DeepLabCut's top column level).
    multi_animal : bool
        Whether files get the ``individuals`` column level.
    metadata : dict
        Free-form: video path, fps, n_frames, model, posekit version, ...
    """

    data: np.ndarray
    bodyparts: list[str]
    individuals: list[str] = field(default_factory=lambda: [SINGLE_ANIMAL])
    scorer: str = "posekit"
    multi_animal: bool = False
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.float64)
        self.bodyparts = [str(b) for b in self.bodyparts]
        self.individuals = [str(i) for i in self.individuals]
        expected = (len(self.individuals), len(self.bodyparts), 3)
        if self.data.ndim != 4 or self.data.shape[1:] != expected:
            raise LabelFileError(
                f"Predictions data must have shape (n_frames, {expected[0]} individuals, "
                f"{expected[1]} bodyparts, 3), found {self.data.shape}; pass one x, y, "
                "likelihood triple per individual and bodypart.")
        for what, names in (("bodyparts", self.bodyparts), ("individuals", self.individuals)):
            if len(set(names)) != len(names):
                raise LabelFileError(f"Predictions {what} must be unique, found {names}.")
        if not self.multi_animal and len(self.individuals) != 1:
            raise LabelFileError(
                f"A single-animal Predictions has one individual, found {self.individuals}; "
                "set multi_animal=True.")

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.data.shape[0])

    @property
    def xy(self) -> np.ndarray:
        """Coordinates, shape (n_frames, n_individuals, n_bodyparts, 2)."""
        return self.data[..., :2]

    @property
    def likelihood(self) -> np.ndarray:
        """Likelihoods, shape (n_frames, n_individuals, n_bodyparts)."""
        return self.data[..., 2]


# --------------------------------------------------------------------------- DataFrame


def _column_pairs(pred: Predictions) -> list[tuple[int, int]]:
    """(individual, bodypart) indices that get columns, honouring unique bodyparts."""
    unique = set(pred.metadata.get("unique_bodyparts") or [])
    pairs = []
    for i, ind in enumerate(pred.individuals):
        for b, bp in enumerate(pred.bodyparts):
            if unique and pred.multi_animal and (ind == UNIQUE_INDIVIDUAL) != (bp in unique):
                continue
            pairs.append((i, b))
    return pairs


def to_dataframe(pred: Predictions) -> pd.DataFrame:
    """Predictions as DeepLabCut's analysis DataFrame.

    Parameters
    ----------
    pred : Predictions
        The predictions.

    Returns
    -------
    DataFrame
        Shape (n_frames, n_columns), float64, RangeIndex of frame numbers; columns
        ``scorer/bodyparts/coords`` or ``scorer/individuals/bodyparts/coords``.
    """
    pairs = _column_pairs(pred)
    tuples = []
    for i, b in pairs:
        head = (pred.scorer, pred.individuals[i]) if pred.multi_animal else (pred.scorer,)
        tuples += [(*head, pred.bodyparts[b], c) for c in COORDS]
    names = _LEVELS_MULTI if pred.multi_animal else _LEVELS_SINGLE
    columns = pd.MultiIndex.from_tuples(tuples, names=names)
    values = np.concatenate([pred.data[:, i, b, :] for i, b in pairs], axis=1) if pairs \
        else np.empty((pred.n_frames, 0))
    return pd.DataFrame(values, columns=columns, index=pd.RangeIndex(pred.n_frames),
                        dtype=np.float64)


def _unique_in_order(values: Any) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _frame_numbers(index: pd.Index, source: str) -> np.ndarray:
    try:
        frames = np.asarray(index, dtype=np.float64)
    except (TypeError, ValueError):
        frames = None
    if frames is None or frames.ndim != 1 or not np.all(np.isfinite(frames)) \
            or np.any(frames < 0) or np.any(frames != np.round(frames)):
        raise LabelFileError(
            f"{source}: expected frame numbers (0, 1, 2, ...) as the row index of an analysis "
            f"file, found {list(index[:3])}...; image paths mean a label file "
            "(CollectedData_*), which posekit.io.labels reads.")
    return frames.astype(np.int64)


def from_dataframe(df: pd.DataFrame, *, metadata: dict | None = None,
                   source: str = "DataFrame") -> Predictions:
    """Build Predictions from a DeepLabCut analysis DataFrame.

    Parameters
    ----------
    df : DataFrame
        Columns ``scorer/bodyparts/coords`` or ``scorer/individuals/bodyparts/coords`` with
        coords ``x, y, likelihood``; index = frame numbers (rows are placed at their frame;
        frames absent from the index are NaN).
    metadata : dict, optional
        Stored on the result.
    source : str
        Name used in error messages (usually the file path).

    Returns
    -------
    Predictions
    """
    cols = df.columns
    if not isinstance(cols, pd.MultiIndex) or cols.nlevels not in (3, 4):
        raise LabelFileError(
            f"{source}: expected column levels {_LEVELS_SINGLE} or {_LEVELS_MULTI}, found "
            f"{getattr(cols, 'names', None)} with {getattr(cols, 'nlevels', 1)} level(s).")
    multi = cols.nlevels == 4
    coords = set(str(c) for c in cols.get_level_values(-1))
    if coords != set(COORDS):
        hint = (" (x, y, z is a 3D file: use posekit.threed.read_points3d)" if "z" in coords
                else " (x, y only is a label file: use posekit.io.labels)"
                if coords == {"x", "y"} else "")
        raise LabelFileError(f"{source}: expected coords {list(COORDS)}, found "
                             f"{sorted(coords)}{hint}.")
    scorers = _unique_in_order(cols.get_level_values(0))
    if len(scorers) != 1:
        raise LabelFileError(f"{source}: expected one scorer, found {scorers}.")
    individuals = (_unique_in_order(cols.get_level_values(1)) if multi else [SINGLE_ANIMAL])
    bp_level = cols.get_level_values(-2)
    bodyparts = _unique_in_order(bp_level)
    frames = _frame_numbers(df.index, source)
    n_frames = int(frames.max()) + 1 if len(frames) else 0
    data = np.full((n_frames, len(individuals), len(bodyparts), 3), np.nan)
    values = df.to_numpy(dtype=np.float64, na_value=np.nan)
    ind_pos = {n: k for k, n in enumerate(individuals)}
    bp_pos = {n: k for k, n in enumerate(bodyparts)}
    c_pos = {n: k for k, n in enumerate(COORDS)}
    for col, key in enumerate(cols):
        i = ind_pos[str(key[1])] if multi else 0
        data[frames, i, bp_pos[str(key[-2])], c_pos[str(key[-1])]] = values[:, col]
    meta = dict(metadata or {})
    if multi and UNIQUE_INDIVIDUAL in individuals:
        unique = _unique_in_order(df[scorers[0]][UNIQUE_INDIVIDUAL].columns.get_level_values(0))
        meta.setdefault("unique_bodyparts", unique)
    meta.setdefault("n_frames", n_frames)
    return Predictions(data=data, bodyparts=bodyparts, individuals=individuals,
                       scorer=scorers[0], multi_animal=multi, metadata=meta)


# --------------------------------------------------------------------------- reading


def read_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read a 2D predictions file, detecting its format.

    Accepted: DeepLabCut analysis ``.h5`` (key ``df_with_missing``) and ``.csv``; SLEAP
    analysis ``.h5`` (``tracks``, ``node_names``, ``track_names``, scores).

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    Predictions

    Raises
    ------
    MissingFileError
        The file does not exist.
    LabelFileError
        Unknown format, or columns/datasets not as expected.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Predictions file {path} does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_dlc_csv(path)
    if suffix in _H5_SUFFIXES:
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                keys = set(h5.keys())
        except OSError as err:
            raise LabelFileError(f"{path}: not a readable HDF5 file ({err}).") from err
        if "tracks" in keys and "node_names" in keys:
            return _read_sleap_analysis(path)
        return _read_dlc_h5(path)
    raise LabelFileError(
        f"{path}: unknown predictions format {suffix!r}; expected a DeepLabCut analysis .h5 "
        "or .csv, or a SLEAP analysis .h5 (export .slp files with `sleap-convert --format "
        "analysis`).")


def _read_dlc_h5(path: Path) -> Predictions:
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]
            key = H5_KEY if H5_KEY in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise LabelFileError(
                    f"{path}: expected a pandas table under key {H5_KEY!r} (DeepLabCut) or "
                    f"SLEAP datasets 'tracks'/'node_names', found keys {keys}.")
            df = store[key]
            attrs = store.get_storer(key).attrs
            meta_json = getattr(attrs, _META_ATTR, None)
    except (OSError, ValueError, TypeError, KeyError) as err:
        if isinstance(err, LabelFileError):
            raise
        raise LabelFileError(f"{path}: cannot read as a DeepLabCut h5 file ({err}).") from err
    if not isinstance(df, pd.DataFrame):
        raise LabelFileError(f"{path}: key {key!r} holds a {type(df).__name__}, expected a "
                             "DataFrame.")
    meta = json.loads(meta_json) if meta_json else {}
    meta.setdefault("source_file", str(path))
    return from_dataframe(df, metadata=meta, source=str(path))


def _read_dlc_csv(path: Path) -> Predictions:
    with open(path, encoding="utf-8") as handle:
        first = [handle.readline().split(",")[0].strip() for _ in range(4)]
    n_levels = 4 if first[1] == "individuals" else 3
    if first[0] != "scorer" or first[n_levels - 1] != "coords":
        raise LabelFileError(
            f"{path}: expected DeepLabCut csv header rows scorer/(individuals)/bodyparts/coords,"
            f" found first cells {first}.")
    try:
        df = pd.read_csv(path, header=list(range(n_levels)), index_col=0)
    except (ValueError, pd.errors.ParserError) as err:
        raise LabelFileError(f"{path}: cannot parse as a DeepLabCut csv ({err}).") from err
    df.columns = df.columns.set_names(_LEVELS_MULTI if n_levels == 4 else _LEVELS_SINGLE)
    return from_dataframe(df, metadata={"source_file": str(path)}, source=str(path))


def _decode(names: Any) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).ravel()]


def _sleap_tracks(h5: Any, n_nodes: int, path: Path) -> np.ndarray:
    """SLEAP ``tracks`` as (n_frames, n_tracks, n_nodes, 2)."""
    tracks = np.asarray(h5["tracks"][()], dtype=np.float64)
    if tracks.ndim == 4 and tracks.shape[1] == 2 and tracks.shape[2] == n_nodes:
        return tracks.transpose(3, 0, 2, 1)  # stored (tracks, 2, nodes, frames)
    if tracks.ndim == 4 and tracks.shape[2] == 2 and tracks.shape[1] == n_nodes:
        return tracks.transpose(0, 3, 1, 2)  # untransposed (frames, nodes, 2, tracks)
    raise LabelFileError(
        f"{path}: SLEAP 'tracks' should have shape (n_tracks, 2, {n_nodes} nodes, n_frames), "
        f"found {tracks.shape}.")


def _sleap_scores(h5: Any, shape: tuple[int, int, int], path: Path) -> np.ndarray:
    """Likelihood per (frame, track, node), from point or instance scores."""
    n_frames, n_tracks, n_nodes = shape
    if "point_scores" in h5:
        scores = np.asarray(h5["point_scores"][()], dtype=np.float64)
        if scores.shape == (n_tracks, n_nodes, n_frames):
            return scores.transpose(2, 0, 1)
        if scores.shape == (n_frames, n_nodes, n_tracks):
            return scores.transpose(0, 2, 1)
    elif "instance_scores" in h5:
        scores = np.asarray(h5["instance_scores"][()], dtype=np.float64)
        if scores.shape == (n_tracks, n_frames):
            return np.repeat(scores.T[:, :, None], n_nodes, axis=2)
        if scores.shape == (n_frames, n_tracks):
            return np.repeat(scores[:, :, None], n_nodes, axis=2)
    else:
        return np.ones(shape)
    raise LabelFileError(f"{path}: SLEAP scores have shape {scores.shape}, which does not fit "
                         f"{n_tracks} tracks, {n_nodes} nodes and {n_frames} frames.")


def _read_sleap_analysis(path: Path) -> Predictions:
    import h5py

    with h5py.File(path, "r") as h5:
        nodes = _decode(h5["node_names"][()])
        xy = _sleap_tracks(h5, len(nodes), path)
        n_frames, n_tracks = xy.shape[:2]
        tracks = _decode(h5["track_names"][()]) if "track_names" in h5 else []
        if len(tracks) != n_tracks:
            tracks = [f"track_{k}" for k in range(n_tracks)]
        scores = _sleap_scores(h5, (n_frames, n_tracks, len(nodes)), path)
        meta: dict[str, Any] = {"source_file": str(path), "source_format": "sleap_analysis",
                                "n_frames": n_frames}
        if "video_path" in h5:
            meta["video_path"] = _decode([h5["video_path"][()]])[0]
        if "edge_inds" in h5:
            edges = np.asarray(h5["edge_inds"][()]).reshape(-1, 2)
            meta["skeleton_edges"] = [[nodes[a], nodes[b]] for a, b in edges.tolist()]
    likelihood = np.where(np.isnan(xy).any(axis=-1), np.nan, scores)
    data = np.concatenate([xy, likelihood[..., None]], axis=-1)
    multi = n_tracks != 1
    return Predictions(data=data, bodyparts=nodes,
                       individuals=tracks if multi else [SINGLE_ANIMAL], scorer="sleap",
                       multi_animal=multi,
                       metadata={**meta, "track_names": tracks})


# --------------------------------------------------------------------------- writing


def _jsonable(metadata: dict) -> str:
    return json.dumps(metadata, default=str, sort_keys=False)


def write_dlc_h5(pred: Predictions, path: str | os.PathLike[str], *,
                 csv: bool = False) -> Path:
    """Write predictions as a DeepLabCut analysis h5 file (and optionally its csv twin).

    The DataFrame of :func:`to_dataframe` goes under key ``df_with_missing`` in PyTables
    "table" format, as DeepLabCut writes it; both files are written atomically.

    Parameters
    ----------
    pred : Predictions
        What to write.
    path : path-like
        The ``.h5`` file; the csv twin gets the same name with ``.csv``.
    csv : bool
        Also write the ``.csv`` twin.

    Returns
    -------
    Path
        The h5 path.
    """
    path = Path(path)
    if path.suffix.lower() not in _H5_SUFFIXES:
        raise LabelFileError(f"{path}: a DeepLabCut h5 file must end in .h5, found "
                             f"{path.suffix!r}.")
    df = to_dataframe(pred)
    meta = _jsonable(pred.metadata)

    def writer(tmp: Path) -> None:
        with pd.HDFStore(tmp, mode="w") as store:
            store.put(H5_KEY, df, format="table", track_times=False)
            setattr(store.get_storer(H5_KEY).attrs, _META_ATTR, meta)

    write_atomic(path, writer)
    if csv:
        write_dlc_csv(pred, path.with_suffix(".csv"))
    return path


def write_dlc_csv(pred: Predictions, path: str | os.PathLike[str]) -> Path:
    """Write predictions as a DeepLabCut analysis csv (header rows = column levels)."""
    df = to_dataframe(pred)
    return write_atomic(path, lambda tmp: df.to_csv(tmp))
