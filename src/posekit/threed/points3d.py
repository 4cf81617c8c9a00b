"""3D poses and their h5 file.

The file holds three pandas tables (PyTables "table" format):

* ``df_with_missing``: DeepLabCut's 3D output layout, columns ``scorer/bodyparts/coords``
  (``scorer/individuals/bodyparts/coords`` for several animals) with coords ``x, y, z``,
  one row per frame (RangeIndex), float64, NaN where a point could not be triangulated.
* ``quality``: same column levels with coords ``reprojection_error`` (mean pixel error over
  the cameras used) and ``n_cameras`` (cameras used; 0 where missing).
* ``camera_errors``: coords are the camera names; each camera's pixel error for the point
  (NaN where that camera did not see it above the p-cutoff). ``camera_used`` the same with
  1.0 where the camera entered the triangulation, 0.0 otherwise.

posekit's metadata (calibration, 2D files, options, version) is the JSON attribute
``posekit_metadata`` of ``df_with_missing``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.atomic import write_atomic

H5_KEY = "df_with_missing"
_META_ATTR = "posekit_metadata"


@dataclass
class Points3D:
    """Triangulated keypoints.

    Attributes
    ----------
    data : ndarray, shape (n_frames, n_individuals, n_bodyparts, 3)
        x, y, z in the calibration's unit (the board's square size unit); NaN if missing.
    reprojection_error : ndarray, shape (n_frames, n_individuals, n_bodyparts)
        Mean pixel error over the cameras used.
    n_cameras : ndarray, shape (n_frames, n_individuals, n_bodyparts), int
        Cameras used (0 where missing).
    camera_errors : ndarray, shape (n_frames, n_individuals, n_bodyparts, n_cameras)
        Pixel error in each camera that saw the point above the p-cutoff, else NaN.
    camera_used : ndarray, shape (n_frames, n_individuals, n_bodyparts, n_cameras), bool
        Cameras the point was triangulated from.
    bodyparts, individuals, cameras : list of str
    scorer : str
    multi_animal : bool
    metadata : dict
    """

    data: np.ndarray
    reprojection_error: np.ndarray
    n_cameras: np.ndarray
    camera_errors: np.ndarray
    camera_used: np.ndarray
    bodyparts: list[str]
    individuals: list[str]
    cameras: list[str]
    scorer: str = "posekit"
    multi_animal: bool = False
    metadata: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.data.shape[0])

    def camera_summary(self) -> dict[str, dict[str, float]]:
        """Per camera: points used, median / mean / 95th percentile pixel error."""
        out = {}
        for c, name in enumerate(self.cameras):
            err = self.camera_errors[..., c][self.camera_used[..., c]]
            err = err[np.isfinite(err)]
            out[name] = {
                "n_points": int(err.size),
                "median_px": float(np.median(err)) if err.size else float("nan"),
                "mean_px": float(np.mean(err)) if err.size else float("nan"),
                "p95_px": float(np.percentile(err, 95)) if err.size else float("nan"),
            }
        return out


def _columns(p: Points3D, coords: list[str]) -> pd.MultiIndex:
    if p.multi_animal:
        tuples = [(p.scorer, i, b, c) for i in p.individuals for b in p.bodyparts for c in coords]
        names = ["scorer", "individuals", "bodyparts", "coords"]
    else:
        tuples = [(p.scorer, b, c) for b in p.bodyparts for c in coords]
        names = ["scorer", "bodyparts", "coords"]
    return pd.MultiIndex.from_tuples(tuples, names=names)


def _frame(p: Points3D, values: np.ndarray, coords: list[str]) -> pd.DataFrame:
    flat = values.reshape(p.n_frames, -1) if p.multi_animal else values[:, 0].reshape(
        p.n_frames, -1)
    return pd.DataFrame(flat.astype(np.float64), columns=_columns(p, coords),
                        index=pd.RangeIndex(p.n_frames))


def points3d_tables(p: Points3D) -> dict[str, pd.DataFrame]:
    """The tables written by :func:`write_points3d`, by h5 key."""
    quality = np.stack([p.reprojection_error, p.n_cameras.astype(np.float64)], axis=-1)
    return {
        H5_KEY: _frame(p, p.data, ["x", "y", "z"]),
        "quality": _frame(p, quality, ["reprojection_error", "n_cameras"]),
        "camera_errors": _frame(p, p.camera_errors, list(p.cameras)),
        "camera_used": _frame(p, p.camera_used.astype(np.float64), list(p.cameras)),
    }


def write_points3d(p: Points3D, path: str | os.PathLike[str]) -> Path:
    """Atomically write 3D points as an h5 file (layout in the module docstring)."""
    tables = points3d_tables(p)
    meta = json.dumps({**p.metadata, "cameras": p.cameras}, default=str)

    def writer(tmp: Path) -> None:
        with pd.HDFStore(tmp, mode="w") as store:
            for key, df in tables.items():
                store.put(key, df, format="table", track_times=False)
            setattr(store.get_storer(H5_KEY).attrs, _META_ATTR, meta)

    return write_atomic(path, writer)


def _to_array(df: pd.DataFrame, p_shape: tuple[int, int, int], n_coords: int) -> np.ndarray:
    return df.to_numpy(dtype=np.float64).reshape(*p_shape, n_coords)


def read_points3d(path: str | os.PathLike[str]) -> Points3D:
    """Read a 3D h5 file written by :func:`write_points3d` or by DeepLabCut 3D.

    DeepLabCut files have only ``df_with_missing``; quality fields are then NaN / 0.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"3D points file {path} does not exist; check the path.")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = {k.lstrip("/") for k in store.keys()}
            if H5_KEY not in keys:
                raise LabelFileError(f"{path}: no {H5_KEY!r} table; found keys {sorted(keys)}.")
            tables = {k: store[k] for k in keys}
            meta_json = getattr(store.get_storer(H5_KEY).attrs, _META_ATTR, None)
    except (OSError, ValueError, TypeError) as err:
        if isinstance(err, LabelFileError):
            raise
        raise LabelFileError(f"{path}: cannot read as a 3D h5 file ({err}).") from err
    df = tables[H5_KEY]
    cols = df.columns
    if not isinstance(cols, pd.MultiIndex) or cols.nlevels not in (3, 4) \
            or list(dict.fromkeys(cols.get_level_values(-1))) != ["x", "y", "z"]:
        raise LabelFileError(f"{path}: expected 3D columns scorer/(individuals)/bodyparts/"
                             f"coords with coords x, y, z, found {list(cols[:4])}.")
    multi = cols.nlevels == 4
    bodyparts = list(dict.fromkeys(str(b) for b in cols.get_level_values(-2)))
    individuals = list(dict.fromkeys(str(i) for i in cols.get_level_values(1))) if multi \
        else ["animal"]
    meta = json.loads(meta_json) if meta_json else {}
    shape = (len(df), len(individuals), len(bodyparts))
    cameras = [str(c) for c in meta.pop("cameras", [])]
    if "camera_errors" in tables:
        cameras = list(dict.fromkeys(str(c) for c in
                                     tables["camera_errors"].columns.get_level_values(-1)))
    nc = len(cameras)
    quality = (_to_array(tables["quality"], shape, 2) if "quality" in tables
               else np.stack([np.full(shape, np.nan), np.zeros(shape)], axis=-1))
    cam_err = (_to_array(tables["camera_errors"], shape, nc) if "camera_errors" in tables
               else np.full(shape + (nc,), np.nan))
    cam_used = (_to_array(tables["camera_used"], shape, nc) > 0 if "camera_used" in tables
                else np.zeros(shape + (nc,), bool))
    return Points3D(
        data=_to_array(df, shape, 3), reprojection_error=quality[..., 0],
        n_cameras=np.nan_to_num(quality[..., 1]).astype(int), camera_errors=cam_err,
        camera_used=cam_used, bodyparts=bodyparts, individuals=individuals, cameras=cameras,
        scorer=str(cols.get_level_values(0)[0]), multi_animal=multi, metadata=meta)
