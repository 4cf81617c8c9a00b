"""2D prediction files: DeepLabCut h5/csv layout, SLEAP analysis h5, round trips, errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from fixture_paths import TEST_DATA

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.predictions import (
    Predictions,
    from_dataframe,
    read_predictions,
    to_dataframe,
    write_dlc_csv,
    write_dlc_h5,
)

MOUSE = TEST_DATA / "threed" / "mouse"


def _single(n_frames: int = 5) -> Predictions:
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 500, (n_frames, 1, 3, 3))
    data[..., 2] = rng.uniform(0, 1, (n_frames, 1, 3))
    data[1, 0, 2] = np.nan
    return Predictions(data, ["snout", "ear", "tail"], ["animal"], "DLC_resnet50_testJan1",
                       False, {"fps": 30.0, "video": "v.mp4"})


def _multi() -> Predictions:
    rng = np.random.default_rng(1)
    data = rng.uniform(0, 1, (4, 3, 3, 3))
    meta = {"unique_bodyparts": ["corner"]}
    data[:, 2, :2] = np.nan  # "single" has only the unique bodypart
    data[:, :2, 2] = np.nan  # animals do not have it
    return Predictions(data, ["head", "tail", "corner"], ["m1", "m2", "single"], "DLC_x", True,
                       meta)


def test_h5_has_deeplabcut_layout_and_round_trips(tmp_path: Path) -> None:
    pred = _single()
    path = write_dlc_h5(pred, tmp_path / "vDLC_resnet50.h5", csv=True)
    df = pd.read_hdf(path, "df_with_missing")
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert df.columns[0] == ("DLC_resnet50_testJan1", "snout", "x")
    assert list(df.columns.get_level_values("coords")[:3]) == ["x", "y", "likelihood"]
    assert (df.dtypes == np.float64).all() and list(df.index) == list(range(5))
    back = read_predictions(path)
    np.testing.assert_array_equal(back.data, pred.data)
    assert back.bodyparts == pred.bodyparts and back.individuals == ["animal"]
    assert back.scorer == pred.scorer and not back.multi_animal
    assert back.metadata["fps"] == 30.0 and back.metadata["video"] == "v.mp4"
    csv = read_predictions(path.with_suffix(".csv"))
    np.testing.assert_allclose(csv.data, pred.data, rtol=1e-12)
    assert path.with_suffix(".csv").read_text().splitlines()[0].startswith("scorer,")


def test_multi_animal_with_unique_bodyparts_round_trips(tmp_path: Path) -> None:
    pred = _multi()
    df = to_dataframe(pred)
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert ("DLC_x", "single", "corner", "x") in df.columns
    assert ("DLC_x", "m1", "corner", "x") not in df.columns
    assert ("DLC_x", "single", "head", "x") not in df.columns
    assert df.shape == (4, (2 * 2 + 1) * 3)
    for path in (write_dlc_h5(pred, tmp_path / "m.h5"), write_dlc_csv(pred, tmp_path / "m.csv")):
        back = read_predictions(path)
        np.testing.assert_allclose(back.data, pred.data, rtol=1e-12)
        assert back.individuals == ["m1", "m2", "single"] and back.multi_animal
        assert back.metadata["unique_bodyparts"] == ["corner"]


def test_from_dataframe_places_rows_at_their_frame_numbers() -> None:
    df = to_dataframe(_single(3))
    df.index = [0, 2, 5]
    pred = from_dataframe(df)
    assert pred.n_frames == 6
    assert np.isnan(pred.data[[1, 3, 4]]).all() and np.isfinite(pred.data[2, 0, 0]).all()


def test_reads_sleap_analysis_file() -> None:
    pred = read_predictions(MOUSE / "top.analysis.h5")
    assert pred.data.shape == (120, 1, 15, 3)
    assert pred.bodyparts[:3] == ["Nose", "Ear_R", "Ear_L"]
    assert pred.scorer == "sleap" and not pred.multi_animal
    with h5py.File(MOUSE / "top.analysis.h5") as h5:
        tracks = h5["tracks"][()]
        scores = h5["point_scores"][()]
    np.testing.assert_array_equal(pred.data[7, 0, 4, :2], tracks[0, :, 4, 7])
    assert pred.data[7, 0, 4, 2] == scores[0, 4, 7]
    assert ["Head", "Nose"] in pred.metadata["skeleton_edges"]


def _sleap_file(path: Path, tracks: np.ndarray, **extra: np.ndarray) -> Path:
    with h5py.File(path, "w") as h5:
        h5["tracks"] = tracks
        h5["node_names"] = np.array([b"a", b"b", b"c"])
        for key, value in extra.items():
            h5[key] = value
    return path


def test_sleap_variants_scores_and_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    tracks = rng.uniform(0, 100, (2, 2, 3, 6))  # (tracks, xy, nodes, frames)
    tracks[1, :, 0, 2] = np.nan
    inst = rng.uniform(0, 1, (2, 6))
    pred = read_predictions(_sleap_file(tmp_path / "i.h5", tracks, instance_scores=inst,
                                        track_names=np.array([b"f", b"m"])))
    assert pred.individuals == ["f", "m"] and pred.multi_animal
    assert pred.data[3, 1, 2, 2] == inst[1, 3]
    assert np.isnan(pred.data[2, 1, 0]).all()
    plain = read_predictions(_sleap_file(tmp_path / "n.h5", tracks))
    assert plain.individuals == ["track_0", "track_1"]
    assert plain.data[0, 0, 0, 2] == 1.0
    flipped = read_predictions(_sleap_file(tmp_path / "u.h5", tracks.transpose(3, 2, 1, 0)))
    np.testing.assert_array_equal(flipped.data, plain.data)
    with pytest.raises(LabelFileError, match="'tracks' should have shape"):
        read_predictions(_sleap_file(tmp_path / "bad.h5", tracks[:, :, :2]))
    with pytest.raises(LabelFileError, match="scores have shape"):
        read_predictions(_sleap_file(tmp_path / "s.h5", tracks, point_scores=inst))


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        read_predictions(tmp_path / "missing.h5")
    (tmp_path / "x.slp").write_bytes(b"x")
    with pytest.raises(LabelFileError, match="unknown predictions format '.slp'"):
        read_predictions(tmp_path / "x.slp")
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5")
    with pytest.raises(LabelFileError, match="not a readable HDF5"):
        read_predictions(tmp_path / "garbage.h5")
    labels = to_dataframe(_single(2)).drop(columns="likelihood", level="coords")
    labels.to_hdf(tmp_path / "labels.h5", key="df_with_missing")
    with pytest.raises(LabelFileError, match="label file"):
        read_predictions(tmp_path / "labels.h5")
    pd.DataFrame({"a": [1.0]}).to_hdf(tmp_path / "flat.h5", key="df_with_missing")
    with pytest.raises(LabelFileError, match="column levels"):
        read_predictions(tmp_path / "flat.h5")
    df = to_dataframe(_single(2))
    df.to_hdf(tmp_path / "two.h5", key="one")
    df.to_hdf(tmp_path / "two.h5", key="other")
    with pytest.raises(LabelFileError, match="found keys"):
        read_predictions(tmp_path / "two.h5")
    df.index = ["labeled-data/v/img0.png", "labeled-data/v/img1.png"]
    with pytest.raises(LabelFileError, match="image paths mean a label file"):
        from_dataframe(df)
    three_d = df.rename(columns={"likelihood": "z"}, level="coords")
    with pytest.raises(LabelFileError, match="3D file"):
        from_dataframe(three_d)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LabelFileError, match="header rows"):
        read_predictions(tmp_path / "bad.csv")
    with pytest.raises(LabelFileError, match="must end in .h5"):
        write_dlc_h5(_single(), tmp_path / "x.csv")


def test_container_validates_its_shape() -> None:
    with pytest.raises(LabelFileError, match="shape"):
        Predictions(np.zeros((3, 1, 2, 2)), ["a", "b"])
    with pytest.raises(LabelFileError, match="unique"):
        Predictions(np.zeros((3, 1, 2, 3)), ["a", "a"])
    with pytest.raises(LabelFileError, match="multi_animal=True"):
        Predictions(np.zeros((3, 2, 2, 3)), ["a", "b"], ["x", "y"])


def test_failed_write_keeps_the_old_file(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_dlc_h5(_single(), tmp_path / "p.h5")
    before = path.read_bytes()

    def broken(self: pd.HDFStore, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.HDFStore, "put", broken)  # fails half-way, file already open
    with pytest.raises(OSError, match="disk full"):
        write_dlc_h5(_multi(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.h5"]
