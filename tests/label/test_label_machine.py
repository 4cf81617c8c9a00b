"""Reading machine predictions (machinelabels-iter<N>.h5) for refinement."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.errors import LabelFileError
from posekit.io.labels import H5_KEY
from posekit.label.layout import Layout
from posekit.label.machine import find_machine_file, read_machine_labels
from posekit.project import open_project

BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]


@pytest.fixture
def layout(openfield: Path) -> Layout:
    return Layout.from_config(open_project(openfield).config)


@pytest.mark.parametrize("string_index", [False, True])
def test_single_animal_predictions_map_to_slots(openfield: Path, layout: Layout,
                                                machine_writer, string_index: bool) -> None:
    values = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    path = machine_writer(openfield / "labeled-data/m4s1", ["img0001.png", "img0003.png"],
                          values, bodyparts=BODYPARTS, string_index=string_index)
    machine = read_machine_labels(path, layout)
    assert machine.rows == {"img0001.png": 0, "img0003.png": 1}
    np.testing.assert_array_equal(machine.frame("img0003.png"), values[1])
    assert machine.frame("img0000.png") is None


def test_frame_with_only_nan_predictions_has_none(openfield: Path, layout: Layout,
                                                  machine_writer) -> None:
    values = np.full((1, 4, 3), np.nan)
    path = machine_writer(openfield / "labeled-data/m4s1", ["img0001.png"], values,
                          bodyparts=BODYPARTS)
    assert read_machine_labels(path, layout).frame("img0001.png") is None


def test_multi_animal_predictions_with_unique_bodyparts(madlc: Path, machine_writer) -> None:
    layout = Layout.from_config(open_project(madlc).config)
    values = np.random.default_rng(0).random((1, 3, 3, 3))
    path = machine_writer(madlc / "labeled-data/video", ["img000.png"], values,
                          bodyparts=["A", "B", "C"], individuals=["Animal1", "Animal2", "single"])
    frame = read_machine_labels(path, layout).frame("img000.png")
    np.testing.assert_array_equal(frame[:3], values[0, 0])
    np.testing.assert_array_equal(frame[3:6], values[0, 1])
    # "single" has no A, B, C in this project: D and E stay empty
    assert np.isnan(frame[6:]).all()


def test_unknown_bodyparts_are_ignored_with_a_warning(openfield: Path, layout: Layout,
                                                      machine_writer, caplog) -> None:
    values = np.ones((1, 5, 3))
    path = machine_writer(openfield / "labeled-data/m4s1", ["img0001.png"], values,
                          bodyparts=[*BODYPARTS, "tailtip"])
    with caplog.at_level(logging.WARNING):
        machine = read_machine_labels(path, layout)
    assert machine.values.shape == (1, 4, 3)
    assert "tailtip" in caplog.text


def test_multi_animal_file_in_single_animal_project_is_refused(openfield: Path, layout: Layout,
                                                               machine_writer) -> None:
    path = machine_writer(openfield / "labeled-data/m4s1", ["img0001.png"], np.ones((1, 1, 4, 3)),
                          bodyparts=BODYPARTS, individuals=["animal"])
    with pytest.raises(LabelFileError, match="multi-animal predictions"):
        read_machine_labels(path, layout)


def test_hand_label_file_is_not_predictions(openfield: Path, layout: Layout) -> None:
    path = openfield / "labeled-data/m4s1/CollectedData_Pranav.h5"
    with pytest.raises(LabelFileError, match="likelihood"):
        read_machine_labels(path, layout)


def test_series_under_the_key_is_refused(tmp_path: Path, layout: Layout) -> None:
    path = tmp_path / "machinelabels-iter0.h5"
    pd.Series([1.0, 2.0]).to_hdf(path, key=H5_KEY)
    with pytest.raises(LabelFileError, match="columns"):
        read_machine_labels(path, layout)


def test_newest_iteration_is_found(tmp_path: Path) -> None:
    for name in ["machinelabels-iter2.h5", "machinelabels-iter10.h5", "machinelabels-iter3.csv",
                 "machinelabels.h5", "CollectedData_x.h5"]:
        (tmp_path / name).write_bytes(b"")
    assert find_machine_file(tmp_path).name == "machinelabels-iter10.h5"


def test_folder_without_predictions_has_none(tmp_path: Path) -> None:
    assert find_machine_file(tmp_path) is None
