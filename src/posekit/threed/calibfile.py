"""A set of calibrated cameras and its ``calibration.toml`` file (anipose's layout).

The file has one table per camera, ``[cam_0]``, ``[cam_1]``, ..., each with ``name``,
``size`` ([width, height]), ``matrix`` (3x3), ``distortions``, ``rotation`` (Rodrigues
vector) and ``translation``, plus ``fisheye = true`` for fisheye cameras, and a
``[metadata]`` table. anipose, aniposelib and Lightning Pose read it. Camera order is the
order of the ``cam_<i>`` indices taken as numbers (so ``cam_10`` follows ``cam_9``), never
as strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import CalibrationError, MissingFileError
from posekit.io.atomic import write_text_atomic
from posekit.threed.cameras import Camera

_CAM_KEY = re.compile(r"^cam_(\d+)$")


@dataclass
class Calibration:
    """Cameras calibrated together, in a fixed order.

    Attributes
    ----------
    cameras : list of Camera
        In the order given by the user (or the file).
    metadata : dict
        Free-form: reprojection errors, board, posekit version, ...
    """

    cameras: list[Camera]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = self.names
        if not names:
            raise CalibrationError("A calibration needs at least one camera, found none.")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CalibrationError(f"Camera names must be unique, found {dupes} repeated in "
                                   f"{names}.")

    @property
    def names(self) -> list[str]:
        """Camera names, in order."""
        return [cam.name for cam in self.cameras]

    def camera(self, name: str) -> Camera:
        """The camera called ``name``."""
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise CalibrationError(f"No camera {name!r} in this calibration; its cameras are "
                               f"{self.names}.")

    def subset(self, names: Iterable[str]) -> Calibration:
        """A calibration with only ``names``, in that order."""
        return Calibration([self.camera(n) for n in names], dict(self.metadata))


def _toml_load(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError as err:
            raise CalibrationError("Reading TOML on Python 3.10 needs the 'tomli' package: "
                                   "pip install tomli.") from err
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise CalibrationError(f"{path}: not valid TOML ({err}).") from err


def load_toml(path: str | os.PathLike[str], what: str = "TOML file") -> dict[str, Any]:
    """Parse a TOML file, raising MissingFileError / CalibrationError with the path."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what} {path} does not exist; check the path.")
    return _toml_load(path)


def _camera_from_table(key: str, table: dict[str, Any], path: Path) -> Camera:
    missing = [k for k in ("size", "matrix", "distortions", "rotation", "translation")
               if k not in table]
    if missing:
        raise CalibrationError(f"{path}: camera table [{key}] lacks {missing}; each camera "
                               "needs name, size, matrix, distortions, rotation, translation.")
    try:
        return Camera(name=str(table.get("name", key)), size=tuple(table["size"]),
                      matrix=table["matrix"], distortions=table["distortions"],
                      rotation=table["rotation"], translation=table["translation"],
                      fisheye=bool(table.get("fisheye", False)))
    except CalibrationError as err:
        raise CalibrationError(f"{path}: [{key}]: {err}") from err
    except (TypeError, ValueError, IndexError) as err:
        raise CalibrationError(f"{path}: [{key}] is malformed ({err}).") from err


def read_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read an anipose-style ``calibration.toml``.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    Calibration
        Cameras ordered by their ``cam_<i>`` index (numerically).
    """
    path = Path(path)
    doc = load_toml(path, "Calibration file")
    tables = [(k, v) for k, v in doc.items() if isinstance(v, dict) and k != "metadata"]
    if not tables:
        raise CalibrationError(f"{path}: no camera tables found; expected [cam_0], [cam_1], ... "
                               "in anipose's calibration.toml layout.")
    if all(_CAM_KEY.match(k) for k, _ in tables):
        tables.sort(key=lambda kv: int(_CAM_KEY.match(kv[0]).group(1)))  # type: ignore[union-attr]
    cameras = [_camera_from_table(k, v, path) for k, v in tables]
    meta = doc.get("metadata", {})
    try:
        return Calibration(cameras, dict(meta) if isinstance(meta, dict) else {})
    except CalibrationError as err:
        raise CalibrationError(f"{path}: {err}") from err


def _clean(value: Any) -> Any:
    """Make metadata TOML-serialisable (numpy -> python, None dropped)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value if v is not None]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def calibration_to_toml(calib: Calibration) -> str:
    """The text of ``calibration.toml`` for ``calib``."""
    import tomli_w

    doc: dict[str, Any] = {}
    for i, cam in enumerate(calib.cameras):
        table: dict[str, Any] = {
            "name": cam.name,
            "size": [int(cam.size[0]), int(cam.size[1])],
            "matrix": cam.matrix.tolist(),
            "distortions": cam.distortions.tolist(),
            "rotation": cam.rotation.tolist(),
            "translation": cam.translation.tolist(),
        }
        if cam.fisheye:
            table["fisheye"] = True
        doc[f"cam_{i}"] = table
    doc["metadata"] = _clean(calib.metadata)
    return tomli_w.dumps(doc)


def write_calibration(calib: Calibration, path: str | os.PathLike[str]) -> Path:
    """Atomically write ``calib`` as an anipose-style ``calibration.toml``.

    Parameters
    ----------
    calib : Calibration
        The cameras, written as ``cam_0``, ``cam_1``, ... in their order.
    path : path-like
        Target file.

    Returns
    -------
    Path
    """
    return write_text_atomic(path, calibration_to_toml(calib))
