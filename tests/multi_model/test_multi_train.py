"""Training and analysis of a multi-animal project, end to end, on synthetic scenes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from posekit.errors import ModelError
from posekit.io.predictions import read_predictions
from posekit.predict.analyze import AnalyzeOptions
from posekit.predict.multi_analyze import (
    MultiAnalyzeOptions,
    analyze_videos_multi,
    assemblies_path,
    export_slp,
    from_analyze_options,
    load_multi_predictor,
    tracks_to_predictions,
)
from posekit.predict.multi_decode import MultiModelSpec
from posekit.predict.trained import analyze_videos
from posekit.train import multi_loop
from posekit.train.checkpoint import load_checkpoint
from posekit.train.loop import train
from posekit.train.multi_loop import (
    MultiAnimalOptions,
    Rescaled,
    matched_errors,
    packed_points,
    resolve_edges,
    train_multi,
)
from posekit.train.options import TrainOptions


def _quick(**changes: object) -> TrainOptions:
    base = {"epochs": 2, "batch_size": 4, "crop_size": (64, 64), "checkpoint_every": 1,
            "threads": 1, "device": "cpu", "pretrained": False, "eval_every": 2}
    return TrainOptions(**{**base, **changes})


def test_train_dispatches_and_analysis_writes_multi_animal_files(synthetic_project) -> None:
    result = train(synthetic_project, options=_quick())
    folder = result.folder
    assert {p.name for p in folder.checkpoints.iterdir()} >= {"best.pt", "last.pt",
                                                              "epoch-0002.pt"}
    info = json.loads(folder.info_path.read_text())
    spec = MultiModelSpec.from_json(info["multi"])
    assert spec.all_bodyparts == ["head", "body", "tail", "corner"]
    assert spec.edges == [(0, 1), (1, 2)] and spec.individuals == ["a", "b"]
    assert info["model"]["n_edges"] == 2 and info["multi_options"]["global_scale"] == 1.0
    history = pd.read_csv(folder.history)
    assert list(history["epoch"]) == [1, 2] and history["paf_loss"].notna().all()

    video = synthetic_project.root / "videos" / "scene.mp4"
    [h5] = analyze_videos(synthetic_project, [video], options=AnalyzeOptions(batch_size=4),
                          device="cpu", engine="torch")
    frame = pd.read_hdf(h5, "df_with_missing")
    assert frame.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert frame.shape == (6, 2 * 3 * 3 + 3)
    assert set(frame.columns.get_level_values("individuals")) == {"a", "b", "single"}
    predictions = read_predictions(h5)
    assert predictions.multi_animal and predictions.metadata["unique_bodyparts"] == ["corner"]
    stored = np.load(assemblies_path(h5))
    assert stored["individuals"].shape == (6, 2, 4, 3) and stored["unique"].shape == (6, 4, 3)
    meta = json.loads(h5.with_name(h5.stem + "_meta.json").read_text())
    assert meta["complete"] and meta["individuals"] == ["a", "b"]


def test_onnx_engine_and_slp_export(synthetic_project, tmp_path) -> None:
    import sleap_io as sio

    train(synthetic_project, options=_quick(epochs=1))
    video = synthetic_project.root / "videos" / "scene.mp4"
    [h5] = analyze_videos_multi(synthetic_project, [video], device="cpu", engine="onnx",
                                options=MultiAnalyzeOptions(save_slp=True,
                                                            destination=tmp_path))
    assert h5.parent == tmp_path and (h5.with_suffix(".slp")).is_file()
    labels = sio.load_slp(str(h5.with_suffix(".slp")))
    assert [t.name for t in labels.tracks] == ["a", "b"]
    assert labels.skeleton.node_names == ["head", "body", "tail"]
    # a known answer for the export: two tracks, one frame missing one animal
    predictor = load_multi_predictor(synthetic_project, device="cpu")
    tracks = np.full((3, 2, 3, 3), np.nan)
    tracks[:, 0] = [[10.0, 20.0, 0.9], [20.0, 20.0, 0.8], [30.0, 20.0, 0.7]]
    tracks[:2, 1] = [[50.0, 60.0, 0.5], [60.0, 60.0, 0.5], [70.0, 60.0, np.nan]]
    unique = np.full((3, 4, 3), np.nan)
    predictions = tracks_to_predictions(tracks, unique, predictor.spec, scorer="s",
                                        metadata={"edges": [["head", "body"]]})
    path = export_slp(predictions, video, tmp_path / "known.slp")
    back = sio.load_slp(str(path))
    assert [len(lf.instances) for lf in back.labeled_frames] == [2, 2, 1]
    first = {inst.track.name: inst for inst in back.labeled_frames[0].instances}
    np.testing.assert_allclose(first["a"].numpy(), tracks[0, 0, :, :2])
    np.testing.assert_allclose(first["a"].score, 0.8)
    assert len(back.skeleton.edges) == 1


def test_interrupted_run_resumes_to_the_same_weights(synthetic_project, monkeypatch) -> None:
    options = _quick(epochs=3)
    reference = train_multi(synthetic_project, options=options)
    expected = load_checkpoint(reference.folder.last)["model"]
    calls = {"n": 0}
    original = multi_loop._MultiRun._train_epoch

    def dies_in_epoch_two(self, bar):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, bar)

    monkeypatch.setattr(multi_loop._MultiRun, "_train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_multi(synthetic_project, options=options, overwrite=True)
    monkeypatch.setattr(multi_loop._MultiRun, "_train_epoch", original)
    with pytest.raises(ModelError, match="multi-animal options that differ.*global_scale"):
        train_multi(synthetic_project, options=options, resume=True,
                    multi=MultiAnimalOptions(global_scale=0.5))
    resumed = train_multi(synthetic_project, options=options, resume=True)
    final = load_checkpoint(resumed.folder.last)["model"]
    for key, value in expected.items():
        assert torch.equal(value, final[key]), key
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]


def test_edges_come_from_the_skeleton_or_the_labels(synthetic_project) -> None:
    points = np.array([[[[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]]] * 4)
    points[:, :, 0, 1] += np.arange(4)[:, None]  # the head moves: body-tail is the rigid pair
    assert resolve_edges(synthetic_project, points) == [(0, 1), (1, 2)]
    synthetic_project.config.skeleton = [["head", "body"]]
    chosen = resolve_edges(synthetic_project, points)
    assert chosen[0] == (0, 1) and len(chosen) == 2 and (1, 2) in chosen
    assert resolve_edges(synthetic_project, points, [("tail", "head"), ("head", "body")]) \
        == [(2, 0), (0, 1)]
    with pytest.raises(ModelError, match="not unique bodyparts"):
        resolve_edges(synthetic_project, points, [("head", "corner")])


def test_single_animal_project_is_refused(tiny_single_project) -> None:
    with pytest.raises(ModelError, match="single-animal project"):
        train_multi(tiny_single_project)


def test_helpers_known_answers() -> None:
    from posekit.io.labels import Labels

    labels = Labels(images=["x.png"], points=np.ones((1, 2, 3, 2)), bodyparts=["a", "b", "c"],
                    individuals=["i", "j"], scorer="s", multi_animal=True,
                    unique_bodyparts=["u"], unique_points=np.full((1, 1, 2), 7.0))
    packed = packed_points(labels)
    assert packed.shape == (1, 3, 4, 2)
    assert np.isnan(packed[0, :2, 3]).all() and np.isnan(packed[0, 2, :3]).all()
    assert (packed[0, 2, 3] == 7.0).all()

    truth = np.array([[[[0.0, 0.0], [10.0, 0.0]], [[50.0, 50.0], [np.nan, np.nan]]]])
    predicted = np.array([[[[51.0, 50.0, 1.0], [70.0, 70.0, 1.0]],
                           [[0.0, 2.0, 1.0], [13.0, 4.0, 1.0]]]])
    errors = matched_errors(predicted, truth)
    np.testing.assert_allclose(errors, [[[2.0, 5.0], [1.0, np.nan]]])
    assert np.isnan(matched_errors(np.full((1, 2, 2, 3), np.nan), truth)).all()

    seen = {}

    def inner(image, keypoints, rng):
        seen["shape"], seen["kp"] = image.shape, keypoints
        return image, keypoints

    Rescaled(inner, 0.5)(np.zeros((40, 60, 3), np.uint8), np.array([[[9.5, 19.5]]]))
    assert seen["shape"] == (20, 30, 3)
    np.testing.assert_allclose(seen["kp"], [[[4.5, 9.5]]])


def test_analyze_options_translation() -> None:
    multi = from_analyze_options(AnalyzeOptions(batch_size="auto", save_csv=True))
    assert multi.batch_size == 4 and multi.save_csv
    with pytest.raises(ModelError, match="crop"):
        from_analyze_options(AnalyzeOptions(crop=(0, 10, 0, 10)))
