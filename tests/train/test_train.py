"""Training, exact resumption, evaluation and analysis on a tiny project."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from posekit.errors import MissingFileError, ModelError
from posekit.evaluate.report import evaluate
from posekit.predict.analyze import AnalyzeOptions
from posekit.predict.trained import analyze_videos, load_predictor
from posekit.train import loop
from posekit.train.checkpoint import load_checkpoint
from posekit.train.loop import lr_factor, train


def test_train_writes_model_folder_and_analysis(tiny_project, quick_options) -> None:
    result = train(tiny_project, options=quick_options())
    folder = result.folder
    assert folder.path.parent.name == "iteration-0"
    assert folder.path.name == "openfieldOct30-trainset80shuffle1"
    assert {p.name for p in folder.checkpoints.iterdir()} == {
        "best.pt", "last.pt", "epoch-0001.pt", "epoch-0002.pt"}
    info = json.loads(folder.info_path.read_text())
    assert info["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    assert info["model"]["backbone"] == "mobilenet_v2" and info["posekit_version"]
    history = pd.read_csv(folder.history)
    assert list(history["epoch"]) == [1, 2] and history["test_error"].notna().all()
    assert np.isfinite(result.best_test_error)

    evaluation = evaluate(tiny_project, shuffle=1)
    assert evaluation.summary["test"]["n_images"] == 2
    assert evaluation.summary["train"]["n_images"] == 8
    assert len(list((evaluation.folder / "test-frames").glob("*.png"))) == 2
    assert set(evaluation.per_bodypart["bodypart"]) == {"snout", "leftear", "rightear",
                                                        "tailbase"}

    video = tiny_project.root / "videos" / "clip.mp4"
    [h5] = analyze_videos(tiny_project, [video], options=AnalyzeOptions(batch_size=5),
                          device="cpu")
    frame = pd.read_hdf(h5, "df_with_missing")
    assert frame.shape == (12, 12) and frame.columns.names == ["scorer", "bodyparts", "coords"]
    assert h5.name.startswith("clipposekit_mobilenet_v2_openfieldOct30shuffle1_")


def test_interrupted_run_resumes_to_the_same_weights(tiny_project, quick_options,
                                                     monkeypatch) -> None:
    options = quick_options(epochs=3)
    reference = train(tiny_project, options=options)
    expected = load_checkpoint(reference.folder.last)["model"]

    calls = {"n": 0}
    original = loop._Run._train_epoch

    def dies_in_epoch_two(self, bar):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if killed in the middle of epoch 2
        return original(self, bar)

    monkeypatch.setattr(loop._Run, "_train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_project, options=options, overwrite=True)
    assert load_checkpoint(reference.folder.last)["epoch"] == 1
    monkeypatch.setattr(loop._Run, "_train_epoch", original)
    resumed = train(tiny_project, options=options, resume=True)
    final = load_checkpoint(resumed.folder.last)["model"]
    for key, value in expected.items():
        assert torch.equal(value, final[key]), key
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]


def test_existing_model_needs_resume_or_overwrite(tiny_project, quick_options) -> None:
    train(tiny_project, options=quick_options(epochs=1))
    with pytest.raises(ModelError, match="--resume to continue.*--overwrite"):
        train(tiny_project, options=quick_options(epochs=1))
    with pytest.raises(ModelError, match="differ.*batch_size"):
        train(tiny_project, options=quick_options(epochs=1, batch_size=2), resume=True)


def test_resume_without_checkpoint(tiny_project, quick_options) -> None:
    with pytest.raises(ModelError, match="Nothing to resume"):
        train(tiny_project, options=quick_options(), resume=True)


def test_no_trained_model_and_missing_shuffle(tiny_project, quick_options) -> None:
    with pytest.raises(ModelError, match="no trained model.*posekit train"):
        load_predictor(tiny_project, shuffle=1)
    with pytest.raises(MissingFileError, match=r"Shuffle 7.*exist are \[1\]"):
        load_predictor(tiny_project, shuffle=7)


def test_corrupt_checkpoint_is_named(tiny_project, quick_options) -> None:
    result = train(tiny_project, options=quick_options(epochs=1))
    result.folder.best.write_bytes(b"garbage" * 10)
    with pytest.raises(ModelError, match="best.pt is corrupt"):
        load_predictor(tiny_project, shuffle=1)


def test_analyze_missing_video(tiny_project, quick_options) -> None:
    train(tiny_project, options=quick_options(epochs=1))
    with pytest.raises(MissingFileError, match="nothere.mp4"):
        analyze_videos(tiny_project, [tiny_project.root / "nothere.mp4"])


def test_frames_with_every_keypoint_missing_are_left_out(tiny_project, quick_options) -> None:
    from posekit.data.splits import create_dataset, load_split
    from posekit.io.labels import read_labels, write_labels

    path = tiny_project.labels_path("m4s1")
    labels = read_labels(path)
    labels.points[3] = np.nan
    write_labels(labels, path)
    create_dataset(tiny_project, shuffles=[2], train_fraction=0.8)
    split = load_split(tiny_project, 2)
    assert labels.images[3] in split.excluded_images
    assert labels.images[3] not in split.train_images + split.test_images


def test_learning_rate_schedule() -> None:
    assert lr_factor(0, total=100, warmup=10) == pytest.approx(0.1)
    assert lr_factor(9, total=100, warmup=10) == pytest.approx(1.0)
    assert lr_factor(10, total=100, warmup=10) == pytest.approx(1.0)
    assert lr_factor(99, total=100, warmup=10) == pytest.approx(0.01, abs=1e-3)


def test_corrupt_init_weights(tiny_project, quick_options, tmp_path: Path) -> None:
    bad = tmp_path / "x.pt"
    bad.write_text("no")
    with pytest.raises(ModelError, match="x.pt"):
        train(tiny_project, options=quick_options(epochs=1, init_from=bad))


def test_onnx_and_torch_engines_agree_on_real_frames(tiny_project, quick_options) -> None:
    from posekit.io.video import VideoReader

    train(tiny_project, options=quick_options(epochs=1))
    with VideoReader(tiny_project.root / "videos" / "clip.mp4") as reader:
        frames = np.stack(reader.read_many(range(4)))
    torch_pred = load_predictor(tiny_project, engine="torch", device="cpu").predict(frames)
    onnx_predictor = load_predictor(tiny_project, engine="onnx", device="cpu")
    onnx_pred = onnx_predictor.predict(frames)
    assert onnx_predictor.model_info["engine"] == "onnxruntime"
    np.testing.assert_allclose(onnx_pred[..., :2], torch_pred[..., :2], atol=1e-2)
    np.testing.assert_allclose(onnx_pred[..., 2], torch_pred[..., 2], atol=1e-4)
