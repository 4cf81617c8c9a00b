"""`posekit evaluate` on a multi-animal project: matched errors, OKS mAP, tracking metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from posekit.evaluate.multi_report import evaluate_multi, format_multi_summary
from posekit.predict.trained import analyze_videos
from posekit.train.loop import train
from posekit.train.options import TrainOptions


def _quick(**changes: object) -> TrainOptions:
    base = {"epochs": 1, "batch_size": 4, "crop_size": (64, 64), "threads": 1,
            "device": "cpu", "pretrained": False}
    return TrainOptions(**{**base, **changes})


def test_evaluate_multi_reports_every_metric(synthetic_project) -> None:
    train(synthetic_project, options=_quick(epochs=1))
    analyze_videos(synthetic_project, synthetic_project.videos(), device="cpu")
    summary = evaluate_multi(synthetic_project, shuffle=1)
    assert summary["test"]["n_images"] == 2 and summary["train"]["n_images"] == 8
    for name in ("train", "test"):
        assert {"rmse_px", "per_bodypart_rmse_px", "oks_mAP"} <= set(summary[name])
        assert 0.0 <= summary[name]["oks_mAP"] <= 1.0
    tracking = summary["tracking"]["scene.mp4"]
    assert tracking["n_labeled_frames"] == 6  # labels img000-img009, video of 6 frames
    assert {"mota", "idf1", "id_switches"} <= set(tracking)
    saved = json.loads((Path(summary["folder"]) / "results.json").read_text())
    assert saved["test"]["n_images"] == 2
    lines = format_multi_summary(summary)
    assert any("OKS mAP" in line for line in lines) and any("MOTA" in line for line in lines)
    assert np.isfinite(summary["train"]["oks_mAP"])
