"""analyze_skeleton / analyze_skeleton_file: known bone lengths, angles (y down) and speeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.errors import LabelFileError
from posekit.io.predictions import Predictions, write_dlc_h5
from posekit.postprocess import PostprocessError, analyze_skeleton, analyze_skeleton_file
from posekit.project import open_project

# b relative to a in frames 0..5, and the orientation expected in image coordinates (y down)
OFFSETS = [(3, 4), (10, 0), (0, 10), (0, -10), (-10, 0), (-5, -5)]
ANGLES = [np.degrees(np.arctan2(4, 3)), 0.0, 90.0, -90.0, 180.0, -135.0]


def make_project(root: Path, bodyparts: list[str], skeleton: list[list[str]],
                 pcutoff: float = 0.5) -> Path:
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(
        "Task: kin\nscorer: tester\ndate: Jan1\nmultianimalproject: false\n"
        f"project_path: {root}\nvideo_sets: {{}}\nbodyparts: {bodyparts}\n"
        f"skeleton: {skeleton}\npcutoff: {pcutoff}\nnumframes2pick: 3\niteration: 0\n",
        encoding="utf-8")
    return root


def known_pred(fps: float | None = 30.0) -> Predictions:
    n = len(OFFSETS)
    data = np.zeros((n, 1, 3, 3))
    data[:, 0, 0, 0] = 3.0 * np.arange(n)  # a moves (3, 4) per frame: 5 px/frame
    data[:, 0, 0, 1] = 4.0 * np.arange(n)
    data[:, 0, 1, :2] = data[:, 0, 0, :2] + np.array(OFFSETS, float)
    data[:, 0, 2, :2] = 7.0  # c stands still
    data[..., 2] = 0.9
    data[2, 0, 1, 2] = 0.7
    meta = {"fps": fps} if fps else {}
    return Predictions(data=data, bodyparts=["a", "b", "c"], scorer="net", metadata=meta)


def test_bone_lengths_and_orientations_are_known() -> None:
    table = analyze_skeleton(known_pred(), [("a", "b"), ("b", "c")])
    assert table.columns.names == ["part", "measure"]
    assert list(table.columns[:3]) == [("a_b", "length_px"), ("a_b", "orientation_deg"),
                                       ("a_b", "likelihood")]
    np.testing.assert_allclose(table[("a_b", "length_px")], [5, 10, 10, 10, 10, np.hypot(5, 5)])
    np.testing.assert_allclose(table[("a_b", "orientation_deg")], ANGLES)  # +90: b below a
    np.testing.assert_allclose(table[("a_b", "likelihood")], [0.9, 0.9, 0.7, 0.9, 0.9, 0.9])
    assert list(table.index) == list(range(6)) and table.index.name == "frame"


def test_speeds_per_frame_and_per_second() -> None:
    table = analyze_skeleton(known_pred(fps=30.0), [])
    speed = table[("a", "speed_px_per_frame")].to_numpy()
    assert np.isnan(speed[0])
    np.testing.assert_allclose(speed[1:], 5.0)
    np.testing.assert_allclose(table[("a", "speed_px_per_s")].to_numpy()[1:], 150.0)
    np.testing.assert_allclose(table[("c", "speed_px_per_frame")].to_numpy()[1:], 0.0)
    no_fps = analyze_skeleton(known_pred(fps=None), [("a", "b")])
    assert "speed_px_per_s" not in no_fps.columns.get_level_values("measure")


def test_points_below_pcutoff_are_missing() -> None:
    pred = known_pred()
    table = analyze_skeleton(pred, [("a", "b")], pcutoff=0.8)
    assert np.isnan(table.loc[2, ("a_b", "length_px")])
    assert np.isnan(table.loc[2, ("b", "speed_px_per_frame")])
    assert np.isnan(table.loc[3, ("b", "speed_px_per_frame")])  # moved from a missing point
    assert table.loc[2, ("a_b", "likelihood")] == pytest.approx(0.7)  # still reported
    pred.data[4, 0, 0] = np.nan  # a missing point makes its bones and speeds NaN
    table = analyze_skeleton(pred, [("a", "b")])
    assert table.loc[4, "a_b"].isna().all()
    assert np.isnan(table.loc[4, ("a", "speed_px_per_frame")])


def test_multi_animal_table_has_an_individuals_level() -> None:
    data = np.ones((4, 3, 3, 3))
    data[:, :, 1, 0] = 4.0  # b is 3 px right of a for every animal
    pred = Predictions(data=data, bodyparts=["a", "b", "u"], individuals=["m1", "m2", "single"],
                       multi_animal=True, metadata={"unique_bodyparts": ["u"]})
    table = analyze_skeleton(pred, [("a", "b")])
    assert table.columns.names == ["individuals", "part", "measure"]
    np.testing.assert_allclose(table[("m2", "a_b", "length_px")], 3.0)
    assert ("single", "u", "speed_px_per_frame") in table.columns
    assert ("single", "a_b", "length_px") not in table.columns
    assert ("m1", "u", "speed_px_per_frame") not in table.columns


@pytest.mark.parametrize("edges, match", [([("a", "tail")], r"\['tail'\]"),
                                          ([("a", "b", "c")], "pair"), (["ab"], "pair")])
def test_bad_edges_are_refused(edges: list, match: str) -> None:
    with pytest.raises(LabelFileError, match=match):
        analyze_skeleton(known_pred(), edges)


def test_bad_pcutoff_is_refused() -> None:
    with pytest.raises(PostprocessError, match="pcutoff"):
        analyze_skeleton(known_pred(), [], pcutoff=-0.1)


def test_file_version_writes_h5_and_csv(tmp_path: Path) -> None:
    project = open_project(make_project(tmp_path / "p", ["a", "b", "c"], [["a", "b"]],
                                        pcutoff=0.8))
    analysis = write_dlc_h5(known_pred(), tmp_path / "videoDLC_net.h5")
    target = analyze_skeleton_file(analysis, project)
    assert target == tmp_path / "videoDLC_net_skeleton.h5"
    expected = analyze_skeleton(known_pred(), [("a", "b")], pcutoff=0.8)
    pd.testing.assert_frame_equal(pd.read_hdf(target, "df_with_missing"), expected)
    csv = pd.read_csv(target.with_suffix(".csv"), header=[0, 1], index_col=0)
    np.testing.assert_allclose(csv.to_numpy(), expected.to_numpy(), equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "p", "videoDLC_net.h5", "videoDLC_net_skeleton.csv", "videoDLC_net_skeleton.h5"]


def test_analysis_of_another_project_is_refused(tmp_path: Path) -> None:
    project = open_project(make_project(tmp_path / "p", ["nose", "ear"], [["nose", "ear"]]))
    analysis = write_dlc_h5(known_pred(), tmp_path / "v.h5")
    with pytest.raises(LabelFileError, match=r"\['a', 'b', 'c'\].*\['nose', 'ear'\]"):
        analyze_skeleton_file(analysis, project)
    assert not (tmp_path / "v_skeleton.h5").exists()
