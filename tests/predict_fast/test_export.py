"""Exported model folders: self-contained, same numbers as PyTorch, refused when broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.errors import MissingFileError, ModelError
from posekit.io.predictions import read_predictions
from posekit.io.video import VideoReader
from posekit.models.normalize import normalize_images
from posekit.predict.analyze import AnalyzeOptions, analyze_video
from posekit.predict.exported import export_model, load_exported, read_exported_info
from posekit.predict.onnx_engine import pad_frames
from posekit.predict.trained import load_predictor, load_trained
from posekit.train.folder import trained_model_folder


@pytest.fixture(scope="module")
def exported(trained_project, tmp_path_factory) -> Path:
    return export_model(trained_project, shuffle=1,
                        output=tmp_path_factory.mktemp("export") / "model")


@pytest.fixture(scope="module")
def frames(trained_project) -> np.ndarray:
    """Four real 640x480 open-field frames."""
    with VideoReader(trained_project.root / "videos" / "clip.mp4") as reader:
        return np.stack(reader.read_many([0, 3, 7, 11]))


def test_folder_holds_graph_and_everything_to_use_it(exported, trained_project) -> None:
    assert sorted(p.name for p in exported.iterdir()) == ["model.json", "model.onnx"]
    info = json.loads((exported / "model.json").read_text())
    assert info["bodyparts"] == trained_project.config.pose_bodyparts
    assert info["skeleton"] == [list(e) for e in trained_project.config.edges]
    assert info["decoding"]["output_stride"] == 8
    assert info["decoding"]["locref_stdev"] == pytest.approx(7.2801)
    assert info["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    assert info["preprocessing"]["color"] == "RGB"
    assert info["train_options"]["crop_size"] == [64, 64]
    assert info["project_config"]["Task"] == trained_project.config.Task
    assert info["provenance"]["shuffle"] == 1 and info["model"]["backbone"] == "mobilenet_v2"


def test_onnx_score_maps_and_keypoints_match_pytorch_on_real_frames(
        exported, trained_project, frames) -> None:
    trained = load_trained(trained_project, trained_model_folder(trained_project, 1))
    images = normalize_images(pad_frames(frames))
    with torch.no_grad():
        expected = trained.model(torch.from_numpy(images))
    predictor = load_exported(exported, threads=2)
    heatmaps, locref = predictor.session.run(["heatmaps", "locref"], {"images": images})
    assert heatmaps.shape == (4, 4, 60, 80)
    assert float(expected["heatmaps"].std()) > 0.1  # maps that vary: a real comparison
    assert np.abs(heatmaps - expected["heatmaps"].numpy()).max() < 1e-4
    assert np.abs(locref - expected["locref"].numpy()).max() < 1e-4
    torch_points = load_predictor(trained_project, engine="torch", device="cpu").predict(frames)
    onnx_points = predictor.predict(frames)
    np.testing.assert_allclose(onnx_points[..., :2], torch_points[..., :2], atol=1e-3)
    np.testing.assert_allclose(onnx_points[..., 2], torch_points[..., 2], atol=1e-5)


def test_exported_model_analyzes_without_the_project(exported, trained_project, tmp_path,
                                                     frames) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(exported, moved)
    video = tmp_path / "clip.mp4"
    shutil.copy(trained_project.root / "videos" / "clip.mp4", video)
    predictor = load_exported(moved)
    assert predictor.skeleton == [tuple(e) for e in trained_project.config.edges]
    h5 = analyze_video(predictor, video, options=AnalyzeOptions(batch_size=4))
    assert h5.name == f"clip{predictor.scorer}.h5"
    written = read_predictions(h5).data[:, 0]
    assert written.shape == (12, 4, 3)
    np.testing.assert_allclose(written[[0, 3, 7, 11]], predictor.predict(frames), atol=1e-5)


def test_default_folder_is_under_the_project_and_re_export_replaces(trained_project) -> None:
    first = export_model(trained_project)
    assert first.parent == trained_project.root / "exported-models"
    assert first.name == f"posekit_{trained_project.config.Task}_mobilenet_v2_iteration-0_shuffle-1"
    (first / "stale.txt").write_text("old")
    again = export_model(trained_project, which="last")
    assert again == first and not (first / "stale.txt").exists()
    assert json.loads((again / "model.json").read_text())["provenance"]["checkpoint"] == "last.pt"
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]


def test_export_refuses_to_overwrite_a_foreign_folder(trained_project, tmp_path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError, match="not an exported model"):
        export_model(trained_project, output=foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no staging folder left behind


def test_export_of_a_missing_shuffle_or_format_is_refused(trained_project) -> None:
    with pytest.raises(MissingFileError):
        export_model(trained_project, shuffle=7)
    with pytest.raises(ModelError, match="format"):
        export_model(trained_project, format="tflite")  # type: ignore[arg-type]


def _broken_copy(exported: Path, tmp_path: Path, change) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(exported, folder)
    change(folder)
    return folder


@pytest.mark.parametrize("change, error, match", [
    (lambda f: (f / "model.json").unlink(), MissingFileError, "model.json is missing"),
    (lambda f: (f / "model.onnx").unlink(), MissingFileError, "model.onnx is missing"),
    (lambda f: (f / "model.json").write_text("{oops"), ModelError, "not valid JSON"),
    (lambda f: (f / "model.onnx").write_bytes(b"garbage"), ModelError, "cannot be read"),
])
def test_broken_export_folders_are_refused(exported, tmp_path, change, error, match) -> None:
    with pytest.raises(error, match=match):
        load_exported(_broken_copy(exported, tmp_path, change))


def _edit_info(folder: Path, **changes) -> None:
    info = json.loads((folder / "model.json").read_text())
    info.update(changes)
    (folder / "model.json").write_text(json.dumps(info))


@pytest.mark.parametrize("changes, match", [
    ({"format": "something-else"}, "not a posekit exported model"),
    ({"format_version": 99}, "Update posekit"),
    ({"bodyparts": ["a", "b"]}, "predicts 4 bodyparts"),
    ({"model": {"backbone": "nope", "n_bodyparts": 4}}, "model entry is not valid"),
])
def test_inconsistent_model_json_is_refused(exported, tmp_path, changes, match) -> None:
    folder = _broken_copy(exported, tmp_path, lambda f: _edit_info(f, **changes))
    with pytest.raises(ModelError, match=match):
        load_exported(folder)


def test_missing_entries_and_folder_are_reported(exported, tmp_path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        read_exported_info(tmp_path / "nowhere")
    folder = _broken_copy(exported, tmp_path, lambda f: None)
    info = json.loads((folder / "model.json").read_text())
    del info["decoding"]
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="lacks"):
        read_exported_info(folder)


def test_exported_model_on_a_pool_of_two_workers(exported, trained_project, tmp_path) -> None:
    from posekit.distributed import ExportedModelSpec, analyze_many, spec_from_path

    clips = []
    for name in ("a.mp4", "b.mp4"):
        clips.append(tmp_path / name)
        shutil.copy(trained_project.root / "videos" / "clip.mp4", clips[-1])
    spec = spec_from_path(exported)
    assert spec == ExportedModelSpec(exported)
    paths = analyze_many(spec, clips, workers=2, options=AnalyzeOptions(batch_size=4))
    first, second = (read_predictions(p).data for p in paths)
    np.testing.assert_allclose(first, second, atol=1e-6)  # same video, same keypoints
    with VideoReader(clips[0]) as reader:
        frames = np.stack(reader.read_many([0, 5]))
    np.testing.assert_allclose(first[[0, 5], 0], load_exported(exported).predict(frames),
                               atol=1e-5)


def test_spec_from_path_tells_projects_from_exports(exported, trained_project) -> None:
    from posekit.distributed import ProjectModelSpec, spec_from_path

    assert spec_from_path(trained_project.root, shuffle=2) == ProjectModelSpec(
        trained_project.root, shuffle=2)
    with pytest.raises(ModelError, match="exported model"):
        spec_from_path(exported, shuffle=2)
    assert spec_from_path(exported).scorer() == load_exported(exported).scorer
    assert ProjectModelSpec(trained_project.root).scorer() == load_predictor(
        trained_project, engine="torch", device="cpu").scorer
