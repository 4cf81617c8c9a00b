"""The command line: every command has help, errors are messages, options parse as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_paths import OPENFIELD_VIDEO, TEST_DATA
from typer.testing import CliRunner

from posekit.cli import app
from posekit.cli.app import expand_multi_value_options

runner = CliRunner()
COMMANDS = ["create", "add-videos", "extract-frames", "check-labels", "import-coco",
            "import-slp", "label", "create-dataset", "train", "evaluate", "analyze",
            "labeled-video", "plot-trajectories", "calibrate", "check-calibration",
            "triangulate", "extract-outliers", "filter", "analyze-skeleton",
            "merge", "track"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_list_options_take_several_values() -> None:
    argv = ["create", "x", "--experimenter", "a", "--videos", "a.mp4", "b.mp4",
            "--multi-animal", "--individuals", "f", "m"]
    assert expand_multi_value_options(argv) == [
        "create", "x", "--experimenter", "a", "--videos", "a.mp4", "--videos", "b.mp4",
        "--multi-animal", "--individuals", "f", "--individuals", "m"]


def test_create_and_extract_frames(tmp_path: Path) -> None:
    result = runner.invoke(app, expand_multi_value_options(
        ["--quiet", "create", "mouse", "--experimenter", "ann", "--videos", str(OPENFIELD_VIDEO),
         "--bodyparts", "snout", "tail", "--working-directory", str(tmp_path)]))
    assert result.exit_code == 0, result.output
    [project] = list(tmp_path.iterdir())
    result = runner.invoke(app, ["--quiet", "extract-frames", str(project), "--algo",
                                 "uniform", "--n", "3"])
    assert result.exit_code == 0, result.output
    assert len(list((project / "labeled-data" / "m3v1mp4").glob("img*.png"))) == 3


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract-frames", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a project" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["extract-frames", str(tmp_path), "--algo", "magic"])
    assert result.exit_code == 2 and "kmeans or uniform" in result.output


def test_check_calibration_flags_the_defective_camera() -> None:
    mouse = TEST_DATA / "threed" / "mouse"
    points = [f"{cam}={mouse / f'{cam}.analysis.h5'}" for cam in ("back", "mid", "side", "top")]
    result = runner.invoke(app, expand_multi_value_options(
        ["--quiet", "check-calibration", str(mouse / "calibration.toml"), "--points", *points]))
    assert result.exit_code == 1, result.output
    assert "Flagged: side" in result.output


def test_bad_pair_syntax() -> None:
    result = runner.invoke(app, ["triangulate", "c.toml", "--views", "back", "--output", "x.h5"])
    assert result.exit_code == 2 and "CAMERA=VALUE" in result.output


def test_track_command_gives_each_animal_one_track(tmp_path: Path) -> None:
    import numpy as np

    from posekit.io.predictions import Predictions, read_predictions, write_dlc_h5
    from posekit.project import create_project

    project = create_project("flies", "bo", [OPENFIELD_VIDEO], working_directory=tmp_path,
                             individuals=["f", "m"], bodyparts=["head", "tail"])
    t = np.arange(60, dtype=float)
    animals = np.zeros((60, 2, 2, 2))  # (frames, animals, bodyparts, xy)
    animals[:, 0, :, 0] = (20 + t)[:, None]
    animals[:, 0, :, 1] = [50, 70]
    animals[:, 1, :, 0] = (300 - t)[:, None]
    animals[:, 1, :, 1] = [200, 220]
    data = np.concatenate([animals, np.full((*animals.shape[:3], 1), 0.9)], axis=-1)
    rng = np.random.default_rng(0)
    swapped = data.copy()
    for frame in np.flatnonzero(rng.random(60) < 0.5):  # detections come in any order
        swapped[frame] = swapped[frame, ::-1]
    untracked = tmp_path / "videoDLC_untracked.h5"
    write_dlc_h5(Predictions(data=swapped, bodyparts=["head", "tail"],
                             individuals=["individual0", "individual1"], multi_animal=True),
                 untracked)
    result = runner.invoke(app, ["--quiet", "track", str(project.root), str(untracked)])
    assert result.exit_code == 0, result.output
    tracks = read_predictions(untracked.with_name("videoDLC_untracked_tracked.h5"))
    assert tracks.individuals == ["f", "m"]
    first = tracks.data[:, 0, 0, 0]
    assert (np.all(np.diff(first) > 0) or np.all(np.diff(first) < 0))  # never swaps animals
