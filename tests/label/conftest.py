"""Fixtures of the labeling-app tests: writable copies of tests/data/label_app projects."""

from __future__ import annotations

import shutil
import stat
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixture_paths import TEST_DATA

from posekit.io.labels import H5_KEY
from posekit.label.app import create_app
from posekit.project import open_project

with warnings.catch_warnings():  # starlette warns that it prefers httpx2 over httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LABEL_APP = TEST_DATA / "label_app"
TOKEN = "test-token-0123456789"


def copy_project(name: str, target: Path) -> Path:
    """A writable copy of ``tests/data/label_app/<name>`` at ``target``."""
    shutil.copytree(LABEL_APP / name, target)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def write_machine_labels(folder: Path, images: list[str], values: np.ndarray, *,
                         bodyparts: list[str], individuals: list[str] | None = None,
                         iteration: int = 0, scorer: str = "DLC_resnet50",
                         string_index: bool = False) -> Path:
    """Write predictions the way DeepLabCut's outlier extraction does.

    ``values``: (n_images, n_individuals, n_bodyparts, 3) when ``individuals`` are given
    (multi-animal), else (n_images, n_bodyparts, 3). ``string_index`` writes the older
    layout: one path string per row, pandas "table" format.
    """
    if individuals is None:
        columns = [(scorer, bp, c) for bp in bodyparts for c in ("x", "y", "likelihood")]
        names = ["scorer", "bodyparts", "coords"]
    else:
        columns = [(scorer, ind, bp, c) for ind in individuals for bp in bodyparts
                   for c in ("x", "y", "likelihood")]
        names = ["scorer", "individuals", "bodyparts", "coords"]
    keys = [("labeled-data", folder.name, image) for image in images]
    index = pd.Index(["/".join(key) for key in keys]) if string_index \
        else pd.MultiIndex.from_tuples(keys)
    frame = pd.DataFrame(np.asarray(values, float).reshape(len(images), -1), index=index,
                         columns=pd.MultiIndex.from_tuples(columns, names=names))
    path = folder / f"machinelabels-iter{iteration}.h5"
    frame.to_hdf(path, key=H5_KEY, format="table" if string_index else "fixed", mode="w")
    return path


def _client(root: Path) -> TestClient:
    return TestClient(create_app(open_project(root), TOKEN), headers={"X-Posekit-Token": TOKEN})


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def make_client() -> Callable[[Path], TestClient]:
    """Build a test client (token sent as a header) for a project folder."""
    return _client


@pytest.fixture
def machine_writer() -> Callable[..., Path]:
    """:func:`write_machine_labels`."""
    return write_machine_labels


@pytest.fixture
def openfield(tmp_path: Path) -> Path:
    """The single-animal project: 6 frames of m4s1, img0000-img0004 labeled."""
    return copy_project("openfield", tmp_path / "openfield")


@pytest.fixture
def madlc(tmp_path: Path) -> Path:
    """The multi-animal project (Animal1, Animal2; unique D, E), labels as DeepLabCut's csv."""
    return copy_project("madlc", tmp_path / "madlc")


@pytest.fixture
def client(openfield: Path) -> TestClient:
    return _client(openfield)


@pytest.fixture
def ma_client(madlc: Path) -> TestClient:
    return _client(madlc)
