"""posekit export / live / analyze with the fast-inference options, through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from posekit.cli import app
from posekit.io.predictions import read_predictions

runner = CliRunner()


def test_export_then_live_on_a_video(trained_project, tmp_path) -> None:
    folder = tmp_path / "exported"
    result = runner.invoke(app, ["-q", "export", str(trained_project.root), "--output",
                                 str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "model.onnx").is_file() and (folder / "model.json").is_file()
    csv = tmp_path / "poses.csv"
    video = trained_project.root / "videos" / "clip.mp4"
    result = runner.invoke(app, ["-q", "live", str(folder), "--source", str(video),
                                 "--max-frames", "4", "--downscale", "0.5", "--kalman",
                                 "--threads", "2", "--region", "snout 0 0 640 480",
                                 "--save", str(csv)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["n_analyzed"] == 4 and report["latency_ms"]["p50"] > 0
    assert len(csv.read_text().splitlines()) == 5


def test_live_refuses_bad_region_and_missing_source(trained_project, tmp_path) -> None:
    folder = tmp_path / "exported"
    runner.invoke(app, ["-q", "export", str(trained_project.root), "--output", str(folder)])
    video = trained_project.root / "videos" / "clip.mp4"
    result = runner.invoke(app, ["live", str(folder), "--source", str(video),
                                 "--region", "snout 1 2"])
    assert result.exit_code != 0 and "BODYPART X1 Y1 X2 Y2" in result.output
    result = runner.invoke(app, ["live", str(folder), "--source", str(tmp_path / "no.mp4")])
    assert result.exit_code == 1 and "not a camera index" in result.output


def test_analyze_with_fast_options(trained_project, tmp_path) -> None:
    video = trained_project.root / "videos" / "clip.mp4"
    out = tmp_path / "out"
    result = runner.invoke(app, ["-q", "analyze", str(trained_project.root), str(video),
                                 "--downscale", "0.5", "--crop", "0", "640", "0", "480",
                                 "--batch-size", "3", "--destination", str(out)])
    assert result.exit_code == 0, result.output
    [h5] = out.glob("*.h5")
    predictions = read_predictions(h5)
    assert predictions.data.shape == (12, 1, 4, 3)
    assert predictions.metadata["inference"]["downscale"] == 0.5


def test_analyze_and_export_in_int8(trained_project, tmp_path) -> None:
    video = trained_project.root / "videos" / "clip.mp4"
    result = runner.invoke(app, ["-q", "analyze", str(trained_project.root), str(video),
                                 "--precision", "int8", "--destination", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [h5] = tmp_path.glob("*.h5")
    predictions = read_predictions(h5)
    assert predictions.data.shape == (12, 1, 4, 3)
    assert predictions.metadata["precision"] == "int8"
    folder = tmp_path / "exported"
    result = runner.invoke(app, ["-q", "export", str(trained_project.root), "--output",
                                 str(folder), "--precision", "int8"])
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "model.json").read_text())["precision"] == "int8"


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "zero"], "--batch-size"),
    (["--downscale", "3"], "downscale"),
    (["--engine", "tf"], "--engine"),
    (["--precision", "float16"], "--precision"),
])
def test_analyze_refuses_bad_options(trained_project, args, message) -> None:
    video = trained_project.root / "videos" / "clip.mp4"
    result = runner.invoke(app, ["analyze", str(trained_project.root), str(video), *args])
    assert result.exit_code != 0 and message in result.output


def test_export_refuses_a_bad_format(trained_project) -> None:
    result = runner.invoke(app, ["export", str(trained_project.root), "--format", "tflite"])
    assert result.exit_code == 1 and "format" in result.output
