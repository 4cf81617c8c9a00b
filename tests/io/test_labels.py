"""DeepLabCut CollectedData label files: reading, writing, round trips and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixture_paths import DLC_FIXTURES, OPENFIELD

from posekit.errors import LabelFileError, MissingFileError
from posekit.io.labels import (
    H5_KEY,
    Labels,
    labels_to_dataframe,
    read_labels,
    write_labels,
)

FIXTURES = sorted(DLC_FIXTURES.rglob("*.csv")) + sorted(
    (OPENFIELD / "labeled-data" / "m4s1").glob("CollectedData_*.*"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_round_trips(path: Path, tmp_path: Path) -> None:
    first = labels_to_dataframe(read_labels(path))
    written = write_labels(read_labels(path), tmp_path / "CollectedData_x.h5")
    from_h5 = pd.read_hdf(written, H5_KEY)  # exactly as DeepLabCut and movement load it
    from_csv = labels_to_dataframe(read_labels(written.with_suffix(".csv")))
    again = labels_to_dataframe(read_labels(written))
    for frame in (from_h5, from_csv, again):
        pd.testing.assert_frame_equal(first, frame, check_exact=True)
    assert first.index.nlevels == 3


def test_old_and_new_csv_headers_give_the_same_labels() -> None:
    old = read_labels(DLC_FIXTURES / "labeled-data/video/maudlc_testdata.csv")
    new = read_labels(DLC_FIXTURES / "labeled-data/video/maudlc_testdata_v2.csv")
    assert old.images == new.images == [f"labeled-data/video/img00{i}.png" for i in range(4)]
    np.testing.assert_array_equal(old.points, new.points)
    np.testing.assert_array_equal(old.unique_points, new.unique_points)


def test_multi_animal_with_unique_bodyparts_layout() -> None:
    labels = read_labels(DLC_FIXTURES / "labeled-data/video/CollectedData_LM.csv")
    assert labels.multi_animal
    assert labels.individuals == ["Animal1", "Animal2"]
    assert labels.bodyparts == ["A", "B", "C"]
    assert labels.unique_bodyparts == ["D", "E"]
    assert labels.points.shape == (4, 2, 3, 2)
    np.testing.assert_array_equal(labels.points[0, 1, 0], [6, 7])
    np.testing.assert_array_equal(labels.unique_points[1], [[22, 23], [24, 25]])
    assert np.isnan(labels.points[1, 0, 1]).all()  # B of Animal1 not labeled in img001
    assert np.isnan(labels.points[2]).all()  # the short row is all missing


def test_openfield_h5_and_csv_agree() -> None:
    h5 = read_labels(OPENFIELD / "labeled-data/m4s1/CollectedData_Pranav.h5")
    csv = read_labels(OPENFIELD / "labeled-data/m4s1/CollectedData_Pranav.csv")
    assert h5.images == csv.images and len(h5) == 116
    np.testing.assert_array_equal(h5.points, csv.points)
    assert h5.bodyparts == ["snout", "leftear", "rightear", "tailbase"]
    assert h5.scorer == "Pranav"


def test_written_columns_are_deeplabcuts(tmp_path: Path) -> None:
    labels = read_labels(DLC_FIXTURES / "labeled-data/video/madlc_testdata.csv")
    frame = pd.read_hdf(write_labels(labels, tmp_path / "CollectedData_S.h5"), H5_KEY)
    assert frame.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert frame.index[0] == ("labeled-data", "video", "img000.png")
    assert frame.dtypes.unique().tolist() == [np.float64]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.h5"):
        read_labels(tmp_path / "nothere.h5")


def test_corrupt_h5_is_a_label_error(tmp_path: Path) -> None:
    bad = tmp_path / "CollectedData_x.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(LabelFileError, match="CollectedData_x.h5"):
        read_labels(bad)


def test_duplicated_image_row_is_rejected(tmp_path: Path) -> None:
    text = (DLC_FIXTURES / "labeled-data/video/dlc_testdata.csv").read_text()
    lines = text.splitlines()
    bad = tmp_path / "dup.csv"
    bad.write_text("\n".join(lines + [lines[-1]]) + "\n")
    with pytest.raises(LabelFileError, match="more than once.*img003.png"):
        read_labels(bad)


def test_non_numeric_cell_names_line(tmp_path: Path) -> None:
    text = (DLC_FIXTURES / "labeled-data/video/dlc_testdata.csv").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace("22,23", "22,abc"))
    with pytest.raises(LabelFileError, match="line 7.*'abc'"):
        read_labels(bad)


def test_prediction_file_is_not_labels(tmp_path: Path) -> None:
    columns = pd.MultiIndex.from_product([["s"], ["a"], ["x", "y", "likelihood"]],
                                         names=["scorer", "bodyparts", "coords"])
    path = tmp_path / "video_predictions.h5"
    pd.DataFrame(np.zeros((2, 3)), columns=columns).to_hdf(path, key=H5_KEY)
    with pytest.raises(LabelFileError, match="predictions"):
        read_labels(path)


def test_failed_write_leaves_old_file_intact(tmp_path: Path, monkeypatch) -> None:
    labels = read_labels(DLC_FIXTURES / "labeled-data/video/dlc_testdata.csv")
    path = write_labels(labels, tmp_path / "CollectedData_S.h5")
    before = path.read_bytes(), path.with_suffix(".csv").read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    changed = labels.select([0, 1])
    with pytest.raises(OSError):
        write_labels(changed, path)
    assert (path.read_bytes(), path.with_suffix(".csv").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CollectedData_S.csv",
                                                         "CollectedData_S.h5"]


def test_labels_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="n_images, n_individuals"):
        Labels(images=["a.png"], points=np.zeros((1, 2)), bodyparts=["a"],
               individuals=["animal"], scorer="s")


def test_written_files_keep_usual_permissions(tmp_path: Path) -> None:
    import os
    import stat

    labels = read_labels(DLC_FIXTURES / "labeled-data/video/dlc_testdata.csv")
    path = write_labels(labels, tmp_path / "CollectedData_S.h5")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    write_labels(labels, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a rewrite keeps the file's mode
