"""filter_predictions / filter_file: each filter lowers the error, fills short gaps only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from postprocess.synthetic import noisy_trajectory

from posekit.errors import MissingFileError
from posekit.io.predictions import Predictions, read_predictions, write_dlc_h5
from posekit.postprocess import (
    FilterOptions,
    PostprocessError,
    filter_file,
    filter_predictions,
    filtered_path,
)

METHODS = ["median", "savgol", "kalman", "arima"]
OPTIONS = FilterOptions(pcutoff=0.6, max_gap=8)


def errors(data: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(n_frames, n_bodyparts) distance to the truth; data: (n_frames, 1, n_bodyparts, 3)."""
    return np.linalg.norm(data[:, 0, :, :2] - truth, axis=-1)


@pytest.fixture(scope="module")
def noisy():
    return noisy_trajectory()


@pytest.mark.parametrize("method", METHODS)
def test_filter_lowers_the_error_on_measured_points(noisy, method: str) -> None:
    raw = noisy.pred.data
    measured = np.isfinite(raw[:, 0, :, 0]) & (raw[:, 0, :, 2] >= OPTIONS.pcutoff)
    raw_rmse = np.sqrt(np.mean(errors(raw, noisy.truth)[measured] ** 2))
    out = filter_predictions(noisy.pred, method=method, options=OPTIONS)
    rmse = np.sqrt(np.mean(errors(out.data, noisy.truth)[measured] ** 2))
    assert raw_rmse == pytest.approx(3.0 * np.sqrt(2), rel=0.1)  # the noise we put in
    assert rmse < 0.9 * raw_rmse, (method, rmse, raw_rmse)
    np.testing.assert_array_equal(out.data[:, 0][measured][:, 2], raw[:, 0][measured][:, 2])


@pytest.mark.parametrize("method", METHODS)
def test_low_likelihood_outliers_are_replaced(noisy, method: str) -> None:
    out = filter_predictions(noisy.pred, method=method, options=OPTIONS)
    err = errors(out.data, noisy.truth)
    raw_err = errors(noisy.pred.data, noisy.truth)
    for frame, bp in noisy.outliers:
        assert raw_err[frame, bp] > 40
        assert err[frame, bp] < 10, (method, frame, err[frame, bp])
        assert out.data[frame, 0, bp, 2] == OPTIONS.pcutoff  # a filled point


@pytest.mark.parametrize("method", METHODS)
def test_short_gaps_filled_long_gaps_left_missing(noisy, method: str) -> None:
    out = filter_predictions(noisy.pred, method=method, options=OPTIONS)
    err = errors(out.data, noisy.truth)
    bp, start, stop = noisy.low_gap  # finite but below pcutoff: treated as missing, filled
    for bp, start, stop in [*noisy.short_gaps, noisy.low_gap]:
        assert np.all(err[start:stop, bp] < 12), (method, start, err[start:stop, bp])
        assert np.all(out.data[start:stop, 0, bp, 2] == OPTIONS.pcutoff)
    bp, start, stop = noisy.long_gap
    assert np.isnan(out.data[start:stop, 0, bp]).all()
    assert np.isfinite(out.data[[start - 1, stop], 0, bp]).all()
    record = out.metadata["filters"][-1]
    assert record["method"] == method and record["filled_points"] == 4 + 5 + 1 + 3 + 3
    assert record["options"]["max_gap"] == 8


@pytest.mark.parametrize("method", METHODS)
def test_input_is_not_modified(noisy, method: str) -> None:
    before = noisy.pred.data.copy()
    meta = dict(noisy.pred.metadata)
    out = filter_predictions(noisy.pred, method=method, options=OPTIONS)
    np.testing.assert_array_equal(noisy.pred.data, before)
    assert noisy.pred.metadata == meta and "filters" not in noisy.pred.metadata
    assert out is not noisy.pred and out.data is not noisy.pred.data
    assert (out.bodyparts, out.scorer, out.data.shape) == (
        noisy.pred.bodyparts, noisy.pred.scorer, noisy.pred.data.shape)


@pytest.mark.parametrize("method", METHODS)
def test_edges_and_empty_series_stay_missing(method: str) -> None:
    t = np.arange(40, dtype=float)
    data = np.full((40, 1, 2, 3), np.nan)
    data[:, 0, 0] = np.stack([t, 2 * t, np.ones(40)], axis=1)  # a clean straight line
    data[:5, 0, 0] = np.nan  # leading gap: nothing to interpolate from
    data[-3:, 0, 0] = np.nan  # trailing gap
    out = filter_predictions(Predictions(data=data, bodyparts=["a", "b"]), method=method,
                             options=FilterOptions(max_gap=20))
    assert np.isnan(out.data[:5, 0, 0]).all() and np.isnan(out.data[-3:, 0, 0]).all()
    assert np.isnan(out.data[:, 0, 1]).all()  # never seen: stays missing, no error
    np.testing.assert_allclose(out.data[5:-3, 0, 0, :2], data[5:-3, 0, 0, :2], atol=0.5)


@pytest.mark.parametrize("method", METHODS)
def test_max_gap_zero_fills_nothing_and_zero_frames_work(noisy, method: str) -> None:
    out = filter_predictions(noisy.pred, method=method, options=FilterOptions(max_gap=0))
    bp, start, stop = noisy.short_gaps[0]
    assert np.isnan(out.data[start:stop, 0, bp]).all()
    assert out.metadata["filters"][-1]["filled_points"] == 0
    empty = filter_predictions(Predictions(data=np.zeros((0, 1, 2, 3)), bodyparts=["a", "b"]),
                               method=method)
    assert empty.data.shape == (0, 1, 2, 3)


def test_multi_animal_filtering_keeps_layout() -> None:
    rng = np.random.default_rng(1)
    data = np.concatenate([rng.normal(100, 1, (30, 3, 2, 2)), np.ones((30, 3, 2, 1))], axis=-1)
    pred = Predictions(data=data, bodyparts=["a", "u"], individuals=["m1", "m2", "single"],
                       multi_animal=True, metadata={"unique_bodyparts": ["u"]})
    out = filter_predictions(pred, method="kalman")
    assert out.multi_animal and out.individuals == ["m1", "m2", "single"]
    assert out.metadata["unique_bodyparts"] == ["u"]
    assert np.std(out.data[..., 0]) < np.std(data[..., 0])


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 4}, "odd"), ({"window": 1}, "window"), ({"polyorder": 5}, "smaller than"),
    ({"pcutoff": 1.5}, "pcutoff"), ({"max_gap": -1}, "max_gap"), ({"max_gap": 2.5}, "max_gap"),
    ({"measurement_noise": 0.0}, "measurement_noise"), ({"process_noise": -1}, "process_noise"),
    ({"ar_order": 0}, "ar_order"), ({"window": True}, "window"),
])
def test_bad_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(PostprocessError, match=match):
        FilterOptions(**kwargs)


def test_unknown_method_is_refused(noisy) -> None:
    with pytest.raises(PostprocessError, match="median, savgol, kalman, arima"):
        filter_predictions(noisy.pred, method="butterworth")  # type: ignore[arg-type]


def test_filter_file_writes_filtered_h5_beside_the_analysis(noisy, tmp_path: Path) -> None:
    analysis = write_dlc_h5(noisy.pred, tmp_path / "videoDLC_synthetic.h5")
    before = analysis.read_bytes()
    target = filter_file(analysis, method="savgol", options=OPTIONS)
    assert target == tmp_path / "videoDLC_synthetic_filtered.h5" == filtered_path(analysis)
    assert analysis.read_bytes() == before
    assert not target.with_suffix(".csv").exists()  # the analysis has no csv twin
    back = read_predictions(target)
    expected = filter_predictions(noisy.pred, method="savgol", options=OPTIONS)
    np.testing.assert_allclose(back.data, expected.data, equal_nan=True)
    assert back.bodyparts == noisy.pred.bodyparts and back.scorer == "synthetic"
    assert back.metadata["filtered_from"] == str(analysis)
    assert back.metadata["filters"][0]["method"] == "savgol"
    assert pd.read_hdf(target, "df_with_missing").shape == (600, 6)  # DeepLabCut's layout
    assert sorted(p.name for p in tmp_path.iterdir()) == [analysis.name, target.name]


def test_filter_file_writes_csv_when_the_analysis_has_one(noisy, tmp_path: Path) -> None:
    analysis = write_dlc_h5(noisy.pred, tmp_path / "v.h5", csv=True)
    target = filter_file(analysis, method="median")
    csv = read_predictions(target.with_suffix(".csv"))
    np.testing.assert_allclose(csv.data, read_predictions(target).data, equal_nan=True)


def test_filter_file_on_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.h5"):
        filter_file(tmp_path / "nothere.h5")
