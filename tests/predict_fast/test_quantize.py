"""Int8 graphs: quantized, calibrated on the training images, close to float, refused when
asked for where they cannot run."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from posekit.errors import ModelError
from posekit.frames.select import evenly
from posekit.io.video import VideoReader
from posekit.models.export import onnx_metadata
from posekit.predict.exported import export_model, load_exported
from posekit.predict.onnx_engine import normalize_padded
from posekit.predict.quantize import quantize_onnx, video_calibration_frames
from posekit.predict.trained import load_predictor


@pytest.fixture(scope="module")
def frames(trained_project) -> np.ndarray:
    """Six real 640x480 open-field frames."""
    with VideoReader(trained_project.root / "videos" / "clip.mp4") as reader:
        return np.stack(reader.read_many([0, 2, 4, 6, 8, 10]))


def _quantized_ops(path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_int8_predictor_is_quantized_and_close_to_float(trained_project, frames) -> None:
    plain = load_predictor(trained_project, engine="onnx", threads=2)
    fast = load_predictor(trained_project, engine="onnx", threads=2, precision="int8")
    assert fast.onnx_path.name.endswith(".int8.onnx") and fast.onnx_path.is_file()
    assert {"QuantizeLinear", "DequantizeLinear"} <= _quantized_ops(fast.onnx_path)
    meta = onnx_metadata(fast.onnx_path)
    assert meta["precision"] == "int8" and meta["calibration_frames"] == "8"  # 8 train images
    assert meta["n_bodyparts"] == "4"  # the float graph's metadata is kept
    assert fast.predict(frames).shape == (6, 4, 3)
    # score maps follow the float network's (this briefly trained model's peaks are too flat,
    # and its offsets too close to zero, to compare keypoints: the benchmark compares the test
    # errors of a well-trained one, benchmarks/results/inference_speed.md)
    images = normalize_padded(frames)
    a = plain.session.run(["heatmaps"], {"images": images})[0]
    b = fast.session.run(["heatmaps"], {"images": images})[0]
    assert a.shape == b.shape and a.std() > 0.1
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9  # a broken quantization gives ~0
    mtime = fast.onnx_path.stat().st_mtime_ns
    again = load_predictor(trained_project, engine="onnx", threads=2, precision="int8")
    assert again.onnx_path.stat().st_mtime_ns == mtime  # made once, then reused


def test_exported_int8_folder(trained_project, tmp_path, frames) -> None:
    folder = export_model(trained_project, output=tmp_path / "int8", precision="int8")
    info = json.loads((folder / "model.json").read_text())
    assert info["precision"] == "int8"
    assert "QuantizeLinear" in _quantized_ops(folder / "model.onnx")
    predictor = load_exported(folder, threads=2)
    assert predictor.predict(frames[:2]).shape == (2, 4, 3)


def test_int8_needs_onnx_runtime_and_a_known_precision(trained_project, tmp_path) -> None:
    with pytest.raises(ModelError, match="int8 precision runs on ONNX Runtime"):
        load_predictor(trained_project, engine="torch", precision="int8")
    with pytest.raises(ModelError, match="precision must be one of float32, int8"):
        load_predictor(trained_project, engine="onnx", precision="float16")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="precision must be"):
        export_model(trained_project, output=tmp_path / "x", precision="int4")  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_quantizing_without_frames_is_refused(tmp_path) -> None:
    with pytest.raises(ModelError, match="calibration frames"):
        quantize_onnx(tmp_path / "model.onnx", tmp_path / "int8.onnx", [])


def test_calibration_frames_spread_over_a_video(trained_project) -> None:
    frames = video_calibration_frames(trained_project.root / "videos" / "clip.mp4", count=5)
    with VideoReader(trained_project.root / "videos" / "clip.mp4") as reader:
        expected = reader.read_many([0, 3, 6, 8, 11])  # 12 frames: first, last, evenly between
    assert len(frames) == 5
    for frame, truth in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(frame, truth)
    assert evenly(np.arange(3), 5).tolist() == [0, 1, 2]
    assert evenly(np.arange(100), 5).tolist() == [0, 25, 50, 74, 99]
