"""ONNX export: same numbers as PyTorch, dynamic sizes, metadata, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.errors import MissingFileError, ModelError
from posekit.models import ModelConfig, build_model, export_onnx, onnx_metadata, onnx_session


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """A pretrained mobilenet_v2 pose model (output layers re-drawn large, so the maps vary
    a lot as a trained model's do) and its ONNX export, traced at 64 x 96."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_bodyparts=3))
    with torch.no_grad():
        torch.nn.init.normal_(model.head.heatmap.weight, std=1.0)
        torch.nn.init.normal_(model.head.locref.weight, std=1.0)
    path = tmp_path_factory.mktemp("onnx") / "pose.onnx"
    export_onnx(model, path, input_size=(64, 96), extra_metadata={"bodyparts": '["a","b","c"]'})
    return model, path


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (4, 3, 64, 96), (2, 3, 77, 53)])
def test_onnx_runtime_matches_pytorch(exported, shape: tuple[int, ...]) -> None:
    model, path = exported
    images = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        expected = model(images)
    heatmaps, locref = onnx_session(path, num_threads=1).run(None, {"images": images.numpy()})
    assert heatmaps.shape == tuple(expected["heatmaps"].shape)
    assert locref.shape == tuple(expected["locref"].shape)
    assert float(expected["heatmaps"].std()) > 0.1  # a comparison of non-constant maps
    assert np.abs(heatmaps - expected["heatmaps"].numpy()).max() < 1e-4
    assert np.abs(locref - expected["locref"].numpy()).max() < 1e-4


def test_export_leaves_the_model_as_it_was(exported, tmp_path: Path) -> None:
    model, _ = exported
    model.train()
    export_onnx(model, tmp_path / "again.onnx", input_size=(32, 32))
    assert model.training


def test_metadata_describes_decoding_and_input(exported) -> None:
    model, path = exported
    meta = onnx_metadata(path)
    assert ModelConfig.model_validate_json(meta["model_config"]) == model.config
    assert (meta["output_stride"], meta["n_bodyparts"]) == ("8", "3")
    assert float(meta["locref_stdev"]) == model.config.locref_stdev
    assert json.loads(meta["input_mean"]) == [0.485, 0.456, 0.406]
    assert json.loads(meta["input_size"]) == [64, 96]
    assert meta["bodyparts"] == '["a","b","c"]'
    assert meta["posekit_version"]


def test_fixed_size_export_refuses_other_sizes(exported, tmp_path: Path) -> None:
    model, _ = exported
    path = export_onnx(model, tmp_path / "fixed.onnx", input_size=(32, 48), dynamic_size=False)
    session = onnx_session(path, num_threads=1)
    assert session.run(None, {"images": np.zeros((3, 3, 32, 48), np.float32)})[0].shape == (
        3, 3, 4, 6)
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"images": np.zeros((1, 3, 40, 48), np.float32)})


def test_export_rejects_bad_arguments(exported, tmp_path: Path) -> None:
    model, _ = exported
    with pytest.raises(ModelError, match="expects a PoseModel, got Linear"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx", input_size=(32, 32))
    for size in [(0, 32), (32,), "big", (32.5, 32)]:
        with pytest.raises(ModelError, match="input_size"):
            export_onnx(model, tmp_path / "x.onnx", input_size=size)  # type: ignore[arg-type]
    assert not (tmp_path / "x.onnx").exists()


def test_session_and_metadata_reject_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nope.onnx does not exist"):
        onnx_session(tmp_path / "nope.onnx")
    with pytest.raises(MissingFileError, match="nope.onnx does not exist"):
        onnx_metadata(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01not a protobuf" * 10)
    with pytest.raises(ModelError, match=r"bad\.onnx cannot be loaded"):
        onnx_session(bad)
    with pytest.raises(ModelError, match=r"bad\.onnx cannot be read"):
        onnx_metadata(bad)
